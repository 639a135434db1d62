// Minimal .npy (NumPy format 1.0/2.0/3.0) reader and writer for float32, C order, little-endian:
// exactly what `numpy.save` writes for a float32 array, so the device needs no Python.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ort_bench {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;  // product(shape) values, C order
};

// Reads a float32 C-order .npy. Throws std::runtime_error naming the file and what is wrong
// (missing, not .npy, another dtype, Fortran order, truncated or trailing data).
NpyArray read_npy(const std::string& path);

// Writes `data` (product(shape) floats) as a version 1.0 .npy. Throws std::runtime_error.
void write_npy(const std::string& path, const std::vector<int64_t>& shape, const float* data);

// "[2, 1, 8, 8]"; negative dims (dynamic in a model) print as "?".
std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace ort_bench
