// Hardware abstraction layer: every privileged instruction and device register
// access of the kernel's C code goes through these functions. hal_native.c
// implements them on the bare machine; hal_disco.c (the "disco" flavour,
// -DDISCO) under the Disco monitor, with devices through monitor calls. The
// trap vectors in entry.S serve both (CP0 accesses trap and are emulated).

// --- CPU ---
int  hal_cpuid(void);               // this CPU's number (0 .. ncpu-1)
void hal_cpu_init(void);            // per-CPU start: kernel mode, interrupts off, EBase,
                                    // interrupt masks for every line the kernel uses
void hal_vectors_install(void);     // copy the refill and general vectors to EBase (CPU 0)
int  hal_intr_get(void);            // 1 if interrupts are enabled
void hal_intr_on(void);
void hal_intr_off(void);
void hal_wait(void);                // idle until an unmasked interrupt is pending
                                    // (returns with interrupts as they were)
uint hal_status_user(void);         // a Status value that enters user mode on trap return
uint hal_trap_enter(void);          // called first in trap(): leave exception level with
                                    // interrupts off and kernel mode; returns nothing useful

// --- timer (10 ms ticks) ---
void hal_timer_init(uint clock_hz); // arm the first tick on this CPU
void hal_timer_ack(void);           // acknowledge the tick and arm the next one

// --- TLB and address spaces ---
void hal_tlb_init(void);            // this CPU: 4 KiB pages, no wired entries, empty TLB,
                                    // Context.PTEBase = CPU number (the refill handler's key)
void hal_tlb_flush(void);           // invalidate every entry on this CPU
void hal_tlb_invalidate(uint va, uint asid); // drop the pair mapping va under asid, if present
void hal_set_asid(uint asid);       // current ASID (EntryHi.ASID) for user accesses

// --- devices ---
uint hal_machdesc(uint off);        // a word of the machine-description block
void hal_devices_init(void);        // find devices in the description block
void hal_uart_putc(int c);          // send one byte on the console
int  hal_uart_getc(void);           // next received byte, or -1
void hal_uart_ack(void);            // acknowledge the UART's receive interrupt
int  hal_disk_rw(int unit, uint sector, uint count, uint pa, int write); // 0 or -1
uint hal_disk_sectors(int unit);    // capacity in sectors (0: no such disk)
void hal_disk_ack(void);            // acknowledge every disk's completion interrupt
uint hal_rtc_seconds(void);         // Unix time from the RTC
void hal_ipi_send(uint64 mask);     // interrupt every CPU whose bit is set
void hal_ipi_ack(void);             // acknowledge this CPU's pending IPIs
void hal_poweroff(uint code) __attribute__((noreturn)); // stop the machine with an exit code
