/* cpu.c - machine lifecycle, CPU reset and the run loop.
 * All CPUs are interleaved in one host thread: CPU 0 runs until its cycle
 * counter reaches the end of the current round (a quantum of cycles), then
 * CPU 1, and so on. Rounds are fixed in simulated time, so how the host
 * slices dc_run() calls never changes what the guest sees. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

static _Thread_local char config_err[256];

void set_error(dc_machine *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m ? m->err : config_err, sizeof config_err, fmt, ap);
    va_end(ap);
}

const char *dc_config_error(void) { return config_err; }
const char *dc_last_error(dc_machine *m) { return m->err; }

const char *dc_strerror(dc_err e)
{
    switch (e) {
    case DC_OK: return "ok";
    case DC_ERR_CONFIG: return "impossible configuration";
    case DC_ERR_NOMEM: return "out of host memory";
    case DC_ERR_RANGE: return "out of range";
    case DC_ERR_ARG: return "bad argument";
    case DC_ERR_STATE: return "not allowed in this state";
    case DC_ERR_SNAPSHOT: return "bad snapshot";
    case DC_ERR_BUG: return "internal error";
    }
    return "unknown error";
}

/* Hardware reset (MD00090 §6.2.x Reset): BEV and ERL set, pc at the reset
 * vector; all but CPU 0 parked. */
void cpu_reset(dc_machine *m, cpu *c, uint32_t id)
{
    memset(&c->a, 0, sizeof c->a);
    c->id = id;
    c->m = m;
    c->a.pc = RESET_VECTOR;
    c->a.npc = RESET_VECTOR + 4;
    c->a.status = STATUS_BEV | STATUS_ERL;
    c->a.prid = m->cfg.prid;
    c->a.ebase = KSEG0 | id;
    c->a.config0 = (1u << 31) | (1u << 10) | (1u << 7) | 3u;  /* M, AR=r2, MT=TLB, K0 */
    c->a.state = id == 0 ? DC_CPU_RUNNING : DC_CPU_PARKED;
    c->a.fetch_line = UINT64_MAX;
    c->a.ownership = DC_NATIVE;
    /* distinct, never-matching entries: kseg0 is unmapped */
    for (uint32_t i = 0; i < MAX_TLB; i++)
        c->a.tlb[i].hi = KSEG0 + i * 0x2000u;
    cp0_update_mode(c);
    cp0_set_deadline(c, 0);
    c->far_entry.h = g_labels[OP_FAR];
    c->far_entry.op = OP_FAR;
    c->bp_skip = 0;
    stlb_flush(c);
}

