// Larq Compute Engine's op contract (LceQuantize, LceDequantize, LceBconv2d, LceBMaxPool2d) on
// rep-deploy's core.
//
// The LiteRT adapter (runtimes/litert/) parses a node's inputs and flexbuffer options into these
// types and calls them; nothing here knows LiteRT. Semantics, as LCE's converter writes the files
// (../docs: docs/design.md, "LCE's op contract"):
//
// * Bit packing: channel c of a pixel -> int32 word c / 32, bit c % 32 (LSB first); bit 1 <=> the
//   value is negative (x < 0; 0.0 and -0.0 pack as 0, i.e. +1). Bits past the channel count are 0.
// * LceBconv2d: input int32 NHWC [N, H, W, words(Cin)]; filter int32 OHWI
//   [Cout, kh, kw, words(Cin / groups)] (groups = words(Cin) / filter words; groups > 1 needs
//   Cin / groups % 32 == 0); stride, dilation; padding SAME (TFLite's: pad_top = max(0,
//   (out_h - 1) * stride_h + (kh - 1) * dilation_h + 1 - in_h) / 2, likewise left) or VALID.
//   accum = sum over taps of popcount(input word XOR filter word): with SAME and pad_value 1 an
//   out-of-image tap reads all-zero input words (+1); with pad_value 0 it contributes nothing.
//   conv = K - 2 * accum, K = kh * kw * Cin / groups (taps counted: all of them, or, for
//   pad_value 0, the in-image ones).
//   - float output [N, OH, OW, Cout]: out = float(clamp(conv)) * multiplier[c] + bias[c], each
//     operation rounded once in that order (no fused multiply-add); clamp by the fused activation
//     on the integer conv: NONE none, RELU [0, inf), RELU_N1_TO_1 [-1, 1], RELU6 [0, 6].
//   - bit-packed output int32 [N, OH, OW, words(Cout)]: bit c = accum > threshold[c] (SAME with
//     pad_value 1 or VALID only; no activation).
//   - int8 output [N, OH, OW, Cout] with the output tensor's scale s > 0 and zero point z (SAME with
//     pad_value 1 or VALID only, as LCE's optimized kernels): LCE's own fused form, so that the
//     integers match its runtime's: x = clamp(2 * accum, K - hi, K - lo) with [lo, hi] the
//     activation's range within [-K, K]; m = float(-double(multiplier[c]) / s), b =
//     float((double(bias[c]) + K * double(multiplier[c])) / s + z); out = saturate(round(float(x) *
//     m + b)), each float operation rounded once, round half away from zero, saturate to [-128, 127].
// * LceQuantize: float [..., C] -> int32 [..., words(C)]; int8 input (a quantized model): bit 1 <=>
//   x < the input's zero point. LceDequantize: the inverse, +1.0 / -1.0; int8 output with scale s
//   and zero point z: +1 -> min(127, z + r), -1 -> max(-128, z - r), r = round(1.0f / s).
// * LceBMaxPool2d (the converter's rewrite of sign(MaxPool2D(x)) as MaxPool of sign(x)): int32 NHWC
//   [N, H, W, words] -> [N, OH, OW, words]; filter fh x fw, stride, padding SAME (TFLite's rule as
//   above, dilation 1) or VALID. Each output channel is the max of the +-1 values in the window's
//   in-image taps (out-of-image taps are ignored, as TFLite's float MaxPool2D ignores them), so it
//   is -1 (bit 1) only where every tap is -1: the AND of the taps' words. Padding bits stay 0.
#pragma once

#include <cstdint>
#include <memory>

#include "binary_conv.h"  // ParallelRunner

