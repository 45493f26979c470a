// A small deterministic pseudo-random generator (xorshift32), the same on
// every run and every machine, so the workloads' checksums are fixed.

#include "user.h"

static uint state = 2463534242u;

void
srand(uint seed)
{
  state = seed ? seed : 2463534242u;
}

int
rand(void)
{
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return state & RAND_MAX;
}
