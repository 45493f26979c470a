/* dc.h - the public C API of the Disco Workbench machine core.
 *
 * The first of the two public headers (dc_assist.h, the monitor's assists,
 * follows it). Both are read by the C compiler and by cffi's cdef parser
 * (core_c/build.py concatenates them, in that order), so they hold no
 * #include and no conditionals; build.py replaces enum values with "..." so
 * the compiler supplies them. Include <stdint.h> and <stddef.h> before this
 * file.
 *
 * Shape: opaque handle, error codes with one detail string per machine, a
 * KVM-like exit record from dc_run(), bulk access through caller buffers.
 */

typedef struct dc_machine dc_machine;

typedef enum dc_err {
    DC_OK = 0,
    DC_ERR_CONFIG = 1,      /* impossible configuration: see dc_last_error() */
    DC_ERR_NOMEM = 2,       /* the host could not reserve memory */
    DC_ERR_RANGE = 3,       /* address or index out of range */
    DC_ERR_ARG = 4,         /* bad argument */
    DC_ERR_STATE = 5,       /* call not allowed in the machine's current state */
    DC_ERR_SNAPSHOT = 6,    /* snapshot damaged or of another configuration */
    DC_ERR_BUG = 7          /* internal inconsistency */
} dc_err;

typedef struct dc_config {
    uint32_t ncpus;         /* 1..64 */
    uint32_t tlb_entries;   /* TLB entry pairs per CPU, 4..64 */
    uint64_t ram_bytes;     /* multiple of 4 KiB; split evenly over the nodes */
    uint32_t quantum;       /* cycles per CPU turn */
    uint32_t prid;          /* CP0 PRId value */
    /* ccNUMA fabric (docs/fabric.md) */
    uint32_t nodes;         /* 1..64; CPUs are split evenly over the nodes */
    uint32_t timing;        /* start in timing mode (caches + fabric) */
    uint32_t l1_bytes;      /* per L1 (I and D each) */
    uint32_t l2_bytes;
    uint32_t line_bytes;    /* cache line and directory unit: 32..4096, power of 2 */
    uint32_t l1_ways, l2_ways;
    uint32_t lat_l2;        /* cycles for an L1 miss that hits in L2 */
    uint32_t lat_local;     /* cycles for a miss served by local memory */
    uint32_t lat_remote;    /* cycles for a miss served by a remote node, one hop */
    uint32_t lat_hop;       /* extra cycles per further hop */
    uint32_t lat_dirty;     /* extra cycles when the line is dirty in another cache */
    uint32_t hot_threshold; /* misses from one node to one page that report it; 0 = off */
    uint32_t cpu_model;     /* DC_CPU_CLASSIC (0) or DC_CPU_LINUX (1): see docs/cpu.md */
} dc_config;

/* CPU models (dc_config.cpu_model). CLASSIC is the R10000-flavoured core every
 * machine had first; LINUX adds what an unmodified Linux kernel expects of a
 * MIPS32r2 core: Config1/Config2 describing the simulated caches, Config3.ULRI
 * with UserLocal readable by `rdhwr $29`, Config7 saying the caches do not
 * alias (they are physically indexed). */
typedef enum dc_cpu_model {
    DC_CPU_CLASSIC = 0,
    DC_CPU_LINUX = 1
} dc_cpu_model;

typedef enum dc_exit_reason {
    DC_EXIT_NONE = 0,
    DC_EXIT_BUDGET = 1,     /* budget spent */
    DC_EXIT_MMIO = 2,       /* access to a device range */
    DC_EXIT_EXCEPTION = 3,  /* exception on a MONITORED cpu: it did not vector */
    DC_EXIT_BREAKPOINT = 4, /* about to execute a breakpoint address */
    DC_EXIT_STEP = 5,       /* dc_step() finished */
    DC_EXIT_WAIT = 6,       /* every started CPU waits and no timer is due */
    DC_EXIT_HALT = 7,       /* the machine was halted */
    DC_EXIT_HOTPAGE = 8,    /* pages passed the hot threshold: dc_hot_pages() */
    DC_EXIT_WATCHPOINT = 9  /* an instruction accessed a watched range (it completed) */
} dc_exit_reason;

typedef enum dc_ownership {
    DC_NATIVE = 0,          /* exceptions vector into the guest as on hardware */
    DC_MONITORED = 1        /* exceptions exit to the host */
} dc_ownership;

