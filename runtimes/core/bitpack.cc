#include "bitpack.h"

#include <algorithm>
#include <cstring>

namespace rep_deploy::core {

void transpose64(uint64_t m[64]) {
  // Recursive block swap, LSB-first: at level j the off-diagonal j x j blocks of every 2j x 2j block
  // trade places. Row r (bit j of r clear) keeps its columns with bit j clear and takes row r+j's;
  // exchanging bit j of the row and column index at every level j = 32..1 is the transpose.
  uint64_t mask = 0x00000000FFFFFFFFull;
  for (int j = 32; j != 0; j >>= 1, mask ^= mask << j) {
    for (int r = 0; r < 64; r = (r + j + 1) & ~j) {
      const uint64_t t = ((m[r] >> j) ^ m[r + j]) & mask;
      m[r + j] ^= t;
      m[r] ^= t << j;
    }
  }
}

void sign_row_portable(const float* x, int64_t n, float threshold, uint64_t* bits) {
  for (int64_t i0 = 0; i0 < n; i0 += 64) {
    const int64_t m = n - i0 < 64 ? n - i0 : 64;
    uint64_t w = 0;
    // x >= t is false for NaN: NaN binarizes to -1, as numpy's where(x >= t, 1, -1)
    for (int64_t i = 0; i < m; ++i) w |= uint64_t(x[i0 + i] >= threshold) << i;
    bits[i0 / 64] = w;
  }
}

void transpose_bits_portable(const uint64_t* rows, int64_t row_stride, int nc, int np,
                             uint64_t* out, int64_t out_stride) {
  uint64_t m[64];
  for (int c = 0; c < nc; ++c) m[c] = rows[c * row_stride];
  for (int c = nc; c < 64; ++c) m[c] = 0;
  transpose64(m);
  for (int p = 0; p < np; ++p) out[p * out_stride] = m[p];
}

size_t sign_plane_words(const ConvShape& s) {
  return size_t(s.n) * size_t(s.cin) * size_t(s.h) * size_t(sign_row_words(s));
}

void sign_rows(const float* x_plane, const ConvShape& s, int64_t iy0, int64_t iy1, float t,
               SignRowFn sign_row, uint64_t* dst) {
  const int64_t ww = sign_row_words(s);
  if (ww > 1) {
    for (int64_t y = iy0; y < iy1; ++y) sign_row(x_plane + y * s.w, s.w, t, dst + (y - iy0) * ww);
    return;
  }
  // Rows of <= 64 pixels (56, 28, 14, 7 wide maps): one sign_row call per up to 64 rows of the
  // contiguous plane, then each row's w bits are cut out of that bit string (a call per short row
  // would cost more than the compares).
  uint64_t buf[65];
  const uint64_t mask = s.w == 64 ? ~uint64_t(0) : (uint64_t(1) << s.w) - 1;
  for (int64_t y0 = iy0; y0 < iy1; y0 += 64) {
    const int64_t rows = std::min<int64_t>(64, iy1 - y0);
    sign_row(x_plane + y0 * s.w, rows * s.w, t, buf);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t off = r * s.w, q = off >> 6, b = off & 63;
      uint64_t v = buf[q] >> b;
      if (b && b + s.w > 64) v |= buf[q + 1] << (64 - b);
      dst[y0 - iy0 + r] = v & mask;
    }
  }
}

void cut_sign_rows(const uint64_t* flat, const ConvShape& s, uint64_t* dst) {
  const int64_t ww = sign_row_words(s), words = (s.h * s.w + 63) / 64;
  const auto* bytes = reinterpret_cast<const unsigned char*>(flat);
  for (int64_t y = 0; y < s.h; ++y)
    for (int64_t q = 0; q < ww; ++q) {
      const int64_t off = y * s.w + 64 * q, bits = std::min<int64_t>(64, s.w - 64 * q);
      const uint64_t mask = bits == 64 ? ~uint64_t(0) : (uint64_t(1) << bits) - 1;
      uint64_t v;
      if (bits <= 57 && (off >> 3) + 8 <= words * 8) {  // one unaligned load holds the row's bits
        std::memcpy(&v, bytes + (off >> 3), sizeof(v));
        v >>= off & 7;
      } else {
        const int64_t i = off >> 6, b = off & 63;
        v = flat[i] >> b;
        if (b && b + bits > 64 && i + 1 < words) v |= flat[i + 1] << (64 - b);
      }
      dst[y * ww + q] = v & mask;
    }
}

