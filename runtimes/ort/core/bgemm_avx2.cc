// AVX2 kernels. Each 256-bit vector holds 4 output-channel lanes (a weight block is 2 vectors).
// Popcounts use the same Harley-Seal carry-save tree as bgemm_avx512.cc; without VPTERNLOG a CSA is
// five logic ops (u = a^b, sum = u^c, carry = (a&b) | (u&c)), still cheaper than one nibble-lookup
// popcount (VPSHUFB) per input. Invariant per lane:
//     count = 8*E + 4*pop(fours) + 2*pop(twos) + pop(ones) + D.
// Built with -mavx2 (CMake per-file flags); selected at run time.
#define REP_DEPLOY_ISA_NS isa_avx2
#include <immintrin.h>

#include "bgemm_blocked.h"

namespace rep_deploy::core {
namespace isa_avx2 {
namespace {

inline __m256i popcount_bytes(__m256i v) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                       0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i lo = _mm256_and_si256(v, low);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
  return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

inline __m256i sum_bytes(__m256i v) { return _mm256_sad_epu8(v, _mm256_setzero_si256()); }

struct HarleySeal {
  using Vec = __m256i;
  static constexpr int kLanes = 4;
  static Vec load(const uint64_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static Vec bcast(const uint64_t* p) { return _mm256_set1_epi64x(static_cast<long long>(*p)); }
  static Vec vxor(Vec a, Vec b) { return _mm256_xor_si256(a, b); }

  Vec ones, twos, fours, eights, e64, direct;

  static void csa(Vec& carry, Vec& sum, Vec a, Vec b, Vec c) {
    const Vec u = _mm256_xor_si256(a, b);
    carry = _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(u, c));
    sum = _mm256_xor_si256(u, c);
  }
  void zero() { ones = twos = fours = eights = e64 = direct = _mm256_setzero_si256(); }
  void add8(const Vec* in) {
    Vec twos_a, twos_b, fours_a, fours_b, e;
    csa(twos_a, ones, ones, in[0], in[1]);
    csa(twos_b, ones, ones, in[2], in[3]);
    csa(fours_a, twos, twos, twos_a, twos_b);
    csa(twos_a, ones, ones, in[4], in[5]);
    csa(twos_b, ones, ones, in[6], in[7]);
    csa(fours_b, twos, twos, twos_a, twos_b);
    csa(e, fours, fours, fours_a, fours_b);
    eights = _mm256_add_epi8(eights, popcount_bytes(e));
  }
  // Half adder into the `fours` level: its carry has weight 8 and joins `eights`.
  void add_fours(Vec f) {
    eights = _mm256_add_epi8(eights, popcount_bytes(_mm256_and_si256(fours, f)));
    fours = _mm256_xor_si256(fours, f);
  }
  void add4(const Vec* in) {  // the first half of add8, then the fours half adder
    Vec twos_a, twos_b, fours_a;
    csa(twos_a, ones, ones, in[0], in[1]);
    csa(twos_b, ones, ones, in[2], in[3]);
    csa(fours_a, twos, twos, twos_a, twos_b);
    add_fours(fours_a);
  }
  void add2(const Vec* in) {  // one CSA, then half adders up the levels
    Vec twos_a;
    csa(twos_a, ones, ones, in[0], in[1]);
    const Vec fours_a = _mm256_and_si256(twos, twos_a);
    twos = _mm256_xor_si256(twos, twos_a);
    add_fours(fours_a);
  }
  void add1(Vec a) { direct = _mm256_add_epi64(direct, sum_bytes(popcount_bytes(a))); }
  void flush() {
    e64 = _mm256_add_epi64(e64, sum_bytes(eights));
    eights = _mm256_setzero_si256();
  }
  void store(int32_t* dst) const {
    Vec r = popcount_bytes(fours);  // 4*pop(fours) + 2*pop(twos) + pop(ones) <= 56 per byte
    r = _mm256_add_epi8(r, r);
    r = _mm256_add_epi8(r, popcount_bytes(twos));
    r = _mm256_add_epi8(r, r);
    r = _mm256_add_epi8(r, popcount_bytes(ones));
    const Vec e = _mm256_add_epi64(e64, sum_bytes(eights));
    const Vec total = _mm256_add_epi64(_mm256_add_epi64(sum_bytes(r), direct), _mm256_slli_epi64(e, 3));
    // counts fit in 31 bits: keep the low dword of each 64-bit lane
    const Vec packed = _mm256_permutevar8x32_epi32(total, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm256_castsi256_si128(packed));
  }
};


// For dot products shorter than 8 words (1x1 convs over <= 448 channels) the carry-save state
// would cost more to set up and reduce than it saves: popcount every word into byte counters
// (<= 7 * 8 per byte) and reduce once with VPSADBW.
struct Direct {
  using Vec = __m256i;
  static constexpr int kLanes = 4;
  static Vec load(const uint64_t* p) { return HarleySeal::load(p); }
  static Vec bcast(const uint64_t* p) { return HarleySeal::bcast(p); }
  static Vec vxor(Vec a, Vec b) { return HarleySeal::vxor(a, b); }

  Vec bytes, total;
  void zero() { bytes = total = _mm256_setzero_si256(); }
  void add1(Vec a) { bytes = _mm256_add_epi8(bytes, popcount_bytes(a)); }
  void add2(const Vec* in) { add1(in[0]), add1(in[1]); }
  void add4(const Vec* in) { add2(in), add2(in + 2); }
  void add8(const Vec* in) {  // only reached for K >= 8, where bgemm_* picks HarleySeal
    add4(in), add4(in + 4), flush();
  }
  void flush() {
    total = _mm256_add_epi64(total, sum_bytes(bytes));
    bytes = _mm256_setzero_si256();
  }
  void store(int32_t* dst) const {
    const Vec total = _mm256_add_epi64(this->total, sum_bytes(bytes));
    const Vec packed = _mm256_permutevar8x32_epi32(total, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm256_castsi256_si128(packed));
  }
};

}  // namespace
}  // namespace isa_avx2

void bgemm_avx2(const BgemmTask& t) {
  if (isa_avx2::bgemm_small<isa_avx2::Direct>(t)) return;  // K < 8 words
  using isa_avx2::bgemm_fixed_k;  // common lengths, as in bgemm_avx512.cc
  using isa_avx2::HarleySeal;
  switch (t.kwords) {
    case 8: return bgemm_fixed_k<HarleySeal, 8, 2>(t);
    case 9: return bgemm_fixed_k<HarleySeal, 9, 2>(t);
    case 16: return bgemm_fixed_k<HarleySeal, 16, 2>(t);
    case 18: return bgemm_fixed_k<HarleySeal, 18, 2>(t);
    case 36: return bgemm_fixed_k<HarleySeal, 36, 1>(t);
    case 72: return bgemm_fixed_k<HarleySeal, 72, 1>(t);
    case 144: return bgemm_fixed_k<HarleySeal, 144, 1>(t);
    default: break;
  }
  isa_avx2::bgemm_run<isa_avx2::HarleySeal, 2, 1>(t);
}

}  // namespace rep_deploy::core

