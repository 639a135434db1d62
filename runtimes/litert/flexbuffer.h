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

}  // namespace rep_deploy::litert
