#include "npy.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <stdexcept>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.cc reads and writes '<f4' data in place: little-endian targets only"
#endif

namespace ort_bench {
namespace {

const char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

// The value text after `'key':` in the header dict, up to (not including) the next top-level ',' or '}'.
std::string dict_value(const std::string& header, const std::string& key, const std::string& path) {
  const std::string quoted = "'" + key + "'";
  size_t pos = header.find(quoted);
  if (pos == std::string::npos) bad(path, "not a .npy file (header has no " + quoted + ")");
  pos = header.find(':', pos + quoted.size());
  if (pos == std::string::npos) bad(path, "not a .npy file (malformed header)");
  size_t end = pos + 1;
  int depth = 0;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
  }
  std::string v = header.substr(pos + 1, end - pos - 1);
  const size_t a = v.find_first_not_of(" \t");
  const size_t b = v.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : v.substr(a, b - a + 1);
}

std::vector<int64_t> parse_shape(const std::string& text, const std::string& path) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')') bad(path, "malformed shape " + text);
  std::vector<int64_t> shape;
  const std::string body = text.substr(1, text.size() - 2);
  size_t i = 0;
  while (i < body.size()) {
    while (i < body.size() && (body[i] == ' ' || body[i] == ',')) ++i;
    if (i == body.size()) break;
    size_t used = 0;
    long long dim = -1;
    try {
      dim = std::stoll(body.substr(i), &used);
    } catch (const std::exception&) {
      bad(path, "malformed shape " + text);
    }
    if (dim < 0) bad(path, "negative dimension in shape " + text);
    shape.push_back(dim);
    i += used;
  }
  return shape;
}

size_t element_count(const std::vector<int64_t>& shape, const std::string& path) {
  size_t n = 1;
  for (int64_t d : shape) {
    if (d != 0 && n > std::numeric_limits<size_t>::max() / sizeof(float) / static_cast<size_t>(d))
      bad(path, "shape " + shape_string(shape) + " is too large");
    n *= static_cast<size_t>(d);
  }
  return n;
}

}  // namespace

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += shape[i] < 0 ? std::string("?") : std::to_string(shape[i]);
  }
  return s + "]";
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) bad(path, std::string("cannot open: ") + std::strerror(errno));
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < kMagicLen + 4 || bytes.compare(0, kMagicLen, kMagic, kMagicLen) != 0)
    bad(path, "not a .npy file (bad magic)");
  const auto u8 = [&](size_t i) { return static_cast<size_t>(static_cast<unsigned char>(bytes[i])); };
  const unsigned major = static_cast<unsigned>(u8(6));
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = u8(8) | u8(9) << 8;
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) bad(path, "truncated .npy header");
    header_len = u8(8) | u8(9) << 8 | u8(10) << 16 | u8(11) << 24;
    offset = 12;
  } else {
    bad(path, "unsupported .npy version " + std::to_string(major));
  }
  if (bytes.size() < offset + header_len) bad(path, "truncated .npy header");
  const std::string header = bytes.substr(offset, header_len);
  const std::string descr = dict_value(header, "descr", path);
  if (descr != "'<f4'") bad(path, "dtype " + descr + " is not float32 ('<f4')");
  if (dict_value(header, "fortran_order", path) != "False") bad(path, "Fortran-order arrays are not supported");
  NpyArray array;
  array.shape = parse_shape(dict_value(header, "shape", path), path);
  const size_t count = element_count(array.shape, path);
  const size_t data_bytes = bytes.size() - offset - header_len;
  if (data_bytes != count * sizeof(float))
    bad(path, "shape " + shape_string(array.shape) + " needs " + std::to_string(count * sizeof(float)) +
                  " data bytes, the file has " + std::to_string(data_bytes));
  array.data.resize(count);
  if (count) std::memcpy(array.data.data(), bytes.data() + offset + header_len, count * sizeof(float));
  return array;
}

void write_npy(const std::string& path, const std::vector<int64_t>& shape, const float* data) {
  std::string dims;
  for (int64_t d : shape) dims += std::to_string(d) + ", ";
  if (shape.size() > 1) dims.erase(dims.size() - 2);  // "(2, 10)"; one dim keeps its comma: "(10,)"
  else if (shape.size() == 1) dims.pop_back();
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  const size_t unpadded = kMagicLen + 2 + 2 + header.size() + 1;  // + the closing '\n'
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  if (header.size() > 0xffff) bad(path, "shape too long for a version 1.0 header");
  const size_t count = element_count(shape, path);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) bad(path, std::string("cannot create: ") + std::strerror(errno));
  out.write(kMagic, kMagicLen);
  const char version_and_len[4] = {1, 0, static_cast<char>(header.size() & 0xff),
                                   static_cast<char>(header.size() >> 8)};
  out.write(version_and_len, 4);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * sizeof(float)));
  out.close();
  if (!out) bad(path, "write failed");
}

}  // namespace ort_bench
