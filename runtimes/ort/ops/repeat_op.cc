#include "repeat_op.h"

#include <string>
#include <vector>

#include "core/repeat.h"
#include "custom_op.h"
#include "ort_api.h"

namespace rep_deploy::ort {

namespace {

size_t element_size(ONNXTensorElementDataType t) {
  switch (t) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return 1;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16: return 2;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32: return 4;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64: return 8;
    default: return 0;  // strings and sub-byte types: not supported
  }
}

class RepeatKernel {
 public:
  explicit RepeatKernel(const OrtKernelInfo* info) : what_(node_label(info, "Repeat")) {
    repeats_ = attr_int_required(info, "repeats", what_);
    if (repeats_ < 1 || repeats_ > 65536)
      throw OrtError(what_ + ": repeats must be in [1, 65536], got " + std::to_string(repeats_));
  }

  void compute(OrtKernelContext* ctx) const {
    const Tensor x = input(ctx, 0);
    if (x.shape.size() < 2)
      throw OrtError(what_ + ": X must have rank >= 2 (tiles along axis 1), got " + shape_str(x.shape));
    const size_t es = element_size(x.type);
    if (!es) throw OrtError(what_ + std::string(": unsupported element type ") + type_name(x.type));
    std::vector<int64_t> ys = x.shape;
    ys[1] *= repeats_;
    const Tensor y = output(ctx, 0, ys);
    const int64_t outer = x.shape[0];
    if (outer == 0 || x.elements() == 0) return;
    core::repeat_channels(x.data, y.data, outer, size_t(x.elements() / outer) * es, repeats_,
                          parallel_runner(ctx));
  }

 private:
  std::string what_;
  int64_t repeats_ = 1;
};

OrtStatusPtr ORT_API_CALL create(const OrtCustomOp*, const OrtApi*, const OrtKernelInfo* info, void** k) {
  *k = nullptr;
  return guard([&] { *k = new RepeatKernel(info); });
}
OrtStatusPtr ORT_API_CALL compute(void* k, OrtKernelContext* ctx) {
  return guard([&] { static_cast<const RepeatKernel*>(k)->compute(ctx); });
}
void ORT_API_CALL destroy(void* k) { delete static_cast<RepeatKernel*>(k); }

// Same rank, axis 1 times repeats; left unset when a dimension is unknown and unnamed.
OrtStatusPtr ORT_API_CALL infer(const OrtCustomOp*, OrtShapeInferContext* ctx) {
  OrtStatus* st = guard([&] {
    const InferShape x = infer_input(ctx, 0);
    bool found = false;
    const int64_t r = infer_attr_int(ctx, "repeats", 1, &found);
    if (!found || r < 1 || x.dims.size() < 2 || x.dims[1] < 0) return;
    for (size_t i = 0; i < x.dims.size(); ++i)
      if (x.dims[i] < 0 && x.symbols[i].empty()) return;
    InferShape y = x;
    y.dims[1] *= r;
    y.symbols[1].clear();
    infer_set_output(ctx, 0, y);
  });
  if (st) api().ReleaseStatus(st);  // ORT ignores this status; Compute reports bad shapes
  return nullptr;
}

const char* ORT_API_CALL name(const OrtCustomOp*) { return "Repeat"; }
size_t ORT_API_CALL one_input(const OrtCustomOp*) { return 1; }
// UNDEFINED: any tensor type; ORT infers the output type from the single dynamic input.
ONNXTensorElementDataType ORT_API_CALL any_type(const OrtCustomOp*, size_t) {
  return ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
}

}  // namespace

const OrtCustomOp* repeat_op() {
  static const OrtCustomOp def =
      make_custom_op({name, any_type, one_input, any_type, create, compute, destroy, infer});
  return &def;
}

}  // namespace rep_deploy::ort
