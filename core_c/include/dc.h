/* dc.h - the public C API of the Disco Workbench machine core.
 *
 * The only public header. It is read both by the C compiler and by cffi's
 * cdef parser (core_c/build.py), so it holds no #include and no conditionals;
 * build.py replaces enum values with "..." so the compiler supplies them.
 * Include <stdint.h> and <stddef.h> before this file.
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
    uint64_t ram_bytes;     /* multiple of 4 KiB */
    uint32_t quantum;       /* cycles per CPU turn */
    uint32_t prid;          /* CP0 PRId value */
} dc_config;

typedef enum dc_exit_reason {
    DC_EXIT_NONE = 0,
    DC_EXIT_BUDGET = 1,     /* budget spent */
    DC_EXIT_MMIO = 2,       /* access to a device range */
    DC_EXIT_EXCEPTION = 3,  /* exception on a MONITORED cpu: it did not vector */
    DC_EXIT_BREAKPOINT = 4, /* about to execute a breakpoint address */
    DC_EXIT_STEP = 5,       /* dc_step() finished */
    DC_EXIT_WAIT = 6,       /* every started CPU waits and no timer is due */
    DC_EXIT_HALT = 7        /* the machine was halted */
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

typedef struct dc_exit {
    uint32_t reason;        /* dc_exit_reason */
    int32_t cpu;            /* -1 when no single CPU */
    uint64_t executed;      /* instructions executed by this call */
    uint32_t pc;            /* the cpu's pc at the exit */
    uint32_t halt_code;     /* DC_EXIT_HALT */
    dc_exit_mmio mmio;
    dc_exit_exception exception;
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

typedef struct dc_cpu_stats {
    uint64_t instructions;
    uint64_t cycles;
    uint64_t tlb_refills;   /* exceptions taken to the refill vector or exits with refill */
    uint64_t interrupts;
    uint64_t exceptions[32];/* by ExcCode */
} dc_cpu_stats;

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

/* Memory */
dc_err dc_mem_read(dc_machine *m, uint64_t pa, void *buf, size_t len);
dc_err dc_mem_write(dc_machine *m, uint64_t pa, const void *buf, size_t len);
dc_err dc_mem_view(dc_machine *m, uint64_t pa, size_t len, uint8_t **out);
dc_err dc_virt_read(dc_machine *m, uint32_t cpu, uint32_t va, void *buf, size_t len);
dc_err dc_translate(dc_machine *m, uint32_t cpu, uint32_t va, int is_write, uint64_t *pa);
dc_err dc_mmio_map(dc_machine *m, uint64_t base, uint64_t size, uint32_t device);
uint64_t dc_ram_size(dc_machine *m);

/* CPUs */
dc_err dc_regs_get(dc_machine *m, uint32_t cpu, dc_regs *out);
dc_err dc_regs_set(dc_machine *m, uint32_t cpu, const dc_regs *in);
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
dc_err dc_tlb_read(dc_machine *m, uint32_t cpu, uint32_t index, uint32_t out[4]);

/* Breakpoints on virtual addresses; cpu = -1 for every CPU. */
dc_err dc_break_add(dc_machine *m, int32_t cpu, uint32_t va);
dc_err dc_break_remove(dc_machine *m, int32_t cpu, uint32_t va);

/* Snapshots: the whole machine as bytes. */
size_t dc_snapshot_size(dc_machine *m);
dc_err dc_snapshot_save(dc_machine *m, void *buf, size_t len, size_t *written);
dc_err dc_snapshot_load(dc_machine *m, const void *buf, size_t len);
