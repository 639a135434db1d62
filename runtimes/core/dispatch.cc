// Runtime choice of the kernel path (see kernels.h).
#include <cstdlib>
#include <cstring>

#include "kernels.h"

namespace rep_deploy::core {

namespace {

#if defined(__x86_64__) || defined(_M_X64)
// __builtin_cpu_supports also checks that the OS saves the AVX / AVX-512 register state (XCR0).
bool has_avx2() { return __builtin_cpu_supports("avx2"); }
bool has_avx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl");
}
// VBMI and GFNI too (transpose_bits_avx512_gfni): every CPU with VPOPCNTDQ since Ice Lake and
// Zen 4 has them (Knights Mill, which has not, runs the avx512 path)
bool has_avx512_vpopcnt() {
  return has_avx512() && __builtin_cpu_supports("avx512vpopcntdq") &&
         __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("gfni");
}
#endif

}  // namespace

std::vector<KernelChoice> all_kernels() {
  std::vector<KernelChoice> v;
#if defined(__x86_64__) || defined(_M_X64)
  v.push_back({{"avx512vpopcnt", bgemm_avx512_vpopcnt, sign_row_avx512, transpose_bits_avx512_gfni, finish_tile_avx2, write_tile_avx512}, has_avx512_vpopcnt()});
  v.push_back({{"avx512", bgemm_avx512, sign_row_avx512, transpose_bits_avx512, finish_tile_avx2, write_tile_avx512}, has_avx512()});
  v.push_back({{"avx2", bgemm_avx2, sign_row_avx2, transpose_bits_avx2, finish_tile_avx2, write_tile_avx2}, has_avx2()});
#endif
#if defined(__aarch64__)
  v.push_back({{"neon", bgemm_neon, sign_row_neon, transpose_bits_neon, finish_tile_neon, write_tile_neon}, true});
#endif
  v.push_back({{"portable", bgemm_portable, sign_row_portable, transpose_bits_portable, finish_tile_portable, write_tile_portable}, true});
  v.push_back({{"reference", nullptr, nullptr, nullptr, nullptr, nullptr}, true});
  return v;
}

std::string select_kernel(const char* forced, Kernel* out) {
  const std::vector<KernelChoice> all = all_kernels();
  if (forced == nullptr || forced[0] == '\0') {
    for (const KernelChoice& c : all) {
      if (c.supported) {
        *out = c.kernel;
        return "";
      }
    }
    return "no usable kernel";  // unreachable: portable is always supported
  }
  std::string names;
  for (const KernelChoice& c : all) {
    if (std::strcmp(c.kernel.name, forced) == 0) {
      if (!c.supported)
        return std::string("REP_DEPLOY_KERNEL=") + forced +
               ": this CPU does not support that instruction set";
      *out = c.kernel;
      return "";
    }
    if (c.supported) names += std::string(names.empty() ? "" : ", ") + c.kernel.name;
  }
  return std::string("REP_DEPLOY_KERNEL=") + forced + " is not a kernel path of this build; " +
         "choose one of: " + names;
}

std::string select_kernel_from_env(Kernel* out) {
  return select_kernel(std::getenv("REP_DEPLOY_KERNEL"), out);
}

}  // namespace rep_deploy::core
