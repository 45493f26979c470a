/* l2tlb.c - the monitor's second-level TLB, C side (a "C assist").
 * Disco's L2TLB caches virtual -> machine translations per vCPU so that a
 * hardware TLB miss is refilled without entering the guest (PAPER.md 2.3).
 * The policy and the authoritative table stay in Python (disco_core/monitor/
 * l2tlb.py); this direct-mapped copy lets the core serve the common refill
 * without an exit, which is what makes hundreds of thousands of monitor
 * refills per second possible. */
#include <stdlib.h>

#include "internal.h"

#define SLOT_VALID (1u << 31)

static inline uint32_t key_of(uint32_t vpn, uint32_t asid)
{
    return SLOT_VALID | (vpn << 9) | (asid & 0x1FF);
}

static inline l2tlb_slot *slot_of(l2tlb *t, uint32_t vpn, uint32_t asid)
{
    uint32_t h = (vpn * 0x9E3779B1u) ^ (asid * 0x85EBCA6Bu);
    return &t->slots[(h >> 16) & (L2TLB_SLOTS - 1)];
}

static int find(l2tlb *t, uint32_t vpn, uint32_t asid, uint32_t *lo)
{
    const l2tlb_slot *s = slot_of(t, vpn, asid);
    if (s->key == key_of(vpn, asid)) {
        *lo = s->lo;
        return 1;
    }
    s = slot_of(t, vpn, L2TLB_GLOBAL);
    if (s->key == key_of(vpn, L2TLB_GLOBAL)) {
        *lo = s->lo;
        return 1;
    }
    return 0;
}

int l2tlb_refill(dc_machine *m, cpu *c, uint32_t va)
{
    l2tlb *t = c->assist;
    uint32_t asid = c->a.entryhi & ENTRYHI_ASID;
    uint32_t even = (va >> PAGE_SHIFT) & ~1u, lo0, lo1;
    int h0 = find(t, even, asid, &lo0), h1 = find(t, even + 1, asid, &lo1);
    if (!(((va >> PAGE_SHIFT) & 1) ? h1 : h0))
        return 0;
    if (!h0)
        lo0 = 0;            /* the other half stays invalid: a later TLB invalid exit */
    if (!h1)
        lo1 = 0;
    /* G must be set in both halves for a global entry */
    if (!((lo0 | lo1) & ENTRYLO_G) || !(lo0 & lo1 & ENTRYLO_G)) {
        lo0 &= ~ENTRYLO_G;
        lo1 &= ~ENTRYLO_G;
    }
    uint32_t n = m->cfg.tlb_entries;
    if (t->next < t->first || t->next >= n)
        t->next = t->first;
    tlb_set(c, t->next, (va & ENTRYHI_VPN2) | asid, lo0, lo1, 0);
    t->next = t->next + 1 < n ? t->next + 1 : t->first;
    c->a.cycles += t->cost;
    c->a.stats.l2tlb_refills++;
    return 1;
}

static dc_err assist_of(dc_machine *m, uint32_t cpu_id, l2tlb **out)
{
    if (cpu_id >= m->cfg.ncpus) {
        set_error(m, "cpu %u does not exist: the machine has %u CPUs", cpu_id, m->cfg.ncpus);
        return DC_ERR_RANGE;
    }
    cpu *c = &m->cpus[cpu_id];
    if (!c->assist) {
        c->assist = calloc(1, sizeof *c->assist);
        if (!c->assist)
            return DC_ERR_NOMEM;
    }
    *out = c->assist;
    return DC_OK;
}

dc_err dc_l2tlb_config(dc_machine *m, uint32_t cpu_id, int enabled, uint32_t first,
                       uint32_t cost)
{
    l2tlb *t;
    dc_err e = assist_of(m, cpu_id, &t);
    if (e)
        return e;
    if (first >= m->cfg.tlb_entries) {
        set_error(m, "first = %u leaves no TLB entries for the assist (the TLB has %u)",
                  first, m->cfg.tlb_entries);
        return DC_ERR_RANGE;
    }
    t->enabled = enabled != 0;
    t->first = first;
    t->next = first;
    t->cost = cost;
    return DC_OK;
}

dc_err dc_l2tlb_set(dc_machine *m, uint32_t cpu_id, uint32_t vpn, uint32_t asid, uint32_t lo)
{
    l2tlb *t;
    dc_err e = assist_of(m, cpu_id, &t);
    if (e)
        return e;
    if (asid > L2TLB_GLOBAL || vpn >= (1u << 20)) {
        set_error(m, "L2TLB entry vpn 0x%x asid %u is out of range (vpn < 2^20, asid 0..256)",
                  vpn, asid);
        return DC_ERR_RANGE;
    }
    l2tlb_slot *s = slot_of(t, vpn, asid);
    s->key = key_of(vpn, asid);
    s->lo = lo & ENTRYLO_WRITABLE;
    return DC_OK;
}

dc_err dc_l2tlb_remove(dc_machine *m, uint32_t cpu_id, uint32_t vpn, uint32_t asid)
{
    l2tlb *t;
    dc_err e = assist_of(m, cpu_id, &t);
    if (e)
        return e;
    l2tlb_slot *s = slot_of(t, vpn, asid);
    if (s->key == key_of(vpn, asid))
        s->key = 0;
    return DC_OK;
}

dc_err dc_l2tlb_clear(dc_machine *m, uint32_t cpu_id)
{
    l2tlb *t;
    dc_err e = assist_of(m, cpu_id, &t);
    if (e)
        return e;
    memset(t->slots, 0, sizeof t->slots);
    return DC_OK;
}
