// LceQuantize / LceDequantize (lce.h): LCE's bit packing along the channel axis, bit 1 <=> x < 0
// (x < the zero point for int8), and back to +-1 as float or quantized int8.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "lce.h"

namespace rep_deploy::core::lce {

namespace {

// Rows of `channels` values -> LCE's words; negative(v): whether v packs as -1 (bit 1).
template <class T, class Negative>
void pack(const T* x, int64_t rows, int64_t channels, Negative negative, int32_t* out) {
  const int64_t nw = words(channels);
  for (int64_t r = 0; r < rows; ++r) {
    const T* src = x + r * channels;
    int32_t* dst = out + r * nw;
    for (int64_t q = 0; q < nw; ++q) {
      const int64_t c0 = 32 * q, m = channels - c0 < 32 ? channels - c0 : 32;
      uint32_t w = 0;
      for (int64_t b = 0; b < m; ++b) w |= uint32_t(negative(src[c0 + b])) << b;
      dst[q] = int32_t(w);
    }
  }
}

// LCE's words -> rows of `channels` values, `plus` for bit 0 and `minus` for bit 1.
template <class T>
void unpack(const int32_t* x, int64_t rows, int64_t channels, T plus, T minus, T* out) {
  const int64_t nw = words(channels);
  for (int64_t r = 0; r < rows; ++r) {
    const uint32_t* src = reinterpret_cast<const uint32_t*>(x + r * nw);
    T* dst = out + r * channels;
    for (int64_t c = 0; c < channels; ++c) dst[c] = (src[c / 32] >> (c % 32)) & 1 ? minus : plus;
  }
}

}  // namespace

void quantize(const float* x, int64_t rows, int64_t channels, int32_t* out) {
  // x < 0 is false for 0.0, -0.0 and NaN: they pack as bit 0 (+1), as LCE's portable packer
  pack(x, rows, channels, [](float v) { return v < 0.0f; }, out);
}

void quantize(const int8_t* x, int64_t rows, int64_t channels, int32_t zero_point, int32_t* out) {
  pack(x, rows, channels, [zero_point](int8_t v) { return v < zero_point; }, out);  // below zero: -1
}

void dequantize(const int32_t* x, int64_t rows, int64_t channels, float* out) {
  unpack(x, rows, channels, 1.0f, -1.0f, out);
}

void dequantize(const int32_t* x, int64_t rows, int64_t channels, float scale, int32_t zero_point,
                int8_t* out) {
  const int32_t r = int32_t(std::round(1.0f / scale));  // the quantized 1.0, as LCE rounds it
  unpack(x, rows, channels, int8_t(std::min(127, zero_point + r)), int8_t(std::max(-128, zero_point - r)), out);
}

}  // namespace rep_deploy::core::lce
