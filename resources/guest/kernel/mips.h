// MIPS32r2 CP0 registers and bits (names as in the PRA, MD00090), with tiny accessors.
// Only hal_native.c and entry.S may use the accessors: everything else goes
// through hal.h so the paravirtual flavour can replace them.

// CP0 register numbers.
#define C0_INDEX     0
#define C0_RANDOM    1
#define C0_ENTRYLO0  2
#define C0_ENTRYLO1  3
#define C0_CONTEXT   4
#define C0_PAGEMASK  5
#define C0_WIRED     6
#define C0_BADVADDR  8
#define C0_COUNT     9
#define C0_ENTRYHI  10
#define C0_COMPARE  11
#define C0_STATUS   12
#define C0_CAUSE    13
#define C0_EPC      14
#define C0_PRID     15
#define C0_CONFIG   16

// Status.
#define ST_IE      (1u << 0)   // interrupt enable
#define ST_EXL     (1u << 1)   // exception level
#define ST_ERL     (1u << 2)   // error level
#define ST_UM      (1u << 4)   // KSU = user (bit 4 of KSU)
#define ST_KSU     (3u << 3)   // kernel/supervisor/user mode
#define ST_IM(n)   (1u << (8 + (n)))  // interrupt mask for IP(n)
#define ST_BEV     (1u << 22)  // bootstrap exception vectors
#define ST_CU0     (1u << 28)

// Cause.
#define CAUSE_EXC(c)  (((c) >> 2) & 0x1f)
#define CAUSE_IP(n)   (1u << (8 + (n)))
#define CAUSE_BD      (1u << 31)

// Exception codes.
#define EXC_INT    0
#define EXC_MOD    1
#define EXC_TLBL   2
#define EXC_TLBS   3
#define EXC_ADEL   4
#define EXC_ADES   5
#define EXC_IBE    6
#define EXC_DBE    7
#define EXC_SYS    8
#define EXC_BP     9
#define EXC_RI    10
#define EXC_CPU   11
#define EXC_OV    12
#define EXC_TR    13

// Interrupt lines (Cause.IP2..IP7 are hardware lines 0..5).
#define IRQ_UART   2
#define IRQ_DISK   3
#define IRQ_NIC    4
#define IRQ_IPI    5
#define IRQ_TIMER  7

// EntryLo bits: the kernel's PTEs are EntryLo words, plus two software bits
// in 31..30, which MTC0 drops (EntryLo's writable mask is 0x3FFFFFFF).
#define PTE_G      (1u << 0)
#define PTE_V      (1u << 1)
#define PTE_D      (1u << 2)   // dirty = writable
#define PTE_C      (3u << 3)   // cacheable
#define PTE_SHM    (1u << 30)  // software: shared-memory page, never copy-on-write
#define PTE_COW    (1u << 31)  // software: copy-on-write
#define PTE2PA(pte)  ((((pte) >> 6) & 0xFFFFFF) << 12)
#define PA2PTE(pa)   ((((uint)(pa)) >> 12) << 6)

#define _STR(x) #x
#define STR(x) _STR(x)

#define r_c0(reg, sel) ({ uint _v; \
  asm volatile("mfc0 %0, $" STR(reg) ", " STR(sel) : "=r"(_v)); _v; })
#define w_c0(reg, sel, v) \
  asm volatile("mtc0 %0, $" STR(reg) ", " STR(sel) "; ehb" :: "r"((uint)(v)) : "memory")

static inline uint r_c0_status(void)    { return r_c0(12, 0); }
static inline void w_c0_status(uint v)  { w_c0(12, 0, v); }
static inline uint r_c0_cause(void)     { return r_c0(13, 0); }
static inline uint r_c0_count(void)     { return r_c0(9, 0); }
static inline uint r_c0_compare(void)   { return r_c0(11, 0); }
static inline void w_c0_compare(uint v) { w_c0(11, 0, v); }
static inline uint r_c0_entryhi(void)   { return r_c0(10, 0); }
static inline void w_c0_entryhi(uint v) { w_c0(10, 0, v); }
static inline void w_c0_entrylo0(uint v){ w_c0(2, 0, v); }
static inline void w_c0_entrylo1(uint v){ w_c0(3, 0, v); }
static inline uint r_c0_index(void)     { return r_c0(0, 0); }
static inline void w_c0_index(uint v)   { w_c0(0, 0, v); }
static inline void w_c0_pagemask(uint v){ w_c0(5, 0, v); }
static inline void w_c0_wired(uint v)   { w_c0(6, 0, v); }
static inline void w_c0_context(uint v) { w_c0(4, 0, v); }
static inline uint r_c0_ebase(void)     { return r_c0(15, 1); }
static inline void w_c0_ebase(uint v)   { w_c0(15, 1, v); }
static inline uint r_c0_config1(void)   { return r_c0(16, 1); }
