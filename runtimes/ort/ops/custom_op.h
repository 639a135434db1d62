// The parts of an OrtCustomOp every op of this library shares: API level 17, CPU provider, one
// output, required inputs, default input memory.
#pragma once

#include <onnxruntime_c_api.h>

#include <cstring>

#include "ort_api.h"

namespace rep_deploy::ort {

inline const char* ORT_API_CALL cpu_provider(const OrtCustomOp*) { return nullptr; }  // = CPU
inline size_t ORT_API_CALL one_output(const OrtCustomOp*) { return 1; }
inline ONNXTensorElementDataType ORT_API_CALL float_output_type(const OrtCustomOp*, size_t) {
  return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
}
inline OrtCustomOpInputOutputCharacteristic ORT_API_CALL required(const OrtCustomOp*, size_t) {
  return INPUT_OUTPUT_REQUIRED;
}
// ORT calls this for every input once version > 12, so it must be set.
inline OrtMemType ORT_API_CALL default_memory(const OrtCustomOp*, size_t) { return OrtMemTypeDefault; }

// What differs between this library's ops: the callbacks an op provides itself.
struct OpCallbacks {
  const char*(ORT_API_CALL* name)(const OrtCustomOp*);
  ONNXTensorElementDataType(ORT_API_CALL* input_type)(const OrtCustomOp*, size_t);
  size_t(ORT_API_CALL* input_count)(const OrtCustomOp*);
  ONNXTensorElementDataType(ORT_API_CALL* output_type)(const OrtCustomOp*, size_t);
  OrtStatusPtr(ORT_API_CALL* create)(const OrtCustomOp*, const OrtApi*, const OrtKernelInfo*, void**);
  OrtStatusPtr(ORT_API_CALL* compute)(void*, OrtKernelContext*);
  void(ORT_API_CALL* destroy)(void*);
  OrtStatusPtr(ORT_API_CALL* infer)(const OrtCustomOp*, OrtShapeInferContext*);  // may be null
};

// Zeroed struct (later API fields stay null) with the shared callbacks and the op's own filled in.
inline OrtCustomOp make_custom_op(const OpCallbacks& cb) {
  OrtCustomOp o;
  std::memset(&o, 0, sizeof(o));
  o.version = kApiVersion;  // not ORT_API_VERSION: ORT <= 1.27 rejects versions above its own
  o.GetExecutionProviderType = cpu_provider;
  o.GetOutputTypeCount = one_output;
  o.GetInputCharacteristic = required;
  o.GetOutputCharacteristic = required;
  o.GetInputMemoryType = default_memory;
  o.GetName = cb.name;
  o.GetInputType = cb.input_type;
  o.GetInputTypeCount = cb.input_count;
  o.GetOutputType = cb.output_type;
  o.CreateKernelV2 = cb.create;
  o.KernelComputeV2 = cb.compute;
  o.KernelDestroy = cb.destroy;
  o.InferOutputShapeFn = cb.infer;
  return o;
}

}  // namespace rep_deploy::ort
