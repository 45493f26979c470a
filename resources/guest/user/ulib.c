// The small C library: errno, strings, memory, numbers, line input.

#include "user.h"

int errno;

// usys.S jumps here with the negative result of a failed system call.
int
__syscall_error(int r)
{
  errno = -r;
  return -1;
}

const char *
strerror(int err)
{
  switch(err){
  case EPERM: return "operation not permitted";
  case ENOENT: return "no such file or directory";
  case ESRCH: return "no such process";
  case EINTR: return "interrupted";
  case EIO: return "i/o error";
  case E2BIG: return "message too long";
  case EBADF: return "bad file descriptor";
  case ECHILD: return "no child processes";
  case EAGAIN: return "try again";
  case ENOMEM: return "out of memory";
  case EFAULT: return "bad address";
  case EEXIST: return "file exists";
  case ENODEV: return "no such device";
  case ENOTDIR: return "not a directory";
  case EISDIR: return "is a directory";
  case EINVAL: return "invalid argument";
  case EMFILE: return "too many open files";
  case ENOSPC: return "no space left on device";
  case EPIPE: return "broken pipe";
  case ENAMETOOLONG: return "name too long";
  case EHOSTUNREACH: return "no such link address";
  }
  return "unknown error";
}

int
stat(const char *path, struct stat *st)
{
  int fd, r;

  fd = open(path, O_RDONLY);
  if(fd < 0)
    return -1;
  r = fstat(fd, st);
  close(fd);
  return r;
}

char *
strcpy(char *dst, const char *src)
{
  char *d = dst;

  while((*d++ = *src++) != 0)
    ;
  return dst;
}

char *
strncpy(char *dst, const char *src, int n)
{
  int i;

  for(i = 0; i < n && src[i]; i++)
    dst[i] = src[i];
  for(; i < n; i++)
    dst[i] = 0;
  return dst;
}

char *
strcat(char *dst, const char *src)
{
  strcpy(dst + strlen(dst), src);
  return dst;
}

int
strcmp(const char *a, const char *b)
{
  while(*a && *a == *b)
    a++, b++;
  return (uchar)*a - (uchar)*b;
}

int
strncmp(const char *a, const char *b, int n)
{
  for(; n > 0; n--, a++, b++){
    if(*a != *b)
      return (uchar)*a - (uchar)*b;
    if(*a == 0)
      break;
  }
  return 0;
}

int
strlen(const char *s)
{
  int n = 0;

  while(s[n])
    n++;
  return n;
}

char *
strchr(const char *s, int c)
{
  for(; *s; s++)
    if(*s == (char)c)
      return (char *)s;
  return c == 0 ? (char *)s : 0;
}

char *
strstr(const char *hay, const char *needle)
{
  int n = strlen(needle);

  for(; *hay; hay++)
    if(strncmp(hay, needle, n) == 0)
      return (char *)hay;
  return n == 0 ? (char *)hay : 0;
}

void *
memset(void *dst, int c, size_t n)
{
  uchar *d = dst;
  uint w;

  // Word stores once aligned: workloads clear megabytes.
  while(n > 0 && ((uint)d & 3)){
    *d++ = c;
    n--;
  }
  w = (uchar)c * 0x01010101u;
  for(; n >= 4; n -= 4, d += 4)
    *(uint *)d = w;
  while(n-- > 0)
    *d++ = c;
  return dst;
}

void *
memmove(void *dst, const void *src, size_t n)
{
  uchar *d = dst;
  const uchar *s = src;

  if(s < d && s + n > d){
    // Overlapping with the source below: copy backwards.
    d += n;
    s += n;
    while(n-- > 0)
      *--d = *--s;
    return dst;
  }
  if((((uint)d | (uint)s) & 3) == 0){
    for(; n >= 4; n -= 4, d += 4, s += 4)
      *(uint *)d = *(const uint *)s;
  }
  while(n-- > 0)
    *d++ = *s++;
  return dst;
}

void *
memcpy(void *dst, const void *src, size_t n)
{
  return memmove(dst, src, n);
}

int
memcmp(const void *a, const void *b, size_t n)
{
  const uchar *p = a, *q = b;

  for(; n > 0; n--, p++, q++)
    if(*p != *q)
      return *p - *q;
  return 0;
}

int
isspace(int c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int
isdigit(int c)
{
  return c >= '0' && c <= '9';
}

int
isalpha(int c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

long
strtol(const char *s, char **end, int base)
{
  long v = 0;
  int neg = 0, d;

  while(isspace(*s))
    s++;
  if(*s == '-' || *s == '+')
    neg = *s++ == '-';
  if((base == 0 || base == 16) && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')){
    s += 2;
    base = 16;
  } else if(base == 0)
    base = s[0] == '0' ? 8 : 10;
  for(;; s++){
    if(*s >= '0' && *s <= '9')
      d = *s - '0';
    else if(*s >= 'a' && *s <= 'z')
      d = *s - 'a' + 10;
    else if(*s >= 'A' && *s <= 'Z')
      d = *s - 'A' + 10;
    else
      break;
    if(d >= base)
      break;
    v = v * base + d;
  }
  if(end)
    *end = (char *)s;
  return neg ? -v : v;
}

int
atoi(const char *s)
{
  return strtol(s, 0, 10);
}

// Read a line from fd into buf (keeping the newline), at most max-1 bytes.
// Returns the length, 0 at end of input. One byte per read, so input meant
// for the next program stays in the pipe or console.
int
readline(int fd, char *buf, int max)
{
  int i;
  char c;

  for(i = 0; i + 1 < max; ){
    if(read(fd, &c, 1) < 1)
      break;
    buf[i++] = c;
    if(c == '\n' || c == '\r')
      break;
  }
  buf[i] = 0;
  return i;
}

char *
gets(char *buf, int max)
{
  readline(0, buf, max);
  return buf;
}

// FNV-1a: the workloads' checksum.
uint32
fnv1a(uint32 h, const void *buf, int n)
{
  const uchar *p = buf;

  while(n-- > 0){
    h ^= *p++;
    h *= 16777619u;
  }
  return h;
}
