// BinaryConv forward pass on packed bits: the framework-free driver the ORT adapters call.
//
//   1. pack the call's activations (NHWC-bitpacked, padded; bitpack.h): sign planes in parallel
//      over channels, then 64x64 bit transposes in parallel over rows;
//   2. tasks of (image, group, 64 output channels, 64 consecutive output pixels; with a pooled Y,
//      whole rows of pooling windows, binary_conv.cc's pixel_chunks) run the blocked
//      XOR-popcount GEMM into int32 tiles of up to 64 pixels;
//   3. the tile becomes the exact accumulator  acc = K - 2*popcount - correction  (correction only
//      for pad_value 0, below) and the output transform writes NCHW float32.
//
// Zero padding (pad_value 0) is exact: the padded border holds +1 bits, so every out-of-bounds tap
// t added sum_c w[oc, c, t] (the tap's weight sum) to the dot product instead of 0. For an output
// pixel whose out-of-bounds kernel rows are R and columns C, the taps to remove are those in a row
// of R or a column of C, so by inclusion-exclusion
//   correction = sum_{i in R} row_sum[i] + sum_{j in C} col_sum[j] - sum_{i in R, j in C} tap_sum[i, j]
// which is an exact integer computed from sums prepared when the weights are packed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "bitpack.h"
#include "conv_params.h"
#include "kernels.h"
#include "parallel.h"

