/* tlb.c - the architectural TLB and address translation.
 * Implements "MIPS32 Architecture for Programmers Volume III" (MD00090),
 * chapter 4 (virtual memory: segments, modes, TLB matching) and the TLBP,
 * TLBR, TLBWI and TLBWR instructions (Volume II-A). One function per
 * instruction; translation returns an ExcCode and never raises. */
#include "internal.h"

/* Bytes covered by one EntryLo half of an entry with this PageMask. */
static inline uint32_t half_size(uint32_t mask)
{
    return ((mask | 0x1FFFu) + 1) >> 1;
}

int tlb_lookup(const cpu *c, uint32_t va, uint32_t asid)
{
    uint32_t n = c->m->cfg.tlb_entries;
    for (uint32_t i = 0; i < n; i++) {
        const tlb_entry *e = &c->a.tlb[i];
        uint32_t vmask = ~(e->mask | 0x1FFFu);
        if (((va ^ e->hi) & vmask) == 0 && (e->g || (e->hi & ENTRYHI_ASID) == asid))
            return (int)i;
    }
    return -1;
}

int translate(cpu *c, uint32_t va, int acc, xlate *x)
{
    uint32_t mode = c->mode;
    int ade = acc == ACC_STORE ? EXC_ADES : EXC_ADEL;
    x->refill = 0;
    x->writable = 1;
    if (va < KSEG0) {
        if (mode == MODE_KERNEL && (c->a.status & STATUS_ERL)) {
            x->pa = va;         /* ERL: kuseg is unmapped and uncached */
            return 0;
        }
    } else if (va < KSSEG) {
        if (mode != MODE_KERNEL)
            return ade;
        x->pa = va & 0x1FFFFFFFu;   /* kseg0 and kseg1 */
        return 0;
    } else if (va < KSEG3) {
        if (mode == MODE_USER)
            return ade;
    } else if (mode != MODE_KERNEL) {
        return ade;
    }

    int i = tlb_lookup(c, va, c->a.entryhi & ENTRYHI_ASID);
    int tlbexc = acc == ACC_STORE ? EXC_TLBS : EXC_TLBL;
    if (i < 0) {
        x->refill = 1;
        return tlbexc;
    }
    const tlb_entry *e = &c->a.tlb[i];
    uint32_t half = half_size(e->mask);
    uint32_t lo = (va & half) ? e->lo1 : e->lo0;
    if (!(lo & ENTRYLO_V))
        return tlbexc;
    x->writable = (lo & ENTRYLO_D) != 0;
    if (acc == ACC_STORE && !x->writable)
        return EXC_MOD;
    uint64_t pfn = (lo >> ENTRYLO_PFN_SHIFT) & 0xFFFFFFu;
    x->pa = ((pfn << PAGE_SHIFT) & ~(uint64_t)(half - 1)) | (va & (half - 1));
    return 0;
}

/* Drop host translations derived from entry i before it changes. */
static void entry_forget(cpu *c, const tlb_entry *e)
{
    uint32_t span = half_size(e->mask) * 2;
    stlb_flush_range(c, e->hi & ENTRYHI_VPN2 & ~e->mask, span);
}

void tlb_set(cpu *c, uint32_t i, uint32_t hi, uint32_t lo0, uint32_t lo1, uint32_t mask)
{
    tlb_entry *e = &c->a.tlb[i];
    entry_forget(c, e);
    e->mask = mask & PAGEMASK_MASK;
    e->hi = hi & ((ENTRYHI_VPN2 & ~e->mask) | ENTRYHI_ASID);
    e->g = lo0 & lo1 & ENTRYLO_G;
    e->lo0 = lo0 & ENTRYLO_WRITABLE & ~ENTRYLO_G;
    e->lo1 = lo1 & ENTRYLO_WRITABLE & ~ENTRYLO_G;
    entry_forget(c, e);
}

static void write_entry(cpu *c, uint32_t i)
{
    tlb_set(c, i, c->a.entryhi, c->a.entrylo0, c->a.entrylo1, c->a.pagemask);
}

void tlbwi(cpu *c)
{
    write_entry(c, (c->a.index & 0x3F) % c->m->cfg.tlb_entries);
}

void tlbwr(cpu *c, uint64_t now)
{
    write_entry(c, cp0_random(c, now));
}

void tlbp(cpu *c)
{
    uint32_t hi = c->a.entryhi;
    uint32_t n = c->m->cfg.tlb_entries;
    for (uint32_t i = 0; i < n; i++) {
        const tlb_entry *e = &c->a.tlb[i];
        uint32_t vmask = ENTRYHI_VPN2 & ~e->mask;
        if (((hi ^ e->hi) & vmask) == 0 && (e->g || ((hi ^ e->hi) & ENTRYHI_ASID) == 0)) {
            c->a.index = i;
            return;
        }
    }
    c->a.index = INDEX_P | (c->a.index & 0x3F);
}

void tlbr(cpu *c)
{
    const tlb_entry *e = &c->a.tlb[(c->a.index & 0x3F) % c->m->cfg.tlb_entries];
    c->a.pagemask = e->mask;
    c->a.entryhi = e->hi;
    c->a.entrylo0 = e->lo0 | e->g;
    c->a.entrylo1 = e->lo1 | e->g;
}