namespace rep_deploy::core::lce {

inline int64_t words(int64_t channels) { return (channels + 31) / 32; }

enum class Padding : int { kSame = 0, kValid = 1 };  // TFLite schema values, as the options hold them
enum class Activation : int { kNone = 0, kRelu = 1, kReluN1To1 = 2, kRelu6 = 3 };
enum class Output : int { kFloat = 0, kBitpacked = 1, kInt8 = 2 };

struct BConv2DParams {
  int64_t batch = 1, in_h = 0, in_w = 0, channels_in = 0;  // channels_in: the op's option
  int64_t channels_out = 0, filter_h = 0, filter_w = 0;
  int64_t filter_words = 0;  // the filter's last dimension (groups = words(channels_in) / filter_words)
  int64_t stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  Padding padding = Padding::kSame;
  int pad_value = 1;  // 0 or 1 (SAME only)
  Activation activation = Activation::kNone;
  Output output = Output::kFloat;
  float out_scale = 1.0f;      // int8 output: the output tensor's quantization
  int32_t out_zero_point = 0;
};

// One LceBconv2d node: validates the parameters and prepares (repacks) the constant filter once.
class BConv2D {
 public:
  // filter: OHWI as above; multiplier, bias: [channels_out] (float and int8 output, else ignored);
  // thresholds: [channels_out] (bit-packed output, else ignored). Throws std::invalid_argument
  // with one line naming the offending option or shape.
  BConv2D(const BConv2DParams& p, const int32_t* filter, const float* multiplier, const float* bias,
          const int32_t* thresholds);
  ~BConv2D();
  BConv2D(const BConv2D&) = delete;
  BConv2D& operator=(const BConv2D&) = delete;

  int64_t out_h() const;
  int64_t out_w() const;
  const char* kernel_path() const;  // the instruction-set path run() takes (REP_DEPLOY_KERNEL honoured)
  // input: int32 [batch, in_h, in_w, words(channels_in)]; output: float or int8 [batch, out_h, out_w,
  // channels_out], or int32 [batch, out_h, out_w, words(channels_out)].
  void run(const int32_t* input, void* output, const ParallelRunner& par = {}) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The oracle: a direct loop over the definition above, same arguments (tests; REP_DEPLOY_KERNEL=reference).
void bconv2d_reference(const BConv2DParams& p, const int32_t* input, const int32_t* filter,
                       const float* multiplier, const float* bias, const int32_t* thresholds, void* output);

// One LceBMaxPool2d node. words: the input's last dimension (the op has no channel count).
struct BMaxPool2DParams {
  int64_t batch = 1, in_h = 0, in_w = 0, words = 0;
  int64_t filter_h = 0, filter_w = 0, stride_h = 1, stride_w = 1;
  Padding padding = Padding::kSame;
};
struct PoolShape {
  int64_t out_h = 0, out_w = 0;  // may be 0 (VALID on an image smaller than the filter)
};
// The output's height and width; throws std::invalid_argument with one line naming the bad option
// or shape ("LceBMaxPool2d: ...").
PoolShape bmaxpool2d_shape(const BMaxPool2DParams& p);
// output: int32 [batch, out_h, out_w, words]. Separable: each output row first ANDs its window's
// input rows once per input column, then each pixel ANDs its window's columns of that; tasks are
// output rows.
void bmaxpool2d(const BMaxPool2DParams& p, const int32_t* input, int32_t* output, const ParallelRunner& par = {});
// The oracle: per channel bit, the max of the window's dequantized +-1 values, packed again.
void bmaxpool2d_reference(const BMaxPool2DParams& p, const int32_t* input, int32_t* output);

void quantize(const float* x, int64_t rows, int64_t channels, int32_t* out);    // out: [rows][words(channels)]
void quantize(const int8_t* x, int64_t rows, int64_t channels, int32_t zero_point, int32_t* out);
void dequantize(const int32_t* x, int64_t rows, int64_t channels, float* out);  // out: [rows][channels]
void dequantize(const int32_t* x, int64_t rows, int64_t channels, float scale, int32_t zero_point, int8_t* out);

}  // namespace rep_deploy::core::lce