typedef enum dc_cpu_state {
    DC_CPU_RUNNING = 0,
    DC_CPU_WAITING = 1,     /* executed WAIT; wakes on an unmasked interrupt */
    DC_CPU_PARKED = 2       /* not started */
} dc_cpu_state;

/* KVM_EXIT_MMIO-like */
typedef struct dc_exit_mmio {
    uint64_t pa;
    uint64_t value;         /* data written, or 0 for a read */
    uint32_t size;          /* 1, 2 or 4 */
    uint32_t is_write;
    uint32_t device;        /* id given to dc_mmio_map() */
    uint32_t offset;        /* pa - device base */
} dc_exit_mmio;

typedef struct dc_exit_exception {
    uint32_t code;          /* Cause.ExcCode */
    uint32_t pc;            /* the faulting instruction */
    uint32_t epc;           /* what EPC would be: the branch if in a delay slot */
    uint32_t badvaddr;
    uint32_t insn;          /* the faulting instruction word (0 on fetch faults) */
    uint32_t bd;            /* in a branch delay slot */
    uint32_t ce;            /* coprocessor number for Coprocessor Unusable */
    uint32_t refill;        /* TLB miss with no matching entry (refill vector) */
    uint32_t mode;          /* 0 kernel, 1 supervisor, 2 user at the fault */
} dc_exit_exception;

typedef struct dc_exit_watch {
    uint32_t va;            /* the accessed address */
    uint32_t size;
    uint32_t is_write;
    uint32_t pc;            /* the accessing instruction */
    uint64_t value;         /* the value loaded or stored */
} dc_exit_watch;

typedef struct dc_exit {
    uint32_t reason;        /* dc_exit_reason */
    int32_t cpu;            /* -1 when no single CPU */
    uint64_t executed;      /* instructions executed by this call */
    uint32_t pc;            /* the cpu's pc at the exit */
    uint32_t halt_code;     /* DC_EXIT_HALT */
    dc_exit_mmio mmio;
    dc_exit_exception exception;
    dc_exit_watch watch;
} dc_exit;

/* The register file as one block, for bulk reads and writes. */
typedef struct dc_regs {
    uint32_t gpr[32];
    uint32_t pc;
    uint32_t npc;           /* next pc: the branch target when in a delay slot */
    uint32_t hi;
    uint32_t lo;
    uint32_t bd;            /* pc is in a branch delay slot */
    uint32_t llbit;
} dc_regs;

/* Every register of one CPU that a register view or a snapshot shows, read
 * in one call (dc_cpu_regs_get): the register file, then CP0 as MFC0 would
 * read it now (select 0 unless named). */
typedef struct dc_cpu_regs {
    dc_regs regs;
    uint32_t index, random, entrylo0, entrylo1, context, pagemask, wired, hwrena;
    uint32_t badvaddr, count, entryhi, compare, status, cause, epc, prid;
    uint32_t ebase;         /* PRId select 1 */
    uint32_t config;
    uint32_t lladdr, watchlo, watchhi, errorepc;
    uint32_t userlocal;     /* Context select 2 */
    uint32_t pad;
} dc_cpu_regs;

/* Words of a CPU's live register view (dc_regs_view). */
typedef enum dc_reg {
    DC_REG_GPR = 0,         /* word n = GPR n, 0..31 (word 0 reads 0) */
    DC_REG_PC = 34,
    DC_REG_NPC = 35,        /* next pc: the branch target when in a delay slot */
    DC_REG_BD = 36,         /* pc is in a branch delay slot */
    DC_REG_LLBIT = 37,
    DC_REG_HI = 38,
    DC_REG_LO = 39,
    DC_REG_WORDS = 40
} dc_reg;

/* Memory access classes of the timing model (docs/fabric.md). */
typedef enum dc_miss_class {
    DC_MISS_L2_HIT = 0,     /* L1 miss served by the L2 */
    DC_MISS_LOCAL = 1,      /* L2 miss served by this node's memory */
    DC_MISS_REMOTE = 2,     /* L2 miss served by a remote node's memory */
    DC_MISS_DIRTY = 3,      /* L2 miss served by another CPU's dirty cache (3-hop) */
    DC_MISS_UPGRADE = 4,    /* write to a shared line: invalidate the other copies */
    DC_MISS_UNCACHED = 5    /* uncached (kseg1) access to memory */
} dc_miss_class;

