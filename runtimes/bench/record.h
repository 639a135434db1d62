// The result record of one ort_bench run: timing statistics, peak memory, machine, and its JSON form.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ort_bench {

struct Stats {
  double min = 0, median = 0, mean = 0, std = 0;  // std: population (as TFLite's benchmark_model)
};

Stats summarize(std::vector<double> values);

// VmHWM of this process in kB (peak resident set), or -1 when /proc/self/status has none.
long peak_rss_kb();

// A tiny JSON object writer: keys in insertion order, one line, no external library.
class Json {
 public:
  Json& str(const std::string& key, const std::string& value);
  Json& num(const std::string& key, double value);
  Json& integer(const std::string& key, int64_t value);
  Json& null(const std::string& key);
  Json& ints(const std::string& key, const std::vector<int64_t>& values);
  Json& nums(const std::string& key, const std::vector<double>& values);
  Json& object(const std::string& key, const Json& value);
  std::string text() const { return "{" + body_ + "}"; }

 private:
  Json& raw(const std::string& key, const std::string& value);
  std::string body_;
};

}  // namespace ort_bench
