// The part every bench runner shares: options, the timed loop, the JSON record, the output files
// and the one-line error. A runner (ort_bench, tflite_bench) supplies only its RunnerSpec and a
// Runtime: how to load its library, what version it is, and how to open a model (the timed "init").
//
// Record fields (the host's rep_deploy/device/bundle.py parse_runner_json checks them): runner,
// runner_version, <spec.runtime_key> (e.g. onnxruntime_version), machine {sysname, release,
// machine}, threads, runs, warmup, kernel_path (what rep-deploy's op library reports, or null),
// init_us, first_us, warmup_avg_us (null without warm-up), timings_us {min, median, mean, std,
// all}, peak_rss_kb (VmHWM or null), input {name, shape, file}, output {name, shape, file}.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "npy.h"

namespace ort_bench {

[[noreturn]] void fail(const std::string& message);  // throws std::runtime_error

struct RunnerSpec {
  const char* program;          // "ort_bench": the error prefix and the temporary files' tag
  const char* name;             // the record's "runner"
  const char* version;          // the record's "runner_version" (build_bundle.sh copies it to manifest.json)
  const char* usage;            // --help text
  const char* runtime_flag;     // "--ort": the option naming the runtime library
  const char* runtime_default;  // "libonnxruntime.so.1"
  const char* runtime_key;      // "onnxruntime_version"
};

struct Options {
  std::string model, input, output, json, custom_ops, runtime;
  int threads = 1, runs = 10, warmup = 1;
};

// A named float32 tensor (a model's first output).
struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

// One model, open for one input.
class Model {
 public:
  virtual ~Model() = default;
  virtual const std::string& input_name() const = 0;
  // Runs once on the input given to Runtime::open; returns the first output when `keep_output`.
  virtual Tensor run(bool keep_output) = 0;
};

// A loaded runtime library (loading it is not timed: a statically linked tool has no such step).
class Runtime {
 public:
  virtual ~Runtime() = default;
  virtual std::string version() const = 0;
  // Opens `o.model` for `input` (checking its shape), registering `o.custom_ops`: the timed init.
  virtual std::unique_ptr<Model> open(const Options& o, NpyArray& input) = 0;
};

// What RepDeployKernelPath of the op library at `path` reports ("neon", ...): "" when `path` is
// empty or the library has no such function; "error: ..." when the forced path is unusable.
std::string kernel_path_of(const std::string& path);

// The whole program: parse argv, load the runtime, time, write the files, print the record. Every
// failure prints one line "<program>: error: ..." on stderr and returns 1, leaving no output file.
int bench_main(int argc, char** argv, const RunnerSpec& spec,
               std::unique_ptr<Runtime> (*load)(const std::string& runtime_path));

}  // namespace ort_bench
