// Thin helpers over the ONNX Runtime C API, pinned to API level 17 (ORT >= 1.17).
//
// Only the OrtApi table handed to RegisterCustomOps is used: the library never links
// libonnxruntime (see CMakeLists.txt). Errors inside kernels are thrown as OrtError and turned into
// an OrtStatus at the callback boundary (guard()), so nothing unwinds into ORT.
#pragma once

#include <onnxruntime_c_api.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/parallel.h"

namespace rep_deploy::ort {

// The API level this library is written against: GetApi(kApiVersion), OrtCustomOp::version.
// 17 is the first level with CreateKernelV2/KernelComputeV2, KernelInfoGetConstantInput_tensor,
// KernelContext_ParallelFor and InferOutputShapeFn; do not use ORT_API_VERSION (the headers' level).
constexpr uint32_t kApiVersion = 17;

const OrtApi& api();
void set_api(const OrtApi* api);

struct OrtError : std::runtime_error {
  OrtErrorCode code;
  explicit OrtError(const std::string& msg, OrtErrorCode c = ORT_INVALID_ARGUMENT)
      : std::runtime_error(msg), code(c) {}
};

// Throws OrtError carrying the status' message (and releases the status) when it is not null.
void check(OrtStatus* status);

// The core's work items on ORT's intra-op thread pool of this call.
core::ParallelRunner parallel_runner(OrtKernelContext* ctx);

// Runs f(); converts any exception into an OrtStatus (nullptr on success).
template <class F>
OrtStatus* guard(F&& f) noexcept {
  try {
    f();
    return nullptr;
  } catch (const OrtError& e) {
    return api().CreateStatus(e.code, e.what());
  } catch (const std::bad_alloc&) {
    return api().CreateStatus(ORT_FAIL, "rep_deploy: out of memory");
  } catch (const std::exception& e) {
    return api().CreateStatus(ORT_FAIL, e.what());
  } catch (...) {
    return api().CreateStatus(ORT_FAIL, "rep_deploy: unknown error");
  }
}

std::string shape_str(const std::vector<int64_t>& shape);
const char* type_name(ONNXTensorElementDataType t);

// Node attributes, read at kernel creation. `what` prefixes error messages ("BinaryConv node 'x'").
std::string node_label(const OrtKernelInfo* info, const char* op);
bool has_attr_int(const OrtKernelInfo* info, const char* name);
int64_t attr_int(const OrtKernelInfo* info, const char* name, int64_t dflt);
int64_t attr_int_required(const OrtKernelInfo* info, const char* name, const std::string& what);
std::vector<int64_t> attr_ints(const OrtKernelInfo* info, const char* name,
                               const std::vector<int64_t>& dflt);

// A tensor argument of a Compute call.
struct Tensor {
  OrtValue* value = nullptr;  // nullptr: optional input not given
  ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  std::vector<int64_t> shape;
  void* data = nullptr;
  int64_t elements() const;
};
Tensor describe(const OrtValue* v);
Tensor input(OrtKernelContext* ctx, size_t index);  // value == nullptr when absent
size_t input_count(OrtKernelContext* ctx);
size_t output_count(OrtKernelContext* ctx);
Tensor output(OrtKernelContext* ctx, size_t index, const std::vector<int64_t>& shape);

// Scratch memory for one Compute call from the session's CPU allocator (its arena: the same blocks
// again on the next run, where a fresh malloc of a few hundred KB faults its pages in every time),
// returned on scope exit.
class Scratch {
 public:
  Scratch(OrtKernelContext* ctx, size_t bytes);
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  void* data() const { return p_; }

 private:
  void release();
  OrtMemoryInfo* info_ = nullptr;
  OrtAllocator* alloc_ = nullptr;
  void* p_ = nullptr;
};

// Shape inference (InferOutputShapeFn) helpers: dims of input `index`, -1 where unknown, with the
// symbolic names ORT knows (for propagating e.g. the batch dimension).
struct InferShape {
  ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  std::vector<int64_t> dims;
  std::vector<std::string> symbols;
  bool has_rank = true;
};
InferShape infer_input(OrtShapeInferContext* ctx, size_t index);
size_t infer_input_count(OrtShapeInferContext* ctx);
int64_t infer_attr_int(OrtShapeInferContext* ctx, const char* name, int64_t dflt, bool* found);
std::vector<int64_t> infer_attr_ints(OrtShapeInferContext* ctx, const char* name,
                                     const std::vector<int64_t>& dflt, bool* found);
void infer_set_output(OrtShapeInferContext* ctx, size_t index, const InferShape& s);

}  // namespace rep_deploy::ort
