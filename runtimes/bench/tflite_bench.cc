// tflite_bench: the .tflite twin of ort_bench. Times one model in Google's stock LiteRT (the TFLite
// C API of the aarch64 libLiteRtRuntimeCApi.so of ai-edge-litert, dlopened; declared in
// ../litert/litert_c_api.h, no LiteRT header) with rep-deploy's LCE ops registered from
// librep_deploy_litert.so, and prints the same JSON record (bench_main.h; litert_version in place of
// onnxruntime_version).
//
//   tflite_bench --model M.tflite --input X.npy --output Y.npy [--custom-ops librep_deploy_litert.so]
//                [--litert libLiteRtRuntimeCApi.so] [--threads N] [--runs N] [--warmup N] [--json OUT.json]
#include <memory>
#include <string>

#include "bench_main.h"
#include "litert_session.h"

namespace ort_bench {
namespace {

const char kUsage[] =
    "usage: tflite_bench --model M.tflite --input X.npy --output Y.npy [--custom-ops LIB.so]\n"
    "                    [--litert libLiteRtRuntimeCApi.so] [--threads N] [--runs N] [--warmup N] [--json OUT.json]\n"
    "Times M in LiteRT on X (float32 .npy, NHWC as the model's input; the batch may differ from the\n"
    "model's), writes the first output to Y and prints one JSON record (init, first run, warm-up,\n"
    "per-run min/median/mean/std in us, VmHWM in kB). --custom-ops registers rep-deploy's LCE ops.\n"
    "--threads sets the threads of LiteRT's builtin ops and of rep-deploy's LCE binary convs (0: LiteRT's\n"
    "default, and one per core for the LCE ops). Defaults: threads 1, runs 10, warmup 1.\n";

constexpr const char* kRunnerVersion = "1.0.0";  // build_bundle.sh copies it into manifest.json

const RunnerSpec kSpec{"tflite_bench", "rep-deploy tflite_bench", kRunnerVersion, kUsage, "--litert",
                       "libLiteRtRuntimeCApi.so", "litert_version"};

class LiteRtModel : public Model {
 public:
  LiteRtModel(const LiteRtLibrary& lib, const Options& o, const NpyArray& input)
      : interpreter_(lib, {o.model, o.custom_ops, o.threads}, input.shape), input_(input) {}
  const std::string& input_name() const override { return interpreter_.input_name(); }
  Tensor run(bool keep_output) override { return interpreter_.run(input_.data, keep_output); }

 private:
  Interpreter interpreter_;
  const NpyArray& input_;
};

class LiteRtRuntime : public Runtime {
 public:
  explicit LiteRtRuntime(const std::string& path) : lib_(path) {}
  std::string version() const override { return lib_.version(); }
  std::unique_ptr<Model> open(const Options& o, NpyArray& input) override {
    return std::make_unique<LiteRtModel>(lib_, o, input);
  }

 private:
  const LiteRtLibrary lib_;
};

std::unique_ptr<Runtime> load(const std::string& path) { return std::make_unique<LiteRtRuntime>(path); }

}  // namespace
}  // namespace ort_bench

int main(int argc, char** argv) {
  return ort_bench::bench_main(argc, argv, ort_bench::kSpec, ort_bench::load);
}
