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
// Runtime domain (kRuntimeDomain, never in an exported file: rep_deploy/link_signs.py rewrites a
// session's graph to it): BinaryConvBlockLinked(BinaryConvBlock's inputs, [sign_threshold],
// [X_signs]) -> Y, [Y_signs]. Y_signs (uint8 [N, C, 8 * ceil(Ho*Wo/64)]) holds bit p of each
// flattened plane = Y.flat[p] >= sign_threshold[c], the next block's sign pass done while Y is
// written; X_signs, the same from the block before, replaces this block's pass over X. Attribute
// x_repeats (default 1): X holds Cin / x_repeats channels, tiled along channels into the conv's
// input (a Repeat folded into the block). Attribute y_pool (0 / 1): Y is written 2x2-average-pooled
// (N, C, Ho / 2, Wo / 2; Ho and Wo even; Y_signs still of the full output), for a block whose
// output the next, downsampling block reads only as its signs and its pooled residual; that
// block then has x_pooled = 1: X is its input 2x2-pooled (read for N and C only; the conv's H x W
// is twice X's), its signs come in X_signs (required), and its residual is X, not pooled again.
// rep_deploy/link_signs.py sets the pair together (core::OutputTransform::pool_y).
const OrtCustomOp* binary_conv_block_linked_op();
// Runtime domain: BinaryConvBlockPair(BinaryConvBlockLinked's inputs 0-10, W_c, mul_c, add_c, pre_c,
// slope_c, post_c, [sign_threshold_c]) -> Y, [Y_signs]: a linked block P and the 1x1 block C that
// reads P's output Y1 through its sign bits (input 9: C's threshold) and as its residual, as one
// node; Y (and Y_signs) are C's, bit for bit those of the two blocks in sequence. Attributes: P's
// as BinaryConvBlockLinked's (y_pool 0, splits 1, residual_pool 1x1), C's prefixed c_ (c_repeats,
// c_splits, c_y_pool; c_kernel_shape etc. must describe a 1x1 of stride 1 without padding).
// rep_deploy/link_signs.py fuses such pairs (core::binary_block_pair_forward: tile by tile, so
// that Y1 stays in cache).
const OrtCustomOp* binary_conv_block_pair_op();
constexpr const char* kRuntimeDomain = "rep_deploy.runtime";

}  // namespace rep_deploy::ort
