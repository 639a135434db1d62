// Tier-1 tests: every optimized kernel path against the C++ reference, on a seeded grid of shapes.
//
// The reference (core/reference.cc) is a direct convolution from float input and ONNX-packed
// weights, so these checks also cover activation packing, weight repacking, padding patterns, the
// exact zero-padding correction and the output transform. Everything must match bit for bit.
// Usage: test_core [--cases N | --cases-from-env] [--seed S] [--kernel NAME] [--transpose NAME]
// (exit status 0 = all passed, 77 = the requested kernel is not supported here)
#include <algorithm>
#include <atomic>
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
#include <utility>
#include <vector>

#include "../binary_conv.h"
#include "../bitpack.h"
#include "../kernels.h"
#include "../reference.h"
#include "../repeat.h"

#include "check.h"
using namespace rep_deploy::core;

namespace {

// Three threads taking tasks in order from a shared counter, as ORT's pool does: tiles of
// neighbouring tasks that share sign words (pixel_chunks) then really run at the same time.
ParallelRunner threaded_runner() {
  ParallelRunner r;
  r.call = [](void*, void (*fn)(void*, size_t), size_t total, void* usr) {
    std::atomic<size_t> next{0};
    const auto work = [&] {
      for (size_t i; (i = next.fetch_add(1)) < total;) fn(usr, i);
    };
    std::thread a(work), b(work);
    work();
    a.join(), b.join();
  };
  return r;
}

bool same_bits(float a, float b) {
  uint32_t ua, ub;
  std::memcpy(&ua, &a, 4);
  std::memcpy(&ub, &b, 4);
  return ua == ub;
}

void test_transpose64(std::mt19937_64& rng) {
  for (int rep = 0; rep < 20; ++rep) {
    uint64_t m[64], orig[64];
    for (int i = 0; i < 64; ++i) orig[i] = m[i] = rng();
    transpose64(m);
    bool ok = true;
    for (int r = 0; r < 64; ++r)
      for (int c = 0; c < 64; ++c) ok &= ((m[r] >> c) & 1) == ((orig[c] >> r) & 1);
    CHECK(ok, "transpose64 mismatch");
  }
}

float random_value(std::mt19937_64& rng) {
  const uint64_t r = rng() % 100;
  if (r < 6) return 0.0f;   // sign(0) = +1
  if (r < 9) return -0.0f;  // -0.0 >= 0 is true: +1 as well
  if (r < 10) return std::numeric_limits<float>::quiet_NaN();  // NaN >= 0 is false: -1
  return std::uniform_real_distribution<float>(-2.0f, 2.0f)(rng);
}

void test_packers(const Kernel& k, std::mt19937_64& rng) {
  for (int rep = 0; rep < 40; ++rep) {
    const int64_t n = 1 + int64_t(rng() % 300);
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = random_value(rng);
    const size_t words = size_t((n + 63) / 64);
    std::vector<uint64_t> got(words, 0xdeadbeefull), want(words, 0xdeadbeefull);
    // thresholds: 0, -0, a random value, a value taken from x (ties: x >= t is +1), NaN (all -1)
    const float picks[] = {0.0f, -0.0f, std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng),
                           x[size_t(rng() % uint64_t(n))], std::numeric_limits<float>::quiet_NaN()};
    const float t = picks[rep % 5];
    k.sign_row(x.data(), n, t, got.data());
    for (size_t i = 0; i < words; ++i) {
      uint64_t w = 0;
      for (int64_t b = 0; b < 64 && int64_t(i) * 64 + b < n; ++b) w |= uint64_t(x[i * 64 + size_t(b)] >= t) << b;
      want[i] = w;
    }
    CHECK(got == want, "sign_row[%s] n=%lld threshold=%g", k.name, (long long)n, double(t));
  }
  // the edges first (a whole tile, an octet's first and last channel, a 14x14 or 7x7 map's last
  // tile), then random sizes; rows exactly nc * row_stride long (ASan catches a read past them),
  // and every word of `out` between the strided ones must stay as it was
  const int edge_nc[] = {64, 1, 8, 9, 63, 64, 56, 64}, edge_np[] = {64, 64, 1, 4, 49, 63, 64, 2};
  for (int rep = 0; rep < 48; ++rep) {
    const int nc = rep < 8 ? edge_nc[rep] : 1 + int(rng() % 64);
    const int np = rep < 8 ? edge_np[rep] : 1 + int(rng() % 64);
    const int64_t row_stride = 1 + int64_t(rng() % 4), out_stride = 1 + int64_t(rng() % 3);
    std::vector<uint64_t> rows(size_t(nc * row_stride));
    for (uint64_t& v : rows) v = rng();
    std::vector<uint64_t> got(size_t(np * out_stride), 7), ref(size_t(np * out_stride), 7);
    k.transpose_bits(rows.data(), row_stride, nc, np, got.data(), out_stride);
    transpose_bits_portable(rows.data(), row_stride, nc, np, ref.data(), out_stride);
    for (int p = 0; p < np; ++p) {
      uint64_t w = 0;
      for (int c = 0; c < nc; ++c) w |= ((rows[size_t(c * row_stride)] >> p) & 1) << c;
      CHECK(ref[size_t(p * out_stride)] == w, "transpose_bits_portable nc=%d np=%d", nc, np);
      CHECK(got[size_t(p * out_stride)] == w, "transpose_bits[%s] nc=%d np=%d p=%d", k.name, nc, np, p);
      for (int64_t q = 1; q < out_stride; ++q)
        CHECK(got[size_t(p * out_stride + q)] == 7, "transpose_bits[%s] wrote between its words", k.name);
    }
  }
}

