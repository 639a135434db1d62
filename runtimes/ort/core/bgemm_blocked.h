// The blocked XOR-popcount GEMM, written once over an "accumulator" policy per instruction set.
//
// Include only from a per-ISA translation unit, after defining REP_DEPLOY_ISA_NS to a namespace name
// unique to that file (the instantiations then get distinct symbols, see kernel_api.h).
//
// Work layout: a vector holds A::kLanes 64-bit lanes, one per output channel; 8 output channels (one
// weight block) are V = 8 / kLanes vectors. For each dot-product word k the activation word of a
// pixel is broadcast to all lanes and XORed with the weights of that block: every lane accumulates
// popcount(x_k ^ w_k[lane]). A register block of P pixels x B weight blocks shares each weight load
// across P pixels and each broadcast across B*V vectors.
//
// Accumulator policy A provides: Vec, kLanes, load (8 lanes' words), bcast (one word to all lanes),
// vxor, and per accumulator zero(), add8(const Vec in[8]), add4(const Vec in[4]),
// add2(const Vec in[2]), add1(Vec), flush(), store(int32_t*).
// flush() is called at least every 31 add8 calls (byte counters then cannot overflow: 31 * 8 < 256).
#pragma once

#ifndef REP_DEPLOY_ISA_NS
#error "define REP_DEPLOY_ISA_NS before including bgemm_blocked.h"
#endif

#include <cstdint>
#include <type_traits>

#include "kernel_api.h"

