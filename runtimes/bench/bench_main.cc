#include "bench_main.h"

#include <dlfcn.h>
#include <sys/utsname.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <utility>

#include "record.h"

namespace ort_bench {

void fail(const std::string& message) { throw std::runtime_error(message); }

namespace {

int parse_int(const std::string& flag, const std::string& text, int min) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end || errno || v < min || v > 1000000)
    fail(flag + " needs an integer >= " + std::to_string(min) + ", got '" + text + "'");
  return static_cast<int>(v);
}

Options parse_args(int argc, char** argv, const RunnerSpec& spec) {
  Options o;
  o.runtime = spec.runtime_default;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::cout << spec.usage;
      std::exit(0);
    }
    if (i + 1 >= argc) fail(flag.rfind("--", 0) == 0 ? flag + " needs a value" : "unexpected argument " + flag);
    const std::string value = argv[++i];
    if (flag == "--model") o.model = value;
    else if (flag == "--input") o.input = value;
    else if (flag == "--output") o.output = value;
    else if (flag == "--json") o.json = value;
    else if (flag == "--custom-ops") o.custom_ops = value;
    else if (flag == spec.runtime_flag) o.runtime = value;
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

Json machine() {
  Json m;
  struct utsname u {};
  if (::uname(&u) == 0) m.str("sysname", u.sysname).str("release", u.release).str("machine", u.machine);
  return m;
}

// Output files are written under a temporary name and renamed only once everything succeeded, so a
// failed run leaves none behind (the destructor removes what is not committed).
class PendingFiles {
 public:
  explicit PendingFiles(std::string tag) : tag_(std::move(tag)) {}
  ~PendingFiles() {
    for (const auto& f : files_) std::remove(f.first.c_str());
    for (const auto& f : committed_) std::remove(f.c_str());
  }
  PendingFiles(const PendingFiles&) = delete;
  PendingFiles& operator=(const PendingFiles&) = delete;
  std::string temp_for(const std::string& path) {
    files_.push_back({path + "." + tag_ + ".tmp", path});
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
  std::string tag_;
  std::vector<std::pair<std::string, std::string>> files_;  // (temporary, final)
  std::vector<std::string> committed_;  // renamed during a commit that then failed
};

int run(int argc, char** argv, const RunnerSpec& spec, std::unique_ptr<Runtime> (*load)(const std::string&)) {
  const Options o = parse_args(argc, argv, spec);
  NpyArray input = read_npy(o.input);
  const std::unique_ptr<Runtime> runtime = load(o.runtime);

  auto start = std::chrono::steady_clock::now();
  const std::unique_ptr<Model> model = runtime->open(o, input);
  const double init_us = micros_since(start);

  start = std::chrono::steady_clock::now();
  const Tensor output = model->run(true);
  const double first_us = micros_since(start);

  double warmup_total = 0;
  for (int i = 0; i < o.warmup; ++i) {
    start = std::chrono::steady_clock::now();
    model->run(false);
    warmup_total += micros_since(start);
  }
  std::vector<double> timings;
  for (int i = 0; i < o.runs; ++i) {
    start = std::chrono::steady_clock::now();
    model->run(false);
    timings.push_back(micros_since(start));
  }
  const Stats stats = summarize(timings);
  const long peak_kb = peak_rss_kb();

  Json record;
  record.str("runner", spec.name).str("runner_version", spec.version).str(spec.runtime_key, runtime->version());
  record.object("machine", machine()).integer("threads", o.threads).integer("runs", o.runs).integer("warmup", o.warmup);
  const std::string kernel = kernel_path_of(o.custom_ops);
  if (kernel.empty()) record.null("kernel_path");
  else record.str("kernel_path", kernel);
  record.num("init_us", init_us).num("first_us", first_us);
  if (o.warmup) record.num("warmup_avg_us", warmup_total / o.warmup);
  else record.null("warmup_avg_us");
  record.object("timings_us", Json().num("min", stats.min).num("median", stats.median).num("mean", stats.mean)
                                  .num("std", stats.std).nums("all", timings));
  if (peak_kb >= 0) record.integer("peak_rss_kb", peak_kb);
  else record.null("peak_rss_kb");
  record.object("input", Json().str("name", model->input_name()).ints("shape", input.shape).str("file", o.input));
  record.object("output", Json().str("name", output.name).ints("shape", output.shape).str("file", o.output));
  const std::string text = record.text() + "\n";

  PendingFiles pending(spec.program);
  write_npy(pending.temp_for(o.output), output.shape, output.data.data());
  if (!o.json.empty()) {
    std::ofstream json(pending.temp_for(o.json), std::ios::trunc);
    json << text;
    json.close();
    if (!json) fail("cannot write " + o.json);
  }
  pending.commit();
  std::cout << text << std::flush;
  return 0;
}

}  // namespace

std::string kernel_path_of(const std::string& path) {
  if (path.empty()) return "";
  // The runtime has already loaded the library (same path), so this returns its handle.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) return "";
  using KernelPath = int (*)(char*, size_t);
  auto fn = reinterpret_cast<KernelPath>(::dlsym(handle, "RepDeployKernelPath"));
  if (!fn) return "";
  char buf[256] = {0};
  const int rc = fn(buf, sizeof buf);
  return rc == 0 ? std::string(buf) : "error: " + std::string(buf);
}

int bench_main(int argc, char** argv, const RunnerSpec& spec,
               std::unique_ptr<Runtime> (*load)(const std::string& runtime_path)) {
  try {
    return run(argc, argv, spec, load);
  } catch (const std::exception& e) {
    std::string message = e.what();
    for (char& c : message)
      if (c == '\n' || c == '\r') c = ' ';  // one line, whatever the runtime's messages hold
    std::fprintf(stderr, "%s: error: %s\n", spec.program, message.c_str());
    return 1;
  }
}

}  // namespace ort_bench
