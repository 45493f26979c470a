/* l2tlb.c - the monitor's second-level TLB, C side (a "C assist").
 * Disco's L2TLB caches virtual -> machine translations per vCPU so that a
 * hardware TLB miss is refilled without entering the guest (PAPER.md 2.3).
 * The policy and the authoritative table stay in Python (disco_core/monitor/
 * l2tlb.py); each vCPU has one of these tables, a direct-mapped subset of
 * its Python L2TLB that Python keeps coherent (every change of a key is
 * mirrored). A slot holds one even/odd pair for one key, and for each half
 * whether the Python table has it: so when a slot is here, the C side knows
 * exactly what the Python side would do with that pair, and when it is not
 * (never put, or displaced by another pair) the refill exits to Python.
 * While a vCPU runs, its table is bound to the CPU, and the core serves a
 * refill on a hit without an exit, charging the table's cost. */
#include <stdlib.h>

#include "internal.h"

#define SLOT_VALID (1u << 31)
#define LO_PRESENT (1u << 31)   /* in lo[]: the Python table has this half */

static inline uint32_t key_of(uint32_t vpn2, uint32_t asid)
{
    return SLOT_VALID | (vpn2 << 9) | (asid & 0x1FF);
}

static inline l2tlb_slot *slot_of(l2tlb *t, uint32_t vpn2, uint32_t asid)
{
    uint32_t h = (vpn2 * 0x9E3779B1u) ^ (asid * 0x85EBCA6Bu);
    return &t->slots[(h >> 16) & (L2TLB_SLOTS - 1)];
}

static inline const l2tlb_slot *find(l2tlb *t, uint32_t vpn2, uint32_t asid)
{
    const l2tlb_slot *s = slot_of(t, vpn2, asid);
    return s->key == key_of(vpn2, asid) ? s : NULL;
}

/* What Monitor._tlb_fault does on an L2TLB hit, step for step: the page under
 * the current ASID, else the global one; a store needs D; the pair's other
 * half comes from the same key (G decides which), or stays invalid. */
int l2tlb_refill(cpu *c, uint32_t va, int store)
{
    l2tlb *t = c->l2t;
    /* the ASID Monitor._tlb_fault uses: the virtual EntryHi's, which is in the
     * register page when there is one (a guest store there does not reach the
     * real EntryHi), else the real one (they are equal: ASIDs go straight through) */
    uint32_t asid = t->has_regpage
        ? ((const uint32_t *)(c->m->ram + t->regpage))[REGPAGE_ENTRYHI] & ENTRYHI_ASID
        : c->a.entryhi & ENTRYHI_ASID;
    uint32_t vpn2 = va >> 13, half = (va >> 12) & 1;
    const l2tlb_slot *s = find(t, vpn2, asid);
    if (!s)
        return 0;               /* unknown here: Python decides */
    uint32_t lo = s->lo[half];
    if (!(lo & LO_PRESENT)) {
        s = find(t, vpn2, HW_GLOBAL);
        if (!s || !(s->lo[half] & LO_PRESENT))
            return 0;
        lo = s->lo[half];
    }
    lo &= ~LO_PRESENT;
    if (store && !(lo & ENTRYLO_D))
        return 0;
    uint32_t g = lo & ENTRYLO_G, key = g ? HW_GLOBAL : asid;
    const l2tlb_slot *o = s->key == key_of(vpn2, key) ? s : find(t, vpn2, key);
    if (!o)
        return 0;
    uint32_t other = o->lo[half ^ 1];
    uint32_t olo = (other & LO_PRESENT) ? other & ~LO_PRESENT : g;
    hw_install(c, va & ENTRYHI_VPN2, key, half ? olo : lo, half ? lo : olo);
    t->served++;
    return 1;
}

/* ---- handles ---- */

dc_err l2tlb_table(dc_machine *m, uint32_t h, l2tlb **out)
{
    if (h == 0 || h > m->nl2tabs || !m->l2tabs[h - 1]) {
        set_error(m, "L2TLB table %u does not exist", h);
        return DC_ERR_ARG;
    }
    *out = m->l2tabs[h - 1];
    return DC_OK;
}

