/* internal.h - private structures of the machine core. */
#ifndef DC_INTERNAL_H
#define DC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "include/dc.h"
#include "include/dc_assist.h"
#include "mips.h"
#include "param.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* ---- decoded instructions (decode.c) ---------------------------------- */

/* One decoded instruction. `h` is the handler's label address in exec.c
 * (threaded code); `op` indexes the same table. Destination registers that
 * are r0 are decoded as REG_SINK so handlers never need to test for r0. */
typedef struct dinsn {
    const void *h;
    uint8_t op, rs, rt, rd;
    int32_t imm;
} dinsn;

#define REG_SINK 32

/* Decoded code for one physical page, plus a sentinel entry that moves
 * execution onto the next virtual page. Never freed while the machine runs,
 * so pointers into it stay valid; a store into the page marks the stored
 * words undecoded instead. */
typedef struct dpage {
    dinsn insn[PAGE_WORDS + 1];
    uint8_t *host;              /* the page's RAM */
} dpage;

/* dpages are allocated on this alignment so an entry finds its page. */
#define DPAGE_ALIGN 32768u

/* Conditional branches whose target or delay slot leaves the page carry
 * this flag in `rd` and take the slow "far" path. */
#define BR_FAR 1

#include "ops.h"

enum {
#define X(name) OP_##name,
    OPS(X)
#undef X
    OP_COUNT
};

extern const void *g_labels[OP_COUNT];
void decode(uint32_t w, dinsn *d, uint32_t index);

/* ---- host soft TLB (softtlb.c) ----------------------------------------- */

/* A host-side cache of recent translations, one array per processor mode,
 * kept apart from the architectural TLB. Tags are (va page | ASID << 4), so
 * an ASID change needs no flush. A write tag exists only for writable pages
 * that hold no decoded code, so stores into code always take the slow path. */
typedef struct stlb_entry {
    uint32_t rtag;
    uint32_t wtag;
    uintptr_t addend;           /* host address = addend + va */
} stlb_entry;

#define STLB_INVALID 1u         /* bit 0 is never set in a valid tag */

/* ---- architectural TLB (tlb.c) ----------------------------------------- */

typedef struct tlb_entry {
    uint32_t hi;                /* EntryHi: VPN2 | ASID */
    uint32_t lo0, lo1;          /* EntryLo0/1 as written (G folded below) */
    uint32_t mask;              /* PageMask */
    uint32_t g;                 /* G of lo0 AND lo1 */
} tlb_entry;

/* ---- ccNUMA fabric (cache.c, directory.c, fabric.c, counters.c) -------- */

/* A cache holds tags only: the simulation keeps one copy of memory, so a
 * cache decides timing, never values. A tag is the line number + 1 (0 is an
 * invalid way). */
typedef struct cache {
    uint32_t *tag;              /* sets x ways */
    uint8_t *state;             /* LINE_SHARED or LINE_MODIFIED per way */
    uint8_t *next;              /* per set: the way to evict next */
    uint32_t sets, ways;
} cache;

#define LINE_SHARED 1
#define LINE_MODIFIED 2
#define MAX_HOT 256

/* The common case of a timed access, inline: the line is in the L1 with the
 * needed permission. Sets are a power of two (checked with the config). */
static inline int l1_hit(cache *k, uint32_t line, int store)
{
    uint32_t base = (line & (k->sets - 1)) * k->ways;
    for (uint32_t w = 0; w < k->ways; w++) {
        if (k->tag[base + w] == line + 1) {
            if (store && k->state[base + w] != LINE_MODIFIED)
                return 0;
            if (k->ways == 2)
                k->next[base >> 1] = (uint8_t)(w ^ 1);
            return 1;
        }
    }
    return 0;
}

int cache_init(cache *k, uint32_t bytes, uint32_t line_bytes, uint32_t ways);
void cache_free(cache *k);
int cache_find(const cache *k, uint32_t line, uint32_t *slot);   /* 1 if present */
/* insert; returns the evicted line + 1 (0 when none) and its state */
uint32_t cache_insert(cache *k, uint32_t line, uint8_t state, uint8_t *victim_state);
void cache_drop(cache *k, uint32_t line);
void cache_set_state(cache *k, uint32_t line, uint8_t state);
void cache_touch(cache *k, uint32_t slot);

