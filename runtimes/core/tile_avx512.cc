// AVX-512 (F + BW + VL) packing and epilogue, see kernel_api.h for the contracts; one function,
// transpose_bits_avx512_gfni, also uses VBMI and GFNI (its own target attribute: the avx512vpopcnt
// path only, whose CPUs all have them).
#include <immintrin.h>

#define REP_DEPLOY_ISA_NS isa_avx512_tile
#include "write_tile_simd.h"

namespace rep_deploy::core {

// Four 16-lane compares per 64 floats; the tail is loaded with a mask (no read past x + n).
void sign_row_avx512(const float* x, int64_t n, float threshold, uint64_t* bits) {
  const __m512 t = _mm512_set1_ps(threshold);
  for (int64_t i0 = 0; i0 < n; i0 += 64) {
    uint64_t w = 0;
    for (int j = 0; j < 4; ++j) {
      const int64_t left = n - i0 - 16 * j;
      if (left <= 0) break;
      const __mmask16 lm = static_cast<__mmask16>(left >= 16 ? 0xFFFFu : (1u << left) - 1u);
      const __m512 v = _mm512_maskz_loadu_ps(lm, x + i0 + 16 * j);
      // _CMP_GE_OQ is false for NaN, as numpy's x >= t
      w |= uint64_t(_mm512_mask_cmp_ps_mask(lm, v, t, _CMP_GE_OQ)) << (16 * j);
    }
    bits[i0 / 64] = w;
  }
}

namespace {

// The second half of both transposes: a[o] byte p holds channels 8o..8o+7 of pixel p (LSB = the
// lowest channel). A 3-level byte/word/dword unpack gathers, for each pixel, its 8 octet bytes into
// one word (byte o = channels 8o..8o+7). The unpacks work within 128-bit lanes: lane L of result i
// holds pixels 16L + 2i and 16L + 2i + 1; the words go out pixel by pixel (out_stride apart).
inline void octets_to_words(const __m512i a[8], int np, uint64_t* out, int64_t out_stride) {
  const __m512i b0 = _mm512_unpacklo_epi8(a[0], a[1]), b1 = _mm512_unpackhi_epi8(a[0], a[1]);
  const __m512i b2 = _mm512_unpacklo_epi8(a[2], a[3]), b3 = _mm512_unpackhi_epi8(a[2], a[3]);
  const __m512i b4 = _mm512_unpacklo_epi8(a[4], a[5]), b5 = _mm512_unpackhi_epi8(a[4], a[5]);
  const __m512i b6 = _mm512_unpacklo_epi8(a[6], a[7]), b7 = _mm512_unpackhi_epi8(a[6], a[7]);
  const __m512i c0 = _mm512_unpacklo_epi16(b0, b2), c1 = _mm512_unpackhi_epi16(b0, b2);
  const __m512i c2 = _mm512_unpacklo_epi16(b1, b3), c3 = _mm512_unpackhi_epi16(b1, b3);
  const __m512i c4 = _mm512_unpacklo_epi16(b4, b6), c5 = _mm512_unpackhi_epi16(b4, b6);
  const __m512i c6 = _mm512_unpacklo_epi16(b5, b7), c7 = _mm512_unpackhi_epi16(b5, b7);
  alignas(64) uint64_t w[64];  // w[8*i + 2L + j] = word of pixel 16L + 2i + j
  __m512i* d = reinterpret_cast<__m512i*>(w);
  _mm512_store_si512(d + 0, _mm512_unpacklo_epi32(c0, c4));
  _mm512_store_si512(d + 1, _mm512_unpackhi_epi32(c0, c4));
  _mm512_store_si512(d + 2, _mm512_unpacklo_epi32(c1, c5));
  _mm512_store_si512(d + 3, _mm512_unpackhi_epi32(c1, c5));
  _mm512_store_si512(d + 4, _mm512_unpacklo_epi32(c2, c6));
  _mm512_store_si512(d + 5, _mm512_unpackhi_epi32(c2, c6));
  _mm512_store_si512(d + 6, _mm512_unpacklo_epi32(c3, c7));
  _mm512_store_si512(d + 7, _mm512_unpackhi_epi32(c3, c7));
  const auto put = [&](int p) __attribute__((always_inline)) {
    out[p * out_stride] = w[8 * ((p & 15) >> 1) + 2 * (p >> 4) + (p & 1)];
  };
  if (np == 64) {  // unrolled: constant offsets into w (the index arithmetic was half the loop)
#pragma GCC unroll 64
    for (int p = 0; p < 64; ++p) put(p);
  } else {
    for (int p = 0; p < np; ++p) put(p);
  }
}

}  // namespace

// Channel c's 64 pixel bits are a 64-bit mask: one masked byte add puts bit (c % 8) into byte p
// of the vector of channel octet c / 8; octets_to_words does the rest. Unrolled over constant
// octet and bit indices so that the eight vectors stay in registers (indexed by a loop counter,
// GCC kept them on the stack: every add a store-forwarded round trip, ~520 cycles a call, 5.5% of
// rep-reactnet-a's ORT time on a Xeon).
void transpose_bits_avx512(const uint64_t* rows, int64_t row_stride, int nc, int np, uint64_t* out,
                           int64_t out_stride) {
  __m512i a[8];
#pragma GCC unroll 8
  for (int o = 0; o < 8; ++o) {
    a[o] = _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      if (8 * o + i >= nc) break;
      const __mmask64 k = rows[(8 * o + i) * row_stride];
      a[o] = _mm512_mask_add_epi8(a[o], k, a[o], _mm512_set1_epi8(static_cast<char>(1 << i)));
    }
  }
  octets_to_words(a, np, out, out_stride);
}

