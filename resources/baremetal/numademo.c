// numademo: every CPU streams through memory on its own and other nodes, forever.
//
// The workbench's default program. Each CPU owns a region of REGION_BYTES on
// its own node and runs four phases per round, separated by barriers:
//
//   local      update its own region              (local misses)
//   neighbour  update the region of node i ^ 2^d  (remote misses, one hop,
//              d = round mod dimensions, so each round lights other links)
//   hotspot    everyone reads one node's region   (all misses go to one home)
//   scatter    pseudo-random lines on every node  (traffic everywhere)
//
// CPU 0 prints one line per phase. NODE_BYTES (memory per node) must match
// the machine; the workbench passes it. Nodes whose region lies above the
// kseg0 window (496 MiB) are folded onto the ones below it.

#include "libbare.h"

#ifndef NODE_BYTES
#define NODE_BYTES      (32u << 20)
#endif
#define REGION_OFFSET   (8u << 20)      // above the program in node 0
#define REGION_BYTES    (8u << 20)      // far bigger than the 1 MiB L2: every pass misses
#define STACK_OFFSET    (24u << 20)     // a CPU's stack top, on its own node
#define STRIDE          32              // bytes between touched words
#define KSEG0           0x80000000u
#define PHYS_LIMIT      0x1F000000u     // kseg0 cannot reach RAM above the devices

static unsigned ncpu;
static unsigned nreach;                 // nodes whose region kseg0 reaches
static unsigned dims;                   // hypercube dimensions of ncpu nodes

// Sense-reversing barrier.
static volatile int bar_count;
static volatile int bar_sense;

static volatile uint32_t *
region(unsigned node)
{
  node %= nreach;
  return (volatile uint32_t *)(KSEG0 + node * NODE_BYTES + REGION_OFFSET);
}

static uint32_t
count_reg(void)
{
  uint32_t c;

  __asm__ volatile("mfc0 %0, $9" : "=r"(c));
  return c;
}

void __attribute__((noinline))
barrier(void)
{
  int sense = !bar_sense;

  if (atomic_add(&bar_count, 1) == (int)ncpu) {
    bar_count = 0;
    __asm__ volatile("sync" ::: "memory");
    bar_sense = sense;
  } else {
    while (bar_sense != sense)
      ;
  }
}

// Read-modify-write every STRIDE bytes of a region, `passes` times.
uint32_t __attribute__((noinline))
stream_update(volatile uint32_t *p, unsigned passes)
{
  uint32_t sum = 0;

  for (unsigned pass = 0; pass < passes; pass++)
    for (unsigned i = 0; i < REGION_BYTES / 4; i += STRIDE / 4) {
      uint32_t v = p[i] + 1;
      p[i] = v;
      sum += v;
    }
  return sum;
}

uint32_t __attribute__((noinline))
stream_read(volatile uint32_t *p, unsigned passes)
{
  uint32_t sum = 0;

  for (unsigned pass = 0; pass < passes; pass++)
    for (unsigned i = 0; i < REGION_BYTES / 4; i += STRIDE / 4)
      sum += p[i];
  return sum;
}

// Touch `n` pseudo-random lines spread over every reachable node's region.
uint32_t __attribute__((noinline))
scatter(unsigned cpu, unsigned n)
{
  uint32_t x = 2463534242u ^ (cpu * 0x9E3779B9u), sum = 0;

  for (unsigned k = 0; k < n; k++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    volatile uint32_t *p = region(x % nreach);
    unsigned i = (x >> 8) % (REGION_BYTES / 4) & ~31u;
    if (k & 3)
      sum += p[i];
    else
      p[i] += 1;
  }
  return sum;
}

static void
report(unsigned round, const char *phase, uint32_t *t0)
{
  uint32_t now = count_reg();

  printf("round %4u  %-10s %8u kcycles\n", round, phase, (now - *t0) / 1000);
  *t0 = now;
}

static void
run_rounds(unsigned cpu)
{
  uint32_t t0 = count_reg();
  volatile uint32_t sink = 0;

  for (unsigned round = 0;; round++) {
    unsigned d = dims ? round % dims : 0;

    sink += stream_update(region(cpu), 2);
    barrier();
    if (cpu == 0)
      report(round, "local", &t0);

    sink += stream_update(region(cpu ^ (1u << d)), 2);
    barrier();
    if (cpu == 0)
      report(round, "neighbour", &t0);

    sink += stream_read(region(round % ncpu), 2);
    barrier();
    if (cpu == 0)
      report(round, "hotspot", &t0);

    sink += scatter(cpu + round * ncpu, 65536);
    barrier();
    if (cpu == 0)
      report(round, "scatter", &t0);
  }
}

void
secondary_main(unsigned cpu)
{
  run_rounds(cpu);
}

int
main(int cpu)
{
  ncpu = ncpus();
  if (ncpu < 1 || ncpu > MAXCPU)
    ncpu = 1;
  nreach = 0;
  while (nreach < ncpu && nreach * NODE_BYTES + REGION_OFFSET + REGION_BYTES <= PHYS_LIMIT)
    nreach++;
  while ((1u << dims) < ncpu)
    dims++;
  printf("numademo: %u CPUs, %u KiB per region, node memory %u MiB\n", ncpu,
         REGION_BYTES >> 10, NODE_BYTES >> 20);
  printf("phases: local, neighbour (one hop), hotspot, scatter\n");
  __asm__ volatile("sync" ::: "memory");
  for (unsigned c = 1; c < ncpu; c++)
    start_cpu(c, _secondary_start,
              (void *)(KSEG0 + (c % nreach) * NODE_BYTES + STACK_OFFSET - 0x10000u * c), c);
  run_rounds((unsigned)cpu);
  return 0;
}
