// AVX-512 (F + BW + VL) kernels, for CPUs without VPOPCNTDQ (Skylake-SP / Cascade Lake).
//
// Without a vector popcount instruction, XOR results are summed with a Harley-Seal carry-save tree:
// each CSA step is two VPTERNLOGQ (sum = a^b^c, carry = majority(a,b,c)), so 8 inputs cost 14
// logic ops plus ONE nibble-lookup popcount (VPSHUFB) of the "eights" vector, instead of 8 popcounts.
// Invariant per 64-bit lane:  count = 8*E + 4*pop(fours) + 2*pop(twos) + pop(ones) + D
// where E counts the bits of all "eights" vectors so far and D the tail inputs counted directly.
// Built with -mavx512f -mavx512bw -mavx512vl (CMake per-file flags); selected at run time.
#define REP_DEPLOY_ISA_NS isa_avx512
#include <immintrin.h>

#include "bgemm_blocked.h"

namespace rep_deploy::core {
namespace isa_avx512 {
namespace {

inline __m512i popcount_bytes(__m512i v) {
  const __m512i lut = _mm512_set_epi8(4, 3, 3, 2, 3, 2, 2, 1, 3, 2, 2, 1, 2, 1, 1, 0,
                                      4, 3, 3, 2, 3, 2, 2, 1, 3, 2, 2, 1, 2, 1, 1, 0,
                                      4, 3, 3, 2, 3, 2, 2, 1, 3, 2, 2, 1, 2, 1, 1, 0,
                                      4, 3, 3, 2, 3, 2, 2, 1, 3, 2, 2, 1, 2, 1, 1, 0);
  const __m512i low = _mm512_set1_epi8(0x0f);
  const __m512i lo = _mm512_and_si512(v, low);
  const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
  return _mm512_add_epi8(_mm512_shuffle_epi8(lut, lo), _mm512_shuffle_epi8(lut, hi));
}

inline __m512i sum_bytes(__m512i v) { return _mm512_sad_epu8(v, _mm512_setzero_si512()); }

struct HarleySeal {
  using Vec = __m512i;
  static constexpr int kLanes = 8;
  static Vec load(const uint64_t* p) { return _mm512_loadu_si512(p); }
  static Vec bcast(const uint64_t* p) { return _mm512_set1_epi64(static_cast<long long>(*p)); }
  static Vec vxor(Vec a, Vec b) { return _mm512_xor_si512(a, b); }

  Vec ones, twos, fours;
  Vec eights;  // per-byte popcounts of the "eights" vectors since the last flush (<= 31 * 8)
  Vec e64;     // E, per lane, flushed from `eights`
  Vec direct;  // D, per lane

