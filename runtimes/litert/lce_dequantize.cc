// LceDequantize: bit-packed int32 [..., words(C)] -> float32 [..., C] of +1.0 / -1.0 (core/lce.h);
// in quantized models int8, the output tensor's quantized +-1; or bool, true for +1.
// C cannot be inferred from the packed input, so it is the model's output channel count; the
// leading axes follow the input (a resized batch included).
#include <vector>

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
    const int type = api().TfLiteOpaqueTensorType(output);
    if (type != kTfLiteFloat32 && type != kTfLiteInt8 && type != kTfLiteBool)
      return report(context, kOp, output, std::string("output is ") + type_name(type) +
                                              ", only float32, int8 and bool are supported");
    if (type == kTfLiteInt8) int8_quantization(output, "the output");  // throws if unusable
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
    void* y = api().TfLiteOpaqueTensorData(output);
    if (!x || !y) return report(context, kOp, output, "tensor data not allocated");
    const int type = api().TfLiteOpaqueTensorType(output);
    if (type == kTfLiteFloat32) {
      core::lce::dequantize(x, rows, shape.back(), static_cast<float*>(y));
    } else if (type == kTfLiteInt8) {
      const TfLiteQuantizationParams q = int8_quantization(output, "the output");
      core::lce::dequantize(x, rows, shape.back(), q.scale, q.zero_point, static_cast<int8_t*>(y));
    } else {  // bool, one byte each: from the +-1.0 floats, so the bit layout stays the core's alone
      thread_local std::vector<float> scratch;
      scratch.resize(size_t(rows * shape.back()));
      core::lce::dequantize(x, rows, shape.back(), scratch.data());
      auto* b = static_cast<uint8_t*>(y);
      for (size_t i = 0; i < scratch.size(); ++i) b[i] = scratch[i] > 0.0f;
    }
    return kTfLiteOk;
  });
}

}  // namespace

TfLiteOperator* lce_dequantize_operator() {
  static TfLiteOperator* op = make_operator(kOp, {nullptr, nullptr, prepare, invoke});
  return op;
}

}  // namespace rep_deploy::litert
