// LceQuantize: float32, bool or int8 [..., C] -> bit-packed int32 [..., words(C)] (core/lce.h).
// Bool inputs appear where LCE's converter folded `where(cond, +1, -1)` into the op: true is +1
// (bit 0), false is -1 (bit 1). Int8 inputs appear in quantized models: -1 below the input
// tensor's zero point.
#include <vector>

#include "core/lce.h"
#include "lce_ops.h"

namespace rep_deploy::litert {
namespace {

constexpr const char* kOp = "LceQuantize";

int prepare(TfLiteOpaqueContext* context, TfLiteOpaqueNode* node) {
  TfLiteOpaqueTensor* output = api().TfLiteOpaqueNodeGetOutput(context, node, 0);
  return guarded(context, kOp, output, [&] {
    if (api().TfLiteOpaqueNodeNumberOfInputs(node) != 1 || api().TfLiteOpaqueNodeNumberOfOutputs(node) != 1 || !output)
      return report(context, kOp, output, "needs 1 input and 1 output");
    const TfLiteOpaqueTensor* input = api().TfLiteOpaqueNodeGetInput(context, node, 0);
    if (!input) return report(context, kOp, output, "has no input tensor");
    const int type = api().TfLiteOpaqueTensorType(input);
    if (type != kTfLiteFloat32 && type != kTfLiteBool && type != kTfLiteInt8)
      return report(context, kOp, output, std::string("input is ") + type_name(type) +
                                              ", only float32, bool and int8 are supported");
    if (type == kTfLiteInt8) int8_quantization(input, "the input");  // throws if unusable
    if (api().TfLiteOpaqueTensorType(output) != kTfLiteInt32)
      return report(context, kOp, output, "output must be int32 (bit-packed)");
    std::vector<int64_t> shape = dims(input);
    if (shape.empty() || shape.back() <= 0)
      return report(context, kOp, output, "input shape " + shape_text(shape) + " has no channel axis");
    shape.back() = core::lce::words(shape.back());
    return resize(context, output, shape) ? kTfLiteOk : report(context, kOp, output, "cannot resize the output");
  });
}

int invoke(TfLiteOpaqueContext* context, TfLiteOpaqueNode* node) {
  TfLiteOpaqueTensor* output = api().TfLiteOpaqueNodeGetOutput(context, node, 0);
  return guarded(context, kOp, output, [&] {
    const TfLiteOpaqueTensor* input = api().TfLiteOpaqueNodeGetInput(context, node, 0);
    const std::vector<int64_t> shape = dims(input);
    const int64_t rows = rows_of(shape);
    const void* x = api().TfLiteOpaqueTensorData(input);
    auto* y = static_cast<int32_t*>(api().TfLiteOpaqueTensorData(output));
    if (!x || !y) return report(context, kOp, output, "tensor data not allocated");
    if (api().TfLiteOpaqueTensorType(input) == kTfLiteFloat32) {
      core::lce::quantize(static_cast<const float*>(x), rows, shape.back(), y);
      return kTfLiteOk;
    }
    if (api().TfLiteOpaqueTensorType(input) == kTfLiteInt8) {
      const int32_t zero_point = int8_quantization(input, "the input").zero_point;
      core::lce::quantize(static_cast<const int8_t*>(x), rows, shape.back(), zero_point, y);
      return kTfLiteOk;
    }
    // bool (one byte each): as +-1.0 floats, so the bit layout stays the core's alone. The copy is
    // a few kB per op; a scratch kept per thread avoids allocating on every invoke.
    thread_local std::vector<float> scratch;
    const size_t n = size_t(rows * shape.back());
    scratch.resize(n);
    const auto* b = static_cast<const uint8_t*>(x);
    for (size_t i = 0; i < n; ++i) scratch[i] = b[i] ? 1.0f : -1.0f;
    core::lce::quantize(scratch.data(), rows, shape.back(), y);
    return kTfLiteOk;
  });
}

}  // namespace

TfLiteOperator* lce_quantize_operator() {
  static TfLiteOperator* op = make_operator(kOp, {nullptr, nullptr, prepare, invoke});
  return op;
}

}  // namespace rep_deploy::litert
