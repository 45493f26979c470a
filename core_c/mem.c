/* mem.c - physical memory: RAM, device ranges, decoded code pages, and the
 * slow paths of loads and stores.
 * RAM is reserved with mmap and committed by the host kernel page by page as
 * the guest touches it. Every guest access is bounds-checked here: an access
 * outside RAM and the device ranges is a bus error in the guest (MD00090
 * §6.2.x, IBE/DBE), never a host fault. */
#include <stdlib.h>

#include "internal.h"

int pa_to_ram(const dc_machine *m, uint64_t pa, uint64_t *off)
{
    if (pa < m->low_ram) {
        *off = pa;
        return 1;
    }
    if (pa >= HIGH_RAM_BASE && pa - HIGH_RAM_BASE < m->ram_size - m->low_ram) {
        *off = m->low_ram + (pa - HIGH_RAM_BASE);
        return 1;
    }
    return 0;
}

/* The instruction word at va as a fetch would translate it, without side
 * effects; 0 when it does not translate to RAM. */
int fetch_word(dc_machine *m, cpu *c, uint32_t va, uint32_t *out)
{
    xlate x;
    uint64_t off;
    if (translate(c, va, ACC_FETCH, &x) != 0 || !pa_to_ram(m, x.pa, &off))
        return 0;
    memcpy(out, m->ram + off, 4);
    return 1;
}

const mmio_range *mmio_find(const dc_machine *m, uint64_t pa)
{
    for (uint32_t i = 0; i < m->nmmio; i++)
        if (pa - m->mmio[i].base < m->mmio[i].size)
            return &m->mmio[i];
    return NULL;
}

dpage *dpage_get(dc_machine *m, uint64_t page)
{
    dpage *p = m->dpages[page];
    if (p)
        return p;
    p = aligned_alloc(DPAGE_ALIGN, DPAGE_ALIGN);
    if (!p)
        return NULL;
    for (uint32_t i = 0; i < PAGE_WORDS; i++) {
        p->insn[i].h = g_labels[OP_UNDECODED];
        p->insn[i].op = OP_UNDECODED;
    }
    p->insn[PAGE_WORDS].h = g_labels[OP_PAGE_END];
    p->insn[PAGE_WORDS].op = OP_PAGE_END;
    p->host = m->ram + (page << PAGE_SHIFT);
    m->dpages[page] = p;
    stlb_purge_writes(m, page);
    return p;
}

/* Bytes [off, off+len) of RAM changed: forget their decoded instructions. */
void code_invalidate(dc_machine *m, uint64_t off, uint64_t len)
{
    if (len == 0)
        return;
    uint64_t end = off + len;
    for (uint64_t page = off >> PAGE_SHIFT; page <= (end - 1) >> PAGE_SHIFT; page++) {
        dpage *p = m->dpages[page];
        if (!p)
            continue;
        uint64_t base = page << PAGE_SHIFT;
        uint64_t lo = off > base ? off - base : 0;
        uint64_t hi = end - base < PAGE_SIZE ? end - base : PAGE_SIZE;
        for (uint64_t w = lo >> 2; w < (hi + 3) >> 2; w++) {
            p->insn[w].h = g_labels[OP_UNDECODED];
            p->insn[w].op = OP_UNDECODED;
        }
    }
}

void dpages_drop_all(dc_machine *m)
{
    for (uint64_t i = 0; i < m->npages; i++) {
        if (m->dpages[i]) {
            free(m->dpages[i]);
            m->dpages[i] = NULL;
        }
    }
}

int watch_page(const dc_machine *m, uint32_t va)
{
    uint32_t page = va & ~0xFFFu;
    for (uint32_t i = 0; i < m->nwatch; i++) {
        const watchpoint *w = &m->watches[i];
        uint32_t first = w->va & ~0xFFFu, last = (w->va + w->len - 1) & ~0xFFFu;
        if (page >= first && page <= last)
            return 1;
    }
    return 0;
}

void watch_check(dc_machine *m, cpu *c, uint32_t va, uint32_t size, int is_write, uint32_t v)
{
    uint32_t want = is_write ? 2u : 1u;
    for (uint32_t i = 0; i < m->nwatch; i++) {
        const watchpoint *w = &m->watches[i];
        if ((w->flags & want) && (w->cpu < 0 || (uint32_t)w->cpu == c->id) &&
            va < w->va + w->len && w->va < va + size) {
            c->stop_reason = DC_EXIT_WATCHPOINT;
            c->watch_hit.va = va;
            c->watch_hit.size = size;
            c->watch_hit.is_write = (uint32_t)is_write;
            c->watch_hit.value = v;
            return;
        }
    }
}

