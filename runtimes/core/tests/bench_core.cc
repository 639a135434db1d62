// Core-level micro benchmark (no ORT): BinaryConv forward per kernel path on a few ReActNet-A
// shapes, single thread,
// best of N by thread CPU time. For kernel tuning; benchmarks/bench_binary_conv.py is the real benchmark.
// Usage: bench_core [--kernel NAME] [--reps N] [--layer I | --shape cin,cout,hw,k,stride]
//        bench_core --peak [--kernel NAME] [--words K]: each path's own GEMM kernel (k.bgemm) on
//        operands that stay in L1 (16 pixels x K words, 4 blocks of 8 channels; K = 72: 27 KiB),
//        the path's popcount peak as this CPU runs it; benchmarks/machine_clock.py reads the
//        "peak" lines (for bench_roofline.py). --words: another dot-product length (each path has fixed-length kernels for
//        the zoo's: 9, 18, 36, 72 words are 3x3 convs over 64-512 channels).
//        bench_core --epilogue [--kernel NAME]: each path's output transform alone (k.write_tile)
//        over whole planes of rep-reactnet-a-like tiles (64 accumulator channels x 4 copies, scale,
//        bias, residual, RPReLU and the next op's sign bits), unpooled and 2x2-pooled, in ns per
//        16 outputs: what the epilogue costs per float where the GEMM is at its port limit; the
//        unpooled planes also in spans of tiles (TileOut::tiles), as binary_conv runs them.
//        --in-l1: every channel's row written into (and its residual, pooled values and sign
//        words read from) one plane, so that all stays in L1: the transform's arithmetic alone,
//        without the memory traffic of real planes (the difference is what memory costs).
//        bench_core --clock: the core clock as this thread runs it, from a chain of dependent adds
//        (one cycle each on every x86-64 and aarch64 core): on cloud guests /proc/cpuinfo often
//        shows only the TSC rate (a Zen 3 guest: 2.45 GHz, while the chain ran at 3.2 GHz);
//        benchmarks/machine_clock.py reads the "clock" line where the model name has no GHz.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../binary_conv.h"
#include "../kernels.h"

using namespace rep_deploy::core;

namespace {

// Seconds of thread CPU time per call of run(): the best of 9 rounds of ~50 ms each, after
// `untimed` rounds not counted (the machine is shared: wall time would count other processes).
template <class F>
double best_seconds_per_call(const F& run, int untimed) {
  double best = 1e30;
  for (int round = -untimed; round < 9; ++round) {
    timespec a0, a1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a0);
    int64_t calls = 0;
    double sec = 0;
    do {
      run();
      ++calls;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a1);
      sec = double(a1.tv_sec - a0.tv_sec) + 1e-9 * double(a1.tv_nsec - a0.tv_nsec);
    } while (sec < 0.05);
    if (round >= 0) best = std::min(best, sec / double(calls));
  }
  return best;
}

// GHz of this thread's core: 2^20 register adds per call, each waiting for the last (one cycle of
// latency on every x86-64 and aarch64 core), timed as thread CPU time; so many that the clock read
// between calls (a system call on some guests: with 1024 adds per call this read 0.83 GHz) weighs
// nothing. Exits 2 on other CPUs.
int clock_ghz() {
#if defined(__x86_64__) || defined(__aarch64__)
  uint64_t x = 0;
  const auto chain = [&x] {
    for (int i = 0; i < (1 << 17); ++i) {  // 8 adds each; the loop's own counter runs beside them
#if defined(__x86_64__)
      asm volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                   "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
#else
      asm volatile("add %0, %0, #1\n\tadd %0, %0, #1\n\tadd %0, %0, #1\n\tadd %0, %0, #1\n\t"
                   "add %0, %0, #1\n\tadd %0, %0, #1\n\tadd %0, %0, #1\n\tadd %0, %0, #1"
                   : "+r"(x));
#endif
    }
  };
  const double seconds = best_seconds_per_call(chain, 1);
  std::printf("clock %.3f GHz (chains of 2^20 dependent adds, best of 9 rounds of thread CPU time; "
              "%llu adds)\n", double(1 << 20) / seconds / 1e9, static_cast<unsigned long long>(x));
  return 0;
#else
  std::fprintf(stderr, "bench_core --clock: only on x86-64 and aarch64\n");
  return 2;
#endif
}

