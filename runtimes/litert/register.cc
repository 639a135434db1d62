// librep_deploy_litert.so's three entry points (everything else is hidden, see exports.map).
//
// The library does not link against LiteRT: the runner passes the dlopen handle of the
// libLiteRtRuntimeCApi.so it loaded, and the C API is resolved from that, so kernels and
// interpreter always share one LiteRT, whatever path or name it was loaded under.
#include <cstdio>
#include <mutex>
#include <string>

#include "core/kernels.h"
#include "core/lce.h"
#include "lce_ops.h"

namespace rep_deploy::litert {
namespace {
Api g_api;
}  // namespace

const Api& api() { return g_api; }

}  // namespace rep_deploy::litert

namespace {

int say(char* buf, size_t size, const std::string& text) {
  if (buf && size) std::snprintf(buf, size, "%s", text.c_str());
  return 1;
}

}  // namespace

// Adds LceQuantize, LceDequantize, LceBconv2d and LceBMaxPool2d (custom ops, version 1) to `options`.
// `litert_handle`: dlopen handle of the LiteRT C API library (RTLD_DEFAULT when linked in).
// Returns 0, or 1 with a one-line message in `error` (a symbol the library lacks, ...).
extern "C" __attribute__((visibility("default"))) int RepDeployRegisterLceOps(TfLiteInterpreterOptions* options,
                                                                               void* litert_handle, char* error,
                                                                               size_t error_size) {
  using namespace rep_deploy::litert;
  static std::mutex mutex;
  static std::string resolved;  // the resolve result, kept: the operators are bound to that API
  static bool done = false;
  std::lock_guard<std::mutex> lock(mutex);
  if (!options) return say(error, error_size, "no interpreter options");
  if (!done) {
    const std::string missing = g_api.resolve(litert_handle);
    resolved = missing.empty() ? "" : "the LiteRT library does not export " + missing +
                                          " (needs the TFLite C API of ai-edge-litert 1.4 or 2.0 for aarch64)";
    done = true;
  }
  if (!resolved.empty()) return say(error, error_size, resolved);
  for (TfLiteOperator* op : {lce_quantize_operator(), lce_dequantize_operator(), lce_bconv2d_operator(),
                             lce_bmaxpool2d_operator()}) {
    if (!op) return say(error, error_size, "LiteRT could not create a custom operator");
    g_api.TfLiteInterpreterOptionsAddOperator(options, op);
  }
  return 0;
}

// The threads LceBconv2d and LceBMaxPool2d run on, the calling thread counting as one (default 1: LiteRT's C API gives
// custom ops no thread pool, so the library starts its own; process-wide, like the operators).
// Returns 0, or 1 when threads < 1.
extern "C" __attribute__((visibility("default"))) int RepDeploySetLceThreads(int threads) {
  if (threads < 1) return 1;
  rep_deploy::litert::set_lce_threads(threads);
  return 0;
}

// The kernel path LceBconv2d takes on this CPU (REP_DEPLOY_KERNEL honoured), as the ORT library's
// function of the same name: 0 and the name in buf, or 1 and the error a convolution would report.
// It is the core's own dispatch (the one BConv2D uses), not a guess.
extern "C" __attribute__((visibility("default"))) int RepDeployKernelPath(char* buf, size_t size) {
  rep_deploy::core::Kernel k{};
  const std::string err = rep_deploy::core::select_kernel_from_env(&k);
  if (!err.empty()) return say(buf, size, err);
  if (buf && size) std::snprintf(buf, size, "%s", k.name);
  return 0;
}
