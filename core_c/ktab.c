/* ktab.c - relocated-kseg0 TLB faults in C (a "C assist").
 * A VM's kernel runs at 0xC0000000 + guest-physical (the relocated kseg0),
 * and its misses there are the monitor's second most common exit. Per VM,
 * this table holds for each even/odd pair of guest pages the two hardware
 * EntryLo that Monitor._kernel_tlb_fault installed for it, or zeros (unknown:
 * exit, and Python fills the pair after serving it). Python clears a pair
 * whenever the pmap changes one of its pages. Rows are per node (a table made
 * with one row serves every node), so EntryLo may one day depend on where
 * the CPU sits. The register page's pair is never served here. */
#include <stdlib.h>

#include "internal.h"


static inline uint32_t *pair_of(ktab *t, uint32_t node, uint32_t gpn)
{
    return &t->lo[((size_t)node * t->pairs + (gpn >> 1)) * 2];
}

int ktab_fault(cpu *c, uint32_t va, int store)
{
    ktab *t = c->kt;
    if (va < KSSEG || va >= KSEG3 || (va & ENTRYHI_VPN2) == REGPAGE_PAIR)
        return 0;
    uint32_t gpn = (va - KSSEG) >> PAGE_SHIFT;
    if (gpn >= t->npages)
        return 0;
    const uint32_t *p = pair_of(t, t->nodes > 1 ? c->node % t->nodes : 0, gpn);
    uint32_t lo = p[gpn & 1];
    if (!(p[0] | p[1]) || !(lo & ENTRYLO_V) || (store && !(lo & ENTRYLO_D)))
        return 0;               /* unknown, not allocated yet, or copy-on-write */
    hw_install(c, va & ENTRYHI_VPN2, HW_GLOBAL, p[0], p[1]);
    t->served++;
    return 1;
}

static dc_err ktab_of(dc_machine *m, uint32_t h, ktab **out)
{
    *out = handle_get(&m->ktabs, h);
    if (!*out) {
        set_error(m, "kseg table %u does not exist", h);
        return DC_ERR_ARG;
    }
    return DC_OK;
}

dc_err dc_ktab_new(dc_machine *m, uint32_t npages, uint32_t nodes, uint32_t cost,
                   uint32_t *handle)
{
    if (npages == 0 || npages > (1u << 17) || nodes == 0 || nodes > 64) {
        set_error(m, "kseg table of %u pages x %u nodes is out of range "
                  "(1..131072 pages, 1..64 nodes)", npages, nodes);
        return DC_ERR_RANGE;
    }
    uint32_t pairs = (npages + 1) / 2;
    ktab *t = calloc(1, sizeof *t + (size_t)nodes * pairs * 2 * sizeof(uint32_t));
    if (!t)
        return DC_ERR_NOMEM;
    t->cost = cost;
    t->npages = npages;
    t->nodes = nodes;
    t->pairs = pairs;
    dc_err e = handle_add(&m->ktabs, t, handle);
    if (e)
        free(t);
    return e;
}

dc_err dc_ktab_set(dc_machine *m, uint32_t h, uint32_t node, uint32_t gpn, uint32_t lo0,
                   uint32_t lo1)
{
    ktab *t;
    dc_err e = ktab_of(m, h, &t);
    if (e)
        return e;
    if (node >= t->nodes || gpn >= t->npages) {
        set_error(m, "kseg table entry node %u page 0x%x is out of range (%u nodes, %u pages)",
                  node, gpn, t->nodes, t->npages);
        return DC_ERR_RANGE;
    }
    uint32_t *p = pair_of(t, node, gpn);
    p[0] = lo0 & ENTRYLO_WRITABLE;
    p[1] = lo1 & ENTRYLO_WRITABLE;
    return DC_OK;
}

dc_err dc_ktab_forget(dc_machine *m, uint32_t h, uint32_t gpn)
{
    ktab *t;
    dc_err e = ktab_of(m, h, &t);
    if (e)
        return e;
    if (gpn >= t->npages)
        return DC_OK;
    for (uint32_t n = 0; n < t->nodes; n++) {
        uint32_t *p = pair_of(t, n, gpn);
        p[0] = p[1] = 0;
    }
    return DC_OK;
}

dc_err dc_ktab_clear(dc_machine *m, uint32_t h)
{
    ktab *t;
    dc_err e = ktab_of(m, h, &t);
    if (e)
        return e;
    memset(t->lo, 0, (size_t)t->nodes * t->pairs * 2 * sizeof(uint32_t));
    return DC_OK;
}

dc_err dc_ktab_get(dc_machine *m, uint32_t h, uint32_t node, uint32_t gpn, uint32_t out[2])
{
    ktab *t;
    dc_err e = ktab_of(m, h, &t);
    if (e)
        return e;
    if (node >= t->nodes || gpn >= t->npages) {
        set_error(m, "kseg table entry node %u page 0x%x is out of range", node, gpn);
        return DC_ERR_RANGE;
    }
    const uint32_t *p = pair_of(t, node, gpn);
    out[0] = p[0];
    out[1] = p[1];
    return DC_OK;
}

dc_err dc_ktab_take(dc_machine *m, uint32_t h, uint64_t *served)
{
    ktab *t;
    dc_err e = ktab_of(m, h, &t);
    if (e)
        return e;
    *served = t->served;
    t->served = 0;
    return DC_OK;
}

dc_err dc_ktab_bind(dc_machine *m, uint32_t cpu_id, uint32_t h)
{
    CHECK_CPU(m, cpu_id);
    ktab *t = NULL;
    if (h) {
        dc_err e = ktab_of(m, h, &t);
        if (e)
            return e;
    }
    m->cpus[cpu_id].kt = t;
    return DC_OK;
}
