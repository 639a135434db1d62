// AVX2 packing and tile epilogue (built with -mavx2; see kernel_api.h for the contracts).
#include <immintrin.h>

#define REP_DEPLOY_ISA_NS isa_avx2_tile
#include "write_tile_simd.h"

namespace rep_deploy::core {

// MOVMSKPS collects the sign tests of 8 floats; 8 of them make a 64-bit word. A row's last word
// (112-wide maps: 48 of 112 floats) runs the same compares, its last partial group through a
// masked load (VMASKMOVPS reads nothing past x + n), its bits past n cleared.
void sign_row_avx2(const float* x, int64_t n, float threshold, uint64_t* bits) {
  const __m256 t = _mm256_set1_ps(threshold);
  // _CMP_GE_OQ is false for NaN, as numpy's x >= t
  const auto ge8 = [&t](__m256 v) {
    return uint64_t(static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(v, t, _CMP_GE_OQ))));
  };
  int64_t i0 = 0;
  for (; i0 + 64 <= n; i0 += 64) {
    uint64_t w = 0;
    for (int j = 0; j < 8; ++j) w |= ge8(_mm256_loadu_ps(x + i0 + 8 * j)) << (8 * j);
    bits[i0 / 64] = w;
  }
  if (i0 < n) {
    uint64_t w = 0;
    int64_t i = i0;
    for (; i + 8 <= n; i += 8) w |= ge8(_mm256_loadu_ps(x + i)) << (i - i0);
    if (const int64_t left = n - i; left > 0) {
      const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
      const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(left)), lane);
      w |= (ge8(_mm256_maskload_ps(x + i, mask)) & ((uint64_t(1) << left) - 1)) << (i - i0);
    }
    bits[i0 / 64] = w;
  }
}