  static void csa(Vec& carry, Vec& sum, Vec a, Vec b, Vec c) {
    const Vec s = _mm512_ternarylogic_epi64(a, b, c, 0x96);  // a ^ b ^ c
    carry = _mm512_ternarylogic_epi64(a, b, c, 0xE8);        // majority(a, b, c)
    sum = s;
  }
  void zero() { ones = twos = fours = eights = e64 = direct = _mm512_setzero_si512(); }
  void add8(const Vec* in) {
    Vec twos_a, twos_b, fours_a, fours_b, e;
    csa(twos_a, ones, ones, in[0], in[1]);
    csa(twos_b, ones, ones, in[2], in[3]);
    csa(fours_a, twos, twos, twos_a, twos_b);
    csa(twos_a, ones, ones, in[4], in[5]);
    csa(twos_b, ones, ones, in[6], in[7]);
    csa(fours_b, twos, twos, twos_a, twos_b);
    csa(e, fours, fours, fours_a, fours_b);
    eights = _mm512_add_epi8(eights, popcount_bytes(e));
  }
  // Half adder into the `fours` level: its carry has weight 8 and joins `eights`.
  void add_fours(Vec f) {
    eights = _mm512_add_epi8(eights, popcount_bytes(_mm512_and_si512(fours, f)));
    fours = _mm512_xor_si512(fours, f);
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
    const Vec fours_a = _mm512_and_si512(twos, twos_a);
    twos = _mm512_xor_si512(twos, twos_a);
    add_fours(fours_a);
  }
  void add1(Vec a) { direct = _mm512_add_epi64(direct, sum_bytes(popcount_bytes(a))); }
  void flush() {
    e64 = _mm512_add_epi64(e64, sum_bytes(eights));
    eights = _mm512_setzero_si512();
  }
  void store(int32_t* dst) const {
    // 4*pop(fours) + 2*pop(twos) + pop(ones) per byte <= 56: no byte overflow
    Vec r = popcount_bytes(fours);
    r = _mm512_add_epi8(r, r);
    r = _mm512_add_epi8(r, popcount_bytes(twos));
    r = _mm512_add_epi8(r, r);
    r = _mm512_add_epi8(r, popcount_bytes(ones));
    const Vec e = _mm512_add_epi64(e64, sum_bytes(eights));
    const Vec total = _mm512_add_epi64(_mm512_add_epi64(sum_bytes(r), direct), _mm512_slli_epi64(e, 3));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm512_cvtepi64_epi32(total));
  }
};


// For dot products shorter than 8 words (1x1 convs over <= 448 channels) the carry-save state
// would cost more to set up and reduce than it saves: popcount every word into byte counters
// (<= 7 * 8 per byte) and reduce once with VPSADBW.
struct Direct {
  using Vec = __m512i;
  static constexpr int kLanes = 8;
  static Vec load(const uint64_t* p) { return HarleySeal::load(p); }
  static Vec bcast(const uint64_t* p) { return HarleySeal::bcast(p); }
  static Vec vxor(Vec a, Vec b) { return HarleySeal::vxor(a, b); }

  Vec bytes, total;
  void zero() { bytes = total = _mm512_setzero_si512(); }
  void add1(Vec a) { bytes = _mm512_add_epi8(bytes, popcount_bytes(a)); }
  void add2(const Vec* in) { add1(in[0]), add1(in[1]); }
  void add4(const Vec* in) { add2(in), add2(in + 2); }
  void add8(const Vec* in) {  // only reached for K >= 8, where bgemm_* picks HarleySeal
    add4(in), add4(in + 4), flush();
  }
  void flush() {
    total = _mm512_add_epi64(total, sum_bytes(bytes));
    bytes = _mm512_setzero_si512();
  }
  void store(int32_t* dst) const {
    const Vec total = _mm512_add_epi64(this->total, sum_bytes(bytes));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm512_cvtepi64_epi32(total));
  }
};

}  // namespace
}  // namespace isa_avx512

// 4 pixels x 1 weight block: 4 accumulators (16 state registers) plus 8 weight vectors fit the 32
// zmm registers; measured at least as fast as 2x2, 3x1 and 1x2 on the ReActNet-A shapes.
void bgemm_avx512(const BgemmTask& t) {
  if (isa_avx512::bgemm_small<isa_avx512::Direct>(t)) return;  // K < 8 words
  // the dot-product lengths of 3x3 convs over <= 64, 128, 256, 512, 1024 channels and of 1x1 convs
  // over 512 and 1024, with the pixel blocking that measured best for each
  using isa_avx512::bgemm_fixed_k;
  using isa_avx512::HarleySeal;
  switch (t.kwords) {
    case 8: return bgemm_fixed_k<HarleySeal, 8, 4>(t);
    case 9: return bgemm_fixed_k<HarleySeal, 9, 4>(t);
    case 16: return bgemm_fixed_k<HarleySeal, 16, 2>(t);
    case 18: return bgemm_fixed_k<HarleySeal, 18, 2>(t);
    case 36: return bgemm_fixed_k<HarleySeal, 36, 1>(t);
    case 72: return bgemm_fixed_k<HarleySeal, 72, 2>(t);
    case 144: return bgemm_fixed_k<HarleySeal, 144, 2>(t);
    default: break;
  }
  isa_avx512::bgemm_run<isa_avx512::HarleySeal, 4, 1>(t);
}

}  // namespace rep_deploy::core