typedef struct dc_cpu_stats {
    uint64_t instructions;
    uint64_t cycles;
    uint64_t tlb_refills;   /* exceptions taken to the refill vector or exits with refill */
    uint64_t interrupts;
    uint64_t exceptions[32];/* by ExcCode */
    uint64_t stall_cycles;  /* cycles spent waiting on memory (timing mode) */
    uint64_t misses[6];     /* by dc_miss_class */
    uint64_t miss_cycles[6];
    uint64_t ifetch_misses; /* of the misses above, instruction fetches */
    uint64_t invalidations; /* copies this CPU's writes invalidated */
    uint64_t l2tlb_refills; /* TLB refills served in C by the monitor's assists (no exit) */
} dc_cpu_stats;

typedef struct dc_node_stats {
    uint64_t local_served;  /* misses from this node served by its memory */
    uint64_t remote_served; /* misses from other nodes served by its memory */
    uint64_t writebacks;    /* dirty lines written back to its memory */
    uint64_t pages_touched; /* its RAM pages ever written */
} dc_node_stats;

typedef struct dc_hot_page {
    uint64_t page;          /* RAM page number (physical page in low RAM) */
    uint32_t node;          /* the node whose misses crossed the threshold */
    uint32_t count;
} dc_hot_page;

/* Lifecycle */
dc_err dc_machine_new(const dc_config *cfg, dc_machine **out);
void dc_machine_free(dc_machine *m);
const char *dc_last_error(dc_machine *m);
const char *dc_config_error(void);
const char *dc_strerror(dc_err e);

/* Running */
dc_err dc_run(dc_machine *m, uint64_t budget, dc_exit *exit);
dc_err dc_step(dc_machine *m, uint32_t cpu, dc_exit *exit);
dc_err dc_mmio_complete(dc_machine *m, uint32_t cpu, uint64_t value);
void dc_halt(dc_machine *m, uint32_t code);
int dc_halted(dc_machine *m);
uint32_t dc_halt_code(dc_machine *m);
void dc_halt_clear(dc_machine *m);

/* Memory */
dc_err dc_mem_read(dc_machine *m, uint64_t pa, void *buf, size_t len);
dc_err dc_mem_write(dc_machine *m, uint64_t pa, const void *buf, size_t len);
dc_err dc_mem_view(dc_machine *m, uint64_t pa, size_t len, uint8_t **out);
dc_err dc_virt_read(dc_machine *m, uint32_t cpu, uint32_t va, void *buf, size_t len);
dc_err dc_translate(dc_machine *m, uint32_t cpu, uint32_t va, int is_write, uint64_t *pa);
dc_err dc_mmio_map(dc_machine *m, uint64_t base, uint64_t size, uint32_t device);

/* CPUs */
dc_err dc_regs_get(dc_machine *m, uint32_t cpu, dc_regs *out);
dc_err dc_regs_set(dc_machine *m, uint32_t cpu, const dc_regs *in);
/* Every register a view shows, CP0 included, in one call. */
dc_err dc_cpu_regs_get(dc_machine *m, uint32_t cpu, dc_cpu_regs *out);
/* A live read-only view of the CPU's registers, DC_REG_WORDS words indexed by
 * dc_reg: valid while the machine lives, current whenever no dc_run or
 * dc_step is under way. Reading one register costs no call. */
