// Demo: a self-checking tour of what the bare machine runs.
//
// Checksums, sorting, recursion, formatted printing and a parallel sum over
// every CPU the machine has. The output is the same for any number of CPUs;
// the exit code is the number of failed checks (0 on success).

#include "libbare.h"

static int failures;

static void
check(int ok, const char *what)
{
  if (!ok) {
    printf("FAIL: %s\n", what);
    failures++;
  }
}

// xorshift32: deterministic pseudo-random numbers.
static uint32_t rng_state = 2463534242u;

static uint32_t
rng(void)
{
  uint32_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return rng_state = x;
}

// Checksums.

#define CRC_BUF 16384

static uint32_t crc_table[256];
static uint8_t crc_buf[CRC_BUF];

static void
crc32_init(void)
{
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

static uint32_t
crc32(const uint8_t *p, size_t n)
{
  uint32_t c = 0xFFFFFFFFu;
  while (n--)
    c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
  return ~c;
}

// The same CRC one bit at a time: a second opinion on the table version.
static uint32_t
crc32_bitwise(const uint8_t *p, size_t n)
{
  uint32_t c = 0xFFFFFFFFu;
  while (n--) {
    c ^= *p++;
    for (int k = 0; k < 8; k++)
      c = (c >> 1) ^ (0xEDB88320u & (0 - (c & 1)));
  }
  return ~c;
}

static void
demo_checksums(void)
{
  crc32_init();
  uint32_t check_value = crc32((const uint8_t *)"123456789", 9);
  printf("crc32(\"123456789\") = %08x\n", check_value);
  check(check_value == 0xCBF43926u, "crc32 check value");

  for (int i = 0; i < CRC_BUF; i++)
    crc_buf[i] = (uint8_t)(rng() >> 24);
  uint32_t table = crc32(crc_buf, CRC_BUF);
  uint32_t bitwise = crc32_bitwise(crc_buf, CRC_BUF);
  printf("crc32(%d random bytes) = %08x\n", CRC_BUF, table);
  check(table == bitwise, "crc32 table and bitwise agree");
}

// Sorting.

#define NSORT 10000

static int sort_data[NSORT];

static void
swap(int *a, int *b)
{
  int t = *a;
  *a = *b;
  *b = t;
}

// Hoare-partition quicksort with median-of-three; insertion sort for short runs.
static void
quicksort(int *a, int lo, int hi)
{
  while (hi - lo > 16) {
    int mid = lo + (hi - lo) / 2;
    if (a[mid] < a[lo])
      swap(&a[mid], &a[lo]);
    if (a[hi] < a[lo])
      swap(&a[hi], &a[lo]);
    if (a[hi] < a[mid])
      swap(&a[hi], &a[mid]);
    int pivot = a[mid];
    int i = lo - 1, j = hi + 1;
    for (;;) {
      do
        i++;
      while (a[i] < pivot);
      do
        j--;
      while (a[j] > pivot);
      if (i >= j)
        break;
      swap(&a[i], &a[j]);
    }
    // Recurse into the smaller half so the stack stays shallow.
    if (j - lo < hi - j) {
      quicksort(a, lo, j);
      lo = j + 1;
    } else {
      quicksort(a, j + 1, hi);
      hi = j;
    }
  }
  for (int i = lo + 1; i <= hi; i++) {
    int v = a[i], k = i - 1;
    while (k >= lo && a[k] > v) {
      a[k + 1] = a[k];
      k--;
    }
    a[k + 1] = v;
  }
}

static void
demo_sort(void)
{
  uint32_t sum_before = 0, xor_before = 0;
  for (int i = 0; i < NSORT; i++) {
    sort_data[i] = (int)(rng() % 2000001) - 1000000;
    sum_before += (uint32_t)sort_data[i];
    xor_before ^= (uint32_t)sort_data[i];
  }
  quicksort(sort_data, 0, NSORT - 1);

  int sorted = 1;
  uint32_t sum_after = 0, xor_after = 0;
  for (int i = 0; i < NSORT; i++) {
    if (i > 0 && sort_data[i - 1] > sort_data[i])
      sorted = 0;
    sum_after += (uint32_t)sort_data[i];
    xor_after ^= (uint32_t)sort_data[i];
  }
  printf("quicksort of %d ints: min %d, median %d, max %d\n", NSORT, sort_data[0],
         sort_data[NSORT / 2], sort_data[NSORT - 1]);
  check(sorted, "quicksort result is ordered");
  check(sum_after == sum_before && xor_after == xor_before, "quicksort kept every element");
}

// Recursion.

static unsigned
ackermann(unsigned m, unsigned n)
{
  if (m == 0)
    return n + 1;
  if (n == 0)
    return ackermann(m - 1, 1);
  return ackermann(m - 1, ackermann(m, n - 1));
}

static unsigned
fib(unsigned n)
{
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

#define NDISKS 12

// Three pegs as stacks of disk sizes; every move is checked for legality.
static int peg[3][NDISKS];
static int peg_height[3];
static unsigned hanoi_moves;
static int hanoi_illegal;

static void
move_disk(int from, int to)
{
  int disk = peg[from][--peg_height[from]];
  if (peg_height[to] > 0 && peg[to][peg_height[to] - 1] < disk)
    hanoi_illegal = 1;
  peg[to][peg_height[to]++] = disk;
  hanoi_moves++;
}

static void
hanoi(int n, int from, int to, int via)
{
  if (n == 0)
    return;
  hanoi(n - 1, from, via, to);
  move_disk(from, to);
  hanoi(n - 1, via, to, from);
}

static void
demo_recursion(void)
{
  unsigned a = ackermann(2, 3), b = ackermann(3, 4);
  printf("ackermann(2, 3) = %u, ackermann(3, 4) = %u\n", a, b);
  check(a == 9 && b == 125, "ackermann");

  unsigned f = fib(24);
  printf("fib(24) = %u\n", f);
  check(f == 46368, "fib");

  for (int i = 0; i < NDISKS; i++)
    peg[0][i] = NDISKS - i;
  peg_height[0] = NDISKS;
  hanoi(NDISKS, 0, 2, 1);
  printf("towers of hanoi, %d disks: %u moves\n", NDISKS, hanoi_moves);
  check(hanoi_moves == (1u << NDISKS) - 1, "hanoi move count");
  check(!hanoi_illegal && peg_height[2] == NDISKS, "hanoi moves were legal and complete");
}

// Formatted printing: a table exercising widths, padding and sizes.

static void
demo_printing(void)
{
  static const int values[] = { 1, 7, -42, 255, 1000, 40000 };

  printf("%-8s|%10s|%14s|%10s|%6s\n", "n", "n*n", "n*n*n", "hex", "pad");
  printf("--------+----------+--------------+----------+------\n");
  for (unsigned i = 0; i < sizeof values / sizeof values[0]; i++) {
    int n = values[i];
    long long cube = (long long)n * n * n;
    printf("%-8d|%10d|%14lld|0x%08X|%06d\n", n, n * n, cube, (unsigned)n, n);
  }
  printf("char '%c', string [%s] [%-6s] [%6s], %u%%\n", 'x', "disco", "left", "right", 100u);
}

// Parallel sum: every CPU adds up its share of an array.

#define NSUM 100000

static int sum_array[NSUM];
static volatile int sum_total;
static volatile int sum_done;
static unsigned sum_workers;
static uint8_t stacks[MAXCPU][4096] __attribute__((aligned(16)));

static int
partial_sum(unsigned cpu)
{
  unsigned lo = (unsigned)((uint64_t)NSUM * cpu / sum_workers);
  unsigned hi = (unsigned)((uint64_t)NSUM * (cpu + 1) / sum_workers);
  int s = 0;
  for (unsigned i = lo; i < hi; i++)
    s += sum_array[i];
  return s;
}

void
secondary_main(unsigned cpu)
{
  atomic_add(&sum_total, partial_sum(cpu));
  atomic_add(&sum_done, 1);
}

static void
demo_parallel(void)
{
  int serial = 0;
  for (int i = 0; i < NSUM; i++) {
    sum_array[i] = (int)((i * 7u + 3) % 1000);
    serial += sum_array[i];
  }

  sum_workers = ncpus();
  if (sum_workers < 1 || sum_workers > MAXCPU)
    sum_workers = 1;
  // The array and the counters are in place before any other CPU runs.
  __asm__ volatile("sync" ::: "memory");
  for (unsigned c = 1; c < sum_workers; c++)
    start_cpu(c, _secondary_start, &stacks[c][sizeof stacks[c]], c);

  secondary_main(0);
  while (sum_done < (int)sum_workers)
    ;

  printf("parallel sum of %d elements = %d\n", NSUM, sum_total);
  check(sum_total == serial, "parallel sum equals the serial sum");
}

int
main(int cpu)
{
  (void)cpu;
  printf("Disco Workbench demo\n");
  demo_checksums();
  demo_sort();
  demo_recursion();
  demo_printing();
  demo_parallel();
  if (failures)
    printf("demo: %d check(s) FAILED\n", failures);
  else
    printf("demo: all checks passed\n");
  return failures;
}
