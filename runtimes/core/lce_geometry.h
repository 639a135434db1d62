// Validation and derived sizes of one LceBconv2d or LceBMaxPool2d node (lce.h), shared by the
// optimized ops and the references so both reject the same parameters with the same one-line messages.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "lce.h"

namespace rep_deploy::core::lce {

struct Geometry {
  int64_t groups = 1;
  int64_t kh = 0, kw = 0;
  int64_t cin_g = 0, cout_g = 0;  // channels per group
  int64_t in_words = 0;           // int32 words per input pixel: words(channels_in)
  int64_t out_words = 0;          // int32 words per bit-packed output pixel: words(channels_out)
  int64_t out_h = 0, out_w = 0;   // may be 0 (VALID on an image smaller than the kernel)
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;  // SAME only, else 0
  int64_t taps() const { return kh * kw; }
};

// Throws std::invalid_argument naming the offending option or shape ("LceBconv2d: ...").
Geometry make_geometry(const BConv2DParams& p);

// TFLite's SAME rule for one axis: the output covers ceil(in / stride) positions and the total
// padding needed for that is split with the smaller half first.
void same_axis(int64_t in, int64_t k, int64_t stride, int64_t dilation, int64_t* out, int64_t* before,
               int64_t* after);
// VALID: the positions where the dilated kernel fits (0 if it never does).
int64_t valid_axis(int64_t in, int64_t k, int64_t stride, int64_t dilation);

// LceBMaxPool2d's output size and leading padding (SAME only, else 0); throws as bmaxpool2d_shape.
struct PoolGeometry {
  int64_t out_h = 0, out_w = 0, pad_top = 0, pad_left = 0;
};
PoolGeometry make_pool_geometry(const BMaxPool2DParams& p);

// Clamp range of the fused activation on the integer conv result (lce.h).
struct ClampRange {
  int32_t lo, hi;
};
ClampRange clamp_range(Activation a);

// LceBconv2d's int8 output transform (lce.h), per output channel, shared by BConv2D and the reference.
struct Int8Transform {
  int64_t x_lo = 0, x_hi = 0;  // the clamp of 2 * accum
  std::vector<float> mul, bias;
  int8_t operator()(int64_t accum, int64_t oc) const {
    const int64_t x = std::min(std::max(2 * accum, x_lo), x_hi);
    const float y = static_cast<float>(x) * mul[size_t(oc)];  // two roundings, no FMA
    const float r = std::round(y + bias[size_t(oc)]);         // half away from zero, as TfLiteRound
    return r >= 127.0f ? int8_t(127) : r >= -128.0f ? int8_t(r) : int8_t(-128);  // NaN: -128
  }
};
Int8Transform int8_transform(const BConv2DParams& p, const Geometry& g, const float* multiplier, const float* bias);

}  // namespace rep_deploy::core::lce
