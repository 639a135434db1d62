#include "binary_conv_op.h"

#include <array>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/binary_conv.h"
#include "core/kernels.h"
#include "core/reference.h"
#include "core/repeat.h"
#include "custom_op.h"
#include "ort_api.h"

namespace rep_deploy::ort {

namespace {

// kLinked: BinaryConvBlockLinked of the runtime domain (binary_conv_op.h), BinaryConvBlock plus the
// packed sign bits passed from one block to the next.
// kPair: BinaryConvBlockPair of the runtime domain, a linked block and the 1x1 block after it.
enum class Variant { kPlain, kFused, kFusedAdd, kBlock, kLinked, kPair };

bool block_like(Variant v) { return v == Variant::kBlock || v == Variant::kLinked || v == Variant::kPair; }
bool linked_like(Variant v) { return v == Variant::kLinked || v == Variant::kPair; }

const char* op_name(Variant v) {
  switch (v) {
    case Variant::kPlain: return "BinaryConv";
    case Variant::kFused: return "BinaryConvFused";
    case Variant::kFusedAdd: return "BinaryConvFusedAdd";
    case Variant::kLinked: return "BinaryConvBlockLinked";
    case Variant::kPair: return "BinaryConvBlockPair";
    default: return "BinaryConvBlock";
  }
}

size_t input_arity(Variant v) {
  switch (v) {
    case Variant::kPlain: return 3;   // X, W, scale
    case Variant::kFused: return 4;   // X, W, mul, add
    case Variant::kFusedAdd: return 5;  // X, W, mul, add, residual
    case Variant::kLinked: return 11;  // BinaryConvBlock's, then sign_threshold, X_signs (optional)
    case Variant::kPair: return 18;  // BinaryConvBlockLinked's, then C's W, mul, add, pre, slope,
                                     // post, [sign_threshold]
    default: return 9;  // X, W, threshold, mul, add, residual, pre, slope, post
  }
}

std::vector<int64_t> ints_of_length(const OrtKernelInfo* info, const char* name, size_t n,
                                    const std::vector<int64_t>& dflt, const std::string& what) {
  std::vector<int64_t> v = attr_ints(info, name, dflt);
  if (v.size() != n)
    throw OrtError(what + ": attribute " + name + " must have " + std::to_string(n) +
                   " values, got " + shape_str(v));
  return v;
}

// A node's conv attributes (ONNX Conv's names and defaults) under prefix + name; kernel: the
// default kernel_shape ({}: required).
core::ConvAttrs conv_attrs(const OrtKernelInfo* info, const std::string& prefix,
                           const std::vector<int64_t>& kernel, const std::string& what) {
  const auto ints = [&](const char* name, size_t n, const std::vector<int64_t>& dflt) {
    return ints_of_length(info, (prefix + name).c_str(), n, dflt, what);
  };
  const std::vector<int64_t> k = ints("kernel_shape", 2, kernel), s = ints("strides", 2, {1, 1});
  const std::vector<int64_t> p = ints("pads", 4, {0, 0, 0, 0}), d = ints("dilations", 2, {1, 1});
  core::ConvAttrs a;
  a.kh = k[0], a.kw = k[1], a.sh = s[0], a.sw = s[1];
  a.pt = p[0], a.pl = p[1], a.pb = p[2], a.pr = p[3], a.dh = d[0], a.dw = d[1];
  a.group = attr_int(info, (prefix + "group").c_str(), 1);
  a.pad_value = attr_int(info, (prefix + "pad_value").c_str(), 0);
  return a;
}

// Input `index`'s value when it is a constant initializer, else null (read at kernel creation).
const OrtValue* constant_input(const OrtKernelInfo* info, size_t index) {
  int is_const = 0;
  const OrtValue* v = nullptr;
  check(api().KernelInfoGetConstantInput_tensor(info, index, &is_const, &v));
  return is_const ? v : nullptr;
}

void check_weight_tensor(const Tensor& w, const std::string& what, const char* name = "W") {
  if (!w.value || w.type != ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8 || w.shape.size() != 2)
    throw OrtError(what + ": " + name + " must be the bit-packed uint8 weight of shape (Cout, "
                   "ceil(Cin/group*kh*kw/8)), got " + type_name(w.type) + " " + shape_str(w.shape));
}

// A W input's packed form. A constant W (an initializer) is packed once, at kernel creation when
// the input's channel count is known from the graph, else at the first Compute; the packed form is
// immutable and shared by concurrent Run calls. A non-constant W may change between runs: packed
// per call.
class WeightCache {
 public:
  // Input `index` of the node, if constant; cin > 0 (the conv's input channels) packs it now.
  void load(const OrtKernelInfo* info, size_t index, const char* name, const core::ConvAttrs& a,
            int64_t cin, bool pack, const std::string& what) {
    const OrtValue* wv = constant_input(info, index);
    if (!wv) return;
    const Tensor w = describe(wv);
    check_weight_tensor(w, what, name);
    const_ = true;
    const auto* bytes = static_cast<const uint8_t*>(w.data);
    bytes_.assign(bytes, bytes + w.elements());  // ORT owns the OrtValue: keep our own copy
    if (cin <= 0) return;
    core::ConvShape s;
    std::string e = core::make_weight_shape(a, cin, w.shape[0], &s);
    if (e.empty()) e = core::check_weight_shape(s, w.shape[0], w.shape[1]);
    if (!e.empty()) throw OrtError(what + ": " + e);
    if (!pack) return;  // the reference reads the ONNX layout directly
    auto pw = std::make_shared<core::PackedWeights>();
    core::pack_weights(bytes_.data(), s, pw.get());
    packed_ = std::move(pw);
  }

