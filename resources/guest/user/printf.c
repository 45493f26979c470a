// Formatted output: printf, fprintf and snprintf.
//
// Output is gathered in a buffer and written with as few write calls as
// possible, so lines from concurrent processes do not interleave mid-line.

#include <stdarg.h>
#include "user.h"

struct out {
  int fd;           // -1: string only
  char *buf;
  int size;         // capacity of buf
  int len;          // bytes in buf
  int total;        // bytes produced
};

static void
flush(struct out *o)
{
  if(o->fd >= 0 && o->len > 0)
    write(o->fd, o->buf, o->len);
  if(o->fd >= 0)
    o->len = 0;
}

static void
putc(struct out *o, char c)
{
  o->total++;
  if(o->len + 1 >= o->size){
    if(o->fd < 0)
      return;       // snprintf truncates
    flush(o);
  }
  o->buf[o->len++] = c;
}

static void
pad(struct out *o, int n, char c)
{
  while(n-- > 0)
    putc(o, c);
}

// Print a number with width and flags.
static void
number(struct out *o, uint64 v, int base, int neg, int width, int zero, int left, int upper)
{
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char tmp[24];
  int n = 0, len;

  do {
    tmp[n++] = digits[v % base];
    v /= base;
  } while(v != 0);
  len = n + neg;
  if(!left && zero){
    if(neg)
      putc(o, '-');
    pad(o, width - len, '0');
  } else {
    if(!left)
      pad(o, width - len, ' ');
    if(neg)
      putc(o, '-');
  }
  while(n > 0)
    putc(o, tmp[--n]);
  if(left)
    pad(o, width - len, ' ');
}

static void
format(struct out *o, const char *fmt, va_list ap)
{
  const char *s;
  int width, zero, left, lng, len;
  long long sv;
  uint64 uv;

  for(; *fmt; fmt++){
    if(*fmt != '%'){
      putc(o, *fmt);
      continue;
    }
    fmt++;
    zero = left = 0;
    for(;; fmt++){
      if(*fmt == '0')
        zero = 1;
      else if(*fmt == '-')
        left = 1;
      else
        break;
    }
    width = 0;
    if(*fmt == '*'){
      width = va_arg(ap, int);
      fmt++;
    }
    while(*fmt >= '0' && *fmt <= '9')
      width = width * 10 + *fmt++ - '0';
    lng = 0;
    while(*fmt == 'l'){
      lng++;
      fmt++;
    }
    switch(*fmt){
    case 'd':
    case 'i':
      sv = lng >= 2 ? va_arg(ap, long long) : va_arg(ap, int);
      number(o, sv < 0 ? -(uint64)sv : (uint64)sv, 10, sv < 0, width, zero, left, 0);
      break;
    case 'u':
    case 'x':
    case 'X':
      uv = lng >= 2 ? va_arg(ap, uint64) : va_arg(ap, uint);
      number(o, uv, *fmt == 'u' ? 10 : 16, 0, width, zero, left, *fmt == 'X');
      break;
    case 'p':
      putc(o, '0');
      putc(o, 'x');
      number(o, (uint)va_arg(ap, void *), 16, 0, 8, 1, 0, 0);
      break;
    case 'c':
      if(!left)
        pad(o, width - 1, ' ');
      putc(o, va_arg(ap, int));
      if(left)
        pad(o, width - 1, ' ');
      break;
    case 's':
      s = va_arg(ap, const char *);
      if(s == 0)
        s = "(null)";
      len = strlen(s);
      if(!left)
        pad(o, width - len, ' ');
      while(*s)
        putc(o, *s++);
      if(left)
        pad(o, width - len, ' ');
      break;
    case '%':
      putc(o, '%');
      break;
    case 0:
      return;
    default:
      // Unknown conversion: show it as written.
      putc(o, '%');
      putc(o, *fmt);
      break;
    }
  }
}

static int
vfprintf(int fd, const char *fmt, va_list ap)
{
  char buf[256];
  struct out o = { fd, buf, sizeof buf, 0, 0 };

  format(&o, fmt, ap);
  flush(&o);
  return o.total;
}

int
printf(const char *fmt, ...)
{
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vfprintf(1, fmt, ap);
  va_end(ap);
  return n;
}

int
fprintf(int fd, const char *fmt, ...)
{
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vfprintf(fd, fmt, ap);
  va_end(ap);
  return n;
}

// Like C's snprintf: writes at most size-1 characters and a NUL, returns
// the length the whole output would have had.
int
snprintf(char *buf, int size, const char *fmt, ...)
{
  va_list ap;
  char dummy;
  struct out o = { -1, buf, size, 0, 0 };

  if(size <= 0){
    o.buf = &dummy;
    o.size = 1;
  }
  va_start(ap, fmt);
  format(&o, fmt, ap);
  va_end(ap);
  o.buf[o.len] = 0;
  return o.total;
}
