// AVX2 packing and tile epilogue (built with -mavx2; see kernel_api.h for the contracts).
#include <immintrin.h>

#define REP_DEPLOY_ISA_NS isa_avx2_tile
#include "write_tile_simd.h"

namespace rep_deploy::core {

// MOVMSKPS collects the sign tests of 8 floats; 8 of them make a 64-bit word.
void sign_row_avx2(const float* x, int64_t n, float threshold, uint64_t* bits) {
  const __m256 t = _mm256_set1_ps(threshold);
  int64_t i0 = 0;
  for (; i0 + 64 <= n; i0 += 64) {
    uint64_t w = 0;
    for (int j = 0; j < 8; ++j) {
      // _CMP_GE_OQ is false for NaN, as numpy's x >= t
      const __m256 ge = _mm256_cmp_ps(_mm256_loadu_ps(x + i0 + 8 * j), t, _CMP_GE_OQ);
      w |= uint64_t(static_cast<unsigned>(_mm256_movemask_ps(ge))) << (8 * j);
    }
    bits[i0 / 64] = w;
  }
  if (i0 < n) {
    uint64_t w = 0;
    for (int64_t i = i0; i < n; ++i) w |= uint64_t(x[i] >= threshold) << (i - i0);
    bits[i0 / 64] = w;
  }
}

// 8x8 int32 blocks transposed in registers (unpack 32 / unpack 64 / swap 128-bit halves), with
// K - 2*x applied on the way out.
void finish_tile_avx2(const int32_t* cnt, int64_t stride, int64_t npix, int64_t nl, int32_t K,
                      int32_t* out) {
  const int64_t p8 = npix & ~int64_t(7), l8 = nl & ~int64_t(7);
  const __m256i kv = _mm256_set1_epi32(K);
  for (int64_t l0 = 0; l0 < l8; l0 += 8) {
    for (int64_t p0 = 0; p0 < p8; p0 += 8) {
      __m256i r[8];
      for (int i = 0; i < 8; ++i)
        r[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(cnt + (p0 + i) * stride + l0));
      const __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
      const __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
      const __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
      const __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
      const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
      const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
      const __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
      const __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
      // u0 holds lane 0 of pixels 0-3 (low half) and lane 4 of pixels 0-3 (high half), etc.
      const __m256i o[8] = {
          _mm256_permute2x128_si256(u0, u4, 0x20), _mm256_permute2x128_si256(u1, u5, 0x20),
          _mm256_permute2x128_si256(u2, u6, 0x20), _mm256_permute2x128_si256(u3, u7, 0x20),
          _mm256_permute2x128_si256(u0, u4, 0x31), _mm256_permute2x128_si256(u1, u5, 0x31),
          _mm256_permute2x128_si256(u2, u6, 0x31), _mm256_permute2x128_si256(u3, u7, 0x31)};
      for (int i = 0; i < 8; ++i)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + (l0 + i) * 64 + p0),
                            _mm256_sub_epi32(kv, _mm256_add_epi32(o[i], o[i])));
    }
    for (int64_t l = l0; l < l0 + 8; ++l)
      for (int64_t p = p8; p < npix; ++p) out[l * 64 + p] = K - 2 * cnt[p * stride + l];
  }
  for (int64_t l = l8; l < nl; ++l)
    for (int64_t p = 0; p < npix; ++p) out[l * 64 + p] = K - 2 * cnt[p * stride + l];
}

}  // namespace rep_deploy::core

namespace rep_deploy::core {

namespace isa_avx2_tile {
namespace {
struct Avx2Floats {
  using Vec = __m256;
  static constexpr int kWidth = 8;
  static Vec set1(float v) { return _mm256_set1_ps(v); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static Vec load_acc(const int32_t* p) {
    return _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static uint32_t ge_mask(Vec v, Vec t) {
    return static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(v, t, _CMP_GE_OQ)));
  }
  static Vec rprelu(Vec u, Vec slope, Vec post) {
    const __m256 ge = _mm256_cmp_ps(u, _mm256_setzero_ps(), _CMP_GE_OQ);
    return _mm256_add_ps(_mm256_blendv_ps(_mm256_mul_ps(u, slope), u, ge), post);
  }
};
}  // namespace
}  // namespace isa_avx2_tile

void write_tile_avx2(const TileOut& t) {
  isa_avx2_tile::write_tile_simd<isa_avx2_tile::Avx2Floats>(t);
}

}  // namespace rep_deploy::core
