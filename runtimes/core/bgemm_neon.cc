// NEON kernels for aarch64 (compile time: NEON is part of the aarch64 base ISA). A 128-bit vector
// holds 2 output-channel lanes (a weight block is 4 vectors). CNT gives per-byte popcounts. The
// common dot-product lengths run bgemm_block_rows below; the rest the generic blocked kernel of
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

// A whole weight block per pixel, for dot products of K words known at compile time. The generic
// kernels walk a block's four vectors one at a time, loading each activation word four times per
// pixel; here each word is broadcast once per pixel and XORed with all four vectors (half the
// loads, benchmarks/neon_instructions.py). Its address is kept in one register: given base +
// scaled index, GCC builds the broadcast as LDR + DUP, one more vector op per word, where LD1R is
// a load. CNT bytes add up in 8-bit lanes (<= 8 per word, flushed every 31 words) and UADALP folds
// them into 16-bit lanes (<= 16 per word and 64-bit lane: K < 4096 cannot overflow), widened once
// at the end. The vector ops left are the floor: EOR + CNT + ADD per 128 bits.
template <int K, int P>
void bgemm_block_rows(const BgemmTask& t) {
  static_assert(K < 4096, "16-bit counters would overflow");
  constexpr int kFlush = 31;
  int64_t off[K];
  for (int k = 0; k < K; ++k) off[k] = t.koff[k];
  for (int64_t b = 0; b < t.nocb; ++b) {
    const uint64_t* w = t.w + b * K * 8;
    int64_t p = 0;
    const auto run = [&](auto pixels) {
      constexpr int Q = decltype(pixels)::value;
      const uint64_t* x[Q];
      for (int q = 0; q < Q; ++q) x[q] = t.x + (p + q) * t.x_pix_stride;
      uint16x8_t acc[Q][4];
      uint8x16_t bytes[Q][4];
      for (int q = 0; q < Q; ++q)
        for (int v = 0; v < 4; ++v) acc[q][v] = vdupq_n_u16(0), bytes[q][v] = vdupq_n_u8(0);
      for (int k0 = 0; k0 < K; k0 += kFlush) {
        const int k1 = K - k0 < kFlush ? K : k0 + kFlush;
        for (int k = k0; k < k1; ++k) {
          uint64x2_t wv[4];
          for (int v = 0; v < 4; ++v) wv[v] = vld1q_u64(w + k * 8 + 2 * v);
          for (int q = 0; q < Q; ++q) {
            const uint64_t* xp = x[q] + off[k];
            asm("" : "+r"(xp));  // the address in one register: LD1R, not LDR + DUP
            const uint64x2_t xv = vld1q_dup_u64(xp);
            for (int v = 0; v < 4; ++v)
              bytes[q][v] = vaddq_u8(bytes[q][v], vcntq_u8(vreinterpretq_u8_u64(veorq_u64(xv, wv[v]))));
          }
        }
        for (int q = 0; q < Q; ++q)
          for (int v = 0; v < 4; ++v) acc[q][v] = vpadalq_u8(acc[q][v], bytes[q][v]), bytes[q][v] = vdupq_n_u8(0);
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

}  // namespace
}  // namespace isa_neon

// The dot-product lengths of the model zoo's convs (1x1 over 64..2048 channels, 3x3 over 64..2048)
// take bgemm_block_rows; others the generic blocked kernel.
void bgemm_neon(const BgemmTask& t) {
  using isa_neon::bgemm_block_rows;
  switch (t.kwords) {
    case 1: return bgemm_block_rows<1, 2>(t);
    case 2: return bgemm_block_rows<2, 2>(t);
    case 4: return bgemm_block_rows<4, 2>(t);
    case 8: return bgemm_block_rows<8, 2>(t);
    case 9: return bgemm_block_rows<9, 2>(t);
    case 16: return bgemm_block_rows<16, 2>(t);
    case 18: return bgemm_block_rows<18, 2>(t);
    case 32: return bgemm_block_rows<32, 2>(t);
    case 36: return bgemm_block_rows<36, 2>(t);
    case 72: return bgemm_block_rows<72, 2>(t);
    case 144: return bgemm_block_rows<144, 2>(t);
    case 288: return bgemm_block_rows<288, 2>(t);
    default: break;
  }
  isa_neon::bgemm_run<isa_neon::Cnt, 2, 1>(t);
}

}  // namespace rep_deploy::core
