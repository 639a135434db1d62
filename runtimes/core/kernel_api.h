// The entry points of the per-instruction-set kernels and the task they work on.
//
// Each ISA's kernels live in their own translation unit compiled with that ISA's flags. Those files
// include only this header and intrinsics headers, and keep everything else in an anonymous
// namespace: an inline function or template instantiated there would be compiled with AVX-512 and
// could be picked by the linker for a caller on a CPU without it.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sign bits are stored byte by byte (store_signs): little-endian targets only"
#endif

namespace rep_deploy::core {

// One GEMM task: popcounts of XOR for npix output pixels x nocb blocks of 8 output channels.
struct BgemmTask {
  const uint64_t* x;      // packed activations at the first tap word of output pixel 0 (+ g*cw)
  int64_t x_pix_stride;   // words between consecutive output pixels (stride_w * G * cw), or
  // pixel p's first tap word at x + pix_off[p] (pixel_x): a tile spanning output rows whose
  // pixels are not evenly spaced in the padded input (binary_conv.cc's gemm_tile)
  const int64_t* pix_off = nullptr;
  const int64_t* koff;    // [kwords] word offset of dot-product word k from the first tap word
  int64_t kwords;         // words per dot product (taps * cw)
  // koff is runs of tap_words consecutive words (koff[k + 1] = koff[k] + 1 unless tap_words
  // divides k + 1): a kernel may walk a tap's words by pointer increments. 1 promises nothing.
  int64_t tap_words = 1;
  const uint64_t* w;      // packed weights of the first 8-channel block: [nocb][kwords][8]
  int64_t nocb;           // blocks of 8 output channels
  int64_t npix;           // output pixels
  int32_t* cnt;           // out: popcount of block b lane l, pixel p at cnt[p*cnt_stride + 8*b + l]
  int64_t cnt_stride;     // >= 8 * nocb
};
using BgemmFn = void (*)(const BgemmTask& t);

// Output pixel p's first tap word (BgemmTask::x, x_pix_stride, pix_off).
static inline const uint64_t* pixel_x(const BgemmTask& t, int64_t p) {
  return t.x + (t.pix_off ? t.pix_off[p] : p * t.x_pix_stride);
}

// BgemmTask::pix_off for output pixels [f0, f0 + npix) of a plane wo wide: pixel p's offset from
// output pixel (0, 0)'s first tap word, output rows row_step words apart and columns col_step.
static inline void pixel_offsets(int64_t f0, int64_t npix, int64_t wo, int64_t row_step,
                                 int64_t col_step, int64_t* off) {
  int64_t yo = f0 / wo, xo = f0 % wo;
  for (int64_t p = 0; p < npix; ++p) {
    off[p] = yo * row_step + xo * col_step;
    if (++xo == wo) xo = 0, ++yo;
  }
}

// Activation packing runs in two passes (bitpack.h): SignRowFn streams each channel's rows of
// floats into sign bits (prefetch-friendly: one contiguous stream), TransposeBitsFn then turns
// 64-channel x 64-pixel tiles of those bits into per-pixel channel words.
//
// SignRowFn: bit i of bits[i / 64] = (x[i] >= threshold) for i < n (false when either is NaN, as
// numpy's x >= t); bits of the last word past n are zero. BinaryConv binarizes at threshold 0 (+0.0
// and -0.0 compare alike); BinaryConvBlock at its per-input-channel threshold.
using SignRowFn = void (*)(const float* x, int64_t n, float threshold, uint64_t* bits);
void sign_row_portable(const float* x, int64_t n, float threshold, uint64_t* bits);
// TransposeBitsFn: rows[c * row_stride] holds channel c's bits for 64 pixels (c < nc <= 64);
// writes word p (bit c = channel c of pixel p, bits c >= nc zero) to out[p * out_stride], p < np.
using TransposeBitsFn = void (*)(const uint64_t* rows, int64_t row_stride, int nc, int np,
                                 uint64_t* out, int64_t out_stride);
void transpose_bits_portable(const uint64_t* rows, int64_t row_stride, int nc, int np,
                             uint64_t* out, int64_t out_stride);

// Turns a GEMM popcount tile (pixel-major) into channel-major dot products for the output
// transform: out[l * 64 + p] = K - 2 * cnt[p * stride + l] for p < npix <= 64, l < nl <= 64
// (agreements minus disagreements over the K valid terms).
using FinishTileFn = void (*)(const int32_t* cnt, int64_t stride, int64_t npix, int64_t nl,
                              int32_t K, int32_t* out);
void finish_tile_portable(const int32_t* cnt, int64_t stride, int64_t npix, int64_t nl, int32_t K,
                          int32_t* out);

// One row of a tile's output transform: accumulator channel oc, copy r (TileOut::rows). Its output
// channel j and residual channel c (from the channel map: splits and a tiled residual, see
// binary_conv.h) and channel j's constants side by side (0 where the transform has none), so that a
// row's set-up is one pointer and one cache line. (With a channel map and six arrays, 13 pointers
// lived across the row loop and GCC parked them in vector registers; a row's set-up is most of the
// cost of a short row, such as the 4 pixels of a 14x14 plane's last tile. Session 17, Zen 4:
// `bench_core --epilogue` 14x14 3.64 -> 3.49 ns per 16 outputs, 14x14 pooled -4%; in ORT, with the
// tail's masked store (write_tile_simd.h), rep-reactnet-a 8.90 -> 8.62 ms at 1 thread.)
struct TileRow {
  int32_t j, c;
  float mul, add, pre, slope, post, sign_threshold;
};
static_assert(sizeof(TileRow) == 32, "two rows per cache line");

// The output transform of one GEMM tile (see OutputTransform in binary_conv.h for the float steps):
// for l < nl, r < repeats, p < npix, with e = rows[(oc0 + l) * repeats + r] (j = e.j, c = e.c),
//   y[j * plane + p] = f_j(float(acc[l * 64 + p]), res[c * res_plane + p])
// where f_j applies, each rounded once and in this order: * e.mul; + e.add (has_add); + res (res
// set; only together with has_add); RPReLU with e.pre/slope/post (has_pre; only together with res).
// Vector and scalar implementations give identical bits: IEEE float32 conversion, multiply and add
// are exactly rounded in any width, and nothing is fused.
struct TileOut {
  const int32_t* acc;  // [nl][64], channel-major exact accumulators
  int64_t nl, npix;    // channels (<= 64) and pixels (<= 64) of the tile
  int64_t oc0, repeats;
  // [cout * repeats]: the row of accumulator channel oc, copy r at rows[oc * repeats + r] (built
  // once per call: a division per tile row measured 17% of the epilogue's time)
  const TileRow* rows;
  bool has_add, has_pre;
  int64_t plane;       // floats between consecutive output channels (Ho * Wo)
  float* y;            // output channel 0 of this image, at the tile's first pixel
  const float* res;    // residual (channel c at res + c * res_plane), or null; it may be y itself
                       // (binary_conv_forward's pooled residual)
  int64_t res_plane;   // floats between consecutive residual channels: plane, or 64 when the
                       // residual is a tile held aside (binary_block_pair_forward's Y1)
  // The next op's sign bits (OutputTransform::signs), or null: channel j's bits start at word
  // signs[j * sign_stride], where bit 8 * sign_byte0 + p = (y[j][p] >= e.sign_threshold) for
  // p < npix (store_signs). The tile writes sign_bytes bytes from byte sign_byte0 and nothing
  // else: its first pixel is a multiple of 8 in the flattened plane, but not always of 64 (a
  // pooled output's tasks are whole rows of windows, binary_conv.cc's pixel_chunks), so two tiles,
  // perhaps on two threads, may share a word. The plane's last tile also zeroes the bits past the
  // plane up to its word's end (sign_bytes then counts them: at most 15). The default, byte 0 and
  // 8 bytes, is one word per channel row and tile, stored whole.
  uint64_t* signs;
  int64_t sign_stride;
  int32_t sign_byte0 = 0, sign_bytes = 8;
  // Y 2x2-average-pooled (OutputTransform::pool_y), or null: then y is unused and the tile's pixel
  // pair k (pixels 2k, 2k + 1: one pooling window's half, the tile's first pixel and Wo being even)
  // goes to pool[j * pool_plane + (pool_pairs[k] & ~kPoolBottom)], as its top row, or as its bottom
  // row when pool_pairs[k] has kPoolBottom (pool_pair).
  float* pool;
  int64_t pool_plane;
  const int32_t* pool_pairs;  // [npix / 2]
  int64_t pool_row_pairs;     // Wo / 2: pair k's window partner, when in the tile, is k +- this
  // A span of `tiles` consecutive tiles in one call (unpooled outputs only; the span's first pixel
  // a multiple of 64, so each tile's sign bits are a whole word: sign_byte0 0, sign_bytes 8): tile
  // k's accumulators at acc + k * acc_tile, its pixels the span's [64k, min(64k + 64, npix))
  // (npix <= 64 * tiles), its Y, residual (a plane: res_plane = plane) and sign word 64 floats /
  // one word on. The same values as one call per tile (span_tile), but written row by row across
  // the span, each output row front to back: tile after tile, a tile's 256 rows of 256 bytes hop
  // between 256 output planes, and the output transform of rep-reactnet-a's 14x14 layers ran at
  // 5.7-6.0 ns per 16 outputs, against 4.0-4.2 in spans of 4 tiles (`bench_core --epilogue`,
  // Zen 3).
  int64_t tiles = 1;
  int64_t acc_tile = 0;
};
constexpr int32_t kPoolBottom = int32_t(1) << 30;

// Tile k of a span (TileOut::tiles) as a TileOut of its own.
static inline TileOut span_tile(const TileOut& t, int64_t k) {
  TileOut one = t;
  one.tiles = 1, one.acc = t.acc + k * t.acc_tile;
  one.npix = t.npix - 64 * k < 64 ? t.npix - 64 * k : 64;
  if (t.y) one.y = t.y + 64 * k;
  if (t.res) one.res = t.res + 64 * k;
  if (t.signs) one.signs = t.signs + k;
  if (t.pool_pairs) one.pool_pairs = t.pool_pairs + 32 * k;
  return one;
}

// TileOut::pool_pairs' entry for the pixel pair starting at flattened output pixel f (even) of a
// plane Wo wide (even): its window's pooled offset, with kPoolBottom on odd rows.
static inline int32_t pool_pair_entry(int64_t f, int64_t wo) {
  const int64_t yo = f / wo, xo = f % wo;
  return int32_t((yo / 2) * (wo / 2) + xo / 2) | (yo % 2 ? kPoolBottom : 0);
}
using WriteTileFn = void (*)(const TileOut& t);

// The row of accumulator lane l, copy r (static: every ISA file gets its own copy).
static inline const TileRow& tile_row(const TileOut& t, int64_t r, int64_t l) {
  return t.rows[(t.oc0 + l) * t.repeats + r];
}

// The residual row of a tile row (null without a residual).
static inline const float* tile_residual(const TileOut& t, const TileRow& e) {
  return t.res ? t.res + e.c * t.res_plane : nullptr;
}

// One pixel pair of a pooled output (TileOut::pool): e = pool_pairs[k], a and b its two values. The
// spec's order for a window with top row (a, b) and bottom row (c, d) is ((a + b) + c) + d, then
// * 0.25 (bit-identical to / 4): the top pair stores a + b, the bottom pair finishes the window.
// binary_conv_forward runs a window's tiles in order on one thread, so the top is always there first.
static inline void pool_pair(float* out, int32_t e, float a, float b) {
  if (e & kPoolBottom) {
    float& o = out[e & ~kPoolBottom];
    o = ((o + a) + b) * 0.25f;
  } else {
    out[e] = a + b;
  }
}

// The pairs [k0, k0 + n) of a pooled tile are one run: the same row of windows, consecutive windows
// (then a vector of 2n pixels pools with vector operations).
static inline bool pool_run(const int32_t* pairs, int64_t k0, int64_t n) {
  return pairs[k0 + n - 1] - pairs[k0] == n - 1;  // kPoolBottom differs: 2^30 apart
}

// The tile's sign bits of output channel j (word: bit p = pixel p, zero from npix up) to their
// place (TileOut::signs; tile: its place in a span). Where the tile shares a word with another,
// byte stores, never a wider read-modify-write: the other tile may be running on another thread.
static inline void store_signs(const TileOut& t, int64_t j, uint64_t word, int64_t tile = 0) {
  uint64_t* row = t.signs + j * t.sign_stride + tile;  // a span's tile k: k words on
  const int32_t n = t.sign_bytes;
  if (t.sign_byte0 == 0 && n == 8) {
    *row = word;
    return;
  }
  unsigned char* d = reinterpret_cast<unsigned char*>(row) + t.sign_byte0;
  if (n >= 8) {  // the plane's last tile: the word, then zeros to the end of the next word
    std::memcpy(d, &word, 8);
    for (int32_t i = 8; i < n; ++i) d[i] = 0;
    return;
  }
  // n < 8 bytes of the word, the low ones first: a piece of 4, of 2, of 1 (a memcpy of n bytes
  // would be a call)
  if (n & 4) {
    const uint32_t v = uint32_t(word);
    std::memcpy(d, &v, 4);
    d += 4, word >>= 32;
  }
  if (n & 2) {
    const uint16_t v = uint16_t(word);
    std::memcpy(d, &v, 2);
    d += 2, word >>= 16;
  }
  if (n & 1) *d = static_cast<unsigned char>(word);
}

void write_tile_portable(const TileOut& t);

// Transposes a 64x64 bit matrix in place: afterwards bit c of m[r] is the old bit r of m[c].
void transpose64(uint64_t m[64]);

// Per-ISA entry points (each defined in its own translation unit, built with that ISA's flags).
void bgemm_portable(const BgemmTask& t);
#if defined(__x86_64__) || defined(_M_X64)
void bgemm_avx2(const BgemmTask& t);
void finish_tile_avx2(const int32_t* cnt, int64_t stride, int64_t npix, int64_t nl, int32_t K,
                      int32_t* out);
void sign_row_avx2(const float* x, int64_t n, float threshold, uint64_t* bits);
void write_tile_avx2(const TileOut& t);
void transpose_bits_avx2(const uint64_t* rows, int64_t row_stride, int nc, int np, uint64_t* out,
                         int64_t out_stride);
void bgemm_avx512(const BgemmTask& t);
void bgemm_avx512_vpopcnt(const BgemmTask& t);
void sign_row_avx512(const float* x, int64_t n, float threshold, uint64_t* bits);
void write_tile_avx512(const TileOut& t);
void transpose_bits_avx512(const uint64_t* rows, int64_t row_stride, int nc, int np, uint64_t* out,
                           int64_t out_stride);
// needs AVX-512 VBMI and GFNI besides F, BW and VL
void transpose_bits_avx512_gfni(const uint64_t* rows, int64_t row_stride, int nc, int np,
                                uint64_t* out, int64_t out_stride);
#endif
#if defined(__aarch64__)
void bgemm_neon(const BgemmTask& t);
void sign_row_neon(const float* x, int64_t n, float threshold, uint64_t* bits);
void transpose_bits_neon(const uint64_t* rows, int64_t row_stride, int nc, int np, uint64_t* out,
                         int64_t out_stride);
void finish_tile_neon(const int32_t* cnt, int64_t stride, int64_t npix, int64_t nl, int32_t K,
                      int32_t* out);
void write_tile_neon(const TileOut& t);
#endif

}  // namespace rep_deploy::core