size_t packed_activation_words(const ConvShape& s) {
  return size_t(s.n) * size_t(s.hp) * size_t(s.wp) * size_t(s.a.group) * size_t(s.cw);
}

namespace {

// Padding pattern of one pixel: valid channel bits set for +1 (and for 0, corrected later).
void fill_pad(const ConvShape& s, uint64_t* pix, int64_t count) {
  const int64_t words = s.a.group * s.cw;
  if (s.a.pad_value < 0) {
    std::memset(pix, 0, sizeof(uint64_t) * size_t(words * count));
    return;
  }
  for (int64_t q = 0; q < s.cw; ++q) {
    const int64_t valid = std::min<int64_t>(64, s.cin_g - 64 * q);
    const uint64_t bits = valid == 64 ? ~uint64_t(0) : (uint64_t(1) << valid) - 1;
    for (int64_t g = 0; g < s.a.group; ++g) pix[g * s.cw + q] = bits;
  }
  for (int64_t p = 1; p < count; ++p) std::memcpy(pix + p * words, pix, sizeof(uint64_t) * size_t(words));
}

// The padding of one padded row (input row iy): all of it when iy is outside the input, else its
// left and right borders. Returns the row's first interior pixel, or null for a padding row.
uint64_t* pad_row(const ConvShape& s, uint64_t* row, int64_t iy) {
  const int64_t words = s.a.group * s.cw;
  if (iy < 0 || iy >= s.h) {
    fill_pad(s, row, s.wp);
    return nullptr;
  }
  if (s.a.pl) fill_pad(s, row, s.a.pl);
  if (s.a.pr) fill_pad(s, row + (s.a.pl + s.w) * words, s.a.pr);
  return row + s.a.pl * words;
}

}  // namespace

bool packs_from_flat_signs(const ConvShape& s) { return s.w % 8 == 0 || s.w <= 57; }

void pack_activation_rows_from_signs(const uint64_t* x_signs, const ConvShape& s, int64_t n,
                                     int64_t y0, int64_t y1, TransposeBitsFn transpose_bits,
                                     uint64_t* out) {
  const int64_t words = s.a.group * s.cw;  // words per padded pixel
  const int64_t pw = (s.h * s.w + 63) / 64;   // words per sign plane
  const auto* image = reinterpret_cast<const unsigned char*>(x_signs + n * s.cin * pw);
  out += (n * s.hp + y0) * s.wp * words;
  uint64_t m[64];
  for (int64_t y = y0; y < y1; ++y) {
    const int64_t iy = y - s.a.pt;
    uint64_t* interior = pad_row(s, out + (y - y0) * s.wp * words, iy);
    if (!interior) continue;
    for (int64_t x0 = 0; x0 < s.w; x0 += 64) {
      const int np = int(std::min<int64_t>(64, s.w - x0));
      const uint64_t mask = np == 64 ? ~uint64_t(0) : (uint64_t(1) << np) - 1;
      const int64_t off = iy * s.w + x0;  // the piece's first bit in every plane
      // an 8-byte load from the piece's first byte stays inside the plane: the fast path
      const bool in_plane = (off >> 3) + 8 <= pw * 8;
      for (int64_t g = 0; g < s.a.group; ++g) {
        for (int64_t q = 0; q < s.cw; ++q) {
          const int nc = int(std::min<int64_t>(64, s.cin_g - 64 * q));
          const unsigned char* p0 = image + (g * s.cin_g + 64 * q) * pw * 8;
          if (in_plane) {
            for (int c = 0; c < nc; ++c) {
              uint64_t v;
              std::memcpy(&v, p0 + c * pw * 8 + (off >> 3), sizeof(v));
              m[c] = (v >> (off & 7)) & mask;
            }
          } else {
            const int64_t i = off >> 6, sh = off & 63;
            for (int c = 0; c < nc; ++c) {
              const auto* plane = reinterpret_cast<const uint64_t*>(p0 + c * pw * 8);
              uint64_t v = plane[i] >> sh;
              if (sh && sh + np > 64 && i + 1 < pw) v |= plane[i + 1] << (64 - sh);
              m[c] = v & mask;
            }
          }
          transpose_bits(m, 1, nc, np, interior + x0 * words + g * s.cw + q, words);
        }
      }
    }
  }
}

