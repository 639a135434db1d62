#include "ort_session.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <stdexcept>

#include "npy.h"

namespace ort_bench {
namespace {

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// A name ORT allocated with the default allocator, copied and freed.
std::string take_name(const OrtLibrary& ort, OrtAllocator* allocator, char* name) {
  std::string copy = name;
  ort.check(ort.api().AllocatorFree(allocator, name), "freeing a name");
  return copy;
}

}  // namespace

OrtLibrary::OrtLibrary(const std::string& path) {
  // RTLD_NODELETE-like lifetime: never dlclosed, ORT's thread pools outlive main's locals.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) fail("cannot load ONNX Runtime: " + std::string(::dlerror()));
  using GetApiBase = const OrtApiBase* (*)();
  auto get_base = reinterpret_cast<GetApiBase>(::dlsym(handle, "OrtGetApiBase"));
  if (!get_base) fail(path + " has no OrtGetApiBase: not an ONNX Runtime library");
  base_ = get_base();
  api_ = base_->GetApi(kOrtApiLevel);
  if (!api_)
    fail("ONNX Runtime " + version() + " does not offer C API level " + std::to_string(kOrtApiLevel) +
         " (needs 1.17 or later)");
}

void OrtLibrary::check(OrtStatus* status, const std::string& what) const {
  if (!status) return;
  std::string message = api_->GetErrorMessage(status);
  api_->ReleaseStatus(status);
  fail(what + ": " + message);
}

Session::Session(const OrtLibrary& ort, const SessionConfig& config) : ort_(ort), h_{&ort.api()} {
  const OrtApi& api = ort.api();
  if (!is_file(config.model)) fail("model file not found: " + config.model);
  // FATAL only: every error reaches the user once, as this program's one-line message.
  ort.check(api.CreateEnv(ORT_LOGGING_LEVEL_FATAL, "ort_bench", &h_.env), "creating the ORT environment");
  ort.check(api.CreateSessionOptions(&h_.options), "creating session options");
  if (config.threads > 0)
    ort.check(api.SetIntraOpNumThreads(h_.options, config.threads), "setting the thread count");
  if (!config.custom_ops.empty()) {
    if (config.custom_ops.find('/') != std::string::npos && !is_file(config.custom_ops))
      fail("custom-op library not found: " + config.custom_ops);
    ort.check(api.RegisterCustomOpsLibrary_V2(h_.options, config.custom_ops.c_str()),
              "registering custom ops " + config.custom_ops);
  }
  ort.check(api.CreateSession(h_.env, config.model.c_str(), h_.options, &h_.session), "loading " + config.model);

  size_t inputs = 0, outputs = 0;
  ort.check(api.SessionGetInputCount(h_.session, &inputs), "reading the model inputs");
  ort.check(api.SessionGetOutputCount(h_.session, &outputs), "reading the model outputs");
  if (inputs != 1) fail(config.model + " has " + std::to_string(inputs) + " inputs; ort_bench feeds exactly one");
  if (outputs < 1) fail(config.model + " has no outputs");
  OrtAllocator* allocator = nullptr;
  ort.check(api.GetAllocatorWithDefaultOptions(&allocator), "getting the default allocator");
  char* name = nullptr;
  ort.check(api.SessionGetInputName(h_.session, 0, allocator, &name), "reading the input name");
  input_name_ = take_name(ort, allocator, name);
  ort.check(api.SessionGetOutputName(h_.session, 0, allocator, &name), "reading the output name");
  output_name_ = take_name(ort, allocator, name);

  OrtTypeInfo* type = nullptr;
  ort.check(api.SessionGetInputTypeInfo(h_.session, 0, &type), "reading the input type");
  const OrtTensorTypeAndShapeInfo* tensor = nullptr;
  OrtStatus* status = api.CastTypeInfoToTensorInfo(type, &tensor);
  size_t rank = 0;
  if (!status && tensor) status = api.GetTensorElementType(tensor, &input_type_);
  if (!status && tensor) status = api.GetDimensionsCount(tensor, &rank);
  input_dims_.assign(rank, -1);
  if (!status && tensor && rank) status = api.GetDimensions(tensor, input_dims_.data(), rank);
  api.ReleaseTypeInfo(type);
  ort.check(status, "reading the input shape");
  if (!tensor || input_type_ != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
    fail("input '" + input_name_ + "' is not a float32 tensor; ort_bench feeds float32 .npy data");
  ort.check(api.CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &h_.memory), "creating memory info");
}

Session::Handles::~Handles() {
  if (memory) api->ReleaseMemoryInfo(memory);
  if (session) api->ReleaseSession(session);
  if (options) api->ReleaseSessionOptions(options);
  if (env) api->ReleaseEnv(env);
}

void Session::check_input(const std::vector<int64_t>& shape) const {
  bool fits = shape.size() == input_dims_.size();
  for (size_t i = 0; fits && i < shape.size(); ++i) fits = input_dims_[i] < 0 || input_dims_[i] == shape[i];
  if (!fits)
    fail("input '" + input_name_ + "' expects shape " + shape_string(input_dims_) + ", the .npy holds " +
         shape_string(shape));
}

Tensor Session::run(const std::vector<int64_t>& shape, std::vector<float>& input, bool keep_output) const {
  const OrtApi& api = ort_.api();
  OrtValue* in = nullptr;
  ort_.check(api.CreateTensorWithDataAsOrtValue(h_.memory, input.data(), input.size() * sizeof(float), shape.data(),
                                                shape.size(), ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &in),
             "wrapping the input");
  const char* in_names[] = {input_name_.c_str()};
  const char* out_names[] = {output_name_.c_str()};
  OrtValue* out = nullptr;
  OrtStatus* status = api.Run(h_.session, nullptr, in_names, &in, 1, out_names, 1, &out);
  api.ReleaseValue(in);
  ort_.check(status, "running the model");
  Tensor result;
  if (keep_output) {
    result.name = output_name_;
    OrtTensorTypeAndShapeInfo* info = nullptr;
    ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    size_t rank = 0, count = 0;
    float* data = nullptr;
    status = api.GetTensorTypeAndShape(out, &info);
    if (!status) status = api.GetTensorElementType(info, &type);
    if (!status) status = api.GetDimensionsCount(info, &rank);
    result.shape.assign(rank, 0);
    if (!status && rank) status = api.GetDimensions(info, result.shape.data(), rank);
    if (!status) status = api.GetTensorShapeElementCount(info, &count);
    if (!status && type == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
      status = api.GetTensorMutableData(out, reinterpret_cast<void**>(&data));
    if (info) api.ReleaseTensorTypeAndShapeInfo(info);
    if (!status && data) result.data.assign(data, data + count);
    api.ReleaseValue(out);
    ort_.check(status, "reading the output");
    if (type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
      fail("output '" + output_name_ + "' is not a float32 tensor");
  } else {
    api.ReleaseValue(out);
  }
  return result;
}

}  // namespace ort_bench
