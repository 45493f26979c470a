// Mutual exclusion spin locks (LL/SC), and sleep locks built on them.
#include "types.h"
#include "param.h"
#include "spinlock.h"
#include "proc.h"
#include "hal.h"
#include "defs.h"

void
initlock(struct spinlock *lk, char *name)
{
  lk->name = name;
  lk->locked = 0;
  lk->cpu = 0;
}

// Atomically set *p to 1, returning the old value.
static inline uint
test_and_set(volatile uint *p)
{
  uint old, tmp;
  asm volatile(
    "1: ll   %0, 0(%2)\n"
    "   li   %1, 1\n"
    "   sc   %1, 0(%2)\n"
    "   beqz %1, 1b\n"
    "   nop\n"
    : "=&r"(old), "=&r"(tmp)
    : "r"(p)
    : "memory");
  return old;
}

// Acquire the lock. Interrupts stay off while it is held, so an interrupt
// handler on this CPU cannot deadlock against us.
void
acquire(struct spinlock *lk)
{
  push_off();
  if (holding(lk)) {
    printf("lock %s\n", lk->name);
    panic("acquire");
  }
  // Test and test-and-set: wait with plain loads, so waiting CPUs share the
  // line instead of taking it from each other with every SC.
  while (test_and_set(&lk->locked) != 0)
    while (*(volatile uint *)&lk->locked)
      ;
  // The functional model is sequentially consistent; the barrier documents
  // (and on real hardware enforces) that the critical section comes after.
  __sync_synchronize();
  lk->cpu = mycpu();
}

void
release(struct spinlock *lk)
{
  if (!holding(lk))
    panic("release");
  lk->cpu = 0;
  // Stores inside the critical section must be visible before the lock is free.
  __sync_synchronize();
  *(volatile uint *)&lk->locked = 0;
  pop_off();
}

int
holding(struct spinlock *lk)
{
  return lk->locked && lk->cpu == mycpu();
}

// push_off/pop_off are like intr_off()/intr_on() but matched: it takes two
// pop_off()s to undo two push_off()s.
void
push_off(void)
{
  int old = hal_intr_get();
  hal_intr_off();
  struct cpu *c = mycpu();
  if (c->noff == 0)
    c->intena = old;
  c->noff += 1;
}

void
pop_off(void)
{
  struct cpu *c = mycpu();
  if (hal_intr_get())
    panic("pop_off - interruptible");
  if (c->noff < 1)
    panic("pop_off");
  c->noff -= 1;
  if (c->noff == 0 && c->intena)
    hal_intr_on();
}

void
initsleeplock(struct sleeplock *lk, char *name)
{
  initlock(&lk->lk, "sleep lock");
  lk->name = name;
  lk->locked = 0;
  lk->pid = 0;
}

void
acquiresleep(struct sleeplock *lk)
{
  acquire(&lk->lk);
  while (lk->locked)
    sleep(lk, &lk->lk);
  lk->locked = 1;
  lk->pid = myproc() ? myproc()->pid : -1;
  release(&lk->lk);
}

void
releasesleep(struct sleeplock *lk)
{
  acquire(&lk->lk);
  lk->locked = 0;
  lk->pid = 0;
  wakeup(lk);
  release(&lk->lk);
}