static int check_config(const dc_config *cfg)
{
    if (cfg->ncpus < 1 || cfg->ncpus > MAX_CPUS) {
        set_error(NULL, "cpus = %u is out of range: a machine has 1 to %d CPUs",
                  cfg->ncpus, MAX_CPUS);
        return 0;
    }
    if (cfg->tlb_entries < MIN_TLB || cfg->tlb_entries > MAX_TLB) {
        set_error(NULL, "tlb_entries = %u is out of range: use %d to %d entry pairs",
                  cfg->tlb_entries, MIN_TLB, MAX_TLB);
        return 0;
    }
    if (cfg->ram_bytes < RAM_MIN || cfg->ram_bytes > RAM_MAX || cfg->ram_bytes % PAGE_SIZE) {
        set_error(NULL, "ram_bytes = %llu is not allowed: use a multiple of 4096 "
                  "from 4 KiB to 16 GiB", (unsigned long long)cfg->ram_bytes);
        return 0;
    }
    if (cfg->quantum < 1 || cfg->quantum > MAX_QUANTUM) {
        set_error(NULL, "quantum = %u is out of range: use 1 to %u cycles",
                  cfg->quantum, MAX_QUANTUM);
        return 0;
    }
    if (cfg->nodes < 1 || cfg->nodes > MAX_CPUS || cfg->ncpus % cfg->nodes) {
        set_error(NULL, "nodes = %u does not fit %u CPUs: use 1 to 64 nodes that divide "
                  "the CPUs evenly", cfg->nodes, cfg->ncpus);
        return 0;
    }
    if (cfg->ram_bytes % ((uint64_t)cfg->nodes * PAGE_SIZE)) {
        set_error(NULL, "ram_bytes = %llu does not split into %u nodes of whole 4 KiB pages",
                  (unsigned long long)cfg->ram_bytes, cfg->nodes);
        return 0;
    }
    if (cfg->line_bytes < 32 || cfg->line_bytes > PAGE_SIZE ||
        (cfg->line_bytes & (cfg->line_bytes - 1))) {
        set_error(NULL, "line_bytes = %u is not allowed: use a power of two from 32 to 4096",
                  cfg->line_bytes);
        return 0;
    }
    if (cfg->l1_ways < 1 || cfg->l1_ways > 16 || cfg->l2_ways < 1 || cfg->l2_ways > 16) {
        set_error(NULL, "cache ways (l1 %u, l2 %u) are out of range: use 1 to 16",
                  cfg->l1_ways, cfg->l2_ways);
        return 0;
    }
    if (cfg->l1_bytes < cfg->line_bytes * cfg->l1_ways || cfg->l1_bytes > (64u << 20) ||
        cfg->l2_bytes < cfg->line_bytes * cfg->l2_ways || cfg->l2_bytes > (64u << 20)) {
        set_error(NULL, "cache sizes (l1 %u, l2 %u bytes) are out of range: at least one line "
                  "per way, at most 64 MiB", cfg->l1_bytes, cfg->l2_bytes);
        return 0;
    }
    uint32_t l1_sets = cfg->l1_bytes / cfg->line_bytes / cfg->l1_ways;
    uint32_t l2_sets = cfg->l2_bytes / cfg->line_bytes / cfg->l2_ways;
    if ((l1_sets & (l1_sets - 1)) || (l2_sets & (l2_sets - 1))) {
        set_error(NULL, "cache geometry (l1 %u, l2 %u bytes, %u-byte lines) must give a "
                  "power-of-two number of sets", cfg->l1_bytes, cfg->l2_bytes, cfg->line_bytes);
        return 0;
    }
    if (cfg->cpu_model > DC_CPU_LINUX) {
        set_error(NULL, "cpu_model = %u is not a CPU model: use 0 (classic) or 1 (linux)",
                  cfg->cpu_model);
        return 0;
    }
    const uint32_t lat[] = {cfg->lat_l2, cfg->lat_local, cfg->lat_remote, cfg->lat_hop,
                            cfg->lat_dirty};
    for (int i = 0; i < 5; i++) {
        if (lat[i] > 1000000) {
            set_error(NULL, "a latency of %u cycles is out of range: use 0 to 1000000", lat[i]);
            return 0;
        }
    }
    return 1;
}

