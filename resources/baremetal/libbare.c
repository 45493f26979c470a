// A tiny C runtime for bare-metal programs on the test machine.

#include "libbare.h"

#define REG(addr)       (*(volatile uint32_t *)(uintptr_t)(addr))

// Console.

int
putchar(int c)
{
  REG(CONSOLE_BASE) = (uint8_t)c;
  return (uint8_t)c;
}

int
getchar(void)
{
  return (int)REG(CONSOLE_BASE + 4);
}

int
puts(const char *s)
{
  while (*s)
    putchar(*s++);
  putchar('\n');
  return 0;
}

// Formatting: one conversion at a time into a small buffer, then padded.

struct spec {
  int width;
  int zero_pad;
  int left;
};

static int
emit(const struct spec *sp, const char *prefix, const char *body, int len)
{
  int plen = (int)strlen(prefix);
  int pad = sp->width - plen - len;
  int n = 0;

  if (!sp->left && !sp->zero_pad)
    for (; pad > 0; pad--, n++)
      putchar(' ');
  for (const char *p = prefix; *p; p++, n++)
    putchar(*p);
  if (sp->zero_pad && !sp->left)
    for (; pad > 0; pad--, n++)
      putchar('0');
  for (int i = 0; i < len; i++, n++)
    putchar(body[i]);
  for (; pad > 0; pad--, n++)
    putchar(' ');
  return n;
}

// Digits of v in base, most significant first; returns their count.
static int
utoa(char *buf, unsigned long long v, unsigned base, int upper)
{
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char tmp[24];
  int n = 0;

  do {
    // 32-bit values take the cheap path; 64-bit ones need compiler_rt.
    if (v <= 0xFFFFFFFFu) {
      uint32_t w = (uint32_t)v;
      tmp[n++] = digits[w % base];
      v = w / base;
    } else {
      tmp[n++] = digits[v % base];
      v /= base;
    }
  } while (v);
  for (int i = 0; i < n; i++)
    buf[i] = tmp[n - 1 - i];
  return n;
}

int
vprintf(const char *fmt, va_list ap)
{
  int n = 0;
  char buf[24];

  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      putchar(*fmt);
      n++;
      continue;
    }
    fmt++;

    struct spec sp = { 0, 0, 0 };
    for (;; fmt++) {
      if (*fmt == '0')
        sp.zero_pad = 1;
      else if (*fmt == '-')
        sp.left = 1;
      else
        break;
    }
    while (*fmt >= '0' && *fmt <= '9')
      sp.width = sp.width * 10 + (*fmt++ - '0');
    int longs = 0;
    while (*fmt == 'l') {
      longs++;
      fmt++;
    }

    unsigned long long u;
    long long s;
    int len;
    switch (*fmt) {
    case 'd':
    case 'i':
      s = longs >= 2 ? va_arg(ap, long long) : longs ? va_arg(ap, long) : va_arg(ap, int);
      // Negate in unsigned arithmetic so the most negative value survives.
      u = s < 0 ? 0 - (unsigned long long)s : (unsigned long long)s;
      len = utoa(buf, u, 10, 0);
      n += emit(&sp, s < 0 ? "-" : "", buf, len);
      break;
    case 'u':
    case 'x':
    case 'X':
      u = longs >= 2 ? va_arg(ap, unsigned long long)
          : longs ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
      len = utoa(buf, u, *fmt == 'u' ? 10 : 16, *fmt == 'X');
      n += emit(&sp, "", buf, len);
      break;
    case 'p':
      len = utoa(buf, (uintptr_t)va_arg(ap, void *), 16, 0);
      n += emit(&sp, "0x", buf, len);
      break;
    case 'c':
      buf[0] = (char)va_arg(ap, int);
      sp.zero_pad = 0;
      n += emit(&sp, "", buf, 1);
      break;
    case 's': {
      const char *str = va_arg(ap, const char *);
      if (!str)
        str = "(null)";
      sp.zero_pad = 0;
      n += emit(&sp, "", str, (int)strlen(str));
      break;
    }
    case '%':
      putchar('%');
      n++;
      break;
    case '\0':
      // A lone '%' at the end of the format: stop rather than read past it.
      return n;
    default:
      // Unknown conversion: print it as written so the mistake is visible.
      putchar('%');
      putchar(*fmt);
      n += 2;
      break;
    }
  }
  return n;
}