// With VBMI and GFNI (Ice Lake and later, Zen 4): octet o's 8 rows are gathered into one vector
// (word i = row 8o + i), VPERMB regroups its bytes so that word B holds byte B of the 8 rows, last
// row first, and GF2P8AFFINEQB against the identity columns transposes each word as an 8x8 bit
// matrix: byte j, bit i = bit 8B + j of row 8o + i, i.e. byte p = the octet's bits of pixel p.
// Dst byte i, bit b of the affine = parity(matrix byte 7 - b AND x byte i); x byte i = 1 << i.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi,gfni")))
void transpose_bits_avx512_gfni(const uint64_t* rows, int64_t row_stride, int nc, int np,
                                uint64_t* out, int64_t out_stride) {
  alignas(64) static constexpr uint8_t kRegroup[64] = {  // byte 8B + m <- byte 8(7 - m) + B
      56, 48, 40, 32, 24, 16, 8, 0, 57, 49, 41, 33, 25, 17, 9,  1,  58, 50, 42, 34, 26, 18,
      10, 2,  59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36, 28, 20, 12, 4,  61, 53, 45, 37,
      29, 21, 13, 5,  62, 54, 46, 38, 30, 22, 14, 6, 63, 55, 47, 39, 31, 23, 15, 7};
  const __m512i regroup = _mm512_load_si512(kRegroup);
  const __m512i unit = _mm512_set1_epi64(static_cast<long long>(0x8040201008040201ull));
  const int64_t rs = row_stride;
  const __m512i index = _mm512_setr_epi64(0, rs, 2 * rs, 3 * rs, 4 * rs, 5 * rs, 6 * rs, 7 * rs);
  __m512i a[8];
#pragma GCC unroll 8
  for (int o = 0; o < 8; ++o) {
    const int left = nc - 8 * o;
    if (left <= 0) {
      a[o] = _mm512_setzero_si512();
      continue;
    }
    const __mmask8 m = static_cast<__mmask8>(left >= 8 ? 0xFF : (1u << left) - 1u);
    const uint64_t* r = rows + 8 * o * row_stride;
    const __m512i v = row_stride == 1 ? _mm512_maskz_loadu_epi64(m, r)
                                      : _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), m, index,
                                                                    r, 8);
    a[o] = _mm512_gf2p8affine_epi64_epi8(unit, _mm512_permutexvar_epi8(regroup, v), 0);
  }
  octets_to_words(a, np, out, out_stride);
}

}  // namespace rep_deploy::core