static void *reserve(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

dc_err dc_machine_new(const dc_config *cfg, dc_machine **out)
{
    *out = NULL;
    if (!check_config(cfg))
        return DC_ERR_CONFIG;
    if (!g_labels[0])
        exec_init();
    dc_machine *m = calloc(1, sizeof *m);
    if (!m)
        return DC_ERR_NOMEM;
    m->cfg = *cfg;
    m->ram_size = cfg->ram_bytes;
    m->low_ram = cfg->ram_bytes < DEV_WINDOW_BASE ? cfg->ram_bytes : DEV_WINDOW_BASE;
    m->npages = cfg->ram_bytes >> PAGE_SHIFT;
    m->ram = reserve(m->ram_size);
    m->dpages = reserve(m->npages * sizeof(dpage *));
    m->touched = reserve(m->npages);
    m->cpus = calloc(cfg->ncpus, sizeof(cpu));
    if (!m->ram || !m->dpages || !m->touched || !m->cpus) {
        set_error(NULL, "could not reserve %llu bytes of host memory for the guest",
                  (unsigned long long)m->ram_size);
        dc_machine_free(m);
        return DC_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < cfg->ncpus; i++)
        cpu_reset(m, &m->cpus[i], i);
    if (!fabric_init(m)) {
        set_error(NULL, "could not allocate the caches and directory of the fabric");
        dc_machine_free(m);
        return DC_ERR_NOMEM;
    }
    m->epoch_end = cfg->quantum;
    *out = m;
    return DC_OK;
}

void dc_machine_free(dc_machine *m)
{
    if (!m)
        return;
    if (m->dpages) {
        dpages_drop_all(m);
        munmap(m->dpages, m->npages * sizeof(dpage *));
    }
    if (m->ram)
        munmap(m->ram, m->ram_size);
    if (m->touched)
        munmap(m->touched, m->npages);
    fabric_free(m);
    handle_free_all(&m->l2tabs);
    handle_free_all(&m->ktabs);
    free(m->cpus);
    free(m);
}

/* Every started CPU waits with nothing to wake it; returns 1 and moves time
 * to the round holding the earliest timer interrupt that will wake one, or
 * 0 when only the host can wake them. */
static int idle_fast_forward(dc_machine *m)
{
    uint64_t earliest = UINT64_MAX;
    for (uint32_t i = 0; i < m->cfg.ncpus; i++) {
        cpu *c = &m->cpus[i];
        if (c->a.state == DC_CPU_RUNNING)
            return 1;
        if (c->a.state == DC_CPU_WAITING) {
            if (irq_wakes(c))
                return 1;
            if ((c->a.status & (1u << (STATUS_IM_SHIFT + TIMER_IP))) &&
                c->a.timer_deadline < earliest)
                earliest = c->a.timer_deadline;
        }
    }
    if (earliest == UINT64_MAX)
        return 0;
    uint64_t q = m->cfg.quantum;
    uint64_t start = earliest - earliest % q;
    if (start > m->epoch_end) {
        for (uint32_t i = 0; i < m->cfg.ncpus; i++)
            m->cpus[i].a.cycles = start;
        m->epoch_end = start;
    }
    return 1;
}

static void exit_clear(dc_exit *ex)
{
    memset(ex, 0, sizeof *ex);
    ex->cpu = -1;
}

dc_err dc_run(dc_machine *m, uint64_t budget, dc_exit *ex)
{
    exit_clear(ex);
    uint64_t left = budget;
    uint32_t n = m->cfg.ncpus;
    for (;;) {
        if (m->halted) {
            ex->reason = DC_EXIT_HALT;
            ex->halt_code = m->halt_code;
            break;
        }
        if (left == 0) {
            ex->reason = DC_EXIT_BUDGET;
            break;
        }
        cpu *c = &m->cpus[m->cur];
        if (c->a.cycles < m->epoch_end) {
            if (c->a.cycles >= c->a.timer_deadline)
                cp0_timer_fire(c);
            if (c->a.state == DC_CPU_PARKED) {
                c->a.cycles = m->epoch_end;
                continue;
            }
            if (c->a.state == DC_CPU_WAITING) {
                if (irq_wakes(c)) {
                    c->a.state = DC_CPU_RUNNING;
                } else {
                    uint64_t t = m->epoch_end;
                    if (c->a.timer_deadline < t)
                        t = c->a.timer_deadline;
                    c->a.cycles = t;
                    continue;
                }
            }
            uint64_t slice = m->epoch_end - c->a.cycles;
            if (c->a.timer_deadline - c->a.cycles < slice)
                slice = c->a.timer_deadline - c->a.cycles;
            c->cycle_limit = c->a.cycles + slice;
            if (slice > left)
                slice = left;
            uint64_t done = cpu_exec(m, c, slice, ex);
            c->a.cycles += done;
            c->a.stats.instructions += done;
            left -= done;
            if (ex->reason != DC_EXIT_NONE) {
                ex->cpu = (int32_t)c->id;
                break;
            }
            continue;
        }
        /* this CPU's turn is over: a reservation never spans another CPU's turn */
        if (n > 1)
            c->a.llbit = 0;
        if (++m->cur == n) {
            m->cur = 0;
            if (!idle_fast_forward(m)) {
                ex->reason = DC_EXIT_WAIT;
                break;
            }
            m->epoch_end += m->cfg.quantum;
        }
    }
    ex->executed = budget - left;
    if (ex->cpu >= 0)
        ex->pc = m->cpus[ex->cpu].a.pc;
    return DC_OK;
}

dc_err dc_step(dc_machine *m, uint32_t cpu_id, dc_exit *ex)
{
    exit_clear(ex);
    CHECK_CPU(m, cpu_id);
    cpu *c = &m->cpus[cpu_id];
    ex->cpu = (int32_t)cpu_id;
    if (m->halted) {
        ex->reason = DC_EXIT_HALT;
        ex->halt_code = m->halt_code;
        return DC_OK;
    }
    if (c->a.state == DC_CPU_WAITING && irq_wakes(c))
        c->a.state = DC_CPU_RUNNING;
    if (c->a.state == DC_CPU_RUNNING) {
        c->bp_skip = 1;     /* a step always executes the instruction */
        c->bp_skip_va = c->a.pc;
        c->cycle_limit = UINT64_MAX;
        uint64_t done = cpu_exec(m, c, 1, ex);
        c->a.cycles += done;
        c->a.stats.instructions += done;
        ex->executed = done;
        if (c->a.cycles >= c->a.timer_deadline)
            cp0_timer_fire(c);
    }
    if (ex->reason == DC_EXIT_NONE)
        ex->reason = DC_EXIT_STEP;
    ex->pc = c->a.pc;
    return DC_OK;
}

void dc_halt(dc_machine *m, uint32_t code)
{
    m->halted = 1;
    m->halt_code = code;
}

int dc_halted(dc_machine *m) { return (int)m->halted; }

uint32_t dc_halt_code(dc_machine *m) { return m->halt_code; }

void dc_halt_clear(dc_machine *m)
{
    m->halted = 0;
    m->halt_code = 0;
}
