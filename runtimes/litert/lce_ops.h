// Shared pieces of the LCE op adapters (lce_quantize.cc, lce_dequantize.cc, lce_bconv2d.cc,
// lce_bmaxpool2d.cc): the resolved C API, tensor accessors, option parsing, the library's threads
// and the error convention. Every failure is reported through
// TfLiteOpaqueContextReportError as one line "<Op> (output '<tensor>'): <what>" and returns
// kTfLiteError; LiteRT then adds which node number failed. No exception crosses the C boundary.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "litert_c_api.h"

namespace rep_deploy::litert {

// The C API the kernels call, resolved once by RepDeployRegisterLceOps.
const Api& api();

// The operators, created on first use (they must outlive every interpreter that uses them, so they
// are never deleted). Each returns nullptr when LiteRT refuses to create it.
TfLiteOperator* lce_quantize_operator();
TfLiteOperator* lce_dequantize_operator();
TfLiteOperator* lce_bconv2d_operator();
TfLiteOperator* lce_bmaxpool2d_operator();

// The kernel functions of one custom op (init and free optional: ops without per-node data).
struct OpFunctions {
  void* (*init)(TfLiteOpaqueContext*, const char*, size_t) = nullptr;
  void (*free)(TfLiteOpaqueContext*, void*) = nullptr;
  int (*prepare)(TfLiteOpaqueContext*, TfLiteOpaqueNode*) = nullptr;
  int (*invoke)(TfLiteOpaqueContext*, TfLiteOpaqueNode*) = nullptr;
};
// A custom TfLiteOperator named `name` (version 1) with these functions; nullptr if LiteRT refuses.
TfLiteOperator* make_operator(const char* name, const OpFunctions& f);

// Init and Free of an op with flexbuffer options. Data (the node's data) has `options`, set by
// Parse(buffer, length), and `options_error`: Init cannot report, so Prepare reports a parse error.
template <class Data, auto Parse>
void* init_options(TfLiteOpaqueContext*, const char* buffer, size_t length) {
  auto* data = new (std::nothrow) Data;
  if (!data) return nullptr;
  try {
    data->options = Parse(buffer, length);
  } catch (const std::exception& e) {
    data->options_error = e.what();
  }
  return data;
}
template <class Data>
void free_data(TfLiteOpaqueContext*, void* data) {
  delete static_cast<Data*>(data);
}

// The threads LceBconv2d and LceBMaxPool2d run on (RepDeploySetLceThreads): LiteRT's C API gives
// custom ops no thread pool, so the library keeps one, process-wide. set_lce_threads(n): n >= 1, the
// invoking thread counting as one. lce_pool(): the pool, or null for 1 thread; the caller's copy keeps it alive
// through a run even if the count changes meanwhile.
void set_lce_threads(int threads);
std::shared_ptr<core::ThreadPool> lce_pool();
// Calls run(runner) with the library's threads as a core ParallelRunner, keeping the pool alive.
template <typename F>
void with_lce_threads(F&& run) {
  const std::shared_ptr<core::ThreadPool> pool = lce_pool();
  run(pool ? pool->runner() : core::ParallelRunner{});
}

std::vector<int64_t> dims(const TfLiteOpaqueTensor* t);
std::string shape_text(const std::vector<int64_t>& shape);  // "[1, 8, 8, 1]"
int64_t rows_of(const std::vector<int64_t>& shape);  // product of all but the channel (last) axis
const char* type_name(int tflite_type);
bool is_constant(const TfLiteOpaqueTensor* t);  // data from the model (or fixed at prepare)
// An int8 tensor's scale and zero point; throws std::invalid_argument naming `what` when the scale is
// not positive and finite (a tensor without quantization has scale 0) or the zero point is not int8.
TfLiteQuantizationParams int8_quantization(const TfLiteOpaqueTensor* t, const char* what);

// Resizes `t` to `shape` (LiteRT takes ownership of the array it gets).
bool resize(TfLiteOpaqueContext* context, TfLiteOpaqueTensor* t, const std::vector<int64_t>& shape);

// The one-line error for op `op` at the node writing `output` (nullable); returns kTfLiteError.
int report(TfLiteOpaqueContext* context, const char* op, const TfLiteOpaqueTensor* output, const std::string& what);

// Runs `body` (returning a TfLiteStatus), turning any exception into a reported error.
template <typename F>
int guarded(TfLiteOpaqueContext* context, const char* op, const TfLiteOpaqueTensor* output, F&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return report(context, op, output, e.what());
  } catch (...) {
    return report(context, op, output, "unknown error");
  }
}

}  // namespace rep_deploy::litert
