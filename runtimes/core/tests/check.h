// The C++ tests' one assertion: count a failure, say where and what, keep going (a grid reports
// every failing case, not just the first). main() returns failures() != 0.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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