  std::shared_ptr<const core::PackedWeights> get(const core::ConvShape& s, const Tensor& w) const {
    if (const_) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!packed_ || !packed_->matches(s)) {
        auto pw = std::make_shared<core::PackedWeights>();
        core::pack_weights(bytes_.data(), s, pw.get());
        packed_ = std::move(pw);
      }
      return packed_;
    }
    auto pw = std::make_shared<core::PackedWeights>();
    core::pack_weights(static_cast<const uint8_t*>(w.data), s, pw.get());
    return pw;
  }

 private:
  bool const_ = false;
  std::vector<uint8_t> bytes_;
  mutable std::mutex mu_;  // guards packed_ (replaced only if a call brings a new channel count)
  mutable std::shared_ptr<const core::PackedWeights> packed_;
};

// The output transform's table of rows (core::tile_rows: each output channel's constants side by
// side), built once when every vector it reads is a constant initializer, as in every export; else
// the core builds it per call (0.8% of rep-reactnet-a's time at 1 thread, and before the parallel
// section). Rebuilt only when a call brings another shape.
class RowsCache {
 public:
  // inputs: the node's input indices of the transform's vectors; an omitted optional one counts as
  // constant (the transform has no such vector).
  void load(const OrtKernelInfo* info, std::initializer_list<size_t> inputs) {
    size_t count = 0;
    check(api().KernelInfo_GetInputCount(info, &count));
    for (const size_t i : inputs) {
      if (i < count && !omitted(info, i) && !constant_input(info, i)) return;
    }
    const_ = true;
  }

  // The table for a call of shape s with transform t (whose vectors are this node's constants), or
  // null when they are not constant.
  std::shared_ptr<const std::vector<core::TileRow>> get(const core::ConvShape& s,
                                                        const core::OutputTransform& t) const {
    if (!const_) return nullptr;
    const std::array<int64_t, 4> key{s.cout, t.repeats, t.splits, t.residual_channels};
    std::lock_guard<std::mutex> lock(mu_);
    if (!rows_ || key != key_) {
      rows_ = std::make_shared<const std::vector<core::TileRow>>(core::tile_rows(s, t));
      key_ = key;
    }
    return rows_;
  }

 private:
  static bool omitted(const OrtKernelInfo* info, size_t i) {  // an optional input left out ("")
    size_t size = 0;
    check(api().KernelInfo_GetInputName(info, i, nullptr, &size));
    return size <= 1;
  }

  bool const_ = false;
  mutable std::mutex mu_;  // guards rows_ and key_
  mutable std::shared_ptr<const std::vector<core::TileRow>> rows_;
  mutable std::array<int64_t, 4> key_{};
};

// BinaryConvBlockPair's input indices past BinaryConvBlockLinked's 11: C's weight and vectors, and
// C's optional sign_threshold (output 1, Y_signs). C's threshold is input 9 (P's sign_threshold).
constexpr size_t kCW = 11, kCMul = 12, kCAdd = 13, kCPre = 14, kCSlope = 15, kCPost = 16,
                 kCSignThreshold = 17;
// A pair runs fused (core::binary_block_pair_forward) on maps of at least this many 64-pixel tiles
// per image; on smaller ones (14x14: 4, 7x7: 1) it runs its two blocks one after the other: there
// the tensors fit in L2 anyway (`bench_model --pairs`) and a task per tile would leave 2 threads
// idle.
constexpr int64_t kPairMinTiles = 12;