dc_err dc_regs_view(dc_machine *m, uint32_t cpu, const uint32_t **out);
/* Write one register: a GPR (word 0 stays 0), DC_REG_HI or DC_REG_LO. */
dc_err dc_reg_set(dc_machine *m, uint32_t cpu, uint32_t reg, uint32_t value);
dc_err dc_cpu_cycles(dc_machine *m, uint32_t cpu, uint64_t *out);
dc_err dc_set_pc(dc_machine *m, uint32_t cpu, uint32_t pc);
dc_err dc_cpu_advance(dc_machine *m, uint32_t cpu);
dc_err dc_cp0_read(dc_machine *m, uint32_t cpu, uint32_t reg, uint32_t sel, uint32_t *out);
dc_err dc_cp0_write(dc_machine *m, uint32_t cpu, uint32_t reg, uint32_t sel, uint32_t value);
dc_err dc_cpu_start(dc_machine *m, uint32_t cpu, uint32_t pc);
dc_err dc_cpu_state_get(dc_machine *m, uint32_t cpu, uint32_t *state);
dc_err dc_set_ownership(dc_machine *m, uint32_t cpu, uint32_t ownership);
dc_err dc_get_ownership(dc_machine *m, uint32_t cpu, uint32_t *ownership);
dc_err dc_set_irq(dc_machine *m, uint32_t cpu, uint32_t line, int level);
dc_err dc_cpu_stats_get(dc_machine *m, uint32_t cpu, dc_cpu_stats *out);
/* Add simulated cycles to a CPU: the monitor charges its own work this way. */
dc_err dc_cpu_charge(dc_machine *m, uint32_t cpu, uint64_t cycles);
/* TLB entry `index` as (EntryHi, EntryLo0, EntryLo1, PageMask), G in both EntryLo. */
dc_err dc_tlb_read(dc_machine *m, uint32_t cpu, uint32_t index, uint32_t out[4]);
/* The whole TLB at once: 4 words per entry as dc_tlb_read gives them, for the
 * first `max` entries; *n is set to the number of entries. */
dc_err dc_tlb_dump(dc_machine *m, uint32_t cpu, uint32_t *out, uint32_t max, uint32_t *n);
/* Write entry `index` as TLBWI would (EntryHi, EntryLo0, EntryLo1, PageMask),
 * without touching the CPU's CP0 registers: the monitor's way in. */
dc_err dc_tlb_write(dc_machine *m, uint32_t cpu, uint32_t index, const uint32_t in[4]);
/* Invalidate every entry (the monitor flushes the TLB on a vCPU switch). */
dc_err dc_tlb_flush(dc_machine *m, uint32_t cpu);

/* ccNUMA fabric */
dc_err dc_set_timing(dc_machine *m, int on);
int dc_timing(dc_machine *m);
dc_err dc_node_stats_get(dc_machine *m, uint32_t node, dc_node_stats *out);
/* Per page per node miss counters: pages x nodes uint32, valid while the machine lives. */
dc_err dc_miss_counters(dc_machine *m, uint32_t **out, uint64_t *pages, uint32_t *nodes);
void dc_miss_counters_reset(dc_machine *m);
/* Drop physical [pa, pa + len) from every cache and the directory, without
 * writebacks: the monitor changed that memory behind the caches (page copies). */
dc_err dc_cache_flush_phys(dc_machine *m, uint64_t pa, size_t len);
/* How many lines of physical [pa, pa + len) some cache holds modified. */
dc_err dc_dirty_lines(dc_machine *m, uint64_t pa, size_t len, uint32_t *out);
/* Per link message counters: nodes x dims uint64 (hypercube link (n, n ^ 1 << d)). */
dc_err dc_link_counters(dc_machine *m, uint64_t **out, uint32_t *nodes, uint32_t *dims);
uint32_t dc_hops(dc_machine *m, uint32_t from, uint32_t to);
uint32_t dc_home_node(dc_machine *m, uint64_t pa);
/* Drain reported hot pages into buf; returns how many were written. */
uint32_t dc_hot_pages(dc_machine *m, dc_hot_page *buf, uint32_t max);

/* Breakpoints on virtual addresses; cpu = -1 for every CPU. */
dc_err dc_break_add(dc_machine *m, int32_t cpu, uint32_t va);
dc_err dc_break_remove(dc_machine *m, int32_t cpu, uint32_t va);

/* Data watchpoints on virtual ranges; cpu = -1 for every CPU. flags: 1 read, 2 write.
 * Accesses to watched pages take the slow path, so watchpoints cost nothing
 * elsewhere. */
dc_err dc_watch_add(dc_machine *m, int32_t cpu, uint32_t va, uint32_t len, uint32_t flags);
dc_err dc_watch_remove(dc_machine *m, int32_t cpu, uint32_t va, uint32_t len, uint32_t flags);

/* Snapshots: the whole machine as bytes. */
size_t dc_snapshot_size(dc_machine *m);
dc_err dc_snapshot_save(dc_machine *m, void *buf, size_t len, size_t *written);
dc_err dc_snapshot_load(dc_machine *m, const void *buf, size_t len);
