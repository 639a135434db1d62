#include "binary_conv.h"

#include <algorithm>
#include <climits>
#include <numeric>
#include <stdexcept>
#include <vector>

namespace rep_deploy::core {

namespace {

constexpr int64_t kOcbPerTask = 8;   // 8 blocks of 8 output channels per task, or
// half as many when a conv would have fewer than kMinTasks tasks: two threads then share its tiles
// more evenly (RepBNN convs have beta times fewer output channels, so the 14x14 and 7x7 layers of
// rep-reactnet-a had 16 and 8 tasks; `benchmarks/ab_latency.py --threads 2` on that model: -1.4%
// and -2.7% in two runs, on AMD Zen 3; reactnet-a and 1 thread unchanged)
constexpr int64_t kMinTasks = 32;
// 64 consecutive pixels of the flattened Ho*Wo output plane per task: for small maps (7x7, 14x14)
// a tile spans several rows, so the epilogue still writes 64 contiguous floats per channel.
constexpr int64_t kPixPerTask = 64;
constexpr int64_t kSignTaskFloats = 16384;

// The pixels of a conv's tasks (pixel_chunks): the flattened output plane in chunks of `unit`
// pixels (the last may be shorter). shared: chunks share sign words at their edges (unit not a
// multiple of 64), so tasks run side by side must not be neighbours (order).
struct PixelChunks {
  int64_t unit = kPixPerTask, chunks = 0;
  bool shared = false;
  // the chunk of the i-th task of its kind: in order, or, when shared, the plane's first and second
  // halves taking turns, so that threads taking tasks in order work far apart (in order, two
  // threads wrote the same lines at once: rep-reactnet-a's 56x56 pooled 1x1 layer at 2 threads,
  // `bench_model --pool-y --layer 5 --threads 2`, took 0.39 ms, against 0.21 with whole-tile
  // tasks and 0.19 so)
  int64_t order(int64_t i) const {
    return !shared ? i : i % 2 ? (chunks + 1) / 2 + i / 2 : i / 2;
  }
  // chunk pc's pixels [*begin, *end) of a plane of `plane` pixels
  void range(int64_t pc, int64_t plane, int64_t* begin, int64_t* end) const {
    *begin = pc * unit;
    *end = std::min(*begin + unit, plane);
  }
};

struct Job {
  const ConvShape* s;
  const PackedWeights* w;
  const Kernel* k;
  const float* x;
  const float* threshold;  // [cin] or null (binarize at 0)
  const uint64_t* x_signs;  // the input's sign bits (binary_conv_forward), or null
  int64_t x_channels;       // channels x holds per image (divides cin; binary_conv_forward)
  uint64_t* planes;      // sign planes (this call's buffer, packing pass 1)
  uint64_t* xp;          // packed activations (this call's buffer)
  const int64_t* koff;   // [kwords]
  const OutputTransform* t;
  const TileRow* rows;   // the output transform's rows (TileOut::rows)
  float* y;              // output, or
  int32_t* acc_out;      // raw accumulators (tests)
  int64_t ocb_per_task;  // kOcbPerTask or half of it
  int64_t oc_chunks;
  PixelChunks pix;       // the pixels of each task's chunk
  int64_t sign_chunk;    // planes per sign task
};

void sign_task(void* usr, size_t i) {  // sign_chunk consecutive (image, channel) planes
  const Job& J = *static_cast<const Job*>(usr);
  const int64_t end = std::min<int64_t>(int64_t(i + 1) * J.sign_chunk, J.s->n * J.s->cin);
  const int64_t ww = sign_row_words(*J.s), pw = plane_words(J.s->h, J.s->w);
  for (int64_t nc = int64_t(i) * J.sign_chunk; nc < end; ++nc) {
    if (J.x_signs) {
      cut_sign_rows(J.x_signs + nc * pw, *J.s, J.planes + nc * J.s->h * ww);
    } else {  // channel c of the binarized input reads x's channel c mod x_channels
      const int64_t n = nc / J.s->cin, c = nc % J.s->cin;
      sign_rows(J.x + (n * J.x_channels + c % J.x_channels) * J.s->h * J.s->w, *J.s, 0, J.s->h,
                J.threshold ? J.threshold[c] : 0.0f, J.k->sign_row, J.planes + nc * J.s->h * ww);
    }
  }
}

void pack_task(void* usr, size_t i) {  // one padded row
  const Job& J = *static_cast<const Job*>(usr);
  const int64_t n = int64_t(i) / J.s->hp, y = int64_t(i) % J.s->hp;
  if (J.x_signs && packs_from_flat_signs(*J.s))
    pack_activation_rows_from_signs(J.x_signs, *J.s, n, y, y + 1, J.k->transpose_bits, J.xp);
  else
    pack_activation_rows(J.planes, *J.s, n, y, y + 1, J.k->transpose_bits, J.xp);
}

// Exact zero-padding correction (see binary_conv.h) for the border pixels of one tile of output
// pixels [f0, f0 + npix) of the flattened plane. acc is channel-major: acc[l * 64 + p].
// Not inlined: inside conv_tile it made the 14x14 3x3 layers of rep-reactnet-a 2.5% slower in ORT
// (`ab_latency.py --per-node`, 25 rounds), where a call per tile costs nothing measurable.
[[gnu::noinline]] void correct_zero_padding(const ConvShape& s, const PackedWeights& w, int64_t f0,
                                            int64_t npix, int64_t oc0, int64_t nl, int32_t* acc) {
  const ConvAttrs& a = s.a;
  // Output rows [y0, y1) and columns [x0, x1) have every tap in bounds along that axis: a pixel
  // in both needs nothing, and in an interior row only the few columns outside [x0, x1) are
  // visited (walking every pixel of a 112x112 map cost ~5% of its 3x3 layer).
  const auto inside = [](int64_t pad, int64_t stride, int64_t span, int64_t in, int64_t out,
                         int64_t* lo, int64_t* hi) {
    *lo = std::min(out, (pad + stride - 1) / stride);  // first o with o * stride - pad >= 0
    const int64_t last = in - 1 + pad - span;  // o * stride <= last: the last tap in bounds
    *hi = last < 0 ? *lo : std::clamp(last / stride + 1, *lo, out);
  };
  int64_t y0, y1, x0, x1;
  inside(a.pt, a.sh, (a.kh - 1) * a.dh, s.h, s.ho, &y0, &y1);
  inside(a.pl, a.sw, (a.kw - 1) * a.dw, s.w, s.wo, &x0, &x1);
  const auto fix = [&](int64_t p, int64_t yo, int64_t xo) {
    const auto row_oob = [&](int64_t i) {
      const int64_t iy = yo * a.sh - a.pt + i * a.dh;
      return iy < 0 || iy >= s.h;
    };
    const auto col_oob = [&](int64_t j) {
      const int64_t ix = xo * a.sw - a.pl + j * a.dw;
      return ix < 0 || ix >= s.w;
    };
    for (int64_t i = 0; i < a.kh; ++i) {
      if (!row_oob(i)) continue;
      const int32_t* rs = w.row_sum.data() + i * s.cout + oc0;
      for (int64_t l = 0; l < nl; ++l) acc[l * 64 + p] -= rs[l];
    }
    for (int64_t j = 0; j < a.kw; ++j) {
      if (!col_oob(j)) continue;
      const int32_t* cs = w.col_sum.data() + j * s.cout + oc0;
      for (int64_t l = 0; l < nl; ++l) acc[l * 64 + p] -= cs[l];
      for (int64_t i = 0; i < a.kh; ++i) {  // taps counted in both a row and a column sum
        if (!row_oob(i)) continue;
        const int32_t* ts = w.tap_sum.data() + (i * a.kw + j) * s.cout + oc0;
        for (int64_t l = 0; l < nl; ++l) acc[l * 64 + p] += ts[l];
      }
    }
  };
  for (int64_t p = 0; p < npix;) {  // one output-row segment [xs, xe) at a time
    const int64_t yo = (f0 + p) / s.wo, xs = (f0 + p) % s.wo;
    const int64_t xe = std::min(s.wo, xs + npix - p);
    const auto visit = [&](int64_t from, int64_t to) {  // columns [from, to) of the segment
      for (int64_t xo = from; xo < to; ++xo) fix(p + xo - xs, yo, xo);
    };
    if (yo >= y0 && yo < y1) {  // an interior row: only the columns left and right of [x0, x1)
      visit(xs, std::min(xe, x0));
      visit(std::max(xs, x1), xe);
    } else {
      visit(xs, xe);
    }
    p += xe - xs;
  }
}

int64_t res_channels(const ConvShape& s, const OutputTransform& t) {
  return t.residual_channels ? t.residual_channels : s.cout * t.repeats;
}

// One GEMM tile's exact accumulators: output pixels [f0, f0 + npix) (npix <= 64) of image n's
// flattened plane x the 64-channel chunk occ of group g, into acc[l * 64 + p]; returns its lanes.
// The input is J.xp in its padded layout, or, given tile_x, the tile's pixels packed side by side
// (tile_x[p * words + q]: a 1x1 conv without padding or stride, binary_block_pair_forward's C).
int64_t gemm_tile(const Job& J, int64_t n, int64_t g, int64_t occ, int64_t f0, int64_t npix,
                  const uint64_t* tile_x, int32_t* acc) {
  const ConvShape& s = *J.s;
  const int64_t words = s.a.group * s.cw;
  const int64_t nocb = s.nocb();
  const int64_t ob0 = occ * J.ocb_per_task, nob = std::min(J.ocb_per_task, nocb - ob0);
  const int64_t stride = nob * 8;
  alignas(64) int32_t cnt[kPixPerTask * kOcbPerTask * 8];

  BgemmTask bt;
  bt.koff = J.koff;
  bt.kwords = s.kwords();
  bt.tap_words = s.cw;  // koff: (tap offset) * words + q for q < cw (run())
  bt.w = J.w->bits.data() + (g * nocb + ob0) * bt.kwords * 8;
  bt.nocb = nob;
  bt.npix = npix, bt.cnt = cnt, bt.cnt_stride = stride;
  if (tile_x) {
    bt.x = tile_x + g * s.cw, bt.x_pix_stride = words;
    J.k->bgemm(bt);
  } else {
    gemm_tile_pixels(J.k->bgemm, bt, J.xp + n * s.hp * s.wp * words + g * s.cw, f0, s.wo,
                     s.a.sh * s.wp * words, s.a.sw * words);
  }
  // finish_tile runs on whole 8x8 blocks: give the rows past npix defined (zero) counts
  const int64_t npix8 = std::min<int64_t>(kPixPerTask, (npix + 7) & ~int64_t(7));
  std::fill(cnt + npix * stride, cnt + npix8 * stride, 0);

  const int64_t oc0 = g * s.cout_g + ob0 * 8;
  const int64_t nl = std::min(stride, s.cout_g - ob0 * 8);  // lanes past cout_g are padding
  J.k->finish_tile(cnt, stride, npix8, nl, int32_t(s.k_bits), acc);
  // with no padding every tap is in bounds (the output-size rule guarantees it)
  const bool padded = s.a.pt || s.a.pl || s.a.pb || s.a.pr;
  if (s.a.pad_value == 0 && padded) correct_zero_padding(s, *J.w, f0, npix, oc0, nl, acc);
  return nl;
}

// The output transform (J.t) of a tile's accumulators, writing Y at J.y (or pooled): pairs holds
// the pooled pixel pairs (TileOut::pool_pairs) when J.t->pool_y.
TileOut tile_out(const Job& J, int64_t n, int64_t oc0, int64_t nl, int64_t f0, int64_t npix,
                 const int32_t* acc, int32_t* pairs) {
  const ConvShape& s = *J.s;
  const OutputTransform& t = *J.t;
  TileOut o;
  o.acc = acc, o.nl = nl, o.npix = npix;
  o.oc0 = oc0, o.repeats = t.repeats, o.rows = J.rows;
  o.has_add = t.add != nullptr, o.has_pre = t.pre != nullptr;
  o.plane = o.res_plane = s.ho * s.wo;
  o.y = J.y ? J.y + n * s.cout * t.repeats * o.plane + f0 : nullptr;  // null: the pair's Y1
  o.res = t.residual ? t.residual + n * res_channels(s, t) * o.plane + f0 : nullptr;
  o.sign_stride = plane_words(s.ho, s.wo);
  o.signs = t.signs ? t.signs + n * s.cout * t.repeats * o.sign_stride + f0 / 64 : nullptr;
  // f0 is a multiple of 8 (pixel_chunks); the plane's last tile zeroes its last word's padding
  const int64_t end = f0 + npix == o.plane ? (f0 + npix + 63) & ~int64_t(63) : f0 + npix;
  o.sign_byte0 = int32_t(f0 % 64 / 8), o.sign_bytes = int32_t((end - f0 + 7) / 8);
  o.pool = nullptr, o.pool_plane = 0, o.pool_pairs = nullptr, o.pool_row_pairs = 0;
  if (t.pool_y) {
    o.y = nullptr;
    o.pool_plane = (s.ho / 2) * (s.wo / 2);
    o.pool = J.y + n * s.cout * t.repeats * o.pool_plane;
    for (int64_t k = 0; k < npix / 2; ++k)  // f0 and Wo even: pixel 2k starts a pair
      pairs[k] = pool_pair_entry(f0 + 2 * k, s.wo);
    o.pool_pairs = pairs;
    o.pool_row_pairs = s.wo / 2;
  }
  return o;
}

// One GEMM tile, then its exact accumulators (tests) or its output transform.
void conv_tile(const Job& J, int64_t n, int64_t g, int64_t occ, int64_t f0, int64_t npix) {
  alignas(64) int32_t acc[kOcbPerTask * 8 * 64];
  const int64_t nl = gemm_tile(J, n, g, occ, f0, npix, nullptr, acc);
  const int64_t oc0 = g * J.s->cout_g + occ * J.ocb_per_task * 8;
  if (J.acc_out) {
    for (int64_t l = 0; l < nl; ++l) {
      int32_t* dst = J.acc_out + (n * J.s->cout + oc0 + l) * J.s->ho * J.s->wo + f0;
      for (int64_t p = 0; p < npix; ++p) dst[p] = acc[l * 64 + p];
    }
    return;
  }
  int32_t pairs[kPixPerTask / 2];
  J.k->write_tile(tile_out(J, n, oc0, nl, f0, npix, acc, pairs));
}

// The unpooled tiles [begin, end) of image n, group g, channel chunk occ as one span
// (TileOut::tiles): every tile's GEMM, then the output transform row by row across them.
void conv_span(const Job& J, int64_t n, int64_t g, int64_t occ, int64_t begin, int64_t end) {
  // a tile's accumulators, [lanes][64]: as many lanes as a task's tile may have (16 KiB at most)
  const int64_t tile_acc = std::min(J.ocb_per_task * 8, J.s->cout_g) * 64;
  const int64_t tiles = (end - begin + kPixPerTask - 1) / kPixPerTask;
  thread_local WordBuffer acc_words;  // per thread, reused
  const int64_t words = (tiles * tile_acc + 1) / 2;
  if (int64_t(acc_words.size()) < words) acc_words.resize(size_t(words));
  int32_t* acc = reinterpret_cast<int32_t*>(acc_words.data());
  int64_t nl = 0;
  for (int64_t k = 0; k < tiles; ++k) {
    const int64_t f0 = begin + k * kPixPerTask;
    nl = gemm_tile(J, n, g, occ, f0, std::min(kPixPerTask, end - f0), nullptr, acc + k * tile_acc);
  }
  const int64_t oc0 = g * J.s->cout_g + occ * J.ocb_per_task * 8;
  TileOut o = tile_out(J, n, oc0, nl, begin, end - begin, acc, nullptr);
  o.tiles = tiles, o.acc_tile = tile_acc;
  o.sign_bytes = 8;  // each tile's sign word whole (begin is a multiple of 64)
  J.k->write_tile(o);
}

void conv_task(void* usr, size_t idx) {  // the tiles of one pixel chunk (Job::pix), in order
  const Job& J = *static_cast<const Job*>(usr);
  const ConvShape& s = *J.s;
  int64_t i = int64_t(idx);
  // task order: consecutive tasks share the weights of one channel chunk; or, where pixel chunks
  // share sign words, the same pixels (their channels' sign words are apart), chunks far apart
  int64_t pc, occ;
  if (J.pix.shared) {
    occ = i % J.oc_chunks, i /= J.oc_chunks;
    pc = J.pix.order(i % J.pix.chunks), i /= J.pix.chunks;
  } else {
    pc = i % J.pix.chunks, i /= J.pix.chunks;
    occ = i % J.oc_chunks, i /= J.oc_chunks;
  }
  const int64_t g = i % s.a.group;
  const int64_t n = i / s.a.group;
  int64_t begin, end;
  J.pix.range(pc, s.ho * s.wo, &begin, &end);
  if (!J.acc_out && !J.t->pool_y && end - begin > kPixPerTask)
    return conv_span(J, n, g, occ, begin, end);
  for (int64_t f0 = begin; f0 < end; f0 += kPixPerTask)
    conv_tile(J, n, g, occ, f0, std::min(kPixPerTask, end - f0));
}

// Fewer tasks than this, a pooled output's tasks are split finer (pixel_chunks).
constexpr int64_t kMinPooledTasks = 8;
// An unpooled output's tasks are spans of whole tiles (TileOut::tiles): at most kMaxSpanTiles,
// fewer where the conv would have fewer than kMinSpanTasks tasks. Session 21, Zen 3, `bench_model
// --model rep --kernel avx2` with fixed spans of 1 / 4 / 8 / 16 / 49 tiles: the 14x14 1x1 layers
// (4 tiles) 0.309 / 0.272 / 0.273 / 0.272 / 0.274 ms at 1 thread, the 56x56 3x3 layer 1.75 / 1.71
// / 1.64-1.67 / 1.61-1.64 / 1.58-1.60 ms; the model at 2 threads 9.66 / 9.09 / 8.99 / 9.20 /
// 10.06 ms: long spans leave the 56x56 layers (one channel chunk) 1 to 4 tasks.
constexpr int64_t kMaxSpanTiles = 8;
constexpr int64_t kMinSpanTasks = 8;

// How a conv's output plane is dealt out to tasks (Job::pix). Unpooled: spans of whole 64-pixel
// tiles, at most max_span tiles (kMaxSpanTiles; 1 for a fused pair, whose tasks run tile by tile)
// and as long as tasks * chunks >= kMinSpanTasks, the tiles shared evenly between the chunks.
// Pooled (OutputTransform::pool_y): whole rows of pooling windows (2 * Wo pixels), so that a
// window's top and bottom rows are done by one thread in order; preferably also whole 64-pixel
// tiles, lcm(64, 2 * Wo) (448 pixels for Wo = 112, 56, 28; the whole 196-pixel plane for 14), so
// that each sign word is one tile's. tasks: the tasks per pixel chunk (images x groups x channel
// chunks). Where that leaves fewer than kMinPooledTasks tasks, the smallest run of window rows
// that is a multiple of 8 pixels, lcm(8, 2 * Wo) (112 pixels for Wo = 56, 56 for 28 and 14): tiles
// then share sign words byte by byte (TileOut::signs). The fused pairs of rep-reactnet-a's 56x56
// and 28x28 blocks had 7 and 2 tasks, so 2 threads ran them at most 1.75x as fast as one; now 28
// and 14 (session 18).
PixelChunks pixel_chunks(const ConvShape& s, bool pool_y, int64_t tasks, int64_t max_span) {
  const int64_t plane = s.ho * s.wo;
  const auto chunks = [&](int64_t unit) { return (plane + unit - 1) / unit; };
  if (!pool_y) {
    const int64_t tiles = chunks(kPixPerTask);
    int64_t span = std::min(max_span, tiles);  // in tiles
    while (span > 1 && tasks * chunks(kPixPerTask * span) < kMinSpanTasks) --span;
    const int64_t n = chunks(kPixPerTask * span);
    span = (tiles + n - 1) / n;  // that many chunks, as even as whole tiles allow
    return {kPixPerTask * span, chunks(kPixPerTask * span), false};
  }
  const int64_t rows = 2 * s.wo;
  const int64_t whole_tiles = std::min(std::lcm<int64_t>(kPixPerTask, rows), plane);
  if (tasks * chunks(whole_tiles) >= kMinPooledTasks)
    return {whole_tiles, chunks(whole_tiles), false};
  const int64_t unit = std::min(std::lcm<int64_t>(8, rows), plane);
  return {unit, chunks(unit), unit % kPixPerTask != 0 && unit < plane};
}

// Word offset of each dot-product word from a pixel's first tap word (BgemmTask::koff).
std::vector<int64_t> tap_offsets(const ConvShape& s) {
  std::vector<int64_t> koff(size_t(s.kwords()));
  const int64_t words = s.a.group * s.cw;
  for (int64_t i = 0; i < s.a.kh; ++i)
    for (int64_t j = 0; j < s.a.kw; ++j)
      for (int64_t q = 0; q < s.cw; ++q)
        koff[size_t((i * s.a.kw + j) * s.cw + q)] = (i * s.a.dh * s.wp + j * s.a.dw) * words + q;
  return koff;
}


// The packing passes (sign rows, then per-pixel words) of job's input into buffers that *planes
// and *xp own; job.planes and job.xp point into them.
void pack_input(Job& job, const ParallelRunner& par, WordBuffer* planes, WordBuffer* xp) {
  const ConvShape& s = *job.s;
  const bool pack_from_signs = job.x_signs && packs_from_flat_signs(s);
  planes->resize(pack_from_signs ? 0 : sign_plane_words(s));
  xp->resize(packed_activation_words(s));
  job.planes = planes->data(), job.xp = xp->data();
  // Sign tasks of >= ~16K floats: one task per small plane (7x7) would be mostly scheduling.
  job.sign_chunk = std::max<int64_t>(1, kSignTaskFloats / (s.h * s.w));
  if (!pack_from_signs)  // else the pack step reads x_signs itself
    par.run(sign_task, size_t((s.n * s.cin + job.sign_chunk - 1) / job.sign_chunk), &job);
  par.run(pack_task, size_t(s.n * s.hp), &job);
}

// t's table of rows: the caller's (t.rows), else built into *own.
const TileRow* rows_for(const ConvShape& s, const OutputTransform& t, std::vector<TileRow>* own) {
  if (t.rows) return t.rows;
  *own = tile_rows(s, t);
  return own->data();
}

void run(const ConvShape& s, const float* x, int64_t x_channels, const float* threshold,
         const uint64_t* x_signs, const PackedWeights& w, const Kernel& k, const OutputTransform* t,
         float* y, int32_t* acc_out, const ParallelRunner& par) {
  if (s.n == 0) return;
  const std::vector<int64_t> koff = tap_offsets(s);
  std::vector<TileRow> own;
  const TileRow* rows = t ? rows_for(s, *t, &own) : nullptr;
  const auto oc_chunks = [&](int64_t ocb) { return (s.nocb() + ocb - 1) / ocb; };
  // counted in 64-pixel tiles, whatever a task holds: a pooled output's 7-tile tasks would halve
  // its channel chunks (twice the GEMM calls; reactnet-a's 56x56 1x1 layer +0.05 ms in ORT)
  const int64_t tiles = (s.ho * s.wo + kPixPerTask - 1) / kPixPerTask;
  const int64_t ocb = s.n * s.a.group * oc_chunks(kOcbPerTask) * tiles < kMinTasks
                          ? kOcbPerTask / 2 : kOcbPerTask;
  const PixelChunks pix = pixel_chunks(s, t && t->pool_y, s.n * s.a.group * oc_chunks(ocb),
                                        acc_out ? 1 : kMaxSpanTiles);
  Job job{&s, &w, &k, x, threshold, x_signs, x_channels ? x_channels : s.cin, nullptr, nullptr,
          koff.data(), t, rows, y, acc_out, ocb, oc_chunks(ocb), pix, 0};
  WordBuffer planes, xp;
  pack_input(job, par, &planes, &xp);
  par.run(conv_task, size_t(s.n * s.a.group * job.oc_chunks * pix.chunks), &job);
}

// binary_block_pair_forward's tiles: pixels [f0, f0 + npix) (npix <= 64) of image n, every
// channel of P, then of C.
void pair_tile(const Job& P, const Job& C, int64_t n, int64_t f0, int64_t npix) {
  const int64_t y1_channels = C.s->cin;
  // Y1's tile and its sign words, held aside for C: 64 floats per channel (64 KB for 256 channels,
  // in L2), one word per channel; per thread, reused by every tile the thread runs
  thread_local std::vector<float> y1;
  thread_local std::vector<uint64_t> y1_signs, xc;
  y1.resize(size_t(y1_channels * kPixPerTask));
  y1_signs.resize(size_t(y1_channels));
  xc.resize(size_t(kPixPerTask * C.s->cw));
  alignas(64) int32_t acc[kOcbPerTask * 8 * 64];
  int32_t pairs[kPixPerTask / 2];
  for (int64_t occ = 0; occ < P.oc_chunks; ++occ) {
    const int64_t nl = gemm_tile(P, n, 0, occ, f0, npix, nullptr, acc);
    TileOut o = tile_out(P, n, occ * P.ocb_per_task * 8, nl, f0, npix, acc, pairs);
    o.y = y1.data(), o.plane = kPixPerTask;
    o.signs = y1_signs.data(), o.sign_stride = 1, o.sign_byte0 = 0, o.sign_bytes = 8;
    P.k->write_tile(o);
  }
  // C's input for these pixels: its sign words transposed, 64 channels at a time
  for (int64_t b = 0; b < C.s->cw; ++b)
    C.k->transpose_bits(y1_signs.data() + b * 64, 1, int(std::min<int64_t>(64, y1_channels - b * 64)),
                        int(npix), xc.data() + b, C.s->cw);
  for (int64_t occ = 0; occ < C.oc_chunks; ++occ) {
    const int64_t nl = gemm_tile(C, n, 0, occ, f0, npix, xc.data(), acc);
    TileOut o = tile_out(C, n, occ * C.ocb_per_task * 8, nl, f0, npix, acc, pairs);
    o.res = y1.data(), o.res_plane = kPixPerTask;
    C.k->write_tile(o);
  }
}

// binary_block_pair_forward's tasks: C's pixel chunk of image n (C.pix: a tile,
// or whole rows of pooling windows when C writes Y pooled), tile by tile in order.
void pair_task(void* usr, size_t i) {
  const Job& P = static_cast<const Job*>(usr)[0];
  const Job& C = static_cast<const Job*>(usr)[1];
  const int64_t n = int64_t(i) / C.pix.chunks;
  int64_t begin, end;
  C.pix.range(C.pix.order(int64_t(i) % C.pix.chunks), C.s->ho * C.s->wo, &begin, &end);
  for (int64_t f0 = begin; f0 < end; f0 += kPixPerTask)
    pair_tile(P, C, n, f0, std::min(kPixPerTask, end - f0));
}

struct PoolJob {
  const ConvShape* s;
  const OutputTransform* t;  // its residual, pooled
  float* out;                // (N, residual channels, Ho, Wo)
};

// One (image, channel) plane of the pooled residual (OutputTransform), in the spec's order. A
// pass of its own, plane by plane, ahead of the GEMM tiles: each plane is read front to back, two
// input rows per output row, which the hardware prefetchers follow. Pooling inside each tile instead
// read 2 x 64-float spans of every one of the tile's (up to 256) channel planes at once: on Zen 3,
// `bench_model --layer 2 / 6 / 10` (rep-reactnet-a's stride-2 3x3 layers) ran 1.11 / 0.70 /
// 0.56 ms that way and 0.85 / 0.58 / 0.50 ms with this pass (pooling into Y).
void pool_plane_task(void* usr, size_t i) {
  const PoolJob& P = *static_cast<const PoolJob*>(usr);
  const ConvShape& s = *P.s;
  const OutputTransform& t = *P.t;
  const int64_t kh = t.pool_h, kw = t.pool_w, wr = t.residual_w;
  const float* plane = t.residual + int64_t(i) * t.residual_h * wr;
  float* out = P.out + int64_t(i) * s.ho * s.wo;
  const float area = static_cast<float>(kh * kw);
  for (int64_t yo = 0; yo < s.ho; ++yo, out += s.wo) {
    const float* a = plane + yo * kh * wr;
    if (kh == 2 && kw == 2) {  // ReActNet's AvgPool2d(2), written out so that it vectorizes;
      // * 0.25f is bit-identical to / 4 (a power of two: both round the same real number)
      const float* b = a + wr;
      for (int64_t q = 0; q < s.wo; ++q)
        out[q] = (((a[2 * q] + a[2 * q + 1]) + b[2 * q]) + b[2 * q + 1]) * 0.25f;
    } else {
      for (int64_t q = 0; q < s.wo; ++q) {
        const float* w = a + q * kw;
        float sum = w[0];
        for (int64_t dy = 0; dy < kh; ++dy)
          for (int64_t dx = dy == 0 ? 1 : 0; dx < kw; ++dx) sum = sum + w[dy * wr + dx];
        out[q] = sum / area;
      }
    }
  }
}

// Throws std::invalid_argument when t does not fit a call of shape s (or x_channels does not).
// has_residual: whether the transform reads a residual (t.residual, or the pair's Y1).
void check_transform(const ConvShape& s, const OutputTransform& t, bool has_residual,
                     int64_t x_channels) {
  if ((has_residual && !t.add) || (t.pre && (!has_residual || !t.slope || !t.post)))
    throw std::invalid_argument("OutputTransform: residual needs add, RPReLU needs all of them");
  const int64_t cy = s.cout * t.repeats;
  if (t.splits < 1 || s.cout % t.splits || t.residual_channels < 0 ||
      (t.residual_channels && cy % t.residual_channels))
    throw std::invalid_argument("OutputTransform: splits must divide cout and residual_channels "
                                "cout * repeats");
  if (cy > int64_t(INT32_MAX))  // TileRow holds channel numbers as int32
    throw std::invalid_argument("OutputTransform: cout * repeats must be below 2^31");
  if (t.pooled() && (t.pool_h < 1 || t.pool_w < 1 || t.residual_h / t.pool_h != s.ho ||
                     t.residual_w / t.pool_w != s.wo))
    throw std::invalid_argument("OutputTransform: the pooled residual must have the output's size");
  if (!t.sign_threshold != !t.signs)
    throw std::invalid_argument("OutputTransform: sign_threshold and signs go together");
  if (t.pool_y && (s.ho % 2 || s.wo % 2 || s.ho * s.wo / 4 >= kPoolBottom))
    throw std::invalid_argument("OutputTransform: pool_y needs an even output height and width "
                                "(and fewer than 2^30 pooled pixels)");
  if (x_channels < 0 || (x_channels && s.cin % x_channels))
    throw std::invalid_argument("x_channels must divide cin");
}

}  // namespace

// Accumulator channel sp * m + i, copy r writes output channel j = sp*m*R + r*m + i. Walked in the
// order of j, so that j mod cr is a counter: the three divisions per entry were 4-6% of the 7x7
// layers of rep-reactnet-a (4096 entries).
std::vector<TileRow> tile_rows(const ConvShape& s, const OutputTransform& t) {
  std::vector<TileRow> rows(size_t(s.cout * t.repeats));
  const auto at_j = [](const float* v, int64_t j) { return v ? v[j] : 0.0f; };
  const int64_t m = s.cout / t.splits, cr = res_channels(s, t);
  int64_t j = 0, c = 0;  // c = j % cr
  for (int64_t sp = 0; sp < t.splits; ++sp)
    for (int64_t r = 0; r < t.repeats; ++r)
      for (int64_t i = 0; i < m; ++i, ++j, c = c + 1 == cr ? 0 : c + 1) {
        // accumulator channel sp * m + i
        rows[size_t((sp * m + i) * t.repeats + r)] = {
            int32_t(j), int32_t(c), t.mul[j], at_j(t.add, j), at_j(t.pre, j), at_j(t.slope, j),
            at_j(t.post, j), at_j(t.sign_threshold, j)};
      }
  return rows;
}

void binary_conv_forward(const ConvShape& s, const float* x, const float* threshold,
                         const PackedWeights& w, const Kernel& k, const OutputTransform& t,
                         float* y, const ParallelRunner& par, const uint64_t* x_signs,
                         int64_t x_channels) {
  check_transform(s, t, t.residual != nullptr, x_channels);
  const int64_t cy = s.cout * t.repeats;
  if (t.residual && t.pooled()) {
    // Pool first (pool_plane_task), then run the conv with the pooled planes as a plain residual.
    // When the residual is not tiled (Cr = Cout * repeats, ReActNet's downsampling blocks), the
    // pooled planes go into Y itself: each tile reads its residual row before it writes the same
    // floats of Y (the output transform is elementwise), and no other tile reads them.
    const int64_t cr = res_channels(s, t);
    const bool into_y = cr == cy && !t.pool_y;  // a pooled Y is smaller than the residual
    WordBuffer scratch(into_y ? 0 : size_t((s.n * cr * s.ho * s.wo + 1) / 2));
    PoolJob pool{&s, &t, into_y ? y : reinterpret_cast<float*>(scratch.data())};
    par.run(pool_plane_task, size_t(s.n * cr), &pool);
    OutputTransform pooled = t;
    pooled.residual = pool.out, pooled.pool_h = pooled.pool_w = 1;
    run(s, x, x_channels, threshold, x_signs, w, k, &pooled, y, nullptr, par);
    return;
  }
  run(s, x, x_channels, threshold, x_signs, w, k, &t, y, nullptr, par);
}

void binary_block_pair_forward(const ConvShape& sp, const float* x, const float* threshold,
                               const PackedWeights& wp, const OutputTransform& tp,
                               const ConvShape& sc, const float* c_threshold,
                               const PackedWeights& wc, const OutputTransform& tc, const Kernel& k,
                               float* y, const ParallelRunner& par, const uint64_t* x_signs,
                               int64_t x_channels) {
  const int64_t y1_channels = sp.cout * tp.repeats;
  if (sp.a.group != 1 || sc.a.group != 1 || sc.a.kh != 1 || sc.a.kw != 1 || sc.a.sh != 1 ||
      sc.a.sw != 1 || sc.a.pt || sc.a.pl || sc.a.pb || sc.a.pr || sc.n != sp.n ||
      sc.cin != y1_channels || sc.h != sp.ho || sc.w != sp.wo)
    throw std::invalid_argument("binary_block_pair_forward: C must be a 1x1 conv (stride 1, no "
                                "padding, one group) of P's output");
  if (tp.pool_y || tp.pooled() || tp.signs || tc.residual || tc.pooled())
    throw std::invalid_argument("binary_block_pair_forward: P writes no sign bits or pooled Y of "
                                "its own and pools no residual; C's residual is Y1 (tc.residual "
                                "null)");
  check_transform(sp, tp, tp.residual != nullptr, x_channels);
  check_transform(sc, tc, true, 0);
  if (res_channels(sc, tc) != y1_channels)
    throw std::invalid_argument("binary_block_pair_forward: C's residual channels must be Y1's");
  if (!k.bgemm)
    throw std::invalid_argument("binary_block_pair_forward: needs an optimized kernel path");
  if (sp.n == 0) return;
  // P writes Y1's tile and its sign bits at C's thresholds (C's input, packed by the pair task)
  const std::vector<float> zero(c_threshold ? 0 : size_t(y1_channels), 0.0f);
  OutputTransform p_out = tp;
  p_out.sign_threshold = c_threshold ? c_threshold : zero.data();
  OutputTransform c_out = tc;  // its residual: Y1's tile (TileOut::res, set per tile)
  const std::vector<int64_t> koff_p = tap_offsets(sp), koff_c = tap_offsets(sc);
  std::vector<TileRow> own_p, own_c;
  const TileRow* rows_p = rows_for(sp, p_out, &own_p);  // p_out.rows: tp's
  const TileRow* rows_c = rows_for(sc, c_out, &own_c);
  const PixelChunks pix = pixel_chunks(sc, tc.pool_y, sp.n, 1);
  const auto chunks = [](const ConvShape& s) { return (s.nocb() + kOcbPerTask - 1) / kOcbPerTask; };
  Job jobs[2] = {
      {&sp, &wp, &k, x, threshold, x_signs, x_channels ? x_channels : sp.cin, nullptr, nullptr,
       koff_p.data(), &p_out, rows_p, nullptr, nullptr, kOcbPerTask, chunks(sp), {}, 0},
      {&sc, &wc, &k, nullptr, nullptr, nullptr, sc.cin, nullptr, nullptr, koff_c.data(), &c_out,
       rows_c, y, nullptr, kOcbPerTask, chunks(sc), pix, 0}};
  WordBuffer planes, xp;
  pack_input(jobs[0], par, &planes, &xp);
  par.run(pair_task, size_t(sp.n * pix.chunks), jobs);
}

void binary_conv_accumulator(const ConvShape& s, const float* x, const float* threshold,
                             const PackedWeights& w, const Kernel& k, int32_t* acc,
                             const ParallelRunner& par) {
  run(s, x, 0, threshold, nullptr, w, k, nullptr, nullptr, acc, par);
}

}  // namespace rep_deploy::core
