// The vector tile epilogue (kernel_api.h, TileOut), written once over SIMD traits V.
//
// Include only from a per-ISA translation unit, after defining REP_DEPLOY_ISA_NS to a namespace name
// unique to that file (as bgemm_blocked.h). V provides: Vec (kWidth floats), set1, load (kWidth
// floats), load_acc (kWidth int32 converted to float), store, mul, add, rprelu(u, slope, post)
// = (u >= 0 ? u : u * slope) + post with the compare false for NaN (_CMP_GE_OQ), as numpy's where,
// and ge_mask(v, t): bit i = v[i] >= t[i] (false for NaN), the sign bits of TileOut::signs.
// Full vectors run straight from the tile; the tail of npix % kWidth pixels goes through stack
// buffers so that nothing past npix is read or written. Every step is one IEEE float32 rounding,
// so the result equals write_tile_portable bit for bit.
#pragma once

#ifndef REP_DEPLOY_ISA_NS
#error "define REP_DEPLOY_ISA_NS before including write_tile_simd.h"
#endif

#include <cstdint>

#include "kernel_api.h"

namespace rep_deploy::core::REP_DEPLOY_ISA_NS {

template <class V>
inline void write_tile_simd(const TileOut& t) {
  using Vec = typename V::Vec;
  constexpr int W = V::kWidth;
  const int mode = !t.add ? 0 : !t.res ? 1 : !t.pre ? 2 : 3;
  for (int64_t r = 0; r < t.repeats; ++r) {
    for (int64_t l = 0; l < t.nl; ++l) {
      const int64_t j = tile_channel(t, r, l);
      const int32_t* a = t.acc + l * 64;
      float* y = t.y + j * t.plane;
      const float* res = tile_residual(t, r, l);
      const Vec m = V::set1(t.mul[j]);
      const Vec b = V::set1(t.add ? t.add[j] : 0.0f);
      const Vec pre = V::set1(t.pre ? t.pre[j] : 0.0f);
      const Vec slope = V::set1(t.pre ? t.slope[j] : 0.0f);
      const Vec post = V::set1(t.pre ? t.post[j] : 0.0f);
      const Vec st = V::set1(t.signs ? t.sign_threshold[j] : 0.0f);
      uint64_t word = 0;
      const auto step = [&](const int32_t* ap, const float* rp, float* yp) {
        Vec v = V::mul(V::load_acc(ap), m);
        if (mode >= 1) v = V::add(v, b);
        if (mode >= 2) v = V::add(v, V::load(rp));
        if (mode == 3) v = V::rprelu(V::add(v, pre), slope, post);
        V::store(yp, v);
        return V::ge_mask(v, st);
      };
      // the next tile (64 pixels on, same channels) touches the next 256 bytes of these rows; into
      // L2 (locality 2): a tile's rows are up to 128 KiB, more than L1 holds (measured: 2% faster
      // than into L1 on rep-reactnet-a; prefetching this tile's rows 8 ahead instead: 5% slower)
      for (int64_t q = 64; q < 128; q += 16) {
        __builtin_prefetch(y + q, 1, 2);
        if (res && !t.res_by_row) __builtin_prefetch(res + q, 0, 2);
      }
      // npix in a local: the store intrinsics may alias anything, so t.npix would be reloaded
      const int64_t npix = t.npix;
      int64_t p = 0;
      for (; p + W <= npix; p += W)
        word |= uint64_t(step(a + p, res ? res + p : nullptr, y + p)) << p;
      if (p < npix) {
        const int64_t left = npix - p;
        alignas(64) int32_t ab[W] = {0};
        alignas(64) float rb[W] = {0}, yb[W];
        for (int64_t i = 0; i < left; ++i) ab[i] = a[p + i], rb[i] = res ? res[p + i] : 0.0f;
        word |= (uint64_t(step(ab, rb, yb)) & ((uint64_t(1) << left) - 1)) << p;
        for (int64_t i = 0; i < left; ++i) y[p + i] = yb[i];
      }
      if (t.signs) t.signs[j * t.sign_stride] = word;
    }
  }
}

}  // namespace rep_deploy::core::REP_DEPLOY_ISA_NS
