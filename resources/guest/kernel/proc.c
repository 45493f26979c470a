// Processes, the per-CPU scheduler, sleep and wakeup.
#include "types.h"
#include "param.h"
#include "mips.h"
#include "memlayout.h"
#include "spinlock.h"
#include "proc.h"
#include "fs.h"
#include "file.h"
#include "stat.h"
#include "hal.h"
#include "errno.h"
#include "defs.h"

struct cpu cpus[NCPU];
int ncpu = 1;
struct proc proc[NPROC];
struct proc *initproc;

// Top of the running process's kernel stack on each CPU: where the trap
// vector puts the frame of a trap from user mode (entry.S).
uint cpu_kstacktop[NCPU];

static char kstacks[NPROC][KSTACKSIZE] __attribute__((aligned(KSTACKSIZE)));

static int nextpid = 1;
static struct spinlock pid_lock;

// Guards parent pointers, so a parent's wakeup is not lost in wait().
static struct spinlock wait_lock;

static void forkret(void);
static void freeproc(struct proc *p);

void
procinit(void)
{
  initlock(&pid_lock, "nextpid");
  initlock(&wait_lock, "wait_lock");
  for (int i = 0; i < NPROC; i++) {
    initlock(&proc[i].lock, "proc");
    proc[i].kstack = kstacks[i];
  }
  for (int i = 0; i < NCPU; i++)
    cpus[i].asid_next = 0x100;
}

int
cpuid(void)
{
  return hal_cpuid();
}

// The caller must have interrupts off, so it is not moved to another CPU.
struct cpu*
mycpu(void)
{
  return &cpus[hal_cpuid()];
}

struct proc*
myproc(void)
{
  push_off();
  struct proc *p = mycpu()->proc;
  pop_off();
  return p;
}

static int
allocpid(void)
{
  acquire(&pid_lock);
  int pid = nextpid++;
  release(&pid_lock);
  return pid;
}

// Find an unused slot and prepare it to run in the kernel: returns with
// p->lock held, or 0.
static struct proc*
allocproc(void)
{
  struct proc *p;
  for (p = proc; p < &proc[NPROC]; p++) {
    acquire(&p->lock);
    if (p->state == UNUSED)
      goto found;
    release(&p->lock);
  }
  return 0;

found:
  p->pid = allocpid();
  p->state = USED;
  p->killed = 0;
  p->consread = 0;
  p->xstate = 0;
  p->sz = p->heapstart = 0;
  for (int i = 0; i < NCPU; i++)
    p->asid[i] = 0;
  if ((p->pgdir = pgdir_alloc()) == 0) {
    freeproc(p);
    release(&p->lock);
    return 0;
  }
  p->tf = (struct trapframe *)(p->kstack + KSTACKSIZE - sizeof(struct trapframe));
  memset(p->tf, 0, sizeof(*p->tf));
  memset(&p->context, 0, sizeof(p->context));
  p->context.ra = (uint)forkret;
  p->context.sp = (uint)p->tf - 32;
  return p;
}

static void
freeproc(struct proc *p)
{
  if (p->pgdir)
    pgdir_free(p->pgdir);
  p->pgdir = 0;
  p->sz = 0;
  p->pid = 0;
  p->parent = 0;
  p->name[0] = 0;
  p->chan = 0;
  p->killed = 0;
  p->consread = 0;
  p->xstate = 0;
  p->state = UNUSED;
}

// The first process; forkret() mounts the root and execs /init in it.
void
userinit(void)
{
  struct proc *p = allocproc();
  if (p == 0)
    panic("userinit");
  initproc = p;
  safestrcpy(p->name, "init", sizeof(p->name));
  p->state = RUNNABLE;
  p->ready_tick = ticks;
  release(&p->lock);
}

// sbrk: move the break by n bytes. Pages appear on first touch.
int
growproc(int n)
{
  struct proc *p = myproc();
  uint sz = p->sz, nsz = sz + n;
  if (n > 0 && (nsz < sz || nsz > UMAXHEAP))
    return -1;
  if (n < 0) {
    if (nsz > sz || nsz < p->heapstart)
      return -1;
    uint a = PGROUNDUP(nsz), b = PGROUNDUP(sz);
    if (b > a) {
      uvmunmap(p->pgdir, a, (b - a) / PGSIZE);
      vm_dropctx(p);
    }
  }
  p->sz = nsz;
  return 0;
}

