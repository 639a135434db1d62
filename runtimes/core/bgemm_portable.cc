// Portable C++ kernel: the same blocked GEMM with one 64-bit "vector" per output channel and a
// scalar popcount. Used on CPUs without AVX2 and as the plain baseline the SIMD paths are tested
// against. Compiled with the project's baseline flags only.
#define REP_DEPLOY_ISA_NS isa_portable
#include "bgemm_blocked.h"

namespace rep_deploy::core {
namespace isa_portable {
namespace {

inline uint64_t popcount64(uint64_t v) {
#if defined(__POPCNT__) || defined(__aarch64__)
  return uint64_t(__builtin_popcountll(v));
#else
  // SWAR popcount: baseline x86-64 has no POPCNT, and the libgcc fallback is a table walk
  v = v - ((v >> 1) & 0x5555555555555555ull);
  v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
  v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return (v * 0x0101010101010101ull) >> 56;
#endif
}

struct Scalar {
  using Vec = uint64_t;
  static constexpr int kLanes = 1;
  static Vec load(const uint64_t* p) { return *p; }
  static Vec bcast(const uint64_t* p) { return *p; }
  static Vec vxor(Vec a, Vec b) { return a ^ b; }

  uint64_t sum;
  void zero() { sum = 0; }
  void add8(const Vec* in) {
    for (int i = 0; i < 8; ++i) sum += popcount64(in[i]);
  }
  void add4(const Vec* in) { add2(in), add2(in + 2); }
  void add2(const Vec* in) { add1(in[0]), add1(in[1]); }
  void add1(Vec a) { sum += popcount64(a); }
  void flush() {}
  void store(int32_t* dst) const { *dst = static_cast<int32_t>(sum); }
};

}  // namespace
}  // namespace isa_portable

void bgemm_portable(const BgemmTask& t) { isa_portable::bgemm_run<isa_portable::Scalar, 2, 1>(t); }

}  // namespace rep_deploy::core