// The GEMM with every XOR bit set (activations all ones, weights all zeros): every count is
// 64 * K, the most a dot product holds. Random data puts about 4 per byte in the carry-save
// byte counters, so only this finds a missing flush (they overflow past 31 steps of 8 words):
// lengths around the 248 words where the first flush falls (248 and 252 in the generic loop, 288,
// a 3x3 conv over 2048 channels, in avx2's and NEON's fixed-length kernels), longer ones, and the
// other lengths with dedicated kernels.
void test_bgemm_saturated(const Kernel& k) {
  if (!k.bgemm) return;
  for (const int64_t K : {8, 9, 16, 18, 32, 36, 72, 144, 248, 252, 288, 300, 520}) {
    const int64_t npix = 5, nocb = 2;
    std::vector<uint64_t> x(size_t(npix * K), ~uint64_t(0)), w(size_t(nocb * K * 8), 0);
    std::vector<int64_t> koff(static_cast<size_t>(K));
    for (int64_t i = 0; i < K; ++i) koff[size_t(i)] = i;
    std::vector<int32_t> cnt(size_t(npix * nocb * 8), -1);
    BgemmTask t;
    t.x = x.data(), t.x_pix_stride = K, t.koff = koff.data(), t.kwords = K, t.tap_words = K;
    t.w = w.data(), t.nocb = nocb, t.npix = npix, t.cnt = cnt.data(), t.cnt_stride = nocb * 8;
    k.bgemm(t);
    bool ok = true;
    for (const int32_t c : cnt) ok &= c == 64 * K;
    CHECK(ok, "bgemm[%s] K=%lld with every bit set: a count is not 64 * K (got %d for the first)",
          k.name, (long long)K, cnt[0]);
  }
}

void test_finish_tile(const Kernel& k, std::mt19937_64& rng) {
  for (int rep = 0; rep < 20; ++rep) {
    const int64_t npix = 1 + int64_t(rng() % 64), nl = 1 + int64_t(rng() % 64);
    const int64_t stride = (nl + 7) / 8 * 8;
    std::vector<int32_t> cnt(size_t(npix * stride)), out(64 * 64, -1);
    for (int32_t& v : cnt) v = int32_t(rng() % 100000);
    const int32_t K = int32_t(rng() % 300000);
    k.finish_tile(cnt.data(), stride, npix, nl, K, out.data());
    bool ok = true;
    for (int64_t p = 0; p < npix; ++p)
      for (int64_t l = 0; l < nl; ++l) ok &= out[size_t(l * 64 + p)] == K - 2 * cnt[size_t(p * stride + l)];
    CHECK(ok, "finish_tile[%s] npix=%lld nl=%lld", k.name, (long long)npix, (long long)nl);
  }
}

struct Case {
  ConvAttrs a;
  int64_t n, cin, h, w, cout;
};

Case random_case(std::mt19937_64& rng) {
  static const int64_t chans[] = {1, 2, 3, 7, 8, 9, 16, 31, 32, 33, 63, 64, 65, 96, 100, 127, 128, 129, 191, 200, 256, 300};
  static const int64_t kernels[][2] = {{1, 1}, {3, 3}, {3, 3}, {3, 3}, {1, 3}, {5, 5}, {2, 2}, {3, 1}};
  for (;;) {
    Case c;
    const auto* kk = kernels[rng() % 8];
    c.a.kh = kk[0], c.a.kw = kk[1];
    c.a.sh = 1 + int64_t(rng() % 2), c.a.sw = rng() % 4 ? c.a.sh : 1 + int64_t(rng() % 2);
    c.a.dh = 1 + int64_t(rng() % 2), c.a.dw = rng() % 4 ? c.a.dh : 1 + int64_t(rng() % 2);
    const int64_t pad = int64_t(rng() % 3);
    c.a.pt = c.a.pl = c.a.pb = c.a.pr = pad;
    if (rng() % 5 == 0) c.a.pb = int64_t(rng() % 3), c.a.pr = int64_t(rng() % 3);  // asymmetric
    c.a.pad_value = int64_t(rng() % 3) - 1;
    static const int64_t groups[] = {1, 1, 1, 2, 3, 4};
    c.a.group = groups[rng() % 6];
    c.n = 1 + int64_t(rng() % 3);
    c.cin = chans[rng() % 22] * (c.a.group > 1 ? c.a.group : 1);
    c.cout = (rng() % 2 ? chans[rng() % 22] : 1 + int64_t(rng() % 80)) * c.a.group;
    if (c.cin > 300 && c.a.group == 1) continue;
    c.h = 1 + int64_t(rng() % 12);
    c.w = rng() % 8 == 0 ? 60 + int64_t(rng() % 80) : 1 + int64_t(rng() % 12);  // > 64 wide: x tiles
    ConvShape s;
    if (make_conv_shape(c.a, c.n, c.cin, c.h, c.w, c.cout, &s).empty()) return c;
  }
}

