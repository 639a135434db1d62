#include "lce_ops.h"

#include <cmath>
#include <mutex>
#include <stdexcept>

namespace rep_deploy::litert {
namespace {
std::mutex g_pool_mutex;
std::shared_ptr<core::ThreadPool> g_pool;  // guarded by g_pool_mutex; null: 1 thread
}  // namespace

void set_lce_threads(int threads) {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  if (threads <= 1)
    g_pool.reset();
  else if (!g_pool || g_pool->threads() != threads)
    g_pool = std::make_shared<core::ThreadPool>(threads);
}

std::shared_ptr<core::ThreadPool> lce_pool() {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  return g_pool;
}

std::vector<int64_t> dims(const TfLiteOpaqueTensor* t) {
  std::vector<int64_t> d(size_t(api().TfLiteOpaqueTensorNumDims(t)));
  for (size_t i = 0; i < d.size(); ++i) d[i] = api().TfLiteOpaqueTensorDim(t, int32_t(i));
  return d;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

const char* type_name(int tflite_type) {
  switch (tflite_type) {
    case kTfLiteFloat32: return "float32";
    case kTfLiteInt32: return "int32";
    case kTfLiteBool: return "bool";
    case kTfLiteInt8: return "int8";
    default: return "another type";
  }
}

bool is_constant(const TfLiteOpaqueTensor* t) {
  const int a = api().TfLiteOpaqueTensorGetAllocationType(t);
  return (a == kTfLiteMmapRo || a == kTfLitePersistentRo) && api().TfLiteOpaqueTensorData(t) != nullptr;
}

TfLiteQuantizationParams int8_quantization(const TfLiteOpaqueTensor* t, const char* what) {
  const TfLiteQuantizationParams q = api().TfLiteOpaqueTensorGetQuantizationParams(t);
  if (!(q.scale > 0.0f) || !std::isfinite(q.scale) || q.zero_point < -128 || q.zero_point > 127)
    throw std::invalid_argument(std::string(what) + " is int8 without a usable quantization (scale " +
                                std::to_string(q.scale) + ", zero point " + std::to_string(q.zero_point) + ")");
  return q;
}

bool resize(TfLiteOpaqueContext* context, TfLiteOpaqueTensor* t, const std::vector<int64_t>& shape) {
  TfLiteIntArray* a = api().TfLiteIntArrayCreate(int(shape.size()));
  if (!a) return false;
  for (size_t i = 0; i < shape.size(); ++i) int_array_data(a)[i] = int(shape[i]);
  return api().TfLiteOpaqueContextResizeTensor(context, t, a) == kTfLiteOk;
}

int report(TfLiteOpaqueContext* context, const char* op, const TfLiteOpaqueTensor* output, const std::string& what) {
  const char* name = output ? api().TfLiteOpaqueTensorName(output) : nullptr;
  std::string line = std::string(op) + " (output '" + (name ? name : "?") + "'): " + what;
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  api().TfLiteOpaqueContextReportError(context, "%s", line.c_str());
  return kTfLiteError;
}

int64_t rows_of(const std::vector<int64_t>& shape) {
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
  return rows;
}

TfLiteOperator* make_operator(const char* name, const OpFunctions& f) {
  TfLiteOperator* o = api().TfLiteOperatorCreate(kTfLiteBuiltinCustom, name, 1, nullptr);
  if (!o) return nullptr;
  if (f.init) api().TfLiteOperatorSetInit(o, f.init);
  if (f.free) api().TfLiteOperatorSetFree(o, f.free);
  api().TfLiteOperatorSetPrepare(o, f.prepare);
  api().TfLiteOperatorSetInvoke(o, f.invoke);
  return o;
}

}  // namespace rep_deploy::litert
