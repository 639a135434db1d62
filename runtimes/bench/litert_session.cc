#include "litert_session.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "bench_main.h"
#include "npy.h"

namespace ort_bench {
namespace {

using rep_deploy::litert::kTfLiteFloat32;
using rep_deploy::litert::kTfLiteOk;

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::vector<int64_t> tensor_shape(const rep_deploy::litert::Api& api, const TfLiteTensor* t) {
  std::vector<int64_t> shape(size_t(api.TfLiteTensorNumDims(t)));
  for (size_t i = 0; i < shape.size(); ++i) shape[i] = api.TfLiteTensorDim(t, int32_t(i));
  return shape;
}

std::string tensor_name(const rep_deploy::litert::Api& api, const TfLiteTensor* t) {
  const char* name = api.TfLiteTensorName(t);
  return name ? name : "";
}

}  // namespace

LiteRtLibrary::LiteRtLibrary(const std::string& path) {
  // Never dlclosed: LiteRT's thread pool and the registered operators outlive main's locals.
  handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_) fail("cannot load LiteRT: " + std::string(::dlerror()));
  const std::string missing = api_.resolve(handle_);
  if (!missing.empty())
    fail(path + " does not export " + missing + ": not the TFLite C API of ai-edge-litert 1.4/2.0 for aarch64");
}

void ErrorLog::report(void* self, const char* format, va_list args) {
  char buf[1024];
  std::vsnprintf(buf, sizeof buf, format, args);
  std::string text = buf;
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  while (!text.empty() && text.back() == ' ') text.pop_back();
  if (!text.empty()) static_cast<ErrorLog*>(self)->messages.push_back(text);
}

std::string ErrorLog::take() {
  std::string all;
  for (const auto& m : messages) all += (all.empty() ? "" : "; ") + m;
  messages.clear();
  return all;
}

void Interpreter::fail_with_log(const std::string& what) {
  const std::string log = log_.take();
  fail(log.empty() ? what : what + ": " + log);
}

