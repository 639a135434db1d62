// LceBMaxPool2d (lce.h): the max pool of bit-packed signs, and its oracle.
//
// max of +-1 values is -1 only when all are -1, and bit 1 means -1, so the pool is an AND of words.
// bmaxpool2d computes it separably, as LCE's own kernel does not: per output row, the window's input
// rows are ANDed once per input column (fh words-long ANDs per column), then each output pixel ANDs
// fw of those columns. A 3x3 stride-2 pool thus does about 3 + 3 / 2 ANDs per input column
// instead of 9 per output pixel. The reference works in the +-1 domain, channel by channel.
#include <cstdint>
#include <cstring>
#include <vector>

#include "lce.h"
#include "lce_geometry.h"

namespace rep_deploy::core::lce {

namespace {

// The in-image part [begin, end) of the window of output position o along one axis.
void window(int64_t o, int64_t stride, int64_t pad, int64_t filter, int64_t in, int64_t* begin, int64_t* end) {
  const int64_t start = o * stride - pad;
  *begin = start < 0 ? 0 : start;
  *end = start + filter < in ? start + filter : in;
}

struct Job {
  const BMaxPool2DParams* p;
  PoolGeometry g;
  int64_t x_lo, x_hi;  // the input columns any output row's windows read: first start to last end
  const uint32_t* in;
  uint32_t* out;
};

// Output row `row` (batch-major) of one pool: the input columns the row's windows touch, each the
// AND of the window's rows, then each pixel the AND of its columns.
void pool_row(void* usr, size_t row) {
  const Job& j = *static_cast<const Job*>(usr);
  const BMaxPool2DParams& p = *j.p;
  const int64_t nw = p.words, n = int64_t(row) / j.g.out_h, oy = int64_t(row) % j.g.out_h;
  int64_t y0 = 0, y1 = 0;
  window(oy, p.stride_h, j.g.pad_top, p.filter_h, p.in_h, &y0, &y1);
  const int64_t x_lo = j.x_lo;
  thread_local std::vector<uint32_t> columns;
  columns.resize(size_t((j.x_hi - x_lo) * nw));
  const uint32_t* plane = j.in + n * p.in_h * p.in_w * nw;
  std::memcpy(columns.data(), plane + (y0 * p.in_w + x_lo) * nw, columns.size() * sizeof(uint32_t));
  for (int64_t y = y0 + 1; y < y1; ++y) {
    const uint32_t* src = plane + (y * p.in_w + x_lo) * nw;
    for (size_t i = 0; i < columns.size(); ++i) columns[i] &= src[i];
  }
  uint32_t* dst = j.out + row * size_t(j.g.out_w * nw);
  for (int64_t ox = 0; ox < j.g.out_w; ++ox, dst += nw) {
    int64_t x0 = 0, x1 = 0;
    window(ox, p.stride_w, j.g.pad_left, p.filter_w, p.in_w, &x0, &x1);
    const uint32_t* col = columns.data() + (x0 - x_lo) * nw;
    std::memcpy(dst, col, size_t(nw) * sizeof(uint32_t));
    for (int64_t x = x0 + 1; x < x1; ++x) {
      col += nw;
      for (int64_t q = 0; q < nw; ++q) dst[q] &= col[q];
    }
  }
}

}  // namespace

PoolShape bmaxpool2d_shape(const BMaxPool2DParams& p) {
  const PoolGeometry g = make_pool_geometry(p);
  return {g.out_h, g.out_w};
}

void bmaxpool2d(const BMaxPool2DParams& p, const int32_t* input, int32_t* output, const ParallelRunner& par) {
  Job j{&p, make_pool_geometry(p), 0, 0, reinterpret_cast<const uint32_t*>(input), reinterpret_cast<uint32_t*>(output)};
  if (j.g.out_w == 0) return;  // VALID on a narrower image: no output (out_h may be > 0)
  int64_t unused = 0;
  window(0, p.stride_w, j.g.pad_left, p.filter_w, p.in_w, &j.x_lo, &unused);
  window(j.g.out_w - 1, p.stride_w, j.g.pad_left, p.filter_w, p.in_w, &unused, &j.x_hi);
  par.run(pool_row, size_t(p.batch * j.g.out_h), &j);
}

void bmaxpool2d_reference(const BMaxPool2DParams& p, const int32_t* input, int32_t* output) {
  const PoolGeometry g = make_pool_geometry(p);
  const int64_t channels = 32 * p.words;  // padding bits pool like any other (0 in, 0 out)
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t oy = 0; oy < g.out_h; ++oy)
      for (int64_t ox = 0; ox < g.out_w; ++ox) {
        int32_t* out = output + ((n * g.out_h + oy) * g.out_w + ox) * p.words;
        std::memset(out, 0, size_t(p.words) * sizeof(int32_t));
        for (int64_t c = 0; c < channels; ++c) {
          float m = -2.0f;  // below every +-1 value: an empty window would give -1
          for (int64_t i = 0; i < p.filter_h; ++i)
            for (int64_t k = 0; k < p.filter_w; ++k) {
              const int64_t y = oy * p.stride_h - g.pad_top + i, x = ox * p.stride_w - g.pad_left + k;
              if (y < 0 || y >= p.in_h || x < 0 || x >= p.in_w) continue;  // out of image: ignored
              const uint32_t word = uint32_t(input[((n * p.in_h + y) * p.in_w + x) * p.words + c / 32]);
              const float v = (word >> (c % 32)) & 1 ? -1.0f : 1.0f;
              m = v > m ? v : m;
            }
          if (m < 0.0f) out[c / 32] = int32_t(uint32_t(out[c / 32]) | (uint32_t(1) << (c % 32)));
        }
      }
}

}  // namespace rep_deploy::core::lce
