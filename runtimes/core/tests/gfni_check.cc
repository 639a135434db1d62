// Does this CPU (or emulator) execute VGF2P8AFFINEQB as the SDM defines it? The avx512vpopcnt
// path's bit transpose (transpose_bits_avx512_gfni) is built on it, and Bochs 2.7 (Debian 12's
// package; fixed in Bochs 2.8) returns the complement of every byte. Where this check fails,
// runtimes/ort/emulate_avx512.sh tests that path with another transpose (--transpose) and says so;
// with the Bochs 3 it builds, the check passes and the path runs its own transpose.
// Definition: result bit i of byte j of qword q = parity(A.byte[7 - i] & x.byte[j]) ^ imm8 bit i,
// A = qword q of the matrix operand; checked on random operands, imm8 0 (as the transpose uses it).
// Usage: gfni_check   (exit status 0 = as defined, 1 = not, 77 = no AVX-512 + GFNI here)
#include <immintrin.h>

#include <cstdint>
#include <cstdio>
#include <random>

namespace {

uint8_t affine_byte(uint64_t matrix, uint8_t x) {
  uint8_t r = 0;
  for (int i = 0; i < 8; ++i)
    r |= uint8_t(__builtin_parity(unsigned((matrix >> (8 * (7 - i))) & x)) << i);
  return r;
}

__attribute__((target("avx512f,avx512bw,gfni"))) void affine(const uint64_t* x, const uint64_t* a,
                                                             uint64_t* out) {
  const __m512i vx = _mm512_loadu_si512(x), va = _mm512_loadu_si512(a);
  _mm512_storeu_si512(out, _mm512_gf2p8affine_epi64_epi8(vx, va, 0));
}

}  // namespace

int main() {
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("gfni")) {
    std::printf("gfni_check: skipped, no AVX-512 + GFNI on this CPU\n");
    return 77;
  }
  std::mt19937_64 rng(7);
  int wrong = 0, complements = 0;
  constexpr int kRounds = 200;
  for (int round = 0; round < kRounds; ++round) {
    uint64_t x[8], a[8], got[8];
    for (int q = 0; q < 8; ++q) x[q] = rng(), a[q] = rng();
    affine(x, a, got);
    for (int q = 0; q < 8; ++q)
      for (int j = 0; j < 8; ++j) {
        const uint8_t want = affine_byte(a[q], uint8_t(x[q] >> (8 * j)));
        const uint8_t g = uint8_t(got[q] >> (8 * j));
        if (g == want) continue;
        if (wrong++ == 0)
          std::printf("gfni_check: first wrong byte: round %d qword %d byte %d: %02x, want %02x\n",
                      round, q, j, g, want);
        complements += g == uint8_t(~want);
      }
  }
  std::printf("gfni_check: VGF2P8AFFINEQB %s (%d of %d bytes wrong, %d of them the complement)\n",
              wrong ? "WRONG" : "as defined", wrong, kRounds * 64, complements);
  return wrong ? 1 : 0;
}
