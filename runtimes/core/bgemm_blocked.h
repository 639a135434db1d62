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

// The two popcount accumulator policies of the x86 paths without a vector popcount instruction,
// written once over SIMD traits S (bgemm_avx2.cc, bgemm_avx512.cc). S provides: Vec, kLanes, load,
// bcast, vxor, vand, zero(), add_u8, add_u64, shl3_u64 (x << 3 per 64-bit lane), popcount_bytes,
// sum_bytes (per-lane sum of its 8 bytes), csa(carry, sum, a, b, c) (a carry-save adder, the
// ISA's cheapest form) and store_counts(dst, total) (the low 32 bits of each lane to dst[lane]).
//
// HarleySeal: XOR results are summed with a Harley-Seal carry-save tree, so 8 inputs cost 7 CSAs
// plus ONE nibble-lookup popcount (of the "eights" vector) instead of 8. Invariant per lane:
//     count = 8*E + 4*pop(fours) + 2*pop(twos) + pop(ones) + D
// where E counts the bits of all "eights" vectors so far and D the tail inputs counted directly.
template <class S>
struct HarleySeal {
  using Vec = typename S::Vec;
  static constexpr int kLanes = S::kLanes;
  static Vec load(const uint64_t* p) { return S::load(p); }
  static Vec bcast(const uint64_t* p) { return S::bcast(p); }
  static Vec vxor(Vec a, Vec b) { return S::vxor(a, b); }

  Vec ones, twos, fours;
  Vec eights;  // per-byte popcounts of the "eights" vectors since the last flush (<= 31 * 8)
  Vec e64;     // E, per lane, flushed from `eights`
  Vec direct;  // D, per lane

  void zero() { ones = twos = fours = eights = e64 = direct = S::zero(); }
  void add8(const Vec* in) {
    Vec twos_a, twos_b, fours_a, fours_b, e;
    S::csa(twos_a, ones, ones, in[0], in[1]);
    S::csa(twos_b, ones, ones, in[2], in[3]);
    S::csa(fours_a, twos, twos, twos_a, twos_b);
    S::csa(twos_a, ones, ones, in[4], in[5]);
    S::csa(twos_b, ones, ones, in[6], in[7]);
    S::csa(fours_b, twos, twos, twos_a, twos_b);
    S::csa(e, fours, fours, fours_a, fours_b);
    eights = S::add_u8(eights, S::popcount_bytes(e));
  }
  // Half adder into the `fours` level: its carry has weight 8 and joins `eights`.
  void add_fours(Vec f) {
    eights = S::add_u8(eights, S::popcount_bytes(S::vand(fours, f)));
    fours = S::vxor(fours, f);
  }
  void add4(const Vec* in) {  // the first half of add8, then the fours half adder
    Vec twos_a, twos_b, fours_a;
    S::csa(twos_a, ones, ones, in[0], in[1]);
    S::csa(twos_b, ones, ones, in[2], in[3]);
    S::csa(fours_a, twos, twos, twos_a, twos_b);
    add_fours(fours_a);
  }
  void add2(const Vec* in) {  // one CSA, then half adders up the levels
    Vec twos_a;
    S::csa(twos_a, ones, ones, in[0], in[1]);
    const Vec fours_a = S::vand(twos, twos_a);
    twos = S::vxor(twos, twos_a);
    add_fours(fours_a);
  }
  void add1(Vec a) { direct = S::add_u64(direct, S::sum_bytes(S::popcount_bytes(a))); }
  void flush() {
    e64 = S::add_u64(e64, S::sum_bytes(eights));
    eights = S::zero();
  }
  void store(int32_t* dst) const {
    Vec r = S::popcount_bytes(fours);  // 4*pop(fours) + 2*pop(twos) + pop(ones) <= 56 per byte
    r = S::add_u8(r, r);
    r = S::add_u8(r, S::popcount_bytes(twos));
    r = S::add_u8(r, r);
    r = S::add_u8(r, S::popcount_bytes(ones));
    const Vec e = S::add_u64(e64, S::sum_bytes(eights));
    S::store_counts(dst, S::add_u64(S::add_u64(S::sum_bytes(r), direct), S::shl3_u64(e)));
  }
};

// Direct: for dot products shorter than 8 words (1x1 convs over <= 448 channels) the carry-save
// state would cost more to set up and reduce than it saves: popcount every word into byte
// counters (<= 8 * 8 per byte) and reduce with a byte sum (once, or after every 8 words). Where a
// CSA is five logic ops (AVX2) that also holds at 9 words (a 3x3 over 64 channels: bgemm_avx2.cc).
template <class S>
struct Direct {
  using Vec = typename S::Vec;
  static constexpr int kLanes = S::kLanes;
  static Vec load(const uint64_t* p) { return S::load(p); }
  static Vec bcast(const uint64_t* p) { return S::bcast(p); }
  static Vec vxor(Vec a, Vec b) { return S::vxor(a, b); }

