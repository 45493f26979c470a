// The HAL under the Disco monitor (the "disco" flavour, docs/monitor-abi.md):
// the kernel runs in the relocated kseg0, CP0 registers without side effects
// are loads and stores on the vCPU's register page (regpage.h), the others
// ordinary mfc0/mtc0 that trap and are emulated (cp0.c), and every device is
// a monitor call (a syscall from virtual kernel mode) instead of MMIO: there
// is no kseg1 to reach them.
#include "types.h"
#include "param.h"
#include "mips.h"
#include "memlayout.h"
#include "regpage.h"
#include "mcall.h"
#include "hal.h"
#include "defs.h"

#define INFO_PAGES    0
#define INFO_NVCPUS   2
#define INFO_CLOCK_HZ 4



#ifndef DISCO_TRAPS_CP0  // (that build uses cp0.c's trapping versions)
// ---- CP0 through the register page -------------------------------------------
// The functions cp0.c keeps for the native flavour, as loads and stores on the
// page (no trap). A compiler barrier keeps the kernel's memory accesses on
// their side of an interrupt-enable change, as the "memory" clobber of DI/EI does.
#define barrier() asm volatile("" ::: "memory")

int
hal_cpuid(void)
{
  return regpage[RP_EBASE] & 0x3FF;
}

void
hal_cpu_init(void)
{
  regpage[RP_STATUS] = 0;
  // EBase at kseg0, CPUNum kept (a store has no write mask to keep it for us);
  // the monitor finds the vectors at 0xC0000000 + (EBase & 0x1FFFF000).
  regpage[RP_EBASE] = KSEG0 | (regpage[RP_EBASE] & 0x3FF);
  regpage[RP_STATUS] = ST_IM(IRQ_UART) | ST_IM(IRQ_DISK) | ST_IM(IRQ_IPI) | ST_IM(IRQ_TIMER);
}

int
hal_intr_get(void)
{
  return (regpage[RP_STATUS] & ST_IE) != 0;
}

void
hal_intr_on(void)
{
  barrier();
  uint st = regpage[RP_STATUS] | ST_IE;
  regpage[RP_STATUS] = st;
  // An interrupt posted while IE was clear waits in Cause: one call lets it in.
  // (One that arrives after the store is delivered by the monitor anyway.)
  if (regpage[RP_CAUSE] & st & 0xFF00)
    mcall(MC_INTR_PENDING, 0, 0, 0, 0);
}

void
hal_intr_off(void)
{
  // An interrupt between the load and the store returns with the same Status.
  regpage[RP_STATUS] &= ~ST_IE;
  barrier();
}

uint
hal_status_user(void)
{
  // EXL stays set until ERET, so restoring this cannot take an interrupt early.
  return (regpage[RP_STATUS] & 0xFF00) | ST_UM | ST_EXL | ST_IE;
}

uint
hal_trap_enter(void)
{
  // Still kernel mode (the real CPU stays in supervisor mode): no trap needed.
  uint s = regpage[RP_STATUS];
  regpage[RP_STATUS] = s & ~(ST_EXL | ST_KSU | ST_IE);
  return s;
}

void
hal_tlb_init(void)
{
  regpage[RP_PAGEMASK] = 0;
  w_c0_wired(0);  // side effect: Random restarts
  regpage[RP_CONTEXT] = (uint)hal_cpuid() << 23;
  hal_tlb_flush();
}

static int
tlb_size(void)
{
  return ((r_c0_config1() >> 25) & 0x3F) + 1;
}

// An entry that can never match (it stays in the virtual TLB only). EntryHi
// goes through the page: the ASID the hardware translates with changes only by
// MTC0 (hal_set_asid), and the callers put the old value back before they
// return.
static void
tlb_kill(int i)
{
  regpage[RP_ENTRYHI] = KSEG0 + ((uint)i << 13);
  regpage[RP_ENTRYLO0] = 0;
  regpage[RP_ENTRYLO1] = 0;
  regpage[RP_INDEX] = i;
  asm volatile("tlbwi; ehb" ::: "memory");
}

