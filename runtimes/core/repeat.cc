#include "repeat.h"

#include <algorithm>
#include <cstring>

namespace rep_deploy::core {

namespace {

constexpr size_t kPieceBytes = size_t(256) << 10;

struct RepeatJob {
  const unsigned char* x;
  unsigned char* y;
  size_t block_bytes, pieces;  // pieces per copy
  int64_t repeats;
};

void copy_piece(void* usr, size_t i) {  // piece i % pieces of copy i / pieces
  const RepeatJob& J = *static_cast<const RepeatJob*>(usr);
  const size_t copy = i / J.pieces, off = i % J.pieces * kPieceBytes;
  const size_t n = copy / size_t(J.repeats);
  std::memcpy(J.y + copy * J.block_bytes + off, J.x + n * J.block_bytes + off,
              std::min(kPieceBytes, J.block_bytes - off));
}

}  // namespace

void repeat_channels(const void* x, void* y, int64_t outer, size_t block_bytes, int64_t repeats,
                     const ParallelRunner& par) {
  if (outer <= 0 || repeats <= 0 || block_bytes == 0) return;
  RepeatJob job{static_cast<const unsigned char*>(x), static_cast<unsigned char*>(y), block_bytes,
                (block_bytes + kPieceBytes - 1) / kPieceBytes, repeats};
  par.run(copy_piece, size_t(outer * repeats) * job.pieces, &job);
}

}  // namespace rep_deploy::core
