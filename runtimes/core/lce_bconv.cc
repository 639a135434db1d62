// LceBconv2d on the core's blocked XOR-popcount GEMM (lce.h).
//
// LCE packs 32 channels per int32 word, bit 1 = -1; the core packs 64 per uint64 word, bit 1 = +1.
// Two consecutive LCE words are one little-endian uint64 of the same bit order, and XOR-popcount
// only needs input and filter to agree on polarity, so nothing is inverted:
//   * the filter is repacked once into the core's PackedWeights layout (bitpack.h: 8-channel
//     blocks x dot-product words, word k = tap * cw + q holding channels [64 q, 64 q + 64) of the
//     group), with the bits past the group's channels cleared;
//   * each call copies the input into a padded NHWC buffer of whole 64-bit words per group (bits
//     past the channels cleared, zero bits contribute nothing); out-of-image pixels are all-zero
//     words, i.e. +1 inputs, which is pad_value 1 exactly;
//   * tasks of 64 consecutive output pixels of one image run the GEMM for every group and 64-channel
//     chunk into popcount tiles, then the scalar epilogue writes NHWC float, int8 or bit-packed words.
//     Where that leaves fewer than kMinTasks tasks (a 7x7 map is one), each pixel task is split
//     into runs of whole 32-channel blocks (channel_chunks), so that threads share the conv.
// Zero padding (pad_value 0) is made exact in integers like the core's own (binary_conv.h): an
// out-of-image tap read all-zero words and so added popcount(filter tap) to accum; for an output
// pixel whose out-of-image kernel rows are R and columns C the excess is, by inclusion-exclusion,
//   sum_{i in R} row_pc[i] + sum_{j in C} col_pc[j] - sum_{i in R, j in C} tap_pc[i, j]
// and the taps counted in K are (kh - |R|) * (kw - |C|).
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "bitpack.h"
#include "kernels.h"
#include "lce.h"
#include "lce_geometry.h"

namespace rep_deploy::core::lce {

namespace {

constexpr int64_t kPixPerTask = 64;
constexpr int64_t kOcbPerChunk = 8;  // 8 blocks of 8 output channels per GEMM call
// Fewer pixel tasks than this, the output channels are split too: rep-reactnet-a's 7x7 layers,
// its heaviest, would otherwise run on one thread.
constexpr int64_t kMinTasks = 8;

uint32_t low_bits(int64_t n) { return n >= 32 ? ~uint32_t(0) : (uint32_t(1) << n) - 1; }

}  // namespace

struct BConv2D::Impl {
  BConv2DParams p;
  Geometry g;
  Kernel k{};
  int64_t cw = 0;      // uint64 words per pixel per group in the padded copy
  int64_t hp = 0, wp = 0;
  int64_t nocb = 0;    // blocks of 8 output channels per group
  int64_t kwords = 0;  // uint64 words of one output's dot product
  WordBuffer wbits;
  std::vector<int64_t> koff;
  // popcount of the (masked) filter at a tap, and its sums over kernel rows and columns: [.][cout]
  std::vector<int32_t> tap_pc, row_pc, col_pc;
  std::vector<int32_t> filter;  // the original words, for REP_DEPLOY_KERNEL=reference
  std::vector<float> mul, bias;
  std::vector<int32_t> thresholds;
  Int8Transform int8;  // int8 output only

  void prepare_filter();
  void pack_row(const int32_t* input, uint64_t* xp, int64_t n, int64_t yp) const;
  // Output pixels [f0, f0 + npix) of image n, the 8-channel blocks [b0, b1) of every group.
  void conv_task(const uint64_t* xp, void* output, int64_t n, int64_t f0, int64_t npix, int64_t b0,
                 int64_t b1) const;
  // How many runs of blocks a pixel task is split into (>= 1), and the blocks per run: whole
  // 32-channel words of a bit-packed output (groups of one only: a word may hold two groups'
  // channels), at least 4 blocks (32 channels) per GEMM call.
  void channel_chunks(int64_t pixel_tasks, int64_t* chunks, int64_t* blocks) const;
};

void BConv2D::Impl::prepare_filter() {
  const int64_t fw = p.filter_words, taps = g.taps(), cout = p.channels_out;
  wbits.resize(size_t(g.groups * nocb * kwords * 8));
  std::memset(wbits.data(), 0, sizeof(uint64_t) * wbits.size());
  tap_pc.assign(size_t(taps * cout), 0);
  for (int64_t oc = 0; oc < cout; ++oc) {
    const int64_t grp = oc / g.cout_g, ol = oc % g.cout_g;
    uint64_t* dst = wbits.data() + (grp * nocb + ol / 8) * kwords * 8 + ol % 8;
    for (int64_t t = 0; t < taps; ++t) {
      const int32_t* src = filter.data() + (oc * taps + t) * fw;
      for (int64_t q = 0; q < fw; ++q) {
        const uint32_t v = uint32_t(src[q]) & low_bits(g.cin_g - 32 * q);
        dst[(t * cw + q / 2) * 8] |= uint64_t(v) << (32 * (q % 2));
        tap_pc[size_t(t * cout + oc)] += __builtin_popcount(v);
      }
    }
  }
  row_pc.assign(size_t(g.kh * cout), 0);
  col_pc.assign(size_t(g.kw * cout), 0);
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t j = 0; j < g.kw; ++j)
      for (int64_t oc = 0; oc < cout; ++oc) {
        const int32_t v = tap_pc[size_t((i * g.kw + j) * cout + oc)];
        row_pc[size_t(i * cout + oc)] += v;
        col_pc[size_t(j * cout + oc)] += v;
      }
}

