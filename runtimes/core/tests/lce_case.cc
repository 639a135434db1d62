// One LceBconv2d case from a file, for tests/test_lce_core.py (the numpy model of lce.h against
// this C++ core): runs bconv2d_reference and BConv2D on the REP_DEPLOY_KERNEL path (default: the
// best this CPU has) and writes both outputs.
//
// Usage: lce_case CASE_FILE OUT_FILE
// CASE_FILE, little-endian: 16 int64 params (batch, in_h, in_w, channels_in, channels_out,
// filter_h, filter_w, filter_words, stride_h, stride_w, dilation_h, dilation_w, padding, pad_value,
// activation, output), then the int32 input, the int32 filter, float32 multiplier [Cout], float32
// bias [Cout], int32 thresholds [Cout] (all three always present), sizes as in lce.h.
// OUT_FILE: int64 out_h, int64 out_w, the kernel path name (NUL-padded to 32 bytes), the
// reference's output, then BConv2D's (float32 or int32 words, as lce.h shapes them).
// Exit status 0, or 1 with one line on stderr (e.g. a validation error).
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <vector>

#include "../lce.h"

using namespace rep_deploy::core::lce;

namespace {

template <class T>
void read_array(std::FILE* f, std::vector<T>* v, size_t n) {
  v->resize(n);
  if (n && std::fread(v->data(), sizeof(T), n, f) != n) throw std::runtime_error("case file too short");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s CASE_FILE OUT_FILE\n", argv[0]);
    return 2;
  }
  try {
    std::FILE* f = std::fopen(argv[1], "rb");
    if (!f) throw std::runtime_error("cannot open the case file");
    std::vector<int64_t> v;
    read_array(f, &v, 16);
    BConv2DParams p;
    p.batch = v[0], p.in_h = v[1], p.in_w = v[2], p.channels_in = v[3], p.channels_out = v[4];
    p.filter_h = v[5], p.filter_w = v[6], p.filter_words = v[7];
    p.stride_h = v[8], p.stride_w = v[9], p.dilation_h = v[10], p.dilation_w = v[11];
    p.padding = Padding(v[12]), p.pad_value = int(v[13]);
    p.activation = Activation(v[14]), p.output = Output(v[15]);
    std::vector<int32_t> input, filter, thr;
    std::vector<float> mul, bias;
    read_array(f, &input, size_t(p.batch * p.in_h * p.in_w * words(p.channels_in)));
    read_array(f, &filter, size_t(p.channels_out * p.filter_h * p.filter_w * p.filter_words));
    read_array(f, &mul, size_t(p.channels_out));
    read_array(f, &bias, size_t(p.channels_out));
    read_array(f, &thr, size_t(p.channels_out));
    std::fclose(f);

    BConv2D op(p, filter.data(), mul.data(), bias.data(), thr.data());
    const size_t n = size_t(p.batch * op.out_h() * op.out_w() *
                            (p.output == Output::kFloat ? p.channels_out : words(p.channels_out)));
    std::vector<int32_t> want(n), got(n);  // float32 outputs travel as their bits
    bconv2d_reference(p, input.data(), filter.data(), mul.data(), bias.data(), thr.data(), want.data());
    op.run(input.data(), got.data());

    std::FILE* o = std::fopen(argv[2], "wb");
    if (!o) throw std::runtime_error("cannot open the output file");
    const int64_t hw[2] = {op.out_h(), op.out_w()};
    char name[32] = {};
    std::strncpy(name, op.kernel_path(), sizeof name - 1);
    bool ok = std::fwrite(hw, sizeof hw, 1, o) == 1 && std::fwrite(name, sizeof name, 1, o) == 1;
    ok = ok && (n == 0 || (std::fwrite(want.data(), 4, n, o) == n && std::fwrite(got.data(), 4, n, o) == n));
    ok = std::fclose(o) == 0 && ok;
    if (!ok) throw std::runtime_error("cannot write the output file");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lce_case: %s\n", e.what());
    return 1;
  }
  return 0;
}
