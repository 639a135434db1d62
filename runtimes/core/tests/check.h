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

// The grids' command line: --cases N | --cases-from-env (ctest: CASES=N), --seed S, --kernel NAME.
struct Args {
  int cases;
  uint64_t seed;
  const char* only = nullptr;  // one kernel path, or all
};
// Parses argv into `a` (defaults preset by the caller); false (after printing the usage) on junk.
inline bool parse_args(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--cases") && i + 1 < argc) a->cases = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) a->seed = std::strtoull(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--kernel") && i + 1 < argc) a->only = argv[++i];
    else if (!std::strcmp(argv[i], "--cases-from-env")) {
      if (const char* e = std::getenv("CASES")) a->cases = std::atoi(e);
    } else {
      std::fprintf(stderr, "usage: %s [--cases N | --cases-from-env] [--seed S] [--kernel NAME]\n", argv[0]);
      return false;
    }
  }
  return true;
}

// The optimized kernel paths to test (the reference is the oracle): all this build has, or `only`;
// prints what is skipped (not supported by this CPU) and what runs, so a log says which paths ran.
inline std::vector<rep_deploy::core::Kernel> kernels_under_test(const char* only) {
  std::vector<rep_deploy::core::Kernel> kernels;
  for (const rep_deploy::core::KernelChoice& c : rep_deploy::core::all_kernels()) {
    if (!c.kernel.bgemm) continue;
    if (only && std::strcmp(only, c.kernel.name) != 0) continue;
    if (!c.supported) {
      std::printf("skip %s: not supported by this CPU\n", c.kernel.name);
      continue;
    }
    kernels.push_back(c.kernel);
  }
  std::printf("kernels under test:");
  for (const rep_deploy::core::Kernel& k : kernels) std::printf(" %s", k.name);
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
