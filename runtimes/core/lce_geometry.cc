#include "lce_geometry.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

namespace rep_deploy::core::lce {

namespace {

[[noreturn]] void fail(const BConv2DParams& p, const std::string& what) {
  std::ostringstream os;
  os << "LceBconv2d: " << what << " (input [" << p.batch << "," << p.in_h << "," << p.in_w << ","
     << words(p.channels_in) << "] channels_in " << p.channels_in << ", filter [" << p.channels_out
     << "," << p.filter_h << "," << p.filter_w << "," << p.filter_words << "], stride "
     << p.stride_h << "x" << p.stride_w << ", dilation " << p.dilation_h << "x" << p.dilation_w
     << ", padding " << (p.padding == Padding::kSame ? "SAME" : "VALID") << ", pad_values "
     << p.pad_value << ")";
  throw std::invalid_argument(os.str());
}

}  // namespace

void same_axis(int64_t in, int64_t k, int64_t stride, int64_t dilation, int64_t* out, int64_t* before,
               int64_t* after) {
  *out = (in + stride - 1) / stride;
  const int64_t total = (*out - 1) * stride + (k - 1) * dilation + 1 - in;
  const int64_t t = total > 0 ? total : 0;
  *before = t / 2;
  *after = t - t / 2;
}

int64_t valid_axis(int64_t in, int64_t k, int64_t stride, int64_t dilation) {
  const int64_t span = in - (k - 1) * dilation;
  return span > 0 ? (span - 1) / stride + 1 : 0;
}

Geometry make_geometry(const BConv2DParams& p) {
  constexpr int64_t kMaxDim = int64_t(1) << 24;  // keeps every index product far from overflow
  if (p.batch < 0 || p.in_h < 1 || p.in_w < 1 || p.batch > kMaxDim || p.in_h > kMaxDim ||
      p.in_w > kMaxDim)
    fail(p, "the input needs batch >= 0 and positive height and width");
  if (p.channels_in < 1 || p.channels_in > kMaxDim) fail(p, "channels_in must be positive");
  if (p.channels_out < 1 || p.channels_out > kMaxDim) fail(p, "the filter needs output channels");
  if (p.filter_h < 1 || p.filter_w < 1 || p.filter_h > 4096 || p.filter_w > 4096)
    fail(p, "the filter's height and width must be in [1, 4096]");
  if (p.stride_h < 1 || p.stride_w < 1 || p.stride_h > 4096 || p.stride_w > 4096)
    fail(p, "stride_height and stride_width must be in [1, 4096]");
  if (p.dilation_h < 1 || p.dilation_w < 1 || p.dilation_h > 4096 || p.dilation_w > 4096)
    fail(p, "dilation_height_factor and dilation_width_factor must be in [1, 4096]");
  if (p.padding != Padding::kSame && p.padding != Padding::kValid)
    fail(p, "padding must be 0 (SAME) or 1 (VALID)");
  if (p.pad_value != 0 && p.pad_value != 1) fail(p, "pad_values must be 0 or 1");
  if (p.activation != Activation::kNone && p.activation != Activation::kRelu &&
      p.activation != Activation::kReluN1To1 && p.activation != Activation::kRelu6)
    fail(p, "fused_activation_function must be NONE, RELU, RELU_N1_TO_1 or RELU6");
  if (p.output != Output::kFloat && p.output != Output::kBitpacked && p.output != Output::kInt8)
    fail(p, "the output must be float32, bit-packed int32 or int8");

  Geometry g;
  g.kh = p.filter_h, g.kw = p.filter_w;
  g.in_words = words(p.channels_in);
  g.out_words = words(p.channels_out);
  if (p.filter_words < 1 || g.in_words % p.filter_words != 0)
    fail(p, "the filter's last dimension must divide the input's words(channels_in)");
  g.groups = g.in_words / p.filter_words;
  if (g.groups > 1 && p.channels_in % (32 * g.groups) != 0)
    fail(p, "a grouped filter needs channels_in / groups to be a multiple of 32");
  if (p.channels_out % g.groups != 0) fail(p, "the output channels must be divisible by groups");
  g.cin_g = p.channels_in / g.groups;
  g.cout_g = p.channels_out / g.groups;
  if (g.cin_g * g.taps() > (int64_t(1) << 30)) fail(p, "the filter is too large");

  if (p.padding == Padding::kSame) {
    same_axis(p.in_h, p.filter_h, p.stride_h, p.dilation_h, &g.out_h, &g.pad_top, &g.pad_bottom);
    same_axis(p.in_w, p.filter_w, p.stride_w, p.dilation_w, &g.out_w, &g.pad_left, &g.pad_right);
  } else {
    g.out_h = valid_axis(p.in_h, p.filter_h, p.stride_h, p.dilation_h);
    g.out_w = valid_axis(p.in_w, p.filter_w, p.stride_w, p.dilation_w);
  }
  if (p.output == Output::kInt8) {
    // LCE's optimized kernels take int8 output only without zero padding, and its fused transform
    // counts every tap in K
    if (p.padding == Padding::kSame && p.pad_value == 0)
      fail(p, "int8 output needs padding VALID or SAME with pad_values 1");
    if (!(p.out_scale > 0.0f) || !std::isfinite(p.out_scale))
      fail(p, "int8 output needs a positive, finite output scale");
    if (p.out_zero_point < -128 || p.out_zero_point > 127) fail(p, "the int8 output's zero point must be in [-128, 127]");
  }
  if (p.output == Output::kBitpacked) {
    // LCE's converter writes thresholds only where out-of-image taps count as +1 inputs.
    if (p.padding == Padding::kSame && p.pad_value == 0)
      fail(p, "bit-packed output needs padding VALID or SAME with pad_values 1");
    if (p.activation != Activation::kNone)
      fail(p, "bit-packed output takes no fused activation (it is folded into the thresholds)");
  }
  return g;
}

PoolGeometry make_pool_geometry(const BMaxPool2DParams& p) {
  const auto fail = [&](const std::string& what) {
    std::ostringstream os;
    os << "LceBMaxPool2d: " << what << " (input [" << p.batch << "," << p.in_h << "," << p.in_w << ","
       << p.words << "], filter " << p.filter_h << "x" << p.filter_w << ", stride " << p.stride_h << "x"
       << p.stride_w << ", padding " << (p.padding == Padding::kSame ? "SAME" : "VALID") << ")";
    throw std::invalid_argument(os.str());
  };
  constexpr int64_t kMaxDim = int64_t(1) << 24;
  if (p.batch < 0 || p.in_h < 1 || p.in_w < 1 || p.batch > kMaxDim || p.in_h > kMaxDim || p.in_w > kMaxDim)
    fail("the input needs batch >= 0 and positive height and width");
  if (p.words < 1 || p.words > kMaxDim) fail("the input needs at least one bit-packed word per pixel");
  if (p.filter_h < 1 || p.filter_w < 1 || p.filter_h > 4096 || p.filter_w > 4096)
    fail("filter_height and filter_width must be in [1, 4096]");
  if (p.stride_h < 1 || p.stride_w < 1 || p.stride_h > 4096 || p.stride_w > 4096)
    fail("stride_height and stride_width must be in [1, 4096]");
  PoolGeometry g;
  int64_t after = 0;
  if (p.padding == Padding::kSame) {
    same_axis(p.in_h, p.filter_h, p.stride_h, 1, &g.out_h, &g.pad_top, &after);
    same_axis(p.in_w, p.filter_w, p.stride_w, 1, &g.out_w, &g.pad_left, &after);
  } else if (p.padding == Padding::kValid) {
    g.out_h = valid_axis(p.in_h, p.filter_h, p.stride_h, 1);
    g.out_w = valid_axis(p.in_w, p.filter_w, p.stride_w, 1);
  } else {
    fail("padding must be 0 (SAME) or 1 (VALID)");
  }
  return g;
}

Int8Transform int8_transform(const BConv2DParams& p, const Geometry& g, const float* multiplier, const float* bias) {
  const int64_t k = g.taps() * g.cin_g;
  const ClampRange r = clamp_range(p.activation);
  const int64_t lo = std::max<int64_t>(r.lo, -k), hi = std::min<int64_t>(r.hi, k);
  Int8Transform t;
  t.x_lo = k - hi, t.x_hi = k - lo;
  t.mul.resize(size_t(p.channels_out));
  t.bias.resize(size_t(p.channels_out));
  const double s = p.out_scale, z = p.out_zero_point;
  for (int64_t c = 0; c < p.channels_out; ++c) {
    t.mul[size_t(c)] = static_cast<float>(-double(multiplier[c]) / s);
    t.bias[size_t(c)] = static_cast<float>((double(bias[c]) + double(k) * double(multiplier[c])) / s + z);
  }
  return t;
}

ClampRange clamp_range(Activation a) {
  constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
  switch (a) {
    case Activation::kRelu: return {0, kMax};
    case Activation::kReluN1To1: return {-1, 1};
    case Activation::kRelu6: return {0, 6};
    case Activation::kNone: break;
  }
  return {kMin, kMax};
}

}  // namespace rep_deploy::core::lce
