// LceBMaxPool2d over rep-deploy's core::lce::bmaxpool2d (core/lce.h holds the op's semantics).
//
// LCE's converter writes it where a MaxPool2D feeds only a sign (a binary conv's input): the pool
// then runs on the packed signs. Init parses the flexbuffer options; Prepare checks the bit-packed
// int32 input and sizes the output; Invoke pools, output rows spread over the library's threads.
#include "core/lce.h"
#include "flexbuffer.h"
#include "lce_ops.h"

namespace rep_deploy::litert {
namespace {

namespace lce = core::lce;
constexpr const char* kOp = "LceBMaxPool2d";

struct OpData {
  lce::BMaxPool2DParams options;  // the parsed options (shapes filled in by Prepare)
  std::string options_error;      // a parse error, reported by Prepare (Init cannot report)
};

lce::BMaxPool2DParams parse_options(const char* buffer, size_t length) {
  const IntOptions o(buffer, length);
  lce::BMaxPool2DParams p;
  p.filter_h = o.get("filter_height", 1, 4096);
  p.filter_w = o.get("filter_width", 1, 4096);
  p.stride_h = o.get("stride_height", 1, 4096);
  p.stride_w = o.get("stride_width", 1, 4096);
  p.padding = static_cast<lce::Padding>(o.get("padding", 0, 1));  // schema Padding: SAME 0, VALID 1
  return p;
}

int prepare(TfLiteOpaqueContext* context, TfLiteOpaqueNode* node) {
  TfLiteOpaqueTensor* output = api().TfLiteOpaqueNodeGetOutput(context, node, 0);
  return guarded(context, kOp, output, [&] {
    auto* data = static_cast<OpData*>(api().TfLiteOpaqueNodeGetUserData(node));
    if (!data) return report(context, kOp, output, "out of memory");
    if (!data->options_error.empty()) return report(context, kOp, output, data->options_error);
    if (api().TfLiteOpaqueNodeNumberOfInputs(node) != 1 || api().TfLiteOpaqueNodeNumberOfOutputs(node) != 1 || !output)
      return report(context, kOp, output, "needs 1 input and 1 output");
    const TfLiteOpaqueTensor* input = api().TfLiteOpaqueNodeGetInput(context, node, 0);
    if (!input || api().TfLiteOpaqueTensorType(input) != kTfLiteInt32 || dims(input).size() != 4)
      return report(context, kOp, output, "input must be bit-packed int32 NHWC");
    if (api().TfLiteOpaqueTensorType(output) != kTfLiteInt32)
      return report(context, kOp, output, "output must be int32 (bit-packed)");
    const std::vector<int64_t> in = dims(input);
    lce::BMaxPool2DParams& p = data->options;
    p.batch = in[0], p.in_h = in[1], p.in_w = in[2], p.words = in[3];
    const lce::PoolShape s = lce::bmaxpool2d_shape(p);  // throws naming the bad option or shape
    return resize(context, output, {p.batch, s.out_h, s.out_w, p.words})
               ? kTfLiteOk
               : report(context, kOp, output, "cannot resize the output");
  });
}

int invoke(TfLiteOpaqueContext* context, TfLiteOpaqueNode* node) {
  TfLiteOpaqueTensor* output = api().TfLiteOpaqueNodeGetOutput(context, node, 0);
  return guarded(context, kOp, output, [&] {
    const auto* data = static_cast<const OpData*>(api().TfLiteOpaqueNodeGetUserData(node));
    if (!data || !data->options_error.empty() || data->options.words < 1)
      return report(context, kOp, output, "invoked before a successful prepare");
    const auto* x = static_cast<const int32_t*>(api().TfLiteOpaqueTensorData(api().TfLiteOpaqueNodeGetInput(context, node, 0)));
    auto* y = static_cast<int32_t*>(api().TfLiteOpaqueTensorData(output));
    if (!x || !y) return report(context, kOp, output, "tensor data not allocated");
    with_lce_threads([&](const core::ParallelRunner& par) { lce::bmaxpool2d(data->options, x, y, par); });
    return kTfLiteOk;
  });
}

}  // namespace

TfLiteOperator* lce_bmaxpool2d_operator() {
  static TfLiteOperator* op =
      make_operator(kOp, {init_options<OpData, parse_options>, free_data<OpData>, prepare, invoke});
  return op;
}

}  // namespace rep_deploy::litert
