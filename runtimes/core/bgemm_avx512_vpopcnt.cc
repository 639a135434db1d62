// AVX-512 kernel for CPUs with VPOPCNTDQ (Ice Lake and later, Zen 4): one VPOPCNTQ per XOR result,
// accumulated in 64-bit lanes. Same activation packer as bgemm_avx512.cc, and the same dispatch on
// the dot-product length: K < 8 words (1x1 convs over <= 448 channels) keep the block's weights in
// registers while the pixels stream past (bgemm_small_k), the ReActNet-A lengths run fully unrolled
// (bgemm_fixed_k), anything else the generic blocked loop.
// Built with -mavx512f -mavx512bw -mavx512vl -mavx512vpopcntdq; selected at run time only when CPUID
// reports the extension (REP_DEPLOY_KERNEL=avx512vpopcnt fails cleanly on CPUs without it; the
// ctest core_avx512vpopcnt / lce_avx512vpopcnt then report "skipped").
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

// Measured on an Intel Xeon with VPOPCNTDQ (issue 13, rep-reactnet-a at 1 thread): the generic
// 4x1 blocked loop spent ~3x the time of bgemm_small_k on the 1x1 convs over 64-256 channels, and
// bgemm_fixed_k with 4 pixels (one 64-bit accumulator register each) was the best of 2, 4, 6 and 8
// pixels on every length below; together -7% of the model's binary conv time at the core level
// (12.80 -> 11.93 ms), -5.9% / -13% end to end for rep-reactnet-a / reactnet-a (ab_latency.py).
void bgemm_avx512_vpopcnt(const BgemmTask& t) {
  using isa_avx512_vpopcnt::Vpopcnt;
  using isa_avx512_vpopcnt::bgemm_fixed_k;
  if (isa_avx512_vpopcnt::bgemm_small<Vpopcnt>(t)) return;  // K < 8 words
  // 3x3 convs over <= 64, 128, 256, 512, 1024 channels; 1x1 convs over 512, 1024, 2048
  switch (t.kwords) {
    case 8: return bgemm_fixed_k<Vpopcnt, 8, 4>(t);
    case 9: return bgemm_fixed_k<Vpopcnt, 9, 4>(t);
    case 16: return bgemm_fixed_k<Vpopcnt, 16, 4>(t);
    case 18: return bgemm_fixed_k<Vpopcnt, 18, 4>(t);
    case 32: return bgemm_fixed_k<Vpopcnt, 32, 4>(t);
    case 36: return bgemm_fixed_k<Vpopcnt, 36, 4>(t);
    case 72: return bgemm_fixed_k<Vpopcnt, 72, 4>(t);
    case 144: return bgemm_fixed_k<Vpopcnt, 144, 4>(t);
    default: break;
  }
  isa_avx512_vpopcnt::bgemm_run<Vpopcnt, 4, 1>(t);
}

}  // namespace rep_deploy::core
