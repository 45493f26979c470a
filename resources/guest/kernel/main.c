// Kernel start: CPU 0 sets the system up and releases the others.
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "spinlock.h"
#include "proc.h"
#include "hal.h"
#include "defs.h"

void trapinithart(void);

static volatile int started = 0;

// Every CPU enters here from entry.S with its CPU number.
void
main(int cpu)
{
  hal_cpu_init();
  if (cpu == 0) {
    if (hal_machdesc(0) != 0x444D5744)
      hal_poweroff(0x73);   // no machine-description block: not our machine
    hal_devices_init();
    consoleinit();
    printfinit();
    ncpu = hal_machdesc(0x0C);
    if (ncpu > NCPU)
      ncpu = NCPU;
    uint hz = hal_machdesc(0x18);
    kinit();
    printf("\ndisco-unix: %d cpus on %d nodes, %d MiB, %d MHz\n", ncpu, hal_machdesc(0x08),
           ram_bytes >> 20, hz / 1000000);
    hal_vectors_install();
    vminit();
    trapinit(hz);
    procinit();
    binit();
    shminit();
    netinit();
    userinit();
    hal_tlb_init();
    trapinithart();
    netinithart();
    __sync_synchronize();
    started = 1;
  } else {
    while (started == 0)
      ;
    __sync_synchronize();
    hal_tlb_init();
    trapinithart();
    netinithart();
  }
  scheduler();
}
