// Core-level micro benchmark (no ORT): BinaryConv forward per kernel path on a few ReActNet-A
// shapes, single thread,
// best of N by thread CPU time. For kernel tuning; benchmarks/bench_binary_conv.py is the real benchmark.
// Usage: bench_core [--kernel NAME] [--reps N] [--layer I | --shape cin,cout,hw,k,stride]
//        bench_core --peak [--kernel NAME]: each path's own GEMM kernel (k.bgemm) on operands that
//        stay in L1 (16 pixels x 72 words, 4 blocks of 8 channels: 27 KiB), the path's popcount
//        peak as this CPU runs it; benchmarks/bench_roofline.py reads the "peak" lines.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "../binary_conv.h"
#include "../kernels.h"

using namespace rep_deploy::core;

namespace {

// Best of 9 rounds of ~50 ms of thread CPU time: MACs per second of k.bgemm with everything in L1.
int peak_gemm(const char* only) {
  constexpr int64_t kWords = 72, kPix = 16, kBlocks = 4;
  std::vector<uint64_t> x(size_t(kPix * kWords)), w(size_t(kBlocks * kWords * 8));
  std::vector<int64_t> koff(static_cast<size_t>(kWords));
  std::mt19937_64 rng(7);
  for (uint64_t& v : x) v = rng();
  for (uint64_t& v : w) v = rng();
  for (int64_t k = 0; k < kWords; ++k) koff[size_t(k)] = k;
  std::vector<int32_t> cnt(size_t(kPix * kBlocks * 8));
  BgemmTask t;
  t.x = x.data(), t.x_pix_stride = kWords, t.koff = koff.data(), t.kwords = kWords;
  t.w = w.data(), t.nocb = kBlocks, t.npix = kPix, t.cnt = cnt.data(), t.cnt_stride = kBlocks * 8;
  const double macs = double(kPix * kBlocks * 8 * kWords * 64);
  for (const KernelChoice& c : all_kernels()) {
    if (!c.supported || !c.kernel.bgemm || (only && std::strcmp(only, c.kernel.name))) continue;
    double best = 0;
    for (int round = 0; round < 9; ++round) {
      timespec a0, a1;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a0);
      int64_t calls = 0;
      double sec = 0;
      do {
        for (int i = 0; i < 256; ++i) c.kernel.bgemm(t);
        calls += 256;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a1);
        sec = double(a1.tv_sec - a0.tv_sec) + 1e-9 * double(a1.tv_nsec - a0.tv_nsec);
      } while (sec < 0.05);
      best = std::max(best, macs * double(calls) / sec);
    }
    std::printf("peak %s %.4g MAC/s (GEMM kernel, K = %lld words, operands in L1; checksum %d)\n",
                c.kernel.name, best, (long long)kWords, cnt[5]);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* only = nullptr;
  int reps = 20;
  int layer = -1;
  long long custom[5] = {0, 0, 0, 0, 0};
  bool custom_set = false;
  bool peak = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--kernel") && i + 1 < argc) only = argv[++i];
    else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--layer") && i + 1 < argc) layer = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--peak")) peak = true;
    else if (!std::strcmp(argv[i], "--shape") && i + 1 < argc) {  // cin,cout,hw,k,stride
      custom_set = std::sscanf(argv[++i], "%lld,%lld,%lld,%lld,%lld", &custom[0], &custom[1],
                               &custom[2], &custom[3], &custom[4]) == 5;
    }
  }
  if (peak) return peak_gemm(only);
  struct L { int64_t cin, cout, hw, k, stride; };
  const L layers[] = {{32, 32, 112, 3, 1},  {64, 64, 56, 3, 1},   {128, 128, 28, 3, 1},
                      {256, 256, 14, 3, 1}, {512, 512, 7, 3, 1},  {1024, 1024, 7, 3, 1},
                      {64, 64, 112, 3, 2},  {128, 128, 28, 1, 1}, {512, 512, 14, 1, 1}};
  std::mt19937_64 rng(1);
  for (const KernelChoice& c : all_kernels()) {
    if (!c.supported || !c.kernel.bgemm) continue;
    if (only && std::strcmp(only, c.kernel.name)) continue;
    const int nl = custom_set ? 1 : int(sizeof(layers) / sizeof(layers[0]));
    for (int li = 0; li < nl; ++li) {
      if (layer >= 0 && li != layer) continue;
      const L l = custom_set ? L{custom[0], custom[1], custom[2], custom[3], custom[4]} : layers[li];
      ConvAttrs a;
      a.kh = a.kw = l.k;
      a.sh = a.sw = l.stride;
      a.pt = a.pl = a.pb = a.pr = l.k / 2;
      ConvShape s;
      if (!make_conv_shape(a, 1, l.cin, l.hw, l.hw, l.cout, &s).empty()) return 1;
      std::vector<float> x(size_t(l.cin * l.hw * l.hw)), y(size_t(l.cout * s.ho * s.wo));
      for (float& v : x) v = float(int(rng() % 200) - 100);
      std::vector<uint8_t> w(size_t(s.cout * s.w_row_bytes));
      for (uint8_t& b : w) b = uint8_t(rng());
      std::vector<float> scale(size_t(l.cout), 0.5f);
      PackedWeights pw;
      pack_weights(w.data(), s, &pw);
      OutputTransform t;
      t.mul = scale.data();
      ParallelRunner serial;
      binary_conv_forward(s, x.data(), nullptr, pw, c.kernel, t, y.data(), serial);
      // thread CPU time: the machine is shared, wall time would count other processes' slices
      double sec = 1e30;
      for (int r = 0; r < reps; ++r) {
        timespec a0, a1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a0);
        binary_conv_forward(s, x.data(), nullptr, pw, c.kernel, t, y.data(), serial);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a1);
        const double d = double(a1.tv_sec - a0.tv_sec) + 1e-9 * double(a1.tv_nsec - a0.tv_nsec);
        sec = d < sec ? d : sec;
      }
      const double macs = double(s.cout) * s.ho * s.wo * s.k_bits;
      std::printf("%-14s cin=%4lld cout=%4lld hw=%3lld k=%lld s=%lld  %8.3f ms  %6.1f GMAC/s  %5.1f MAC/cycle@2.5GHz\n",
                  c.kernel.name, (long long)l.cin, (long long)l.cout, (long long)l.hw, (long long)l.k,
                  (long long)l.stride, sec * 1e3, macs / sec * 1e-9, macs / sec / 2.5e9);
    }
  }
  return 0;
}
