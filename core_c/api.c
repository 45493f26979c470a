/* api.c - the public entry points that are not the run loop: argument
 * checks first, then calls inward. Errors leave a message in m->err that
 * names the value, the limit and the fix. */
#include "internal.h"

#define CHECK_CP0(m, reg, sel) do { if ((reg) > 31 || (sel) > 7) { \
        set_error((m), "CP0 register %u select %u does not exist (registers 0..31, " \
                  "select 0..7)", (reg), (sel)); \
        return DC_ERR_RANGE; } } while (0)

/* Resolve [pa, pa+len) to one contiguous RAM run. */
static dc_err ram_span(dc_machine *m, uint64_t pa, size_t len, uint64_t *off)
{
    if (len == 0) {
        *off = 0;
        return DC_OK;
    }
    uint64_t first, last;
    if (!pa_to_ram(m, pa, &first) || !pa_to_ram(m, pa + len - 1, &last) ||
        last - first != len - 1) {
        set_error(m, "physical range 0x%llx..0x%llx is not RAM: RAM is 0x0..0x%llx%s",
                  (unsigned long long)pa, (unsigned long long)(pa + len),
                  (unsigned long long)m->low_ram,
                  m->ram_size > m->low_ram ? " and from 0x20000000" : "");
        return DC_ERR_RANGE;
    }
    *off = first;
    return DC_OK;
}

dc_err dc_mem_read(dc_machine *m, uint64_t pa, void *buf, size_t len)
{
    uint64_t off;
    dc_err e = ram_span(m, pa, len, &off);
    if (e)
        return e;
    memcpy(buf, m->ram + off, len);
    return DC_OK;
}

dc_err dc_mem_write(dc_machine *m, uint64_t pa, const void *buf, size_t len)
{
    uint64_t off;
    dc_err e = ram_span(m, pa, len, &off);
    if (e || len == 0)
        return e;
    memcpy(m->ram + off, buf, len);
    for (uint64_t p = off >> PAGE_SHIFT; p <= (off + len - 1) >> PAGE_SHIFT; p++)
        m->touched[p] = 1;
    code_invalidate(m, off, len);
    /* like a DMA write: reservations on the written memory are broken */
    for (uint32_t i = 0; i < m->cfg.ncpus; i++)
        m->cpus[i].a.llbit = 0;
    return DC_OK;
}

dc_err dc_cache_flush_phys(dc_machine *m, uint64_t pa, size_t len)
{
    uint64_t off;
    dc_err e = ram_span(m, pa, len, &off);
    if (e || len == 0)
        return e;
    for (uint64_t l = off >> m->line_shift; l <= (off + len - 1) >> m->line_shift; l++)
        coherence_flush(m, (uint32_t)l);
    return DC_OK;
}

dc_err dc_dirty_lines(dc_machine *m, uint64_t pa, size_t len, uint32_t *out)
{
    uint64_t off;
    dc_err e = ram_span(m, pa, len, &off);
    if (e)
        return e;
    *out = len ? coherence_dirty_lines(m, off, len) : 0;
    return DC_OK;
}

dc_err dc_mem_view(dc_machine *m, uint64_t pa, size_t len, uint8_t **out)
{
    uint64_t off;
    dc_err e = ram_span(m, pa, len, &off);
    if (e)
        return e;
    for (uint64_t p = off >> PAGE_SHIFT; len && p <= (off + len - 1) >> PAGE_SHIFT; p++)
        m->touched[p] = 1;  /* the host may write through the view */
    *out = m->ram + off;
    return DC_OK;
}

dc_err dc_translate(dc_machine *m, uint32_t cpu_id, uint32_t va, int is_write, uint64_t *pa)
{
    CHECK_CPU(m, cpu_id);
    xlate x;
    int r = translate(&m->cpus[cpu_id], va, is_write ? ACC_STORE : ACC_LOAD, &x);
    if (r) {
        set_error(m, "virtual address 0x%08x does not translate on cpu %u (exception code %d)",
                  va, cpu_id, r);
        return DC_ERR_RANGE;
    }
    *pa = x.pa;
    return DC_OK;
}