class BinaryConvKernel {
 public:
  BinaryConvKernel(const OrtKernelInfo* info, Variant variant)
      : variant_(variant), what_(node_label(info, op_name(variant))) {
    const core::ConvAttrs& a = attrs_ = conv_attrs(info, "", {}, what_);
    const std::string e = a.validate();
    if (!e.empty()) throw OrtError(what_ + ": " + e);
    if (variant_ != Variant::kPlain) {
      repeats_ = attr_int(info, "repeats", 1);
      if (repeats_ < 1 || repeats_ > 4096)
        throw OrtError(what_ + ": repeats must be in [1, 4096], got " + std::to_string(repeats_));
    }
    if (block_like(variant_)) {
      splits_ = attr_int(info, "splits", 1);
      if (splits_ < 1)
        throw OrtError(what_ + ": splits must be >= 1, got " + std::to_string(splits_));
      pool_ = ints_of_length(info, "residual_pool", 2, {1, 1}, what_);
      if (pool_[0] < 1 || pool_[1] < 1)
        throw OrtError(what_ + ": residual_pool must be positive, got " + shape_str(pool_));
    }
    if (linked_like(variant_)) {
      x_repeats_ = attr_int(info, "x_repeats", 1);
      if (x_repeats_ < 1 || x_repeats_ > 65536)
        throw OrtError(what_ + ": x_repeats must be in [1, 65536], got " + std::to_string(x_repeats_));
      y_pool_ = flag(info, "y_pool");
      x_pooled_ = flag(info, "x_pooled");
    }
    // The kernel path is fixed per kernel object: REP_DEPLOY_KERNEL is read at session creation.
    const std::string ke = core::select_kernel_from_env(&path_);
    if (!ke.empty()) throw OrtError(what_ + ": " + ke);
    w_.load(info, 1, "W", attrs_, static_input_channels(info) * x_repeats_, path_.bgemm != nullptr, what_);
    if (variant_ == Variant::kPlain) rows_.load(info, {2});
    else if (block_like(variant_)) rows_.load(info, {3, 4, 6, 7, 8, 9});  // 9: sign_threshold
    else rows_.load(info, {2, 3});
    if (variant_ == Variant::kPair) pair_attributes(info);
  }

  void compute(OrtKernelContext* ctx) const {
    if (variant_ == Variant::kPair) return compute_pair(ctx);
    Call c = prepare(ctx);
    const Tensor y = output(ctx, 0, c.y_shape);
    if (c.t.sign_threshold)
      c.t.signs = static_cast<uint64_t*>(output(ctx, 1, signs_shape(c.s, repeats_)).data);
    const auto rows = path_.bgemm ? rows_.get(c.s, c.t) : nullptr;
    if (rows) c.t.rows = rows->data();
    run_conv(ctx, c.s, c.xd, c.x.shape[1], c.threshold, c.x_signs, c.w, w_,
             c.t, static_cast<float*>(y.data));
  }

 private:
  // A call's geometry and output transform, from the node's inputs 0-10 (validated; the outputs
  // are not allocated yet).
  struct Call {
    core::ConvShape s;
    core::OutputTransform t;
    const float* threshold = nullptr;
    const uint64_t* x_signs = nullptr;
    const float* xd = nullptr;  // X's floats, null when x_pooled (the conv reads X_signs)
    Tensor x, w;
    std::vector<int64_t> y_shape;
  };

  static std::vector<int64_t> signs_shape(const core::ConvShape& s, int64_t repeats) {
    return {s.n, s.cout * repeats, 8 * core::plane_words(s.ho, s.wo)};
  }

