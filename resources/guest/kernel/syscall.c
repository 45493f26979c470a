// System call dispatch and argument fetching (docs/guest-abi.md).
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "spinlock.h"
#include "proc.h"
#include "errno.h"
#include "defs.h"

// Fetch the NUL-terminated string at user addr; its length, or -errno.
int
fetchstr(uint addr, char *buf, int max)
{
  if (copyinstr(myproc(), buf, addr, max) < 0)
    return -EFAULT;
  return strlen(buf);
}

static uint
argraw(int n)
{
  return myproc()->tf->regs[TF_A0 + n];
}

int
argint(int n, int *ip)
{
  *ip = argraw(n);
  return 0;
}

uint
argaddr(int n)
{
  return argraw(n);
}

int
argstr(int n, char *buf, int max)
{
  return fetchstr(argaddr(n), buf, max);
}

extern int sys_fork(void);
extern int sys_exit(void);
extern int sys_wait(void);
extern int sys_pipe(void);
extern int sys_read(void);
extern int sys_kill(void);
extern int sys_exec(void);
extern int sys_fstat(void);
extern int sys_chdir(void);
extern int sys_dup(void);
extern int sys_getpid(void);
extern int sys_sbrk(void);
extern int sys_sleep(void);
extern int sys_uptime(void);
extern int sys_open(void);
extern int sys_write(void);
extern int sys_mknod(void);
extern int sys_unlink(void);
extern int sys_link(void);
extern int sys_mkdir(void);
extern int sys_close(void);
extern int sys_time(void);
extern int sys_shmget(void);
extern int sys_shmat(void);
extern int sys_getprocs(void);
extern int sys_nprocs(void);
extern int sys_poweroff(void);
extern int sys_netaddr(void);
extern int sys_netsend(void);
extern int sys_netpeek(void);
extern int sys_netrecv(void);

static int (*syscalls[])(void) = {
  [1] = sys_fork,    [2] = sys_exit,    [3] = sys_wait,     [4] = sys_pipe,
  [5] = sys_read,    [6] = sys_kill,    [7] = sys_exec,     [8] = sys_fstat,
  [9] = sys_chdir,   [10] = sys_dup,    [11] = sys_getpid,  [12] = sys_sbrk,
  [13] = sys_sleep,  [14] = sys_uptime, [15] = sys_open,    [16] = sys_write,
  [17] = sys_mknod,  [18] = sys_unlink, [19] = sys_link,    [20] = sys_mkdir,
  [21] = sys_close,  [22] = sys_time,   [23] = sys_shmget,  [24] = sys_shmat,
  [25] = sys_getprocs, [26] = sys_nprocs, [27] = sys_poweroff,
  [28] = sys_netaddr, [29] = sys_netsend, [30] = sys_netpeek, [31] = sys_netrecv,
};

#ifdef KERNEL_DEBUG
// Debug builds only: system call 99 breaks the kernel on purpose, so the
// tests can see a panic report (a0 = 1) and a kernel exception (a0 = 2).
static int __attribute__((noinline))
sys_debug(void)
{
  int what;
  argint(0, &what);
  if (what == 1)
    panic("sys_debug: deliberate panic");
  if (what == 2)
    return *(volatile int *)argaddr(1);  // a kernel load from a user-chosen address
  return -EINVAL;
}
#endif

void
syscall(void)
{
  struct proc *p = myproc();
  uint num = p->tf->regs[TF_V0];
#ifdef KERNEL_DEBUG
  if (num == 99) {
    p->tf->regs[TF_V0] = sys_debug();
    return;
  }
#endif
  if (num > 0 && num < NELEM(syscalls) && syscalls[num]) {
    p->tf->regs[TF_V0] = syscalls[num]();
  } else {
    printf("pid %d (%s): unknown sys call %d\n", p->pid, p->name, num);
    p->tf->regs[TF_V0] = -EINVAL;
  }
}