int
fork(void)
{
  struct proc *np, *p = myproc();
  if ((np = allocproc()) == 0)
    return -EAGAIN;
  if (uvmcopy(p->pgdir, np->pgdir) < 0) {
    freeproc(np);
    release(&np->lock);
    return -ENOMEM;
  }
  // The parent's pages are read-only now: its TLB entries must go.
  vm_dropctx(p);
  np->sz = p->sz;
  np->heapstart = p->heapstart;
  *np->tf = *p->tf;
  np->tf->regs[TF_V0] = 0;
  for (int i = 0; i < NOFILE; i++)
    if (p->ofile[i])
      np->ofile[i] = filedup(p->ofile[i]);
  np->cwd = p->cwd ? idup(p->cwd) : 0;
  safestrcpy(np->name, p->name, sizeof(p->name));
  int pid = np->pid;
  release(&np->lock);

  acquire(&wait_lock);
  np->parent = p;
  release(&wait_lock);

  acquire(&np->lock);
  // No affinity yet: "last ran" on this CPU, which is busy running the parent,
  // so whichever CPU wake_idle wakes may take the child at once.
  np->cpu = cpuid();
  np->state = RUNNABLE;
  np->ready_tick = ticks;
  release(&np->lock);
  wake_idle(-1);
  return pid;
}

// Give p's abandoned children to init. Caller holds wait_lock.
static void
reparent(struct proc *p)
{
  for (struct proc *pp = proc; pp < &proc[NPROC]; pp++) {
    if (pp->parent == p) {
      pp->parent = initproc;
      wakeup(initproc);
    }
  }
}

void
exit(int status)
{
  struct proc *p = myproc();
  if (p == initproc) {
    printf("init exited with status %d\n", status);
    hal_poweroff(0x72);
  }
  for (int fd = 0; fd < NOFILE; fd++) {
    if (p->ofile[fd]) {
      fileclose(p->ofile[fd]);
      p->ofile[fd] = 0;
    }
  }
  if (p->cwd) {
    fs_begin();
    iput(p->cwd);
    fs_end();
    p->cwd = 0;
  }

  acquire(&wait_lock);
  reparent(p);
  wakeup(p->parent);
  acquire(&p->lock);
  p->xstate = status;
  p->state = ZOMBIE;
  release(&wait_lock);
  sched();
  panic("zombie exit");
}

// Wait for a child to exit; returns its pid, -ECHILD if there are none.
int
wait(uint addr)
{
  struct proc *p = myproc();
  acquire(&wait_lock);
  for (;;) {
    int havekids = 0;
    for (struct proc *pp = proc; pp < &proc[NPROC]; pp++) {
      if (pp->parent != p)
        continue;
      acquire(&pp->lock);
      havekids = 1;
      if (pp->state == ZOMBIE) {
        int pid = pp->pid;
        if (addr != 0 && copyout(p, addr, &pp->xstate, sizeof(pp->xstate)) < 0) {
          release(&pp->lock);
          release(&wait_lock);
          return -EFAULT;
        }
        freeproc(pp);
        release(&pp->lock);
        release(&wait_lock);
        return pid;
      }
      release(&pp->lock);
    }
    if (!havekids)
      break;
    if (killed(p)) {
      release(&wait_lock);
      return -EINTR;
    }
    sleep(p, &wait_lock);
  }
  release(&wait_lock);
  return -ECHILD;
}

// Wake one idle CPU (if any) to look for the work just made runnable:
// `prefer` if it is idle (the CPU the process last ran on, so it keeps its
// caches and, under the Disco monitor, the memory placed on that node; the
// scheduler leaves a process to its last CPU while that CPU looks for work),
// else the first idle one; -1 for no preference.
void
wake_idle(int prefer)
{
  int me = hal_cpuid();
  if (prefer >= 0 && prefer < ncpu && prefer != me && cpus[prefer].idle) {
    cpus[prefer].idle = 0;
    hal_ipi_send(1ull << prefer);
    return;
  }
  for (int i = 0; i < ncpu; i++) {
    // Claim the idle CPU (LL/SC-free: losing a race only sends one extra
    // IPI), so the next wakeup picks a different one.
    if (i != me && cpus[i].idle) {
      cpus[i].idle = 0;
      hal_ipi_send(1ull << i);
      return;
    }
  }
}

