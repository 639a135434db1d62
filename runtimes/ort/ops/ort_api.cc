#include "ort_api.h"

#include <sstream>

namespace rep_deploy::ort {

namespace {
const OrtApi* g_api = nullptr;
}  // namespace

const OrtApi& api() { return *g_api; }
void set_api(const OrtApi* a) { g_api = a; }

void check(OrtStatus* status) {
  if (!status) return;
  const std::string msg = api().GetErrorMessage(status);
  const OrtErrorCode code = api().GetErrorCode(status);
  api().ReleaseStatus(status);
  throw OrtError(msg, code);
}

namespace {
void ort_parallel_for(void* ctx, void (*fn)(void*, size_t), size_t total, void* usr) {
  // num_batch 0: "no limit" on the batches (C API docs): the items are handed out one by one
  check(api().KernelContext_ParallelFor(static_cast<OrtKernelContext*>(ctx), fn, total, 0, usr));
}
}  // namespace

core::ParallelRunner parallel_runner(OrtKernelContext* ctx) {
  core::ParallelRunner par;
  par.call = ort_parallel_for;
  par.self = ctx;
  return par;
}

Scratch::Scratch(OrtKernelContext* ctx, size_t bytes) {
  try {
    check(api().CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &info_));
    check(api().KernelContext_GetAllocator(ctx, info_, &alloc_));
    p_ = alloc_->Alloc(alloc_, bytes ? bytes : 1);
    if (!p_) throw OrtError("out of memory: " + std::to_string(bytes) + " bytes of scratch");
  } catch (...) {
    release();
    throw;
  }
}

Scratch::~Scratch() { release(); }

void Scratch::release() {
  if (p_) alloc_->Free(alloc_, p_);
  if (alloc_) api().ReleaseAllocator(alloc_);
  if (info_) api().ReleaseMemoryInfo(info_);
  p_ = nullptr, alloc_ = nullptr, info_ = nullptr;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? "," : "") << shape[i];
  os << "]";
  return os.str();
}

const char* type_name(ONNXTensorElementDataType t) {
  switch (t) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return "float32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8: return "uint8";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return "int8";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return "int32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return "int64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return "float64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return "float16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL: return "bool";
    default: return "other";
  }
}

std::string node_label(const OrtKernelInfo* info, const char* op) {
  size_t size = 0;
  std::string name;
  OrtStatus* st = api().KernelInfo_GetNodeName(info, nullptr, &size);
  if (st) {
    api().ReleaseStatus(st);
  } else if (size > 1) {
    name.resize(size);
    st = api().KernelInfo_GetNodeName(info, &name[0], &size);
    if (st) {
      api().ReleaseStatus(st);
      name.clear();
    } else {
      name.resize(size - 1);  // drop the terminating NUL
    }
  }
  return std::string(op) + " node '" + name + "'";
}

bool has_attr_int(const OrtKernelInfo* info, const char* name) {
  int64_t v = 0;
  OrtStatus* st = api().KernelInfoGetAttribute_int64(info, name, &v);
  if (st) api().ReleaseStatus(st);
  return st == nullptr;
}

int64_t attr_int(const OrtKernelInfo* info, const char* name, int64_t dflt) {
  int64_t v = 0;
  OrtStatus* st = api().KernelInfoGetAttribute_int64(info, name, &v);
  if (st) {  // absent (or not an int): the spec's default
    api().ReleaseStatus(st);
    return dflt;
  }
  return v;
}

int64_t attr_int_required(const OrtKernelInfo* info, const char* name, const std::string& what) {
  int64_t v = 0;
  OrtStatus* st = api().KernelInfoGetAttribute_int64(info, name, &v);
  if (st) {
    api().ReleaseStatus(st);
    throw OrtError(what + ": required int attribute '" + name + "' is missing");
  }
  return v;
}

std::vector<int64_t> attr_ints(const OrtKernelInfo* info, const char* name,
                               const std::vector<int64_t>& dflt) {
  size_t size = 0;
  OrtStatus* st = api().KernelInfoGetAttributeArray_int64(info, name, nullptr, &size);
  if (st) {
    api().ReleaseStatus(st);
    return dflt;
  }
  std::vector<int64_t> v(size);
  if (size) check(api().KernelInfoGetAttributeArray_int64(info, name, v.data(), &size));
  return v;
}

int64_t Tensor::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Tensor describe(const OrtValue* v) {
  Tensor t;
  t.value = const_cast<OrtValue*>(v);
  OrtTensorTypeAndShapeInfo* info = nullptr;
  check(api().GetTensorTypeAndShape(v, &info));
  size_t rank = 0;
  OrtStatus* st = api().GetTensorElementType(info, &t.type);
  if (!st) st = api().GetDimensionsCount(info, &rank);
  if (!st) {
    t.shape.resize(rank);
    if (rank) st = api().GetDimensions(info, t.shape.data(), rank);
  }
  api().ReleaseTensorTypeAndShapeInfo(info);
  check(st);
  check(api().GetTensorMutableData(t.value, &t.data));
  return t;
}

