// Portable output transform of a GEMM tile (kernel_api.h, TileOut): plain loops, one float32
// rounding per step. The branchy RPReLU select keeps numpy's where(u >= 0, u, u * slope) exactly,
// NaN included (u >= 0 is false for NaN, so NaN * slope is returned, as numpy does).
#include "kernel_api.h"

namespace rep_deploy::core {

namespace {

// Row l, copy r of the tile into y[0, npix), and its sign word when the tile has signs.
void write_row(const TileOut& t, int64_t r, int64_t l, float* y) {
  const int64_t j = tile_channel(t, r, l);
  const int32_t* a = t.acc + l * 64;
  const float m = t.mul[j];
  const float* res = tile_residual(t, r, l);
  for (int64_t p = 0; p < t.npix; ++p) {
    float v = static_cast<float>(a[p]) * m;
    if (t.add) v = v + t.add[j];
    if (res) v = v + res[p];
    if (t.pre) {
      const float u = v + t.pre[j];
      v = (u >= 0.0f ? u : u * t.slope[j]) + t.post[j];
    }
    y[p] = v;
  }
  if (!t.signs) return;
  uint64_t word = 0;
  for (int64_t p = 0; p < t.npix; ++p) word |= uint64_t(y[p] >= t.sign_threshold[j]) << p;
  t.signs[j * t.sign_stride] = word;
}

}  // namespace

void write_tile_portable(const TileOut& t) {
  for (int64_t r = 0; r < t.repeats; ++r)
    for (int64_t l = 0; l < t.nl; ++l) {
      if (!t.pool) {
        write_row(t, r, l, t.y + tile_channel(t, r, l) * t.plane);
        continue;
      }
      float row[64];
      write_row(t, r, l, row);
      float* out = t.pool + tile_channel(t, r, l) * t.pool_plane;
      for (int64_t k = 0; k < t.npix / 2; ++k) pool_pair(out, t.pool_pairs[k], row[2 * k], row[2 * k + 1]);
    }
}

}  // namespace rep_deploy::core
