// CP0 through the privileged instructions: on the bare machine they act
// directly. The disco flavour reaches the registers without side effects
// through its register page (hal_disco.c supplies its own copy of the
// functions in the blocks below that are compiled only without it) and shares
// the rest, whose MFC0/MTC0 trap and are emulated on the vCPU
// (docs/monitor-abi.md). With -DDISCO_TRAPS_CP0 the disco flavour skips the
// page and every CP0 access traps, as an unmodified kernel's would: a build
// for measuring the monitor's exit path (bench/monitor_overhead.py).
#include "types.h"
#include "param.h"
#include "mips.h"
#include "memlayout.h"
#include "hal.h"
#include "defs.h"

extern char vec_refill[], vec_refill_end[], vec_general[], vec_general_end[];

#if !defined(DISCO) || defined(DISCO_TRAPS_CP0)
int
hal_cpuid(void)
{
  return r_c0_ebase() & 0x3FF;
}

void
hal_cpu_init(void)
{
  w_c0_status(0);
  w_c0_ebase(KSEG0);
  // BEV must be clear before the first exception. Under Disco, EBase is a kseg0
  // address whose vectors the monitor finds at 0xC0000000 + (EBase & 0x1FFFF000).
  // Every line the kernel uses is unmasked in IM, so WAIT wakes on it; IE
  // decides whether an interrupt is taken.
  w_c0_status(ST_IM(IRQ_UART) | ST_IM(IRQ_DISK) | ST_IM(IRQ_IPI) | ST_IM(IRQ_TIMER));
}
#endif

void
hal_vectors_install(void)
{
  memmove(P2V(0x000), vec_refill, vec_refill_end - vec_refill);
  memmove(P2V(0x180), vec_general, vec_general_end - vec_general);
}

#if !defined(DISCO) || defined(DISCO_TRAPS_CP0)
int
hal_intr_get(void)
{
  return (r_c0_status() & ST_IE) != 0;
}

void
hal_intr_on(void)
{
  asm volatile("ei; ehb" ::: "memory");
}

void
hal_intr_off(void)
{
  asm volatile("di; ehb" ::: "memory");
}
#endif

void
hal_wait(void)
{
  asm volatile("wait" ::: "memory");
}

#if !defined(DISCO) || defined(DISCO_TRAPS_CP0)
uint
hal_status_user(void)
{
  // EXL stays set until ERET, so restoring this cannot take an interrupt early.
  return (r_c0_status() & 0xFF00) | ST_UM | ST_EXL | ST_IE;
}

uint
hal_trap_enter(void)
{
  uint s = r_c0_status();
  w_c0_status(s & ~(ST_EXL | ST_KSU | ST_IE));
  return s;
}
#endif

static uint tick_cycles;

void
hal_timer_init(uint clock_hz)
{
  // Count runs at half the clock rate.
  tick_cycles = clock_hz / 2 / HZ;
  w_c0_compare(r_c0_count() + tick_cycles);
}

void
hal_timer_ack(void)
{
  // Step from the old deadline so ticks do not drift; skip any that were missed.
  uint next = r_c0_compare() + tick_cycles;
  uint now = r_c0_count();
  if ((int)(next - now) <= 0)
    next = now + tick_cycles;
  w_c0_compare(next);
}

#if !defined(DISCO) || defined(DISCO_TRAPS_CP0)
void
hal_tlb_init(void)
{
  w_c0_pagemask(0);
  w_c0_wired(0);
  w_c0_context((uint)hal_cpuid() << 23);
  hal_tlb_flush();
}

static int
tlb_size(void)
{
  return ((r_c0_config1() >> 25) & 0x3F) + 1;
}

// An entry that can never match: kseg0 is unmapped (under Disco such entries
// stay in the virtual TLB only).
static void
tlb_kill(int i)
{
  w_c0_entryhi(KSEG0 + ((uint)i << 13));
  w_c0_entrylo0(0);
  w_c0_entrylo1(0);
  w_c0_index(i);
  asm volatile("tlbwi; ehb" ::: "memory");
}

void
hal_tlb_flush(void)
{
  uint hi = r_c0_entryhi();
  int n = tlb_size();
  for (int i = 0; i < n; i++)
    tlb_kill(i);
  w_c0_entryhi(hi);
}

void
hal_tlb_invalidate(uint va, uint asid)
{
  uint hi = r_c0_entryhi();
  w_c0_entryhi((va & ~0x1FFFu) | (asid & 0xFF));
  asm volatile("tlbp; ehb" ::: "memory");
  int idx = r_c0_index();
  if (idx >= 0)
    tlb_kill(idx);
  w_c0_entryhi(hi);
}
#endif

void
hal_set_asid(uint asid)
{
  w_c0_entryhi(asid & 0xFF);
}