// Affinity: a process stays with the CPU it last ran on, so its caches and
// memory (the monitor's NUMA placement of it) stay local. Another CPU takes it
// when its own is busy running something else, or once it has waited two
// ticks (its own CPU asleep and missing the wakeup IPI, say); until then an
// idle CPU sleeps instead of spinning on it.
static int
may_take(struct proc *p, int id)
{
  // (cpus[].proc is still p itself while its CPU switches away from it after
  // a yield: that CPU is about to look for work, not busy)
  struct proc *busy = cpus[p->cpu].proc;
  return p->cpu == id || (busy != 0 && busy != p) || ticks - p->ready_tick >= 2;
}

// Each CPU runs this after setting itself up. It picks runnable processes
// round robin; with none, it waits for an interrupt (timer, device or IPI).
void
scheduler(void)
{
  struct cpu *c = mycpu();
  int id = cpuid();
  c->proc = 0;
  for (;;) {
    // Take pending interrupts (ticks, IPIs, devices) before looking.
    hal_intr_on();
    hal_intr_off();
    int found = 0;
    for (struct proc *p = proc; p < &proc[NPROC]; p++) {
      // Look before locking: most slots are not runnable, and taking every
      // p->lock on every CPU's every pass makes the lines bounce between nodes.
      if (p->state != RUNNABLE)
        continue;
      if (!may_take(p, id))
        continue;
      acquire(&p->lock);
      if (p->state == RUNNABLE) {
        p->state = RUNNING;
        p->cpu = id;
        c->proc = p;
        cpu_kstacktop[id] = (uint)p->kstack + KSTACKSIZE;
        vm_activate(p);
        swtch(&c->context, &p->context);
        vm_activate(0);
        c->proc = 0;
        found = 1;
      }
      release(&p->lock);
    }
    if (!found) {
      // Announce idleness, then look once more without locks: a process made
      // runnable after this look sends us an IPI, which keeps WAIT from sleeping.
      c->idle = 1;
      __sync_synchronize();
      int any = 0;
      for (struct proc *p = proc; p < &proc[NPROC]; p++)
        if (p->state == RUNNABLE && may_take(p, id))
          any = 1;
      if (!any)
        hal_wait();
      c->idle = 0;
    }
  }
}

// Switch to the scheduler. The caller holds only p->lock and has changed
// p->state. intena belongs to this kernel thread, not this CPU, so it is saved.
void
sched(void)
{
  struct proc *p = myproc();
  if (!holding(&p->lock))
    panic("sched p->lock");
  if (mycpu()->noff != 1)
    panic("sched locks");
  if (p->state == RUNNING)
    panic("sched running");
  if (hal_intr_get())
    panic("sched interruptible");
  int intena = mycpu()->intena;
  swtch(&p->context, &mycpu()->context);
  mycpu()->intena = intena;
}

void
yield(void)
{
  struct proc *p = myproc();
  acquire(&p->lock);
  p->state = RUNNABLE;
  p->ready_tick = ticks;
  sched();
  release(&p->lock);
}

// A new process's first scheduling lands here, still holding p->lock.
static void
forkret(void)
{
  static int first = 1;
  struct proc *p = myproc();
  release(&p->lock);
  if (first) {
    // The file system is read in process context, the first time, because
    // it may sleep on fslock.
    first = 0;
    fsinit(ROOTDEV);
    fs_begin();
    struct inode *ip = namei("/console");
    p->cwd = namei("/");
    fs_end();
    struct file *f = filealloc();
    if (f == 0)
      panic("init: no file");
    f->type = FD_DEVICE;
    f->major = CONSOLE;
    f->ip = ip;
    f->readable = f->writable = 1;
    p->ofile[0] = f;
    p->ofile[1] = filedup(f);
    p->ofile[2] = filedup(f);
    p->tf->status = hal_status_user();
    char *argv[] = { "init", 0 };
    if (kexec("/init", argv) < 0)
      panic("init: cannot exec /init");
  }
  usertrapret(p->tf);
}

// Release lk and sleep on chan; reacquire lk when woken.
void
sleep(void *chan, struct spinlock *lk)
{
  struct proc *p = myproc();
  // SLEEPING is set before lk is released, so a waker (who holds lk) can
  // look at p->state without taking p->lock first.
  acquire(&p->lock);
  p->chan = chan;
  p->state = SLEEPING;
  release(lk);
  sched();
  p->chan = 0;
  release(&p->lock);
  acquire(lk);
}