  Call prepare(OrtKernelContext* ctx) const {
    Call c;
    const Tensor x = c.x = input(ctx, 0), w = c.w = input(ctx, 1);
    if (!x.value || x.type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || x.shape.size() != 4)
      throw OrtError(what_ + ": X must be a float32 NCHW tensor (rank 4), got " +
                     type_name(x.type) + " " + shape_str(x.shape));
    check_weight_tensor(w, what_);
    core::ConvShape& s = c.s;  // the conv's input: X tiled x_repeats times along channels
                               // (x_pooled: X is 2x2-pooled, the conv reads its full-size signs
                               // from X_signs)
    const int64_t hw_scale = x_pooled_ ? 2 : 1;
    std::string e = core::make_conv_shape(attrs_, x.shape[0], x.shape[1] * x_repeats_,
                                          x.shape[2] * hw_scale, x.shape[3] * hw_scale, w.shape[0], &s);
    if (e.empty()) e = core::check_weight_shape(s, w.shape[0], w.shape[1]);
    if (!e.empty()) throw OrtError(what_ + ": " + e);

    const int64_t cy = s.cout * repeats_;
    if (s.cout % splits_)
      throw OrtError(what_ + ": splits=" + std::to_string(splits_) + " must divide the " +
                     std::to_string(s.cout) + " rows of W");
    core::OutputTransform& t = c.t;
    t.repeats = repeats_;
    t.splits = splits_;
    size_t residual_index = 0;  // 0: no residual input
    if (variant_ == Variant::kPlain) {
      t.mul = vector_input(ctx, 2, "scale", s.cout);
    } else if (block_like(variant_)) {
      c.threshold = vector_input(ctx, 2, "threshold", s.cin);
      t.mul = vector_input(ctx, 3, "mul", cy);
      t.add = vector_input(ctx, 4, "add", cy);
      residual_index = 5;
      t.pre = vector_input(ctx, 6, "pre", cy);
      t.slope = vector_input(ctx, 7, "slope", cy);
      t.post = vector_input(ctx, 8, "post", cy);
    } else {
      t.mul = vector_input(ctx, 2, "mul", cy);
      t.add = vector_input(ctx, 3, "add", cy);
      if (variant_ == Variant::kFusedAdd) residual_index = 4;
    }
    const std::vector<int64_t> full_shape{s.n, cy, s.ho, s.wo};
    if (y_pool_ && (s.ho % 2 || s.wo % 2))
      throw OrtError(what_ + ": y_pool needs an even output height and width, got " +
                     shape_str(full_shape) + " (a session-time rewrite: load the file without "
                     "rep-deploy's graph rewrite, or report this model)");
    c.y_shape = y_pool_ ? std::vector<int64_t>{s.n, cy, s.ho / 2, s.wo / 2} : full_shape;
    t.pool_y = y_pool_;
    if (residual_index) {
      // BinaryConvBlock tiles a residual whose channel count divides the output's, and pools it
      const Tensor r = input(ctx, residual_index);
      const bool block = block_like(variant_);
      const bool fits = r.shape.size() == 4 && r.shape[0] == s.n && r.shape[1] > 0 &&
                        (block ? cy % r.shape[1] == 0 : r.shape[1] == cy) &&
                        r.shape[2] / pool_[0] == s.ho && r.shape[3] / pool_[1] == s.wo;
      if (!r.value || r.type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || !fits)
        throw OrtError(what_ + ": residual must be float32 of the output shape " +
                       shape_str(full_shape) +
                       (block ? " (or with a channel count dividing it)" : "") +
                       (pool_[0] * pool_[1] > 1 ? " times the residual_pool window " + shape_str(pool_) : "") +
                       ", got " + type_name(r.type) + " " + shape_str(r.shape));
      t.residual = static_cast<const float*>(r.data);
      t.residual_channels = r.shape[1];
      t.pool_h = pool_[0], t.pool_w = pool_[1], t.residual_h = r.shape[2], t.residual_w = r.shape[3];
    }
    if (linked_like(variant_)) c.x_signs = linked_inputs(ctx, s, &t);
    if (x_pooled_ && !c.x_signs)
      throw OrtError(what_ + ": x_pooled needs X_signs (X holds only the pooled input)");
    c.xd = x_pooled_ ? nullptr : static_cast<const float*>(x.data);
    return c;
  }

  // One conv into yd: the oracle (REP_DEPLOY_KERNEL=reference, single-threaded) or the kernel
  // path. xd: the input's floats with x_channels channels per image (tiled to s.cin), or null when
  // only its sign bits x_signs are here (x_pooled); w / cache: the conv's weight and its packed form.
  void run_conv(OrtKernelContext* ctx, const core::ConvShape& s, const float* xd, int64_t x_channels,
                const float* threshold, const uint64_t* x_signs, const Tensor& w,
                const WeightCache& cache, const core::OutputTransform& t, float* yd) const {
    if (s.n == 0) return;
    const int64_t cy = s.cout * t.repeats;
    if (!path_.bgemm) {
      std::vector<float> oracle_x;  // the conv's input, when X is not it
      if (!xd) {  // X's floats are not here: +1 / -1 from its sign bits, binarized at 0
        const int64_t pw = core::plane_words(s.h, s.w), hw = s.h * s.w;
        oracle_x.resize(size_t(s.n * s.cin * hw));
        for (int64_t i = 0; i < s.n * s.cin; ++i)
          for (int64_t p = 0; p < hw; ++p)
            oracle_x[size_t(i * hw + p)] = (x_signs[i * pw + p / 64] >> (p % 64)) & 1 ? 1.0f : -1.0f;
        xd = oracle_x.data(), threshold = nullptr;
      } else if (x_channels < s.cin) {  // the oracle takes the tiled input itself
        oracle_x.resize(size_t(s.n * s.cin * s.h * s.w));
        core::repeat_channels(xd, oracle_x.data(), s.n, size_t(x_channels * s.h * s.w) * sizeof(float),
                              s.cin / x_channels);
        xd = oracle_x.data();
      }
      std::vector<int32_t> acc(size_t(s.n * s.cout * s.ho * s.wo));
      core::reference_accumulator(s, xd, threshold, static_cast<const uint8_t*>(w.data), acc.data());
      std::vector<float> full(t.pool_y ? size_t(s.n * cy * s.ho * s.wo) : 0);
      float* out = t.pool_y ? full.data() : yd;
      core::reference_output(s, acc.data(), t, out);
      if (t.signs) core::reference_signs(out, s.n * cy, s.ho * s.wo, t.sign_threshold, cy, t.signs);
      if (t.pool_y) core::reference_pool_2x2(out, s.n * cy, s.ho, s.wo, yd);
      return;
    }
    const std::shared_ptr<const core::PackedWeights> pw = cache.get(s, w);
    core::binary_conv_forward(s, xd, threshold, *pw, path_, t, yd, parallel_runner(ctx), x_signs,
                              x_channels);
  }

