// Tier-1 tests of LCE's op contract (lce.h): BConv2D on every optimized kernel path against the
// direct-loop oracle bconv2d_reference, bit for bit (bit-packed words, and float outputs compared
// as bits: both sides round float(clamp(conv)) * mul, then + bias, once each), over a seeded grid:
// channels 1..300 (word and 64-bit-word boundaries), kernels 1x1..5x5 and non-square, stride and
// dilation 1/2, SAME with pad_values 0 and 1, VALID, groups, every fused activation, batch 1..3,
// images smaller than the kernel. Float cases with multiplier 1 and bias 0 expose the integer conv
// itself. Also quantize / dequantize, LceBMaxPool2d against its +-1 oracle (filters 1x1..4x4 and
// non-square, strides 1..3, both paddings, filters larger than the image, words 1..5, batch 0..3,
// random bits in the channel padding) and the validation messages.
// Usage: test_lce [--cases N | --cases-from-env] [--seed S] [--kernel NAME]
// (exit status 0 = all passed, 77 = the requested kernel is not supported here)
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../kernels.h"
#include "../lce.h"
#include "../thread_pool.h"

#include "check.h"
using namespace rep_deploy::core;
using namespace rep_deploy::core::lce;

namespace {

std::string describe(const BConv2DParams& p) {
  char buf[400];
  std::snprintf(buf, sizeof buf,
                "N=%lld H=%lld W=%lld Cin=%lld Cout=%lld k=%lldx%lld fw=%lld s=%lldx%lld d=%lldx%lld "
                "%s pad_value=%d act=%d out=%s",
                (long long)p.batch, (long long)p.in_h, (long long)p.in_w, (long long)p.channels_in,
                (long long)p.channels_out, (long long)p.filter_h, (long long)p.filter_w,
                (long long)p.filter_words, (long long)p.stride_h, (long long)p.stride_w,
                (long long)p.dilation_h, (long long)p.dilation_w,
                p.padding == Padding::kSame ? "SAME" : "VALID", p.pad_value, int(p.activation),
                p.output == Output::kFloat ? "float" : p.output == Output::kInt8 ? "int8" : "bitpacked");
  return buf;
}

// Runs the tasks last to first: the result must not depend on the order (tasks are independent).
ParallelRunner reversed_runner() {
  ParallelRunner r;
  r.call = [](void*, void (*fn)(void*, size_t), size_t total, void* usr) {
    for (size_t i = total; i-- > 0;) fn(usr, i);
  };
  return r;
}

struct Case {
  BConv2DParams p;
  bool unit_affine = false;   // multiplier 1, bias 0: the float output is the clamped integer conv
  bool dirty_padding = false; // random bits past the channels (both sides must ignore them)
  int runner = -1;            // 0 in order, 1 in reverse, 2 on 3 threads; -1 one of them at random
};

void run_case(const Case& c, const char* path, std::mt19937_64& rng) {
  BConv2DParams p = c.p;
  const int64_t in_words = words(p.channels_in);
  const int64_t groups = in_words / p.filter_words;
  const int64_t cin_g = p.channels_in / groups;
  std::vector<int32_t> input(size_t(p.batch * p.in_h * p.in_w * in_words));
  for (int32_t& v : input) v = int32_t(uint32_t(rng()));
  std::vector<int32_t> filter(size_t(p.channels_out * p.filter_h * p.filter_w * p.filter_words));
  for (int32_t& v : filter) v = int32_t(uint32_t(rng()));
  if (!c.dirty_padding && p.channels_in % 32) {  // lce.h: bits past the channel count are 0
    const uint32_t mask = (uint32_t(1) << (p.channels_in % 32)) - 1;
    for (size_t i = size_t(in_words - 1); i < input.size(); i += size_t(in_words))
      input[i] = int32_t(uint32_t(input[i]) & mask);
    for (size_t i = size_t(p.filter_words - 1); i < filter.size(); i += size_t(p.filter_words))
      filter[i] = int32_t(uint32_t(filter[i]) & mask);
  }
  std::vector<float> mul(size_t(p.channels_out)), bias(mul.size());
  std::vector<int32_t> thr(mul.size());
  const int64_t k_bits = p.filter_h * p.filter_w * cin_g;
  for (size_t i = 0; i < mul.size(); ++i) {
    mul[i] = c.unit_affine ? 1.0f : std::uniform_real_distribution<float>(-1.5f, 1.5f)(rng);
    bias[i] = c.unit_affine ? 0.0f : std::uniform_real_distribution<float>(-20.0f, 20.0f)(rng);
    // around K / 2, where accum mostly is; now and then the converter's constant-bit extremes
    const uint64_t r = rng() % 20;
    thr[i] = r == 0 ? std::numeric_limits<int32_t>::min()
             : r == 1 ? std::numeric_limits<int32_t>::max()
                      : int32_t(k_bits / 2 + int64_t(rng() % 9) - 4);
  }

  std::vector<int32_t> want, got;
  const bool q8 = p.output == Output::kInt8;
  if (q8) {  // a scale that spreads the outputs over the int8 range without saturating most of them
    p.out_scale = float((0.75 * double(k_bits) + 20.0) / 110.0) * (0.5f + float(rng() % 100) / 100.0f);
    p.out_zero_point = int32_t(rng() % 61) - 30;
  }
  const auto out_words = [&](int64_t oh, int64_t ow) {
    return size_t(p.batch * oh * ow * (p.output == Output::kBitpacked ? words(p.channels_out) : p.channels_out));
  };
  std::vector<int8_t> want8, got8;  // int8 outputs, widened into want / got to compare
  setenv("REP_DEPLOY_KERNEL", path, 1);
  try {
    BConv2D op(p, filter.data(), mul.data(), bias.data(), thr.data());
    CHECK(std::strcmp(op.kernel_path(), path) == 0, "kernel_path %s, asked for %s", op.kernel_path(), path);
    want.assign(out_words(op.out_h(), op.out_w()), 0x7f7f7f7f);
    got.assign(want.size(), 0x5a5a5a5a);  // different garbage: every output must be written
    want8.assign(q8 ? want.size() : 0, int8_t(0x7f));
    got8.assign(want8.size(), int8_t(0x5a));
    bconv2d_reference(p, input.data(), filter.data(), mul.data(), bias.data(), thr.data(),
                      q8 ? static_cast<void*>(want8.data()) : want.data());
    // in order, in reverse (no task may depend on another's), or on 3 real threads (no two tasks
    // may write the same output word: bit-packed words split between channel runs)
    static ThreadPool pool(3);
    const uint64_t how = c.runner >= 0 ? uint64_t(c.runner) : rng() % 3;
    op.run(input.data(), q8 ? static_cast<void*>(got8.data()) : got.data(),
           how == 0 ? ParallelRunner{} : how == 1 ? reversed_runner() : pool.runner());
  } catch (const std::exception& e) {
    CHECK(false, "%s: %s threw %s", path, describe(p).c_str(), e.what());
    return;
  }
  if (q8) {
    size_t inside = 0;  // outputs not saturated: the transform itself is tested, not the clamp
    for (size_t i = 0; i < want.size(); ++i) {
      want[i] = want8[i], got[i] = got8[i];
      inside += want8[i] > -128 && want8[i] < 127;
    }
    CHECK(want.size() < 64 || inside * 2 > want.size(), "%s: %s: only %zu of %zu int8 outputs unsaturated",
          path, describe(p).c_str(), inside, want.size());
  }
  // float outputs are compared as their bits (int32 words): exact, NaN-free here, -0.0 distinct
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < want.size(); ++i)
    if (want[i] != got[i] && bad++ == 0) first = i;
  CHECK(bad == 0, "%s: %s: %zu of %zu outputs differ, first at %zu (want 0x%08x got 0x%08x)%s", path,
        describe(p).c_str(), bad, want.size(), first, unsigned(want[first]), unsigned(got[first]),
        c.unit_affine ? " [integer conv]" : "");
}

