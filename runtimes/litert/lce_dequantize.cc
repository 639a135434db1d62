// LceDequantize: bit-packed int32 [..., words(C)] -> float32 [..., C] of +1.0 / -1.0 (core/lce.h).
// C cannot be inferred from the packed input, so it is the model's output channel count; the
// leading axes follow the input (a resized batch included).
#include "core/lce.h"
#include "lce_ops.h"

namespace rep_deploy::litert {
namespace {

constexpr const char* kOp = "LceDequantize";

int prepare(TfLiteOpaqueContext* context, TfLiteOpaqueNode* node) {
  TfLiteOpaqueTensor* output = api().TfLiteOpaqueNodeGetOutput(context, node, 0);
  return guarded(context, kOp, output, [&] {
    if (api().TfLiteOpaqueNodeNumberOfInputs(node) != 1 || api().TfLiteOpaqueNodeNumberOfOutputs(node) != 1 || !output)
      return report(context, kOp, output, "needs 1 input and 1 output");
    const TfLiteOpaqueTensor* input = api().TfLiteOpaqueNodeGetInput(context, node, 0);
    if (!input || api().TfLiteOpaqueTensorType(input) != kTfLiteInt32)
      return report(context, kOp, output, "input must be int32 (bit-packed)");
    if (api().TfLiteOpaqueTensorType(output) != kTfLiteFloat32)
      return report(context, kOp, output, std::string("output is ") + type_name(api().TfLiteOpaqueTensorType(output)) +
                                              ", only float32 is supported");
    std::vector<int64_t> in = dims(input), out = dims(output);
    if (in.empty() || out.size() != in.size() || out.back() <= 0 || core::lce::words(out.back()) != in.back())
      return report(context, kOp, output, "output shape " + shape_text(out) + " does not unpack input " + shape_text(in));
    in.back() = out.back();
    return resize(context, output, in) ? kTfLiteOk : report(context, kOp, output, "cannot resize the output");
  });
}

int invoke(TfLiteOpaqueContext* context, TfLiteOpaqueNode* node) {
  TfLiteOpaqueTensor* output = api().TfLiteOpaqueNodeGetOutput(context, node, 0);
  return guarded(context, kOp, output, [&] {
    const TfLiteOpaqueTensor* input = api().TfLiteOpaqueNodeGetInput(context, node, 0);
    const std::vector<int64_t> shape = dims(output);
    const int64_t rows = rows_of(shape);
    const auto* x = static_cast<const int32_t*>(api().TfLiteOpaqueTensorData(input));
    auto* y = static_cast<float*>(api().TfLiteOpaqueTensorData(output));
    if (!x || !y) return report(context, kOp, output, "tensor data not allocated");
    core::lce::dequantize(x, rows, shape.back(), y);
    return kTfLiteOk;
  });
}

}  // namespace

TfLiteOperator* lce_dequantize_operator() {
  static TfLiteOperator* op = make_operator(kOp, {nullptr, nullptr, prepare, invoke});
  return op;
}

}  // namespace rep_deploy::litert