  // BinaryConvBlockPair: P (inputs 0-10, as BinaryConvBlockLinked; input 9 is C's threshold) and
  // C, the 1x1 block reading P's output Y1 (through its signs and as its residual), fused tile by
  // tile on maps of kPairMinTiles tiles or more, else one after the other through a Y1 scratch.
  void compute_pair(OrtKernelContext* ctx) const {
    Call p = prepare(ctx);
    const core::ConvShape& sp = p.s;
    const float* c_threshold = p.t.sign_threshold;  // P's sign bits are C's input
    p.t.sign_threshold = nullptr;
    const int64_t y1c = sp.cout * repeats_;
    const Tensor wc = input(ctx, kCW);
    check_weight_tensor(wc, what_, "C's W");
    core::ConvShape sc;
    std::string e = core::make_conv_shape(c_attrs_, sp.n, y1c, sp.ho, sp.wo, wc.shape[0], &sc);
    if (e.empty()) e = core::check_weight_shape(sc, wc.shape[0], wc.shape[1]);
    if (!e.empty()) throw OrtError(what_ + ": C: " + e);
    if (sc.cout % c_splits_)
      throw OrtError(what_ + ": c_splits=" + std::to_string(c_splits_) + " must divide the " +
                     std::to_string(sc.cout) + " rows of C's W");
    const int64_t cy = sc.cout * c_repeats_;
    if (cy % y1c)
      throw OrtError(what_ + ": C's " + std::to_string(cy) + " output channels must be a multiple "
                     "of Y1's " + std::to_string(y1c) + " (its residual, tiled)");
    core::OutputTransform tc;
    tc.repeats = c_repeats_, tc.splits = c_splits_, tc.residual_channels = y1c;
    tc.mul = vector_input(ctx, kCMul, "C's mul", cy);
    tc.add = vector_input(ctx, kCAdd, "C's add", cy);
    tc.pre = vector_input(ctx, kCPre, "C's pre", cy);
    tc.slope = vector_input(ctx, kCSlope, "C's slope", cy);
    tc.post = vector_input(ctx, kCPost, "C's post", cy);
    if (input_count(ctx) > kCSignThreshold && input(ctx, kCSignThreshold).value) {
      if (output_count(ctx) < 2)
        throw OrtError(what_ + ": C's sign_threshold is given, so the node needs its Y_signs output");
      tc.sign_threshold = vector_input(ctx, kCSignThreshold, "C's sign_threshold", cy);
    }
    if (c_y_pool_ && (sc.ho % 2 || sc.wo % 2))
      throw OrtError(what_ + ": c_y_pool needs an even output height and width, got " +
                     shape_str({sc.n, cy, sc.ho, sc.wo}));
    tc.pool_y = c_y_pool_;
    const Tensor y = output(ctx, 0, c_y_pool_ ? std::vector<int64_t>{sc.n, cy, sc.ho / 2, sc.wo / 2}
                                              : std::vector<int64_t>{sc.n, cy, sc.ho, sc.wo});
    if (tc.sign_threshold) tc.signs = static_cast<uint64_t*>(output(ctx, 1, signs_shape(sc, c_repeats_)).data);
    if (sp.n == 0) return;
    // the tables of rows: P's with C's thresholds as its sign thresholds (P writes C's input bits)
    core::OutputTransform tp_signs = p.t;
    tp_signs.sign_threshold = c_threshold;
    const auto rows_p = path_.bgemm ? rows_.get(sp, tp_signs) : nullptr;
    const auto rows_c = path_.bgemm ? c_rows_.get(sc, tc) : nullptr;
    if (rows_p) p.t.rows = rows_p->data();
    if (rows_c) tc.rows = rows_c->data();
    auto* yd = static_cast<float*>(y.data);
    const int64_t x_channels = p.x.shape[1];
    if (path_.bgemm && (sp.ho * sp.wo + 63) / 64 >= kPairMinTiles) {
      core::binary_block_pair_forward(sp, p.xd, p.threshold, *w_.get(sp, p.w), p.t, sc, c_threshold,
                                      *c_w_.get(sc, wc), tc, path_, yd, parallel_runner(ctx),
                                      p.x_signs, x_channels);
      return;
    }
    // Y1 and its signs (P writes every float and word) in the session's arena, as the unfused
    // graph's Y1 was
    const Scratch y1(ctx, size_t(sp.n * y1c * sp.ho * sp.wo) * sizeof(float));
    const Scratch y1_signs(ctx, size_t(sp.n * y1c * core::plane_words(sp.ho, sp.wo)) * sizeof(uint64_t));
    auto* y1f = static_cast<float*>(y1.data());
    auto* y1s = static_cast<uint64_t*>(y1_signs.data());
    p.t.sign_threshold = c_threshold, p.t.signs = y1s;
    run_conv(ctx, sp, p.xd, x_channels, p.threshold, p.x_signs, p.w, w_, p.t, y1f);
    tc.residual = y1f;
    run_conv(ctx, sc, y1f, y1c, c_threshold, y1s, wc, c_w_, tc, yd);
  }

