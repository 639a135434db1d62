// Geometry of a BinaryConv call: the node's attributes plus the shapes of one call, validated once.
// Framework-free: the ORT adapters, the C++ tests and the benchmarks all build one of these.
#pragma once

#include <cstdint>
#include <string>

namespace rep_deploy::core {

// Attributes of a BinaryConv node, with ONNX Conv conventions (pads = top, left, bottom, right).
struct ConvAttrs {
  int64_t kh = 0, kw = 0;
  int64_t sh = 1, sw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  int64_t dh = 1, dw = 1;
  int64_t group = 1;
  int64_t pad_value = 0;  // 0: zero padding after binarization; +1 / -1: pad with that binary value

  // "kernel_shape=[3,3] strides=[1,1] ..." for error messages.
  std::string to_string() const;
  // "" when the attributes are usable on their own, else what is wrong with them.
  std::string validate() const;
};

// A validated call: attributes, input shape (N, Cin, H, W), Cout = W.shape[0], and derived sizes.
struct ConvShape {
  ConvAttrs a;
  int64_t n = 0, cin = 0, h = 0, w = 0, cout = 0;
  int64_t ho = 0, wo = 0;
  int64_t cin_g = 0, cout_g = 0;
  int64_t cw = 0;          // 64-bit words per pixel per group: ceil(cin_g / 64)
  int64_t hp = 0, wp = 0;  // extent of the padded input
  int64_t k_bits = 0;      // cin_g * kh * kw: the valid terms of one output's dot product
  int64_t w_row_bytes = 0; // ceil(k_bits / 8): bytes per row of the ONNX-packed weight

  int64_t taps() const { return a.kh * a.kw; }
  int64_t kwords() const { return taps() * cw; }  // 64-bit words in one output's dot product
  int64_t nocb() const { return (cout_g + 7) / 8; }  // blocks of 8 output channels per group
};

// Fills only the channel fields of *out (cin, cout, cin_g, cout_g, cw, k_bits, w_row_bytes): enough
// to pack weights before the spatial size of the input is known. "" or the error message.
std::string make_weight_shape(const ConvAttrs& attrs, int64_t cin, int64_t cout, ConvShape* out);

// ONNX/PyTorch floor rule for one spatial axis (may be <= 0 for too-small inputs).
int64_t conv_output_size(int64_t size, int64_t k, int64_t stride, int64_t pad_begin,
                         int64_t pad_end, int64_t dilation);

// Fills *out and returns "" or returns an error naming the offending shapes and attributes.
std::string make_conv_shape(const ConvAttrs& attrs, int64_t n, int64_t cin, int64_t h, int64_t w,
                            int64_t cout, ConvShape* out);

// Checks a packed weight of shape (rows, row_bytes) against the call: "" or the error message.
std::string check_weight_shape(const ConvShape& s, int64_t rows, int64_t row_bytes);

}  // namespace rep_deploy::core