/* ---- the monitor's C assists (assist.c, hwtlb.c, l2tlb.c, ktab.c, cp0assist.c) */

#define HW_GLOBAL 256           /* the key ASID of an entry that matches every ASID */

typedef struct l2tlb_slot {
    uint32_t key;               /* 1 << 31 | vpn2 << 9 | asid (256 = global), 0 = empty */
    uint32_t lo[2];             /* even/odd page: EntryLo | 1 << 31 when Python has it */
} l2tlb_slot;

/* the words of a vCPU's register page (disco_core/monitor/regpage.py: word i
 * = register i of the layout), which cp0assist.c and l2tlb.c read and write */
enum { RP_STATUS, RP_CAUSE, RP_EPC, RP_BADVADDR, RP_ENTRYHI, RP_ENTRYLO0, RP_ENTRYLO1,
       RP_CONTEXT, RP_PAGEMASK, RP_INDEX, RP_EBASE, RP_ERROREPC, RP_USERLOCAL };
/* the page's own TLB pair in the relocated kseg0: the monitor serves it */
#define REGPAGE_PAIR 0xDFFFE000u

/* the CP0 instructions cp0assist.c serves, by kind */
enum { CP0K_MFC0, CP0K_MTC0, CP0K_DI, CP0K_EI, CP0K_ERET, CP0K_REFLECT, CP0K_TLBP, CP0K_TLBR,
       CP0K_COUNT };

/* one entry of a vCPU's virtual TLB, as the guest wrote it (vcpu.py TlbEntry) */
typedef struct vtlb_entry {
    uint32_t hi, lo0, lo1, mask, g;
} vtlb_entry;

/* one vCPU's table: its L2TLB (every pair of the Python one: open addressing
 * with linear probing, at most half full), its virtual TLB and register page */
typedef struct l2tlb {
    uint64_t served;            /* refills served since the monitor last took the count */
    uint64_t l2_hits, l2_misses;    /* L2TLB lookups of the reflections served */
    uint32_t cost;              /* cycles charged per refill */
    uint32_t nslots, used;      /* slots (a power of two), pairs held */
    uint32_t vt_n;              /* virtual TLB entries mirrored (0: none) */
    vtlb_entry vt[MAX_TLB];
    uint32_t has_regpage;       /* CP0 instructions are served (cp0assist.c) */
    uint64_t regpage;           /* RAM offset of the vCPU's register page */
    uint64_t cp0_served[CP0K_COUNT];
    uint32_t cp0_cost[CP0K_COUNT];
    uint32_t real_super, real_user; /* the real Status for guest kernel / other modes */
    uint32_t progressed;        /* an ERET entered guest user mode (the watchdog's progress) */
    l2tlb_slot slots[];
} l2tlb;

/* one VM's relocated-kseg0 pairs: [node][gpn / 2] -> lo0, lo1 (0, 0 = unknown) */
typedef struct ktab {
    uint64_t served;
    uint32_t cost, npages, nodes, pairs;
    uint32_t lo[];
} ktab;

/* ---- CPU ---------------------------------------------------------------- */

/* Everything architectural about one CPU, as plain data: a snapshot copies
 * it whole. Host caches live in `cpu` outside this block. Its first
 * DC_REG_WORDS words are the public register view (dc_regs_view, dc.h's
 * dc_reg numbers them; api.c checks the layout). */