  Vec bytes, total;
  void zero() { bytes = total = S::zero(); }
  void add1(Vec a) { bytes = S::add_u8(bytes, S::popcount_bytes(a)); }
  void add2(const Vec* in) { add1(in[0]), add1(in[1]); }
  void add4(const Vec* in) { add2(in), add2(in + 2); }
  void add8(const Vec* in) {  // K >= 8 (bgemm_avx2.cc's 9 words): 8 popcounts, then their sum
    // (without this flush, 9 words ran 7% slower: one longer chain of byte adds)
    add4(in), add4(in + 4), flush();
  }
  void flush() {
    total = S::add_u64(total, S::sum_bytes(bytes));
    bytes = S::zero();
  }
  void store(int32_t* dst) const { S::store_counts(dst, S::add_u64(total, S::sum_bytes(bytes))); }
};

template <class A, int P, int B>
inline void bgemm_block(const BgemmTask& t, int64_t p0, int64_t b0) {
  using Vec = typename A::Vec;
  constexpr int L = A::kLanes;
  constexpr int V = 8 / L;
  const int64_t K = t.kwords;
  const int64_t* koff = t.koff;
  const uint64_t* xp[P];
  for (int p = 0; p < P; ++p) xp[p] = pixel_x(t, p0 + p);
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
      // the pixels by stride, or by offset (BgemmTask::pix_off), each loop free of the other's test
      const auto pixels = [&](auto by_offset) {
        const uint64_t* x = t.x;
        int32_t* cnt = t.cnt + b * 8 + v * L;
        for (int64_t p = 0; p < t.npix; ++p, x += t.x_pix_stride, cnt += t.cnt_stride) {
          const uint64_t* xq = decltype(by_offset)::value ? t.x + t.pix_off[p] : x;
          A acc;
          acc.zero();
          for (int k = 0; k < K; ++k) acc.add1(A::vxor(A::bcast(xq + off[k]), w[k]));
          acc.store(cnt);
        }
      };
      if (t.pix_off) pixels(std::true_type());
      else pixels(std::false_type());
    }
  }
}

// Common 3x3 / 1x1 dot-product lengths (K = 9, 18, 36 words: 3x3 over <= 64, 128, 256 channels;
// 16: 1x1 over 1024) with K known at compile time: P pixels at a time, each accumulator runs its
// whole dot product unrolled, so the carry-save state never leaves registers and there is no
// per-block bookkeeping. Above 248 words (288: 3x3 over 2048 channels, a RepBNN's 7x7 layer) the
// accumulators flush after every 31 steps of 8 words, as bgemm_block's do.
template <class A, int K, int P>
inline void bgemm_fixed_k(const BgemmTask& t) {
  using Vec = typename A::Vec;
  constexpr int L = A::kLanes;
  constexpr int V = 8 / L;
  constexpr int kFlushWords = 31 * 8;  // byte counters hold 31 add8 calls (see the top)
  constexpr int kSteps = K & ~7;       // the words in whole steps of 8 (the tail follows)
  int64_t off[K];
  for (int k = 0; k < K; ++k) off[k] = t.koff[k];
  for (int64_t b = 0; b < t.nocb; ++b) {
    for (int v = 0; v < V; ++v) {
      const uint64_t* w = t.w + b * K * 8 + v * L;
      int64_t p = 0;
      const auto run = [&](auto pixels) {
        constexpr int Q = decltype(pixels)::value;
        const uint64_t* x[Q];
        for (int q = 0; q < Q; ++q) x[q] = pixel_x(t, p + q);
        A acc[Q];
        for (int q = 0; q < Q; ++q) acc[q].zero();
        for (int k0 = 0; k0 < kSteps; k0 += kFlushWords) {
          const int kend = k0 + kFlushWords < kSteps ? k0 + kFlushWords : kSteps;
          for (int k = k0; k < kend; k += 8) {
            Vec wk[8];
            for (int i = 0; i < 8; ++i) wk[i] = A::load(w + (k + i) * 8);
            for (int q = 0; q < Q; ++q) {
              Vec in[8];
              for (int i = 0; i < 8; ++i) in[i] = A::vxor(A::bcast(x[q] + off[k + i]), wk[i]);
              acc[q].add8(in);
            }
          }
          // a full run of 31 steps with words after it (more steps or the tail's add4 / add2)
          if constexpr (K > kFlushWords) {
            if (kend - k0 == kFlushWords && kend < K)
              for (int q = 0; q < Q; ++q) acc[q].flush();
          }
        }
        // the K % 8 tail words: a step of 4, of 2, of 1 (the bits of K % 8), chosen at compile time
        const auto tail = [&](auto step_c, int k0) {
          constexpr int step = decltype(step_c)::value;
          for (int q = 0; q < Q; ++q) {
            Vec in[step];
            for (int i = 0; i < step; ++i)
              in[i] = A::vxor(A::bcast(x[q] + off[k0 + i]), A::load(w + (k0 + i) * 8));
            if constexpr (step == 4) acc[q].add4(in);
            else if constexpr (step == 2) acc[q].add2(in);
            else acc[q].add1(in[0]);
          }
        };
        if constexpr ((K & 4) != 0) tail(std::integral_constant<int, 4>(), kSteps);
        if constexpr ((K & 2) != 0) tail(std::integral_constant<int, 2>(), K & ~3);
        if constexpr ((K & 1) != 0) tail(std::integral_constant<int, 1>(), K & ~1);
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