// transpose64's six levels of block swaps (bitpack.cc) on four rows per vector: row r is lane r % 4
// of vector r / 4, so the levels that swap rows 32, 16, 8 and 4 apart pair whole vectors, and the
// last two (rows 2 and 1 apart) pair lanes of one vector: a lane permute brings each lane's partner
// alongside, the A lanes (bit j of the row clear) compute the swap, and the same permute hands the
// B lanes their half. 448 vector ops for the portable path's ~1150 scalar ones.
void transpose_bits_avx2(const uint64_t* rows, int64_t row_stride, int nc, int np, uint64_t* out,
                         int64_t out_stride) {
  alignas(32) uint64_t m[64];
  for (int c = 0; c < nc; ++c) m[c] = rows[c * row_stride];
  for (int c = nc; c < 64; ++c) m[c] = 0;
  __m256i v[16];
  for (int i = 0; i < 16; ++i) v[i] = _mm256_load_si256(reinterpret_cast<const __m256i*>(m + 4 * i));
  const auto across = [&v](int j, uint64_t mask) {  // rows j >= 4 apart: vectors j / 4 apart
    const __m256i mk = _mm256_set1_epi64x(static_cast<long long>(mask));
    const __m128i sh = _mm_cvtsi32_si128(j);
    const int d = j / 4;
    for (int i = 0; i < 16; i = (i + d + 1) & ~d) {
      const __m256i t = _mm256_and_si256(_mm256_xor_si256(_mm256_srl_epi64(v[i], sh), v[i + d]), mk);
      v[i + d] = _mm256_xor_si256(v[i + d], t);
      v[i] = _mm256_xor_si256(v[i], _mm256_sll_epi64(t, sh));
    }
  };
  across(32, 0x00000000FFFFFFFFull);
  across(16, 0x0000FFFF0000FFFFull);
  across(8, 0x00FF00FF00FF00FFull);
  across(4, 0x0F0F0F0F0F0F0F0Full);
  // rows 2 apart: lanes (0, 2) and (1, 3), partners by swapping the 128-bit halves
  const __m256i m2 = _mm256_setr_epi64x(0x3333333333333333ll, 0x3333333333333333ll, 0, 0);
  // rows 1 apart: lanes (0, 1) and (2, 3), partners by swapping the 64-bit halves of each half
  const __m256i m1 = _mm256_setr_epi64x(0x5555555555555555ll, 0, 0x5555555555555555ll, 0);
  for (int i = 0; i < 16; ++i) {
    __m256i x = v[i];
    __m256i t = _mm256_and_si256(_mm256_xor_si256(_mm256_srli_epi64(x, 2), _mm256_permute4x64_epi64(x, 0x4E)), m2);
    x = _mm256_xor_si256(x, _mm256_or_si256(_mm256_slli_epi64(t, 2), _mm256_permute4x64_epi64(t, 0x4E)));
    t = _mm256_and_si256(_mm256_xor_si256(_mm256_srli_epi64(x, 1), _mm256_shuffle_epi32(x, 0x4E)), m1);
    x = _mm256_xor_si256(x, _mm256_or_si256(_mm256_slli_epi64(t, 1), _mm256_shuffle_epi32(t, 0x4E)));
    _mm256_store_si256(reinterpret_cast<__m256i*>(m + 4 * i), x);
  }
  for (int p = 0; p < np; ++p) out[p * out_stride] = m[p];
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
    // the pixels past the last whole block, and below the lanes past it: the portable loop
    finish_tile_portable(cnt + p8 * stride + l0, stride, npix - p8, 8, K, out + l0 * 64 + p8);
  }
  finish_tile_portable(cnt + l8, stride, npix, nl - l8, K, out + l8 * 64);
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
  static __m256i first(int64_t n) {  // lanes i < n set
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Vec load_part(const float* p, int64_t n) { return _mm256_maskload_ps(p, first(n)); }
  static Vec load_acc_part(const int32_t* p, int64_t n) {
    return _mm256_cvtepi32_ps(_mm256_maskload_epi32(reinterpret_cast<const int*>(p), first(n)));
  }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static void store_part(float* p, Vec v, int64_t n) {  // n < 8: 4, 2, 1 lanes as n's bits say
    __m128 h = _mm256_castps256_ps128(v);
    if (n & 4) _mm_storeu_ps(p, h), h = _mm256_extractf128_ps(v, 1), p += 4;
    if (n & 2) _mm_storel_pi(reinterpret_cast<__m64*>(p), h), h = _mm_movehl_ps(h, h), p += 2;
    if (n & 1) _mm_store_ss(p, h);
  }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static uint32_t ge_mask(Vec v, Vec t) {
    return static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(v, t, _CMP_GE_OQ)));
  }
  static constexpr int kGroup = 1;  // MOVMSKPS already makes a vector's mask in one instruction
  static constexpr bool kPooledRowsApart = false;
  static constexpr bool kPoolRows = false;  // write_tile_simd.h's kPool 4
  static uint64_t ge_mask_group(const Vec* v, Vec t) { return ge_mask(v[0], t); }
  static Vec rprelu(Vec u, Vec slope, Vec post) {
    const __m256 ge = _mm256_cmp_ps(u, _mm256_setzero_ps(), _CMP_GE_OQ);
    return _mm256_add_ps(_mm256_blendv_ps(_mm256_mul_ps(u, slope), u, ge), post);
  }
  // A pooled output's window halves (TileOut::pool): HADDPS adds adjacent lanes, one rounding each
  static void pool_top(float* o, Vec v) {
    _mm_storeu_ps(o, _mm_hadd_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
  }
  static void pool_bottom(float* o, Vec v) {
    const __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    const __m128 c = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));  // even lanes
    const __m128 d = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));  // odd lanes
    _mm_storeu_ps(o, _mm_mul_ps(_mm_add_ps(_mm_add_ps(_mm_loadu_ps(o), c), d), _mm_set1_ps(0.25f)));
  }
  // Two vectors: VHADDPS / VSHUFPS work per 128-bit half, leaving the 64-bit quarters in the
  // order (v0 lo, v1 lo, v0 hi, v1 hi); VPERMPD 0xD8 puts them back in pixel order.
  static Vec in_order(Vec v) {
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
  }
  // A vector straddling two rows of windows whose 128-bit halves are runs (Wo = 28: rows of 3.5
  // vectors; rep-reactnet-a's 28x28 pooled 1x1 layer): each half's 2 window halves, top or bottom,
  // as 64-bit stores. Pair by pair through the stack instead (write_tile_simd.h's put), that case
  // of `bench_core --epilogue` took 6.00-6.22 ns per 16 outputs, now 5.86-5.90 (Zen 3, session 22).
  static constexpr bool kPoolHalves = true;
  static void pool_halves(float* pool, const int32_t* pairs, Vec v) {
    const __m128 quarter = _mm_set1_ps(0.25f);
    const __m128 half[2] = {_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)};
    for (int h = 0; h < 2; ++h) {
      const int32_t p = pairs[2 * h];
      float* out = pool + (p & ~kPoolBottom);
      if (p & kPoolBottom) {
        const __m128 c = _mm_shuffle_ps(half[h], half[h], _MM_SHUFFLE(2, 0, 2, 0));  // even lanes
        const __m128 d = _mm_shuffle_ps(half[h], half[h], _MM_SHUFFLE(3, 1, 3, 1));  // odd lanes
        // MOVQ through an unaligned type (_mm_load_sd's double would assert 8-byte alignment)
        const __m128 o = _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(out)));
        _mm_storel_pi(reinterpret_cast<__m64*>(out),
                      _mm_mul_ps(_mm_add_ps(_mm_add_ps(o, c), d), quarter));
      } else {
        _mm_storel_pi(reinterpret_cast<__m64*>(out), _mm_hadd_ps(half[h], half[h]));
      }
    }
  }
  static void pool_top2(float* o, Vec v0, Vec v1) { _mm256_storeu_ps(o, in_order(_mm256_hadd_ps(v0, v1))); }
  static void pool_bottom2(float* o, Vec v0, Vec v1) {
    const __m256 c = in_order(_mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(2, 0, 2, 0)));
    const __m256 d = in_order(_mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(3, 1, 3, 1)));
    _mm256_storeu_ps(o, _mm256_mul_ps(_mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(o), c), d),
                                      _mm256_set1_ps(0.25f)));
  }
};
}  // namespace
}  // namespace isa_avx2_tile

void write_tile_avx2(const TileOut& t) {
  isa_avx2_tile::write_tile_simd<isa_avx2_tile::Avx2Floats>(t);
}

}  // namespace rep_deploy::core