// Best of 9 rounds of ~50 ms of thread CPU time: MACs per second of k.bgemm with everything in L1.
int peak_gemm(const char* only, int64_t kWords) {
  constexpr int64_t kPix = 16, kBlocks = 4;
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
    const auto batch = [&] {
      for (int i = 0; i < 256; ++i) c.kernel.bgemm(t);
    };
    const double best = 256 * macs / best_seconds_per_call(batch, 0);
    std::printf("peak %s %.4g MAC/s (GEMM kernel, K = %lld words, operands in L1; checksum %d)\n",
                c.kernel.name, best, (long long)kWords, cnt[5]);
  }
  return 0;
}

// One case of the epilogue benchmark: Wo x Wo outputs per channel, written as is or pooled, the
// residual a full plane per channel (an unfused conv's: its rows come from L2 or further, as Y's)
// or a 64-float tile per channel in L1 (the second conv of a fused block pair, whose residual is
// the first's output tile held aside).
struct EpilogueCase {
  int64_t wo;
  bool pooled, tile_residual;
  const char* where;  // the rep-reactnet-a layers it stands for
  int64_t span = 1;   // tiles per write_tile call (TileOut::tiles; unpooled only)
};

// Thread CPU time of k.write_tile over every 64-pixel tile of a Wo x Wo plane for 256 output
// channels (64 accumulator lanes x 4 copies, as rep-reactnet-a's 4-times-repeated convs), mode 3
// with the sign bits; best of 9 rounds of ~50 ms after one untimed round (without it the first
// case measured twice its later self).
double epilogue_ns_per_16(const Kernel& k, const EpilogueCase& c, bool in_l1) {
  constexpr int64_t kLanes = 64, kCopies = 4, kCh = kLanes * kCopies;
  const int64_t plane = c.wo * c.wo, pool_plane = plane / 4, words = plane_words(c.wo, c.wo);
  std::mt19937 rng(3);
  std::vector<int32_t> acc(size_t(c.span * kLanes * 64));  // a span's tiles side by side
  for (int32_t& a : acc) a = int32_t(rng() % 513) - 256;
  const auto floats = [&](size_t n, float lo, float hi) {
    std::vector<float> v(n);
    std::uniform_real_distribution<float> d(lo, hi);
    for (float& x : v) x = d(rng);
    return v;
  };
  const std::vector<float> mul = floats(kCh, 0.001f, 0.01f), add = floats(kCh, -1, 1),
                           pre = floats(kCh, -0.5f, 0.5f), slope = floats(kCh, 0.1f, 0.3f),
                           post = floats(kCh, -0.5f, 0.5f), st = floats(kCh, -0.5f, 0.5f),
                           res_values = floats(size_t(kCh * (c.tile_residual ? 64 : plane)), -2, 2);
  // Y and the residual in one buffer at fixed offsets: Y 4 KiB-aligned, the residual 2 KiB + 64 B
  // past a 4 KiB boundary, so that Y[j][p] and res[j][p] never share their low 12 address bits
  // (4K aliasing would stall loads behind unrelated stores) whatever the allocator returns
  const size_t ny = size_t(c.pooled ? kCh * pool_plane : kCh * plane), kPage = 1024;  // floats
  std::vector<float> arena(ny + res_values.size() + 3 * kPage);
  float* const base = reinterpret_cast<float*>(
      (reinterpret_cast<uintptr_t>(arena.data()) + 4095) & ~uintptr_t(4095));
  float* const y = base;
  float* const res = base + (ny + kPage - 1) / kPage * kPage + kPage / 2 + 16;
  std::copy(res_values.begin(), res_values.end(), res);
  std::vector<uint64_t> signs(size_t(kCh * words));
  std::vector<TileRow> rows(size_t(kLanes * kCopies));  // copy r of lane l: channel r * 64 + l
  for (int64_t l = 0; l < kLanes; ++l)
    for (int64_t r = 0; r < kCopies; ++r) {
      const size_t j = size_t(r * kLanes + l);
      rows[size_t(l * kCopies + r)] = {int32_t(j), int32_t(j), mul[j], add[j], pre[j], slope[j],
                                       post[j], st[j]};
    }
  int32_t pairs[32];
  TileOut t{};
  t.acc = acc.data(), t.nl = kLanes, t.oc0 = 0, t.repeats = kCopies, t.rows = rows.data();
  t.has_add = t.has_pre = true;
  t.plane = in_l1 ? 0 : plane, t.res_plane = in_l1 ? 0 : c.tile_residual ? 64 : plane;
  t.sign_stride = in_l1 ? 0 : words;
  t.acc_tile = kLanes * 64;
  const auto sweep = [&] {
    for (int64_t f0 = 0; f0 < plane; f0 += 64 * c.span) {
      t.npix = std::min<int64_t>(64 * c.span, plane - f0);
      t.tiles = (t.npix + 63) / 64;
      t.res = res + (c.tile_residual ? 0 : f0), t.signs = signs.data() + f0 / 64;
      if (c.pooled) {  // as binary_conv's tile_out
        for (int64_t q = 0; q < t.npix / 2; ++q) pairs[q] = pool_pair_entry(f0 + 2 * q, c.wo);
        t.pool = y, t.pool_plane = in_l1 ? 0 : pool_plane, t.pool_pairs = pairs;
        t.pool_row_pairs = c.wo / 2;
      } else {
        t.y = y + f0;
      }
      k.write_tile(t);
    }
  };
  return best_seconds_per_call(sweep, 1) * 1e9 / (double(kCh * plane) / 16);
}