dc_err dc_virt_read(dc_machine *m, uint32_t cpu_id, uint32_t va, void *buf, size_t len)
{
    CHECK_CPU(m, cpu_id);
    uint8_t *out = buf;
    while (len) {
        uint32_t chunk = PAGE_SIZE - (va & (PAGE_SIZE - 1));
        if (chunk > len)
            chunk = (uint32_t)len;
        uint64_t pa;
        dc_err e = dc_translate(m, cpu_id, va, 0, &pa);
        if (e)
            return e;
        e = dc_mem_read(m, pa, out, chunk);
        if (e)
            return e;
        out += chunk;
        va += chunk;
        len -= chunk;
    }
    return DC_OK;
}

dc_err dc_mmio_map(dc_machine *m, uint64_t base, uint64_t size, uint32_t device)
{
    uint64_t off;
    if (size == 0 || base + size < base) {
        set_error(m, "device range of size %llu at 0x%llx is empty or wraps",
                  (unsigned long long)size, (unsigned long long)base);
        return DC_ERR_ARG;
    }
    if (m->nmmio >= MAX_MMIO) {
        set_error(m, "too many device ranges: at most %d", MAX_MMIO);
        return DC_ERR_RANGE;
    }
    if (pa_to_ram(m, base, &off) || pa_to_ram(m, base + size - 1, &off) ||
        (base < m->low_ram) || (base < HIGH_RAM_BASE + (m->ram_size - m->low_ram) &&
                                base + size > HIGH_RAM_BASE && m->ram_size > m->low_ram)) {
        set_error(m, "device range 0x%llx..0x%llx overlaps RAM; put devices in the window "
                  "0x1F000000..0x20000000", (unsigned long long)base,
                  (unsigned long long)(base + size));
        return DC_ERR_RANGE;
    }
    for (uint32_t i = 0; i < m->nmmio; i++) {
        const mmio_range *r = &m->mmio[i];
        if (base < r->base + r->size && r->base < base + size) {
            set_error(m, "device range 0x%llx..0x%llx overlaps device %u at 0x%llx..0x%llx",
                      (unsigned long long)base, (unsigned long long)(base + size), r->device,
                      (unsigned long long)r->base, (unsigned long long)(r->base + r->size));
            return DC_ERR_RANGE;
        }
    }
    m->mmio[m->nmmio].base = base;
    m->mmio[m->nmmio].size = size;
    m->mmio[m->nmmio].device = device;
    m->nmmio++;
    return DC_OK;
}

dc_err dc_mmio_complete(dc_machine *m, uint32_t cpu_id, uint64_t value)
{
    CHECK_CPU(m, cpu_id);
    cpu *c = &m->cpus[cpu_id];
    c->a.mmio_ready = 1;
    c->a.mmio_value = value;
    return DC_OK;
}

/* the register view is the start of cpu_arch: its layout is the public one */
_Static_assert(offsetof(cpu_arch, gpr) == DC_REG_GPR * 4, "register view: gpr");
_Static_assert(offsetof(cpu_arch, pc) == DC_REG_PC * 4, "register view: pc");
_Static_assert(offsetof(cpu_arch, npc) == DC_REG_NPC * 4, "register view: npc");
_Static_assert(offsetof(cpu_arch, bd) == DC_REG_BD * 4, "register view: bd");
_Static_assert(offsetof(cpu_arch, llbit) == DC_REG_LLBIT * 4, "register view: llbit");
_Static_assert(offsetof(cpu_arch, hi) == DC_REG_HI * 4, "register view: hi");
_Static_assert(offsetof(cpu_arch, lo) == DC_REG_LO * 4, "register view: lo");
_Static_assert(offsetof(cpu_arch, lo) + 4 == DC_REG_WORDS * 4, "register view: size");

static void regs_copy(const cpu *c, dc_regs *out)
{
    memcpy(out->gpr, c->a.gpr, sizeof out->gpr);
    out->pc = c->a.pc;
    out->npc = c->a.npc;
    out->hi = c->a.hi;
    out->lo = c->a.lo;
    out->bd = c->a.bd;
    out->llbit = c->a.llbit;
}

dc_err dc_regs_get(dc_machine *m, uint32_t cpu_id, dc_regs *out)
{
    CHECK_CPU(m, cpu_id);
    regs_copy(&m->cpus[cpu_id], out);
    return DC_OK;
}

