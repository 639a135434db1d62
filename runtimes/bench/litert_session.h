// LiteRT through dlopen: the TFLite C API of an aarch64 libLiteRtRuntimeCApi.so found at run time
// (declared in ../litert/litert_c_api.h, no LiteRT header), and a one-input interpreter with
// rep-deploy's LCE ops registered from librep_deploy_litert.so.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench_main.h"  // fail, Tensor
#include "litert_c_api.h"

namespace ort_bench {

class LiteRtLibrary {
 public:
  // dlopens `path` (a bare name is searched on the loader's library path) and resolves the C API.
  explicit LiteRtLibrary(const std::string& path);
  const rep_deploy::litert::Api& api() const { return api_; }
  void* handle() const { return handle_; }
  std::string version() const { return api_.TfLiteVersion(); }

 private:
  void* handle_ = nullptr;
  rep_deploy::litert::Api api_;
};

// LiteRT's error reporter callbacks land here, so its messages end up in the runner's one error line
// (LiteRT would otherwise print them to stderr itself).
struct ErrorLog {
  std::vector<std::string> messages;
  static void report(void* self, const char* format, va_list args);
  std::string take();  // the messages joined with "; ", then cleared
};

struct InterpreterConfig {
  std::string model;
  std::string custom_ops;  // librep_deploy_litert.so; empty: none (models with LCE ops then fail)
  int threads = 1;         // LiteRT's builtin ops and the LCE ops; 0: LiteRT's default (LCE ops: one per core)
};

class Interpreter {
 public:
  // Loads the model, registers the ops, creates the interpreter, resizes the input to `input_shape`
  // (the batch may differ from the model's; the other axes must match) and allocates: the "init".
  Interpreter(const LiteRtLibrary& lib, const InterpreterConfig& config, const std::vector<int64_t>& input_shape);
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  const std::string& input_name() const { return input_name_; }
  // Copies `input` in, invokes; returns the first output (float32) when `keep_output`.
  Tensor run(const std::vector<float>& input, bool keep_output);

 private:
  [[noreturn]] void fail_with_log(const std::string& what);
  const rep_deploy::litert::Api& api_;
  ErrorLog log_;  // before h_: LiteRT may still report while h_ is destroyed
  // The LiteRT objects, deleted in reverse order; a member, so a constructor that throws halfway
  // still deletes what it created.
  struct Handles {
    const rep_deploy::litert::Api& api;
    TfLiteModel* model = nullptr;
    TfLiteInterpreterOptions* options = nullptr;
    TfLiteInterpreter* interpreter = nullptr;
    ~Handles();
  } h_;
  std::string input_name_;
};

}  // namespace ort_bench
