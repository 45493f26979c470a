/* hwtlb.c - the monitor's management of the hardware TLBs (a "C assist").
 * Under the monitor the hardware TLB belongs to it alone: guest TLB
 * instructions trap and are emulated. Each entry is keyed by (VPN2, ASID),
 * with global entries under ASID 256, and the TLB itself is the only record
 * of what is installed: an entry whose EntryHi lies in kseg0/kseg1 is empty
 * (translation never consults the TLB there). Installs go to a per-CPU round
 * robin over every index, whether Python or a C assist installs, so the two
 * paths write the same entries at the same indices. */
#include "internal.h"

static inline int empty(const tlb_entry *e)
{
    return (e->hi & 0xC0000000u) == KSEG0;
}

static inline uint32_t key_asid(const tlb_entry *e)
{
    return e->g ? HW_GLOBAL : (e->hi & ENTRYHI_ASID);
}

static void hw_clear(cpu *c, uint32_t i)
{
    /* distinct never-matching entries, as at reset */
    tlb_set(c, i, KSEG0 + i * 0x2000u, 0, 0, 0);
}

static int hw_find(const cpu *c, uint32_t vpn2, uint32_t asid)
{
    uint32_t n = c->m->cfg.tlb_entries;
    for (uint32_t i = 0; i < n; i++) {
        const tlb_entry *e = &c->a.tlb[i];
        if ((e->hi & ENTRYHI_VPN2) == vpn2 && !empty(e) && key_asid(e) == asid)
            return (int)i;
    }
    return -1;
}

void hw_install(cpu *c, uint32_t vpn2, uint32_t asid, uint32_t lo0, uint32_t lo1)
{
    uint32_t n = c->m->cfg.tlb_entries;
    vpn2 &= ENTRYHI_VPN2;
    int i = hw_find(c, vpn2, asid);
    if (i < 0) {
        /* never two entries that could match one address: a global entry
         * displaces every entry of its VPN2, any other the global one */
        for (uint32_t j = 0; j < n; j++) {
            const tlb_entry *e = &c->a.tlb[j];
            if ((e->hi & ENTRYHI_VPN2) == vpn2 && !empty(e) &&
                (asid == HW_GLOBAL || e->g))
                hw_clear(c, j);
        }
        if (c->hw_next >= n)
            c->hw_next = 0;
        i = (int)c->hw_next;
        c->hw_next = c->hw_next + 1 < n ? c->hw_next + 1 : 0;
    }
    uint32_t hi = vpn2;
    if (asid == HW_GLOBAL) {    /* the key decides G: both halves, or neither */
        lo0 |= ENTRYLO_G;
        lo1 |= ENTRYLO_G;
    } else {
        hi |= asid & ENTRYHI_ASID;
        lo0 &= ~ENTRYLO_G;
        lo1 &= ~ENTRYLO_G;
    }
    tlb_set(c, (uint32_t)i, hi, lo0, lo1, 0);
}

void hw_remove(cpu *c, uint32_t vpn2, uint32_t asid)
{
    int i = hw_find(c, vpn2 & ENTRYHI_VPN2, asid);
    if (i >= 0)
        hw_clear(c, (uint32_t)i);
}

static inline int maps(uint32_t lo, uint32_t mpn)
{
    return ((lo >> ENTRYLO_PFN_SHIFT) & 0xFFFFFFu) == mpn;
}

void hw_invalidate_mpn(dc_machine *m, uint32_t mpn)
{
    for (uint32_t k = 0; k < m->cfg.ncpus; k++) {
        cpu *c = &m->cpus[k];
        for (uint32_t i = 0; i < m->cfg.tlb_entries; i++) {
            const tlb_entry *e = &c->a.tlb[i];
            if (!empty(e) && (maps(e->lo0, mpn) || maps(e->lo1, mpn)))
                hw_clear(c, i);
        }
    }
}

/* ---- API ---- */

static dc_err check_key(dc_machine *m, uint32_t vpn2_va, uint32_t asid)
{
    if (asid > HW_GLOBAL || (vpn2_va & ~ENTRYHI_VPN2)) {
        set_error(m, "TLB key va 0x%x asid %u is out of range (VPN2-aligned va, asid 0..256)",
                  vpn2_va, asid);
        return DC_ERR_RANGE;
    }
    return DC_OK;
}

dc_err dc_hw_install(dc_machine *m, uint32_t cpu_id, uint32_t vpn2_va, uint32_t asid,
                     uint32_t lo0, uint32_t lo1)
{
    CHECK_CPU(m, cpu_id);
    dc_err e = check_key(m, vpn2_va, asid);
    if (e)
        return e;
    hw_install(&m->cpus[cpu_id], vpn2_va, asid, lo0, lo1);
    return DC_OK;
}

dc_err dc_hw_remove(dc_machine *m, uint32_t cpu_id, uint32_t vpn2_va, uint32_t asid)
{
    CHECK_CPU(m, cpu_id);
    dc_err e = check_key(m, vpn2_va, asid);
    if (e)
        return e;
    hw_remove(&m->cpus[cpu_id], vpn2_va, asid);
    return DC_OK;
}

dc_err dc_hw_invalidate_mpn(dc_machine *m, uint32_t mpn)
{
    hw_invalidate_mpn(m, mpn);
    return DC_OK;
}
