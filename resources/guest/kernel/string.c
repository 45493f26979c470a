// Memory and string routines.
#include "types.h"
#include "defs.h"

void*
memset(void *dst, int c, uint n)
{
  uchar *d = dst;
  if ((((uint)d | n) & 31) == 0) {
    // whole 32-byte blocks (a page being cleared): eight stores per turn of the
    // loop, as a tuned bzero does, so clearing a page costs about as many
    // instructions natively as the monitor's own zeroing loop does
    uint w = (uchar)c * 0x01010101u;
    for (uint *p = dst; n; n -= 32, p += 8) {
      p[0] = w; p[1] = w; p[2] = w; p[3] = w;
      p[4] = w; p[5] = w; p[6] = w; p[7] = w;
    }
    return dst;
  }
  if ((((uint)d | n) & 3) == 0) {
    uint w = (uchar)c * 0x01010101u;
    for (uint *p = dst; n; n -= 4)
      *p++ = w;
    return dst;
  }
  while (n-- > 0)
    *d++ = c;
  return dst;
}

int
memcmp(const void *v1, const void *v2, uint n)
{
  const uchar *s1 = v1, *s2 = v2;
  for (; n > 0; n--, s1++, s2++)
    if (*s1 != *s2)
      return *s1 - *s2;
  return 0;
}

void*
memmove(void *dst, const void *src, uint n)
{
  const uchar *s = src;
  uchar *d = dst;
  if (s < d && s + n > d) {
    s += n;
    d += n;
    while (n-- > 0)
      *--d = *--s;
    return dst;
  }
  if ((((uint)s | (uint)d | n) & 3) == 0) {
    const uint *ws = src;
    uint *wd = dst;
    for (; n; n -= 4)
      *wd++ = *ws++;
    return dst;
  }
  while (n-- > 0)
    *d++ = *s++;
  return dst;
}

void*
memcpy(void *dst, const void *src, uint n)
{
  return memmove(dst, src, n);
}

int
strncmp(const char *p, const char *q, uint n)
{
  while (n > 0 && *p && *p == *q)
    n--, p++, q++;
  if (n == 0)
    return 0;
  return (uchar)*p - (uchar)*q;
}

char*
strncpy(char *s, const char *t, int n)
{
  char *os = s;
  while (n-- > 0 && (*s++ = *t++) != 0)
    ;
  while (n-- > 0)
    *s++ = 0;
  return os;
}

// Like strncpy but always NUL-terminates.
char*
safestrcpy(char *s, const char *t, int n)
{
  char *os = s;
  if (n <= 0)
    return os;
  while (--n > 0 && (*s++ = *t++) != 0)
    ;
  *s = 0;
  return os;
}

int
strlen(const char *s)
{
  int n;
  for (n = 0; s[n]; n++)
    ;
  return n;
}
