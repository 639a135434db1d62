// The vector tile epilogue (kernel_api.h, TileOut), written once over SIMD traits V.
//
// Include only from a per-ISA translation unit, after defining REP_DEPLOY_ISA_NS to a namespace name
// unique to that file (as bgemm_blocked.h). V provides: Vec (kWidth floats), set1, load (kWidth
// floats), load_acc (kWidth int32 converted to float), store, mul, add, rprelu(u, slope, post)
// = (u >= 0 ? u : u * slope) + post with the compare false for NaN (_CMP_GE_OQ), as numpy's where,
// and ge_mask(v, t): bit i = v[i] >= t[i] (false for NaN), the sign bits of TileOut::signs; for the
// kGroup and ge_mask_group(const Vec v[kGroup], t): the kGroup * kWidth bits of ge_mask over v (a
// path may build them faster together; kGroup = 1 otherwise); for the
// pooled outputs (TileOut::pool), kPooledRowsApart (write_pooled_rows_apart), pool_top(o, v): o[i] = v[2i] + v[2i + 1] and pool_bottom(o, v):
// o[i] = ((o[i] + v[2i]) + v[2i + 1]) * 0.25 for i < kWidth / 2, and pool_top2(o, v0, v1) /
// pool_bottom2(o, v0, v1), the same over the 2 * kWidth values of v0 then v1; kPoolRows (used
// only where kPooledRowsApart) and, where true, PoolRowPlan, plan_pool_rows(t, &plan) (false: the
// tile does not suit) and pool_rows(v, plan, pool), the up to 64 pixels of one row
// (v[0..64 / kWidth), the last one partial below 64) pooled at once; kPoolHalves and, where true, pool_halves(pool, pairs, v): a vector whose pixel
// pairs are two runs of kWidth / 4 pairs (each half of it in one row of windows: Wo a multiple of
// half the vector width but not of the width) pooled half by half; for the
// tail of npix % kWidth pixels, load_part(p, n) and load_acc_part(p, n): the first n lanes from p,
// reading nothing at or past p + n (x86: masked loads; a stack copy, built lane by lane, would stall
// the vector load behind the scalar stores: 10% of the epilogue's samples on 14x14 maps), and
// store_part(p, v, n), the first n lanes to p, writing nothing else (AVX-512: a masked store; AVX2,
// whose masked store is microcoded on AMD, and NEON: pieces of 4, 2, 1 lanes). Until session 17 the
// tail went out through a stack buffer and a scalar loop, which GCC made a memcpy call per row: on
// Zen 4 the 4-pixel tile of a 14x14 plane then cost more than a whole 64-pixel one, and a 7x7
// plane's epilogue 1.8x an 8x8 one's per output (`bench_core --epilogue`). A pooled tail still
// goes pair by pair through the stack (pool_pair; masked vector pooling for the 14x14 planes' last
// 4 pixels measured no faster on Zen 4). Every step is one IEEE float32 rounding, so
// the result equals write_tile_portable bit for bit.
#pragma once

#ifndef REP_DEPLOY_ISA_NS
#error "define REP_DEPLOY_ISA_NS before including write_tile_simd.h"
#endif

#include <algorithm>
#include <cstdint>

#include "kernel_api.h"

