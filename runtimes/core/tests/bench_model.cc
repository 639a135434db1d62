// Core-level model benchmark (no ORT): every binary conv of ReActNet-A or its RepBNN form at
// 224x224, run as BinaryConvBlock (threshold sign, repeats, residual, RPReLU), single thread by
// default, best of N per layer by thread CPU time. For tuning the whole-network binary part;
// benchmarks/bench_end_to_end.py is the real end-to-end benchmark.
// Usage: bench_model [--model rep|base] [--kernel NAME] [--reps N] [--threads T] [--layer I] [--pool-y]
// (--layer: only the I-th layer of the list, e.g. to profile it alone under perf; --pool-y: as a
// linked session runs them, the layer before each stride-2 block writes that block's pooled
// residual (OutputTransform::pool_y) and the stride-2 block reads it as is)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <thread>
#include <vector>

#include "../binary_conv.h"
#include "../kernels.h"

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

struct Threads {
  int n = 1;
};

void par_call(void* self, void (*fn)(void*, size_t), size_t total, void* usr) {
  const int n = static_cast<Threads*>(self)->n;
  std::vector<std::thread> ts;
  for (int t = 0; t < n; ++t)
    ts.emplace_back([=] {
      for (size_t i = size_t(t); i < total; i += size_t(n)) fn(usr, i);
    });
  for (auto& t : ts) t.join();
}

}  // namespace

int main(int argc, char** argv) {
  const char* only = nullptr;
  bool rep = true;
  int reps = 10, threads = 1, only_layer = -1;
  bool pool_y = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--kernel") && i + 1 < argc) only = argv[++i];
    else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--layer") && i + 1 < argc) only_layer = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--model") && i + 1 < argc) rep = !std::strcmp(argv[++i], "rep");
    else if (!std::strcmp(argv[i], "--pool-y")) pool_y = true;
  }
  Kernel k;
  const std::string e = select_kernel(only, &k);
  if (!e.empty() || !k.bgemm) {
    std::fprintf(stderr, "%s\n", e.empty() ? "reference has no GEMM" : e.c_str());
    return 1;
  }
  std::mt19937_64 rng(1);
  Threads th{threads};
  ParallelRunner par;
  if (threads > 1) par.call = par_call, par.self = &th;
  double total = 0;
  const std::vector<Layer> all = layers(rep);
  for (size_t li = 0; li < all.size(); ++li) {
    if (only_layer >= 0 && size_t(only_layer) != li) continue;
    const Layer& l = all[li];
    ConvAttrs a;
    a.kh = a.kw = l.k;
    a.sh = a.sw = l.stride;
    a.pt = a.pl = a.pb = a.pr = l.k / 2;
    // as exported: the channel-doubling pair is one op (splits 2, the shortcut tiled), and the
    // stride-2 block pools its full-resolution shortcut inside the op (residual_pool 2x2)
    const int64_t splits = l.count, cout = l.cout * splits;
    ConvShape s;
    if (!make_conv_shape(a, 1, l.cin, l.hw, l.hw, cout, &s).empty()) return 1;
    const int64_t cy = cout * l.repeats, res_c = cy / splits;
    const bool pooled_residual = l.stride == 2 && !pool_y;
    const int64_t res_hw = pooled_residual ? l.hw : s.ho;
    std::vector<float> x(size_t(l.cin * l.hw * l.hw)), y(size_t(cy * s.ho * s.wo));
    std::vector<float> res(size_t(res_c * res_hw * res_hw));
    for (float& v : x) v = float(int(rng() % 200) - 100) * 0.01f;
    for (float& v : res) v = float(int(rng() % 200) - 100) * 0.01f;
    std::vector<uint8_t> w(size_t(s.cout * s.w_row_bytes));
    for (uint8_t& b : w) b = uint8_t(rng());
    std::vector<float> thr(size_t(l.cin), 0.01f), vec(size_t(cy), 0.5f), slope(size_t(cy), 0.25f);
    PackedWeights pw;
    pack_weights(w.data(), s, &pw);
    OutputTransform t;
    t.mul = vec.data(), t.add = vec.data(), t.residual = res.data();
    t.pre = vec.data(), t.slope = slope.data(), t.post = vec.data();
    t.repeats = l.repeats;
    t.splits = splits;
    t.residual_channels = res_c;
    if (pooled_residual) t.pool_h = t.pool_w = 2, t.residual_h = t.residual_w = res_hw;
    t.pool_y = pool_y && li + 1 < all.size() && all[li + 1].stride == 2;
    binary_conv_forward(s, x.data(), thr.data(), pw, k, t, y.data(), par);
    double sec = 1e30;
    for (int r = 0; r < reps; ++r) {
      timespec a0, a1;
      const clockid_t clk = threads > 1 ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID;
      clock_gettime(clk, &a0);
      binary_conv_forward(s, x.data(), thr.data(), pw, k, t, y.data(), par);
      clock_gettime(clk, &a1);
      const double d = double(a1.tv_sec - a0.tv_sec) + 1e-9 * double(a1.tv_nsec - a0.tv_nsec);
      sec = d < sec ? d : sec;
    }
    total += sec;
    const double macs = double(s.cout) * double(s.ho * s.wo) * double(s.k_bits);
    std::printf("%-10s cin=%4lld cout=%4lld x%lld hw=%3lld k=%lld s=%lld  %7.3f ms%s%s  %5.1f MAC/cycle@2.5GHz\n",
                k.name, (long long)l.cin, (long long)cout, (long long)l.repeats, (long long)l.hw,
                (long long)l.k, (long long)l.stride, sec * 1e3, splits > 1 ? " (pair)" : "       ",
                t.pool_y ? " pool_y" : "       ", macs / sec / 2.5e9);
  }
  std::printf("total %.3f ms (%s, %d thread%s)\n", total * 1e3, rep ? "rep-reactnet-a" : "reactnet-a",
              threads, threads > 1 ? "s" : "");
  return 0;
}
