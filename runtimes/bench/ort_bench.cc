// ort_bench: times one ONNX model in ONNX Runtime on an aarch64 device (or the host) and writes its
// output, as one JSON record. ORT is dlopened (the onnxruntime wheel's libonnxruntime.so.1), so the
// program runs from a bundle through the bundled glibc loader on any aarch64 Linux, Android included.
//
//   ort_bench --model M.onnx --input X.npy --output Y.npy [--custom-ops librep_deploy_ort.so]
//             [--ort libonnxruntime.so.1] [--threads N] [--runs N] [--warmup N] [--json OUT.json]
//
// Every failure: one line `ort_bench: error: ...` on stderr, exit code 1, and no output file written.
#include <sys/utsname.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "npy.h"
#include "ort_session.h"
#include "record.h"

namespace ort_bench {
namespace {

constexpr const char* kRunnerName = "rep-deploy ort_bench";
constexpr const char* kRunnerVersion = "1.0.0";  // build_bundle.sh copies it into manifest.json

const char kUsage[] =
    "usage: ort_bench --model M.onnx --input X.npy --output Y.npy [--custom-ops LIB.so]\n"
    "                 [--ort libonnxruntime.so.1] [--threads N] [--runs N] [--warmup N] [--json OUT.json]\n"
    "Times M in ONNX Runtime on X (float32 .npy, batch included), writes the first output to Y and\n"
    "prints one JSON record (init, first run, warm-up, per-run min/median/mean/std in us, VmHWM in kB).\n"
    "--threads 0 keeps ORT's default intra-op thread count; defaults: threads 1, runs 10, warmup 1.\n";

struct Options {
  std::string model, input, output, json, custom_ops, ort = "libonnxruntime.so.1";
  int threads = 1, runs = 10, warmup = 1;
};

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

int parse_int(const std::string& flag, const std::string& text, int min) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end || errno || v < min || v > 1000000)
    fail(flag + " needs an integer >= " + std::to_string(min) + ", got '" + text + "'");
  return static_cast<int>(v);
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (i + 1 >= argc) fail(flag.rfind("--", 0) == 0 ? flag + " needs a value" : "unexpected argument " + flag);
    const std::string value = argv[++i];
    if (flag == "--model") o.model = value;
    else if (flag == "--input") o.input = value;
    else if (flag == "--output") o.output = value;
    else if (flag == "--json") o.json = value;
    else if (flag == "--custom-ops") o.custom_ops = value;
    else if (flag == "--ort") o.ort = value;
    else if (flag == "--threads") o.threads = parse_int(flag, value, 0);
    else if (flag == "--runs") o.runs = parse_int(flag, value, 1);
    else if (flag == "--warmup") o.warmup = parse_int(flag, value, 0);
    else fail("unknown option " + flag + " (see --help)");
  }
  if (o.model.empty() || o.input.empty() || o.output.empty()) fail("--model, --input and --output are required");
  return o;
}

double micros_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
}

// Output files are written under a temporary name and renamed only once everything succeeded, so a
// failed run leaves none behind (the destructor removes what is not committed).
class PendingFiles {
 public:
  ~PendingFiles() {
    for (const auto& f : files_) std::remove(f.first.c_str());
    for (const auto& f : committed_) std::remove(f.c_str());
  }
  std::string temp_for(const std::string& path) {
    files_.push_back({path + ".ort_bench.tmp", path});
    return files_.back().first;
  }
  void commit() {
    for (const auto& f : files_) {
      if (std::rename(f.first.c_str(), f.second.c_str()) != 0)
        fail("cannot write " + f.second + ": " + std::strerror(errno));
      committed_.push_back(f.second);
    }
    files_.clear();
    committed_.clear();  // all renamed: keep them
  }

 private:
  std::vector<std::pair<std::string, std::string>> files_;  // (temporary, final)
  std::vector<std::string> committed_;  // renamed during a commit that then failed
};

Json machine() {
  Json m;
  struct utsname u {};
  if (::uname(&u) == 0) m.str("sysname", u.sysname).str("release", u.release).str("machine", u.machine);
  return m;
}

int run(int argc, char** argv) {
  const Options o = parse_args(argc, argv);
  NpyArray input = read_npy(o.input);
  const OrtLibrary ort(o.ort);

  auto start = std::chrono::steady_clock::now();
  const Session session(ort, {o.model, o.custom_ops, o.threads});
  const double init_us = micros_since(start);
  session.check_input(input.shape);

  start = std::chrono::steady_clock::now();
  const Tensor output = session.run(input.shape, input.data, true);
  const double first_us = micros_since(start);

  double warmup_total = 0;
  for (int i = 0; i < o.warmup; ++i) {
    start = std::chrono::steady_clock::now();
    session.run(input.shape, input.data, false);
    warmup_total += micros_since(start);
  }
  std::vector<double> timings;
  for (int i = 0; i < o.runs; ++i) {
    start = std::chrono::steady_clock::now();
    session.run(input.shape, input.data, false);
    timings.push_back(micros_since(start));
  }
  const Stats stats = summarize(timings);
  const long peak_kb = peak_rss_kb();

  Json record;
  record.str("runner", kRunnerName).str("runner_version", kRunnerVersion).str("onnxruntime_version", ort.version());
  record.object("machine", machine()).integer("threads", o.threads).integer("runs", o.runs).integer("warmup", o.warmup);
  const std::string kernel = custom_ops_kernel_path(o.custom_ops);
  if (kernel.empty()) record.null("kernel_path");
  else record.str("kernel_path", kernel);
  record.num("init_us", init_us).num("first_us", first_us);
  if (o.warmup) record.num("warmup_avg_us", warmup_total / o.warmup);
  else record.null("warmup_avg_us");
  record.object("timings_us", Json().num("min", stats.min).num("median", stats.median).num("mean", stats.mean)
                                  .num("std", stats.std).nums("all", timings));
  if (peak_kb >= 0) record.integer("peak_rss_kb", peak_kb);
  else record.null("peak_rss_kb");
  record.object("input", Json().str("name", session.input_name()).ints("shape", input.shape).str("file", o.input));
  record.object("output", Json().str("name", output.name).ints("shape", output.shape).str("file", o.output));
  const std::string text = record.text() + "\n";

  PendingFiles pending;
  write_npy(pending.temp_for(o.output), output.shape, output.data.data());
  if (!o.json.empty()) {
    const std::string tmp = pending.temp_for(o.json);
    std::ofstream json(tmp, std::ios::trunc);
    json << text;
    json.close();
    if (!json) fail("cannot write " + o.json);
  }
  pending.commit();
  std::cout << text << std::flush;
  return 0;
}

}  // namespace
}  // namespace ort_bench

int main(int argc, char** argv) {
  try {
    return ort_bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::string message = e.what();
    for (char& c : message)
      if (c == '\n' || c == '\r') c = ' ';  // one line, whatever ORT's message holds
    std::fprintf(stderr, "ort_bench: error: %s\n", message.c_str());
    return 1;
  }
}
