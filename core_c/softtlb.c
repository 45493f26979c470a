/* softtlb.c - the host-side translation cache (not architectural).
 * Loads and stores look here first; a miss takes the slow path in mem.c,
 * which walks the architectural TLB and fills a slot. Kept apart from the
 * MIPS TLB the way Spike keeps its tlb_load_tag apart from the page walk. */
#include "internal.h"

static void slot_clear(stlb_entry *e)
{
    e->rtag = STLB_INVALID;
    e->wtag = STLB_INVALID;
    e->addend = 0;
}

void stlb_flush(cpu *c)
{
    for (int mode = 0; mode < 3; mode++)
        for (uint32_t i = 0; i < STLB_SIZE; i++)
            slot_clear(&c->stlb[mode][i]);
}

void stlb_flush_range(cpu *c, uint32_t va, uint32_t len)
{
    if (len >= STLB_SIZE * PAGE_SIZE) {
        stlb_flush(c);
        return;
    }
    for (uint32_t off = 0; off < len; off += PAGE_SIZE) {
        uint32_t slot = ((va + off) >> PAGE_SHIFT) & STLB_MASK;
        for (int mode = 0; mode < 3; mode++)
            slot_clear(&c->stlb[mode][slot]);
    }
}

void stlb_fill(dc_machine *m, cpu *c, uint32_t va, uint64_t ramoff, int writable)
{
    if (unlikely(m->nwatch) && watch_page(m, va))
        return;     /* every access to a watched page takes the slow path */
    uint64_t page = ramoff >> PAGE_SHIFT;
    stlb_entry *e = &c->stlb[c->mode][(va >> PAGE_SHIFT) & STLB_MASK];
    uint32_t key = (va & ~0xFFFu) | ((c->a.entryhi & ENTRYHI_ASID) << 4);
    e->rtag = key;
    e->addend = (uintptr_t)(m->ram + (page << PAGE_SHIFT)) - (uintptr_t)(va & ~0xFFFu);
    if (writable && m->dpages[page] == NULL) {
        e->wtag = key;
        m->touched[page] = 1;   /* may be written from now on */
    } else {
        e->wtag = STLB_INVALID;
    }
}

/* A page became code: every CPU's fast store path to it must go. */
void stlb_purge_writes(dc_machine *m, uint64_t page)
{
    uintptr_t host = (uintptr_t)(m->ram + (page << PAGE_SHIFT));
    for (uint32_t i = 0; i < m->cfg.ncpus; i++) {
        cpu *c = &m->cpus[i];
        for (int mode = 0; mode < 3; mode++)
            for (uint32_t s = 0; s < STLB_SIZE; s++) {
                stlb_entry *e = &c->stlb[mode][s];
                if (e->wtag != STLB_INVALID && e->addend + (e->wtag & ~0xFFFu) == host)
                    e->wtag = STLB_INVALID;
            }
    }
}
