// net: copy a file to another VM over the virtual network (docs/guest-userland.md).
//
//   net addr              print this machine's link address
//   net send ADDR FILE    send FILE as one message to ADDR (0x0d15000N, or vmN)
//   net recv FILE         wait for a message and write it to FILE
//
// The data sits in page-aligned buffers, so whole pages travel by the
// monitor's page remapping instead of being copied. Both ends print the
// message's length and FNV-1a checksum.

#include "user.h"

#define LINK_BASE 0x0D150000u  // link address = LINK_BASE | VM id (docs/monitor-abi.md)
#define PGSIZE 4096

static void
die(const char *what, const char *arg)
{
  fprintf(2, "net: %s%s%s: %s\n", what, *what && arg ? " " : "", arg ? arg : "", strerror(errno));
  exit(1);
}

// n bytes starting on a page boundary, from the heap.
static char *
pagebuf(int n)
{
  uint cur = (uint)sbrk(0);
  uint pad = (PGSIZE - (cur & (PGSIZE - 1))) & (PGSIZE - 1);
  char *p = sbrk(pad + n);
  if (p == (char *)-1)
    return 0;
  return p + pad;
}

static int
parseaddr(const char *s, uint *addr)
{
  char *end;
  if (s[0] == 'v' && s[1] == 'm' && isdigit(s[2])) {
    long id = strtol(s + 2, &end, 10);
    if (*end || id > 0xFFFF)
      return -1;
    *addr = LINK_BASE | id;
    return 0;
  }
  *addr = strtol(s, &end, 0);
  return *end || end == s ? -1 : 0;
}

static int
cmd_send(const char *to, const char *path)
{
  uint addr;
  struct stat st;
  if (parseaddr(to, &addr) < 0) {
    fprintf(2, "net: %s: not a link address (0x0d15000N or vmN)\n", to);
    return 2;
  }
  int fd = open(path, O_RDONLY);
  if (fd < 0 || fstat(fd, &st) < 0)
    die("", path);
  char *buf = pagebuf(st.size ? st.size : 1);
  if (buf == 0)
    die("buffer for", path);
  int n = 0, r;
  while (n < (int)st.size && (r = read(fd, buf + n, st.size - n)) > 0)
    n += r;
  close(fd);
  if (n == 0) {
    fprintf(2, "net: %s: nothing to send\n", path);
    return 1;
  }
  if (netsend(addr, buf, n) < 0)
    die("send to", to);
  printf("net: sent %d bytes to 0x%08x (fnv1a %08x)\n", n, addr, fnv1a(FNV_INIT, buf, n));
  return 0;
}

static int
cmd_recv(const char *path)
{
  uint src;
  int n = netpeek(&src, 0);
  if (n < 0)
    die("receive", 0);
  char *buf = pagebuf(n);
  if (buf == 0)
    die("buffer for", path);
  if (netrecv(buf, n) != n)
    die("receive", 0);
  int fd = open(path, O_WRONLY | O_CREATE | O_TRUNC);
  if (fd < 0 || write(fd, buf, n) != n)
    die("", path);
  close(fd);
  printf("net: received %d bytes from 0x%08x into %s (fnv1a %08x)\n", n, src, path,
         fnv1a(FNV_INIT, buf, n));
  return 0;
}

int
main(int argc, char *argv[])
{
  if (argc == 2 && strcmp(argv[1], "addr") == 0) {
    int a = netaddr();  // link addresses are positive: -1 is an error
    if (a < 0)
      die("addr", 0);
    printf("0x%08x (vm%d)\n", (uint)a, a & 0xFFFF);
    exit(0);
  }
  if (argc == 4 && strcmp(argv[1], "send") == 0)
    exit(cmd_send(argv[2], argv[3]));
  if (argc == 3 && strcmp(argv[1], "recv") == 0)
    exit(cmd_recv(argv[2]));
  fprintf(2, "usage: net addr | net send ADDR FILE | net recv FILE\n");
  exit(2);
}
