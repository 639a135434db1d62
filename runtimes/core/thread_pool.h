// Worker threads for an adapter whose framework gives kernels none (LiteRT's C API hands custom ops
// no thread pool; ORT's adapter uses ORT's own).
//
// run() hands a job's items out one by one from an atomic counter to the caller and the workers, as
// ORT's intra-op pool does, and returns when every item is done. Between jobs a worker spins for
// 100 microseconds (the next node's job usually comes sooner) and then sleeps on a condition
// variable, so an idle interpreter costs no CPU. One job at a time: a second thread
// calling run() meanwhile runs its job alone, on its own thread, rather than waiting.
//
// A woken worker may be placed on the caller's own CPU (Linux's wake-up placement did that here, on
// a 2-vCPU guest, after most sleeps of tens of milliseconds, and kept it there): the two then share
// one CPU, and a conv ran up to 2-4x slower than on one thread, the caller spinning for a worker
// that could not run. So a worker that finds itself on the caller's CPU moves off it (its affinity
// without that CPU, then the affinity it had: the kernel migrates it at once), or, where it cannot
// (one CPU allowed), leaves the job to the caller; and the caller, waiting for the last workers,
// yields after a short spin.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "parallel.h"

namespace rep_deploy::core {

class ThreadPool {
 public:
  // threads >= 1, the caller of run() counting as one (threads - 1 workers are started).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return int(workers_.size()) + 1; }
  // fn(usr, i) for every i in [0, total), on the caller and the workers.
  void run(void (*fn)(void*, size_t), size_t total, void* usr);
  // A ParallelRunner over this pool (valid while the pool lives).
  ParallelRunner runner() { return {&ThreadPool::call, this}; }

 private:
  struct Job {
    void (*fn)(void*, size_t);
    void* usr;
    size_t total;
    std::atomic<size_t> next{0};
    std::atomic<int> active{0};  // workers inside this job
    int caller_cpu = -1;          // where run() was called (-1: unknown)
  };
  static void call(void* self, void (*fn)(void*, size_t), size_t total, void* usr) {
    static_cast<ThreadPool*>(self)->run(fn, total, usr);
  }
  static void drain(Job& job);
  void work();

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one job at a time
  std::mutex mutex_;      // guards job_, sleepers_ and the condition variable's wait
  std::condition_variable wake_;
  Job* job_ = nullptr;    // the open job: workers may join it
  std::atomic<uint64_t> generation_{0};  // bumped per job (and at shutdown)
  int sleepers_ = 0;
  bool stop_ = false;
};

}  // namespace rep_deploy::core