dc_err dc_l2tlb_new(dc_machine *m, uint32_t cost, uint32_t *handle)
{
    uint32_t i = 0;
    while (i < m->nl2tabs && m->l2tabs[i])
        i++;
    if (i == m->nl2tabs) {
        uint32_t n = m->nl2tabs ? m->nl2tabs * 2 : 8;
        l2tlb **grown = realloc(m->l2tabs, n * sizeof *grown);
        if (!grown)
            return DC_ERR_NOMEM;
        memset(grown + m->nl2tabs, 0, (n - m->nl2tabs) * sizeof *grown);
        m->l2tabs = grown;
        m->nl2tabs = n;
    }
    l2tlb *t = calloc(1, sizeof *t);
    if (!t)
        return DC_ERR_NOMEM;
    t->cost = cost;
    m->l2tabs[i] = t;
    *handle = i + 1;
    return DC_OK;
}

dc_err dc_l2tlb_free(dc_machine *m, uint32_t h)
{
    l2tlb *t;
    dc_err e = l2tlb_table(m, h, &t);
    if (e)
        return e;
    for (uint32_t k = 0; k < m->cfg.ncpus; k++)
        if (m->cpus[k].l2t == t)
            m->cpus[k].l2t = NULL;
    free(t);
    m->l2tabs[h - 1] = NULL;
    return DC_OK;
}

void l2tlb_free_all(dc_machine *m)
{
    for (uint32_t i = 0; i < m->nl2tabs; i++)
        free(m->l2tabs[i]);
    free(m->l2tabs);
    m->l2tabs = NULL;
    m->nl2tabs = 0;
}

dc_err dc_l2tlb_put(dc_machine *m, uint32_t h, uint32_t vpn2, uint32_t asid, uint32_t present,
                    uint32_t lo0, uint32_t lo1)
{
    l2tlb *t;
    dc_err e = l2tlb_table(m, h, &t);
    if (e)
        return e;
    if (asid > HW_GLOBAL || vpn2 >= (1u << 19) || present > 3) {
        set_error(m, "L2TLB pair vpn2 0x%x asid %u present %u is out of range "
                  "(vpn2 < 2^19, asid 0..256, present 0..3)", vpn2, asid, present);
        return DC_ERR_RANGE;
    }
    l2tlb_slot *s = slot_of(t, vpn2, asid);
    if (!present) {             /* neither half: forget the pair if it is here */
        if (s->key == key_of(vpn2, asid))
            s->key = 0;
        return DC_OK;
    }
    s->key = key_of(vpn2, asid);
    s->lo[0] = (present & 1) ? (lo0 & ENTRYLO_WRITABLE) | LO_PRESENT : 0;
    s->lo[1] = (present & 2) ? (lo1 & ENTRYLO_WRITABLE) | LO_PRESENT : 0;
    return DC_OK;
}

dc_err dc_l2tlb_clear(dc_machine *m, uint32_t h)
{
    l2tlb *t;
    dc_err e = l2tlb_table(m, h, &t);
    if (e)
        return e;
    memset(t->slots, 0, sizeof t->slots);
    return DC_OK;
}

dc_err dc_l2tlb_dump(dc_machine *m, uint32_t h, uint32_t *out, uint32_t max, uint32_t *n)
{
    l2tlb *t;
    dc_err e = l2tlb_table(m, h, &t);
    if (e)
        return e;
    uint32_t k = 0;
    for (uint32_t i = 0; i < L2TLB_SLOTS; i++) {
        const l2tlb_slot *s = &t->slots[i];
        if (!(s->key & SLOT_VALID))
            continue;
        if (k < max) {
            uint32_t *o = out + 4 * k;
            o[0] = (s->key & ~SLOT_VALID) >> 9;
            o[1] = s->key & 0x1FF;
            o[2] = s->lo[0];
            o[3] = s->lo[1];
        }
        k++;
    }
    *n = k;
    return DC_OK;
}

dc_err dc_l2tlb_take(dc_machine *m, uint32_t h, uint64_t *served)
{
    l2tlb *t;
    dc_err e = l2tlb_table(m, h, &t);
    if (e)
        return e;
    *served = t->served;
    t->served = 0;
    return DC_OK;
}

dc_err dc_l2tlb_bind(dc_machine *m, uint32_t cpu_id, uint32_t h)
{
    if (cpu_id >= m->cfg.ncpus) {
        set_error(m, "cpu %u does not exist: the machine has %u CPUs", cpu_id, m->cfg.ncpus);
        return DC_ERR_RANGE;
    }
    l2tlb *t = NULL;
    if (h) {
        dc_err e = l2tlb_table(m, h, &t);
        if (e)
            return e;
    }
    m->cpus[cpu_id].l2t = t;
    return DC_OK;
}
