#include "thread_pool.h"

#include <sched.h>

#include <chrono>

namespace rep_deploy::core {
namespace {

// How long a worker polls for the next job before it sleeps: it bridges the two jobs of one conv
// (packing, then the GEMM tasks) and short gaps between convs, and an idle interpreter costs
// nothing. Not yet tuned on a phone, where XNNPACK's own threads spin between the float ops too.
constexpr std::chrono::microseconds kSpin{100};

inline void relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Moves the calling thread off CPU `cpu`: its affinity without that CPU (the kernel migrates it at
// once), then the affinity it had (it stays where it now is). False if it could not.
bool move_off(int cpu) {
  cpu_set_t had, without;
  if (sched_getaffinity(0, sizeof had, &had) != 0) return false;
  without = had;
  CPU_CLR(cpu, &without);
  if (CPU_COUNT(&without) == 0 || sched_setaffinity(0, sizeof without, &without) != 0) return false;
  sched_setaffinity(0, sizeof had, &had);
  return true;
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  for (int t = 1; t < threads; ++t) workers_.emplace_back([this] { work(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::drain(Job& job) {
  for (size_t i; (i = job.next.fetch_add(1, std::memory_order_relaxed)) < job.total;)
    job.fn(job.usr, i);
}

void ThreadPool::run(void (*fn)(void*, size_t), size_t total, void* usr) {
  std::unique_lock<std::mutex> one(run_mutex_, std::try_to_lock);
  if (!one.owns_lock() || workers_.empty() || total <= 1) {
    for (size_t i = 0; i < total; ++i) fn(usr, i);
    return;
  }
  Job job;
  job.fn = fn, job.usr = usr, job.total = total, job.caller_cpu = sched_getcpu();
  bool sleeping;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &job;
    generation_.fetch_add(1, std::memory_order_release);
    sleeping = sleepers_ > 0;
  }
  if (sleeping) wake_.notify_all();  // spinning workers see the generation without a system call
  drain(job);
  {  // no worker joins from here on; those inside finish their items and leave
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = nullptr;
  }
  // a worker on this CPU (it joined before the scheduler put it here) runs only if this thread yields
  for (int k = 0; job.active.load(std::memory_order_acquire) != 0; ++k) {
    if (k < 256)
      relax();
    else
      std::this_thread::yield();
  }
}

void ThreadPool::work() {
  uint64_t seen = generation_.load(std::memory_order_acquire);
  for (;;) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    while (generation_.load(std::memory_order_acquire) == seen &&
           std::chrono::steady_clock::now() < until)
      for (int k = 0; k < 32; ++k) relax();
    Job* job;
    int caller_cpu;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (generation_.load(std::memory_order_acquire) == seen && !stop_) {
        ++sleepers_;
        wake_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_acquire) != seen; });
        --sleepers_;
      }
      if (stop_) return;
      seen = generation_.load(std::memory_order_acquire);
      job = job_;
      caller_cpu = job ? job->caller_cpu : -1;
    }
    if (!job) continue;
    // On the caller's CPU, joining would only take turns with the caller (see thread_pool.h). The
    // move comes before joining: a migration can take a while, and the caller waits for joiners.
    if (caller_cpu >= 0 && sched_getcpu() == caller_cpu && !move_off(caller_cpu)) continue;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (job_ != job || generation_.load(std::memory_order_acquire) != seen) continue;  // over
      job->active.fetch_add(1, std::memory_order_relaxed);
    }
    drain(*job);
    job->active.fetch_sub(1, std::memory_order_release);
  }
}

}  // namespace rep_deploy::core
