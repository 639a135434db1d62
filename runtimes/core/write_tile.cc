// Portable output transform of a GEMM tile (kernel_api.h, TileOut): plain loops, one float32
// rounding per step. The branchy RPReLU select keeps numpy's where(u >= 0, u, u * slope) exactly,
// NaN included (u >= 0 is false for NaN, so NaN * slope is returned, as numpy does).
#include "kernel_api.h"

namespace rep_deploy::core {

void write_tile_portable(const TileOut& t) {
  for (int64_t r = 0; r < t.repeats; ++r) {
    for (int64_t l = 0; l < t.nl; ++l) {
      const int64_t j = tile_channel(t, r, l);
      const int32_t* a = t.acc + l * 64;
      float* y = t.y + j * t.plane;
      const float m = t.mul[j];
      if (!t.add) {
        for (int64_t p = 0; p < t.npix; ++p) y[p] = static_cast<float>(a[p]) * m;
        continue;
      }
      const float b = t.add[j];
      if (!t.res) {
        for (int64_t p = 0; p < t.npix; ++p) y[p] = static_cast<float>(a[p]) * m + b;
        continue;
      }
      const float* res = tile_residual(t, r, l);
      if (!t.pre) {
        for (int64_t p = 0; p < t.npix; ++p) y[p] = (static_cast<float>(a[p]) * m + b) + res[p];
        continue;
      }
      const float pre = t.pre[j], slope = t.slope[j], post = t.post[j];
      for (int64_t p = 0; p < t.npix; ++p) {
        const float u = ((static_cast<float>(a[p]) * m + b) + res[p]) + pre;
        y[p] = (u >= 0.0f ? u : u * slope) + post;
      }
    }
  }
  if (!t.signs) return;
  for (int64_t r = 0; r < t.repeats; ++r)  // the next op's sign bits of the rows just written
    for (int64_t l = 0; l < t.nl; ++l) {
      const int64_t j = tile_channel(t, r, l);
      const float* y = t.y + j * t.plane;
      uint64_t word = 0;
      for (int64_t p = 0; p < t.npix; ++p) word |= uint64_t(y[p] >= t.sign_threshold[j]) << p;
      t.signs[j * t.sign_stride] = word;
    }
}

}  // namespace rep_deploy::core
