// A minimal reader of the flexbuffer maps LCE's converter writes as custom options: a map from key
// strings to integers. Written from the FlexBuffers format description (no flatbuffers code): the
// root's byte width is the buffer's last byte and its packed type the one before; a map stores its
// key vector offset, key width and length in the three slots before its values, and one packed type
// byte per value after them. Every read is bounds-checked: the bytes come from a model file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace rep_deploy::litert {

// The map's integer entries (int, uint, bool, inline or indirect); entries of other types are
// skipped. Throws std::invalid_argument with one line when the bytes are not a flexbuffer map.
std::map<std::string, int64_t> read_int_map(const uint8_t* data, size_t size);

// A custom op's options as LCE's converter writes them: every key it reads is required (a truncated
// map is named, not defaulted) and range-checked.
class IntOptions {
 public:
  IntOptions(const char* buffer, size_t length);  // throws as read_int_map
  // The value of `key`; throws std::invalid_argument "option KEY is missing" or "... is out of range".
  int64_t get(const char* key, int64_t lo, int64_t hi) const;

 private:
  std::map<std::string, int64_t> values_;
};

}  // namespace rep_deploy::litert
