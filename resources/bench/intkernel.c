// Benchmark: integer arithmetic — hashing and mixing loops, multiply and
// divide, shifts and rotates. Prints a checksum and exits 0.
//
// -DSCALE=n sets the amount of work (default 64; SCALE=1 is 1/64 of it).

#include "libbare.h"

#ifndef SCALE
#define SCALE 64
#endif

#define ROUNDS (SCALE * 16384)

// A 32-bit finaliser in the style of MurmurHash3's fmix32.
static inline uint32_t
mix32(uint32_t x)
{
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

static inline uint32_t
rotl(uint32_t x, unsigned r)
{
  r &= 31;
  return r ? (x << r) | (x >> (32 - r)) : x;
}

// FNV-1a over the bytes of a word.
static inline uint32_t
fnv1a(uint32_t h, uint32_t w)
{
  for (int i = 0; i < 4; i++) {
    h ^= (w >> (8 * i)) & 0xFF;
    h *= 16777619u;
  }
  return h;
}

static uint32_t
gcd(uint32_t a, uint32_t b)
{
  while (b) {
    uint32_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// Integer square root by Newton's method: divides in a data-dependent loop.
static uint32_t
isqrt(uint32_t n)
{
  if (n < 2)
    return n;
  uint32_t x = n, y = (x + 1) / 2;
  while (y < x) {
    x = y;
    y = (x + n / x) / 2;
  }
  return x;
}

static unsigned
popcount(uint32_t x)
{
  x = x - ((x >> 1) & 0x55555555u);
  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
  x = (x + (x >> 4)) & 0x0F0F0F0Fu;
  return (x * 0x01010101u) >> 24;
}

int
main(int cpu)
{
  (void)cpu;
  uint32_t x = 0x12345678u, h = 2166136261u, acc = 0;
  uint64_t wide = 0;
  int32_t signed_acc = 0;

  for (uint32_t round = 0; round < ROUNDS; round++) {
    x = mix32(x + round);
    h = fnv1a(h, x);

    // Multiply: the high word of a 32x32 product (multu/mfhi).
    uint64_t p = (uint64_t)x * (h | 1);
    wide += p >> 29;

    // Divide, unsigned and signed, by varying divisors.
    uint32_t d = (round & 0xFF) + 1;
    acc += x / d + x % 97u;
    signed_acc += (int32_t)x / -7 + (int32_t)h % 13;

    // Shifts and rotates by data-dependent amounts.
    acc ^= rotl(h, x) + (x >> (round & 31)) + ((int32_t)h >> (x & 15));
    acc += popcount(x ^ h);

    if ((round & 15) == 0) {
      acc += gcd(x | 1, h | 1);
      acc += isqrt(x);
    }
  }

  uint32_t sum = mix32(acc ^ h) ^ (uint32_t)wide ^ (uint32_t)(wide >> 32) ^ (uint32_t)signed_acc;
  printf("intkernel checksum: %08x\n", sum);
  return 0;
}