int
printf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vprintf(fmt, ap);
  va_end(ap);
  return n;
}

// Memory and strings. The compiler may call these itself (struct copies),
// and -fno-builtin keeps it from turning their loops back into calls.

void *
memcpy(void *dst, const void *src, size_t n)
{
  uint8_t *d = dst;
  const uint8_t *s = src;

  if ((((uintptr_t)d | (uintptr_t)s) & 3) == 0) {
    for (; n >= 4; n -= 4, d += 4, s += 4)
      *(uint32_t *)d = *(const uint32_t *)s;
  }
  while (n--)
    *d++ = *s++;
  return dst;
}

void *
memmove(void *dst, const void *src, size_t n)
{
  uint8_t *d = dst;
  const uint8_t *s = src;

  if (d <= s || d >= s + n)
    return memcpy(dst, src, n);
  while (n--)
    d[n] = s[n];
  return dst;
}

void *
memset(void *dst, int c, size_t n)
{
  uint8_t *d = dst;

  if (((uintptr_t)d & 3) == 0) {
    uint32_t w = (uint8_t)c * 0x01010101u;
    for (; n >= 4; n -= 4, d += 4)
      *(uint32_t *)d = w;
  }
  while (n--)
    *d++ = (uint8_t)c;
  return dst;
}

int
memcmp(const void *a, const void *b, size_t n)
{
  const uint8_t *p = a, *q = b;

  for (; n; n--, p++, q++)
    if (*p != *q)
      return *p - *q;
  return 0;
}

size_t
strlen(const char *s)
{
  size_t n = 0;

  while (s[n])
    n++;
  return n;
}

int
strcmp(const char *a, const char *b)
{
  while (*a && *a == *b)
    a++, b++;
  return (uint8_t)*a - (uint8_t)*b;
}

// Machine control.

void
exit(int code)
{
  REG(EXIT_BASE) = (uint32_t)code;
  for (;;)
    ;   // the machine has halted; never come back even if it has not
}

unsigned
cpu_id(void)
{
  unsigned ebase;

  __asm__ volatile("mfc0 %0, $15, 1" : "=r"(ebase));
  return ebase & 0x3ff;
}

unsigned
ncpus(void)
{
  return REG(START_BASE + 12);
}

// The start block holds one pending start at a time, so concurrent callers
// take turns.
static spinlock_t start_lock;

void
start_cpu(unsigned n, void (*fn_pc)(void), void *sp, unsigned arg)
{
  spin_lock(&start_lock);
  REG(START_BASE + 0) = (uint32_t)(uintptr_t)fn_pc;
  REG(START_BASE + 4) = (uint32_t)(uintptr_t)sp;
  REG(START_BASE + 8) = arg;
  REG(START_BASE + 12) = n;
  spin_unlock(&start_lock);
}

// Synchronisation. SC fails whenever another CPU touched the word since LL,
// so each loop retries until its read-modify-write went through whole.

void
spin_lock(spinlock_t *lock)
{
  int tmp;

  __asm__ volatile(
      ".set push\n"
      ".set noreorder\n"
      "1:  ll    %0, 0(%1)\n"
      "    bnez  %0, 1b\n"
      "    li    %0, 1\n"           // delay slot: the value to store
      "    sc    %0, 0(%1)\n"
      "    beqz  %0, 1b\n"
      "    nop\n"
      "    sync\n"                  // nothing in the critical section moves above
      ".set pop\n"
      : "=&r"(tmp)
      : "r"(lock)
      : "memory");
}

void
spin_unlock(spinlock_t *lock)
{
  // Everything written inside the critical section is visible before the release.
  __asm__ volatile("sync" ::: "memory");
  *lock = 0;
}

int
atomic_add(volatile int *p, int v)
{
  int old, sum;

  __asm__ volatile(
      ".set push\n"
      ".set noreorder\n"
      "1:  ll    %0, 0(%2)\n"
      "    addu  %1, %0, %3\n"
      "    sc    %1, 0(%2)\n"
      "    beqz  %1, 1b\n"
      "    nop\n"
      "    sync\n"
      ".set pop\n"
      : "=&r"(old), "=&r"(sum)
      : "r"(p), "r"(v)
      : "memory");
  return old + v;
}