namespace rep_deploy::core {

// Output channel j of Y reads accumulator channel oc, where with m = cout / splits,
// oc = s * m + i and j = s * m * repeats + r * m + i (r < repeats; splits = 1: j = r * cout + oc,
// the plain tile), and gets, as separate float32 roundings in this order (the build uses
// -ffp-contract=off, so no fused multiply-add):
//     v = float(acc[oc]) * mul[j];   if add: v = v + add[j];
//     if residual: v = v + residual[n, j mod residual_channels, pixel]
// where, with pool_h x pool_w other than 1 x 1, the residual (residual_h x residual_w per plane) is
// first average-pooled, window = stride = pool_h x pool_w: the window's values summed in row-major
// order starting from the first, then divided by pool_h * pool_w (ReActNet's AvgPool2d(2) shortcut)
//     if rprelu (pre, slope, post all set):  u = v + pre[j];  u = u >= 0 ? u : u * slope[j];
//                                            v = u + post[j]
// BinaryConv is repeats = 1, mul = scale, nothing else: numpy's acc.astype(f32) * scale.
// BinaryConvFused(Add) sets add (and residual); BinaryConvBlock sets everything. A residual needs
// add and RPReLU needs the residual (the ops' combinations; anything else is rejected).
struct OutputTransform {
  const float* mul = nullptr;       // [cout * repeats]
  const float* add = nullptr;       // [cout * repeats] or nullptr
  const float* residual = nullptr;  // shaped like Y, or nullptr
  const float* pre = nullptr;       // [cout * repeats] or nullptr (RPReLU: all three or none)
  const float* slope = nullptr;
  const float* post = nullptr;
  int64_t repeats = 1;
  int64_t splits = 1;             // divides cout (BinaryConvBlock's channel-doubling pair: 2)
  int64_t residual_channels = 0;  // divides cout * repeats; 0: cout * repeats (no tiling)
  int64_t pool_h = 1, pool_w = 1;  // residual average pool (1 x 1: none)
  int64_t residual_h = 0, residual_w = 0;  // the residual's plane when pooled (floor-divides to Ho, Wo)
  // Packed signs for the next op (both or neither): bit p of word signs[(n * cout * repeats + j) *
  // plane_words(Ho, Wo) + p / 64] is Y[n, j].flat[p % 64 + 64 * (p / 64)] >= sign_threshold[j]
  // (false for NaN), the bits past Ho * Wo zero: the consumer's sign pass, done while Y's tile is
  // still in L1 (see binary_conv_forward's x_signs). Two threads may write different bytes of one
  // word (TileOut::signs): the buffer must not be read or written by anyone else during the call.
  const float* sign_threshold = nullptr;  // [cout * repeats]
  uint64_t* signs = nullptr;
  // Y written 2x2-average-pooled: y is (N, cout * repeats, Ho / 2, Wo / 2) (Ho and Wo even), each
  // window's four values v summed in row-major order ((a + b) + c) + d, then * 0.25 (ReActNet's
  // AvgPool2d(2) shortcut, as the consumer's pooled residual does it); the signs stay those of the
  // full output. For a block whose output only the next, downsampling block reads (its signs,
  // linked, and its pooled residual): 3/4 of Y's float writes and the consumer's pool pass go.
  bool pool_y = false;
  // The epilogue's table of rows (tile_rows(s, *this)), or null: then every call builds it. A caller
  // whose vectors are constant across calls (an ORT kernel's initializers) builds it once and keeps
  // it; it must equal tile_rows(s, *this) for the call's shape (for binary_block_pair_forward's P:
  // with sign_threshold = c_threshold, as that function fills P's sign bits for C).
  const TileRow* rows = nullptr;
  bool pooled() const { return pool_h != 1 || pool_w != 1; }
  bool rprelu() const { return pre != nullptr; }
};

// The epilogue's row of every (accumulator channel oc, copy r) at [oc * repeats + r] (TileRow,
// kernel_api.h): output channel j, residual channel j mod residual channels, and channel j's
// constants (0 for the vectors t lacks). Built per call unless t.rows brings it: 0.8% of
// rep-reactnet-a's time at 1 thread, before the parallel section.
std::vector<TileRow> tile_rows(const ConvShape& s, const OutputTransform& t);

// Words of one packed sign plane (OutputTransform::signs): the flattened h x w plane, 64 pixels
// per word.
inline int64_t plane_words(int64_t h, int64_t w) { return (h * w + 63) / 64; }

// Y = BinaryConv(x) with weights packed for s (w.matches(s)) on kernel path k (k.bgemm non-null).
// x binarizes as x[n, c] >= threshold[c] (threshold null: >= 0). y has shape
// (N, cout * t.repeats, Ho, Wo), or a quarter of it with t.pool_y. x_signs, when given, holds those bits already, in the layout of
// OutputTransform::signs (plane_words(H, W) words per (n, c), written by the op that produced x
// with this op's threshold): the sign pass then only cuts them into rows instead of reading x
// (x is still read when it is the residual; otherwise x may be null). x_channels (0: cin) is how many channels x holds per
// image: channel c of the convolution's input is x's channel c mod x_channels (x_channels divides
// cin), i.e. the input is x tiled along channels (a Repeat folded into the op; its threshold is
// still per tiled channel). y must not overlap x or the residual: a pooled, untiled residual is
// staged in y before the tiles update it in place. Only allocation failures throw (std::bad_alloc).
void binary_conv_forward(const ConvShape& s, const float* x, const float* threshold,
                         const PackedWeights& w, const Kernel& k, const OutputTransform& t,
                         float* y, const ParallelRunner& par, const uint64_t* x_signs = nullptr,
                         int64_t x_channels = 0);

// Two blocks as one: P (any conv of one group, x, threshold, x_signs and x_channels as in
// binary_conv_forward) and C, a 1x1 conv (stride 1, no padding, one group) of P's output Y1,
// binarized at c_threshold (null: 0) and also C's residual (tc.residual must be null; tiled by
// tc.residual_channels as usual). y gets what binary_conv_forward(C) of binary_conv_forward(P)
// would write, bit for bit, C's sign bits (tc.signs) included; Y1 itself is never written. Tile by
// tile (64 pixels, every channel of P, then of C) so that Y1's floats stay in cache: at
// RepBNN widths a 56x56 Y1 is 3.2 MB, written and re-read through L3 otherwise. P may not write
// signs or a pooled Y of its own (tp.signs, tp.pool_y) or pool its residual; needs k.bgemm.
void binary_block_pair_forward(const ConvShape& sp, const float* x, const float* threshold,
                               const PackedWeights& wp, const OutputTransform& tp,
                               const ConvShape& sc, const float* c_threshold,
                               const PackedWeights& wc, const OutputTransform& tc, const Kernel& k,
                               float* y, const ParallelRunner& par,
                               const uint64_t* x_signs = nullptr, int64_t x_channels = 0);

// Same, returning only the int32 accumulators (N, cout, Ho, Wo): for tests.
void binary_conv_accumulator(const ConvShape& s, const float* x, const float* threshold,
                             const PackedWeights& w, const Kernel& k, int32_t* acc,
                             const ParallelRunner& par);

}  // namespace rep_deploy::core
