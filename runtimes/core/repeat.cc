#include "repeat.h"

#include <cstring>

namespace rep_deploy::core {

void repeat_channels(const void* x, void* y, int64_t outer, size_t block_bytes, int64_t repeats) {
  const auto* src = static_cast<const unsigned char*>(x);
  auto* dst = static_cast<unsigned char*>(y);
  for (int64_t n = 0; n < outer; ++n)
    for (int64_t r = 0; r < repeats; ++r)
      std::memcpy(dst + (size_t(n * repeats + r)) * block_bytes, src + size_t(n) * block_bytes,
                  block_bytes);
}

}  // namespace rep_deploy::core