namespace rep_deploy::core::REP_DEPLOY_ISA_NS {

// One output row: lane l, copy r, of the tile. kMode: 0 = scale only, 1 = + add, 2 = + residual,
// 3 = + RPReLU; a template parameter, so that the pixel loops carry no test of it (GCC left it in
// the NEON group loop). kPool: 0 = Y written as is; 1 = pooled (TileOut::pool); 2 = pooled, and
// every pair of vectors of the tile's pixels is one run of windows (pool_run: no test per vector;
// Wo a multiple of twice the vector width, so the zoo's 112 and 56 wide maps on AVX2 and NEON);
// 3 = every single vector is (NEON's 28 wide maps: a pair of vectors straddles rows of windows);
// 4 = the vectors straddle rows of windows, and V pools the row's pixels at once (V::pool_rows,
// plan: the tile's V::PoolRowPlan). a: the lane's accumulators. Its lambdas are always inlined:
// GCC called them per vector once the row had three forms.
template <class V, int kMode, int kPool, bool kSpan = false>
inline void write_row(const TileOut& t, int64_t r, int64_t l, const int32_t* a,
                      const void* plan) {
  using Vec = typename V::Vec;
  constexpr int W = V::kWidth;
  constexpr int G = V::kGroup;
  const TileRow& e = tile_row(t, r, l);
  const int64_t j = e.j;
  float* y = kPool ? nullptr : t.y + j * t.plane;  // y, res and a move on tile by tile in a span
  float* pool = kPool ? t.pool + j * t.pool_plane : nullptr;
  const float* res = tile_residual(t, e);
  const Vec m = V::set1(e.mul);
  const Vec b = V::set1(e.add);  // the constants of a step the transform lacks are 0, unused
  const Vec pre = V::set1(e.pre);
  const Vec slope = V::set1(e.slope);
  const Vec post = V::set1(e.post);
  const Vec st = V::set1(e.sign_threshold);
  uint64_t word = 0;
  // acc_v: the accumulators as floats; res_v: the residual (ignored below kMode 2)
  const auto step = [&](Vec acc_v, Vec res_v) __attribute__((always_inline)) {
    Vec v = V::mul(acc_v, m);
    if constexpr (kMode >= 1) v = V::add(v, b);
    if constexpr (kMode >= 2) v = V::add(v, res_v);
    if constexpr (kMode == 3) v = V::rprelu(V::add(v, pre), slope, post);
    return v;
  };
  // a span's tiles (TileOut::tiles: unpooled outputs only; kSpan, its own instantiation: as a
  // run-time loop around every row, fused pairs, whose tiles are single, ran 1-3% slower)
  static_assert(!kSpan || kPool == 0, "spans are unpooled");
  const int64_t tiles = kSpan ? t.tiles : 1;
  // the next tile or span (64 * tiles pixels on, same channels) touches the next 256 bytes of
  // these rows; into L2 (locality 2): a tile's rows are up to 128 KiB, more than L1 holds
  // (measured: 2% faster than into L1 on rep-reactnet-a; this tile's rows 8 ahead: 5% slower)
  for (int64_t q = 64 * tiles; q < 64 * tiles + 64; q += 16) {
    if (!kPool) __builtin_prefetch(y + q, 1, 2);
    if (kMode >= 2) __builtin_prefetch(res + q, 0, 2);
  }
  // a pooled tile writes 32 floats, half of them new: the next tile's follow its last (in ORT,
  // two interleaved per-node runs: rep-reactnet-a's 28x28 producer 0.46 vs 0.50-0.53 ms without)
  if (kPool) {
    const float* next = pool + (t.pool_pairs[t.npix / 2 - 1] & ~kPoolBottom) + 1;
    __builtin_prefetch(next, 1, 2);
    __builtin_prefetch(next + 16, 1, 2);
  }
  // npix in a local: the store intrinsics may alias anything, so t.npix would be reloaded
  const int64_t span_npix = t.npix;
  // the values of pixels [q, q + W) to Y, or pooled in registers when their pairs are one run of
  // windows (always for Wo a multiple of W), else pair by pair (TileOut::pool)
  const auto put = [&](int64_t q, Vec v) __attribute__((always_inline)) {
    if constexpr (kPool == 0) return V::store(y + q, v);
    const int32_t* pairs = t.pool_pairs + q / 2;
    if (kPool >= 2 || pool_run(pairs, 0, W / 2)) {
      if (pairs[0] & kPoolBottom)
        V::pool_bottom(pool + (pairs[0] & ~kPoolBottom), v);
      else
        V::pool_top(pool + pairs[0], v);
      return;
    }
    if constexpr (V::kPoolHalves) {
      if (pool_run(pairs, 0, W / 4) && pool_run(pairs, W / 4, W / 4))
        return V::pool_halves(pool, pairs, v);
    }
    alignas(64) float b[W];
    V::store(b, v);
    for (int k = 0; k < W / 2; ++k) pool_pair(pool, pairs[k], b[2 * k], b[2 * k + 1]);
  };
  // two vectors' pixels [q, q + 2W) pooled: whole vectors of windows (pool_top2 / pool_bottom2; on
  // NEON half the instructions of two pool_top calls)
  const auto put2 = [&](int64_t q, Vec v0, Vec v1) __attribute__((always_inline)) {
    const int32_t* pairs = t.pool_pairs + q / 2;
    if (kPool == 2 || (kPool == 1 && pool_run(pairs, 0, W))) {
      if (pairs[0] & kPoolBottom)
        V::pool_bottom2(pool + (pairs[0] & ~kPoolBottom), v0, v1);
      else
        V::pool_top2(pool + pairs[0], v0, v1);
      return;
    }
    put(q, v0);
    put(q + W, v1);
  };
  // one vector; kGroup vectors at a time (at least 2 when pooling: put2): their sign bits in one
  // ge_mask_group, and their loads side by side (NEON then pairs them into LDP)
  constexpr int P = kPool && G < 2 ? 2 : G;
  const auto one = [&](int64_t q) __attribute__((always_inline)) {
    const Vec acc_v = V::load_acc(a + q);
    const Vec v = step(acc_v, kMode >= 2 ? V::load(res + q) : acc_v);
    put(q, v);
    word |= uint64_t(V::ge_mask(v, st)) << q;
  };
  // the `left` (< W) pixels from q: their value (lanes from `left` on: read nothing, never stored)
  // and sign bits
  const auto part = [&](int64_t q, int64_t left) __attribute__((always_inline)) {
    const Vec acc_v = V::load_acc_part(a + q, left);
    const Vec v = step(acc_v, kMode >= 2 ? V::load_part(res + q, left) : acc_v);
    word |= (uint64_t(V::ge_mask(v, st)) & ((uint64_t(1) << left) - 1)) << q;
    return v;
  };
  const auto group = [&](int64_t q) __attribute__((always_inline)) {
    if constexpr (P == 1) {
      one(q);
    } else {
      Vec acc_v[P], res_v[P], v[P];
      for (int g = 0; g < P; ++g) acc_v[g] = V::load_acc(a + q + g * W);
      for (int g = 0; g < P; ++g) res_v[g] = kMode >= 2 ? V::load(res + q + g * W) : acc_v[g];
      for (int g = 0; g < P; ++g) v[g] = step(acc_v[g], res_v[g]);
      if constexpr (kPool != 0) {
        for (int g = 0; g < P; g += 2) put2(q + g * W, v[g], v[g + 1]);
      } else {
        for (int g = 0; g < P; ++g) V::store(y + q + g * W, v[g]);
      }
      if constexpr (P == G) {
        word |= V::ge_mask_group(v, st) << q;
      } else {
        for (int g = 0; g < P; ++g) word |= uint64_t(V::ge_mask(v[g], st)) << (q + g * W);
      }
    }
  };
  // one tile's row of npix pixels (tile: its place in a span), from a, y and res; a lambda, so that
  // the form for single tiles (kSpan false) has no loop around it
  const auto segment = [&](int64_t tile, const int64_t npix) __attribute__((always_inline)) {
    if constexpr (kPool == 4) {
      // the row's 64 / W vectors, the last one partial below 64 pixels (V::plan_pool_rows takes
      // more than 64 - W), pooled at once; indices known at compile time, so they stay in registers
      // (stored by a runtime index, they went through the stack: a 56-pixel tile's row +20%)
      constexpr int R = 64 / W;
      Vec row[R];
#pragma GCC unroll 16
      for (int g = 0; g < R - 1; ++g) {
        const Vec acc_v = V::load_acc(a + g * W);
        row[g] = step(acc_v, kMode >= 2 ? V::load(res + g * W) : acc_v);
        word |= uint64_t(V::ge_mask(row[g], st)) << (g * W);
      }
      const int64_t q = (R - 1) * W, left = npix - q;
      if (left == W) {
        const Vec acc_v = V::load_acc(a + q);
        row[R - 1] = step(acc_v, kMode >= 2 ? V::load(res + q) : acc_v);
        word |= uint64_t(V::ge_mask(row[R - 1], st)) << q;
      } else {  // its lanes from `left` on are masked off by the plan
        row[R - 1] = part(q, left);
      }
      V::pool_rows(row, *static_cast<const typename V::PoolRowPlan*>(plan), pool);
    } else if (npix == 64) {
      // a whole row, unrolled: the sign bits' shifts are constants, and no loop counter (Zen 3,
      // AVX2: the epilogue alone 18% faster, rep-reactnet-a's 1x1 layers 2-4%; NEON: the
      // epilogue's instructions -14% on the 112x112 and 56x56 1x1 layers)
#pragma GCC unroll 16
      for (int64_t q = 0; q < 64; q += P * W) group(q);
    } else if (kPool == 0 && npix > 64 - W) {
      // all but the last vector whole, unrolled as above: the 56-pixel tiles of pixel_chunks' finer
      // spans (a fused pair's Y1 rows; through the loop below, rep-reactnet-a's 28x28 pair took 3%
      // longer than with 64-pixel tiles, `bench_model --pairs --layer 8`)
#pragma GCC unroll 16
      for (int64_t q = 0; q < 64 - W; q += W) one(q);
      const int64_t q = 64 - W, left = npix - q;
      V::store_part(y + q, part(q, left), left);
    } else {  // a tile's last pixels (npix < 64)
      int64_t p = 0;
      for (; p + P * W <= npix; p += P * W) group(p);
      for (; p + W <= npix; p += W) one(p);
      if (p < npix) {
        const int64_t left = npix - p;
        const Vec v = part(p, left);
        if (kPool) {  // left is even (npix is)
          alignas(64) float yb[W];
          V::store(yb, v);
          for (int64_t k = 0; k < left / 2; ++k)
            pool_pair(pool, t.pool_pairs[p / 2 + k], yb[2 * k], yb[2 * k + 1]);
        } else {
          V::store_part(y + p, v, left);
        }
      }
    }
    if (t.signs) store_signs(t, j, word, tile);
  };
  if constexpr (kSpan) {  // the span's tiles along the row
    for (int64_t tile = 0;;) {
      segment(tile, std::min<int64_t>(64, span_npix - 64 * tile));
      if (++tile == tiles) break;
      a += t.acc_tile, y += 64, word = 0;
      if constexpr (kMode >= 2) res += 64;
    }
  } else {
    segment(0, span_npix);
  }
}

// Row by row, copy by copy: consecutive rows go to consecutive output planes. (Lane by lane instead,
// each lane's accumulators converted to float once for its copies, was 17% slower on
// rep-reactnet-a's 56x56 1x1 layer: its rows jump between four planes; converting the whole tile
// once and keeping this order gained nothing measurable.) Always inlined into its mode's function
// (write_tile_mode): as four separate functions GCC's NEON code ran ~4 more instructions per row.
// kPool: write_row's form for every row (kWithPooled false: only the unpooled form is compiled
// in); kSpan: a span's rows (TileOut::tiles), each across the span's tiles.
template <class V, int kMode, bool kWithPooled, bool kSpan = false>
[[gnu::always_inline]] inline void write_rows(const TileOut& t, int kPool, const void* plan) {
  for (int64_t r = 0; r < t.repeats; ++r)
    for (int64_t l = 0; l < t.nl; ++l) {
      if (kSpan)
        write_row<V, kMode, 0, true>(t, r, l, t.acc + l * 64, plan);
      else if (!kWithPooled || kPool == 0)
        write_row<V, kMode, 0>(t, r, l, t.acc + l * 64, plan);
      else if (kPool == 2)
        write_row<V, kMode, 2>(t, r, l, t.acc + l * 64, plan);
      else if (kPool == 3)
        write_row<V, kMode, 3>(t, r, l, t.acc + l * 64, plan);
      else if (V::kPoolRows && kPool == 4)
        write_row<V, kMode, V::kPoolRows ? 4 : 1>(t, r, l, t.acc + l * 64, plan);
      else
        write_row<V, kMode, 1>(t, r, l, t.acc + l * 64, plan);
    }
}

// A pooled tile's rows in a function of their own, where V::kPooledRowsApart. On AVX-512, inlined
// beside the unpooled rows, GCC's code for those got worse once the pooled rows were vector code
// (Xeon: rep-reactnet-a's unpooled 14x14 1x1 layers +5%). On NEON the same split cost the pooled
// layers 2-5% more instructions (neon_instructions.py), so there they stay inlined.
template <class V, int kMode>
[[gnu::noinline]] void write_pooled_rows_apart(const TileOut& t, int kPool) {
  typename V::PoolRowPlan plan;
  if (kPool == 1 && V::kPoolRows && V::plan_pool_rows(t, &plan)) kPool = 4;
  write_rows<V, kMode, true>(t, kPool, &plan);
}

// A span's rows (TileOut::tiles; unpooled), in a function of their own beside the rows of single
// tiles (see write_tile_mode).
template <class V, int kMode>
[[gnu::noinline]] void write_span_rows(const TileOut& t) {
  write_rows<V, kMode, false, true>(t, 0, nullptr);
}

// One function per transform mode. Inlined into write_tile_simd as before session 21, the four
// modes' rows and the spans' made one function past GCC's growth limit, and the RPReLU rows of
// single tiles became a call per row on NEON (neon_instructions.py: the 7x7 layers' epilogue +7%);
// apart, GCC inlines every row form into its mode's function (on AVX2 too, where it had kept the
// rows of modes 0-2 out of line: `bench_core --epilogue` unchanged).
template <class V, int kMode>
[[gnu::noinline]] void write_tile_mode(const TileOut& tile) {
  const TileOut t = tile;
  int kPool = 0;
  if (t.pool) {  // write_row's kPool: are the vector pairs it pools, and the single vectors, runs?
    constexpr int64_t W = V::kWidth;
    bool pairs = true, singles = true;
    int64_t q = 0;
    for (; q + 2 * W <= t.npix; q += 2 * W) pairs = pairs && pool_run(t.pool_pairs, q / 2, W);
    for (; q + W <= t.npix; q += W) pairs = pairs && pool_run(t.pool_pairs, q / 2, W / 2);
    for (q = 0; q + W <= t.npix; q += W) singles = singles && pool_run(t.pool_pairs, q / 2, W / 2);
    kPool = pairs ? 2 : singles ? 3 : 1;
  }
  if (t.tiles > 1) return write_span_rows<V, kMode>(t);
  if constexpr (V::kPooledRowsApart) {
    if (kPool) return write_pooled_rows_apart<V, kMode>(t, kPool);
    write_rows<V, kMode, false>(t, 0, nullptr);
  } else {
    write_rows<V, kMode, true>(t, kPool, nullptr);
  }
}

template <class V>
inline void write_tile_simd(const TileOut& t) {
  if (!t.has_add) return write_tile_mode<V, 0>(t);
  if (!t.res) return write_tile_mode<V, 1>(t);
  if (!t.has_pre) return write_tile_mode<V, 2>(t);
  write_tile_mode<V, 3>(t);
}

}  // namespace rep_deploy::core::REP_DEPLOY_ISA_NS
