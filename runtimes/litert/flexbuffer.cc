#include "flexbuffer.h"

#include <stdexcept>

namespace rep_deploy::litert {
namespace {

// FlexBuffers value types (the high six bits of a packed type byte; the low two are log2 width).
enum : int { kInt = 1, kUInt = 2, kKey = 4, kIndirectInt = 6, kIndirectUInt = 7, kMap = 9, kBool = 26 };

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  // The unsigned (or sign-extended) little-endian integer of `width` bytes at offset `at`.
  uint64_t uint(size_t at, size_t width) const {
    check(at, width);
    uint64_t v = 0;
    for (size_t i = 0; i < width; ++i) v |= uint64_t(data_[at + i]) << (8 * i);
    return v;
  }
  int64_t sint(size_t at, size_t width) const {
    const uint64_t v = uint(at, width);
    const unsigned shift = unsigned(64 - 8 * width);
    return shift ? int64_t(v << shift) >> shift : int64_t(v);  // sign-extend
  }
  // Offsets point backwards: the target of the offset stored at `at`.
  size_t indirect(size_t at, size_t width) const {
    const uint64_t off = uint(at, width);
    if (off > at) bad("an offset points before the buffer");
    return at - size_t(off);
  }
  std::string key(size_t at) const {
    size_t end = at;
    while (end < size_ && data_[end] != 0) ++end;
    if (end >= size_) bad("a key is not terminated");
    return std::string(reinterpret_cast<const char*>(data_ + at), end - at);
  }
  uint8_t byte(size_t at) const {
    check(at, 1);
    return data_[at];
  }
  [[noreturn]] static void bad(const std::string& what) {
    throw std::invalid_argument("custom options are not a flexbuffer map: " + what);
  }

 private:
  void check(size_t at, size_t width) const {
    if (width == 0 || width > 8 || at > size_ || size_ - at < width) bad("a read runs past the end");
  }
  const uint8_t* data_;
  size_t size_;
};

}  // namespace

std::map<std::string, int64_t> read_int_map(const uint8_t* data, size_t size) {
  if (!data || size < 3) Reader::bad("too short");
  const Reader r(data, size);
  const size_t root_width = r.byte(size - 1);
  const uint8_t root_type = r.byte(size - 2);
  if (root_width != 1 && root_width != 2 && root_width != 4 && root_width != 8) Reader::bad("bad root width");
  if ((root_type >> 2) != kMap) Reader::bad("the root is not a map");
  if (size < 2 + root_width) Reader::bad("too short");
  const size_t map = r.indirect(size - 2 - root_width, root_width);
  const size_t width = size_t(1) << (root_type & 3);  // the map's slot width
  if (map < 3 * width) Reader::bad("a map header runs before the buffer");
  const uint64_t count = r.uint(map - width, width);
  const size_t keys = r.indirect(map - 3 * width, width);
  const size_t key_width = r.uint(map - 2 * width, width);
  if (key_width != 1 && key_width != 2 && key_width != 4 && key_width != 8) Reader::bad("bad key width");
  if (keys < key_width || r.uint(keys - key_width, key_width) != count) Reader::bad("keys and values differ in number");
  if (count > size) Reader::bad("impossible length");

  std::map<std::string, int64_t> out;
  for (size_t i = 0; i < count; ++i) {
    const std::string name = r.key(r.indirect(keys + i * key_width, key_width));
    const uint8_t packed = r.byte(map + count * width + i);
    const int type = packed >> 2;
    const size_t slot = map + i * width;
    switch (type) {
      case kInt: out[name] = r.sint(slot, width); break;
      case kUInt:
      case kBool: out[name] = int64_t(r.uint(slot, width)); break;
      // Indirect scalars: the slot holds an offset; the value's own width is in the packed type.
      case kIndirectInt: out[name] = r.sint(r.indirect(slot, width), size_t(1) << (packed & 3)); break;
      case kIndirectUInt: out[name] = int64_t(r.uint(r.indirect(slot, width), size_t(1) << (packed & 3))); break;
      default: break;  // strings, floats, vectors: LCE's ops have none we read
    }
  }
  return out;
}

IntOptions::IntOptions(const char* buffer, size_t length)
    : values_(read_int_map(reinterpret_cast<const uint8_t*>(buffer), length)) {}

int64_t IntOptions::get(const char* key, int64_t lo, int64_t hi) const {
  const auto it = values_.find(key);
  if (it == values_.end()) throw std::invalid_argument(std::string("option ") + key + " is missing");
  if (it->second < lo || it->second > hi)
    throw std::invalid_argument(std::string("option ") + key + " = " + std::to_string(it->second) +
                                " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return it->second;
}

}  // namespace rep_deploy::litert