BConv2DParams base(int64_t cin, int64_t k, Padding pad, int pad_value, Output out) {
  BConv2DParams p;
  p.batch = 1, p.in_h = 5, p.in_w = 6, p.channels_in = cin, p.channels_out = 37;
  p.filter_h = p.filter_w = k, p.filter_words = words(cin);
  p.padding = pad, p.pad_value = pad_value, p.output = out;
  return p;
}

// Every listed channel count with every padding kind and both outputs, 3x3 stride 1 and 2.
void fixed_cases(const char* path, std::mt19937_64& rng) {
  for (const int64_t cin : {1, 3, 31, 32, 33, 63, 64, 65, 100, 255, 300})
    for (int mode = 0; mode < 7; ++mode) {
      // SAME/0 float, SAME/1 float, VALID float, SAME/1 bitpacked, VALID bitpacked, SAME/1 int8,
      // VALID int8
      const Padding pad = mode == 2 || mode == 4 || mode == 6 ? Padding::kValid : Padding::kSame;
      const int pv = mode == 0 ? 0 : 1;
      Case c;
      c.p = base(cin, 3, pad, pv, mode >= 5 ? Output::kInt8 : mode >= 3 ? Output::kBitpacked : Output::kFloat);
      c.unit_affine = mode == 0;
      c.p.stride_h = c.p.stride_w = 1 + (cin % 2);
      run_case(c, path, rng);
    }
  // images smaller than the (dilated) kernel: SAME pads everything, VALID has no output
  for (const Padding pad : {Padding::kSame, Padding::kValid}) {
    Case c;
    c.p = base(65, 5, pad, 0, Output::kFloat);
    c.p.in_h = 2, c.p.in_w = 3, c.p.dilation_h = 2;
    c.unit_affine = true;
    run_case(c, path, rng);
  }
  // a 7x7 map is one pixel task: its output channels are split into runs of 32-channel blocks
  // (float, grouped float, bit-packed with a partial last word; grouped bit-packed is not split)
  for (int kind = 0; kind < 4; ++kind)
    for (int runner = 0; runner < 3; ++runner) {
      Case c;
      c.p = base(256, 3, Padding::kSame, 1, kind >= 2 ? Output::kBitpacked : Output::kFloat);
      c.p.in_h = c.p.in_w = 7;
      c.p.channels_out = kind == 2 ? 100 : 200;
      if (kind == 1 || kind == 3) c.p.filter_words = 4, c.p.channels_in = 256;  // 2 groups
      if (kind == 3) c.p.channels_out = 80;
      c.runner = runner;
      run_case(c, path, rng);
    }
  // long dot products (the GEMM's K >= 8 words paths, flushes past 31 * 8 words)
  for (const int64_t cin : {512, 1024}) {
    Case c;
    c.p = base(cin, 3, Padding::kSame, 0, Output::kFloat);
    c.p.channels_out = 70;
    c.unit_affine = true;
    run_case(c, path, rng);
  }
}