int epilogue(const char* only, bool in_l1) {
  const EpilogueCase cases[] = {
      {56, false, false, "3x3 @56"},          {28, false, false, "3x3 @28"},
      {14, false, false, "3x3, 1x1 @14"},     {7, false, false, "3x3, 1x1 @7"},
      {112, true, true, "pair 1's 1x1"},      {56, true, false, "layer 5"},
      {28, true, true, "pair 5's 1x1"},       {14, true, false, "layer 21"},
      {56, false, false, "3x3 @56", 8},       {28, false, false, "3x3 @28", 5},
      {14, false, false, "3x3, 1x1 @14", 4}};
  for (const KernelChoice& c : all_kernels()) {
    if (!c.supported || !c.kernel.write_tile || (only && std::strcmp(only, c.kernel.name))) continue;
    for (const EpilogueCase& e : cases)
      std::printf("epilogue %-14s %3lldx%-3lld %-6s residual %-5s %6.2f ns per 16 outputs  "
                  "(%s%s)%s\n",
                  c.kernel.name, (long long)e.wo, (long long)e.wo, e.pooled ? "pooled" : "as is",
                  e.tile_residual ? "tile" : "plane", epilogue_ns_per_16(c.kernel, e, in_l1),
                  e.where,
                  e.span > 1 ? (", spans of " + std::to_string(e.span) + " tiles").c_str() : "",
                  in_l1 ? " in L1" : "");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* only = nullptr;
  int reps = 20;
  int layer = -1;
  int64_t peak_words = 72;
  long long custom[5] = {0, 0, 0, 0, 0};
  bool custom_set = false;
  bool peak = false, epilogue_only = false, clock = false, in_l1 = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--kernel") && i + 1 < argc) only = argv[++i];
    else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--layer") && i + 1 < argc) layer = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--peak")) peak = true;
    else if (!std::strcmp(argv[i], "--clock")) clock = true;
    else if (!std::strcmp(argv[i], "--words") && i + 1 < argc) peak_words = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--epilogue")) epilogue_only = true;
    else if (!std::strcmp(argv[i], "--in-l1")) in_l1 = true;
    else if (!std::strcmp(argv[i], "--shape") && i + 1 < argc) {  // cin,cout,hw,k,stride
      custom_set = std::sscanf(argv[++i], "%lld,%lld,%lld,%lld,%lld", &custom[0], &custom[1],
                               &custom[2], &custom[3], &custom[4]) == 5;
    }
  }
  if (only) {  // a path this build or CPU lacks would otherwise print nothing and exit 0
    Kernel k{};
    std::string err = select_kernel(only, &k);  // the dispatch's own check and list of choices
    if (err.empty() && !k.bgemm) err = std::string(only) + " has no GEMM kernel to time";
    if (!err.empty()) {
      std::fprintf(stderr, "bench_core --kernel: %s\n", err.c_str());
      return 2;
    }
  }
  if (clock) return clock_ghz();
  if (peak_words < 1 || peak_words > 4096) {
    std::fprintf(stderr, "bench_core --words: a dot-product length of 1 to 4096 words\n");
    return 2;
  }
  if (peak) return peak_gemm(only, peak_words);
  if (epilogue_only) return epilogue(only, in_l1);
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
