// AVX2 kernels. Each 256-bit vector holds 4 output-channel lanes (a weight block is 2 vectors).
// Popcounts use the Harley-Seal policies of bgemm_blocked.h over the AVX2 traits below; without
// VPTERNLOG a CSA is five logic ops (u = a^b, sum = u^c, carry = (a&b) | (u&c)), still cheaper than
// one nibble-lookup popcount (VPSHUFB) per input.
// Built with -mavx2 (CMake per-file flags); selected at run time.
#define REP_DEPLOY_ISA_NS isa_avx2
#include <immintrin.h>

#include "bgemm_blocked.h"

namespace rep_deploy::core {
namespace isa_avx2 {
namespace {

struct Avx2 {
  using Vec = __m256i;
  static constexpr int kLanes = 4;
  static Vec load(const uint64_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static Vec bcast(const uint64_t* p) { return _mm256_set1_epi64x(static_cast<long long>(*p)); }
  static Vec vxor(Vec a, Vec b) { return _mm256_xor_si256(a, b); }
  static Vec vand(Vec a, Vec b) { return _mm256_and_si256(a, b); }
  static Vec zero() { return _mm256_setzero_si256(); }
  static Vec add_u8(Vec a, Vec b) { return _mm256_add_epi8(a, b); }
  static Vec add_u64(Vec a, Vec b) { return _mm256_add_epi64(a, b); }
  static Vec shl3_u64(Vec a) { return _mm256_slli_epi64(a, 3); }
  static Vec popcount_bytes(Vec v) {
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    const __m256i lo = _mm256_and_si256(v, low);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
  }
  static Vec sum_bytes(Vec v) { return _mm256_sad_epu8(v, _mm256_setzero_si256()); }
  static void csa(Vec& carry, Vec& sum, Vec a, Vec b, Vec c) {  // no VPTERNLOG: five logic ops
    const Vec u = _mm256_xor_si256(a, b);
    carry = _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(u, c));
    sum = _mm256_xor_si256(u, c);
  }
  static void store_counts(int32_t* dst, Vec total) {
    // counts fit in 31 bits: keep the low dword of each 64-bit lane
    const Vec packed = _mm256_permutevar8x32_epi32(total, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm256_castsi256_si128(packed));
  }
};
}  // namespace
}  // namespace isa_avx2

void bgemm_avx2(const BgemmTask& t) {
  using HarleySeal = isa_avx2::HarleySeal<isa_avx2::Avx2>;
  using isa_avx2::bgemm_fixed_k;  // common lengths, as in bgemm_avx512.cc
  if (isa_avx2::bgemm_small<isa_avx2::Direct<isa_avx2::Avx2>>(t)) return;  // K < 8 words
  // Two pixels at a time, sharing each weight load, but at 16 words: on Zen 3 (`bench_core --peak
  // --kernel avx2 --words K`, max of 3-4 alternating runs, session 20) one pixel ran 16 words 10%
  // faster (3.31e11 vs 3.01e11 MAC/s), two pixels 32 words 9% (3.69e11 vs 3.39e11), 36 / 72 / 144 /
  // 288 words 6% / 7% / 4% / 4% (the 7x7 3x3 layer 1.255 -> 1.213 ms, `bench_model --layer 24`)
  switch (t.kwords) {
    case 8: return bgemm_fixed_k<HarleySeal, 8, 2>(t);
    // 9 words (a 3x3 over 64 channels: rep-reactnet-a's 112x112 layer) popcounted word by word:
    // Harley-Seal's 7 CSAs for 8 words, its eights' popcount and its reduction, plus a 9th word
    // popcounted on its own, cost more than 9 popcounts (`bench_core --peak --kernel avx2 --words 9`,
    // 8 alternating runs, session 22: 2.79e11 -> 2.95e11 MAC/s; `bench_model --layer 0` 0.855 ->
    // 0.830 ms by medians). At 8, 16 and 18 words Direct measured +1%, -10%, -3%.
    case 9: return bgemm_fixed_k<isa_avx2::Direct<isa_avx2::Avx2>, 9, 2>(t);
    case 16: return bgemm_fixed_k<HarleySeal, 16, 1>(t);
    case 18: return bgemm_fixed_k<HarleySeal, 18, 2>(t);
    case 32: return bgemm_fixed_k<HarleySeal, 32, 2>(t);
    case 36: return bgemm_fixed_k<HarleySeal, 36, 2>(t);
    case 72: return bgemm_fixed_k<HarleySeal, 72, 2>(t);
    case 144: return bgemm_fixed_k<HarleySeal, 144, 2>(t);
    case 288: return bgemm_fixed_k<HarleySeal, 288, 2>(t);  // rep-reactnet-a's 7x7 3x3
    default: break;
  }
  isa_avx2::bgemm_run<HarleySeal, 2, 1>(t);
}

}  // namespace rep_deploy::core
