// The LceBconv2d oracle: a direct loop over lce.h's definition, one output at a time, on the int32
// words as they come (no repacking, no padded copy, no padding correction). Slow on purpose; the
// tests and REP_DEPLOY_KERNEL=reference use it.
#include <cstdint>
#include <cstring>

#include "lce.h"
#include "lce_geometry.h"

namespace rep_deploy::core::lce {

namespace {

int popcount32(uint32_t v) { return __builtin_popcount(v); }

// Bits of word q of a group that hold real channels (channel c = 32 q + b < cin_g).
uint32_t word_mask(int64_t q, int64_t cin_g) {
  const int64_t valid = cin_g - 32 * q;
  return valid >= 32 ? ~uint32_t(0) : (uint32_t(1) << valid) - 1;
}

}  // namespace

void bconv2d_reference(const BConv2DParams& p, const int32_t* input, const int32_t* filter,
                       const float* multiplier, const float* bias, const int32_t* thresholds,
                       void* output) {
  const Geometry g = make_geometry(p);
  const int64_t fw = p.filter_words;
  const ClampRange range = clamp_range(p.activation);
  const Int8Transform int8 = p.output == Output::kInt8 ? int8_transform(p, g, multiplier, bias) : Int8Transform{};
  float* out_f = static_cast<float*>(output);
  int8_t* out_q = static_cast<int8_t*>(output);
  int32_t* out_b = static_cast<int32_t*>(output);
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t yo = 0; yo < g.out_h; ++yo)
      for (int64_t xo = 0; xo < g.out_w; ++xo) {
        const int64_t pix = (n * g.out_h + yo) * g.out_w + xo;
        if (p.output == Output::kBitpacked)
          std::memset(out_b + pix * g.out_words, 0, size_t(g.out_words) * sizeof(int32_t));
        for (int64_t oc = 0; oc < p.channels_out; ++oc) {
          const int64_t grp = oc / g.cout_g;
          int64_t accum = 0, taps_counted = 0;
          for (int64_t i = 0; i < g.kh; ++i)
            for (int64_t j = 0; j < g.kw; ++j) {
              const int64_t iy = yo * p.stride_h - g.pad_top + i * p.dilation_h;
              const int64_t ix = xo * p.stride_w - g.pad_left + j * p.dilation_w;
              const bool inside = iy >= 0 && iy < p.in_h && ix >= 0 && ix < p.in_w;
              if (!inside && p.pad_value == 0) continue;  // zero padding: the tap contributes 0
              ++taps_counted;
              const int32_t* f = filter + ((oc * g.kh + i) * g.kw + j) * fw;
              const int32_t* x =
                  inside ? input + ((n * p.in_h + iy) * p.in_w + ix) * g.in_words + grp * fw : nullptr;
              for (int64_t q = 0; q < fw; ++q) {
                const uint32_t xv = x ? uint32_t(x[q]) : 0u;  // pad_value 1: +1, bit 0
                accum += popcount32((xv ^ uint32_t(f[q])) & word_mask(q, g.cin_g));
              }
            }
          const int64_t conv = taps_counted * g.cin_g - 2 * accum;
          if (p.output == Output::kInt8) {
            out_q[pix * p.channels_out + oc] = int8(accum, oc);  // no zero padding: K taps counted
          } else if (p.output == Output::kFloat) {
            const int64_t c = conv < range.lo ? range.lo : conv > range.hi ? range.hi : conv;
            const float v = static_cast<float>(c) * multiplier[oc];
            out_f[pix * p.channels_out + oc] = v + bias[oc];
          } else if (accum > thresholds[oc]) {
            out_b[pix * g.out_words + oc / 32] = int32_t(uint32_t(out_b[pix * g.out_words + oc / 32]) |
                                                         (uint32_t(1) << (oc % 32)));
          }
        }
      }
}

}  // namespace rep_deploy::core::lce
