// NEON packing, tile finishing and tile epilogue for aarch64 (see kernel_api.h for the contracts).
// NEON is part of the aarch64 base ISA, so this file needs no extra flags; it keeps its helpers in
// its own namespace as the x86 files do.
#include <arm_neon.h>

#include <cstring>

#define REP_DEPLOY_ISA_NS isa_neon_tile
#include "write_tile_simd.h"

namespace rep_deploy::core {

namespace isa_neon_tile {
namespace {

// NEON has no MOVMSKPS: the 0 / all-ones compare lanes are narrowed to bytes, each byte keeps its
// bit weight (1, 2, 4, ... 128 in both 8-byte halves) and an across-lanes add of each half sums
// the distinct weights into a byte of the mask.
const uint8_t kByteWeights[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};

// Bit i = (v[i / 4][i % 4] >= t) for 4 vectors (FCMGE is false for NaN, as numpy's x >= t).
inline uint64_t ge16(const float32x4_t* v, float32x4_t t, uint8x16_t weights) {
  const uint16x8_t lo = vcombine_u16(vmovn_u32(vcgeq_f32(v[0], t)), vmovn_u32(vcgeq_f32(v[1], t)));
  const uint16x8_t hi = vcombine_u16(vmovn_u32(vcgeq_f32(v[2], t)), vmovn_u32(vcgeq_f32(v[3], t)));
  const uint8x16_t w = vandq_u8(vcombine_u8(vmovn_u16(lo), vmovn_u16(hi)), weights);
  return uint64_t(vaddv_u8(vget_low_u8(w))) | uint64_t(vaddv_u8(vget_high_u8(w))) << 8;
}

// The same for 16 floats in memory.
inline uint64_t ge16(const float* x, float32x4_t t, uint8x16_t weights) {
  const float32x4_t v[4] = {vld1q_f32(x), vld1q_f32(x + 4), vld1q_f32(x + 8), vld1q_f32(x + 12)};
  return ge16(v, t, weights);
}

inline uint64_t ge64(const float* x, float32x4_t t, uint8x16_t weights) {
  return ge16(x, t, weights) | ge16(x + 16, t, weights) << 16 | ge16(x + 32, t, weights) << 32 |
         ge16(x + 48, t, weights) << 48;
}

struct NeonFloats {
  using Vec = float32x4_t;
  static constexpr int kWidth = 4;
  static Vec set1(float v) { return vdupq_n_f32(v); }
  static Vec load(const float* p) { return vld1q_f32(p); }
  // SCVTF rounds to nearest (the default FPCR mode), as static_cast<float> does
  static Vec load_acc(const int32_t* p) { return vcvtq_f32_s32(vld1q_s32(p)); }
  // No masked loads: lane by lane (n < 4). The lane index must be a constant, hence the cases.
  static Vec load_part(const float* p, int64_t n) {
    Vec v = vdupq_n_f32(0.0f);
    v = vld1q_lane_f32(p, v, 0);
    if (n > 1) v = vld1q_lane_f32(p + 1, v, 1);
    if (n > 2) v = vld1q_lane_f32(p + 2, v, 2);
    return v;
  }
  static Vec load_acc_part(const int32_t* p, int64_t n) {
    int32x4_t v = vdupq_n_s32(0);
    v = vld1q_lane_s32(p, v, 0);
    if (n > 1) v = vld1q_lane_s32(p + 1, v, 1);
    if (n > 2) v = vld1q_lane_s32(p + 2, v, 2);
    return vcvtq_f32_s32(v);
  }
  static void store(float* p, Vec v) { vst1q_f32(p, v); }
  static void store_part(float* p, Vec v, int64_t n) {  // n < 4: lane by lane, as load_part
    vst1q_lane_f32(p, v, 0);
    if (n > 1) vst1q_lane_f32(p + 1, v, 1);
    if (n > 2) vst1q_lane_f32(p + 2, v, 2);
  }
  static Vec mul(Vec a, Vec b) { return vmulq_f32(a, b); }
  static Vec add(Vec a, Vec b) { return vaddq_f32(a, b); }
  static uint32_t ge_mask(Vec v, Vec t) {
    const uint32_t w[4] = {1, 2, 4, 8};
    return vaddvq_u32(vandq_u32(vcgeq_f32(v, t), vld1q_u32(w)));
  }
  // 16 bits from one narrowing and two ADDVs instead of 4 x (AND, ADDV, move, shift, OR)
  static constexpr int kGroup = 4;
  static constexpr bool kPooledRowsApart = false;
  static constexpr bool kPoolRows = false;  // write_tile_simd.h's kPool 4
  static constexpr bool kPoolHalves = false;  // write_tile_simd.h's pool_halves
  static uint64_t ge_mask_group(const Vec* v, Vec t) { return ge16(v, t, vld1q_u8(kByteWeights)); }
  static Vec rprelu(Vec u, Vec slope, Vec post) {
    const uint32x4_t ge = vcgeq_f32(u, vdupq_n_f32(0.0f));  // false for NaN: NaN * slope, as numpy
    return vaddq_f32(vbslq_f32(ge, u, vmulq_f32(u, slope)), post);
  }
  // A pooled output's window halves (TileOut::pool): FADDP adds adjacent lanes, UZP1 / UZP2 split
  // even and odd lanes; one rounding per step
  static void pool_top(float* o, Vec v) { vst1_f32(o, vpadd_f32(vget_low_f32(v), vget_high_f32(v))); }
  static void pool_bottom(float* o, Vec v) {
    const float32x2_t lo = vget_low_f32(v), hi = vget_high_f32(v);
    const float32x2_t r = vadd_f32(vadd_f32(vld1_f32(o), vuzp1_f32(lo, hi)), vuzp2_f32(lo, hi));
    vst1_f32(o, vmul_n_f32(r, 0.25f));
  }
  // two vectors: the same on whole q registers (FADDP and UZP take two sources)
  static void pool_top2(float* o, Vec v0, Vec v1) { vst1q_f32(o, vpaddq_f32(v0, v1)); }
  static void pool_bottom2(float* o, Vec v0, Vec v1) {
    const Vec r = vaddq_f32(vaddq_f32(vld1q_f32(o), vuzp1q_f32(v0, v1)), vuzp2q_f32(v0, v1));
    vst1q_f32(o, vmulq_n_f32(r, 0.25f));
  }
};

// One level of transpose64's block swaps (bitpack.cc) between the rows j apart that lie in vectors
// j / 2 apart (row r is lane r % 2 of vector r / 2), for j >= 2.
inline void swap_across(uint64x2_t* v, int j, uint64_t mask) {
  const uint64x2_t mk = vdupq_n_u64(mask);
  const int64x2_t right = vdupq_n_s64(-j), left = vdupq_n_s64(j);
  const int d = j / 2;
  for (int i = 0; i < 32; i = (i + d + 1) & ~d) {
    const uint64x2_t t = vandq_u64(veorq_u64(vshlq_u64(v[i], right), v[i + d]), mk);
    v[i + d] = veorq_u64(v[i + d], t);
    v[i] = veorq_u64(v[i], vshlq_u64(t, left));
  }
}

}  // namespace
}  // namespace isa_neon_tile

void sign_row_neon(const float* x, int64_t n, float threshold, uint64_t* bits) {
  using namespace isa_neon_tile;
  const float32x4_t t = vdupq_n_f32(threshold);
  const uint8x16_t weights = vld1q_u8(kByteWeights);
  int64_t i0 = 0;
  for (; i0 + 64 <= n; i0 += 64) bits[i0 / 64] = ge64(x + i0, t, weights);
  if (i0 < n) {  // the last partial word: through a buffer, so nothing past x + n is read
    const int64_t left = n - i0;
    float buf[64] = {0};
    std::memcpy(buf, x + i0, sizeof(float) * size_t(left));
    bits[i0 / 64] = ge64(buf, t, weights) & ((uint64_t(1) << left) - 1);
  }
}

// transpose64's six levels of block swaps on two rows per vector: the levels 32..2 pair whole
// vectors, the last (rows 1 apart) pairs the two lanes of one vector, its partner brought alongside
// by EXT. ~700 vector instructions for the portable path's ~4000 scalar ones (64 rows do not fit
// in the 31 general registers, so transpose64 keeps reloading them).
void transpose_bits_neon(const uint64_t* rows, int64_t row_stride, int nc, int np, uint64_t* out,
                         int64_t out_stride) {
  using namespace isa_neon_tile;
  uint64_t m[64];
  for (int c = 0; c < nc; ++c) m[c] = rows[c * row_stride];
  for (int c = nc; c < 64; ++c) m[c] = 0;
  uint64x2_t v[32];
  for (int i = 0; i < 32; ++i) v[i] = vld1q_u64(m + 2 * i);
  swap_across(v, 32, 0x00000000FFFFFFFFull);
  swap_across(v, 16, 0x0000FFFF0000FFFFull);
  swap_across(v, 8, 0x00FF00FF00FF00FFull);
  swap_across(v, 4, 0x0F0F0F0F0F0F0F0Full);
  swap_across(v, 2, 0x3333333333333333ull);
  // rows 1 apart: lane 0 computes the swap with lane 1's row, EXT hands lane 1 its half
  const uint64_t m1w[2] = {0x5555555555555555ull, 0};
  const uint64x2_t m1 = vld1q_u64(m1w);
  for (int i = 0; i < 32; ++i) {
    const uint64x2_t x = v[i];
    const uint64x2_t t = vandq_u64(veorq_u64(vshrq_n_u64(x, 1), vextq_u64(x, x, 1)), m1);
    vst1q_u64(m + 2 * i, veorq_u64(x, vorrq_u64(vshlq_n_u64(t, 1), vextq_u64(t, t, 1))));
  }
  for (int p = 0; p < np; ++p) out[p * out_stride] = m[p];
}

// 4x4 int32 blocks transposed in registers (TRN1/TRN2 of pixel pairs, then 64-bit halves
// recombined), with K - 2*x applied on the way out.
void finish_tile_neon(const int32_t* cnt, int64_t stride, int64_t npix, int64_t nl, int32_t K,
                      int32_t* out) {
  const int64_t p4 = npix & ~int64_t(3), l4 = nl & ~int64_t(3);
  const int32x4_t kv = vdupq_n_s32(K);
  for (int64_t l0 = 0; l0 < l4; l0 += 4) {
    for (int64_t p0 = 0; p0 < p4; p0 += 4) {
      // r_i: pixel p0 + i, lanes l0..l0+3
      const int32x4x2_t a = vtrnq_s32(vld1q_s32(cnt + p0 * stride + l0),
                                      vld1q_s32(cnt + (p0 + 1) * stride + l0));
      const int32x4x2_t b = vtrnq_s32(vld1q_s32(cnt + (p0 + 2) * stride + l0),
                                      vld1q_s32(cnt + (p0 + 3) * stride + l0));
      const int32x4_t c[4] = {vcombine_s32(vget_low_s32(a.val[0]), vget_low_s32(b.val[0])),
                              vcombine_s32(vget_low_s32(a.val[1]), vget_low_s32(b.val[1])),
                              vcombine_s32(vget_high_s32(a.val[0]), vget_high_s32(b.val[0])),
                              vcombine_s32(vget_high_s32(a.val[1]), vget_high_s32(b.val[1]))};
      for (int i = 0; i < 4; ++i)
        vst1q_s32(out + (l0 + i) * 64 + p0, vsubq_s32(kv, vaddq_s32(c[i], c[i])));
    }
    // the pixels past the last whole block, and below the lanes past it: the portable loop
    finish_tile_portable(cnt + p4 * stride + l0, stride, npix - p4, 4, K, out + l0 * 64 + p4);
  }
  finish_tile_portable(cnt + l4, stride, npix, nl - l4, K, out + l4 * 64);
}

void write_tile_neon(const TileOut& t) {
  isa_neon_tile::write_tile_simd<isa_neon_tile::NeonFloats>(t);
}

}  // namespace rep_deploy::core
