// AVX-512 (F + BW + VL) kernels, for CPUs without VPOPCNTDQ (Skylake-SP / Cascade Lake).
//
// Without a vector popcount instruction, XOR results are summed with the Harley-Seal carry-save tree
// of bgemm_blocked.h over the AVX-512 traits below: each CSA step is two VPTERNLOGQ (sum = a^b^c,
// carry = majority(a,b,c)), so 8 inputs cost 14 logic ops plus ONE nibble-lookup popcount (VPSHUFB)
// of the "eights" vector, instead of 8 popcounts.
// Built with -mavx512f -mavx512bw -mavx512vl (CMake per-file flags); selected at run time.
#define REP_DEPLOY_ISA_NS isa_avx512
#include <immintrin.h>

#include "bgemm_blocked.h"

namespace rep_deploy::core {
namespace isa_avx512 {
namespace {

struct Avx512 {
  using Vec = __m512i;
  static constexpr int kLanes = 8;
  static Vec load(const uint64_t* p) { return _mm512_loadu_si512(p); }
  static Vec bcast(const uint64_t* p) { return _mm512_set1_epi64(static_cast<long long>(*p)); }
  static Vec vxor(Vec a, Vec b) { return _mm512_xor_si512(a, b); }
  static Vec vand(Vec a, Vec b) { return _mm512_and_si512(a, b); }
  static Vec zero() { return _mm512_setzero_si512(); }
  static Vec add_u8(Vec a, Vec b) { return _mm512_add_epi8(a, b); }
  static Vec add_u64(Vec a, Vec b) { return _mm512_add_epi64(a, b); }
  static Vec shl3_u64(Vec a) { return _mm512_slli_epi64(a, 3); }
  static Vec popcount_bytes(Vec v) {
    const __m512i lut = _mm512_set_epi8(4, 3, 3, 2, 3, 2, 2, 1, 3, 2, 2, 1, 2, 1, 1, 0,
                                        4, 3, 3, 2, 3, 2, 2, 1, 3, 2, 2, 1, 2, 1, 1, 0,
                                        4, 3, 3, 2, 3, 2, 2, 1, 3, 2, 2, 1, 2, 1, 1, 0,
                                        4, 3, 3, 2, 3, 2, 2, 1, 3, 2, 2, 1, 2, 1, 1, 0);
    const __m512i low = _mm512_set1_epi8(0x0f);
    const __m512i lo = _mm512_and_si512(v, low);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
    return _mm512_add_epi8(_mm512_shuffle_epi8(lut, lo), _mm512_shuffle_epi8(lut, hi));
  }
  static Vec sum_bytes(Vec v) { return _mm512_sad_epu8(v, _mm512_setzero_si512()); }
  static void csa(Vec& carry, Vec& sum, Vec a, Vec b, Vec c) {
    const Vec s = _mm512_ternarylogic_epi64(a, b, c, 0x96);  // a ^ b ^ c
    carry = _mm512_ternarylogic_epi64(a, b, c, 0xE8);        // majority(a, b, c)
    sum = s;
  }
  static void store_counts(int32_t* dst, Vec total) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm512_cvtepi64_epi32(total));
  }
};

}  // namespace
}  // namespace isa_avx512

// 4 pixels x 1 weight block: 4 accumulators (16 state registers) plus 8 weight vectors fit the 32
// zmm registers; measured at least as fast as 2x2, 3x1 and 1x2 on the ReActNet-A shapes.
void bgemm_avx512(const BgemmTask& t) {
  using HarleySeal = isa_avx512::HarleySeal<isa_avx512::Avx512>;
  using isa_avx512::bgemm_fixed_k;
  if (isa_avx512::bgemm_small<isa_avx512::Direct<isa_avx512::Avx512>>(t)) return;  // K < 8 words
  // the dot-product lengths of 3x3 convs over <= 64, 128, 256, 512, 1024 channels and of 1x1 convs
  // over 512 and 1024, with the pixel blocking that measured best for each
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
  isa_avx512::bgemm_run<HarleySeal, 4, 1>(t);
}

}  // namespace rep_deploy::core