  // BinaryConvBlockPair's attributes of C: c_repeats, c_splits, c_y_pool, and its conv, which must
  // be a 1x1 of stride 1 without padding in one group (c_kernel_shape etc., ONNX Conv defaults).
  void pair_attributes(const OrtKernelInfo* info) {
    const core::ConvAttrs& a = c_attrs_ = conv_attrs(info, "c_", {1, 1}, what_);
    if (a.kh != 1 || a.kw != 1 || a.sh != 1 || a.sw != 1 || a.pt || a.pl || a.pb || a.pr ||
        a.group != 1)
      throw OrtError(what_ + ": C must be a 1x1 conv of stride 1, no padding and one group, got " +
                     a.to_string());
    c_repeats_ = attr_int(info, "c_repeats", 1);
    if (c_repeats_ < 1 || c_repeats_ > 4096)
      throw OrtError(what_ + ": c_repeats must be in [1, 4096], got " + std::to_string(c_repeats_));
    c_splits_ = attr_int(info, "c_splits", 1);
    if (c_splits_ < 1)
      throw OrtError(what_ + ": c_splits must be >= 1, got " + std::to_string(c_splits_));
    c_y_pool_ = flag(info, "c_y_pool");
    if (y_pool_ || splits_ != 1 || pool_[0] * pool_[1] != 1)
      throw OrtError(what_ + ": P may not pool its output or its residual, or split its channels");
    c_w_.load(info, kCW, "C's W", c_attrs_, -1, false, what_);
    c_rows_.load(info, {kCMul, kCAdd, kCPre, kCSlope, kCPost, kCSignThreshold});
  }

 private:
  // BinaryConvBlockLinked's optional inputs: sign_threshold (then output 1, Y_signs, must exist)
  // and X_signs (returned, checked against X's shape; 8-byte aligned, as ORT allocates).
  const uint64_t* linked_inputs(OrtKernelContext* ctx, const core::ConvShape& s,
                                core::OutputTransform* t) const {
    const size_t nin = input_count(ctx);
    const int64_t cy = s.cout * repeats_;
    const bool pair = variant_ == Variant::kPair;  // input 9: C's threshold, P's signs internal
    if (nin > 9 && input(ctx, 9).value) {
      if (!pair && output_count(ctx) < 2)
        throw OrtError(what_ + ": sign_threshold is given, so the node needs its Y_signs output");
      t->sign_threshold = vector_input(ctx, 9, pair ? "C's threshold" : "sign_threshold", cy);
    } else if (pair) {
      throw OrtError(what_ + ": input 9, C's threshold, is required");
    }
    if (nin <= 10) return nullptr;
    const Tensor xs = input(ctx, 10);
    if (!xs.value) return nullptr;
    const std::vector<int64_t> want{s.n, s.cin, 8 * core::plane_words(s.h, s.w)};
    if (xs.type != ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8 || xs.shape != want)
      throw OrtError(what_ + ": X_signs must be uint8 of shape " + shape_str(want) + " (X's sign "
                     "bits), got " + type_name(xs.type) + " " + shape_str(xs.shape));
    if (reinterpret_cast<uintptr_t>(xs.data) % alignof(uint64_t))
      throw OrtError(what_ + ": X_signs is not 8-byte aligned");
    return static_cast<const uint64_t*>(xs.data);
  }

  // A 0 / 1 attribute of BinaryConvBlockLinked.
  bool flag(const OrtKernelInfo* info, const char* name) const {
    const int64_t v = attr_int(info, name, 0);
    if (v != 0 && v != 1)
      throw OrtError(what_ + ": attribute " + name + " must be 0 or 1, got " + std::to_string(v));
    return v == 1;
  }

