/* param.h - limits of the machine core. */
#ifndef DC_PARAM_H
#define DC_PARAM_H

#define MAX_CPUS 64             /* CPUs per machine */
#define MIN_TLB 4               /* TLB entry pairs per CPU */
#define MAX_TLB 64              /* Config1.MMUSize holds at most 64 */
#define PAGE_SHIFT 12
#define PAGE_SIZE 4096u
#define PAGE_WORDS 1024u        /* instructions per 4 KiB page */
#define STLB_BITS 8             /* host soft TLB: 256 slots per mode */
#define STLB_SIZE (1u << STLB_BITS)
#define STLB_MASK (STLB_SIZE - 1)
#define MAX_MMIO 64             /* device ranges */
#define MAX_BREAK 256           /* breakpoints per machine */
#define MAX_WATCH 16            /* watchpoints per machine */
#define L2TLB_MAX_ENTRIES (1u << 20)   /* C side of the monitor's L2TLB, per vCPU */
#define L2TLB_GLOBAL 256        /* the asid of an entry that matches every ASID */
#define MAX_QUANTUM 1000000u

#define RAM_MIN (4096ull)
#define RAM_MAX (16ull << 30)
/* Physical layout: RAM from 0 up to the device window, the rest from 512 MiB.
   kseg1 reaches the window, so devices live there. */
#define DEV_WINDOW_BASE 0x1F000000ull
#define DEV_WINDOW_END 0x20000000ull
#define HIGH_RAM_BASE 0x20000000ull

#endif
