// Portable output transform of a GEMM tile (kernel_api.h, TileOut): plain loops, one float32
// rounding per step. The RPReLU select (select_ge0) keeps numpy's where(u >= 0, u, u * slope)
// exactly, NaN included (u >= 0 is false for NaN, so NaN * slope is returned, as numpy does).
#include <cstring>

#include "kernel_api.h"

namespace rep_deploy::core {

namespace {

// u >= 0 ? u : neg, as a bit mask instead of a branch (false for NaN, so NaN * slope, as numpy).
// GCC compiled the ?: to a branch on the data, taken for about half the outputs at random:
// `bench_core --epilogue --kernel portable` ran 142-151 ns per 16 outputs on 28x28 and 56x56
// planes and 25 on 14x14 ones; with the mask 33-39 on all of them.
inline float select_ge0(float u, float neg) {
  uint32_t a, b;
  std::memcpy(&a, &u, sizeof a);
  std::memcpy(&b, &neg, sizeof b);
  const uint32_t m = 0u - uint32_t(u >= 0.0f);
  const uint32_t r = (a & m) | (b & ~m);
  float f;
  std::memcpy(&f, &r, sizeof f);
  return f;
}

// Row l, copy r of the tile into y[0, npix), and its sign word when the tile has signs. The row's
// constants go into locals first: read through t inside the loop, GCC reloaded them (and t's
// pointers) for every pixel, as each store to y may alias them.
void write_row(const TileOut& t, int64_t r, int64_t l, float* y) {
  const TileRow& e = tile_row(t, r, l);
  const int32_t* a = t.acc + l * 64;
  const float* res = tile_residual(t, e);
  const int64_t npix = t.npix;
  const bool has_add = t.has_add, has_pre = t.has_pre;
  const float m = e.mul, add = e.add, pre = e.pre, slope = e.slope, post = e.post;
  for (int64_t p = 0; p < npix; ++p) {
    float v = static_cast<float>(a[p]) * m;
    if (has_add) v = v + add;
    if (res) v = v + res[p];
    if (has_pre) {
      const float u = v + pre;
      v = select_ge0(u, u * slope) + post;
    }
    y[p] = v;
  }
  if (!t.signs) return;
  const float st = e.sign_threshold;
  uint64_t word = 0;
  for (int64_t p = 0; p < npix; ++p) word |= uint64_t(y[p] >= st) << p;
  store_signs(t, e.j, word);
}

}  // namespace

void write_tile_portable(const TileOut& t) {
  if (t.tiles > 1) {  // a span (TileOut::tiles): tile by tile, the same values
    for (int64_t k = 0; k < t.tiles; ++k) write_tile_portable(span_tile(t, k));
    return;
  }
  for (int64_t r = 0; r < t.repeats; ++r)
    for (int64_t l = 0; l < t.nl; ++l) {
      if (!t.pool) {
        write_row(t, r, l, t.y + tile_row(t, r, l).j * t.plane);
        continue;
      }
      float row[64];
      write_row(t, r, l, row);
      float* out = t.pool + tile_row(t, r, l).j * t.pool_plane;
      for (int64_t k = 0; k < t.npix / 2; ++k) pool_pair(out, t.pool_pairs[k], row[2 * k], row[2 * k + 1]);
    }
}

}  // namespace rep_deploy::core
