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

static int
intext(uint a)
{
  return a >= (uint)_text_start && a < (uint)_etext && (a & 3) == 0;
}

// Walk the kernel stack from (pc, sp): scan back from pc to the function's
// "addiu sp, sp, -N", find "sw ra, off(sp)" after it, and step to the caller.
// ra is the return address to use if the function saved none (a leaf).
// Prints one return address per line; the host symbolises them (disco boot).
static void
backtrace(uint pc, uint sp, uint ra)
{
  uint lo = sp & ~(KSTACKSIZE - 1), hi = lo + KSTACKSIZE;
  for (int depth = 0; depth < 16 && intext(pc) && sp >= lo && sp < hi; depth++) {
    uint *p = (uint *)pc;
    int frame = 0, raoff = -1;
    for (int k = 0; k < 4096 && (uint)p >= (uint)_text_start; k++, p--) {
      if ((*p >> 16) == 0x27bd && (short)(*p & 0xffff) < 0) {  // addiu sp, sp, -N
        frame = -(short)(*p & 0xffff);
        break;
      }
    }
    if (frame == 0)
      break;
    for (uint *q = p + 1; q < p + 24 && (uint)q < pc; q++) {
      if ((*q >> 16) == 0xafbf) {  // sw ra, off(sp)
        raoff = (short)(*q & 0xffff);
        break;
      }
    }
    uint next = raoff >= 0 ? *(uint *)(sp + raoff) : ra;
    // A thread's first function "returns" to its own entry (swtch set ra).
    if (!intext(next) || next == (uint)p)
      break;
    printf("  %p\n", next);
    sp += frame;
    pc = next - 8;
    ra = 0;
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
  uint sp, pc;
  asm volatile("move %0, $sp; bal 1f; nop; 1: move %1, $ra" : "=r"(sp), "=r"(pc) :: "ra");
  hal_intr_off();
  pr.locking = 0;
  printf("panic: %s\ncpu %d sp %p\n", s, hal_cpuid(), sp);
  printf("backtrace:\n");
  backtrace(pc, sp, 0);
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
  printf("backtrace:\n  %p\n", tf->epc + 8);  // the faulting function itself
  backtrace(tf->epc, tf->regs[29], tf->regs[31]);
  halt(0x71);
}
