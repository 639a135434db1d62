// AVX-512 kernel for CPUs with VPOPCNTDQ (Ice Lake and later, Zen 4): one VPOPCNTQ per XOR result,
// accumulated in 64-bit lanes. Same blocking and activation packer as bgemm_avx512.cc.
// Built with -mavx512f -mavx512bw -mavx512vl -mavx512vpopcntdq; selected at run time only when CPUID
// reports the extension (the test machine of this project lacks it, so this file is exercised only
// where it is available: REP_DEPLOY_KERNEL=avx512vpopcnt fails cleanly elsewhere).
#define REP_DEPLOY_ISA_NS isa_avx512_vpopcnt
#include <immintrin.h>

#include "bgemm_blocked.h"

namespace rep_deploy::core {
namespace isa_avx512_vpopcnt {
namespace {

struct Vpopcnt {
  using Vec = __m512i;
  static constexpr int kLanes = 8;
  static Vec load(const uint64_t* p) { return _mm512_loadu_si512(p); }
  static Vec bcast(const uint64_t* p) { return _mm512_set1_epi64(static_cast<long long>(*p)); }
  static Vec vxor(Vec a, Vec b) { return _mm512_xor_si512(a, b); }

  Vec sum;
  void zero() { sum = _mm512_setzero_si512(); }
  void add8(const Vec* in) {
    // two partial sums shorten the dependency chain through `sum`
    Vec s0 = _mm512_add_epi64(_mm512_popcnt_epi64(in[0]), _mm512_popcnt_epi64(in[1]));
    Vec s1 = _mm512_add_epi64(_mm512_popcnt_epi64(in[2]), _mm512_popcnt_epi64(in[3]));
    s0 = _mm512_add_epi64(s0, _mm512_add_epi64(_mm512_popcnt_epi64(in[4]), _mm512_popcnt_epi64(in[5])));
    s1 = _mm512_add_epi64(s1, _mm512_add_epi64(_mm512_popcnt_epi64(in[6]), _mm512_popcnt_epi64(in[7])));
    sum = _mm512_add_epi64(sum, _mm512_add_epi64(s0, s1));
  }
  void add4(const Vec* in) { add2(in), add2(in + 2); }
  void add2(const Vec* in) { add1(in[0]), add1(in[1]); }
  void add1(Vec a) { sum = _mm512_add_epi64(sum, _mm512_popcnt_epi64(a)); }
  void flush() {}
  void store(int32_t* dst) const {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm512_cvtepi64_epi32(sum));
  }
};

}  // namespace
}  // namespace isa_avx512_vpopcnt

void bgemm_avx512_vpopcnt(const BgemmTask& t) {
  isa_avx512_vpopcnt::bgemm_run<isa_avx512_vpopcnt::Vpopcnt, 4, 1>(t);
}

}  // namespace rep_deploy::core
