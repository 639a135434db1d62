// The library's single entry point: ORT dlopens librep_deploy_ort.so and calls RegisterCustomOps
// (SessionOptions.register_custom_ops_library in Python).
//
// Domain "rep_deploy", version 1 (rep_deploy/ops/schema.py is the source of truth for names and
// attributes): BinaryConv, Repeat, BinaryConvFused, BinaryConvFusedAdd, BinaryConvBlock. Domain
// "rep_deploy.runtime": BinaryConvBlockLinked (ops/binary_conv_op.h), for sessions only.
#include <onnxruntime_c_api.h>

#include <cstddef>
#include <cstdio>
#include <initializer_list>
#include <mutex>
#include <string>

#include "core/core_distance.h"
#include "core/kernels.h"
#include "ops/binary_conv_op.h"
#include "ops/ort_api.h"
#include "ops/repeat_op.h"

namespace {

constexpr const char* kDomain = "rep_deploy";

// The domain objects for the process lifetime: sessions keep pointers to them and to the static
// OrtCustomOp structs, and the library may serve many SessionOptions. "rep_deploy" holds the ops of
// exported files; the runtime domain, the ops rep-deploy rewrites a session's graph to (never
// written to a file).
OrtCustomOpDomain* g_domains[2] = {nullptr, nullptr};
std::mutex g_mutex;

OrtStatus* make_domain(const OrtApi& api, const char* name, std::initializer_list<const OrtCustomOp*> ops,
                       OrtCustomOpDomain** out) {
  OrtCustomOpDomain* d = nullptr;
  if (OrtStatus* st = api.CreateCustomOpDomain(name, &d)) return st;
  for (const OrtCustomOp* op : ops) {
    if (OrtStatus* st = api.CustomOpDomain_Add(d, const_cast<OrtCustomOp*>(op))) {
      api.ReleaseCustomOpDomain(d);
      return st;
    }
  }
  *out = d;
  return nullptr;
}

OrtStatus* make_domains(const OrtApi& api) {
  using namespace rep_deploy::ort;
  if (OrtStatus* st = make_domain(api, kDomain,
                                  {binary_conv_op(), repeat_op(), binary_conv_fused_op(),
                                   binary_conv_fused_add_op(), binary_conv_block_op()},
                                  &g_domains[0]))
    return st;
  return make_domain(api, kRuntimeDomain, {binary_conv_block_linked_op(), binary_conv_block_pair_op()}, &g_domains[1]);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) OrtStatus* ORT_API_CALL
RegisterCustomOps(OrtSessionOptions* options, const OrtApiBase* base) {
  // A fixed API level, not ORT_API_VERSION (the headers' 21): the library then loads in any
  // ORT >= 1.17, whatever headers it was compiled with.
  const OrtApi* api = base->GetApi(rep_deploy::ort::kApiVersion);
  if (!api) {  // ORT < 1.17: report it through the API level every runtime has
    const OrtApi* v1 = base->GetApi(1);
    std::string msg = std::string("rep_deploy custom ops need ONNX Runtime >= 1.17 (API 17); this is ") +
                      base->GetVersionString();
    return v1 ? v1->CreateStatus(ORT_FAIL, msg.c_str()) : nullptr;
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  rep_deploy::ort::set_api(api);
  if (!g_domains[1]) {
    if (OrtStatus* st = make_domains(*api)) return st;
  }
  for (OrtCustomOpDomain* d : g_domains)
    if (OrtStatus* st = api->AddCustomOpDomain(options, d)) return st;
  return nullptr;
}

// The kernel path sessions created now would run: the fastest this CPU supports, or the one
// REP_DEPLOY_KERNEL forces. Writes the name (or, when the forced path is unusable, the error the
// session creation would report) into buf; returns 0 for a name, 1 for an error. Python reads it with
// ctypes (rep_deploy.runtime.kernel_path), so reports say which path actually ran.
extern "C" __attribute__((visibility("default"))) int RepDeployKernelPath(char* buf, size_t size) {
  rep_deploy::core::Kernel k{};
  const std::string err = rep_deploy::core::select_kernel_from_env(&k);
  std::snprintf(buf, size, "%s", err.empty() ? k.name : err.c_str());
  return err.empty() ? 0 : 1;
}

// The round trip of a cache line between threads pinned to CPUs cpu_a and cpu_b
// (core/core_distance.h), in ns, into *ns; returns 0, or 1 with the reason in buf. Python reads it
// with ctypes (rep_deploy.runtime.cache_line_round_trip_ns): multi-threaded timings record it.
extern "C" __attribute__((visibility("default"))) int RepDeployCacheLineRoundTrip(
    int cpu_a, int cpu_b, int rounds, double* ns, char* buf, size_t size) {
  const std::string err = rep_deploy::core::cache_line_round_trip_ns(cpu_a, cpu_b, rounds, ns);
  std::snprintf(buf, size, "%s", err.c_str());
  return err.empty() ? 0 : 1;
}