void run_case(const Case& c, const std::vector<Kernel>& kernels, std::mt19937_64& rng) {
  ConvShape s;
  const std::string err = make_conv_shape(c.a, c.n, c.cin, c.h, c.w, c.cout, &s);
  CHECK(err.empty(), "make_conv_shape: %s", err.c_str());
  if (!err.empty()) return;
  std::vector<float> x(size_t(s.n * s.cin * s.h * s.w));
  for (float& v : x) v = random_value(rng);
  std::vector<uint8_t> w(size_t(s.cout * s.w_row_bytes));
  for (uint8_t& b : w) b = uint8_t(rng());
  const int64_t repeats = 1 + int64_t(rng() % 3);
  std::vector<float> mul(size_t(s.cout * repeats)), add(mul.size());
  for (float& v : mul) v = std::uniform_real_distribution<float>(-1.5f, 1.5f)(rng);
  for (float& v : add) v = std::uniform_real_distribution<float>(-3.0f, 3.0f)(rng);
  const size_t ysize = size_t(s.n * s.cout * repeats * s.ho * s.wo);
  std::vector<float> residual(ysize);
  for (float& v : residual) v = std::uniform_real_distribution<float>(-3.0f, 3.0f)(rng);

  // BinaryConvBlock: per-channel thresholds (some exactly 0 or equal to an input value: ties are
  // +1), RPReLU parameters of both signs so that both branches and the -0 case occur
  std::vector<float> threshold(size_t(s.cin)), pre(mul.size()), slope(mul.size()), post(mul.size());
  for (float& v : threshold) {
    const uint64_t r = rng() % 4;
    v = r == 0 ? 0.0f : r == 1 ? x[size_t(rng() % x.size())]
                               : std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng);
  }
  for (float& v : pre) v = std::uniform_real_distribution<float>(-2.0f, 2.0f)(rng);
  for (float& v : slope) v = std::uniform_real_distribution<float>(-0.5f, 1.5f)(rng);
  for (float& v : post) v = std::uniform_real_distribution<float>(-2.0f, 2.0f)(rng);

  // every other case binarizes at the thresholds (one reference accumulator per case: it is slow)
  const float* thr = rng() % 2 ? threshold.data() : nullptr;
  std::vector<int32_t> want_acc(size_t(s.n * s.cout * s.ho * s.wo));
  reference_accumulator(s, x.data(), thr, w.data(), want_acc.data());
  OutputTransform plain;  // BinaryConv: scale only
  plain.mul = mul.data();
  OutputTransform fused;
  fused.mul = mul.data(), fused.add = add.data(), fused.residual = residual.data();
  fused.repeats = repeats;
  OutputTransform block = fused;
  block.pre = pre.data(), block.slope = slope.data(), block.post = post.data();
  // the block's options are drawn from a side generator, so the main stream (and with it the
  // shapes of the cases that follow) is the same as without them
  std::mt19937_64 side(uint64_t(s.n * 1000003 + s.cin * 10007 + s.cout * 101 + s.h));
  // the channel-doubling pair form: accumulator splits and a residual tiled along channels
  // (random divisors of cout and of cout * repeats; 1 leaves the plain block)
  const auto divisor = [&](int64_t v) {
    std::vector<int64_t> d;
    for (int64_t i = 1; i <= v && i <= 4; ++i)
      if (v % i == 0) d.push_back(i);
    return d[size_t(side() % d.size())];
  };
  block.splits = divisor(s.cout);
  block.residual_channels = s.cout * repeats / divisor(s.cout * repeats);
  // every other case: the residual average-pooled inside the op (ReActNet's downsampling shortcut)
  std::vector<float> big_residual;
  if (side() % 2) {
    block.pool_h = 1 + int64_t(side() % 3), block.pool_w = 1 + int64_t(side() % 2);
    block.residual_h = s.ho * block.pool_h + (block.pool_h > 1 ? int64_t(side() % 2) : 0);
    block.residual_w = s.wo * block.pool_w + (block.pool_w > 1 ? int64_t(side() % 2) : 0);
    big_residual.resize(size_t(s.n * block.residual_channels * block.residual_h * block.residual_w));
    for (float& v : big_residual) v = std::uniform_real_distribution<float>(-3.0f, 3.0f)(rng);
    block.residual = big_residual.data();
  }
  // the RPReLU select's edges, on one channel in 4: slopes 0, -0, 1 and just above, negative and
  // NaN; channels where u is -0 wherever the residual is -0, and so is y (mul, add, pre and post
  // -0: acc * -0 is -0 for acc >= 0), so a select that gets the sign of a zero wrong shows (a
  // blend on u's sign bit instead of u >= 0 fails 425 checks here, none without these); a few -0
  // and NaN residuals
  const float edge_slopes[] = {0.0f, -0.0f, 1.0f, std::nextafter(1.0f, 2.0f), -0.25f,
                               std::numeric_limits<float>::quiet_NaN()};
  for (size_t j = 0; j < slope.size(); ++j) {
    if (side() % 4) continue;
    slope[j] = edge_slopes[side() % 6];
    if (side() % 2) mul[j] = add[j] = pre[j] = post[j] = -0.0f;
  }
  for (std::vector<float>* r : {&residual, &big_residual})
    for (float& v : *r) {
      const uint64_t e = side() % 64;
      v = e == 0 ? -0.0f : e == 1 ? std::numeric_limits<float>::quiet_NaN() : v;
    }
  std::vector<float> want_plain(want_acc.size()), want_fused(ysize), want_block(ysize);
  reference_output(s, want_acc.data(), plain, want_plain.data());
  reference_output(s, want_acc.data(), fused, want_fused.data());
  reference_output(s, want_acc.data(), block, want_block.data());

  // sign bits: of x at the block's thresholds (what its producer would write), and of the block's
  // output at the next op's thresholds (some equal to an output value: ties are +1)
  const int64_t cy = s.cout * repeats;
  const auto pack_signs = [](const float* v, int64_t planes, int64_t hw, const float* t, int64_t tc) {
    std::vector<uint64_t> out(size_t(planes * plane_words(1, hw)));
    reference_signs(v, planes, hw, t, tc, out.data());
    return out;
  };
  const std::vector<uint64_t> x_signs = pack_signs(x.data(), s.n * s.cin, s.h * s.w, thr, s.cin);
  std::vector<float> sign_threshold(static_cast<size_t>(cy));
  for (float& v : sign_threshold)
    v = side() % 3 ? std::uniform_real_distribution<float>(-2.0f, 2.0f)(side)
                   : want_block[size_t(side() % want_block.size())];
  const std::vector<uint64_t> want_signs =
      pack_signs(want_block.data(), s.n * cy, s.ho * s.wo, sign_threshold.data(), cy);

  PackedWeights pw;
  pack_weights(w.data(), s, &pw);
  const std::string desc = std::string(thr ? "thresholds, " : "") + "N=" + std::to_string(s.n) + " Cin=" + std::to_string(s.cin) +
                           " HxW=" + std::to_string(s.h) + "x" + std::to_string(s.w) +
                           " Cout=" + std::to_string(s.cout) + " " + s.a.to_string();
  ParallelRunner serial;
  for (const Kernel& k : kernels) {
    std::vector<int32_t> acc(want_acc.size(), 12345);
    binary_conv_accumulator(s, x.data(), thr, pw, k, acc.data(), serial);
    size_t bad = 0;
    for (size_t i = 0; i < acc.size(); ++i) bad += acc[i] != want_acc[i];
    CHECK(bad == 0, "[%s] accumulator: %zu of %zu differ; %s", k.name, bad, acc.size(), desc.c_str());
    std::vector<float> y(want_plain.size());
    binary_conv_forward(s, x.data(), thr, pw, k, plain, y.data(), serial);
    bad = 0;
    for (size_t i = 0; i < y.size(); ++i) bad += !same_bits(y[i], want_plain[i]);
    CHECK(bad == 0, "[%s] scale output: %zu differ; %s", k.name, bad, desc.c_str());
    std::vector<float> yf(ysize);
    binary_conv_forward(s, x.data(), thr, pw, k, fused, yf.data(), serial);
    bad = 0;
    for (size_t i = 0; i < yf.size(); ++i) bad += !same_bits(yf[i], want_fused[i]);
    CHECK(bad == 0, "[%s] fused output (repeats=%lld): %zu differ; %s", k.name, (long long)repeats,
          bad, desc.c_str());
    std::vector<float> yb(ysize);
    binary_conv_forward(s, x.data(), thr, pw, k, block, yb.data(), serial);
    bad = 0;
    for (size_t i = 0; i < yb.size(); ++i) bad += !same_bits(yb[i], want_block[i]);
    CHECK(bad == 0, "[%s] block output (threshold + RPReLU, repeats=%lld, splits=%lld, residual "
          "channels=%lld, pool %lldx%lld): %zu differ; %s", k.name, (long long)repeats,
          (long long)block.splits, (long long)block.residual_channels, (long long)block.pool_h,
          (long long)block.pool_w, bad, desc.c_str());

    // linked blocks: the block also writes the next op's sign bits of its output, and a block
    // given its input's sign bits (instead of binarizing x) gives the same output
    OutputTransform linked = block;
    std::vector<uint64_t> signs(size_t(s.n * cy * plane_words(s.ho, s.wo)), ~uint64_t(0));
    linked.sign_threshold = sign_threshold.data(), linked.signs = signs.data();
    // its table of rows built once by the caller (as ORT kernels do for constant vectors), here
    // and in the pooled runs below
    const std::vector<TileRow> linked_rows = tile_rows(s, linked);
    linked.rows = linked_rows.data();
    std::fill(yb.begin(), yb.end(), 0.0f);
    binary_conv_forward(s, x.data(), thr, pw, k, linked, yb.data(), serial, x_signs.data());
    bad = 0;
    for (size_t i = 0; i < yb.size(); ++i) bad += !same_bits(yb[i], want_block[i]);
    CHECK(bad == 0, "[%s] block output from the input's sign bits: %zu differ; %s", k.name, bad,
          desc.c_str());
    CHECK(signs == want_signs, "[%s] the output's sign bits differ; %s", k.name, desc.c_str());

    // the same, Y written 2x2-average-pooled (the producer of a downsampling block's input): the
    // pooled reference output and the full output's signs
    if (s.ho % 2 == 0 && s.wo % 2 == 0) {
      OutputTransform pooled = linked;
      pooled.pool_y = true;
      std::vector<float> want_pooled(ysize / 4), yp(ysize / 4, -7.0f);
      reference_pool_2x2(want_block.data(), s.n * cy, s.ho, s.wo, want_pooled.data());
      std::fill(signs.begin(), signs.end(), ~uint64_t(0));
      binary_conv_forward(s, x.data(), thr, pw, k, pooled, yp.data(), serial, x_signs.data());
      bad = 0;
      for (size_t i = 0; i < yp.size(); ++i) bad += !same_bits(yp[i], want_pooled[i]);
      CHECK(bad == 0, "[%s] block output written pooled: %zu of %zu differ; %s", k.name, bad,
            yp.size(), desc.c_str());
      CHECK(signs == want_signs, "[%s] the sign bits of an output written pooled differ; %s",
            k.name, desc.c_str());
      // its tasks in reverse order: each must hold whole pooling windows, top rows first
      ParallelRunner reverse;
      reverse.call = [](void*, void (*fn)(void*, size_t), size_t total, void* usr) {
        for (size_t i = total; i-- > 0;) fn(usr, i);
      };
      // (tiles of a task may share sign words with the next task's: pixel_chunks)
      std::fill(yp.begin(), yp.end(), -7.0f);
      std::fill(signs.begin(), signs.end(), ~uint64_t(0));
      binary_conv_forward(s, x.data(), thr, pw, k, pooled, yp.data(), reverse, x_signs.data());
      bad = 0;
      for (size_t i = 0; i < yp.size(); ++i) bad += !same_bits(yp[i], want_pooled[i]);
      CHECK(bad == 0, "[%s] block output written pooled, tasks in reverse: %zu differ; %s", k.name,
            bad, desc.c_str());
      CHECK(signs == want_signs, "[%s] the sign bits of an output written pooled, tasks in "
            "reverse, differ; %s", k.name, desc.c_str());
      std::fill(yp.begin(), yp.end(), -7.0f);
      std::fill(signs.begin(), signs.end(), ~uint64_t(0));
      binary_conv_forward(s, x.data(), thr, pw, k, pooled, yp.data(), threaded_runner(),
                          x_signs.data());
      bad = 0;
      for (size_t i = 0; i < yp.size(); ++i) bad += !same_bits(yp[i], want_pooled[i]);
      CHECK(bad == 0 && signs == want_signs, "[%s] block output written pooled, on 3 threads: %zu "
            "differ%s; %s", k.name, bad, signs == want_signs ? "" : ", and sign bits", desc.c_str());
    }
  }
}

