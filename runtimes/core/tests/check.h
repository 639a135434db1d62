// What the C++ grids share: the one assertion (count a failure, say where and what, keep going, so a
// grid reports every failing case, not just the first; main() returns failures() != 0), the command
// line, and the choice of kernel paths under test.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../kernels.h"

namespace rep_deploy_tests {
inline int g_failures = 0;
inline int failures() { return g_failures; }

// The grids' command line: --cases N | --cases-from-env (ctest: CASES=N), --seed S, --kernel NAME,
// --transpose NAME.
struct Args {
  int cases;
  uint64_t seed;
  const char* only = nullptr;  // one kernel path, or all
  // every path under test with this path's transpose_bits instead of its own: for an emulator whose
  // GF2P8AFFINEQB is wrong (Bochs 2.7; see runtimes/ort/emulate_avx512.sh), so that the rest of the
  // avx512vpopcnt path is still tested while transpose_bits_avx512_gfni is not
  const char* transpose = nullptr;
};
// Parses argv into `a` (defaults preset by the caller); false (after printing the usage) on junk.
inline bool parse_args(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--cases") && i + 1 < argc) a->cases = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) a->seed = std::strtoull(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--kernel") && i + 1 < argc) a->only = argv[++i];
    else if (!std::strcmp(argv[i], "--transpose") && i + 1 < argc) a->transpose = argv[++i];
    else if (!std::strcmp(argv[i], "--cases-from-env")) {
      if (const char* e = std::getenv("CASES")) a->cases = std::atoi(e);
    } else {
      std::fprintf(stderr, "usage: %s [--cases N | --cases-from-env] [--seed S] [--kernel NAME] "
                           "[--transpose NAME]\n", argv[0]);
      return false;
    }
  }
  return true;
}

// The optimized kernel paths to test (the reference is the oracle): all this build has, or `only`,
// each with path `transpose`'s transpose_bits where given (Args::transpose; exits with status 2
// when that is not an optimized path this CPU supports); prints what is skipped (not supported by this CPU) and what runs,
// so a log says which paths ran.
inline std::vector<rep_deploy::core::Kernel> kernels_under_test(const char* only,
                                                                const char* transpose = nullptr) {
  std::vector<rep_deploy::core::Kernel> kernels;
  rep_deploy::core::TransposeBitsFn swap = nullptr;
  for (const rep_deploy::core::KernelChoice& c : rep_deploy::core::all_kernels())
    if (transpose && c.supported && c.kernel.bgemm && !std::strcmp(transpose, c.kernel.name))
      swap = c.kernel.transpose_bits;
  if (transpose && !swap) {  // exit status 2, as for a malformed command line
    std::fprintf(stderr, "--transpose %s: not an optimized kernel path this CPU supports\n", transpose);
    std::exit(2);
  }
  for (const rep_deploy::core::KernelChoice& c : rep_deploy::core::all_kernels()) {
    if (!c.kernel.bgemm) continue;
    if (only && std::strcmp(only, c.kernel.name) != 0) continue;
    if (!c.supported) {
      std::printf("skip %s: not supported by this CPU\n", c.kernel.name);
      continue;
    }
    kernels.push_back(c.kernel);
    if (swap) kernels.back().transpose_bits = swap;
  }
  std::printf("kernels under test:");
  for (const rep_deploy::core::Kernel& k : kernels) std::printf(" %s", k.name);
  if (swap) std::printf(" (each with the transpose_bits of %s)", transpose);
  std::printf("\n");
  return kernels;
}
}  // namespace rep_deploy_tests

#define CHECK(cond, ...)                                        \
  do {                                                          \
    if (!(cond)) {                                              \
      ++rep_deploy_tests::g_failures;                           \
      std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      std::fprintf(stderr, __VA_ARGS__);                        \
      std::fprintf(stderr, "\n");                               \
    }                                                           \
  } while (0)
