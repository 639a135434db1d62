// Repeat (tile along axis 1): Y[:, j] = X[:, j mod C], PyTorch's x.repeat(1, r, 1, ...).
#pragma once

#include <cstddef>
#include <cstdint>

#include "parallel.h"

namespace rep_deploy::core {

// x holds `outer` blocks of `block_bytes` (one image: C * prod(spatial) elements); y holds, per
// block, `repeats` copies of it back to back. The copies run as pieces of at most 256 KiB on par
// (a plain loop by default): a copy is bound by one core's store rate, so threads add bandwidth.
void repeat_channels(const void* x, void* y, int64_t outer, size_t block_bytes, int64_t repeats,
                     const ParallelRunner& par = ParallelRunner());

}  // namespace rep_deploy::core