// Padded row yp of image n: zero words outside the image, the input's words (pairs of int32 per
// uint64, bits past each group's channels cleared) inside.
void BConv2D::Impl::pack_row(const int32_t* input, uint64_t* xp, int64_t n, int64_t yp) const {
  const int64_t words = g.groups * cw, fw = p.filter_words;
  uint64_t* row = xp + (n * hp + yp) * wp * words;
  const int64_t iy = yp - g.pad_top;
  if (iy < 0 || iy >= p.in_h) {
    std::memset(row, 0, size_t(wp * words) * sizeof(uint64_t));
    return;
  }
  std::memset(row, 0, size_t(g.pad_left * words) * sizeof(uint64_t));
  const int64_t right = wp - g.pad_left - p.in_w;
  std::memset(row + (g.pad_left + p.in_w) * words, 0, size_t(right * words) * sizeof(uint64_t));
  const uint32_t* src_row =
      reinterpret_cast<const uint32_t*>(input) + (n * p.in_h + iy) * p.in_w * g.in_words;
  const uint32_t last_mask = low_bits(g.cin_g - 32 * (fw - 1));
  for (int64_t x = 0; x < p.in_w; ++x) {
    const uint32_t* src = src_row + x * g.in_words;
    uint64_t* dst = row + (g.pad_left + x) * words;
    for (int64_t grp = 0; grp < g.groups; ++grp, src += fw, dst += cw) {
      for (int64_t q = 0; q < cw; ++q) {
        const int64_t lo = 2 * q, hi = 2 * q + 1;
        const uint32_t a = src[lo] & (lo == fw - 1 ? last_mask : ~uint32_t(0));
        const uint32_t b = hi < fw ? src[hi] & (hi == fw - 1 ? last_mask : ~uint32_t(0)) : 0u;
        dst[q] = uint64_t(a) | uint64_t(b) << 32;
      }
    }
  }
}

void BConv2D::Impl::channel_chunks(int64_t pixel_tasks, int64_t* chunks, int64_t* blocks) const {
  *chunks = 1, *blocks = nocb;
  if (pixel_tasks >= kMinTasks || (p.output == Output::kBitpacked && g.groups > 1)) return;
  const int64_t want = std::min((kMinTasks + pixel_tasks - 1) / pixel_tasks, (nocb + 3) / 4);
  if (want <= 1) return;
  *blocks = ((nocb + want - 1) / want + 3) / 4 * 4;  // whole 32-channel words
  *chunks = (nocb + *blocks - 1) / *blocks;
}