void
hal_tlb_flush(void)
{
  uint hi = regpage[RP_ENTRYHI];
  int n = tlb_size();
  for (int i = 0; i < n; i++)
    tlb_kill(i);
  regpage[RP_ENTRYHI] = hi;
}

void
hal_tlb_invalidate(uint va, uint asid)
{
  uint hi = regpage[RP_ENTRYHI];
  regpage[RP_ENTRYHI] = (va & ~0x1FFFu) | (asid & 0xFF);
  asm volatile("tlbp; ehb" ::: "memory");
  int idx = regpage[RP_INDEX];
  if (idx >= 0)
    tlb_kill(idx);
  regpage[RP_ENTRYHI] = hi;
}
#endif

// The kernel's boot code reads the machine-description block; a VM has none,
// so the words it asks for are answered from the INFO call: one node, one
// memory range [0, the VM's size), the vCPU count and the clock.
#define FAKE_MEMTABLE 0x100

uint
hal_machdesc(uint off)
{
  switch (off) {
  case 0x00: return 0x444D5744;                                  // "DWMD"
  case 0x08: return 1;                                           // nodes
  case 0x0C: return mcall(MC_INFO, INFO_NVCPUS, 0, 0, 0);        // CPUs
  case 0x18: return mcall(MC_INFO, INFO_CLOCK_HZ, 0, 0, 0);      // clock
  case 0x1C: return 1;                                           // memory ranges
  case 0x20: return 0;                                           // devices
  case 0x34: return FAKE_MEMTABLE;
  case FAKE_MEMTABLE + 8: return mcall(MC_INFO, INFO_PAGES, 0, 0, 0) << PGSHIFT;
  default: return 0;                                             // base, high words
  }
}

void
hal_devices_init(void)
{
}

void
hal_uart_putc(int c)
{
  mcall(MC_PUTC, c & 0xFF, 0, 0, 0);
}

int
hal_uart_getc(void)
{
  return (int)mcall(MC_GETC, 0, 0, 0, 0);
}

void
hal_uart_ack(void)
{
  // GETC lowers the console interrupt once the input is drained.
}

int
hal_disk_rw(int unit, uint sector, uint count, uint pa, int write)
{
  // The monitor copies between the VM's disk and guest-physical memory in
  // the one trap, so the request is complete when the call returns.
  return (int)mcall(write ? MC_DISK_WRITE : MC_DISK_READ, sector, pa, count, unit);
}

uint
hal_disk_sectors(int unit)
{
  uint n = mcall(MC_DISK_INFO, unit, 0, 0, 0);
  return n == 0xFFFFFFFFu ? 0 : n;
}

void
hal_disk_ack(void)
{
}

uint
hal_rtc_seconds(void)
{
  return mcall(MC_RTC, 0, 0, 0, 0);
}

void
hal_ipi_send(uint64 mask)
{
  mcall(MC_IPI, (uint)mask, (uint)(mask >> 32), 0, 0);
}

void
hal_ipi_ack(void)
{
  mcall(MC_IPI_ACK, 0, 0, 0, 0);
}

void
hal_poweroff(uint code)
{
  // The kernel's panics (their report is already on the console) stop the VM
  // as a guest panic; everything else is an exit with the code.
  static const char trapmsg[] = "kernel trap (exit code 0x71)";
  static const char panicmsg[] = "kernel panic (exit code 0x70)";
  if (code == 0x70)
    mcall(MC_PANIC, (uint)panicmsg, sizeof panicmsg - 1, 0, 0);
  if (code == 0x71)
    mcall(MC_PANIC, (uint)trapmsg, sizeof trapmsg - 1, 0, 0);
  for (;;)
    mcall(MC_EXIT, code, 0, 0, 0);
}