void pack_activation_rows(const uint64_t* planes, const ConvShape& s, int64_t n, int64_t y0,
                          int64_t y1, TransposeBitsFn transpose_bits, uint64_t* out) {
  const int64_t words = s.a.group * s.cw;  // words per padded pixel
  const int64_t ww = sign_row_words(s);
  const int64_t plane_stride = s.h * ww;   // words between channels in the sign planes
  planes += n * s.cin * plane_stride;
  out += n * s.hp * s.wp * words;
  for (int64_t y = y0; y < y1; ++y) {
    const int64_t iy = y - s.a.pt;
    uint64_t* interior = pad_row(s, out + y * s.wp * words, iy);
    if (!interior) continue;
    for (int64_t g = 0; g < s.a.group; ++g) {
      for (int64_t q = 0; q < s.cw; ++q) {
        const int nc = int(std::min<int64_t>(64, s.cin_g - 64 * q));
        const int64_t c0 = g * s.cin_g + 64 * q;
        const uint64_t* src = planes + c0 * plane_stride + iy * ww;
        for (int64_t x0 = 0; x0 < s.w; x0 += 64) {
          const int np = int(std::min<int64_t>(64, s.w - x0));
          transpose_bits(src + x0 / 64, plane_stride, nc, np, interior + x0 * words + g * s.cw + q,
                         words);
        }
      }
    }
  }
}