// A Repeat folded into the conv: x holds xc channels per image and the convolution's input is x
// tiled `tiles` times along channels (binary_conv_forward's x_channels), per-channel thresholds
// of the tiled input: the same as running on the tiled tensor.
void test_tiled_input(const std::vector<Kernel>& kernels, std::mt19937_64& rng) {
  struct T { int64_t n, xc, tiles, h, w, k, stride, pad_value; };
  for (const T& c : {T{2, 35, 2, 5, 61, 3, 1, 0}, T{1, 3, 4, 7, 7, 1, 1, 1}, T{2, 64, 2, 9, 9, 3, 2, 0},
                     T{1, 32, 2, 12, 70, 3, 1, -1}}) {
    ConvAttrs a;
    a.kh = a.kw = c.k, a.sh = a.sw = c.stride, a.pad_value = c.pad_value;
    a.pt = a.pl = a.pb = a.pr = c.k / 2;
    ConvShape s;
    const int64_t cin = c.xc * c.tiles, cout = 37;
    CHECK(make_conv_shape(a, c.n, cin, c.h, c.w, cout, &s).empty(), "tiled input shape");
    std::vector<float> x(size_t(c.n * c.xc * c.h * c.w)), xt(size_t(c.n * cin * c.h * c.w));
    for (float& v : x) v = random_value(rng);
    const size_t plane = size_t(c.h * c.w);
    for (int64_t n = 0; n < c.n; ++n)
      for (int64_t ch = 0; ch < cin; ++ch)
        std::memcpy(&xt[(n * cin + ch) * plane], &x[(n * c.xc + ch % c.xc) * plane], plane * sizeof(float));
    std::vector<float> thr(static_cast<size_t>(cin)), mul(static_cast<size_t>(cout));
    for (float& v : thr) v = std::uniform_real_distribution<float>(-0.5f, 0.5f)(rng);
    for (float& v : mul) v = std::uniform_real_distribution<float>(-1.5f, 1.5f)(rng);
    std::vector<uint8_t> w(size_t(cout * s.w_row_bytes));
    for (uint8_t& b : w) b = uint8_t(rng());
    std::vector<int32_t> acc(size_t(c.n * cout * s.ho * s.wo));
    reference_accumulator(s, xt.data(), thr.data(), w.data(), acc.data());
    OutputTransform plain;
    plain.mul = mul.data();
    std::vector<float> want(acc.size()), y(acc.size());
    reference_output(s, acc.data(), plain, want.data());
    PackedWeights pw;
    pack_weights(w.data(), s, &pw);
    ParallelRunner serial;
    for (const Kernel& k : kernels) {
      std::fill(y.begin(), y.end(), 0.0f);
      binary_conv_forward(s, x.data(), thr.data(), pw, k, plain, y.data(), serial, nullptr, c.xc);
      size_t bad = 0;
      for (size_t i = 0; i < y.size(); ++i) bad += !same_bits(y[i], want[i]);
      CHECK(bad == 0, "[%s] input tiled %lldx from %lld channels: %zu differ", k.name,
            (long long)c.tiles, (long long)c.xc, bad);
    }
  }
}