Interpreter::Interpreter(const LiteRtLibrary& lib, const InterpreterConfig& config,
                         const std::vector<int64_t>& input_shape)
    : api_(lib.api()), h_{lib.api()} {
  // A missing file is named here: LiteRT's own message for it is less direct.
  if (!is_file(config.model)) fail("cannot read model " + config.model + ": " + std::strerror(ENOENT));
  h_.model = api_.TfLiteModelCreateFromFileWithErrorReporter(config.model.c_str(), &ErrorLog::report, &log_);
  if (!h_.model) fail_with_log("cannot load model " + config.model);
  h_.options = api_.TfLiteInterpreterOptionsCreate();
  if (!h_.options) fail("LiteRT could not create interpreter options");
  api_.TfLiteInterpreterOptionsSetErrorReporter(h_.options, &ErrorLog::report, &log_);
  if (config.threads > 0) api_.TfLiteInterpreterOptionsSetNumThreads(h_.options, config.threads);
  if (!config.custom_ops.empty()) {
    if (!is_file(config.custom_ops)) fail("custom-op library not found: " + config.custom_ops);
    void* ops = ::dlopen(config.custom_ops.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!ops) fail("cannot load the custom-op library: " + std::string(::dlerror()));
    using Register = int (*)(TfLiteInterpreterOptions*, void*, char*, size_t);
    auto reg = reinterpret_cast<Register>(::dlsym(ops, "RepDeployRegisterLceOps"));
    if (!reg) fail(config.custom_ops + " has no RepDeployRegisterLceOps: not rep-deploy's LiteRT op library");
    char error[512] = {0};
    if (reg(h_.options, lib.handle(), error, sizeof error) != 0) fail("registering rep-deploy's LCE ops: " + std::string(error));
    // LiteRT's thread count reaches only its builtin ops: the LCE ops get theirs from the library
    using SetThreads = int (*)(int);
    auto set_threads = reinterpret_cast<SetThreads>(::dlsym(ops, "RepDeploySetLceThreads"));
    if (!set_threads) fail(config.custom_ops + " has no RepDeploySetLceThreads: a library older than this runner");
    const unsigned cores = std::thread::hardware_concurrency();
    set_threads(config.threads > 0 ? config.threads : cores > 0 ? int(cores) : 1);
  }
  h_.interpreter = api_.TfLiteInterpreterCreate(h_.model, h_.options);
  if (!h_.interpreter) fail_with_log("cannot create the interpreter for " + config.model);

  if (api_.TfLiteInterpreterGetInputTensorCount(h_.interpreter) != 1)
    fail("the model has " + std::to_string(api_.TfLiteInterpreterGetInputTensorCount(h_.interpreter)) +
         " inputs; tflite_bench feeds exactly one");
  if (api_.TfLiteInterpreterGetOutputTensorCount(h_.interpreter) < 1) fail("the model has no output");
  const TfLiteTensor* input = api_.TfLiteInterpreterGetInputTensor(h_.interpreter, 0);
  input_name_ = tensor_name(api_, input);
  if (api_.TfLiteTensorType(input) != kTfLiteFloat32) fail("input '" + input_name_ + "' is not float32");
  const std::vector<int64_t> model_shape = tensor_shape(api_, input);
  bool fits = model_shape.size() == input_shape.size() && !input_shape.empty();
  for (size_t i = 1; fits && i < input_shape.size(); ++i) fits = model_shape[i] == input_shape[i];
  if (!fits)
    fail("input " + shape_string(input_shape) + " does not fit the model's input '" + input_name_ + "' " +
         shape_string(model_shape) + " (NHWC; only the batch may differ)");
  if (input_shape[0] != model_shape[0]) {
    std::vector<int> dims(input_shape.begin(), input_shape.end());
    if (api_.TfLiteInterpreterResizeInputTensor(h_.interpreter, 0, dims.data(), int32_t(dims.size())) != kTfLiteOk)
      fail_with_log("cannot resize the input to " + shape_string(input_shape));
  }
  if (api_.TfLiteInterpreterAllocateTensors(h_.interpreter) != kTfLiteOk) fail_with_log("cannot prepare the model");
  const TfLiteTensor* output = api_.TfLiteInterpreterGetOutputTensor(h_.interpreter, 0);
  if (api_.TfLiteTensorType(output) != kTfLiteFloat32)
    fail("output '" + tensor_name(api_, output) + "' is not float32");
}

Interpreter::Handles::~Handles() {
  if (interpreter) api.TfLiteInterpreterDelete(interpreter);
  if (options) api.TfLiteInterpreterOptionsDelete(options);
  if (model) api.TfLiteModelDelete(model);
}

Tensor Interpreter::run(const std::vector<float>& input, bool keep_output) {
  TfLiteTensor* in = api_.TfLiteInterpreterGetInputTensor(h_.interpreter, 0);
  void* data = api_.TfLiteTensorData(in);
  if (!data || api_.TfLiteTensorByteSize(in) != input.size() * sizeof(float))
    fail("input '" + input_name_ + "' holds " + std::to_string(api_.TfLiteTensorByteSize(in)) + " bytes, the .npy " +
         std::to_string(input.size() * sizeof(float)));
  std::memcpy(data, input.data(), input.size() * sizeof(float));
  if (api_.TfLiteInterpreterInvoke(h_.interpreter) != kTfLiteOk) fail_with_log("inference failed");
  Tensor t;
  if (!keep_output) return t;
  const TfLiteTensor* out = api_.TfLiteInterpreterGetOutputTensor(h_.interpreter, 0);
  t.name = tensor_name(api_, out);
  t.shape = tensor_shape(api_, out);
  const auto* values = static_cast<const float*>(api_.TfLiteTensorData(out));
  t.data.assign(values, values + api_.TfLiteTensorByteSize(out) / sizeof(float));
  return t;
}

}  // namespace ort_bench