dc_err dc_cpu_regs_get(dc_machine *m, uint32_t cpu_id, dc_cpu_regs *out)
{
    CHECK_CPU(m, cpu_id);
    cpu *c = &m->cpus[cpu_id];
    uint64_t now = c->a.cycles;
    regs_copy(c, &out->regs);
    static const struct { uint32_t reg, sel; size_t at; } cp0[] = {
#define R(reg, sel, field) {reg, sel, offsetof(dc_cpu_regs, field)}
        R(CP0_INDEX, 0, index), R(CP0_RANDOM, 0, random), R(CP0_ENTRYLO0, 0, entrylo0),
        R(CP0_ENTRYLO1, 0, entrylo1), R(CP0_CONTEXT, 0, context),
        R(CP0_PAGEMASK, 0, pagemask), R(CP0_WIRED, 0, wired), R(CP0_HWRENA, 0, hwrena),
        R(CP0_BADVADDR, 0, badvaddr), R(CP0_COUNT, 0, count), R(CP0_ENTRYHI, 0, entryhi),
        R(CP0_COMPARE, 0, compare), R(CP0_STATUS, 0, status), R(CP0_CAUSE, 0, cause),
        R(CP0_EPC, 0, epc), R(CP0_PRID, 0, prid), R(CP0_PRID, 1, ebase),
        R(CP0_CONFIG, 0, config), R(CP0_LLADDR, 0, lladdr), R(CP0_WATCHLO, 0, watchlo),
        R(CP0_WATCHHI, 0, watchhi), R(CP0_ERROREPC, 0, errorepc),
        R(CP0_CONTEXT, 2, userlocal),
#undef R
    };
    for (size_t i = 0; i < sizeof cp0 / sizeof cp0[0]; i++) {
        uint32_t v = cp0_read(c, cp0[i].reg, cp0[i].sel, now);
        memcpy((uint8_t *)out + cp0[i].at, &v, 4);
    }
    out->pad = 0;
    return DC_OK;
}

dc_err dc_regs_view(dc_machine *m, uint32_t cpu_id, const uint32_t **out)
{
    CHECK_CPU(m, cpu_id);
    *out = m->cpus[cpu_id].a.gpr;
    return DC_OK;
}

dc_err dc_regs_set(dc_machine *m, uint32_t cpu_id, const dc_regs *in)
{
    CHECK_CPU(m, cpu_id);
    cpu *c = &m->cpus[cpu_id];
    memcpy(c->a.gpr, in->gpr, sizeof in->gpr);
    c->a.gpr[0] = 0;
    c->a.pc = in->pc;
    c->a.npc = in->npc;
    c->a.hi = in->hi;
    c->a.lo = in->lo;
    c->a.bd = in->bd ? 1 : 0;
    c->a.llbit = in->llbit ? 1 : 0;
    return DC_OK;
}

dc_err dc_set_pc(dc_machine *m, uint32_t cpu_id, uint32_t pc)
{
    CHECK_CPU(m, cpu_id);
    cpu *c = &m->cpus[cpu_id];
    c->a.pc = pc;
    c->a.npc = pc + 4;
    c->a.bd = 0;
    c->a.mmio_ready = 0;
    return DC_OK;
}

dc_err dc_cpu_cycles(dc_machine *m, uint32_t cpu_id, uint64_t *out)
{
    CHECK_CPU(m, cpu_id);
    *out = m->cpus[cpu_id].a.cycles;
    return DC_OK;
}

dc_err dc_reg_set(dc_machine *m, uint32_t cpu_id, uint32_t reg, uint32_t value)
{
    CHECK_CPU(m, cpu_id);
    cpu_arch *a = &m->cpus[cpu_id].a;
    if (reg < 32) {
        if (reg)
            a->gpr[reg] = value;
    } else if (reg == DC_REG_HI) {
        a->hi = value;
    } else if (reg == DC_REG_LO) {
        a->lo = value;
    } else {
        set_error(m, "register word %u cannot be written alone: use 0..31 (GPRs), %d (hi) "
                  "or %d (lo); dc_set_pc and dc_regs_set write the rest", reg, DC_REG_HI,
                  DC_REG_LO);
        return DC_ERR_RANGE;
    }
    return DC_OK;
}

/* The monitor emulated the instruction at pc: continue after it. */
dc_err dc_cpu_advance(dc_machine *m, uint32_t cpu_id)
{
    CHECK_CPU(m, cpu_id);
    cpu *c = &m->cpus[cpu_id];
    c->a.pc = c->a.npc;
    c->a.npc = c->a.pc + 4;
    c->a.bd = 0;
    return DC_OK;
}