static uint32_t ram_get(const uint8_t *p, uint32_t size)
{
    switch (size) {
    case 1: return p[0];
    case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
    default: { uint32_t v; memcpy(&v, p, 4); return v; }
    }
}

static void ram_put(uint8_t *p, uint32_t size, uint32_t v)
{
    switch (size) {
    case 1: p[0] = (uint8_t)v; break;
    case 2: { uint16_t h = (uint16_t)v; memcpy(p, &h, 2); break; }
    default: memcpy(p, &v, 4); break;
    }
}

static uint32_t size_mask(uint32_t size)
{
    return size >= 4 ? 0xFFFFFFFFu : (1u << (size * 8)) - 1;
}

int mem_load_slow(dc_machine *m, cpu *c, uint32_t va, uint32_t size, uint32_t *val,
                  dc_exit *ex)
{
    if (va & (size - 1))
        return EXC_ADEL;
    xlate x;
    int r = translate(c, va, ACC_LOAD, &x);
    if (r) {
        c->fault_refill = x.refill;
        return r;
    }
    uint64_t off;
    if (pa_to_ram(m, x.pa, &off)) {
        stlb_fill(m, c, va, off, x.writable);
        *val = ram_get(m->ram + off, size);
        if (m->timing)
            c->a.cycles += fabric_access(m, c, off, ACC_LOAD, (va >> 29) == 5);
        if (unlikely(m->nwatch))
            watch_check(m, c, va, size, 0, *val);
        return 0;
    }
    const mmio_range *dev = mmio_find(m, x.pa);
    if (!dev)
        return EXC_DBE;
    if (c->a.mmio_ready && c->a.mmio_pa == x.pa) {
        c->a.mmio_ready = 0;
        *val = (uint32_t)c->a.mmio_value & size_mask(size);
        return 0;
    }
    ex->mmio.pa = x.pa;
    ex->mmio.value = 0;
    ex->mmio.size = size;
    ex->mmio.is_write = 0;
    ex->mmio.device = dev->device;
    ex->mmio.offset = (uint32_t)(x.pa - dev->base);
    c->a.mmio_pa = x.pa;
    return MEM_MMIO;
}

int mem_store_slow(dc_machine *m, cpu *c, uint32_t va, uint32_t size, uint32_t val,
                   dc_exit *ex)
{
    if (va & (size - 1))
        return EXC_ADES;
    xlate x;
    int r = translate(c, va, ACC_STORE, &x);
    if (r) {
        c->fault_refill = x.refill;
        return r;
    }
    uint64_t off;
    if (pa_to_ram(m, x.pa, &off)) {
        uint64_t page = off >> PAGE_SHIFT;
        if (m->dpages[page])
            code_invalidate(m, off, size);
        m->touched[page] = 1;
        ram_put(m->ram + off, size, val);
        stlb_fill(m, c, va, off, 1);
        if (m->timing)
            c->a.cycles += fabric_access(m, c, off, ACC_STORE, (va >> 29) == 5);
        if (unlikely(m->nwatch))
            watch_check(m, c, va, size, 1, val);
        return 0;
    }
    const mmio_range *dev = mmio_find(m, x.pa);
    if (!dev)
        return EXC_DBE;
    ex->mmio.pa = x.pa;
    ex->mmio.value = val & size_mask(size);
    ex->mmio.size = size;
    ex->mmio.is_write = 1;
    ex->mmio.device = dev->device;
    ex->mmio.offset = (uint32_t)(x.pa - dev->base);
    return MEM_MMIO;
}

int mem_merge_slow(dc_machine *m, cpu *c, uint32_t wa, uint32_t mask, uint32_t bits)
{
    xlate x;
    int r = translate(c, wa, ACC_STORE, &x);
    if (r) {
        c->fault_refill = x.refill;
        return r;
    }
    uint64_t off;
    if (!pa_to_ram(m, x.pa, &off))
        return EXC_DBE;     /* partial-word stores to devices are not supported */
    uint64_t page = off >> PAGE_SHIFT;
    if (m->dpages[page])
        code_invalidate(m, off, 4);
    m->touched[page] = 1;
    uint32_t w = ram_get(m->ram + off, 4);
    ram_put(m->ram + off, 4, (w & ~mask) | bits);
    stlb_fill(m, c, wa, off, 1);
    if (m->timing)
        c->a.cycles += fabric_access(m, c, off, ACC_STORE, (wa >> 29) == 5);
    if (unlikely(m->nwatch))
        watch_check(m, c, wa, 4, 1, (w & ~mask) | bits);
    return 0;
}