// Output pixels [f0, f0 + npix) of image n's flattened out_h x out_w plane, output channels of the
// 8-channel blocks [b0, b1) of each group (a bit-packed output's b0 and, unless b1 is the last, b1
// are multiples of 4: the task owns whole output words).
void BConv2D::Impl::conv_task(const uint64_t* xp, void* output, int64_t n, int64_t f0,
                              int64_t npix, int64_t b0, int64_t b1) const {
  const int64_t words = g.groups * cw, cout = p.channels_out;
  const bool zero_pad = p.padding == Padding::kSame && p.pad_value == 0 &&
                        (g.pad_top || g.pad_left || g.pad_bottom || g.pad_right);
  const ClampRange range = clamp_range(p.activation);
  const bool bitpacked = p.output == Output::kBitpacked;
  const int64_t pix0 = n * g.out_h * g.out_w + f0;
  const bool quantized = p.output == Output::kInt8;
  float* out_f = bitpacked || quantized ? nullptr : static_cast<float*>(output) + pix0 * cout;
  int8_t* out_q = quantized ? static_cast<int8_t*>(output) + pix0 * cout : nullptr;
  uint32_t* out_b = bitpacked ? static_cast<uint32_t*>(output) + pix0 * g.out_words : nullptr;
  if (bitpacked) {  // the task's words of each pixel: all, or its blocks' (groups of one)
    const bool all = b0 == 0 && b1 == nocb;
    const int64_t w0 = all ? 0 : b0 * 8 / 32;
    const int64_t w1 = all ? g.out_words : std::min(g.out_words, (b1 * 8 + 31) / 32);
    for (int64_t pi = 0; pi < npix; ++pi)
      std::memset(out_b + pi * g.out_words + w0, 0, size_t(w1 - w0) * sizeof(uint32_t));
  }

  // Per pixel of the task: the taps counted in K and, for zero padding, its out-of-image kernel
  // rows and columns (offsets into oob_rows / oob_cols, which list them).
  std::vector<int64_t> oob_rows, oob_cols, row_begin(size_t(npix + 1)), col_begin(size_t(npix + 1));
  std::vector<int64_t> k_bits(size_t(npix), g.taps() * g.cin_g);
  for (int64_t pi = 0; pi < npix; ++pi) {
    row_begin[size_t(pi)] = int64_t(oob_rows.size());
    col_begin[size_t(pi)] = int64_t(oob_cols.size());
    if (!zero_pad) continue;
    const int64_t yo = (f0 + pi) / g.out_w, xo = (f0 + pi) % g.out_w;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t iy = yo * p.stride_h - g.pad_top + i * p.dilation_h;
      if (iy < 0 || iy >= p.in_h) oob_rows.push_back(i);
    }
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t ix = xo * p.stride_w - g.pad_left + j * p.dilation_w;
      if (ix < 0 || ix >= p.in_w) oob_cols.push_back(j);
    }
    const int64_t nr = int64_t(oob_rows.size()) - row_begin[size_t(pi)];
    const int64_t nc = int64_t(oob_cols.size()) - col_begin[size_t(pi)];
    k_bits[size_t(pi)] = (g.kh - nr) * (g.kw - nc) * g.cin_g;
  }
  row_begin[size_t(npix)] = int64_t(oob_rows.size());
  col_begin[size_t(npix)] = int64_t(oob_cols.size());

  alignas(64) int32_t cnt[kPixPerTask * kOcbPerChunk * 8];
  for (int64_t grp = 0; grp < g.groups; ++grp) {
    for (int64_t ob0 = b0; ob0 < b1; ob0 += kOcbPerChunk) {
      const int64_t nob = std::min(kOcbPerChunk, b1 - ob0), stride = nob * 8;
      BgemmTask bt;
      bt.koff = koff.data();
      bt.kwords = kwords;
      bt.tap_words = cw;  // koff: (tap offset) * words + q for q < cw (the constructor)
      bt.w = wbits.data() + (grp * nocb + ob0) * kwords * 8;
      bt.nocb = nob;
      bt.cnt_stride = stride;
      bt.npix = npix, bt.cnt = cnt;
      gemm_tile_pixels(k.bgemm, bt, xp + n * hp * wp * words + grp * cw, f0, g.out_w,
                       p.stride_h * wp * words, p.stride_w * words);
      const int64_t oc0 = grp * g.cout_g + ob0 * 8;
      const int64_t nl = std::min(stride, g.cout_g - ob0 * 8);  // lanes past cout_g are padding
      for (int64_t pi = 0; pi < npix; ++pi) {
        const int32_t* c = cnt + pi * stride;
        const int64_t* rows = oob_rows.data() + row_begin[size_t(pi)];
        const int64_t* cols = oob_cols.data() + col_begin[size_t(pi)];
        const int64_t nr = row_begin[size_t(pi) + 1] - row_begin[size_t(pi)];
        const int64_t nc = col_begin[size_t(pi) + 1] - col_begin[size_t(pi)];
        const int64_t kb = k_bits[size_t(pi)];
        for (int64_t l = 0; l < nl; ++l) {
          const int64_t oc = oc0 + l;
          int64_t accum = c[l];
          for (int64_t r = 0; r < nr; ++r) accum -= row_pc[size_t(rows[r] * cout + oc)];
          for (int64_t s = 0; s < nc; ++s) {
            accum -= col_pc[size_t(cols[s] * cout + oc)];
            for (int64_t r = 0; r < nr; ++r)  // taps counted in both a row and a column sum
              accum += tap_pc[size_t((rows[r] * g.kw + cols[s]) * cout + oc)];
          }
          if (bitpacked) {
            if (accum > thresholds[size_t(oc)])
              out_b[pi * g.out_words + oc / 32] |= uint32_t(1) << (oc % 32);
          } else if (quantized) {
            out_q[pi * cout + oc] = int8(accum, oc);
          } else {
            int64_t conv = kb - 2 * accum;
            conv = conv < range.lo ? range.lo : conv > range.hi ? range.hi : conv;
            const float v = static_cast<float>(conv) * mul[size_t(oc)];  // two roundings, no FMA
            out_f[pi * cout + oc] = v + bias[size_t(oc)];
          }
        }
      }
    }
  }
}