void test_repeat() {
  const float x[6] = {1, 2, 3, 4, 5, 6};  // N=2 blocks of 3
  float y[18];
  repeat_channels(x, y, 2, 3 * sizeof(float), 3);
  const float want[18] = {1, 2, 3, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 4, 5, 6};
  CHECK(std::memcmp(y, want, sizeof(y)) == 0, "repeat_channels");
  // blocks of more than one 256 KiB piece (and a partial last piece), the pieces run in reverse
  // order: each must be independent of the others
  const size_t block = (size_t(256) << 10) * 2 + 12;
  std::vector<unsigned char> xb(2 * block), yb(2 * 3 * block);
  for (size_t i = 0; i < xb.size(); ++i) xb[i] = static_cast<unsigned char>(i * 7 + i / 4096);
  ParallelRunner reverse;
  reverse.call = [](void*, void (*fn)(void*, size_t), size_t total, void* usr) {
    for (size_t i = total; i-- > 0;) fn(usr, i);
  };
  repeat_channels(xb.data(), yb.data(), 2, block, 3, reverse);
  bool same = true;
  for (size_t n = 0; n < 2; ++n)
    for (size_t r = 0; r < 3; ++r)
      same &= std::memcmp(yb.data() + (n * 3 + r) * block, xb.data() + n * block, block) == 0;
  CHECK(same, "repeat_channels in pieces");
}

