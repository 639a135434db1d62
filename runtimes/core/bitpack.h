// Bit-packing of activations (per call) and weights (once per kernel) into the layouts the binary
// GEMM kernels read.
//
// Bit convention (shared with rep_deploy/ops/bitpack.py): bit 1 = +1, bit 0 = -1, so the product of
// two binary values is +1 exactly when their bits agree and
//     dot(x, w) = K - 2 * popcount(x XOR w)      over the K = cin_g*kh*kw valid terms.
// Channel-padding bits (channels >= cin_g in the last word of a group) are 0 in BOTH activations and
// weights: their XOR is 0, so they never add to the popcount and K counts only real channels.
//
// Activations, "NHWC-bitpacked": word ((n*hp + y)*wp + x)*G*cw + g*cw + q, bit b, holds channel
// g*cin_g + 64*q + b of padded pixel (y, x). Border pixels hold the padding pattern: all valid bits 1
// for pad_value +1 and for pad_value 0 (zero padding is then corrected exactly, see binary_conv.cc),
// all 0 for pad_value -1.
//
// Weights: word ((g*nocb + ob)*kwords + k)*8 + l holds, for output channel g*cout_g + 8*ob + l, the
// 64 input channels [64*q, 64*q + 64) of tap t, where k = t*cw + q and t = i*kw + j (C order).
// Lanes l >= cout_g - 8*ob (the last, partial block) are zero and their counts are discarded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "conv_params.h"
#include "kernel_api.h"

namespace rep_deploy::core {

// 64-byte aligned array of uint64 words (one AVX-512 load per 8 weight lanes).
class WordBuffer {
 public:
  WordBuffer() = default;
  explicit WordBuffer(size_t words) { resize(words); }
  void resize(size_t words) {
    size_t bytes = (words * sizeof(uint64_t) + 63) / 64 * 64;
    if (bytes == 0) bytes = 64;
    void* p = std::aligned_alloc(64, bytes);
    if (!p) throw std::bad_alloc();
    data_.reset(static_cast<uint64_t*>(p));
    size_ = words;
  }
  uint64_t* data() { return data_.get(); }
  const uint64_t* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(uint64_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint64_t, Free> data_;
  size_t size_ = 0;
};

// Words needed for the packed, padded activations of a call.
size_t packed_activation_words(const ConvShape& s);


// Packing is two passes, so that the float input is read as long contiguous streams (reading 64
// channel rows side by side defeats the hardware prefetchers and, with plane strides that are a
// multiple of 4 KiB apart modulo the L1 sets, the L1 itself):
//  1. sign planes: word ((n*cin + c)*h + y)*sign_row_words(s) + x/64, bit x%64 = (x >= t[c]) with
//     t the per-input-channel threshold (0 when null), the bits past w zero; sign_rows() fills
//     rows of one (image, channel);
//  2. pack_activation_rows() transposes 64-channel x 64-pixel tiles of those bits into the padded
//     NHWC words above. Independent channels (pass 1) and rows (pass 2) may run concurrently.
inline int64_t sign_row_words(const ConvShape& s) { return (s.w + 63) / 64; }
size_t sign_plane_words(const ConvShape& s);
// Rows [iy0, iy1) of one (image, channel) plane x_plane (h x w floats), binarized at t, into
// dst[(iy - iy0) * sign_row_words(s) + x / 64].
void sign_rows(const float* x_plane, const ConvShape& s, int64_t iy0, int64_t iy1, float t,
               SignRowFn sign_row, uint64_t* dst);
// The h rows of one (image, channel) sign plane from its flattened bits (OutputTransform::signs:
// bit p of flat = pixel p of the h x w plane) into dst[y * sign_row_words(s) + x / 64], as
// sign_rows() would have written them from the floats.
void cut_sign_rows(const uint64_t* flat, const ConvShape& s, uint64_t* dst);
// Padded rows [y0, y1) of image n straight from the flattened sign planes of all its channels
// (x_signs: plane_words(h, w) words per (n, c)), without sign planes in between: for each 64-pixel
// piece of a row the 64 channels' bits are gathered with one load and shift each. Only for rows
// whose pieces start on a byte or fit in 57 bits (w % 8 == 0 or w <= 57; see
// packs_from_flat_signs), every other width goes through cut_sign_rows.
bool packs_from_flat_signs(const ConvShape& s);
void pack_activation_rows_from_signs(const uint64_t* x_signs, const ConvShape& s, int64_t n,
                                     int64_t y0, int64_t y1, TransposeBitsFn transpose_bits,
                                     uint64_t* out);
void pack_activation_rows(const uint64_t* planes, const ConvShape& s, int64_t n, int64_t y0,
                          int64_t y1, TransposeBitsFn transpose_bits, uint64_t* out);

// Weights repacked for one (Cin, attributes) combination, plus the per-tap weight sums that the exact
// zero-padding correction subtracts.
struct PackedWeights {
  int64_t cin = 0, cout = 0, group = 1, cin_g = 0, cout_g = 0, kh = 0, kw = 0, cw = 0;
  int64_t kwords = 0, nocb = 0;
  WordBuffer bits;               // layout in the header comment
  std::vector<int32_t> tap_sum;  // [kh*kw][cout]: sum over the cin_g inputs of w (+-1) at tap t
  std::vector<int32_t> row_sum;  // [kh][cout]: tap_sum summed over the taps of kernel row i
  std::vector<int32_t> col_sum;  // [kw][cout]: tap_sum summed over the taps of kernel column j
  bool matches(const ConvShape& s) const {
    return cin == s.cin && cout == s.cout && group == s.a.group && kh == s.a.kh && kw == s.a.kw;
  }
};

// Repacks ONNX-layout weights (uint8 (Cout, w_row_bytes), little bit order, see bitpack.py).
void pack_weights(const uint8_t* w, const ConvShape& s, PackedWeights* out);

// The GEMM (fn) of output pixels [f0, f0 + t.npix) (t.npix <= 64) of a plane wo pixels wide, read
// from packed activations in which output pixel (0, 0)'s first tap word is at `image` and output
// rows and columns step row_step and col_step words; pixel p's counts to t.cnt + p * t.cnt_stride
// (t's x, x_pix_stride and pix_off are set here). Evenly spaced pixels (a row of output pixels
// steps as far as an output row: 1x1, stride 1, no padding) go in one call. Else, on planes
// narrower than the 64 pixels, one call with each pixel's offset in a table (BgemmTask::pix_off):
// a call per output-row segment ended rows of 7 and 14 pixels in 3 and 2 single pixels, each
// loading the weights for itself alone (`bench_model`, Zen 4: rep-reactnet-a's 14x14 and 7x7 3x3
// layers -3% and -5%). On wider planes (a tile in one or two rows, in whole blocks of pixels) a
// call per segment: the table's loads made the 112x112 3x3 layer (K = 9 words) 2-3% slower.
void gemm_tile_pixels(BgemmFn fn, BgemmTask t, const uint64_t* image, int64_t f0, int64_t wo,
                      int64_t row_step, int64_t col_step);

}  // namespace rep_deploy::core
