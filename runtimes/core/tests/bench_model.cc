// Core-level model benchmark (no ORT): every binary conv of ReActNet-A or its RepBNN form at
// 224x224, run as BinaryConvBlock (threshold sign, repeats, residual, RPReLU), single thread by
// default, best of N per layer by thread CPU time. For tuning the whole-network binary part;
// benchmarks/bench_end_to_end.py is the real end-to-end benchmark.
// Usage: bench_model [--model rep|base] [--kernel NAME] [--reps N] [--threads T] [--layer I] [--pool-y]
//                    [--pairs] [--lce]
// (--layer: only the I-th layer of the list, e.g. to profile it alone under perf; --pool-y: as a
// linked session runs them, the layer before each stride-2 block writes that block's pooled
// residual (OutputTransform::pool_y) and the stride-2 block reads it as is; --pairs: each block's
// 3x3 and 1x1 (layers 2i, 2i + 1; --layer picks the 3x3) linked as a session runs them, then fused
// by binary_block_pair_forward, side by side; --lce: each conv as LCE's LceBconv2d (lce::BConv2D,
// NHWC, float output, SAME with pad_values 0 for the 3x3 convs as rep-deploy tflite writes them) on
// the LiteRT adapter's thread pool (ThreadPool), as librep_deploy_litert.so runs it; with --threads
// T > 1 each layer also on 1 thread, the two alternating in 3 rounds, and the speed-up)
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <thread>
#include <vector>

#include "../binary_conv.h"
#include "../kernels.h"
#include "../lce.h"
#include "../thread_pool.h"

using namespace rep_deploy::core;

namespace {

struct Layer {
  int64_t cin, cout, hw, k, stride, repeats;
  int64_t count;  // convs in the op: 2 for the channel-doubling pair (one op, splits = 2)
};

// ReActNet-A's blocks: (C in, C out, input size, stride). Base model: BinaryConvBlock Cin -> Cout
// (downsampling blocks: two 1x1 Cin -> Cin convs, concatenated). RepBNN (beta = 2): Cin doubled,
// Cout halved, repeats 4.
std::vector<Layer> layers(bool rep) {
  struct B { int64_t c, o, hw, s; };
  const B blocks[] = {{32, 64, 112, 1},   {64, 128, 112, 2},  {128, 128, 56, 1},
                      {128, 256, 56, 2},  {256, 256, 28, 1},  {256, 512, 28, 2},
                      {512, 512, 14, 1},  {512, 512, 14, 1},  {512, 512, 14, 1},
                      {512, 512, 14, 1},  {512, 512, 14, 1},  {512, 1024, 14, 2},
                      {1024, 1024, 7, 1}};
  std::vector<Layer> v;
  for (const B& b : blocks) {
    const int64_t ho = b.hw / b.s;
    const int64_t cin = rep ? 2 * b.c : b.c, cout = rep ? b.c / 2 : b.c, r = rep ? 4 : 1;
    v.push_back({cin, cout, b.hw, 3, b.s, r, 1});
    if (b.o == b.c) {
      v.push_back({cin, cout, ho, 1, 1, r, 1});
    } else {
      v.push_back({cin, cout, ho, 1, 1, r, 2});  // two convs, concatenated: one op, splits = 2
    }
  }
  return v;
}

// The caller and n - 1 workers that stay alive and spin between runs, as ORT's intra-op pool does
// during an inference: items are handed out one by one from an atomic counter, and run() returns
// when all are done. (Threads started per run cost ~50 us each time, which hid 2-thread scaling.)
class SpinPool {
 public:
  explicit SpinPool(int n) {
    for (int t = 1; t < n; ++t) workers_.emplace_back([this] { work(); });
  }
  ~SpinPool() {
    stop_.store(true);
    for (auto& t : workers_) t.join();
  }
  static void call(void* self, void (*fn)(void*, size_t), size_t total, void* usr) {
    static_cast<SpinPool*>(self)->run(fn, total, usr);
  }

