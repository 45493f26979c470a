/* l2tlb.c - the monitor's second-level TLB, C side (a "C assist").
 * Disco's L2TLB caches virtual -> machine translations per vCPU so that a
 * hardware TLB miss is refilled without entering the guest (PAPER.md 2.3).
 * The policy and the authoritative table stay in Python (disco_core/monitor/
 * l2tlb.py); each vCPU has one of these tables, which Python keeps equal to
 * its L2TLB: after every change of a key the key's even/odd pair is written
 * again, with for each half whether the Python table has it. So a pair that
 * is not here is not there either. With the vCPU's virtual TLB mirrored too,
 * the core does what Monitor._tlb_fault does for a kuseg miss: refill from
 * the L2TLB, or reflect the miss into the guest when its own TLB has no
 * valid entry; only what needs the pmap (a virtual-TLB refill) exits. */
#include <stdlib.h>

#include "internal.h"

#define SLOT_VALID (1u << 31)
#define LO_PRESENT (1u << 31)   /* in lo[]: the Python table has this half */

static inline uint32_t key_of(uint32_t vpn2, uint32_t asid)
{
    return SLOT_VALID | (vpn2 << 9) | (asid & 0x1FF);
}

static inline uint32_t home_of(const l2tlb *t, uint32_t key)
{
    uint32_t vpn2 = (key & ~SLOT_VALID) >> 9, asid = key & 0x1FF;
    uint32_t h = (vpn2 * 0x9E3779B1u) ^ (asid * 0x85EBCA6Bu);
    return (h >> 7) & (t->nslots - 1);
}

/* the slot holding key, or the empty slot where it would go */
static inline uint32_t probe(const l2tlb *t, uint32_t key)
{
    uint32_t i = home_of(t, key);
    while (t->slots[i].key && t->slots[i].key != key)
        i = (i + 1) & (t->nslots - 1);
    return i;
}

static inline const l2tlb_slot *find(const l2tlb *t, uint32_t vpn2, uint32_t asid)
{
    const l2tlb_slot *s = &t->slots[probe(t, key_of(vpn2, asid))];
    return s->key ? s : NULL;
}

/* remove slot i, moving later slots of the run back so probes still find them */
static void slot_delete(l2tlb *t, uint32_t i)
{
    uint32_t mask = t->nslots - 1, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!t->slots[j].key)
            break;
        uint32_t k = home_of(t, t->slots[j].key);
        /* slot j may move to i if its home is not in (i, j] (cyclically) */
        if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].key = 0;
    t->used--;
}

static inline const uint32_t *regpage_of(dc_machine *m, const l2tlb *t)
{
    return (const uint32_t *)(m->ram + t->regpage);
}

/* VCpu.tlb_match: the first virtual TLB entry matching va under asid */
static const vtlb_entry *vtlb_match(const l2tlb *t, uint32_t va, uint32_t asid)
{
    for (uint32_t i = 0; i < t->vt_n; i++) {
        const vtlb_entry *e = &t->vt[i];
        if (!((va ^ e->hi) & ~(e->mask | 0x1FFFu)) && (e->g || (e->hi & ENTRYHI_ASID) == asid))
            return e;
    }
    return NULL;
}

/* What Monitor._tlb_fault does with a kuseg TLBL/TLBS, step for step: the page
 * under the current ASID, else the global one (a store needs D); the pair's
 * other half from the same key (G decides which), or it stays invalid. On an
 * L2TLB miss, with the virtual TLB mirrored: no matching entry, or an invalid
 * or read-only half, is reflected into the guest. Returns 0 (exit), or 1 + the
 * CP0K_ kind served (CP0K_COUNT for a refill). */
