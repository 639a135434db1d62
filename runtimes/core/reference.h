// The reference kernel: a direct convolution from the float input and the ONNX-packed weights,
// written to mirror rep_deploy.ops.binary_conv.reference_accumulator term by term (no bit packing of
// activations, no popcount, no padding correction). It is the oracle of the C++ tests and the
// REP_DEPLOY_KERNEL=reference path; it is slow on purpose.
#pragma once

#include <cstdint>

#include "binary_conv.h"
#include "conv_params.h"

namespace rep_deploy::core {

// acc (N, cout, Ho, Wo) = sum over taps and channels of b(x) * w, with out-of-bounds taps taking
// the value pad_value (0, +1 or -1); b(x[n, c]) = +1 if x >= threshold[c] (null: 0) else -1.
void reference_accumulator(const ConvShape& s, const float* x, const float* threshold,
                           const uint8_t* w_onnx, int32_t* acc);

// y from acc with the output transform of binary_conv.h (same float32 operations, same order).
void reference_output(const ConvShape& s, const int32_t* acc, const OutputTransform& t, float* y);

// out (planes, h / 2, w / 2) = 2x2 average pool of v (planes, h, w), rows and columns past an even
// count dropped: each window ((a + b) + c) + d, then / 4 (OutputTransform::pool_y's order).
void reference_pool_2x2(const float* v, int64_t planes, int64_t h, int64_t w, float* out);

// Packed sign bits (OutputTransform::signs layout) of `planes` planes of hw floats: bit p of plane i
// is v[i * hw + p] >= t[i % channels] (t null: 0; false for NaN), the bits past hw zero.
void reference_signs(const float* v, int64_t planes, int64_t hw, const float* t, int64_t channels,
                     uint64_t* out);

}  // namespace rep_deploy::core
