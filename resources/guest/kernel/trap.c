// Traps: system calls, interrupts, TLB faults and other exceptions.
#include "types.h"
#include "param.h"
#include "mips.h"
#include "memlayout.h"
#include "spinlock.h"
#include "proc.h"
#include "hal.h"
#include "defs.h"

struct spinlock tickslock;
uint ticks;
static uint clock_hz;

void
trapinit(uint hz)
{
  clock_hz = hz;
  initlock(&tickslock, "time");
}

// Per-CPU: interrupt masks and the first timer tick.
void
trapinithart(void)
{
  hal_timer_init(clock_hz);
}

static char*
causename(uint code)
{
  switch (code) {
  case EXC_MOD: return "write to read-only page";
  case EXC_TLBL: return "page fault (load)";
  case EXC_TLBS: return "page fault (store)";
  case EXC_ADEL: return "address error (load)";
  case EXC_ADES: return "address error (store)";
  case EXC_IBE: return "bus error (fetch)";
  case EXC_DBE: return "bus error (data)";
  case EXC_BP: return "breakpoint";
  case EXC_RI: return "reserved instruction";
  case EXC_CPU: return "coprocessor unusable";
  case EXC_OV: return "arithmetic overflow";
  case EXC_TR: return "trap";
  default: return "exception";
  }
}

// Device and timer interrupts pending in cause. Returns 1 on a timer tick.
static int
devintr(uint cause)
{
  int tick = 0;
  if (cause & CAUSE_IP(IRQ_TIMER)) {
    hal_timer_ack();
    if (cpuid() == 0) {
      acquire(&tickslock);
      ticks++;
      wakeup(&ticks);
      release(&tickslock);
    }
    tick = 1;
  }
  if (cause & CAUSE_IP(IRQ_UART))
    consoleintr();
  if (cause & CAUSE_IP(IRQ_IPI))
    hal_ipi_ack();  // only wakes the CPU; the scheduler looks for work
  if (cause & CAUSE_IP(IRQ_DISK))
    hal_disk_ack();
  if (cause & CAUSE_IP(IRQ_NIC))
    netintr();
  return tick;
}

void
trap(struct trapframe *tf)
{
  hal_trap_enter();
  uint code = CAUSE_EXC(tf->cause);
  int user = (tf->status & ST_UM) != 0;
  struct proc *p = myproc();

  if (!user) {
    if (code != EXC_INT)
      panic_trap(causename(code), tf);
    int tick = devintr(tf->cause & tf->status);
    // Preempt a process running in the kernel, but never the scheduler.
    if (tick && p && p->state == RUNNING)
      yield();
    return;
  }

  if (p == 0)
    panic_trap("user trap without a process", tf);
  if (code == EXC_SYS) {
    tf->epc += 4;
    hal_intr_on();
    if (!killed(p))
      syscall();
    hal_intr_off();
  } else if (code == EXC_INT) {
    if (devintr(tf->cause & tf->status))
      yield();
  } else {
    int r = -1;
    if (code == EXC_TLBL || code == EXC_TLBS || code == EXC_MOD)
      r = vm_fault(p, tf->badvaddr, code != EXC_TLBL);
    if (r < 0) {
      printf("pid %d (%s): killed: %s at pc %p va %p\n", p->pid, p->name,
             r == -2 ? "out of memory" : causename(code), tf->epc, tf->badvaddr);
      setkilled(p);
    }
  }
  if (killed(p))
    exit(-1);
}