BConv2D::BConv2D(const BConv2DParams& p, const int32_t* filter, const float* multiplier,
                 const float* bias, const int32_t* thresholds)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.p = p;
  m.g = make_geometry(p);
  const std::string err = select_kernel_from_env(&m.k);
  if (!err.empty()) throw std::invalid_argument("LceBconv2d: " + err);
  const bool bitpacked = p.output == Output::kBitpacked;
  if (!filter || (!bitpacked && (!multiplier || !bias)) || (bitpacked && !thresholds))
    throw std::invalid_argument(bitpacked ? "LceBconv2d: bit-packed output needs the filter and "
                                            "output_threshold"
                                          : "LceBconv2d: float and int8 output need the filter, "
                                            "post_activation_multiplier and post_activation_bias");
  const int64_t cout = p.channels_out;
  m.filter.assign(filter, filter + cout * m.g.taps() * p.filter_words);
  if (bitpacked) {
    m.thresholds.assign(thresholds, thresholds + cout);
  } else {
    m.mul.assign(multiplier, multiplier + cout);
    m.bias.assign(bias, bias + cout);
    if (p.output == Output::kInt8) m.int8 = int8_transform(p, m.g, multiplier, bias);
  }
  m.cw = (m.g.cin_g + 63) / 64;
  m.hp = p.in_h + m.g.pad_top + m.g.pad_bottom;
  m.wp = p.in_w + m.g.pad_left + m.g.pad_right;
  m.nocb = (m.g.cout_g + 7) / 8;
  m.kwords = m.g.taps() * m.cw;
  const int64_t words = m.g.groups * m.cw;
  m.koff.resize(size_t(m.kwords));
  for (int64_t i = 0; i < m.g.kh; ++i)
    for (int64_t j = 0; j < m.g.kw; ++j)
      for (int64_t q = 0; q < m.cw; ++q)
        m.koff[size_t((i * m.g.kw + j) * m.cw + q)] =
            (i * p.dilation_h * m.wp + j * p.dilation_w) * words + q;
  if (m.k.bgemm) m.prepare_filter();
}

BConv2D::~BConv2D() = default;

int64_t BConv2D::out_h() const { return impl_->g.out_h; }
int64_t BConv2D::out_w() const { return impl_->g.out_w; }
const char* BConv2D::kernel_path() const { return impl_->k.name; }

void BConv2D::run(const int32_t* input, void* output, const ParallelRunner& par) const {
  const Impl& m = *impl_;
  if (!m.k.bgemm) {
    bconv2d_reference(m.p, input, m.filter.data(), m.mul.data(), m.bias.data(),
                      m.thresholds.data(), output);
    return;
  }
  const int64_t plane = m.g.out_h * m.g.out_w;
  if (m.p.batch == 0 || plane == 0) return;
  WordBuffer xp(size_t(m.p.batch * m.hp * m.wp * m.g.groups * m.cw));
  struct Job {
    const Impl* m;
    const int32_t* input;
    uint64_t* xp;
    void* output;
    int64_t chunks;  // pixel tasks per image
    int64_t channel_chunks, blocks;  // runs of 8-channel blocks per pixel task, blocks per run
  } job{&m, input, xp.data(), output, (plane + kPixPerTask - 1) / kPixPerTask, 1, m.nocb};
  m.channel_chunks(m.p.batch * job.chunks, &job.channel_chunks, &job.blocks);
  par.run(
      [](void* usr, size_t i) {
        const Job& J = *static_cast<const Job*>(usr);
        J.m->pack_row(J.input, J.xp, int64_t(i) / J.m->hp, int64_t(i) % J.m->hp);
      },
      size_t(m.p.batch * m.hp), &job);
  par.run(
      [](void* usr, size_t i) {
        const Job& J = *static_cast<const Job*>(usr);
        const int64_t cc = int64_t(i) % J.channel_chunks, t = int64_t(i) / J.channel_chunks;
        const int64_t n = t / J.chunks, f0 = t % J.chunks * kPixPerTask;
        const int64_t plane = J.m->g.out_h * J.m->g.out_w;
        const int64_t b0 = cc * J.blocks, b1 = std::min(J.m->nocb, b0 + J.blocks);
        J.m->conv_task(J.xp, J.output, n, f0, std::min(kPixPerTask, plane - f0), b0, b1);
      },
      size_t(m.p.batch * job.chunks * job.channel_chunks), &job);
}

}  // namespace rep_deploy::core::lce