typedef struct cpu_arch {
    uint32_t gpr[34];           /* 32 = write sink for r0, 33 = padding */
    uint32_t pc, npc, bd, llbit;
    uint32_t hi, lo;
    /* CP0 */
    uint32_t index, entrylo0, entrylo1, context, pagemask, wired, hwrena;
    uint32_t badvaddr, entryhi, compare, status, intctl, srsctl, cause;
    uint32_t epc, prid, ebase, config0, lladdr, watchlo, watchhi, errorepc;
    uint32_t userlocal, pad0;   /* UserLocal (Context select 2, MIPS32r2) */
    uint32_t count_bias;        /* Count = cycles/2 + count_bias */
    uint32_t irq_lines;         /* hardware lines 0..5 (IP2..IP7) */
    uint32_t state;             /* dc_cpu_state */
    uint32_t ownership;         /* dc_ownership */
    uint32_t mmio_ready;        /* a completed MMIO read waits for its load */
    uint32_t ll_va;             /* virtual address of the last LL */
    uint64_t random_epoch;      /* cycle of the last Wired write (Random restarts) */
    uint64_t mmio_value;
    uint64_t mmio_pa;
    uint64_t cycles;
    uint64_t timer_deadline;    /* cycle at which Count reaches Compare */
    uint64_t fetch_line;        /* timing: RAM offset of the instruction line last fetched */
    tlb_entry tlb[MAX_TLB];
    dc_cpu_stats stats;
} cpu_arch;

typedef struct cpu {
    cpu_arch a;
    uint32_t id;
    uint32_t mode;              /* MODE_KERNEL/SUPER/USER, from Status */
    uint32_t bp_skip;           /* resume over a breakpoint at bp_skip_va */
    uint32_t bp_skip_va;
    stlb_entry stlb[3][STLB_SIZE];
    dinsn far_entry;            /* execution continues at far_target */
    uint32_t far_target;
    int fault_refill;           /* set by the slow paths with a TLB ExcCode */
    uint32_t node;              /* the node this CPU sits on */
    uint32_t stop_reason;       /* end the run after this instruction (HOTPAGE, WATCHPOINT) */
    uint64_t cycle_limit;       /* the turn (or timer) ends at this cycle: stalls count */
    dc_exit_watch watch_hit;    /* the access that hit a watchpoint */
    cache l1i, l1d, l2;
    uint32_t hw_next;           /* the monitor's round robin over TLB indices (hwtlb.c) */
    l2tlb *l2t;                 /* the running vCPU's L2TLB assist, or NULL */
    ktab *kt;                   /* the running VM's kseg table, or NULL */
    struct dc_machine *m;
} cpu;

/* ---- machine ------------------------------------------------------------ */

typedef struct mmio_range {
    uint64_t base, size;
    uint32_t device;
} mmio_range;

typedef struct breakpoint {
    uint32_t va;
    int32_t cpu;
} breakpoint;

typedef struct watchpoint {
    uint32_t va, len, flags;
    int32_t cpu;
} watchpoint;

/* handles.c: numbered assist tables (handle = slot + 1; 0 = none) */
typedef struct handle_table {
    void **items;
    uint32_t n;
} handle_table;

struct dc_machine {
    dc_config cfg;
    uint8_t *ram;               /* reserved with mmap: pages commit on touch */
    uint64_t ram_size;
    uint64_t low_ram;           /* RAM below the device window */
    uint64_t npages;
    dpage **dpages;             /* per RAM page: decoded code, or NULL */
    uint8_t *touched;           /* per RAM page: ever written (for snapshots) */
    mmio_range mmio[MAX_MMIO];
    uint32_t nmmio;
    breakpoint bps[MAX_BREAK];
    uint32_t nbps;
    watchpoint watches[MAX_WATCH];
    uint32_t nwatch;
    uint32_t cur;               /* CPU whose turn it is */
    uint32_t halted;
    uint32_t halt_code;
    uint32_t pad;
    uint64_t epoch_end;         /* cycle at which the current round ends */
    char err[256];
    cpu *cpus;
    /* fabric */
    uint32_t timing;            /* caches and fabric are simulated */
    uint32_t nodes, cpus_per_node, dims, link_nodes;
    uint64_t node_bytes;        /* RAM per node */
    uint32_t line_shift;
    uint64_t nlines;
    uint64_t *dir_sharers;      /* per memory line: CPUs holding it */
    uint8_t *dir_owner;         /* per memory line: CPU + 1 holding it modified, or 0 */
    uint32_t *counters;         /* per RAM page per node: cache misses */
    uint64_t *links;            /* per node per hypercube dimension: messages */
    dc_node_stats *node_stats;
    dc_hot_page hot[MAX_HOT];
    uint32_t nhot;
    /* the monitor's assist tables, by handle (handles.c) */
    handle_table l2tabs;        /* l2tlb * */
    handle_table ktabs;         /* ktab * */
};