Case random_case(std::mt19937_64& rng) {
  static const int64_t chans[] = {1, 2, 3, 7, 16, 31, 32, 33, 63, 64, 65, 96, 100, 127, 128, 129, 200, 255, 256, 300};
  static const int64_t kernels[][2] = {{1, 1}, {3, 3}, {3, 3}, {3, 3}, {5, 5}, {1, 3}, {3, 1}, {2, 2}, {3, 5}};
  Case c;
  BConv2DParams& p = c.p;
  const auto* kk = kernels[rng() % 9];
  p.filter_h = kk[0], p.filter_w = kk[1];
  p.stride_h = 1 + int64_t(rng() % 2), p.stride_w = rng() % 4 ? p.stride_h : 1 + int64_t(rng() % 2);
  p.dilation_h = 1 + int64_t(rng() % 2), p.dilation_w = rng() % 4 ? p.dilation_h : 1 + int64_t(rng() % 2);
  p.padding = rng() % 3 == 0 ? Padding::kValid : Padding::kSame;
  p.pad_value = int(rng() % 2);
  const uint64_t kind = rng() % 6;
  p.output = kind < 2 ? Output::kBitpacked : kind == 2 ? Output::kInt8 : Output::kFloat;
  if (p.output != Output::kFloat && p.padding == Padding::kSame) p.pad_value = 1;
  p.activation = p.output != Output::kBitpacked ? Activation(rng() % 4) : Activation::kNone;
  p.batch = 1 + int64_t(rng() % 3);
  p.in_h = 1 + int64_t(rng() % 10);
  p.in_w = rng() % 10 == 0 ? 60 + int64_t(rng() % 20) : 1 + int64_t(rng() % 10);  // > 64: two tasks
  if (rng() % 5 == 0) {  // grouped: Cin / groups a multiple of 32
    const int64_t groups = 2 + int64_t(rng() % 3), cin_g = 32 * (1 + int64_t(rng() % 3));
    p.channels_in = groups * cin_g;
    p.filter_words = cin_g / 32;
    p.channels_out = groups * (1 + int64_t(rng() % 24));
  } else {
    p.channels_in = chans[rng() % 20];
    p.filter_words = words(p.channels_in);
    p.channels_out = rng() % 2 ? chans[rng() % 20] : 1 + int64_t(rng() % 80);
  }
  c.unit_affine = p.output == Output::kFloat && rng() % 3 == 0;
  c.dirty_padding = rng() % 6 == 0;
  return c;
}

