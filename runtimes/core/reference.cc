#include "reference.h"

#include <vector>

namespace rep_deploy::core {

void reference_accumulator(const ConvShape& s, const float* x, const float* threshold,
                           const uint8_t* w_onnx, int32_t* acc) {
  const ConvAttrs& a = s.a;
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t oc = 0; oc < s.cout; ++oc) {
      const int64_t g = oc / s.cout_g;
      const uint8_t* wrow = w_onnx + oc * s.w_row_bytes;
      for (int64_t yo = 0; yo < s.ho; ++yo)
        for (int64_t xo = 0; xo < s.wo; ++xo) {
          int32_t sum = 0;
          for (int64_t c = 0; c < s.cin_g; ++c)
            for (int64_t i = 0; i < a.kh; ++i)
              for (int64_t j = 0; j < a.kw; ++j) {
                const int64_t e = (c * a.kh + i) * a.kw + j;  // weight index, C order
                const int32_t wv = ((wrow[e >> 3] >> (e & 7)) & 1) ? 1 : -1;
                const int64_t iy = yo * a.sh - a.pt + i * a.dh;
                const int64_t ix = xo * a.sw - a.pl + j * a.dw;
                int32_t xv;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) {
                  xv = int32_t(a.pad_value);
                } else {
                  const int64_t ci = g * s.cin_g + c;
                  const float v = x[((n * s.cin + ci) * s.h + iy) * s.w + ix];
                  const float t = threshold ? threshold[ci] : 0.0f;
                  xv = v >= t ? 1 : -1;  // sign(0) = +1, NaN -> -1 as numpy's x >= t
                }
                sum += xv * wv;
              }
          acc[((n * s.cout + oc) * s.ho + yo) * s.wo + xo] = sum;
        }
    }
}

void reference_output(const ConvShape& s, const int32_t* acc, const OutputTransform& t, float* y) {
  const int64_t cy = s.cout * t.repeats, plane = s.ho * s.wo;
  const int64_t m = s.cout / t.splits, cr = t.residual_channels ? t.residual_channels : cy;
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t j = 0; j < cy; ++j) {
      const int64_t oc = j / (m * t.repeats) * m + j % m;  // j = split*m*repeats + r*m + i
      const int32_t* src = acc + (n * s.cout + oc) * plane;
      const int64_t base = (n * cy + j) * plane;
      const float* res = t.residual && !t.pooled() ? t.residual + (n * cr + j % cr) * plane : nullptr;
      std::vector<float> pooled;  // the spec's order: window summed row-major from its first value
      if (t.residual && t.pooled()) {
        const float* src = t.residual + (n * cr + j % cr) * t.residual_h * t.residual_w;
        pooled.resize(size_t(plane));
        for (int64_t yo = 0; yo < s.ho; ++yo)
          for (int64_t xo = 0; xo < s.wo; ++xo) {
            float sum = 0.0f;
            for (int64_t dy = 0; dy < t.pool_h; ++dy)
              for (int64_t dx = 0; dx < t.pool_w; ++dx) {
                const float v = src[(yo * t.pool_h + dy) * t.residual_w + xo * t.pool_w + dx];
                sum = dy == 0 && dx == 0 ? v : sum + v;
              }
            pooled[size_t(yo * s.wo + xo)] = sum / static_cast<float>(t.pool_h * t.pool_w);
          }
        res = pooled.data();
      }
      for (int64_t p = 0; p < plane; ++p) {
        float v = static_cast<float>(src[p]) * t.mul[j];
        if (t.add) v = v + t.add[j];
        if (res) v = v + res[p];
        if (t.rprelu()) {
          float u = v + t.pre[j];
          u = u >= 0.0f ? u : u * t.slope[j];
          v = u + t.post[j];
        }
        y[base + p] = v;
      }
    }
}

void reference_pool_2x2(const float* v, int64_t planes, int64_t h, int64_t w, float* out) {
  const int64_t ho = h / 2, wo = w / 2;
  for (int64_t i = 0; i < planes; ++i)
    for (int64_t y = 0; y < ho; ++y)
      for (int64_t x = 0; x < wo; ++x) {
        const float* a = v + (i * h + 2 * y) * w + 2 * x;
        out[(i * ho + y) * wo + x] = (((a[0] + a[1]) + a[w]) + a[w + 1]) / 4.0f;
      }
}

void reference_signs(const float* v, int64_t planes, int64_t hw, const float* t, int64_t channels,
                     uint64_t* out) {
  const int64_t pw = plane_words(1, hw);
  for (int64_t i = 0; i < planes; ++i) {
    const float ti = t ? t[i % channels] : 0.0f;
    for (int64_t q = 0; q < pw; ++q) out[i * pw + q] = 0;
    for (int64_t p = 0; p < hw; ++p)
      out[i * pw + p / 64] |= uint64_t(v[i * hw + p] >= ti) << (p % 64);
  }
}

}  // namespace rep_deploy::core