dc_err dc_cp0_read(dc_machine *m, uint32_t cpu_id, uint32_t reg, uint32_t sel, uint32_t *out)
{
    CHECK_CPU(m, cpu_id);
    CHECK_CP0(m, reg, sel);
    cpu *c = &m->cpus[cpu_id];
    *out = cp0_read(c, reg, sel, c->a.cycles);
    return DC_OK;
}

dc_err dc_cp0_write(dc_machine *m, uint32_t cpu_id, uint32_t reg, uint32_t sel, uint32_t value)
{
    CHECK_CPU(m, cpu_id);
    CHECK_CP0(m, reg, sel);
    cpu *c = &m->cpus[cpu_id];
    cp0_write(c, reg, sel, value, c->a.cycles);
    return DC_OK;
}

dc_err dc_cpu_start(dc_machine *m, uint32_t cpu_id, uint32_t pc)
{
    CHECK_CPU(m, cpu_id);
    cpu *c = &m->cpus[cpu_id];
    if (c->a.state != DC_CPU_PARKED) {
        set_error(m, "cpu %u is already started", cpu_id);
        return DC_ERR_STATE;
    }
    c->a.state = DC_CPU_RUNNING;
    c->a.status = 0;        /* kernel mode, BEV = 0, interrupts off */
    cp0_update_mode(c);
    stlb_flush(c);
    return dc_set_pc(m, cpu_id, pc);
}

dc_err dc_cpu_state_get(dc_machine *m, uint32_t cpu_id, uint32_t *state)
{
    CHECK_CPU(m, cpu_id);
    *state = m->cpus[cpu_id].a.state;
    return DC_OK;
}

dc_err dc_set_ownership(dc_machine *m, uint32_t cpu_id, uint32_t ownership)
{
    CHECK_CPU(m, cpu_id);
    if (ownership > DC_MONITORED) {
        set_error(m, "ownership %u is not NATIVE (0) or MONITORED (1)", ownership);
        return DC_ERR_ARG;
    }
    m->cpus[cpu_id].a.ownership = ownership;
    return DC_OK;
}

dc_err dc_get_ownership(dc_machine *m, uint32_t cpu_id, uint32_t *ownership)
{
    CHECK_CPU(m, cpu_id);
    *ownership = m->cpus[cpu_id].a.ownership;
    return DC_OK;
}

dc_err dc_set_irq(dc_machine *m, uint32_t cpu_id, uint32_t line, int level)
{
    CHECK_CPU(m, cpu_id);
    if (line > 5) {
        set_error(m, "interrupt line %u does not exist: hardware lines are 0..5 (IP2..IP7)",
                  line);
        return DC_ERR_RANGE;
    }
    cpu *c = &m->cpus[cpu_id];
    if (level)
        c->a.irq_lines |= 1u << line;
    else
        c->a.irq_lines &= ~(1u << line);
    cause_update_ip(c);
    return DC_OK;
}

dc_err dc_cpu_stats_get(dc_machine *m, uint32_t cpu_id, dc_cpu_stats *out)
{
    CHECK_CPU(m, cpu_id);
    *out = m->cpus[cpu_id].a.stats;
    out->cycles = m->cpus[cpu_id].a.cycles;
    return DC_OK;
}

dc_err dc_cpu_charge(dc_machine *m, uint32_t cpu_id, uint64_t cycles)
{
    CHECK_CPU(m, cpu_id);
    m->cpus[cpu_id].a.cycles += cycles;
    return DC_OK;
}

/* an entry as TLBR would leave it in EntryHi, EntryLo0/1 (G in both) and PageMask */
static void tlb_entry_words(const tlb_entry *e, uint32_t out[4])
{
    out[0] = e->hi;
    out[1] = e->lo0 | e->g;
    out[2] = e->lo1 | e->g;
    out[3] = e->mask;
}

dc_err dc_tlb_read(dc_machine *m, uint32_t cpu_id, uint32_t index, uint32_t out[4])
{
    CHECK_CPU(m, cpu_id);
    if (index >= m->cfg.tlb_entries) {
        set_error(m, "TLB index %u is out of range: the TLB has %u entries", index,
                  m->cfg.tlb_entries);
        return DC_ERR_RANGE;
    }
    tlb_entry_words(&m->cpus[cpu_id].a.tlb[index], out);
    return DC_OK;
}

