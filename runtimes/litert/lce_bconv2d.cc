// LceBconv2d over rep-deploy's core::lce::BConv2D (core/lce.h holds the op's semantics).
//
// Init parses the node's flexbuffer options; Prepare checks the five inputs (input, filter,
// post_activation_multiplier, post_activation_bias, output_threshold; absent ones are index -1),
// builds the BConv2D from the constant tensors (repacking the filter once per allocation, not per
// invoke) and sizes the output; Invoke runs it. Float, bit-packed and int8 (LCE's quantized
// variant: the output tensor's scale and zero point join the transform) outputs are supported.
#include <memory>

#include "core/lce.h"
#include "flexbuffer.h"
#include "lce_ops.h"

namespace rep_deploy::litert {
namespace {

namespace lce = core::lce;
constexpr const char* kOp = "LceBconv2d";

struct OpData {
  lce::BConv2DParams options;  // the parsed options (shapes filled in by Prepare)
  std::string options_error;   // a parse error, reported by Prepare (Init cannot report)
  std::unique_ptr<lce::BConv2D> conv;
};

lce::BConv2DParams parse_options(const char* buffer, size_t length) {
  const IntOptions o(buffer, length);
  constexpr int64_t kBig = 1 << 20;
  lce::BConv2DParams p;
  p.channels_in = o.get("channels_in", 1, kBig);
  p.stride_h = o.get("stride_height", 1, kBig);
  p.stride_w = o.get("stride_width", 1, kBig);
  p.dilation_h = o.get("dilation_height_factor", 1, kBig);
  p.dilation_w = o.get("dilation_width_factor", 1, kBig);
  p.padding = static_cast<lce::Padding>(o.get("padding", 0, 1));  // schema Padding: SAME 0, VALID 1
  p.pad_value = int(o.get("pad_values", 0, 1));
  p.activation = static_cast<lce::Activation>(o.get("fused_activation_function", 0, 3));
  return p;
}

// A constant per-output-channel vector (multiplier, bias or thresholds) of `type`, or the error.
std::string check_vector(const TfLiteOpaqueTensor* t, const char* what, int type, int64_t channels) {
  if (!t) return std::string(what) + " is missing";
  if (api().TfLiteOpaqueTensorType(t) != type) return std::string(what) + " must be " + type_name(type);
  if (!is_constant(t)) return std::string(what) + " must be a constant tensor";
  const std::vector<int64_t> d = dims(t);
  if (d.size() != 1 || d[0] != channels)
    return std::string(what) + " has shape " + shape_text(d) + ", expected [" + std::to_string(channels) + "]";
  return "";
}

int prepare(TfLiteOpaqueContext* context, TfLiteOpaqueNode* node) {
  TfLiteOpaqueTensor* output = api().TfLiteOpaqueNodeGetOutput(context, node, 0);
  return guarded(context, kOp, output, [&] {
    auto* data = static_cast<OpData*>(api().TfLiteOpaqueNodeGetUserData(node));
    if (!data) return report(context, kOp, output, "out of memory");
    if (!data->options_error.empty()) return report(context, kOp, output, data->options_error);
    if (api().TfLiteOpaqueNodeNumberOfInputs(node) != 5 || api().TfLiteOpaqueNodeNumberOfOutputs(node) != 1 || !output)
      return report(context, kOp, output, "needs 5 inputs and 1 output");
    data->conv.reset();
    auto input_at = [&](int i) { return api().TfLiteOpaqueNodeGetInput(context, node, i); };
    const TfLiteOpaqueTensor *input = input_at(0), *filter = input_at(1);

    if (!input || api().TfLiteOpaqueTensorType(input) != kTfLiteInt32 || dims(input).size() != 4)
      return report(context, kOp, output, "input must be bit-packed int32 NHWC");
    if (!filter || api().TfLiteOpaqueTensorType(filter) != kTfLiteInt32 || dims(filter).size() != 4 || !is_constant(filter))
      return report(context, kOp, output, "filter must be a constant bit-packed int32 OHWI tensor");
    const std::vector<int64_t> in = dims(input), f = dims(filter);
    lce::BConv2DParams p = data->options;
    if (in[3] != lce::words(p.channels_in))
      return report(context, kOp, output, "input shape " + shape_text(in) + " does not hold channels_in = " +
                                              std::to_string(p.channels_in) + " packed channels");
    p.batch = in[0], p.in_h = in[1], p.in_w = in[2];
    p.channels_out = f[0], p.filter_h = f[1], p.filter_w = f[2], p.filter_words = f[3];

    const int out_type = api().TfLiteOpaqueTensorType(output);
    const float *multiplier = nullptr, *bias = nullptr;
    const int32_t* thresholds = nullptr;
    if (out_type == kTfLiteFloat32 || out_type == kTfLiteInt8) {
      p.output = out_type == kTfLiteFloat32 ? lce::Output::kFloat : lce::Output::kInt8;
      if (p.output == lce::Output::kInt8) {
        const TfLiteQuantizationParams q = int8_quantization(output, "the output");
        p.out_scale = q.scale, p.out_zero_point = q.zero_point;
      }
      for (int i : {2, 3}) {
        const char* what = i == 2 ? "post_activation_multiplier" : "post_activation_bias";
        const std::string err = check_vector(input_at(i), what, kTfLiteFloat32, p.channels_out);
        if (!err.empty()) return report(context, kOp, output, err);
      }
      multiplier = static_cast<const float*>(api().TfLiteOpaqueTensorData(input_at(2)));
      bias = static_cast<const float*>(api().TfLiteOpaqueTensorData(input_at(3)));
    } else if (out_type == kTfLiteInt32) {
      p.output = lce::Output::kBitpacked;
      const std::string err = check_vector(input_at(4), "output_threshold", kTfLiteInt32, p.channels_out);
      if (!err.empty()) return report(context, kOp, output, err);
      thresholds = static_cast<const int32_t*>(api().TfLiteOpaqueTensorData(input_at(4)));
    } else {
      return report(context, kOp, output, std::string("output type ") + type_name(out_type) + " is not supported");
    }

    // Throws std::invalid_argument naming the bad option or shape; guarded() reports it.
    data->conv = std::make_unique<lce::BConv2D>(p, static_cast<const int32_t*>(api().TfLiteOpaqueTensorData(filter)),
                                                multiplier, bias, thresholds);
    const int64_t channels = p.output == lce::Output::kBitpacked ? lce::words(p.channels_out) : p.channels_out;
    if (!resize(context, output, {p.batch, data->conv->out_h(), data->conv->out_w(), channels}))
      return report(context, kOp, output, "cannot resize the output");
    return kTfLiteOk;
  });
}

int invoke(TfLiteOpaqueContext* context, TfLiteOpaqueNode* node) {
  TfLiteOpaqueTensor* output = api().TfLiteOpaqueNodeGetOutput(context, node, 0);
  return guarded(context, kOp, output, [&] {
    const auto* data = static_cast<const OpData*>(api().TfLiteOpaqueNodeGetUserData(node));
    if (!data || !data->conv) return report(context, kOp, output, "invoked before a successful prepare");
    const auto* x = static_cast<const int32_t*>(api().TfLiteOpaqueTensorData(api().TfLiteOpaqueNodeGetInput(context, node, 0)));
    void* y = api().TfLiteOpaqueTensorData(output);
    if (!x || !y) return report(context, kOp, output, "tensor data not allocated");
    // LiteRT offers custom ops no thread pool through the C API: the library's own
    with_lce_threads([&](const core::ParallelRunner& par) { data->conv->run(x, y, par); });
    return kTfLiteOk;
  });
}

}  // namespace

TfLiteOperator* lce_bconv2d_operator() {
  static TfLiteOperator* op =
      make_operator(kOp, {init_options<OpData, parse_options>, free_data<OpData>, prepare, invoke});
  return op;
}

}  // namespace rep_deploy::litert
