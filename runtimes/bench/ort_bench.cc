// ort_bench: times one ONNX model in ONNX Runtime on an aarch64 device (or the host) and writes its
// output, as one JSON record (fields: bench_main.h). ORT is dlopened (the onnxruntime wheel's
// libonnxruntime.so.1), so the program runs from a bundle through the bundled glibc loader on any
// aarch64 Linux, Android included.
//
//   ort_bench --model M.onnx --input X.npy --output Y.npy [--custom-ops librep_deploy_ort.so]
//             [--ort libonnxruntime.so.1] [--threads N] [--runs N] [--warmup N] [--json OUT.json]
#include <memory>
#include <string>

#include "bench_main.h"
#include "ort_session.h"

namespace ort_bench {
namespace {

const char kUsage[] =
    "usage: ort_bench --model M.onnx --input X.npy --output Y.npy [--custom-ops LIB.so]\n"
    "                 [--ort libonnxruntime.so.1] [--threads N] [--runs N] [--warmup N] [--json OUT.json]\n"
    "Times M in ONNX Runtime on X (float32 .npy, batch included), writes the first output to Y and\n"
    "prints one JSON record (init, first run, warm-up, per-run min/median/mean/std in us, VmHWM in kB).\n"
    "--threads 0 keeps ORT's default intra-op thread count; defaults: threads 1, runs 10, warmup 1.\n";

constexpr const char* kRunnerVersion = "1.0.0";  // build_bundle.sh copies it into manifest.json

const RunnerSpec kSpec{"ort_bench", "rep-deploy ort_bench", kRunnerVersion, kUsage, "--ort", "libonnxruntime.so.1",
                       "onnxruntime_version"};

class OrtModel : public Model {
 public:
  OrtModel(const OrtLibrary& ort, const Options& o, NpyArray& input)
      : session_(ort, {o.model, o.custom_ops, o.threads}), input_(input) {
    session_.check_input(input.shape);
  }
  const std::string& input_name() const override { return session_.input_name(); }
  Tensor run(bool keep_output) override { return session_.run(input_.shape, input_.data, keep_output); }

 private:
  const Session session_;
  NpyArray& input_;
};

class OrtRuntime : public Runtime {
 public:
  explicit OrtRuntime(const std::string& path) : ort_(path) {}
  std::string version() const override { return ort_.version(); }
  std::unique_ptr<Model> open(const Options& o, NpyArray& input) override {
    return std::make_unique<OrtModel>(ort_, o, input);
  }

 private:
  const OrtLibrary ort_;
};

std::unique_ptr<Runtime> load(const std::string& path) { return std::make_unique<OrtRuntime>(path); }

}  // namespace
}  // namespace ort_bench

int main(int argc, char** argv) { return ort_bench::bench_main(argc, argv, ort_bench::kSpec, ort_bench::load); }
