#include "record.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>

namespace ort_bench {
namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

}  // namespace

Stats summarize(std::vector<double> values) {
  Stats s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  s.min = values.front();
  s.median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(n);
  double sq = 0;
  for (const double v : values) sq += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(sq / static_cast<double>(n));
  return s;
}

long peak_rss_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      long kb = -1;
      if (fields >> kb) return kb;
    }
  }
  return -1;
}

Json& Json::raw(const std::string& key, const std::string& value) {
  if (!body_.empty()) body_ += ", ";
  body_ += quote(key) + ": " + value;
  return *this;
}

Json& Json::str(const std::string& key, const std::string& value) { return raw(key, quote(value)); }
Json& Json::num(const std::string& key, double value) { return raw(key, number(value)); }
Json& Json::integer(const std::string& key, int64_t value) { return raw(key, std::to_string(value)); }
Json& Json::null(const std::string& key) { return raw(key, "null"); }
Json& Json::object(const std::string& key, const Json& value) { return raw(key, value.text()); }

Json& Json::ints(const std::string& key, const std::vector<int64_t>& values) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + std::to_string(values[i]);
  return raw(key, s + "]");
}

Json& Json::nums(const std::string& key, const std::vector<double>& values) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + number(values[i]);
  return raw(key, s + "]");
}

}  // namespace ort_bench