// Wake every process sleeping on chan. The caller holds the lock that
// guards the condition (the one passed to sleep) and no p->lock.
void
wakeup(void *chan)
{
  struct proc *me = myproc();
  for (struct proc *p = proc; p < &proc[NPROC]; p++) {
    // A sleeper on chan set its state before releasing the condition's
    // lock, which we hold, so this unlocked look cannot miss it.
    if (p->state != SLEEPING || p->chan != chan)
      continue;
    if (p != me) {
      int woke = 0;
      acquire(&p->lock);
      if (p->state == SLEEPING && p->chan == chan) {
        p->state = RUNNABLE;
        p->ready_tick = ticks;
        woke = 1;
      }
      int cpu = p->cpu;
      release(&p->lock);
      if (woke)
        wake_idle(cpu);
    }
  }
}

int
kill(int pid)
{
  for (struct proc *p = proc; p < &proc[NPROC]; p++) {
    acquire(&p->lock);
    if (p->pid == pid && p->state != UNUSED) {
      p->killed = 1;
      if (p->state == SLEEPING) {
        p->state = RUNNABLE;
        p->ready_tick = ticks;
      }
      int cpu = p->cpu;
      release(&p->lock);
      wake_idle(cpu);
      return 0;
    }
    release(&p->lock);
  }
  return -ESRCH;
}

// Ctrl-C on the console: kill the foreground job. The shell that runs it is the
// console's most recent reader among the processes waiting for a child; the job is
// every descendant of that process. The shell itself lives on (its wait() returns,
// and it prompts again), and so does every process that is not its descendant.
// Returns how many processes were told to die.
int
killfg(void)
{
  int pids[NPROC], n = 0;
  struct proc *sh = 0;
  acquire(&wait_lock);
  for (struct proc *p = proc; p < &proc[NPROC]; p++) {
    acquire(&p->lock);
    // wait() sleeps on the process itself, holding wait_lock until it sleeps
    int waiting = p->state == SLEEPING && p->chan == p;
    if (waiting && p->consread != 0 && (sh == 0 || p->consread > sh->consread))
      sh = p;
    release(&p->lock);
  }
  if (sh != 0) {
    for (struct proc *p = proc; p < &proc[NPROC]; p++) {
      if (p == sh || p->state == UNUSED || p->state == ZOMBIE)
        continue;
      for (struct proc *q = p->parent; q != 0; q = q->parent) {
        if (q == sh) {
          pids[n++] = p->pid;
          break;
        }
      }
    }
  }
  release(&wait_lock);
  for (int i = 0; i < n; i++)
    kill(pids[i]);
  return n;
}

void
setkilled(struct proc *p)
{
  acquire(&p->lock);
  p->killed = 1;
  release(&p->lock);
}

int
killed(struct proc *p)
{
  acquire(&p->lock);
  int k = p->killed;
  release(&p->lock);
  return k;
}

int
either_copyout(int user_dst, uint dst, void *src, uint len)
{
  if (user_dst)
    return copyout(myproc(), dst, src, len);
  memmove((void *)dst, src, len);
  return 0;
}

int
either_copyin(void *dst, int user_src, uint src, uint len)
{
  if (user_src)
    return copyin(myproc(), dst, src, len);
  memmove(dst, (void *)src, len);
  return 0;
}

int
getprocs(uint addr, int max)
{
  static const int code[] = { [SLEEPING] = 1, [RUNNABLE] = 2, [RUNNING] = 3, [ZOMBIE] = 4 };
  int n = 0;
  for (struct proc *p = proc; p < &proc[NPROC] && n < max; p++) {
    struct procinfo pi;
    acquire(&p->lock);
    if (p->state == UNUSED || p->state == USED) {
      release(&p->lock);
      continue;
    }
    memset(&pi, 0, sizeof(pi));
    pi.pid = p->pid;
    pi.state = code[p->state];
    pi.cpu = p->cpu;
    pi.size = p->sz;
    safestrcpy(pi.name, p->name, sizeof(pi.name));
    release(&p->lock);
    acquire(&wait_lock);
    pi.ppid = p->parent ? p->parent->pid : 0;
    release(&wait_lock);
    if (copyout(myproc(), addr + n * sizeof(pi), &pi, sizeof(pi)) < 0)
      return -EFAULT;
    n++;
  }
  return n;
}