namespace rep_deploy::core::REP_DEPLOY_ISA_NS {

template <class A, int P, int B>
inline void bgemm_block(const BgemmTask& t, int64_t p0, int64_t b0) {
  using Vec = typename A::Vec;
  constexpr int L = A::kLanes;
  constexpr int V = 8 / L;
  const int64_t K = t.kwords;
  const int64_t* koff = t.koff;
  const uint64_t* xp[P];
  for (int p = 0; p < P; ++p) xp[p] = t.x + (p0 + p) * t.x_pix_stride;
  const uint64_t* wp[B];
  for (int b = 0; b < B; ++b) wp[b] = t.w + (b0 + b) * K * 8;

  A acc[P][B * V];
  for (int p = 0; p < P; ++p)
    for (int j = 0; j < B * V; ++j) acc[p][j].zero();

  int64_t k = 0;
  const int64_t kfull = K & ~int64_t(7);
  while (k < kfull) {
    const int64_t kend = kfull - k > 31 * 8 ? k + 31 * 8 : kfull;
    for (; k < kend; k += 8) {
      for (int b = 0; b < B; ++b) {
        for (int v = 0; v < V; ++v) {
          Vec w[8];
          for (int i = 0; i < 8; ++i) w[i] = A::load(wp[b] + (k + i) * 8 + v * L);
          for (int p = 0; p < P; ++p) {
            Vec in[8];
            for (int i = 0; i < 8; ++i) in[i] = A::vxor(A::bcast(xp[p] + koff[k + i]), w[i]);
            acc[p][b * V + v].add8(in);
          }
        }
      }
    }
    for (int p = 0; p < P; ++p)
      for (int j = 0; j < B * V; ++j) acc[p][j].flush();
  }
  // tail of K % 8 words: one step of 4, of 2, of 1 (carry-save accumulators fold 4 or 2 words
  // more cheaply than popcounting each)
  for (int step = 4; step >= 1; step >>= 1) {
    if (K - k < step) continue;
    for (int b = 0; b < B; ++b)
      for (int v = 0; v < V; ++v) {
        Vec w[4];
        for (int i = 0; i < step; ++i) w[i] = A::load(wp[b] + (k + i) * 8 + v * L);
        for (int p = 0; p < P; ++p) {
          Vec in[4];
          for (int i = 0; i < step; ++i) in[i] = A::vxor(A::bcast(xp[p] + koff[k + i]), w[i]);
          if (step == 4) acc[p][b * V + v].add4(in);
          else if (step == 2) acc[p][b * V + v].add2(in);
          else acc[p][b * V + v].add1(in[0]);
        }
      }
    k += step;
  }
  for (int p = 0; p < P; ++p)
    for (int b = 0; b < B; ++b)
      for (int v = 0; v < V; ++v)
        acc[p][b * V + v].store(t.cnt + (p0 + p) * t.cnt_stride + (b0 + b) * 8 + v * L);
}

// All pixels for weight blocks [b0, b0 + B): full P-pixel blocks, then single pixels.
template <class A, int P, int B>
inline void bgemm_pixels(const BgemmTask& t, int64_t b0) {
  int64_t p = 0;
  for (; p + P <= t.npix; p += P) bgemm_block<A, P, B>(t, p, b0);
  for (; p < t.npix; ++p) bgemm_block<A, 1, B>(t, p, b0);
}

// The whole task: B weight blocks at a time, then the remaining blocks one by one.
template <class A, int P, int B>
inline void bgemm_run(const BgemmTask& t) {
  int64_t b = 0;
  for (; b + B <= t.nocb; b += B) bgemm_pixels<A, P, B>(t, b);
  for (; b < t.nocb; ++b) bgemm_pixels<A, P, 1>(t, b);
}

// Short dot products (K < 8 words: 1x1 convs over <= 448 channels) with K known at compile time:
// the K weight vectors of a block and the K tap offsets stay in registers while every pixel streams
// past, so the per-output cost is K XOR-popcounts plus one reduction, with no loop bookkeeping.
template <class A, int K>
inline void bgemm_small_k(const BgemmTask& t) {
  using Vec = typename A::Vec;
  constexpr int L = A::kLanes;
  constexpr int V = 8 / L;
  int64_t off[K];
  for (int k = 0; k < K; ++k) off[k] = t.koff[k];
  for (int64_t b = 0; b < t.nocb; ++b) {
    for (int v = 0; v < V; ++v) {
      Vec w[K];
      for (int k = 0; k < K; ++k) w[k] = A::load(t.w + (b * K + k) * 8 + v * L);
      const uint64_t* x = t.x;
      int32_t* cnt = t.cnt + b * 8 + v * L;
      for (int64_t p = 0; p < t.npix; ++p, x += t.x_pix_stride, cnt += t.cnt_stride) {
        A acc;
        acc.zero();
        for (int k = 0; k < K; ++k) acc.add1(A::vxor(A::bcast(x + off[k]), w[k]));
        acc.store(cnt);
      }
    }
  }
}

// Common 3x3 / 1x1 dot-product lengths (K = 9, 18, 36 words: 3x3 over <= 64, 128, 256 channels;
// 16: 1x1 over 1024) with K known at compile time: P pixels at a time, each accumulator runs its
// whole dot product unrolled, so the carry-save state never leaves registers and there is no
// per-block bookkeeping. K <= 248 words: no intermediate flush is needed.
template <class A, int K, int P>
inline void bgemm_fixed_k(const BgemmTask& t) {
  using Vec = typename A::Vec;
  constexpr int L = A::kLanes;
  constexpr int V = 8 / L;
  static_assert(K <= 31 * 8, "byte counters would overflow");
  int64_t off[K];
  for (int k = 0; k < K; ++k) off[k] = t.koff[k];
  for (int64_t b = 0; b < t.nocb; ++b) {
    for (int v = 0; v < V; ++v) {
      const uint64_t* w = t.w + b * K * 8 + v * L;
      int64_t p = 0;
      const auto run = [&](auto pixels) {
        constexpr int Q = decltype(pixels)::value;
        const uint64_t* x[Q];
        for (int q = 0; q < Q; ++q) x[q] = t.x + (p + q) * t.x_pix_stride;
        A acc[Q];
        for (int q = 0; q < Q; ++q) acc[q].zero();
        int k = 0;
        for (; k + 8 <= K; k += 8) {
          Vec wk[8];
          for (int i = 0; i < 8; ++i) wk[i] = A::load(w + (k + i) * 8);
          for (int q = 0; q < Q; ++q) {
            Vec in[8];
            for (int i = 0; i < 8; ++i) in[i] = A::vxor(A::bcast(x[q] + off[k + i]), wk[i]);
            acc[q].add8(in);
          }
        }
        for (int step = 4; step >= 1; step >>= 1) {
          if (K - k < step) continue;
          for (int q = 0; q < Q; ++q) {
            Vec in[4];
            for (int i = 0; i < step; ++i)
              in[i] = A::vxor(A::bcast(x[q] + off[k + i]), A::load(w + (k + i) * 8));
            if (step == 4) acc[q].add4(in);
            else if (step == 2) acc[q].add2(in);
            else acc[q].add1(in[0]);
          }
          k += step;
        }
        for (int q = 0; q < Q; ++q) acc[q].store(t.cnt + (p + q) * t.cnt_stride + b * 8 + v * L);
      };
      for (; p + P <= t.npix; p += P) run(std::integral_constant<int, P>());
      for (; p < t.npix; ++p) run(std::integral_constant<int, 1>());
    }
  }
}

// K in [1, 7] dispatched to bgemm_small_k; false when K is larger.
template <class A>
inline bool bgemm_small(const BgemmTask& t) {
  switch (t.kwords) {
    case 1: bgemm_small_k<A, 1>(t); return true;
    case 2: bgemm_small_k<A, 2>(t); return true;
    case 3: bgemm_small_k<A, 3>(t); return true;
    case 4: bgemm_small_k<A, 4>(t); return true;
    case 5: bgemm_small_k<A, 5>(t); return true;
    case 6: bgemm_small_k<A, 6>(t); return true;
    case 7: bgemm_small_k<A, 7>(t); return true;
    default: return false;
  }
}

}  // namespace rep_deploy::core::REP_DEPLOY_ISA_NS