void test_quantize(std::mt19937_64& rng) {
  for (const int64_t channels : {1, 5, 31, 32, 33, 64, 65, 100}) {
    const int64_t rows = 3, nw = words(channels);
    std::vector<float> x(size_t(rows * channels));
    for (size_t i = 0; i < x.size(); ++i) {
      const uint64_t r = rng() % 10;
      x[i] = r == 0 ? 0.0f : r == 1 ? -0.0f : r == 2 ? std::numeric_limits<float>::quiet_NaN()
                                            : std::uniform_real_distribution<float>(-2.0f, 2.0f)(rng);
    }
    std::vector<int32_t> q(size_t(rows * nw), 0x5a5a5a5a);
    quantize(x.data(), rows, channels, q.data());
    std::vector<float> back(x.size());
    dequantize(q.data(), rows, channels, back.data());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < nw * 32; ++c) {
        const int bit = (uint32_t(q[size_t(r * nw + c / 32)]) >> (c % 32)) & 1;
        const int want = c < channels && x[size_t(r * channels + c)] < 0.0f;  // 0, -0, NaN: +1
        CHECK(bit == want, "quantize C=%lld row %lld channel %lld: bit %d", (long long)channels,
              (long long)r, (long long)c, bit);
        if (c < channels)
          CHECK(back[size_t(r * channels + c)] == (want ? -1.0f : 1.0f), "dequantize C=%lld channel %lld",
                (long long)channels, (long long)c);
      }
    // int8 (quantized models): -1 below the zero point; back to the quantized +-1
    for (const int32_t zp : {-128, -3, 0, 5, 127}) {
      std::vector<int8_t> x8(size_t(rows * channels));
      for (int8_t& v : x8) v = int8_t(int(rng() % 256) - 128);
      quantize(x8.data(), rows, channels, zp, q.data());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < nw * 32; ++c) {
          const int bit = (uint32_t(q[size_t(r * nw + c / 32)]) >> (c % 32)) & 1;
          CHECK(bit == (c < channels && x8[size_t(r * channels + c)] < zp), "quantize int8 zp=%d C=%lld "
                "channel %lld: bit %d", zp, (long long)channels, (long long)c, bit);
        }
      for (const float scale : {1.0f / 3, 0.25f, 0.0101f, 2.0f}) {
        std::vector<int8_t> out(size_t(rows * channels), 0x5a);
        dequantize(q.data(), rows, channels, scale, zp, out.data());
        const int32_t one = int32_t(std::lround(1.0 / scale));  // 3, 4, 99, 1 (0.5 rounds away from 0)
        for (int64_t i = 0; i < rows * channels; ++i) {
          const int want = x8[size_t(i)] < zp ? std::max(-128, zp - one) : std::min(127, zp + one);
          CHECK(out[size_t(i)] == want, "dequantize int8 scale %g zp %d: %d, want %d", double(scale), zp,
                int(out[size_t(i)]), want);
        }
      }
    }
  }
}