// Each packed word at once, in a register: channel c of tap t is bit c * taps + t of the ONNX row
// (byte e / 8, bit e % 8, bitpack.py's "little" order), so a 1x1's 64 channels are the row's next 8
// bytes, read as one little-endian word; other kernels' rows are spread to a byte per bit first
// (a table of 8-byte patterns) and each tap's channels gathered taps bytes apart. tap_sum (+1 per
// set bit, -1 per clear one) comes from the words' popcounts. Bit by bit into the packed buffer
// instead (an OR into memory per weight), rep-reactnet-a's ~29 M weight bits took ~150 ms of
// every session's creation (`perf record` over InferenceSession, 180 ms each, session 22).
void pack_weights(const uint8_t* w, const ConvShape& s, PackedWeights* out) {
  PackedWeights& p = *out;
  p.cin = s.cin, p.cout = s.cout, p.group = s.a.group, p.cin_g = s.cin_g, p.cout_g = s.cout_g;
  p.kh = s.a.kh, p.kw = s.a.kw, p.cw = s.cw, p.kwords = s.kwords(), p.nocb = s.nocb();
  const int64_t taps = s.taps(), row_bits = s.cin_g * taps;
  p.bits.resize(size_t(s.a.group * p.nocb * p.kwords * 8));
  std::memset(p.bits.data(), 0, sizeof(uint64_t) * p.bits.size());
  p.tap_sum.assign(size_t(taps * s.cout), 0);
  // spread[b]: byte b's 8 bits as 8 bytes of 0 / 1, lowest bit first (little-endian words)
  static const auto spread = [] {
    std::vector<uint64_t> t(256);
    for (int b = 0; b < 256; ++b)
      for (int i = 0; i < 8; ++i) t[size_t(b)] |= uint64_t((b >> i) & 1) << (8 * i);
    return t;
  }();
  std::vector<uint8_t> ones(taps == 1 ? 0 : size_t((row_bits + 7) / 8 * 8));
  for (int64_t oc = 0; oc < s.cout; ++oc) {
    const int64_t g = oc / s.cout_g, ol = oc % s.cout_g;
    const uint8_t* row = w + oc * s.w_row_bytes;
    uint64_t* dst = p.bits.data() + (g * p.nocb + ol / 8) * p.kwords * 8 + ol % 8;
    if (taps != 1) {
      for (int64_t b = 0; b < (row_bits + 7) / 8; ++b)
        std::memcpy(ones.data() + 8 * b, &spread[row[b]], 8);
    }
    for (int64_t t = 0; t < taps; ++t) {
      int64_t set = 0;
      for (int64_t c0 = 0; c0 < s.cin_g; c0 += 64) {
        const int64_t nc = std::min<int64_t>(64, s.cin_g - c0);
        uint64_t word = 0;
        if (taps == 1) {  // bits [c0, c0 + nc) of the row: whole bytes from c0 / 8 on, into the
          // word's low bytes (little-endian targets only, kernel_api.h; as cut_sign_rows reads)
          std::memcpy(&word, row + c0 / 8, size_t((nc + 7) / 8));
          if (nc < 64) word &= (uint64_t(1) << nc) - 1;  // the row's padding bits
        } else {
          const uint8_t* b = ones.data() + c0 * taps + t;
          for (int64_t k = 0; k < nc; ++k) word |= uint64_t(b[k * taps]) << k;
        }
        dst[(t * s.cw + c0 / 64) * 8] = word;
        set += __builtin_popcountll(word);
      }
      p.tap_sum[size_t(t * s.cout + oc)] = int32_t(2 * set - s.cin_g);
    }
  }
  p.row_sum.assign(size_t(s.a.kh * s.cout), 0);
  p.col_sum.assign(size_t(s.a.kw * s.cout), 0);
  for (int64_t i = 0; i < s.a.kh; ++i)
    for (int64_t j = 0; j < s.a.kw; ++j)
      for (int64_t oc = 0; oc < s.cout; ++oc) {
        const int32_t v = p.tap_sum[size_t((i * s.a.kw + j) * s.cout + oc)];
        p.row_sum[size_t(i * s.cout + oc)] += v;
        p.col_sum[size_t(j * s.cout + oc)] += v;
      }
}

}  // namespace rep_deploy::core

namespace rep_deploy::core {

void finish_tile_portable(const int32_t* cnt, int64_t stride, int64_t npix, int64_t nl, int32_t K,
                          int32_t* out) {
  for (int64_t p = 0; p < npix; ++p)
    for (int64_t l = 0; l < nl; ++l) out[l * 64 + p] = K - 2 * cnt[p * stride + l];
}

void gemm_tile_pixels(BgemmFn fn, BgemmTask t, const uint64_t* image, int64_t f0, int64_t wo,
                      int64_t row_step, int64_t col_step) {
  constexpr int64_t kTile = 64;
  t.x_pix_stride = col_step, t.pix_off = nullptr;
  if (row_step == wo * col_step) {
    t.x = image + f0 * col_step;
    return fn(t);
  }
  if (wo < kTile) {
    alignas(64) int64_t off[kTile];
    pixel_offsets(f0, t.npix, wo, row_step, col_step, off);
    t.x = image, t.pix_off = off;
    return fn(t);
  }
  const int64_t npix = t.npix;
  int32_t* const cnt = t.cnt;
  for (int64_t p = 0; p < npix;) {  // one call per output-row segment
    const int64_t yo = (f0 + p) / wo, xo = (f0 + p) % wo;
    t.npix = std::min(npix - p, wo - xo);
    t.x = image + yo * row_step + xo * col_step;
    t.cnt = cnt + p * t.cnt_stride;
    fn(t);
    p += t.npix;
  }
}

}  // namespace rep_deploy::core
