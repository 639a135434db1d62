// LceQuantize / LceDequantize (lce.h): LCE's bit packing along the channel axis, bit 1 <=> x < 0.
#include <cstdint>

#include "lce.h"

namespace rep_deploy::core::lce {

void quantize(const float* x, int64_t rows, int64_t channels, int32_t* out) {
  const int64_t nw = words(channels);
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = x + r * channels;
    int32_t* dst = out + r * nw;
    for (int64_t q = 0; q < nw; ++q) {
      const int64_t c0 = 32 * q, m = channels - c0 < 32 ? channels - c0 : 32;
      uint32_t w = 0;
      // x < 0 is false for 0.0, -0.0 and NaN: they pack as bit 0 (+1), as LCE's portable packer
      for (int64_t b = 0; b < m; ++b) w |= uint32_t(src[c0 + b] < 0.0f) << b;
      dst[q] = int32_t(w);
    }
  }
}

void dequantize(const int32_t* x, int64_t rows, int64_t channels, float* out) {
  const int64_t nw = words(channels);
  for (int64_t r = 0; r < rows; ++r) {
    const uint32_t* src = reinterpret_cast<const uint32_t*>(x + r * nw);
    float* dst = out + r * channels;
    for (int64_t c = 0; c < channels; ++c) dst[c] = (src[c / 32] >> (c % 32)) & 1 ? -1.0f : 1.0f;
  }
}

}  // namespace rep_deploy::core::lce
