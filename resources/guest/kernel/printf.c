// Formatted console output, and panic.
#include <stdarg.h>
#include "types.h"
#include "param.h"
#include "spinlock.h"
#include "proc.h"
#include "hal.h"
#include "defs.h"

volatile int panicked = 0;

static struct {
  struct spinlock lock;
  int locking;
} pr;

static char digits[] = "0123456789abcdef";

static void
printint(uint x, int base, int sign, int width, int zero)
{
  char buf[16];
  int i = 0, neg = 0;
  if (sign && (int)x < 0) {
    neg = 1;
    x = -(int)x;
  }
  do {
    buf[i++] = digits[x % base];
  } while ((x /= base) != 0);
  if (neg)
    buf[i++] = '-';
  while (i < width && i < (int)sizeof(buf))
    buf[i++] = zero ? '0' : ' ';
  while (--i >= 0)
    consputc(buf[i]);
}

static void
vprintf(char *fmt, va_list ap)
{
  for (int i = 0; fmt[i]; i++) {
    int c = fmt[i] & 0xff;
    if (c != '%') {
      consputc(c);
      continue;
    }
    int zero = 0, width = 0;
    c = fmt[++i] & 0xff;
    if (c == '0') {
      zero = 1;
      c = fmt[++i] & 0xff;
    }
    while (c >= '0' && c <= '9') {
      width = width * 10 + c - '0';
      c = fmt[++i] & 0xff;
    }
    if (c == 0)
      break;
    switch (c) {
    case 'd': printint(va_arg(ap, int), 10, 1, width, zero); break;
    case 'u': printint(va_arg(ap, uint), 10, 0, width, zero); break;
    case 'x': printint(va_arg(ap, uint), 16, 0, width, zero); break;
    case 'p': consputc('0'); consputc('x'); printint(va_arg(ap, uint), 16, 0, 8, 1); break;
    case 'c': consputc(va_arg(ap, int)); break;
    case 's': {
      char *s = va_arg(ap, char*);
      if (s == 0)
        s = "(null)";
      for (; *s; s++)
        consputc(*s);
      break;
    }
    case '%': consputc('%'); break;
    default: consputc('%'); consputc(c); break;
    }
  }
}

void
printf(char *fmt, ...)
{
  va_list ap;
  int locking = pr.locking;
  if (locking)
    acquire(&pr.lock);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  if (locking)
    release(&pr.lock);
}

void
printfinit(void)
{
  initlock(&pr.lock, "pr");
  pr.locking = 1;
}

extern char _text_start[], _etext[];

// Print return-address candidates: words on the kernel stack that point into
// kernel text just after a call. The host symbolises them (disco boot).
static void
backtrace(uint sp)
{
  uint lo = sp & ~(KSTACKSIZE - 1);
  uint hi = lo + KSTACKSIZE;
  int n = 0;
  printf("backtrace:\n");
  for (uint a = sp; a < hi && n < 16; a += 4) {
    uint w = *(uint *)a;
    if (w >= (uint)_text_start + 8 && w < (uint)_etext && (w & 3) == 0) {
      uint call = *(uint *)(w - 8);
      uint op = call >> 26;
      // jal, or jalr (SPECIAL funct 9): the word is a return address.
      if (op == 3 || (op == 0 && (call & 0x3f) == 9)) {
        printf("  %p\n", w);
        n++;
      }
    }
  }
}

static void __attribute__((noreturn))
halt(uint code)
{
  printf("panic: halting (exit code 0x%x)\n", code);
  panicked = 1;
  hal_poweroff(code);
}

void
panic(char *s)
{
  uint sp, ra;
  asm volatile("move %0, $sp; move %1, $ra" : "=r"(sp), "=r"(ra));
  hal_intr_off();
  pr.locking = 0;
  printf("panic: %s\ncpu %d ra %p sp %p\n", s, hal_cpuid(), ra, sp);
  backtrace(sp);
  halt(0x70);
}

static char *regnames[32] = {
  "zero", "at", "v0", "v1", "a0", "a1", "a2", "a3",
  "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7",
  "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7",
  "t8", "t9", "k0", "k1", "gp", "sp", "fp", "ra",
};

// An exception the kernel cannot handle: print the cause and every register.
void
panic_trap(char *s, struct trapframe *tf)
{
  hal_intr_off();
  pr.locking = 0;
  printf("panic: %s\ncpu %d epc %p cause %p status %p badvaddr %p\n", s, hal_cpuid(),
         tf->epc, tf->cause, tf->status, tf->badvaddr);
  for (int i = 0; i < 32; i += 4)
    printf("%4s %p  %4s %p  %4s %p  %4s %p\n", regnames[i], tf->regs[i], regnames[i + 1],
           tf->regs[i + 1], regnames[i + 2], tf->regs[i + 2], regnames[i + 3], tf->regs[i + 3]);
  printf("  pc %p\n", tf->epc);
  backtrace(tf->regs[29]);
  halt(0x71);
}