/* ---- cross-file internals ----------------------------------------------- */

/* cpu.c */
void cpu_reset(dc_machine *m, cpu *c, uint32_t id);
void set_error(dc_machine *m, const char *fmt, ...);
/* the public calls' check of a CPU number: DC_ERR_RANGE, with the message, if none */
#define CHECK_CPU(m, id) do { if ((id) >= (m)->cfg.ncpus) { \
        set_error((m), "cpu %u does not exist: the machine has %u CPUs (0..%u)", \
                  (unsigned)(id), (m)->cfg.ncpus, (m)->cfg.ncpus - 1); \
        return DC_ERR_RANGE; } } while (0)

/* exec.c: run up to `budget` instructions; returns the number executed.
 * Sets ex->reason when the host must act. */
uint64_t cpu_exec(dc_machine *m, cpu *c, uint64_t budget, dc_exit *ex);
void exec_init(void);

/* cp0.c */
void cp0_update_mode(cpu *c);
uint32_t cp0_read(cpu *c, uint32_t reg, uint32_t sel, uint64_t now);
/* cp0_write returns 0, or flags: re-enter execution (mode, ASID, interrupt
 * state changed) and/or end the slice (the timer deadline moved). */
#define CP0_RETRANSLATE 1
#define CP0_RESLICE 2
int cp0_write(cpu *c, uint32_t reg, uint32_t sel, uint32_t v, uint64_t now);
void cp0_set_deadline(cpu *c, uint64_t now);
void cp0_timer_fire(cpu *c);
uint32_t cp0_random(cpu *c, uint64_t now);
int irq_pending(const cpu *c);     /* an interrupt would be taken now */
int irq_wakes(const cpu *c);       /* an unmasked interrupt is signalled */
void cause_update_ip(cpu *c);

/* tlb.c */
enum { ACC_LOAD = 0, ACC_STORE = 1, ACC_FETCH = 2 };
typedef struct xlate {
    uint64_t pa;
    int refill;                 /* TLB miss with no matching entry */
    int writable;               /* a store would not raise Mod */
} xlate;
int translate(cpu *c, uint32_t va, int acc, xlate *x);   /* 0 or ExcCode */
int tlb_lookup(const cpu *c, uint32_t va, uint32_t asid);
void tlb_set(cpu *c, uint32_t i, uint32_t hi, uint32_t lo0, uint32_t lo1, uint32_t mask);
void tlbwi(cpu *c);
void tlbwr(cpu *c, uint64_t now);
void tlbp(cpu *c);
void tlbr(cpu *c);

/* exception.c */
void take_exception(cpu *c, uint32_t code, uint32_t pc, int bd, uint32_t badva,
                    int refill, uint32_t ce);

/* fabric.c: charge one access in timing mode; returns stall cycles */
uint32_t fabric_access(dc_machine *m, cpu *c, uint64_t ramoff, int acc, int uncached);
/* directory.c: drop a line from every cache (memory changed behind them) */
void coherence_flush(dc_machine *m, uint32_t line);
uint32_t coherence_dirty_lines(dc_machine *m, uint64_t off, uint64_t len);
uint32_t fabric_latency(const dc_machine *m, uint32_t from, uint32_t home);
uint32_t hops(uint32_t a, uint32_t b);
static inline uint32_t line_home(const dc_machine *m, uint64_t line)
{
    return (uint32_t)((line << m->line_shift) / m->node_bytes);
}
int fabric_init(dc_machine *m);
void fabric_free(dc_machine *m);
/* directory.c */
uint32_t coherence_miss(dc_machine *m, cpu *c, uint32_t line, int acc, int *cls);
uint32_t coherence_upgrade(dc_machine *m, cpu *c, uint32_t line);
void coherence_evict(dc_machine *m, cpu *c, uint32_t line, uint8_t state);
/* counters.c */
void count_miss(dc_machine *m, cpu *c, uint32_t line);
void count_route(dc_machine *m, uint32_t from, uint32_t to);