size_t input_count(OrtKernelContext* ctx) {
  size_t n = 0;
  check(api().KernelContext_GetInputCount(ctx, &n));
  return n;
}

Tensor input(OrtKernelContext* ctx, size_t index) {
  if (index >= input_count(ctx)) return Tensor{};
  const OrtValue* v = nullptr;
  check(api().KernelContext_GetInput(ctx, index, &v));
  if (!v) return Tensor{};  // optional input left empty
  return describe(v);
}

size_t output_count(OrtKernelContext* ctx) {
  size_t n = 0;
  check(api().KernelContext_GetOutputCount(ctx, &n));
  return n;
}

Tensor output(OrtKernelContext* ctx, size_t index, const std::vector<int64_t>& shape) {
  OrtValue* v = nullptr;
  check(api().KernelContext_GetOutput(ctx, index, shape.data(), shape.size(), &v));
  return describe(v);
}

size_t infer_input_count(OrtShapeInferContext* ctx) {
  size_t n = 0;
  check(api().ShapeInferContext_GetInputCount(ctx, &n));
  return n;
}

InferShape infer_input(OrtShapeInferContext* ctx, size_t index) {
  InferShape s;
  OrtTensorTypeAndShapeInfo* info = nullptr;  // owned by the context: not released here
  check(api().ShapeInferContext_GetInputTypeShape(ctx, index, &info));
  check(api().GetTensorElementType(info, &s.type));
  size_t rank = 0;
  check(api().GetDimensionsCount(info, &rank));
  // A missing shape also arrives as rank 0: callers treat rank 0 as "unknown".
  s.has_rank = rank > 0;
  s.dims.resize(rank);
  std::vector<const char*> sym(rank, nullptr);
  if (rank) {
    check(api().GetDimensions(info, s.dims.data(), rank));
    check(api().GetSymbolicDimensions(info, sym.data(), rank));
  }
  for (size_t i = 0; i < rank; ++i) s.symbols.emplace_back(sym[i] ? sym[i] : "");
  return s;
}

namespace {
const OrtOpAttr* infer_attr(OrtShapeInferContext* ctx, const char* name) {
  const OrtOpAttr* attr = nullptr;
  OrtStatus* st = api().ShapeInferContext_GetAttribute(ctx, name, &attr);
  if (st) {
    api().ReleaseStatus(st);
    return nullptr;
  }
  return attr;
}
}  // namespace

int64_t infer_attr_int(OrtShapeInferContext* ctx, const char* name, int64_t dflt, bool* found) {
  const OrtOpAttr* attr = infer_attr(ctx, name);
  *found = false;
  if (!attr) return dflt;
  int64_t v = 0;
  size_t out = 0;
  OrtStatus* st = api().ReadOpAttr(attr, ORT_OP_ATTR_INT, &v, sizeof(v), &out);
  if (st) {
    api().ReleaseStatus(st);
    return dflt;
  }
  *found = true;
  return v;
}

std::vector<int64_t> infer_attr_ints(OrtShapeInferContext* ctx, const char* name,
                                     const std::vector<int64_t>& dflt, bool* found) {
  const OrtOpAttr* attr = infer_attr(ctx, name);
  *found = false;
  if (!attr) return dflt;
  size_t bytes = 0;
  OrtStatus* st = api().ReadOpAttr(attr, ORT_OP_ATTR_INTS, nullptr, 0, &bytes);  // size query
  if (st) api().ReleaseStatus(st);
  std::vector<int64_t> v(bytes / sizeof(int64_t));
  if (!v.empty()) {
    st = api().ReadOpAttr(attr, ORT_OP_ATTR_INTS, v.data(), bytes, &bytes);
    if (st) {
      api().ReleaseStatus(st);
      return dflt;
    }
  }
  *found = true;
  return v;
}

void infer_set_output(OrtShapeInferContext* ctx, size_t index, const InferShape& s) {
  OrtTensorTypeAndShapeInfo* info = nullptr;
  check(api().CreateTensorTypeAndShapeInfo(&info));
  std::vector<const char*> sym;
  for (const std::string& x : s.symbols) sym.push_back(x.c_str());
  OrtStatus* st = api().SetTensorElementType(info, s.type);
  if (!st) st = api().SetDimensions(info, s.dims.data(), s.dims.size());
  if (!st) st = api().SetSymbolicDimensions(info, sym.data(), sym.size());
  if (!st) st = api().ShapeInferContext_SetOutputTypeShape(ctx, index, info);
  api().ReleaseTensorTypeAndShapeInfo(info);
  check(st);
}

}  // namespace rep_deploy::ort