// LceBMaxPool2d: bmaxpool2d (separable word ANDs, in order / reversed / on 3 threads) against
// bmaxpool2d_reference (per channel, the max of the window's +-1 values), every bit.
void bmaxpool_case(const BMaxPool2DParams& p, std::mt19937_64& rng) {
  char what[200];
  std::snprintf(what, sizeof what, "LceBMaxPool2d N=%lld H=%lld W=%lld words=%lld f=%lldx%lld s=%lldx%lld %s",
                (long long)p.batch, (long long)p.in_h, (long long)p.in_w, (long long)p.words,
                (long long)p.filter_h, (long long)p.filter_w, (long long)p.stride_h, (long long)p.stride_w,
                p.padding == Padding::kSame ? "SAME" : "VALID");
  std::vector<int32_t> input(size_t(p.batch * p.in_h * p.in_w * p.words));
  // mostly -1 bits (an AND of random words is soon 0 everywhere), so windows keep both outcomes
  for (int32_t& v : input) v = int32_t(uint32_t(rng()) | uint32_t(rng()) | uint32_t(rng()));
  const PoolShape s = bmaxpool2d_shape(p);
  const size_t n = size_t(p.batch * s.out_h * s.out_w * p.words);
  std::vector<int32_t> want(n, 0x7f7f7f7f), got(n, 0x5a5a5a5a);  // every output word must be written
  bmaxpool2d_reference(p, input.data(), want.data());
  static ThreadPool pool(3);
  const uint64_t how = rng() % 3;
  bmaxpool2d(p, input.data(), got.data(), how == 0 ? ParallelRunner{} : how == 1 ? reversed_runner() : pool.runner());
  size_t bad = 0, first = 0, ones = 0;
  for (size_t i = 0; i < n; ++i) {
    ones += size_t(__builtin_popcount(uint32_t(want[i])));
    if (want[i] != got[i] && bad++ == 0) first = i;
  }
  CHECK(bad == 0, "%s: %zu of %zu words differ, first at %zu (want 0x%08x got 0x%08x)", what, bad, n, first,
        unsigned(want[first]), unsigned(got[first]));
  CHECK(n == 0 || (ones > 0 && ones < 32 * n), "%s: the oracle's output is constant (%zu of %zu bits set)",
        what, ones, 32 * n);
}

