// engineering: the paper's Engineering workload, long-running simulators
// over a large working set.
//
//   engineering N
//
// Two processes run side by side, as the paper ran Verilog and machine
// simulations together: a gate-level logic simulator over a 128K-gate
// netlist stepped for N cycles, and a memory-system simulator that runs a
// synthetic reference stream against a simulated 2 MiB memory and a
// set-associative cache. Together they touch about 4 MiB, so the TLB
// misses often. Each sends its checksum back through its own pipe; the
// parent combines them in a fixed order.

#include "user.h"

#define NGATES   (128 * 1024)
#define NINPUTS  256           // primary inputs, driven from an LFSR
#define MEMWORDS (512 * 1024)  // simulated memory: 2 MiB
#define NSETS    2048          // simulated cache: 2048 sets x 4 ways
#define NWAYS    4
#define REFS     (64 * 1024)   // memory references per cycle

enum { G_AND, G_OR, G_XOR, G_NAND, G_NOR, G_DFF };

static void *
alloc(uint bytes)
{
  char *p = sbrk(bytes);

  if(p == (char *)-1){
    fprintf(2, "engineering: out of memory (%u bytes)\n", bytes);
    exit(1);
  }
  memset(p, 0, bytes);
  return p;
}

// Gates are in topological order: each combinational gate reads gates with
// smaller indices; flip-flops (G_DFF) read any gate's value from the
// previous cycle, which closes the feedback loops.
static uint
logicsim(int cycles)
{
  uint *in0 = alloc(NGATES * 4), *in1 = alloc(NGATES * 4);
  uchar *op = alloc(NGATES), *val = alloc(NGATES), *prev = alloc(NGATES);
  uint lfsr = 0xace1u, sum = FNV_INIT, toggles;
  int g, c, a, b, v;

  srand(1997);
  for(g = NINPUTS; g < NGATES; g++){
    op[g] = rand() % 16 == 0 ? G_DFF : rand() % 5;
    // Mostly local wiring, sometimes far: like a real netlist.
    in0[g] = g - 1 - rand() % (g < 64 ? g : 64);
    in1[g] = rand() % 8 == 0 ? rand() % g : g - 1 - rand() % (g < 16 ? g : 16);
    if(op[g] == G_DFF)
      in0[g] = rand() % NGATES;
  }
  for(c = 0; c < cycles; c++){
    memmove(prev, val, NGATES);
    for(g = 0; g < NINPUTS; g++){
      lfsr = (lfsr >> 1) ^ (-(lfsr & 1) & 0xb400u);
      val[g] = lfsr & 1;
    }
    toggles = 0;
    for(g = NINPUTS; g < NGATES; g++){
      a = val[in0[g]];
      b = val[in1[g]];
      switch(op[g]){
      case G_AND:  v = a & b; break;
      case G_OR:   v = a | b; break;
      case G_XOR:  v = a ^ b; break;
      case G_NAND: v = !(a & b); break;
      case G_NOR:  v = !(a | b); break;
      default:     v = prev[in0[g]]; break;
      }
      toggles += v != prev[g];
      val[g] = v;
    }
    sum = fnv1a(sum, &toggles, 4);
    sum = fnv1a(sum, val + NGATES - 64, 64);
  }
  return sum;
}

// A 4-way set-associative write-back cache with LRU, in front of a
// simulated memory that the reference stream really reads and writes.
static uint
memsim(int cycles)
{
  uint *mem = alloc(MEMWORDS * 4);
  uint *tags = alloc(NSETS * NWAYS * 4);
  uint *age = alloc(NSETS * NWAYS * 4);
  uint hits = 0, misses = 0, writebacks = 0, clock = 0, sum = FNV_INIT;
  uint addr, line, set, w, victim, stride = 1, seq = 0;
  int c, r, i;

  for(i = 0; i < MEMWORDS; i++)
    mem[i] = i * 2654435761u;
  for(i = 0; i < NSETS * NWAYS; i++)
    tags[i] = ~0u;
  srand(1997 * 3);
  for(c = 0; c < cycles; c++){
    for(r = 0; r < REFS; r++){
      // A mix of strided sweeps and random references.
      if(rand() % 4 == 0){
        addr = rand() % MEMWORDS;
      } else {
        seq = (seq + stride) % MEMWORDS;
        addr = seq;
        if(r % 4096 == 0)
          stride = 1 + rand() % 17;
      }
      line = addr / 8;          // 32-byte lines
      set = line % NSETS;
      clock++;
      victim = 0;
      for(w = 0; w < NWAYS; w++){
        if(tags[set * NWAYS + w] == line)
          break;
        if(age[set * NWAYS + w] < age[set * NWAYS + victim])
          victim = w;
      }
      if(w < NWAYS){
        hits++;
      } else {
        misses++;
        if(tags[set * NWAYS + victim] != ~0u && (tags[set * NWAYS + victim] & 1))
          writebacks++;
        tags[set * NWAYS + victim] = line;
        w = victim;
      }
      age[set * NWAYS + w] = clock;
      // Every third reference is a store.
      if(r % 3 == 0)
        mem[addr] = mem[addr] * 31 + r;
      else
        sum += mem[addr];
    }
    sum = fnv1a(sum, &hits, 4);
    sum = fnv1a(sum, &misses, 4);
    sum = fnv1a(sum, &writebacks, 4);
  }
  return fnv1a(sum, mem + (sum % (MEMWORDS - 256)), 1024);
}

int
main(int argc, char *argv[])
{
  int n, i, pid, fds[2][2], status;
  uint results[2], sum = FNV_INIT;

  n = argc > 1 ? atoi(argv[1]) : 4;
  if(n < 1 || n > 100000){
    fprintf(2, "usage: engineering N (1 <= N cycles <= 100000)\n");
    exit(2);
  }
  for(i = 0; i < 2; i++){
    if(pipe(fds[i]) < 0){
      fprintf(2, "engineering: pipe: %s\n", strerror(errno));
      exit(1);
    }
    pid = fork();
    if(pid < 0){
      fprintf(2, "engineering: fork: %s\n", strerror(errno));
      exit(1);
    }
    if(pid == 0){
      close(fds[i][0]);
      results[i] = i == 0 ? logicsim(n) : memsim(n);
      write(fds[i][1], &results[i], 4);
      exit(0);
    }
    close(fds[i][1]);
  }
  for(i = 0; i < 2; i++){
    if(read(fds[i][0], &results[i], 4) != 4){
      fprintf(2, "engineering: simulator %d failed\n", i);
      exit(1);
    }
    close(fds[i][0]);
    sum = fnv1a(sum, &results[i], 4);
  }
  for(i = 0; i < 2; i++)
    wait(&status);
  printf("engineering %d: checksum 0x%08x\n", n, sum);
  exit(0);
}
