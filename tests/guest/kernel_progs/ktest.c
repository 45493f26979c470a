// ktest: kernel checks run as a user program (tests/guest/test_kernel.py).
// Each subcommand prints "ok <name>" when the kernel behaved.
#include "user.h"

static void
fail(const char *what)
{
  printf("FAIL %s\n", what);
  exit(1);
}

// A write to a page shared copy-on-write must not show in the other process.
static void
cow(void)
{
  static int data[2048] = { 1 };
  char *heap = sbrk(8192);
  heap[0] = 'p';
  data[1000] = 7;
  int pid = fork();
  if (pid == 0) {
    data[1000] = 9;
    heap[0] = 'c';
    if (data[1000] != 9 || heap[0] != 'c')
      fail("cow child");
    exit(0);
  }
  int st = -1;
  if (wait(&st) != pid || st != 0)
    fail("cow wait");
  if (data[1000] != 7 || heap[0] != 'p')
    fail("cow parent");
  printf("ok cow\n");
}

// A deep recursion grows the stack page by page on demand.
static int
deep(int n)
{
  volatile char pad[512];
  pad[0] = 1;
  return n == 0 ? 0 : deep(n - 1) + pad[0];
}

static void
shm(void)
{
  // A key of our own: several ktests may run at once.
  int key = 0x4b000000 + getpid();
  int id = shmget(key, 8192);
  int *a = shmat(id);
  a[0] = 0;
  int pid = fork();
  if (pid == 0) {
    int *b = shmat(shmget(key, 8192));
    b[0] = 1234;
    exit(0);
  }
  wait(0);
  if (a[0] != 1234)
    fail("shm");
  printf("ok shm\n");
}

static void
pipes(void)
{
  int fds[2], total = 0;
  char buf[100];
  if (pipe(fds) < 0)
    fail("pipe");
  int pid = fork();
  if (pid == 0) {
    close(fds[0]);
    for (int i = 0; i < 100; i++)
      write(fds[1], "0123456789abcdefghij", 20);
    exit(0);
  }
  close(fds[1]);
  int n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0)
    total += n;
  wait(0);
  if (total != 2000)
    fail("pipe total");
  printf("ok pipe\n");
}

static void
killer(void)
{
  int pid = fork();
  if (pid == 0)
    for (;;)
      ;
  sleep(2);
  kill(pid);
  int st = 0;
  if (wait(&st) != pid || st != -1)
    fail("kill");
  printf("ok kill\n");
}

#define CHECK(cond, what) do { if (!(cond)) fail(what); } while (0)

// File-system and argument-checking corners.
static void
fsops(void)
{
  struct stat st;
  char buf[64];
  CHECK(fstat(0, &st) == 0 && st.type == T_DEVICE, "fstat console");
  int pf[2];
  CHECK(pipe(pf) == 0 && write(pf[1], "x", 1) == 1, "pipe for efault");
  CHECK(read(pf[0], (void *)0x80000000, 1) < 0 && errno == EFAULT, "read to kernel");
  close(pf[0]);
  close(pf[1]);
  CHECK(write(1, (void *)0, 1) < 0 && errno == EFAULT, "write from null");
  CHECK(open((char *)0x90000000, O_RDONLY) < 0 && errno == EFAULT, "open bad path");
  char *argv[] = { "README", 0 };
  CHECK(exec("/README", argv) < 0 && errno == EINVAL, "exec non-elf");
  CHECK(exec("/src", argv) < 0 && errno == EISDIR, "exec dir");
  // A directory of our own: several ktests may run at once.
  char dir[16], g[32];
  snprintf(dir, sizeof(dir), "/kt%d", getpid());
  snprintf(g, sizeof(g), "%s/g", dir);
  CHECK(mkdir(dir) == 0, "mkdir");
  CHECK(mkdir(dir) < 0 && errno == EEXIST, "mkdir twice");
  CHECK(chdir(dir) == 0, "chdir");
  int fd = open("f", O_CREATE | O_WRONLY);
  CHECK(fd >= 0 && write(fd, "hello", 5) == 5, "create");
  close(fd);
  CHECK(link("f", g) == 0, "link");
  CHECK(stat(g, &st) == 0 && st.nlink == 2 && st.size == 5, "link count");
  CHECK(unlink(dir) < 0, "unlink non-empty dir");
  CHECK(unlink("f") == 0, "unlink");
  fd = open("g", O_RDONLY);
  CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 5 && memcmp(buf, "hello", 5) == 0, "read link");
  close(fd);
  fd = open("g", O_WRONLY | O_TRUNC);
  CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.size == 0, "trunc");
  // A file past the direct and single-indirect blocks.
  static char big[4096];
  for (int i = 0; i < (int)sizeof(big); i++)
    big[i] = i * 7;
  for (int i = 0; i < 80; i++)
    CHECK(write(fd, big, sizeof(big)) == sizeof(big), "big write");
  close(fd);
  CHECK(stat("g", &st) == 0 && st.size == 80 * 4096, "big size");
  fd = open("g", O_RDONLY);
  for (int i = 0; i < 80; i++) {
    static char back[4096];
    CHECK(read(fd, back, sizeof(back)) == sizeof(back) && memcmp(back, big, sizeof(big)) == 0,
          "big read");
  }
  CHECK(read(fd, buf, 1) == 0, "eof");
  close(fd);
  CHECK(unlink("g") == 0 && chdir("/") == 0 && unlink(dir) == 0, "cleanup");
  CHECK(open(g, O_RDONLY) < 0 && errno == ENOENT, "gone");
  char *old = sbrk(0);
  CHECK(sbrk(65536) == old && sbrk(-65536) == old + 65536 && sbrk(0) == old, "sbrk");
  CHECK(dup(99) < 0 && errno == EBADF, "dup bad");
  CHECK(kill(9999) < 0, "kill none");
  CHECK(wait(0) < 0 && errno == ECHILD, "wait none");
  CHECK(time() >= 876009600, "time");
  printf("ok fsops\n");
}