int l2tlb_refill(dc_machine *m, cpu *c, uint32_t va, int code, uint32_t pc, int bd)
{
    l2tlb *t = c->l2t;
    int store = code == EXC_TLBS;
    /* the ASID Monitor._tlb_fault uses: the virtual EntryHi's, which is in the
     * register page when there is one (a guest store there does not reach the
     * real EntryHi), else the real one (they are equal: ASIDs go straight through) */
    uint32_t asid = (t->has_regpage ? regpage_of(m, t)[RP_ENTRYHI] : c->a.entryhi) &
                    ENTRYHI_ASID;
    uint32_t vpn2 = va >> 13, half = (va >> 12) & 1;
    const l2tlb_slot *s = find(t, vpn2, asid);
    uint32_t lo = s ? s->lo[half] : 0;
    if (!(lo & LO_PRESENT)) {
        s = find(t, vpn2, HW_GLOBAL);
        lo = s ? s->lo[half] : 0;
    }
    int hit = (lo & LO_PRESENT) != 0;
    lo &= ~LO_PRESENT;
    if (hit && (!store || (lo & ENTRYLO_D))) {
        uint32_t g = lo & ENTRYLO_G, key = g ? HW_GLOBAL : asid;
        const l2tlb_slot *o = s->key == key_of(vpn2, key) ? s : find(t, vpn2, key);
        uint32_t other = o ? o->lo[half ^ 1] : 0;
        uint32_t olo = (other & LO_PRESENT) ? other & ~LO_PRESENT : g;
        hw_install(c, va & ENTRYHI_VPN2, key, half ? olo : lo, half ? lo : olo);
        t->served++;
        return CP0K_COUNT + 1;
    }
    if (!t->vt_n || !t->has_regpage)
        return 0;
    const vtlb_entry *e = vtlb_match(t, va, asid);
    uint32_t rcode = (uint32_t)code;
    if (e) {
        uint32_t hsize = ((e->mask | 0x1FFFu) + 1) >> 1;
        uint32_t glo = (va & hsize) ? e->lo1 : e->lo0;
        if (glo & ENTRYLO_V) {
            if (!store || (glo & ENTRYLO_D))
                return 0;       /* a virtual-TLB refill: the pmap is Python's */
            rcode = EXC_MOD;
        }
    }
    /* the guest's refill vector when its TLB has no entry at all */
    int k = reflect_tlb(m, c, rcode, pc, bd, va, e == NULL);
    if (k) {
        if (hit)
            t->l2_hits++;
        else
            t->l2_misses++;
    }
    return k;
}

/* emulate.tlbp: Index of the virtual TLB entry matching the register page's
 * EntryHi, else P; a probe that misses also purges the page from the L2TLB and
 * the hardware TLB, which C does only when the L2TLB holds nothing for it. */
int vtlb_probe(cpu *c, uint32_t *w)
{
    l2tlb *t = c->l2t;
    if (!t->vt_n)
        return 0;
    uint32_t hi = w[RP_ENTRYHI];
    for (uint32_t i = 0; i < t->vt_n; i++) {
        const vtlb_entry *e = &t->vt[i];
        if (!((hi ^ e->hi) & ENTRYHI_VPN2 & ~e->mask) &&
            (e->g || !((hi ^ e->hi) & ENTRYHI_ASID))) {
            w[RP_INDEX] = i;
            return 1;
        }
    }
    uint32_t vpn2_va = hi & ENTRYHI_VPN2, asid = hi & ENTRYHI_ASID;
    if (vpn2_va < KSEG0) {      /* Monitor.forget_page */
        if (find(t, vpn2_va >> 13, asid) || find(t, vpn2_va >> 13, HW_GLOBAL))
            return 0;           /* the Python L2TLB drops them */
        hw_remove(c, vpn2_va, asid);
        hw_remove(c, vpn2_va, HW_GLOBAL);
    }
    w[RP_INDEX] = INDEX_P | (w[RP_INDEX] & 0x3F);
    return 1;
}

/* emulate.tlbr: the entry at Index into PageMask, EntryHi and EntryLo0/1 */
int vtlb_read(cpu *c, uint32_t *w)
{
    const l2tlb *t = c->l2t;
    if (!t->vt_n)
        return 0;
    const vtlb_entry *e = &t->vt[(w[RP_INDEX] & 0x3F) % t->vt_n];
    w[RP_PAGEMASK] = e->mask;
    w[RP_ENTRYHI] = e->hi;
    w[RP_ENTRYLO0] = e->lo0 | e->g;
    w[RP_ENTRYLO1] = e->lo1 | e->g;
    return 1;
}

/* ---- handles ---- */

