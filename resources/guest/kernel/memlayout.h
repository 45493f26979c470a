// Physical and virtual memory layout.
//
// The kernel runs in kseg0 (unmapped, VA = PA + 0x80000000), linked at
// 0x80010000; exception vectors are copied to EBase = 0x80000000. Devices
// are reached uncached through kseg1. User space is kuseg, mapped per process.
// The disco flavour moves all of this to the relocated kseg0 (0xC0000000 + PA)
// and has no kseg1: its devices are monitor calls.

#define KSEG0        0x80000000u
#define KSEG1        0xA0000000u
// Where the kernel sees physical memory: kseg0 natively. Under the Disco
// monitor (the "disco" flavour, -DDISCO) kseg0 is unreachable and this is the
// relocated kseg0 at 0xC0000000, mapped by the monitor (docs/monitor-abi.md).
#ifdef DISCO
#define KERNBASE     0xC0010000u
#define KVBASE       0xC0000000u
#else
#define KERNBASE     0x80010000u
#define KVBASE       KSEG0
#endif
#define P2V(pa)      ((void *)((uint)(pa) + KVBASE))
#define V2P(va)      ((uint)(va) - KVBASE)
#define DEVWINDOW    0x1F000000u      // RAM below this is reachable through kseg0

#define MACHDESC     0x1F000000u      // machine-description block (physical)

#define PGSIZE       4096
#define PGSHIFT      12
#define PGROUNDUP(a)   (((a) + PGSIZE - 1) & ~(PGSIZE - 1))
#define PGROUNDDOWN(a) ((a) & ~(PGSIZE - 1))

// User address space (docs/guest-abi.md).
#define UTEXT        0x00400000u
#define USHMBASE     0x70000000u      // shmat segments
#define USTACKTOP    0x7FFF0000u
#define USTACKMAX    (1u << 20)       // stack grows down on demand up to 1 MiB
#define UMAXHEAP     USHMBASE         // the heap may not reach the segments
#define UTOP         0x80000000u

// Page directory: 1024 entries of 4 MiB, each a kseg0 pointer to a page of 1024 PTEs.
#define PDX(va)      (((uint)(va) >> 22) & 0x3FF)
#define PTX(va)      (((uint)(va) >> 12) & 0x3FF)
#define NPDUSER      512              // directory entries below UTOP
