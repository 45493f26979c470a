// Process-related system calls.
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "spinlock.h"
#include "proc.h"
#include "hal.h"
#include "errno.h"
#include "defs.h"

int
sys_exit(void)
{
  int n;
  argint(0, &n);
  exit(n);
}

int
sys_getpid(void)
{
  return myproc()->pid;
}

int
sys_fork(void)
{
  return fork();
}

int
sys_wait(void)
{
  return wait(argaddr(0));
}

int
sys_sbrk(void)
{
  int n;
  argint(0, &n);
  uint addr = myproc()->sz;
  if (growproc(n) < 0)
    return -ENOMEM;
  return addr;
}

int
sys_sleep(void)
{
  int n;
  argint(0, &n);
  acquire(&tickslock);
  uint ticks0 = ticks;
  while (n > 0 && ticks - ticks0 < (uint)n) {
    if (killed(myproc())) {
      release(&tickslock);
      return -EINTR;
    }
    sleep(&ticks, &tickslock);
  }
  release(&tickslock);
  return 0;
}

int
sys_kill(void)
{
  int pid;
  argint(0, &pid);
  return kill(pid);
}

int
sys_uptime(void)
{
  acquire(&tickslock);
  uint xticks = ticks;
  release(&tickslock);
  return xticks;
}

int
sys_time(void)
{
  return hal_rtc_seconds();
}

int
sys_getprocs(void)
{
  int max;
  argint(1, &max);
  return getprocs(argaddr(0), max);
}

int
sys_nprocs(void)
{
  return ncpu;
}

int
sys_poweroff(void)
{
  int code;
  argint(0, &code);
  hal_poweroff(code);
}

int
sys_shmget(void)
{
  int key, size;
  argint(0, &key);
  argint(1, &size);
  return shmget(key, size);
}

int
sys_shmat(void)
{
  int id;
  argint(0, &id);
  return shmat(id);
}