dc_err l2tlb_table(dc_machine *m, uint32_t h, l2tlb **out)
{
    *out = handle_get(&m->l2tabs, h);
    if (!*out) {
        set_error(m, "L2TLB table %u does not exist", h);
        return DC_ERR_ARG;
    }
    return DC_OK;
}

dc_err dc_l2tlb_new(dc_machine *m, uint32_t cost, uint32_t entries, uint32_t *handle)
{
    if (entries > L2TLB_MAX_ENTRIES) {
        set_error(m, "an L2TLB of %u entries is too large (at most %u)", entries,
                  L2TLB_MAX_ENTRIES);
        return DC_ERR_RANGE;
    }
    uint32_t nslots = 16;
    while (nslots < 2 * entries + 2)    /* at most half full: probes stay short */
        nslots *= 2;
    l2tlb *t = calloc(1, sizeof *t + (size_t)nslots * sizeof(l2tlb_slot));
    if (!t)
        return DC_ERR_NOMEM;
    t->cost = cost;
    t->nslots = nslots;
    dc_err e = handle_add(&m->l2tabs, t, handle);
    if (e)
        free(t);
    return e;
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
    handle_remove(&m->l2tabs, h);
    return DC_OK;
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
    uint32_t key = key_of(vpn2, asid), i = probe(t, key);
    if (!present) {             /* neither half: forget the pair */
        if (t->slots[i].key)
            slot_delete(t, i);
        return DC_OK;
    }
    if (!t->slots[i].key) {
        if (2 * (t->used + 1) > t->nslots) {
            set_error(m, "L2TLB table %u is full: it holds the pairs of %u entries", h,
                      t->nslots / 2 - 1);
            return DC_ERR_RANGE;
        }
        t->used++;
    }
    l2tlb_slot *s = &t->slots[i];
    s->key = key;
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
    memset(t->slots, 0, (size_t)t->nslots * sizeof(l2tlb_slot));
    t->used = 0;
    return DC_OK;
}

dc_err dc_l2tlb_dump(dc_machine *m, uint32_t h, uint32_t *out, uint32_t max, uint32_t *n)
{
    l2tlb *t;
    dc_err e = l2tlb_table(m, h, &t);
    if (e)
        return e;
    uint32_t k = 0;
    for (uint32_t i = 0; i < t->nslots; i++) {
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

dc_err dc_l2tlb_take(dc_machine *m, uint32_t h, uint64_t out[3])
{
    l2tlb *t;
    dc_err e = l2tlb_table(m, h, &t);
    if (e)
        return e;
    out[0] = t->served;
    out[1] = t->l2_hits;
    out[2] = t->l2_misses;
    t->served = t->l2_hits = t->l2_misses = 0;
    return DC_OK;
}

dc_err dc_vtlb_reset(dc_machine *m, uint32_t h, uint32_t n)
{
    l2tlb *t;
    dc_err e = l2tlb_table(m, h, &t);
    if (e)
        return e;
    if (n > MAX_TLB) {
        set_error(m, "a virtual TLB of %u entries: at most %u", n, MAX_TLB);
        return DC_ERR_RANGE;
    }
    memset(t->vt, 0, sizeof t->vt);
    t->vt_n = n;
    return DC_OK;
}

dc_err dc_vtlb_set(dc_machine *m, uint32_t h, uint32_t i, uint32_t hi, uint32_t lo0,
                   uint32_t lo1, uint32_t mask, uint32_t g)
{
    l2tlb *t;
    dc_err e = l2tlb_table(m, h, &t);
    if (e)
        return e;
    if (i >= t->vt_n) {
        set_error(m, "virtual TLB entry %u does not exist (%u entries)", i, t->vt_n);
        return DC_ERR_RANGE;
    }
    t->vt[i] = (vtlb_entry){hi, lo0, lo1, mask, g};
    return DC_OK;
}

dc_err dc_l2tlb_bind(dc_machine *m, uint32_t cpu_id, uint32_t h)
{
    CHECK_CPU(m, cpu_id);
    l2tlb *t = NULL;
    if (h) {
        dc_err e = l2tlb_table(m, h, &t);
        if (e)
            return e;
    }
    m->cpus[cpu_id].l2t = t;
    return DC_OK;
}