// binary_block_pair_forward against the two blocks run one after the other on the same path:
// P any conv, C a 1x1 of P's output reading it through its sign bits and as its residual. Random
// shapes (channels off the multiples of 8 and 64, stride 2, zero and +-1 padding, repeats, splits,
// tiled residuals, signs in and out), each also with its tasks in reverse order.
void test_block_pairs(const std::vector<Kernel>& kernels, std::mt19937_64& rng, int cases) {
  const auto pick = [&](int64_t lo, int64_t hi) { return lo + int64_t(rng() % uint64_t(hi - lo + 1)); };
  const auto fill = [&](std::vector<float>& v, float lo, float hi) {
    for (float& e : v) e = std::uniform_real_distribution<float>(lo, hi)(rng);
  };
  ParallelRunner serial, reverse, threads = threaded_runner();
  reverse.call = [](void*, void (*fn)(void*, size_t), size_t total, void* usr) {
    for (size_t i = total; i-- > 0;) fn(usr, i);
  };
  for (int i = 0; i < cases; ++i) {
    ConvAttrs ap;
    ap.kh = ap.kw = pick(0, 3) ? 3 : 1;
    ap.sh = ap.sw = pick(0, 2) ? 1 : 2;
    ap.pt = ap.pl = ap.pb = ap.pr = ap.kh / 2;
    ap.pad_value = pick(-1, 1);
    const int64_t n = pick(1, 2), h = pick(3, 20), w = pick(3, 70);
    ConvShape sp, sc;
    const int64_t cin = pick(1, 200), cout_p = pick(1, 70), rp = pick(1, 4);
    if (!make_conv_shape(ap, n, cin, h, w, cout_p, &sp).empty()) continue;
    const int64_t y1c = cout_p * rp;
    const int64_t total = y1c * pick(1, 2);  // C's output channels: a multiple of Y1's (tiling)
    int64_t rc = pick(1, 4);
    while (total % rc) --rc;
    const int64_t cout_c = total / rc;
    ConvAttrs ac;
    ac.kh = ac.kw = 1;
    CHECK(make_conv_shape(ac, n, y1c, sp.ho, sp.wo, cout_c, &sc).empty(), "pair: C's shape");
    std::vector<float> x(static_cast<size_t>(n * cin * h * w)), thr(static_cast<size_t>(cin)),
        c_thr(static_cast<size_t>(y1c));
    for (float& v : x) v = random_value(rng);
    fill(thr, -1.0f, 1.0f);
    fill(c_thr, -2.0f, 2.0f);
    std::vector<uint8_t> wpb(static_cast<size_t>(cout_p * sp.w_row_bytes)),
        wcb(static_cast<size_t>(cout_c * sc.w_row_bytes));
    for (uint8_t& b : wpb) b = uint8_t(rng());
    for (uint8_t& b : wcb) b = uint8_t(rng());
    PackedWeights wp, wc;
    pack_weights(wpb.data(), sp, &wp);
    pack_weights(wcb.data(), sc, &wc);
    const size_t y1n = size_t(n * y1c * sp.ho * sp.wo), y2c = size_t(cout_c * rc);
    std::vector<float> mp(static_cast<size_t>(y1c)), ad_p(mp.size()), pre_p(mp.size()), sl_p(mp.size()),
        po_p(mp.size()), res_p(y1n);
    std::vector<float> mc(y2c), ad_c(y2c), pre_c(y2c), sl_c(y2c), po_c(y2c), s_thr(y2c);
    for (auto* v : {&mp, &mc}) fill(*v, -1.5f, 1.5f);
    for (auto* v : {&ad_p, &ad_c, &pre_p, &pre_c, &po_p, &po_c, &s_thr}) fill(*v, -2.0f, 2.0f);
    for (auto* v : {&sl_p, &sl_c}) fill(*v, -0.5f, 1.5f);
    fill(res_p, -3.0f, 3.0f);
    OutputTransform tp, tc;
    tp.mul = mp.data(), tp.add = ad_p.data(), tp.repeats = rp;
    if (pick(0, 1)) tp.residual = res_p.data(), tp.pre = pre_p.data(), tp.slope = sl_p.data(), tp.post = po_p.data();
    tc.mul = mc.data(), tc.add = ad_c.data(), tc.repeats = rc, tc.residual_channels = y1c;
    tc.splits = cout_c % 2 == 0 && pick(0, 1) ? 2 : 1;
    if (pick(0, 3)) tc.pre = pre_c.data(), tc.slope = sl_c.data(), tc.post = po_c.data();
    const int64_t pw2 = plane_words(sp.ho, sp.wo);
    std::vector<uint64_t> want_signs(size_t(n) * y2c * size_t(pw2)), signs(want_signs.size());
    if (pick(0, 1)) tc.sign_threshold = s_thr.data();
    tc.pool_y = sp.ho % 2 == 0 && sp.wo % 2 == 0 && pick(0, 2) == 0;
    const float* thr_p = pick(0, 1) ? thr.data() : nullptr;
    const float* thr_c = pick(0, 3) ? c_thr.data() : nullptr;
    const std::string desc = "pair: N=" + std::to_string(n) + " Cin=" + std::to_string(cin) + " " +
                             std::to_string(h) + "x" + std::to_string(w) + " " + ap.to_string() +
                             " P out " + std::to_string(cout_p) + "x" + std::to_string(rp) +
                             " C out " + std::to_string(cout_c) + "x" + std::to_string(rc) +
                             " splits " + std::to_string(tc.splits);
    for (const Kernel& k : kernels) {
      if (!k.bgemm) continue;
      std::vector<float> y1(y1n), want(size_t(n) * y2c * size_t(sp.ho * sp.wo) / (tc.pool_y ? 4 : 1)),
          y(want.size());
      binary_conv_forward(sp, x.data(), thr_p, wp, k, tp, y1.data(), serial);
      OutputTransform tc1 = tc;
      tc1.residual = y1.data();
      if (tc.sign_threshold) tc1.signs = want_signs.data();
      binary_conv_forward(sc, y1.data(), thr_c, wc, k, tc1, want.data(), serial);
      // P's and C's tables of rows: built per call (serial), given by the caller (reverse; P's
      // with C's thresholds as its sign thresholds)
      OutputTransform tp_signs = tp;
      const std::vector<float> zero(size_t(y1c), 0.0f);
      tp_signs.sign_threshold = thr_c ? thr_c : zero.data();
      const std::vector<TileRow> rows_p = tile_rows(sp, tp_signs), rows_c = tile_rows(sc, tc);
      for (const ParallelRunner* par : {&serial, &reverse, &threads}) {
        OutputTransform tp2 = tp, tc2 = tc;
        if (par == &reverse) tp2.rows = rows_p.data(), tc2.rows = rows_c.data();
        std::fill(signs.begin(), signs.end(), ~uint64_t(0));
        if (tc.sign_threshold) tc2.signs = signs.data();
        std::fill(y.begin(), y.end(), 0.0f);
        binary_block_pair_forward(sp, x.data(), thr_p, wp, tp2, sc, thr_c, wc, tc2, k, y.data(), *par);
        size_t bad = 0;
        for (size_t j = 0; j < y.size(); ++j) bad += !same_bits(y[j], want[j]);
        CHECK(bad == 0, "[%s] %s: %zu of %zu differ%s", k.name, desc.c_str(), bad, y.size(),
              par == &reverse ? " (tasks in reverse)" : par == &threads ? " (3 threads)" : "");
        CHECK(!tc.sign_threshold || signs == want_signs, "[%s] %s: the sign bits differ", k.name,
              desc.c_str());
      }
    }
  }
}

