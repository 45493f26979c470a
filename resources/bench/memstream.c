// Benchmark: streaming memory — STREAM's copy, scale, add and triad over
// three word arrays in .bss, several passes. Prints a checksum and exits 0.
//
// -DSCALE=n sets the array size: SCALE * 64 KiB per array (default 64,
// i.e. 4 MiB arrays).

#include "libbare.h"

#ifndef SCALE
#define SCALE 64
#endif

#define NWORDS (SCALE * 16384)
#define PASSES 5

// Arrays a whole power of two apart alias in every direct-mapped structure
// keyed by low address bits (caches, unicorn's soft TLB); a few pages of
// padding between them, as STREAM's OFFSET does, keeps the streams apart.
#define PAD_WORDS (3 * 1024 + 16)

static struct {
  uint32_t a[NWORDS], pad1[PAD_WORDS], b[NWORDS], pad2[PAD_WORDS], c[NWORDS];
} arrays;

static uint32_t *const a = arrays.a, *const b = arrays.b, *const c = arrays.c;

int
main(int cpu)
{
  (void)cpu;
  const uint32_t k = 3;

  for (uint32_t i = 0; i < NWORDS; i++)
    a[i] = i * 2654435761u;

  for (int pass = 0; pass < PASSES; pass++) {
    for (uint32_t i = 0; i < NWORDS; i++)      // copy
      c[i] = a[i];
    for (uint32_t i = 0; i < NWORDS; i++)      // scale
      b[i] = k * c[i];
    for (uint32_t i = 0; i < NWORDS; i++)      // add
      c[i] = a[i] + b[i];
    for (uint32_t i = 0; i < NWORDS; i++)      // triad
      a[i] = b[i] + k * c[i] + (uint32_t)pass;
  }

  uint32_t sum = 0;
  for (uint32_t i = 0; i < NWORDS; i++)
    sum = ((sum << 5) | (sum >> 27)) ^ (a[i] + 3 * b[i] + 5 * c[i]);
  printf("memstream checksum: %08x\n", sum);
  return 0;
}
