// How the core runs independent work items: the adapters hand it their framework's thread pool.
#pragma once

#include <cstddef>

namespace rep_deploy::core {

// Runs fn(usr, i) for every i in [0, total), possibly concurrently (ORT's intra-op thread pool in
// the adapters, a plain loop when `call` is null).
struct ParallelRunner {
  void (*call)(void* self, void (*fn)(void*, size_t), size_t total, void* usr) = nullptr;
  void* self = nullptr;
  void run(void (*fn)(void*, size_t), size_t total, void* usr) const {
    if (call) {
      call(self, fn, total, usr);
    } else {
      for (size_t i = 0; i < total; ++i) fn(usr, i);
    }
  }
};

}  // namespace rep_deploy::core