// System call 99 exists only in a kernel built with KERNEL_DEBUG.
static int
sys_debug(int what, unsigned addr)
{
  register int v0 asm("$2") = 99;
  register int a0 asm("$4") = what;
  register unsigned a1 asm("$5") = addr;
  asm volatile("syscall" : "+r"(v0) : "r"(a0), "r"(a1) : "memory");
  return v0;
}

int
main(int argc, char **argv)
{
  if (argc < 2) {
    printf("usage: ktest null|cow|stack|shm|pipe|kill|errno|all\n");
    exit(1);
  }
  char *c = argv[1];
  if (strcmp(c, "null") == 0) {
    volatile int *p = 0;
    printf("value %d\n", *p);
    fail("null survived");
  }
  if (strcmp(c, "cow") == 0 || strcmp(c, "all") == 0)
    cow();
  if (strcmp(c, "stack") == 0 || strcmp(c, "all") == 0) {
    if (deep(1000) != 1000)
      fail("stack");
    printf("ok stack\n");
  }
  if (strcmp(c, "shm") == 0 || strcmp(c, "all") == 0)
    shm();
  if (strcmp(c, "pipe") == 0 || strcmp(c, "all") == 0)
    pipes();
  if (strcmp(c, "kill") == 0 || strcmp(c, "all") == 0)
    killer();
  if (strcmp(c, "errno") == 0 || strcmp(c, "all") == 0) {
    if (open("/no/such", O_RDONLY) >= 0 || errno != ENOENT)
      fail("errno");
    if (read(99, 0, 1) >= 0 || errno != EBADF)
      fail("ebadf");
    printf("ok errno\n");
  }
  if (strcmp(c, "shmmany") == 0) {
    // More segments than the kernel's table: unmapped ones are reclaimed.
    for (int i = 0; i < 40; i++) {
      int pid = fork();
      if (pid == 0) {
        int id = shmget(0x5000 + i, 4096);
        int *a = shmat(id);
        if (id < 0 || (int)a < 0)
          fail("shmmany");
        a[0] = i;
        exit(a[0] == i ? 0 : 1);
      }
      int st = -1;
      wait(&st);
      if (st != 0)
        fail("shmmany child");
    }
    printf("ok shmmany\n");
  }
  if (strcmp(c, "fsops") == 0 || strcmp(c, "all") == 0)
    fsops();
  if (strcmp(c, "oom") == 0) {
    // Touch more memory than the machine has: the kernel kills us.
    char *p = sbrk(128 << 20);
    for (int i = 0; i < (128 << 20); i += 4096)
      p[i] = 1;
    fail("oom survived");
  }
  if (strcmp(c, "kpanic") == 0)
    printf("sys_debug returned %d\n", sys_debug(1, 0));
  if (strcmp(c, "kfault") == 0)
    printf("sys_debug returned %d\n", sys_debug(2, 0x00000001));
  if (strcmp(c, "ncpu") == 0)
    printf("ncpu %d\n", nprocs());
  exit(0);
}
