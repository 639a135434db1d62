// ONNX Runtime through dlopen: the C API table of a libonnxruntime found at run time (no link-time
// dependency, so one binary runs with the wheel's library on the device), and a one-input session.
#pragma once

#include <onnxruntime_c_api.h>

#include <memory>
#include <string>
#include <vector>

#include "bench_main.h"  // fail, Tensor

namespace ort_bench {

// The C API level requested: what the custom-op library targets (ORT 1.17+), so any later runtime works.
constexpr uint32_t kOrtApiLevel = 17;

class OrtLibrary {
 public:
  // dlopens `path` (a bare name is searched on the loader's library path) and gets API kOrtApiLevel.
  explicit OrtLibrary(const std::string& path);
  const OrtApi& api() const { return *api_; }
  std::string version() const { return base_->GetVersionString(); }
  // Throws std::runtime_error("<what>: <ORT's message>") when `status` is an error; frees it.
  void check(OrtStatus* status, const std::string& what) const;

 private:
  const OrtApiBase* base_ = nullptr;
  const OrtApi* api_ = nullptr;
};

struct SessionConfig {
  std::string model;
  std::string custom_ops;  // empty: none
  int threads = 0;         // 0: ORT's default
};

class Session {
 public:
  Session(const OrtLibrary& ort, const SessionConfig& config);  // creates it: the "init" time
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::string& input_name() const { return input_name_; }
  const std::string& output_name() const { return output_name_; }
  // Throws unless `shape` fits the model's (float32) input: same rank, equal fixed dimensions.
  void check_input(const std::vector<int64_t>& shape) const;
  // Runs once on `input`; returns the first output (float32) when `keep_output`.
  Tensor run(const std::vector<int64_t>& shape, std::vector<float>& input, bool keep_output) const;

 private:
  // The ORT objects, released in reverse order; a member, so a constructor that throws halfway
  // still releases what it created.
  struct Handles {
    const OrtApi* api;
    OrtEnv* env = nullptr;
    OrtSessionOptions* options = nullptr;
    OrtSession* session = nullptr;
    OrtMemoryInfo* memory = nullptr;
    ~Handles();
  };
  const OrtLibrary& ort_;
  Handles h_;
  std::string input_name_, output_name_;
  std::vector<int64_t> input_dims_;
  ONNXTensorElementDataType input_type_ = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
};

}  // namespace ort_bench