dc_err dc_tlb_dump(dc_machine *m, uint32_t cpu_id, uint32_t *out, uint32_t max, uint32_t *n)
{
    CHECK_CPU(m, cpu_id);
    const cpu *c = &m->cpus[cpu_id];
    *n = m->cfg.tlb_entries;
    for (uint32_t i = 0; i < m->cfg.tlb_entries && i < max; i++)
        tlb_entry_words(&c->a.tlb[i], out + 4 * i);
    return DC_OK;
}

dc_err dc_tlb_write(dc_machine *m, uint32_t cpu_id, uint32_t index, const uint32_t in[4])
{
    CHECK_CPU(m, cpu_id);
    if (index >= m->cfg.tlb_entries) {
        set_error(m, "TLB index %u is out of range: the TLB has %u entries", index,
                  m->cfg.tlb_entries);
        return DC_ERR_RANGE;
    }
    tlb_set(&m->cpus[cpu_id], index, in[0], in[1], in[2], in[3]);
    return DC_OK;
}

dc_err dc_tlb_flush(dc_machine *m, uint32_t cpu_id)
{
    CHECK_CPU(m, cpu_id);
    cpu *c = &m->cpus[cpu_id];
    /* distinct unmatchable entries in kseg0, as at reset */
    for (uint32_t i = 0; i < m->cfg.tlb_entries; i++)
        tlb_set(c, i, KSEG0 + i * 0x2000u, 0, 0, 0);
    stlb_flush(c);
    return DC_OK;
}

dc_err dc_break_add(dc_machine *m, int32_t cpu_id, uint32_t va)
{
    if (cpu_id >= 0)
        CHECK_CPU(m, (uint32_t)cpu_id);
    for (uint32_t i = 0; i < m->nbps; i++)
        if (m->bps[i].va == va && m->bps[i].cpu == cpu_id)
            return DC_OK;
    if (m->nbps >= MAX_BREAK) {
        set_error(m, "too many breakpoints: at most %d", MAX_BREAK);
        return DC_ERR_RANGE;
    }
    m->bps[m->nbps].va = va;
    m->bps[m->nbps].cpu = cpu_id;
    m->nbps++;
    return DC_OK;
}

dc_err dc_break_remove(dc_machine *m, int32_t cpu_id, uint32_t va)
{
    for (uint32_t i = 0; i < m->nbps; i++) {
        if (m->bps[i].va == va && m->bps[i].cpu == cpu_id) {
            m->bps[i] = m->bps[--m->nbps];
            return DC_OK;
        }
    }
    set_error(m, "no breakpoint at 0x%08x for cpu %d", va, cpu_id);
    return DC_ERR_ARG;
}

dc_err dc_watch_add(dc_machine *m, int32_t cpu_id, uint32_t va, uint32_t len, uint32_t flags)
{
    if (cpu_id >= 0)
        CHECK_CPU(m, (uint32_t)cpu_id);
    if (len == 0 || va + len - 1 < va || !(flags & 3) || (flags & ~3u)) {
        set_error(m, "watchpoint at 0x%08x length %u flags %u is not valid: a non-empty "
                  "range that does not wrap, flags 1 (read), 2 (write) or 3", va, len, flags);
        return DC_ERR_ARG;
    }
    if (m->nwatch >= MAX_WATCH) {
        set_error(m, "too many watchpoints: at most %d", MAX_WATCH);
        return DC_ERR_RANGE;
    }
    m->watches[m->nwatch].va = va;
    m->watches[m->nwatch].len = len;
    m->watches[m->nwatch].flags = flags;
    m->watches[m->nwatch].cpu = cpu_id;
    m->nwatch++;
    for (uint32_t i = 0; i < m->cfg.ncpus; i++)
        stlb_flush(&m->cpus[i]);    /* no cached translation may bypass the check */
    return DC_OK;
}

dc_err dc_watch_remove(dc_machine *m, int32_t cpu_id, uint32_t va, uint32_t len, uint32_t flags)
{
    for (uint32_t i = 0; i < m->nwatch; i++) {
        watchpoint *w = &m->watches[i];
        if (w->va == va && w->len == len && w->flags == flags && w->cpu == cpu_id) {
            m->watches[i] = m->watches[--m->nwatch];
            return DC_OK;
        }
    }
    set_error(m, "no watchpoint at 0x%08x length %u flags %u for cpu %d", va, len, flags,
              cpu_id);
    return DC_ERR_ARG;
}
