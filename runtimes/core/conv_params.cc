#include "conv_params.h"

#include <sstream>

namespace rep_deploy::core {

std::string ConvAttrs::to_string() const {
  std::ostringstream os;
  os << "kernel_shape=[" << kh << "," << kw << "] strides=[" << sh << "," << sw << "] pads=[" << pt
     << "," << pl << "," << pb << "," << pr << "] dilations=[" << dh << "," << dw
     << "] group=" << group << " pad_value=" << pad_value;
  return os.str();
}

std::string ConvAttrs::validate() const {
  std::ostringstream os;
  if (kh < 1 || kw < 1) os << "kernel_shape must be positive; ";
  if (sh < 1 || sw < 1) os << "strides must be >= 1; ";
  if (dh < 1 || dw < 1) os << "dilations must be >= 1; ";
  if (pt < 0 || pl < 0 || pb < 0 || pr < 0) os << "pads must be >= 0; ";
  if (group < 1) os << "group must be >= 1; ";
  if (pad_value != 0 && pad_value != 1 && pad_value != -1) os << "pad_value must be 0, 1 or -1; ";
  // Keep every index product far from int64 overflow (and kernels' int32 counts exact).
  if (kh > 4096 || kw > 4096 || sh > 4096 || sw > 4096 || dh > 4096 || dw > 4096 || pt > 4096 ||
      pl > 4096 || pb > 4096 || pr > 4096)
    os << "attribute values above 4096 are not supported; ";
  std::string e = os.str();
  if (e.empty()) return e;
  e.resize(e.size() - 2);
  return e + " (got " + to_string() + ")";
}

int64_t conv_output_size(int64_t size, int64_t k, int64_t stride, int64_t pad_begin,
                         int64_t pad_end, int64_t dilation) {
  const int64_t span = size + pad_begin + pad_end - dilation * (k - 1) - 1;
  // floor division also for a negative span (Python's // in the numpy reference)
  const int64_t q = span >= 0 ? span / stride : -((-span + stride - 1) / stride);
  return q + 1;
}

std::string make_conv_shape(const ConvAttrs& attrs, int64_t n, int64_t cin, int64_t h, int64_t w,
                            int64_t cout, ConvShape* out) {
  std::string e = attrs.validate();
  if (!e.empty()) return e;
  std::ostringstream os;
  const auto shape = [&] {
    std::ostringstream s;
    s << "X shape [" << n << "," << cin << "," << h << "," << w << "], Cout " << cout << ", "
      << attrs.to_string();
    return s.str();
  };
  if (n < 0 || cin < 1 || h < 1 || w < 1 || cout < 1) {
    os << "BinaryConv needs N >= 0 and positive C, H, W, Cout; got " << shape();
    return os.str();
  }
  if (n > (int64_t(1) << 31) || cin > (int64_t(1) << 24) || h > (int64_t(1) << 24) ||
      w > (int64_t(1) << 24) || cout > (int64_t(1) << 24)) {
    return "BinaryConv: tensor dimensions too large; got " + shape();
  }
  if (cin % attrs.group != 0) {
    os << "input channels " << cin << " are not divisible by group=" << attrs.group << "; got "
       << shape();
    return os.str();
  }
  if (cout % attrs.group != 0) {
    os << "output channels (W.shape[0]) " << cout << " are not divisible by group=" << attrs.group
       << "; got " << shape();
    return os.str();
  }
  ConvShape s;
  s.a = attrs;
  s.n = n, s.cin = cin, s.h = h, s.w = w, s.cout = cout;
  s.ho = conv_output_size(h, attrs.kh, attrs.sh, attrs.pt, attrs.pb, attrs.dh);
  s.wo = conv_output_size(w, attrs.kw, attrs.sw, attrs.pl, attrs.pr, attrs.dw);
  if (s.ho <= 0 || s.wo <= 0) {
    os << "input " << h << "x" << w << " is too small for the kernel (output would be " << s.ho
       << "x" << s.wo << "); got " << shape();
    return os.str();
  }
  s.cin_g = cin / attrs.group;
  s.cout_g = cout / attrs.group;
  s.cw = (s.cin_g + 63) / 64;
  s.hp = h + attrs.pt + attrs.pb;
  s.wp = w + attrs.pl + attrs.pr;
  s.k_bits = s.cin_g * attrs.kh * attrs.kw;
  if (s.k_bits > (int64_t(1) << 30)) return "BinaryConv: kernel too large (" + shape() + ")";
  s.w_row_bytes = (s.k_bits + 7) / 8;
  *out = s;
  return "";
}

std::string make_weight_shape(const ConvAttrs& attrs, int64_t cin, int64_t cout, ConvShape* out) {
  std::string e = attrs.validate();
  if (!e.empty()) return e;
  std::ostringstream os;
  if (cin < 1 || cout < 1 || cin > (int64_t(1) << 24) || cout > (int64_t(1) << 24)) {
    os << "BinaryConv needs 1 <= channels <= 2^24; got Cin " << cin << ", Cout " << cout;
    return os.str();
  }
  if (cin % attrs.group || cout % attrs.group) {
    os << "input channels " << cin << " and output channels (W.shape[0]) " << cout
       << " must both be divisible by group=" << attrs.group;
    return os.str();
  }
  ConvShape s;
  s.a = attrs;
  s.cin = cin, s.cout = cout, s.cin_g = cin / attrs.group, s.cout_g = cout / attrs.group;
  s.cw = (s.cin_g + 63) / 64;
  s.k_bits = s.cin_g * attrs.kh * attrs.kw;
  if (s.k_bits > (int64_t(1) << 30)) return "BinaryConv: kernel too large";
  s.w_row_bytes = (s.k_bits + 7) / 8;
  *out = s;
  return "";
}

std::string check_weight_shape(const ConvShape& s, int64_t rows, int64_t row_bytes) {
  if (rows == s.cout && row_bytes == s.w_row_bytes) return "";
  std::ostringstream os;
  os << "W must be uint8 of shape (Cout, ceil(Cin/group*kh*kw/8)) = (" << s.cout << ", "
     << s.w_row_bytes << ") for X channels " << s.cin << " and " << s.a.to_string() << "; got ("
     << rows << ", " << row_bytes << ")";
  return os.str();
}

}  // namespace rep_deploy::core