 private:
  void run(void (*fn)(void*, size_t), size_t total, void* usr) {
    fn_ = fn, usr_ = usr, total_ = total;
    next_.store(0);
    busy_.store(workers_.size());
    gen_.fetch_add(1);  // publishes the job (seq_cst)
    drain();
    while (busy_.load() != 0) {  // every worker is out of this job before the next one is set
    }
  }
  void drain() {
    for (size_t i; (i = next_.fetch_add(1)) < total_;) fn_(usr_, i);
  }
  void work() {
    uint64_t seen = 0;
    while (!stop_.load()) {
      if (gen_.load() == seen) continue;
      seen = gen_.load();
      drain();
      busy_.fetch_sub(1);
    }
  }
  std::vector<std::thread> workers_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> gen_{0};
  std::atomic<size_t> next_{0}, busy_{0};
  void (*fn_)(void*, size_t) = nullptr;
  void* usr_ = nullptr;
  size_t total_ = 0;
};

// One layer's call as bench_model runs it: shape, weights, output transform and buffers (the
// transform points into the buffers: build it in place, do not copy it).
struct LayerCall {
  ConvShape s;
  PackedWeights pw;
  OutputTransform t;
  std::vector<float> x, y, res, thr, vec, slope;
};

// Layer li of all, with random data; pool_y: as a linked session runs it (the layer before a
// stride-2 block writes that block's pooled residual, which the block reads as is).
bool make_call(const std::vector<Layer>& all, size_t li, bool pool_y, std::mt19937_64& rng,
               LayerCall* c) {
  const Layer& l = all[li];
  ConvAttrs a;
  a.kh = a.kw = l.k;
  a.sh = a.sw = l.stride;
  a.pt = a.pl = a.pb = a.pr = l.k / 2;
  // as exported: the channel-doubling pair is one op (splits 2, the shortcut tiled), and the
  // stride-2 block pools its full-resolution shortcut inside the op (residual_pool 2x2)
  const int64_t splits = l.count, cout = l.cout * splits;
  if (!make_conv_shape(a, 1, l.cin, l.hw, l.hw, cout, &c->s).empty()) return false;
  const ConvShape& s = c->s;
  const int64_t cy = cout * l.repeats, res_c = cy / splits;
  const bool pooled_residual = l.stride == 2 && !pool_y;
  const int64_t res_hw = pooled_residual ? l.hw : s.ho;
  c->x.resize(size_t(l.cin * l.hw * l.hw)), c->y.resize(size_t(cy * s.ho * s.wo));
  c->res.resize(size_t(res_c * res_hw * res_hw));
  for (float& v : c->x) v = float(int(rng() % 200) - 100) * 0.01f;
  for (float& v : c->res) v = float(int(rng() % 200) - 100) * 0.01f;
  std::vector<uint8_t> w(size_t(s.cout * s.w_row_bytes));
  for (uint8_t& b : w) b = uint8_t(rng());
  c->thr.assign(size_t(l.cin), 0.01f), c->vec.assign(size_t(cy), 0.5f), c->slope.assign(size_t(cy), 0.25f);
  pack_weights(w.data(), s, &c->pw);
  OutputTransform& t = c->t;
  t.mul = c->vec.data(), t.add = c->vec.data(), t.residual = c->res.data();
  t.pre = c->vec.data(), t.slope = c->slope.data(), t.post = c->vec.data();
  t.repeats = l.repeats;
  t.splits = splits;
  t.residual_channels = res_c;
  if (pooled_residual) t.pool_h = t.pool_w = 2, t.residual_h = t.residual_w = res_hw;
  t.pool_y = pool_y && li + 1 < all.size() && all[li + 1].stride == 2;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const char* only = nullptr;
  bool rep = true;
  int reps = 10, threads = 1, only_layer = -1;
  bool pool_y = false, pairs = false, lce_ops = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--kernel") && i + 1 < argc) only = argv[++i];
    else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--layer") && i + 1 < argc) only_layer = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--model") && i + 1 < argc) rep = !std::strcmp(argv[++i], "rep");
    else if (!std::strcmp(argv[i], "--pool-y")) pool_y = true;
    else if (!std::strcmp(argv[i], "--pairs")) pairs = true;
    else if (!std::strcmp(argv[i], "--lce")) lce_ops = true;
  }
  Kernel k;
  const std::string e = select_kernel(only, &k);
  if (!e.empty() || !k.bgemm) {
    std::fprintf(stderr, "%s\n", e.empty() ? "reference has no GEMM" : e.c_str());
    return 1;
  }
  std::mt19937_64 rng(1);
  // (not for --lce: its workers spin without pause, and would compete with the ThreadPool's)
  SpinPool pool(lce_ops ? 1 : threads);
  ParallelRunner par;
  if (threads > 1) par.call = SpinPool::call, par.self = &pool;
  const clockid_t clk = threads > 1 ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID;
  const auto best_of = [&](const auto& fn) {  // the least time of reps calls, after a warm-up one
    fn();
    double sec = 1e30;
    for (int r = 0; r < reps; ++r) {
      timespec a0, a1;
      clock_gettime(clk, &a0);
      fn();
      clock_gettime(clk, &a1);
      sec = std::min(sec, double(a1.tv_sec - a0.tv_sec) + 1e-9 * double(a1.tv_nsec - a0.tv_nsec));
    }
    return sec;
  };
  double total = 0;
  const std::vector<Layer> all = layers(rep);
  if (lce_ops) {
    if (setenv("REP_DEPLOY_KERNEL", k.name, 1) != 0) return 1;  // BConv2D dispatches from the env
    ThreadPool lce_pool(threads);
    const ParallelRunner lce_par = threads > 1 ? lce_pool.runner() : ParallelRunner{};
    double total_one = 0;
    for (size_t li = 0; li < all.size(); ++li) {
      if (only_layer >= 0 && size_t(only_layer) != li) continue;
      const Layer& l = all[li];
      lce::BConv2DParams p;
      p.in_h = p.in_w = l.hw, p.channels_in = l.cin, p.channels_out = l.cout * l.count;
      p.filter_h = p.filter_w = l.k, p.filter_words = lce::words(l.cin);
      p.stride_h = p.stride_w = l.stride;
      p.padding = l.k == 3 ? lce::Padding::kSame : lce::Padding::kValid, p.pad_value = 0;
      std::vector<int32_t> filter(size_t(p.channels_out * l.k * l.k * p.filter_words));
      std::vector<int32_t> input(size_t(l.hw * l.hw * p.filter_words));
      for (int32_t& v : filter) v = int32_t(uint32_t(rng()));
      for (int32_t& v : input) v = int32_t(uint32_t(rng()));
      if (l.cin % 32) return 1;  // every ReActNet-A channel count is a multiple of 32
      const std::vector<float> mul(size_t(p.channels_out), 0.5f), bias(size_t(p.channels_out), 0.25f);
      const lce::BConv2D op(p, filter.data(), mul.data(), bias.data(), nullptr);
      std::vector<float> out(size_t(op.out_h() * op.out_w() * p.channels_out));
      double sec = 1e30, one = 1e30;  // T threads, and 1 (threads > 1 only)
      for (int round = 0; round < (threads > 1 ? 3 : 1); ++round) {
        sec = std::min(sec, best_of([&] { op.run(input.data(), out.data(), lce_par); }));
        if (threads > 1) one = std::min(one, best_of([&] { op.run(input.data(), out.data()); }));
      }
      total += sec, total_one += one;
      const double macs = double(p.channels_out) * double(op.out_h() * op.out_w()) * double(l.k * l.k * l.cin);
      std::printf("%-10s LceBconv2d cin=%4lld cout=%4lld hw=%3lld k=%lld s=%lld  %7.3f ms  %5.1f MAC/cycle@2.5GHz",
                  k.name, (long long)l.cin, (long long)p.channels_out, (long long)l.hw, (long long)l.k,
                  (long long)l.stride, sec * 1e3, macs / sec / 2.5e9);
      if (threads > 1) std::printf("  1 thread %7.3f ms  %.2fx", one * 1e3, one / sec);
      std::printf("\n");
    }
    std::printf("total %.3f ms (%s as LceBconv2d, %d thread%s)", total * 1e3,
                rep ? "rep-reactnet-a" : "reactnet-a", threads, threads > 1 ? "s" : "");
    if (threads > 1) std::printf("; 1 thread %.3f ms, %.2fx", total_one * 1e3, total_one / total);
    std::printf("\n");
    return 0;
  }
  if (pairs) {
    // each block's 3x3 and 1x1 as a linked session runs them (P writes C's sign bits, C reads them
    // and P's output as its residual), then as one binary_block_pair_forward call
    double t_sep = 0, t_pair = 0;
    for (size_t li = 0; li + 1 < all.size(); li += 2) {
      if (only_layer >= 0 && size_t(only_layer) != li) continue;
      LayerCall p, c;
      if (!make_call(all, li, true, rng, &p) || !make_call(all, li + 1, true, rng, &c)) return 1;
      const int64_t y1c = p.s.cout * p.t.repeats;
      std::vector<uint64_t> y1_signs(size_t(y1c * plane_words(p.s.ho, p.s.wo)));
      OutputTransform tp = p.t, tc = c.t;
      tp.sign_threshold = c.thr.data(), tp.signs = y1_signs.data();
      tc.residual = p.y.data();
      const double sep = best_of([&] {
        binary_conv_forward(p.s, p.x.data(), p.thr.data(), p.pw, k, tp, p.y.data(), par);
        binary_conv_forward(c.s, p.y.data(), c.thr.data(), c.pw, k, tc, c.y.data(), par, y1_signs.data());
      });
      tc.residual = nullptr;
      const double fused = best_of([&] {
        binary_block_pair_forward(p.s, p.x.data(), p.thr.data(), p.pw, p.t, c.s, c.thr.data(), c.pw,
                                  tc, k, c.y.data(), par);
      });
      t_sep += sep, t_pair += fused;
      std::printf("%-10s layers %2zu+%-2zu cin=%4lld hw=%3lld s=%lld  linked %7.3f ms  pair %7.3f ms  %.3f%s\n",
                  k.name, li, li + 1, (long long)p.s.cin, (long long)all[li].hw, (long long)all[li].stride,
                  sep * 1e3, fused * 1e3, fused / sep, c.t.pool_y ? "  pool_y" : "");
    }
    std::printf("total linked %.3f ms, pair %.3f ms (%.3f) (%s, %d thread%s)\n", t_sep * 1e3,
                t_pair * 1e3, t_pair / t_sep, rep ? "rep-reactnet-a" : "reactnet-a", threads,
                threads > 1 ? "s" : "");
    return 0;
  }
  for (size_t li = 0; li < all.size(); ++li) {
    if (only_layer >= 0 && size_t(only_layer) != li) continue;
    LayerCall c;
    if (!make_call(all, li, pool_y, rng, &c)) return 1;
    const double sec = best_of([&] {
      binary_conv_forward(c.s, c.x.data(), c.thr.data(), c.pw, k, c.t, c.y.data(), par);
    });
    total += sec;
    const Layer& l = all[li];
    const double macs = double(c.s.cout) * double(c.s.ho * c.s.wo) * double(c.s.k_bits);
    std::printf("%-10s cin=%4lld cout=%4lld x%lld hw=%3lld k=%lld s=%lld  %7.3f ms%s%s  %5.1f MAC/cycle@2.5GHz\n",
                k.name, (long long)l.cin, (long long)c.s.cout, (long long)l.repeats, (long long)l.hw,
                (long long)l.k, (long long)l.stride, sec * 1e3, l.count > 1 ? " (pair)" : "       ",
                c.t.pool_y ? " pool_y" : "       ", macs / sec / 2.5e9);
  }
  std::printf("total %.3f ms (%s, %d thread%s)\n", total * 1e3, rep ? "rep-reactnet-a" : "reactnet-a",
              threads, threads > 1 ? "s" : "");
  return 0;
}
