// Benchmark: calls and branches — recursive fib, a bytecode interpreter with
// a switch, calls through function pointers, and a generic quicksort with a
// comparator. Prints a checksum and exits 0.
//
// -DSCALE=n sets the amount of work (default 64; SCALE=1 is 1/64 of it).

#include "libbare.h"

#ifndef SCALE
#define SCALE 64
#endif

static uint32_t rng_state = 0x9E3779B9u;

static uint32_t
rng(void)
{
  uint32_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return rng_state = x;
}

// Recursive fib: nothing but calls, returns and a compare.
static uint32_t __attribute__((noinline))
fib(uint32_t n)
{
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

// A stack-machine interpreter: one switch dispatch per bytecode.
enum op { PUSH, ADD, SUB, MUL, DUP, SWAP, DROP, LOAD, STORE, JNZ, DEC, HALT };

struct insn {
  uint8_t op;
  int32_t arg;
};

static int32_t
interpret(const struct insn *code, int32_t *vars)
{
  int32_t stack[32];
  int sp = 0, pc = 0;

  for (;;) {
    const struct insn *in = &code[pc++];
    switch (in->op) {
    case PUSH: stack[sp++] = in->arg; break;
    case ADD: sp--; stack[sp - 1] += stack[sp]; break;
    case SUB: sp--; stack[sp - 1] -= stack[sp]; break;
    case MUL: sp--; stack[sp - 1] *= stack[sp]; break;
    case DUP: stack[sp] = stack[sp - 1]; sp++; break;
    case SWAP: { int32_t t = stack[sp - 1]; stack[sp - 1] = stack[sp - 2]; stack[sp - 2] = t; break; }
    case DROP: sp--; break;
    case LOAD: stack[sp++] = vars[in->arg]; break;
    case STORE: vars[in->arg] = stack[--sp]; break;
    case JNZ: if (stack[--sp]) pc = in->arg; break;
    case DEC: stack[sp - 1]--; break;
    case HALT: return sp ? stack[sp - 1] : 0;
    }
  }
}

// vars[0] = counter, vars[1] = accumulator: acc = acc * 3 + counter, counter times.
static const struct insn program[] = {
  { LOAD, 1 }, { PUSH, 3 }, { MUL, 0 }, { LOAD, 0 }, { ADD, 0 }, { STORE, 1 },  // 0..5
  { LOAD, 0 }, { DEC, 0 }, { DUP, 0 }, { STORE, 0 }, { JNZ, 0 },                // 6..10
  { LOAD, 1 }, { HALT, 0 },
};

// Function pointers: a table of small operations picked by data.
typedef uint32_t (*unary_fn)(uint32_t);

static uint32_t __attribute__((noinline)) op_inc(uint32_t x) { return x + 1; }
static uint32_t __attribute__((noinline)) op_dbl(uint32_t x) { return x << 1; }
static uint32_t __attribute__((noinline)) op_xor(uint32_t x) { return x ^ 0x5A5A5A5Au; }
static uint32_t __attribute__((noinline)) op_rot(uint32_t x) { return (x >> 7) | (x << 25); }
static uint32_t __attribute__((noinline)) op_neg(uint32_t x) { return 0 - x; }
static uint32_t __attribute__((noinline)) op_mul(uint32_t x) { return x * 2654435761u; }
static uint32_t __attribute__((noinline)) op_hlf(uint32_t x) { return x >> 1; }
static uint32_t __attribute__((noinline)) op_add(uint32_t x) { return x + 0x1234567u; }

static const unary_fn ops[8] = { op_inc, op_dbl, op_xor, op_rot, op_neg, op_mul, op_hlf, op_add };

// A generic quicksort over elements of any size, ordered by a comparator.
static void
swap_bytes(uint8_t *a, uint8_t *b, size_t size)
{
  while (size--) {
    uint8_t t = *a;
    *a++ = *b;
    *b++ = t;
  }
}

static void
sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
  uint8_t *a = base;
  while (n > 1) {
    // Middle element as pivot, moved to the front (Lomuto partition).
    swap_bytes(a, a + (n / 2) * size, size);
    size_t last = 0;
    for (size_t i = 1; i < n; i++)
      if (cmp(a + i * size, a) < 0)
        swap_bytes(a + ++last * size, a + i * size, size);
    swap_bytes(a, a + last * size, size);
    // Recurse into the smaller side, loop on the larger.
    if (last < n - last - 1) {
      sort(a, last, size, cmp);
      a += (last + 1) * size;
      n -= last + 1;
    } else {
      sort(a + (last + 1) * size, n - last - 1, size, cmp);
      n = last;
    }
  }
}

static int
cmp_u32(const void *pa, const void *pb)
{
  uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
  return (a > b) - (a < b);
}

#define NSORT (SCALE * 256)

static uint32_t sort_data[NSORT];

int
main(int cpu)
{
  (void)cpu;
  uint32_t sum = 0;

  // fib(20) is about 22,000 calls.
  for (int i = 0; i < SCALE; i++)
    sum += fib(20 + (i & 1));

  int32_t vars[2];
  for (int i = 0; i < SCALE * 4; i++) {
    vars[0] = 1000 + i;
    vars[1] = i;
    sum += (uint32_t)interpret(program, vars);
  }

  uint32_t x = 1;
  for (int i = 0; i < SCALE * 20000; i++) {
    x = ops[(x ^ (uint32_t)i) & 7](x);
    sum += x;
  }

  for (int i = 0; i < NSORT; i++)
    sort_data[i] = rng();
  sort(sort_data, NSORT, sizeof sort_data[0], cmp_u32);
  for (int i = 1; i < NSORT; i++)
    if (sort_data[i - 1] > sort_data[i]) {
      printf("callheavy: sort failed at %d\n", i);
      return 1;
    }
  for (int i = 0; i < NSORT; i += 7)
    sum = sum * 31 + sort_data[i];

  printf("callheavy checksum: %08x\n", sum);
  return 0;
}
