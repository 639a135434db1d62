// ORT adapters for BinaryConv and its fused forms (rep_deploy/ops/binary_conv.py,
// binary_conv_fused.py, binary_conv_block.py): validate inputs, pick up pre-packed weights, call core::binary_conv_forward.
#pragma once

#include <onnxruntime_c_api.h>

namespace rep_deploy::ort {

// BinaryConv(X, W, scale) -> Y
const OrtCustomOp* binary_conv_op();
// BinaryConvFused(X, W, mul, add) -> Y     (repeats channel tiles from one accumulator)
const OrtCustomOp* binary_conv_fused_op();
// BinaryConvFusedAdd(X, W, mul, add, residual) -> Y
const OrtCustomOp* binary_conv_fused_add_op();
// BinaryConvBlock(X, W, threshold, mul, add, residual, pre, slope, post) -> Y   (threshold sign,
// BinaryConvFusedAdd, then RPReLU, in one pass)
const OrtCustomOp* binary_conv_block_op();

}  // namespace rep_deploy::ort