  const float* vector_input(OrtKernelContext* ctx, size_t i, const char* name, int64_t n) const {
    const Tensor v = input(ctx, i);
    if (!v.value || v.type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || v.shape != std::vector<int64_t>{n})
      throw OrtError(what_ + ": " + name + " must be float32 of shape [" + std::to_string(n) +
                     "], got " + type_name(v.type) + " " + shape_str(v.shape));
    return static_cast<const float*>(v.data);
  }

  // X's channel count from the graph's type information, or -1 when not static.
  static int64_t static_input_channels(const OrtKernelInfo* info) {
    OrtTypeInfo* ti = nullptr;
    OrtStatus* st = api().KernelInfo_GetInputTypeInfo(info, 0, &ti);
    if (st) {
      api().ReleaseStatus(st);
      return -1;
    }
    int64_t cin = -1;
    const OrtTensorTypeAndShapeInfo* tsi = nullptr;  // owned by ti
    size_t rank = 0;
    st = api().CastTypeInfoToTensorInfo(ti, &tsi);
    if (!st && tsi) st = api().GetDimensionsCount(tsi, &rank);
    if (!st && tsi && rank == 4) {
      int64_t dims[4];
      st = api().GetDimensions(tsi, dims, 4);
      if (!st) cin = dims[1];
    }
    if (st) api().ReleaseStatus(st);
    api().ReleaseTypeInfo(ti);
    return cin;
  }

  Variant variant_;
  std::string what_;
  core::ConvAttrs attrs_;
  int64_t repeats_ = 1;
  int64_t splits_ = 1;
  int64_t x_repeats_ = 1;  // BinaryConvBlockLinked: X holds cin / x_repeats channels (a folded Repeat)
  bool y_pool_ = false;    // BinaryConvBlockLinked: Y written 2x2-average-pooled
  bool x_pooled_ = false;  // BinaryConvBlockLinked: X is the conv's input 2x2-pooled (signs in X_signs)
  std::vector<int64_t> pool_{1, 1};  // residual_pool (BinaryConvBlock)
  core::Kernel path_{};
  WeightCache w_;
  RowsCache rows_;  // the transform's rows (BinaryConvBlockPair: P's)
  // BinaryConvBlockPair: C's conv attributes, repeats, splits and y_pool, and its weight
  core::ConvAttrs c_attrs_;
  int64_t c_repeats_ = 1, c_splits_ = 1;
  bool c_y_pool_ = false;
  WeightCache c_w_;
  RowsCache c_rows_;  // C's rows
};

// Output shape (N, Cout*repeats, Ho, Wo) when the input shapes allow; invalid shapes are left to
// Compute, whose errors name them (ORT ignores a status returned from here).
void infer_shape(OrtShapeInferContext* ctx, Variant variant) {
  if (infer_input_count(ctx) < 2) return;
  const InferShape x = infer_input(ctx, 0), w = infer_input(ctx, 1);
  if (x.dims.size() != 4 || w.dims.size() != 2 || x.dims[2] <= 0 || x.dims[3] <= 0 || w.dims[0] <= 0)
    return;
  bool found = false;
  const std::vector<int64_t> k = infer_attr_ints(ctx, "kernel_shape", {}, &found);
  const std::vector<int64_t> s = infer_attr_ints(ctx, "strides", {1, 1}, &found);
  const std::vector<int64_t> p = infer_attr_ints(ctx, "pads", {0, 0, 0, 0}, &found);
  const std::vector<int64_t> d = infer_attr_ints(ctx, "dilations", {1, 1}, &found);
  const int64_t repeats = variant == Variant::kPlain ? 1 : infer_attr_int(ctx, "repeats", 1, &found);
  if (k.size() != 2 || s.size() != 2 || p.size() != 4 || d.size() != 2 || repeats < 1) return;
  if (s[0] < 1 || s[1] < 1 || d[0] < 1 || d[1] < 1 || k[0] < 1 || k[1] < 1) return;
  const bool linked = variant == Variant::kLinked;  // (kPair: its P, below)
  const int64_t scale = linked_like(variant) && infer_attr_int(ctx, "x_pooled", 0, &found) == 1 ? 2 : 1;
  const int64_t ho = core::conv_output_size(x.dims[2] * scale, k[0], s[0], p[0], p[2], d[0]);
  const int64_t wo = core::conv_output_size(x.dims[3] * scale, k[1], s[1], p[1], p[3], d[1]);
  if (ho <= 0 || wo <= 0) return;
  if (x.dims[0] < 0 && x.symbols[0].empty()) return;  // cannot express "unknown" here
  InferShape y;
  y.type = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  // BinaryConvBlockPair: Y is C's (1x1 over P's output: the same Ho x Wo)
  const bool pair = variant == Variant::kPair;
  if (pair && infer_input_count(ctx) <= kCW) return;
  const InferShape wc = pair ? infer_input(ctx, kCW) : InferShape();
  if (pair && (wc.dims.size() != 2 || wc.dims[0] <= 0)) return;
  const int64_t cy = pair ? wc.dims[0] * infer_attr_int(ctx, "c_repeats", 1, &found) : w.dims[0] * repeats;
  const bool pooled = (linked || pair) && infer_attr_int(ctx, pair ? "c_y_pool" : "y_pool", 0, &found) == 1;
  if (pooled && (ho % 2 || wo % 2)) return;  // Compute's error names it
  y.dims = {x.dims[0], cy, pooled ? ho / 2 : ho, pooled ? wo / 2 : wo};
  y.symbols = {x.symbols[0], "", "", ""};
  infer_set_output(ctx, 0, y);
  // Y_signs (if the node has it)
  if ((linked && infer_input_count(ctx) > 9) || (pair && infer_input_count(ctx) > kCSignThreshold)) {
    InferShape b;
    b.type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8;
    b.dims = {x.dims[0], cy, 8 * core::plane_words(ho, wo)};
    b.symbols = {x.symbols[0], "", ""};
    infer_set_output(ctx, 1, b);
  }
}

