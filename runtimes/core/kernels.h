// The binary GEMM kernel interface and the runtime choice between its implementations.
//
// One "path" is a set of kernels for one instruction set: the blocked XOR-popcount GEMM, the
// activation packers and the tile epilogue. x86 picks at run time from CPUID (AVX-512, AVX2, portable); aarch64 uses
// NEON (compile time). REP_DEPLOY_KERNEL=reference|portable|avx2|avx512|avx512vpopcnt|neon forces one
// path; asking for one this CPU cannot run is an error, never a silent fallback. "reference" is not
// a GEMM at all but the direct convolution of reference.h, kept as the oracle.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bitpack.h"
#include "kernel_api.h"

namespace rep_deploy::core {

struct Kernel {
  const char* name;       // as accepted by REP_DEPLOY_KERNEL
  BgemmFn bgemm;          // nullptr for "reference"
  SignRowFn sign_row;     // nullptr for "reference"
  TransposeBitsFn transpose_bits;  // nullptr for "reference"
  FinishTileFn finish_tile;  // nullptr for "reference"
  WriteTileFn write_tile;    // nullptr for "reference"
};

// Every path compiled into this build, in order of preference (reference last), with whether this
// CPU can run it.
struct KernelChoice {
  Kernel kernel;
  bool supported;
};
std::vector<KernelChoice> all_kernels();

// The path named by `forced` (REP_DEPLOY_KERNEL's value; nullptr or "" means the best this CPU
// supports). Returns "" and sets *out, or an error naming the valid choices.
std::string select_kernel(const char* forced, Kernel* out);

// select_kernel(getenv("REP_DEPLOY_KERNEL")): read when each ORT kernel is created, so a process
// can create sessions on different paths by changing the variable between session creations.
std::string select_kernel_from_env(Kernel* out);

}  // namespace rep_deploy::core
