// NEON kernel for aarch64 (compile time: NEON is part of the aarch64 base ISA). A 128-bit vector
// holds 2 output-channel lanes (a weight block is 4 vectors). CNT gives per-byte popcounts; eight
// of them summed stay <= 64 per byte, and UADALP folds them pairwise into 16-bit lanes (<= 128 per
// add8, so 31 add8 calls stay far below 65535) until flush() widens them into 64-bit lanes.
#define REP_DEPLOY_ISA_NS isa_neon
#include <arm_neon.h>

#include "bgemm_blocked.h"

namespace rep_deploy::core {
namespace isa_neon {
namespace {

struct Cnt {
  using Vec = uint64x2_t;
  static constexpr int kLanes = 2;
  static Vec load(const uint64_t* p) { return vld1q_u64(p); }
  static Vec bcast(const uint64_t* p) { return vld1q_dup_u64(p); }
  static Vec vxor(Vec a, Vec b) { return veorq_u64(a, b); }

  uint16x8_t acc16;
  uint64x2_t acc64;
  void zero() {
    acc16 = vdupq_n_u16(0);
    acc64 = vdupq_n_u64(0);
  }
  void add8(const Vec* in) {
    uint8x16_t s = vcntq_u8(vreinterpretq_u8_u64(in[0]));
    for (int i = 1; i < 8; ++i) s = vaddq_u8(s, vcntq_u8(vreinterpretq_u8_u64(in[i])));
    acc16 = vpadalq_u8(acc16, s);
  }
  void add4(const Vec* in) { add2(in), add2(in + 2); }
  void add2(const Vec* in) { add1(in[0]), add1(in[1]); }
  void add1(Vec a) { acc16 = vpadalq_u8(acc16, vcntq_u8(vreinterpretq_u8_u64(a))); }
  void flush() {
    acc64 = vpadalq_u32(acc64, vpaddlq_u16(acc16));
    acc16 = vdupq_n_u16(0);
  }
  void store(int32_t* dst) const {
    const uint64x2_t total = vpadalq_u32(acc64, vpaddlq_u16(acc16));
    dst[0] = static_cast<int32_t>(vgetq_lane_u64(total, 0));
    dst[1] = static_cast<int32_t>(vgetq_lane_u64(total, 1));
  }
};

}  // namespace
}  // namespace isa_neon

void bgemm_neon(const BgemmTask& t) { isa_neon::bgemm_run<isa_neon::Cnt, 2, 1>(t); }

}  // namespace rep_deploy::core
