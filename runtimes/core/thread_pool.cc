#include "thread_pool.h"

#include <chrono>

namespace rep_deploy::core {
namespace {

// How long a worker polls for the next job before it sleeps: longer than the float ops between two
// binary convs of a model usually take, far shorter than the time between two frames.
constexpr std::chrono::microseconds kSpin{100};

inline void relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
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
  job.fn = fn, job.usr = usr, job.total = total;
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
  while (job.active.load(std::memory_order_acquire) != 0) relax();
}

void ThreadPool::work() {
  uint64_t seen = generation_.load(std::memory_order_acquire);
  for (;;) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    while (generation_.load(std::memory_order_acquire) == seen &&
           std::chrono::steady_clock::now() < until)
      for (int k = 0; k < 32; ++k) relax();
    Job* job;
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
      if (job) job->active.fetch_add(1, std::memory_order_relaxed);
    }
    if (job) {
      drain(*job);
      job->active.fetch_sub(1, std::memory_order_release);
    }
  }
}

}  // namespace rep_deploy::core