void test_bmaxpool(std::mt19937_64& rng, int cases) {
  const auto make = [](int64_t n, int64_t h, int64_t w, int64_t nw, int64_t fh, int64_t fw, int64_t sh,
                       int64_t sw, Padding pad) {
    BMaxPool2DParams p;
    p.batch = n, p.in_h = h, p.in_w = w, p.words = nw, p.filter_h = fh, p.filter_w = fw;
    p.stride_h = sh, p.stride_w = sw, p.padding = pad;
    return p;
  };
  // the converter's usual pools: 2x2/2 VALID, 3x3/2 SAME on even and odd maps, 3x3/1 SAME
  for (const Padding pad : {Padding::kSame, Padding::kValid})
    for (const int64_t size : {1, 2, 7, 8, 56})
      for (const int64_t f : {2, 3}) {
        bmaxpool_case(make(2, size, size, 2, f, f, 2, 2, pad), rng);
        bmaxpool_case(make(1, size, size + 3, 3, f, f, 1, 1, pad), rng);
      }
  // filters larger than the image: SAME clips every window, VALID has no output
  bmaxpool_case(make(1, 2, 3, 1, 4, 5, 1, 2, Padding::kSame), rng);
  const BMaxPool2DParams none = make(1, 2, 3, 1, 4, 5, 1, 1, Padding::kValid);
  CHECK(bmaxpool2d_shape(none).out_h == 0 && bmaxpool2d_shape(none).out_w == 0, "VALID 4x5 on 2x3 has an output");
  bmaxpool_case(make(1, 5, 2, 1, 3, 3, 1, 1, Padding::kValid), rng);  // out_h 3, out_w 0
  bmaxpool_case(make(0, 5, 5, 2, 3, 3, 2, 2, Padding::kSame), rng);   // batch 0
  for (int i = 0; i < cases; ++i) {
    const int64_t h = 1 + int64_t(rng() % 12), w = rng() % 8 == 0 ? 60 + int64_t(rng() % 20) : 1 + int64_t(rng() % 12);
    bmaxpool_case(make(1 + int64_t(rng() % 3), h, w, 1 + int64_t(rng() % 5), 1 + int64_t(rng() % 4),
                       1 + int64_t(rng() % 4), 1 + int64_t(rng() % 3), 1 + int64_t(rng() % 3),
                       rng() % 2 ? Padding::kSame : Padding::kValid),
                  rng);
  }
  const auto expect = [](const BMaxPool2DParams& p, const char* needle) {
    try {
      bmaxpool2d_shape(p);
      CHECK(false, "LceBMaxPool2d: no error (expected '%s')", needle);
    } catch (const std::invalid_argument& e) {
      CHECK(std::strstr(e.what(), needle) != nullptr && std::strncmp(e.what(), "LceBMaxPool2d: ", 15) == 0,
            "error '%s' lacks '%s'", e.what(), needle);
    }
  };
  expect(make(1, 4, 4, 1, 0, 2, 1, 1, Padding::kSame), "filter_height and filter_width");
  expect(make(1, 4, 4, 1, 2, 2, 1, 0, Padding::kSame), "stride_height and stride_width");
  expect(make(1, 4, 4, 0, 2, 2, 1, 1, Padding::kSame), "bit-packed word");
  expect(make(1, 0, 4, 1, 2, 2, 1, 1, Padding::kSame), "positive height and width");
  expect(make(1, 4, 4, 1, 2, 2, 1, 1, Padding(2)), "padding must be 0 (SAME) or 1 (VALID)");
}

void expect_error(const BConv2DParams& p, const char* needle) {
  std::vector<int32_t> filter(4096, 0);
  std::vector<float> f(4096, 1.0f);
  try {
    BConv2D op(p, filter.data(), f.data(), f.data(), filter.data());
    CHECK(false, "no error for %s (expected '%s')", describe(p).c_str(), needle);
  } catch (const std::invalid_argument& e) {
    CHECK(std::strstr(e.what(), needle) != nullptr, "error '%s' lacks '%s'", e.what(), needle);
  }
}

