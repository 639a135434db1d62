#include "core_distance.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

namespace rep_deploy::core {

namespace {

constexpr int kBatches = 9;

struct alignas(64) Line {
  std::atomic<int64_t> v{0};
};

#if defined(__linux__)
bool pin_to(int cpu) {
  if (cpu < 0 || cpu >= CPU_SETSIZE) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}
#endif

}  // namespace

std::string cache_line_round_trip_ns(int cpu_a, int cpu_b, int rounds, double* ns) {
#if !defined(__linux__)
  (void)cpu_a, (void)cpu_b, (void)rounds, (void)ns;
  return "cache_line_round_trip_ns needs Linux (thread pinning)";
#else
  if (cpu_a == cpu_b) return "cache_line_round_trip_ns needs two different CPUs";
  const int64_t per_batch = std::max(1, rounds / kBatches);
  Line ping;                  // A writes the odd values, B answers each with the next even one
  std::atomic<int> ready{0};  // threads pinned (a failed pin counts as -100)
  std::vector<double> batch_ns;
  const auto wait_ready = [&] {
    while (ready.load() >= 0 && ready.load() < 2) std::this_thread::yield();
    return ready.load() == 2;
  };
  // A times the batches; batch 0 warms up
  std::thread b([&] {
    ready.fetch_add(pin_to(cpu_b) ? 1 : -100);
    if (!wait_ready()) return;
    for (int64_t i = 0; i < (kBatches + 1) * per_batch; ++i) {
      while (ping.v.load(std::memory_order_acquire) != 2 * i + 1) {
      }
      ping.v.store(2 * i + 2, std::memory_order_release);
    }
  });
  bool a_pinned = false;
  std::thread a([&] {
    a_pinned = pin_to(cpu_a);
    ready.fetch_add(a_pinned ? 1 : -100);
    if (!wait_ready()) return;
    int64_t i = 0;
    for (int batch = 0; batch <= kBatches; ++batch) {
      const auto t0 = std::chrono::steady_clock::now();
      for (const int64_t end = i + per_batch; i < end; ++i) {
        ping.v.store(2 * i + 1, std::memory_order_release);
        while (ping.v.load(std::memory_order_acquire) != 2 * i + 2) {
        }
      }
      const std::chrono::duration<double, std::nano> dt = std::chrono::steady_clock::now() - t0;
      if (batch) batch_ns.push_back(dt.count() / double(per_batch));
    }
  });
  a.join();
  b.join();
  if (ready.load() != 2) {
    const int bad = a_pinned ? cpu_b : cpu_a;
    return "cannot pin a thread to CPU " + std::to_string(bad) +
           " (not one this process may run on: see os.sched_getaffinity / taskset)";
  }
  std::nth_element(batch_ns.begin(), batch_ns.begin() + kBatches / 2, batch_ns.end());
  *ns = batch_ns[kBatches / 2];
  return "";
#endif
}

}  // namespace rep_deploy::core