template <Variant V>
struct Callbacks {
  static OrtStatusPtr ORT_API_CALL create(const OrtCustomOp*, const OrtApi*, const OrtKernelInfo* info,
                                          void** kernel) {
    *kernel = nullptr;
    return guard([&] { *kernel = new BinaryConvKernel(info, V); });
  }
  static OrtStatusPtr ORT_API_CALL compute(void* kernel, OrtKernelContext* ctx) {
    return guard([&] { static_cast<const BinaryConvKernel*>(kernel)->compute(ctx); });
  }
  static void ORT_API_CALL destroy(void* kernel) { delete static_cast<BinaryConvKernel*>(kernel); }
  static OrtStatusPtr ORT_API_CALL infer(const OrtCustomOp*, OrtShapeInferContext* ctx) {
    OrtStatus* st = guard([&] { infer_shape(ctx, V); });
    if (st) api().ReleaseStatus(st);  // see infer_shape
    return nullptr;
  }
  static ONNXTensorElementDataType ORT_API_CALL input_type(const OrtCustomOp*, size_t i) {
    return i == 1 || i == 10 || (V == Variant::kPair && i == kCW) ? ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8
                                                                  : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  }
  // BinaryConvBlockLinked: inputs 9-10 and output 1 are optional; BinaryConvBlockPair: inputs 9
  // (checked in Compute), 10 and 17 and output 1
  static OrtCustomOpInputOutputCharacteristic ORT_API_CALL input_kind(const OrtCustomOp*, size_t i) {
    const bool optional = V == Variant::kPair ? i == 9 || i == 10 || i == kCSignThreshold : i >= 9;
    return optional ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
  }
  static OrtCustomOpInputOutputCharacteristic ORT_API_CALL output_kind(const OrtCustomOp*, size_t i) {
    return i >= 1 ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
  }
  static size_t ORT_API_CALL two_outputs(const OrtCustomOp*) { return 2; }
  static ONNXTensorElementDataType ORT_API_CALL output_type(const OrtCustomOp*, size_t i) {
    return i == 1 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  }
  static size_t ORT_API_CALL input_count(const OrtCustomOp*) { return input_arity(V); }
  static const char* ORT_API_CALL name(const OrtCustomOp*) { return op_name(V); }

  static const OrtCustomOp* op() {
    static const OrtCustomOp def = [] {
      OrtCustomOp o = make_custom_op(
          {name, input_type, input_count, output_type, create, compute, destroy, infer});
      if (linked_like(V)) {
        o.GetOutputTypeCount = two_outputs;
        o.GetInputCharacteristic = input_kind;
        o.GetOutputCharacteristic = output_kind;
      }
      return o;
    }();
    return &def;
  }
};

}  // namespace

const OrtCustomOp* binary_conv_op() { return Callbacks<Variant::kPlain>::op(); }
const OrtCustomOp* binary_conv_fused_op() { return Callbacks<Variant::kFused>::op(); }
const OrtCustomOp* binary_conv_fused_add_op() { return Callbacks<Variant::kFusedAdd>::op(); }
const OrtCustomOp* binary_conv_block_op() { return Callbacks<Variant::kBlock>::op(); }
const OrtCustomOp* binary_conv_block_linked_op() { return Callbacks<Variant::kLinked>::op(); }
const OrtCustomOp* binary_conv_block_pair_op() { return Callbacks<Variant::kPair>::op(); }

}  // namespace rep_deploy::ort