namespace rep_deploy::core {

namespace isa_avx512_tile {
namespace {
struct Avx512Floats {
  using Vec = __m512;
  static constexpr int kWidth = 16;
  static Vec set1(float v) { return _mm512_set1_ps(v); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static Vec load_acc(const int32_t* p) { return _mm512_cvtepi32_ps(_mm512_loadu_si512(p)); }
  static __mmask16 first(int64_t n) { return static_cast<__mmask16>((1u << n) - 1); }  // n < 16
  static Vec load_part(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static Vec load_acc_part(const int32_t* p, int64_t n) {
    return _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(first(n), p));
  }
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static void store_part(float* p, Vec v, int64_t n) { _mm512_mask_storeu_ps(p, first(n), v); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static uint32_t ge_mask(Vec v, Vec t) { return _mm512_cmp_ps_mask(v, t, _CMP_GE_OQ); }
  static constexpr int kGroup = 1;  // one compare makes a vector's mask
  static constexpr bool kPooledRowsApart = true;  // write_pooled_rows_apart
  static uint64_t ge_mask_group(const Vec* v, Vec t) { return ge_mask(v[0], t); }
  static Vec rprelu(Vec u, Vec slope, Vec post) {
    const __mmask16 ge = _mm512_cmp_ps_mask(u, _mm512_setzero_ps(), _CMP_GE_OQ);
    return _mm512_add_ps(_mm512_mask_blend_ps(ge, _mm512_mul_ps(u, slope), u), post);
  }
  // A pooled output's window halves (TileOut::pool): VPERMT2PS gathers the even and the odd lanes of
  // one or two vectors, then one add per window half, one rounding each, even lane first (as the
  // portable a + b). Through the stack pair by pair instead (no AVX-512 CPU was at hand to test a
  // vector form until session 13), rep-reactnet-a's pooled 1x1 layers ran at 22-31% of their bound.
  static Vec evens(Vec v0, Vec v1) {
    return _mm512_permutex2var_ps(
        v0, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), v1);
  }
  static Vec odds(Vec v0, Vec v1) {
    return _mm512_permutex2var_ps(
        v0, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), v1);
  }
  static void pool_top(float* o, Vec v) {
    _mm256_storeu_ps(o, _mm512_castps512_ps256(_mm512_add_ps(evens(v, v), odds(v, v))));
  }
  static void pool_bottom(float* o, Vec v) {
    const __m256 c = _mm512_castps512_ps256(evens(v, v)), d = _mm512_castps512_ps256(odds(v, v));
    _mm256_storeu_ps(o, _mm256_mul_ps(_mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(o), c), d),
                                      _mm256_set1_ps(0.25f)));
  }
  // A row of a tile whose vectors straddle rows of windows (Wo = 14 or 28: rep-reactnet-a's 14x14
  // and 28x28 pooled 1x1 layers), pooled from registers: the top sums s = a + b of all 32 pairs,
  // each bottom pair's top sum brought over from h = Wo / 2 <= 16 pairs before (a permute), and the
  // whole windows (top and bottom pair in the tile), the tops whose bottoms come in a later tile
  // and the bottoms whose tops came in an earlier one stored as runs of consecutive windows with
  // masked stores (PoolRowPlan, the same for every row of the tile). Each rounded as pool_pair.
  // Through the stack pair by pair instead (a test and a branch per pair), those layers ran at 21%
  // and 31% of their bound; with masked stores per vector, each window's top stored and loaded
  // back at once (store forwarding fails), slower still.
  static constexpr bool kPoolRows = true;
  struct PoolRowPlan {
    int n = 0, n0 = 0;          // runs, and those in the row's first half (they come first)
    int8_t kind[32];            // 0 a window's top pair only, 1 whole windows, 2 bottom only
    __mmask16 mask[32];         // the run's lanes (pairs) in the half
    int32_t base[32];           // the pooled offset of the half's lane 0 (may be negative)
    __m512i shift_lo, shift_hi;  // lane k: the pair h before (low half: in s0; high: s0 or s1)
  };
  static bool plan_pool_rows(const TileOut& t, PoolRowPlan* p) {
    const int h = static_cast<int>(t.pool_row_pairs);
    // all four vectors written (a 56-pixel tile: rows 28 and 14 wide, pixel_chunks' finer units)
    if (t.npix <= 48 || h < 1 || h > 16) return false;  // Wo = 56 (h = 28) this way: +2.4%
    const int np = static_cast<int>(t.npix / 2);  // pairs; the lanes past them are masked off
    const auto kind = [&](int k) {  // -1: a top pair whose bottom pair is in the tile
      if (!(t.pool_pairs[k] & kPoolBottom)) return k + h < np ? -1 : 0;
      return k >= h ? 1 : 2;
    };
    p->n = p->n0 = 0;
    for (int k = 0; k < np;) {
      if (k == 16) p->n0 = p->n;
      const int c = kind(k);
      const int32_t at = t.pool_pairs[k] & ~kPoolBottom;
      int k1 = k + 1;  // the run: same kind, same half, consecutive windows
      while (k1 < np && k1 % 16 && kind(k1) == c &&
             (t.pool_pairs[k1] & ~kPoolBottom) == at + (k1 - k))
        ++k1;
      if (c >= 0) {
        const int a = k % 16, b = a + (k1 - k);  // lanes [a, b)
        p->kind[p->n] = int8_t(c);
        p->mask[p->n] = static_cast<__mmask16>(((1u << b) - 1) & ~((1u << a) - 1));
        p->base[p->n++] = at - a;
      }
      k = k1;
    }
    alignas(64) int32_t lo[16], hi[16];
    for (int k = 0; k < 16; ++k) lo[k] = (k - h) & 15, hi[k] = 16 + k - h;  // lo: k >= h used
    p->shift_lo = _mm512_load_si512(lo), p->shift_hi = _mm512_load_si512(hi);
    return true;
  }
  // Each half's vectors by name, not indexed by a run's half: GCC kept an indexed array of them
  // on the stack, every run reloading two vectors just stored (store-forwarded: 15% of the 14x14
  // pooled layer's time).
  static void pool_rows(const Vec v[4], const PoolRowPlan& p, float* pool) {
    const Vec quarter = _mm512_set1_ps(0.25f);
    const Vec e0 = evens(v[0], v[1]), o0 = odds(v[0], v[1]);
    const Vec e1 = evens(v[2], v[3]), o1 = odds(v[2], v[3]);
    const Vec s0 = _mm512_add_ps(e0, o0), s1 = _mm512_add_ps(e1, o1);
    const auto runs = [&](int i0, int i1, Vec s, Vec e, Vec o, Vec top)
                          __attribute__((always_inline)) {
      const Vec whole = _mm512_mul_ps(_mm512_add_ps(_mm512_add_ps(top, e), o), quarter);
      for (int i = i0; i < i1; ++i) {
        // lane 0's address: may lie before pool (masked off), so as an integer
        float* out = reinterpret_cast<float*>(reinterpret_cast<uintptr_t>(pool) +
                                              uintptr_t(int64_t(p.base[i])) * sizeof(float));
        Vec r = s;
        if (p.kind[i] == 1) {
          r = whole;
        } else if (p.kind[i] == 2) {
          const Vec t = _mm512_maskz_loadu_ps(p.mask[i], out);
          r = _mm512_mul_ps(_mm512_add_ps(_mm512_add_ps(t, e), o), quarter);
        }
        _mm512_mask_storeu_ps(out, p.mask[i], r);
      }
    };
    runs(0, p.n0, s0, e0, o0, _mm512_permutexvar_ps(p.shift_lo, s0));
    runs(p.n0, p.n, s1, e1, o1, _mm512_permutex2var_ps(s0, p.shift_hi, s1));
  }
  // A vector straddling two rows of windows where each of its halves is a run (Wo = 56: rows of
  // 56 pixels, 3.5 vectors): the 4 window halves of each 8 pixels as one 128-bit step, top or
  // bottom, with plain (unmasked) stores, so that a bottom half loading its top half just stored
  // in the same row is forwarded. Through the stack pair by pair instead, rep-reactnet-a's 56x56
  // pooled 1x1 layer's epilogue took ~15% longer per output than AVX2's (`bench_core --epilogue`).
  static constexpr bool kPoolHalves = true;
  static void pool_halves(float* pool, const int32_t* pairs, Vec v) {
    const Vec e = evens(v, v), o = odds(v, v);
    const __m128 eh[2] = {_mm512_castps512_ps128(e), _mm512_extractf32x4_ps(e, 1)};
    const __m128 oh[2] = {_mm512_castps512_ps128(o), _mm512_extractf32x4_ps(o, 1)};
    for (int h = 0; h < 2; ++h) {
      const int32_t p = pairs[4 * h];
      float* out = pool + (p & ~kPoolBottom);
      if (p & kPoolBottom)
        _mm_storeu_ps(out, _mm_mul_ps(_mm_add_ps(_mm_add_ps(_mm_loadu_ps(out), eh[h]), oh[h]),
                                      _mm_set1_ps(0.25f)));
      else
        _mm_storeu_ps(out, _mm_add_ps(eh[h], oh[h]));
    }
  }
  static void pool_top2(float* o, Vec v0, Vec v1) {
    _mm512_storeu_ps(o, _mm512_add_ps(evens(v0, v1), odds(v0, v1)));
  }
  static void pool_bottom2(float* o, Vec v0, Vec v1) {
    const Vec s = _mm512_add_ps(_mm512_add_ps(_mm512_loadu_ps(o), evens(v0, v1)), odds(v0, v1));
    _mm512_storeu_ps(o, _mm512_mul_ps(s, _mm512_set1_ps(0.25f)));
  }
};
}  // namespace
}  // namespace isa_avx512_tile

void write_tile_avx512(const TileOut& t) {
  isa_avx512_tile::write_tile_simd<isa_avx512_tile::Avx512Floats>(t);
}

}  // namespace rep_deploy::core
