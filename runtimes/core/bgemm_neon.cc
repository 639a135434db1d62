// NEON kernels for aarch64 (compile time: NEON is part of the aarch64 base ISA). A 128-bit vector
// holds 2 output-channel lanes (a weight block is 4 vectors). CNT gives per-byte popcounts. The
// common dot-product lengths run bgemm_taps below; the rest the generic blocked kernel of
// bgemm_blocked.h over the Cnt policy: eight CNTs summed stay <= 64 per byte, and UADALP folds them
// pairwise into 16-bit lanes (<= 128 per add8, so 31 add8 calls stay far below 65535) until
// flush() widens them into 64-bit lanes.
#define REP_DEPLOY_ISA_NS isa_neon
#include <arm_neon.h>

#include "bgemm_blocked.h"

namespace rep_deploy::core {
namespace isa_neon {
namespace {

struct Cnt {
  using Vec = uint64x2_t;
  static constexpr int kLanes = 2;
  static Vec load(const uint64_t* p) { return vld1q_u64(p); }
  static Vec bcast(const uint64_t* p) { return vld1q_dup_u64(p); }
  static Vec vxor(Vec a, Vec b) { return veorq_u64(a, b); }

  uint16x8_t acc16;
  uint64x2_t acc64;
  void zero() {
    acc16 = vdupq_n_u16(0);
    acc64 = vdupq_n_u64(0);
  }
  void add8(const Vec* in) {
    uint8x16_t s = vcntq_u8(vreinterpretq_u8_u64(in[0]));
    for (int i = 1; i < 8; ++i) s = vaddq_u8(s, vcntq_u8(vreinterpretq_u8_u64(in[i])));
    acc16 = vpadalq_u8(acc16, s);
  }
  void add4(const Vec* in) { add2(in), add2(in + 2); }
  void add2(const Vec* in) { add1(in[0]), add1(in[1]); }
  void add1(Vec a) { acc16 = vpadalq_u8(acc16, vcntq_u8(vreinterpretq_u8_u64(a))); }
  void flush() {
    acc64 = vpadalq_u32(acc64, vpaddlq_u16(acc16));
    acc16 = vdupq_n_u16(0);
  }
  void store(int32_t* dst) const {
    const uint64x2_t total = vpadalq_u32(acc64, vpaddlq_u16(acc16));
    dst[0] = static_cast<int32_t>(vgetq_lane_u64(total, 0));
    dst[1] = static_cast<int32_t>(vgetq_lane_u64(total, 1));
  }
};

// A whole weight block per pixel, for dot products of T taps x C words known at compile time. The
// generic kernels walk a block's four vectors one at a time, loading each activation word four
// times per pixel; here each word is broadcast once per pixel and XORed with all four vectors (half
// the loads, benchmarks/neon_instructions.py). A tap's C words are consecutive (BgemmTask::
// tap_words), so each pixel's pointer steps through them: LD1R with a post-increment, one
// instruction per word, where an offset table cost a load and four address adds per word; the
// block's four weight vectors come in one LD1 of four registers. T = K, C = 1 is the offset table
// itself (any koff). CNT bytes add up in 8-bit lanes (<= 8 per word, flushed every run of <= 31
// words) and UADALP folds them into 16-bit lanes (<= 16 per word and 64-bit lane: K < 4096 cannot
// overflow), widened once at the end. The vector ops left are the floor: EOR + CNT + ADD per 128
// bits.
template <int T, int C, int P>
void bgemm_taps(const BgemmTask& t) {
  static_assert(T * C < 4096, "16-bit counters would overflow");
  constexpr int kRun = C <= 31 ? C : C / 2;  // words between flushes at most (C = 32: two runs)
  static_assert(kRun <= 31 && C % kRun == 0, "a tap must split into runs of <= 31 words");
  int64_t tap_off[T];
  for (int i = 0; i < T; ++i) tap_off[i] = t.koff[i * C];
  for (int64_t b = 0; b < t.nocb; ++b) {
    int64_t p = 0;
    const auto run = [&](auto pixels) {
      constexpr int Q = decltype(pixels)::value;
      const uint64_t* x[Q];
      for (int q = 0; q < Q; ++q) x[q] = pixel_x(t, p + q);
      uint16x8_t acc[Q][4];
      uint8x16_t bytes[Q][4];
      for (int q = 0; q < Q; ++q)
        for (int v = 0; v < 4; ++v) acc[q][v] = vdupq_n_u16(0), bytes[q][v] = vdupq_n_u8(0);
      const auto flush = [&] {
        for (int q = 0; q < Q; ++q)
          for (int v = 0; v < 4; ++v) acc[q][v] = vpadalq_u8(acc[q][v], bytes[q][v]), bytes[q][v] = vdupq_n_u8(0);
      };
      const uint64_t* w = t.w + b * T * C * 8;
      // n words from each pixel's pointer xp[q] on, the weights from w on (all three advance)
      const auto words = [&](const uint64_t** xp, int n) {
        for (int c = 0; c < n; ++c) {
          const uint64x2x4_t wv = vld1q_u64_x4(w);
          w += 8;
          for (int q = 0; q < Q; ++q) {
            const uint64_t* a = xp[q];
            asm("" : "+r"(a));  // a plain register address: LD1R, not LDR + DUP of base + index
            const uint64x2_t xv = vld1q_dup_u64(a);
            xp[q] = a + 1;
            const uint64x2_t wq[4] = {wv.val[0], wv.val[1], wv.val[2], wv.val[3]};
            for (int v = 0; v < 4; ++v)
              bytes[q][v] = vaddq_u8(bytes[q][v], vcntq_u8(vreinterpretq_u8_u64(veorq_u64(xv, wq[v]))));
          }
        }
      };
      const uint64_t* xp[Q];
      if constexpr (C <= 31) {  // flushes between groups of whole taps, placed at compile time
        constexpr int kTapsPerFlush = 31 / C;
        for (int i0 = 0; i0 < T; i0 += kTapsPerFlush) {
          for (int i = i0; i < (T - i0 < kTapsPerFlush ? T : i0 + kTapsPerFlush); ++i) {
            for (int q = 0; q < Q; ++q) xp[q] = x[q] + tap_off[i];
            words(xp, C);
          }
          flush();
        }
      } else {  // taps of more than 31 words: a flush after each run of kRun
        for (int i = 0; i < T; ++i) {
          for (int q = 0; q < Q; ++q) xp[q] = x[q] + tap_off[i];
          for (int r = 0; r < C / kRun; ++r) words(xp, kRun), flush();
        }
      }
      for (int q = 0; q < Q; ++q) {  // 16-bit lanes -> one count per 64-bit lane -> 8 int32
        int32_t* dst = t.cnt + (p + q) * t.cnt_stride + b * 8;
        uint32x2_t c[4];
        for (int v = 0; v < 4; ++v) c[v] = vmovn_u64(vpaddlq_u32(vpaddlq_u16(acc[q][v])));
        vst1q_s32(dst, vreinterpretq_s32_u32(vcombine_u32(c[0], c[1])));
        vst1q_s32(dst + 4, vreinterpretq_s32_u32(vcombine_u32(c[2], c[3])));
      }
    };
    for (; p + P <= t.npix; p += P) run(std::integral_constant<int, P>());
    for (; p < t.npix; ++p) run(std::integral_constant<int, 1>());
  }
}

// K = T x C words: by taps when koff promises runs of C, else word by word through the table.
template <int T, int C>
void bgemm_tapped(const BgemmTask& t) {
  if (t.tap_words == C) return bgemm_taps<T, C, 2>(t);
  bgemm_taps<T * C, 1, 2>(t);
}

}  // namespace
}  // namespace isa_neon

// The dot-product lengths of the model zoo's convs (1x1 over 64..2048 channels, 3x3 over 64..2048)
// take bgemm_taps; others the generic blocked kernel.
void bgemm_neon(const BgemmTask& t) {
  using isa_neon::bgemm_tapped;
  switch (t.kwords) {
    case 1: return bgemm_tapped<1, 1>(t);
    case 2: return bgemm_tapped<1, 2>(t);
    case 4: return bgemm_tapped<1, 4>(t);
    case 8: return bgemm_tapped<1, 8>(t);
    case 16: return bgemm_tapped<1, 16>(t);
    case 32: return bgemm_tapped<1, 32>(t);
    case 9: return bgemm_tapped<9, 1>(t);
    case 18: return bgemm_tapped<9, 2>(t);
    case 36: return bgemm_tapped<9, 4>(t);
    case 72: return bgemm_tapped<9, 8>(t);
    case 144: return bgemm_tapped<9, 16>(t);
    case 288: return bgemm_tapped<9, 32>(t);
    default: break;
  }
  isa_neon::bgemm_run<isa_neon::Cnt, 2, 1>(t);
}

}  // namespace rep_deploy::core