/* assist.c: the interpreter's one entry into the assists, for an exception of a
 * MONITORED cpu: 1 when it was served without an exit (*cost: cycles to charge) */
int monitor_assist(dc_machine *m, cpu *c, uint32_t code, uint32_t badva, uint32_t ce,
                   uint32_t pc, int bd, uint32_t *cost);
/* the assists it calls: 0 when they do not serve the exception */
int l2tlb_refill(dc_machine *m, cpu *c, uint32_t va, int code, uint32_t pc, int bd);
int ktab_fault(cpu *c, uint32_t va, int store);
dc_err l2tlb_table(dc_machine *m, uint32_t handle, l2tlb **out);
/* handles.c */
dc_err handle_add(handle_table *t, void *item, uint32_t *handle);
void *handle_get(const handle_table *t, uint32_t handle);    /* NULL: no such handle */
void handle_remove(handle_table *t, uint32_t handle);       /* frees the item */
void handle_free_all(handle_table *t);
/* cp0assist.c: 0, or 1 + the CP0K_ kind of the instruction it emulated */
int cp0_assist(dc_machine *m, cpu *c, uint32_t insn);
int sys_reflect(dc_machine *m, cpu *c, uint32_t pc, int bd);
int reflect_tlb(dc_machine *m, cpu *c, uint32_t code, uint32_t pc, int bd, uint32_t va,
                int refill);
/* l2tlb.c: the guest's TLBP and TLBR on the virtual TLB copy; 0 = exit */
int vtlb_probe(cpu *c, uint32_t *regpage);
int vtlb_read(cpu *c, uint32_t *regpage);
/* hwtlb.c */
void hw_install(cpu *c, uint32_t vpn2, uint32_t asid, uint32_t lo0, uint32_t lo1);
void hw_remove(cpu *c, uint32_t vpn2, uint32_t asid);
void hw_invalidate_mpn(dc_machine *m, uint32_t mpn);

/* mem.c: watchpoints */
int watch_page(const dc_machine *m, uint32_t va);
void watch_check(dc_machine *m, cpu *c, uint32_t va, uint32_t size, int is_write, uint32_t v);

/* softtlb.c */
void stlb_flush(cpu *c);
void stlb_flush_range(cpu *c, uint32_t va, uint32_t len);
void stlb_fill(dc_machine *m, cpu *c, uint32_t va, uint64_t ramoff, int writable);
void stlb_purge_writes(dc_machine *m, uint64_t page);

/* mem.c */
int pa_to_ram(const dc_machine *m, uint64_t pa, uint64_t *off);
int fetch_word(dc_machine *m, cpu *c, uint32_t va, uint32_t *out);
const mmio_range *mmio_find(const dc_machine *m, uint64_t pa);
dpage *dpage_get(dc_machine *m, uint64_t page);
void code_invalidate(dc_machine *m, uint64_t off, uint64_t len);
void dpages_drop_all(dc_machine *m);
/* slow paths: return 0, an ExcCode, or MEM_MMIO when the access went to a
 * device (ex filled in). */
#define MEM_MMIO (-1)
int mem_load_slow(dc_machine *m, cpu *c, uint32_t va, uint32_t size, uint32_t *val,
                  dc_exit *ex);
int mem_store_slow(dc_machine *m, cpu *c, uint32_t va, uint32_t size, uint32_t val,
                   dc_exit *ex);
/* SWL/SWR: word = (word & ~mask) | bits at aligned `wa`; devices give DBE */
int mem_merge_slow(dc_machine *m, cpu *c, uint32_t wa, uint32_t mask, uint32_t bits);

#endif