void test_errors() {
  ConvAttrs a;
  a.kh = a.kw = 3;
  ConvShape s;
  CHECK(make_conv_shape(a, 1, 6, 8, 8, 4, &s).empty(), "valid shape rejected");
  a.group = 4;
  const std::string e = make_conv_shape(a, 1, 6, 8, 8, 4, &s);
  CHECK(e.find("not divisible by group=4") != std::string::npos, "group error: %s", e.c_str());
  a.group = 1;
  const std::string e2 = make_conv_shape(a, 1, 6, 2, 2, 4, &s);
  CHECK(e2.find("too small") != std::string::npos, "size error: %s", e2.c_str());
  Kernel k;
  const std::string e3 = select_kernel("bogus", &k);
  CHECK(e3.find("choose one of") != std::string::npos, "select_kernel error: %s", e3.c_str());
  // binary_block_pair_forward: C must be a 1x1 of P's output, whose residual channels are Y1's
  ConvAttrs a1;
  a1.kh = a1.kw = 1;
  ConvShape sp, sc, sc3;
  a.group = 1, a.pt = a.pl = a.pb = a.pr = 1;
  CHECK(make_conv_shape(a, 1, 6, 8, 8, 4, &sp).empty() && make_conv_shape(a1, 1, 4, 8, 8, 4, &sc).empty() &&
            make_conv_shape(a, 1, 4, 8, 8, 4, &sc3).empty(), "pair shapes");
  select_kernel("portable", &k);
  const std::vector<float> v(64, 1.0f);
  OutputTransform tp, tc;
  tp.mul = tc.mul = tc.add = v.data();
  const auto pair_error = [&](const ConvShape& c, const OutputTransform& t) {
    try {
      binary_block_pair_forward(sp, nullptr, nullptr, PackedWeights(), tp, c, nullptr, PackedWeights(),
                                t, k, nullptr, ParallelRunner());
    } catch (const std::invalid_argument& err) {
      return std::string(err.what());
    }
    return std::string();
  };
  const std::string e4 = pair_error(sc3, tc);
  CHECK(e4.find("C must be a 1x1 conv") != std::string::npos, "pair error: %s", e4.c_str());
  OutputTransform tiled = tc;
  tiled.residual_channels = 2;
  const std::string e5 = pair_error(sc, tiled);
  CHECK(e5.find("residual channels must be Y1's") != std::string::npos, "pair error: %s", e5.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  rep_deploy_tests::Args args{300, 20261122ULL};
  if (!rep_deploy_tests::parse_args(argc, argv, &args)) return 2;
  const int cases = args.cases;
  const uint64_t seed = args.seed;
  const char* only = args.only;
  const std::vector<Kernel> kernels = rep_deploy_tests::kernels_under_test(only, args.transpose);
  if (kernels.empty()) return only ? 77 : 1;  // 77: ctest "skipped"

  std::mt19937_64 rng(seed);
  test_transpose64(rng);
  test_repeat();
  test_errors();
  for (const Kernel& k : kernels) {
    test_packers(k, rng);
    test_finish_tile(k, rng);
    test_bgemm_saturated(k);
  }
  std::mt19937_64 tiled_rng(seed + 1);  // its own stream: the random cases stay those of the seed
  test_tiled_input(kernels, tiled_rng);
  std::mt19937_64 pair_rng(seed + 4);
  test_block_pairs(kernels, pair_rng, std::max(8, cases / 5));
  // the dot-product lengths of the zoo's 1x1 and 3x3 convs (K = 1, 2, 4, 8, 16, 32 and 9, 18, 36, 72,
  // 144, 288 words), which have dedicated kernels on some paths (NEON: all of them; avx2: all from
  // 8 words; the AVX-512 paths: all but 288, and 32 on avx512): every run, not only when a random
  // case hits them
  for (const int64_t cin : {64, 128, 256, 512, 1024, 2048}) {
    for (const int64_t k : {1, 3}) {
      Case c;
      c.a.kh = c.a.kw = k;
      c.a.pt = c.a.pl = c.a.pb = c.a.pr = k / 2;
      c.a.pad_value = k == 3 ? 0 : 1;
      c.n = 1, c.cin = cin, c.h = 3, c.w = 6, c.cout = 20;
      run_case(c, kernels, rng);
    }
  }
  // the zoo's producers of a downsampling block's input (1x1, Y written pooled: rows of 112, 56,
  // 28, 14 pixels, so 64-pixel tiles and pooling windows line up differently) and narrow maps
  std::mt19937_64 pool_rng(seed + 3);
  for (const auto& hw : {std::pair<int64_t, int64_t>{6, 112}, {8, 56}, {18, 28}, {14, 14}, {6, 2},
                         {4, 10}, {2, 38}}) {
    Case c;
    c.a.kh = c.a.kw = 1;
    c.n = 2, c.cin = 64, c.h = hw.first, c.w = hw.second, c.cout = 24;
    run_case(c, kernels, pool_rng);
  }
  // the same lengths with other tap structures (BgemmTask::tap_words != the kernel's words per
  // tap, so NEON walks its offset table word by word): 1x1 over 64 * K channels for the 3x3 lengths,
  // and a 2x1 kernel (two taps of K / 2 words) for the 1x1 lengths; data from their own stream
  std::mt19937_64 taps_rng(seed + 2);
  for (const int64_t words : {9, 18, 36, 72, 144, 288}) {
    Case c;
    c.a.kh = c.a.kw = 1;
    c.n = 1, c.cin = 64 * words, c.h = 2, c.w = 5, c.cout = 12;
    run_case(c, kernels, taps_rng);
  }
  for (const int64_t words : {2, 4, 8, 16, 32}) {
    Case c;
    c.a.kh = 2, c.a.kw = 1;
    c.a.pt = 1, c.a.pad_value = 0;
    c.n = 1, c.cin = 64 * words / 2, c.h = 3, c.w = 6, c.cout = 20;
    run_case(c, kernels, taps_rng);
  }
  // sign planes of rows <= 64 pixels are binarized as one bit string per up to 64 rows and cut
  // into rows: more than 64 rows, rows of exactly 64 pixels, rows straddling words
  for (const int64_t hw : {70 * 1000 + 5, 3 * 1000 + 64, 66 * 1000 + 63, 9 * 1000 + 1}) {
    Case c;
    c.a.kh = c.a.kw = 3;
    c.a.pt = c.a.pl = c.a.pb = c.a.pr = 1;
    c.n = 2, c.cin = 5, c.h = hw / 1000, c.w = hw % 1000, c.cout = 3;
    run_case(c, kernels, rng);
  }
  for (int i = 0; i < cases; ++i) run_case(random_case(rng), kernels, rng);
  std::printf("%d random cases, seed %llu: %s (%d failures)\n", cases, (unsigned long long)seed,
              rep_deploy_tests::failures() ? "FAILED" : "ok", rep_deploy_tests::failures());
  return rep_deploy_tests::failures() ? 1 : 0;
}
