// The network driver and its system calls (docs/guest-abi.md, "Network").
//
// A message goes to a link address and has any length. netsend hands the
// monitor the user's own physical pages, one page run per piece, so a
// page-aligned user buffer travels by page remapping (docs/monitor-abi.md):
// the receiver's netrecv into a page-aligned buffer ends with the sender's
// data in its user pages without a copy. The monitor queues messages; the
// kernel only waits for them: an arrival raises IP4 on CPU 0, whose handler
// wakes every process waiting to receive.
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "spinlock.h"
#include "proc.h"
#include "errno.h"
#include "net.h"
#include "defs.h"

static struct spinlock netlock;              // sleeping for arrivals
static struct sleeplock sendlock, recvlock;  // one message gathered / taken at a time
static int net_up;

void
netinit(void)
{
  initlock(&netlock, "net");
  initsleeplock(&sendlock, "netsend");
  initsleeplock(&recvlock, "netrecv");
  net_up = hal_net_init();
}

// Every CPU unmasks the arrival interrupt, though only CPU 0 gets it: a
// process's saved Status carries the interrupt masks of the CPU it was
// started on to every CPU it runs on.
void
netinithart(void)
{
  hal_net_irq_on();
}

// IP4: messages arrived.
void
netintr(void)
{
  hal_net_ack();
  acquire(&netlock);
  wakeup(&netlock);
  release(&netlock);
}

static int
neterr(int r)
{
  switch (r) {
  case NET_E_DEST: return -EHOSTUNREACH;
  case NET_E_FULL: return -EAGAIN;
  case NET_E_TOOBIG: return -E2BIG;
  case NET_E_EMPTY: return -EAGAIN;
  case NET_E_NODEV: return -ENODEV;
  default: return -EINVAL;
  }
}

// Wait until a message is waiting (or not, with nowait); its remaining length.
static int
netwait(int nowait)
{
  struct proc *p = myproc();
  int n;
  acquire(&netlock);
  while ((n = hal_net_peek(NET_PEEK_LENGTH)) == NET_E_EMPTY) {
    if (nowait || killed(p)) {
      release(&netlock);
      return nowait ? -EAGAIN : -EINTR;
    }
    sleep(&netlock, &netlock);
  }
  release(&netlock);
  return n < 0 ? neterr(n) : n;
}

// Every page of [va, va + n) present (and private and writable with write).
static int
userrange(struct proc *p, uint va, uint n, int write)
{
  if (va + n < va || va + n > UTOP)
    return -EFAULT;
  for (uint a = PGROUNDDOWN(va); a < va + n; a += PGSIZE)
    if (uva2pa(p, a < va ? va : a, write) == 0)
      return -EFAULT;
  return 0;
}

// netaddr(): this machine's link address.
int
sys_netaddr(void)
{
  return net_up ? hal_net_addr() : -ENODEV;
}

// netsend(addr, buf, n): one message of n bytes; n, or -errno.
int
sys_netsend(void)
{
  struct proc *p = myproc();
  int n;
  uint dest = argaddr(0), va = argaddr(1);
  argint(2, &n);
  if (!net_up)
    return -ENODEV;
  if (n <= 0)
    return -EINVAL;
  int r = userrange(p, va, n, 0);
  if (r < 0)
    return r;
  acquiresleep(&sendlock);
  for (uint left = n; left > 0 && r == 0; ) {
    uint k = PGSIZE - (va & (PGSIZE - 1));
    if (k > left)
      k = left;
    left -= k;
    r = hal_net_send(dest, uva2pa(p, va, 0), k, left > 0);
    va += k;
  }
  releasesleep(&sendlock);
  return r < 0 ? neterr(r) : n;
}

// netpeek(&src, nowait): wait for a message; its length left, its sender in *src.
int
sys_netpeek(void)
{
  struct proc *p = myproc();
  int nowait;
  uint srcva = argaddr(0);
  argint(1, &nowait);
  if (!net_up)
    return -ENODEV;
  acquiresleep(&recvlock);
  int n = netwait(nowait);
  if (n >= 0 && srcva) {
    uint src = hal_net_peek(NET_PEEK_SOURCE);
    if (copyout(p, srcva, &src, sizeof src) < 0)
      n = -EFAULT;
  }
  releasesleep(&recvlock);
  return n;
}

// netrecv(buf, n): wait for a message and take up to n bytes of it (the rest
// stays for the next netrecv); the bytes taken, or -errno.
int
sys_netrecv(void)
{
  struct proc *p = myproc();
  int n;
  uint va = argaddr(0);
  argint(1, &n);
  if (!net_up)
    return -ENODEV;
  if (n <= 0)
    return -EINVAL;
  acquiresleep(&recvlock);
  int r = netwait(0);
  if (r > 0) {
    uint want = (uint)r < (uint)n ? (uint)r : (uint)n;
    uint got = 0;
    r = userrange(p, va, want, 1);
    while (r == 0 && got < want) {
      uint k = PGSIZE - ((va + got) & (PGSIZE - 1));
      if (k > want - got)
        k = want - got;
      int m = hal_net_recv(uva2pa(p, va + got, 1), k);
      if (m < 0)
        r = neterr(m);
      else
        got += m;
      if (m != (int)k)
        break;
    }
    if (r == 0)
      r = got;
  }
  releasesleep(&recvlock);
  return r;
}