// The LiteRT adapter's pool (thread_pool.h): every item of every job runs exactly once, also for
// empty and one-item jobs, after the workers fell asleep, and while a second thread runs jobs on
// the same pool (one of the two then runs its job alone).
void test_thread_pool(std::mt19937_64& rng) {
  struct Count {
    std::vector<std::atomic<int>> hits;
    explicit Count(size_t n) : hits(n) {}
  };
  const auto item = [](void* usr, size_t i) { static_cast<Count*>(usr)->hits[i].fetch_add(1); };
  const auto jobs = [&](ThreadPool& pool, int n, uint64_t seed) {
    std::mt19937_64 r(seed);
    for (int j = 0; j < n; ++j) {
      Count count(r() % 70);
      pool.run(item, count.hits.size(), &count);
      for (size_t i = 0; i < count.hits.size(); ++i)
        CHECK(count.hits[i].load() == 1, "thread pool (%d threads): job %d of %zu items ran item %zu "
              "%d times", pool.threads(), j, count.hits.size(), i, count.hits[i].load());
      if (r() % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // workers asleep
    }
  };
  for (const int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    jobs(pool, 300, rng());
    std::thread other([&, seed = rng()] { jobs(pool, 300, seed); });
    jobs(pool, 300, rng());
    other.join();
  }
}

void test_errors() {
  BConv2DParams p = base(64, 3, Padding::kSame, 0, Output::kBitpacked);
  expect_error(p, "bit-packed output needs padding VALID or SAME with pad_values 1");
  p = base(64, 3, Padding::kSame, 2, Output::kFloat);
  expect_error(p, "pad_values must be 0 or 1");
  p = base(96, 3, Padding::kSame, 1, Output::kFloat);
  p.filter_words = 2;  // 3 words do not split into groups of 2
  expect_error(p, "must divide the input's words(channels_in)");
  p = base(80, 3, Padding::kSame, 1, Output::kFloat);
  p.filter_words = 1;  // 3 words -> 3 groups, but 80 / 3 is not a multiple of 32
  expect_error(p, "multiple of 32");
  p = base(64, 3, Padding::kValid, 1, Output::kBitpacked);
  p.activation = Activation::kRelu;
  expect_error(p, "no fused activation");
  p = base(64, 3, Padding::kSame, 1, Output::kFloat);
  p.stride_h = 0;
  expect_error(p, "stride_height");
  expect_error(base(64, 3, Padding::kSame, 0, Output::kInt8), "int8 output needs padding VALID or SAME with pad_values 1");
  p = base(64, 3, Padding::kValid, 1, Output::kInt8);
  p.out_scale = 0.0f;
  expect_error(p, "positive, finite output scale");
  p.out_scale = 0.5f, p.out_zero_point = 128;
  expect_error(p, "zero point must be in [-128, 127]");
  setenv("REP_DEPLOY_KERNEL", "bogus", 1);
  expect_error(base(64, 3, Padding::kSame, 1, Output::kFloat), "choose one of");
}

}  // namespace

int main(int argc, char** argv) {
  rep_deploy_tests::Args args{200, 20261203ULL};
  if (!rep_deploy_tests::parse_args(argc, argv, &args)) return 2;
  if (args.transpose) {  // LCE's op transposes no bits: the flag would silently change nothing
    std::fprintf(stderr, "test_lce: --transpose is test_core's (LCE's op uses no transpose_bits)\n");
    return 2;
  }
  const int cases = args.cases;
  const uint64_t seed = args.seed;
  const char* only = args.only;
  std::vector<const char*> paths;
  for (const Kernel& k : rep_deploy_tests::kernels_under_test(only)) paths.push_back(k.name);
  if (paths.empty()) return only ? 77 : 1;  // 77: ctest "skipped"

  std::mt19937_64 rng(seed);
  test_quantize(rng);
  for (const char* path : paths) fixed_cases(path, rng);
  for (int i = 0; i < cases; ++i) {
    const Case c = random_case(rng);
    for (const char* path : paths) run_case(c, path, rng);
  }
  test_bmaxpool(rng, cases);
  test_errors();
  test_thread_pool(rng);
  std::printf("%d random cases, seed %llu: %s (%d failures)\n", cases, (unsigned long long)seed,
              rep_deploy_tests::failures() ? "FAILED" : "ok", rep_deploy_tests::failures());
  return rep_deploy_tests::failures() ? 1 : 0;
}
