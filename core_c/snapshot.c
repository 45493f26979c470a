/* snapshot.c - the whole machine as bytes, restored bit-exactly.
 * Layout (little-endian host structs; see docs/snapshot-format.md):
 *   header  magic "DCSNAP01", version, sizes, config, scheduler position
 *   cpus    one cpu_arch block per CPU (all architectural state)
 *   pages   count, then (page index, 4096 bytes) for every touched RAM page
 *   fabric  timing flag, every CPU's cache tag arrays, the directory and the
 *           miss counters (sparse: non-zero entries only), node and link
 *           counters, pending hot pages
 *   trailer FNV-1a 64 of everything before it
 * A blob is checked completely before anything in the machine changes. */
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

#define SNAP_MAGIC "DCSNAP01"
#define SNAP_VERSION 3u

typedef struct snap_header {
    char magic[8];
    uint32_t version;
    uint32_t arch_size;     /* sizeof(cpu_arch): layout changes are refused */
    dc_config cfg;
    uint32_t cur, halted, halt_code, pad;
    uint64_t epoch_end;
} snap_header;

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* ---- the fabric section ---- */

typedef struct wbuf {
    uint8_t *p;         /* NULL: only count */
    size_t n;
} wbuf;

static void put(wbuf *w, const void *src, size_t len)
{
    if (w->p)
        memcpy(w->p + w->n, src, len);
    w->n += len;
}

static void put_cache(wbuf *w, const cache *k)
{
    size_t slots = (size_t)k->sets * k->ways;
    put(w, k->tag, slots * sizeof *k->tag);
    put(w, k->state, slots);
    put(w, k->next, k->sets);
}

static void put_fabric(const dc_machine *m, wbuf *w)
{
    put(w, &m->timing, 4);
    for (uint32_t i = 0; i < m->cfg.ncpus; i++) {
        put_cache(w, &m->cpus[i].l1i);
        put_cache(w, &m->cpus[i].l1d);
        put_cache(w, &m->cpus[i].l2);
    }
    uint64_t count = 0;
    for (uint64_t l = 0; l < m->nlines; l++)
        count += m->dir_sharers[l] != 0 || m->dir_owner[l] != 0;
    put(w, &count, 8);
    for (uint64_t l = 0; l < m->nlines; l++) {
        if (m->dir_sharers[l] == 0 && m->dir_owner[l] == 0)
            continue;
        put(w, &l, 8);
        put(w, &m->dir_sharers[l], 8);
        put(w, &m->dir_owner[l], 1);
    }
    uint64_t ncount = m->npages * m->nodes;
    count = 0;
    for (uint64_t i = 0; i < ncount; i++)
        count += m->counters[i] != 0;
    put(w, &count, 8);
    for (uint64_t i = 0; i < ncount; i++) {
        if (!m->counters[i])
            continue;
        put(w, &i, 8);
        put(w, &m->counters[i], 4);
    }
    put(w, m->node_stats, m->nodes * sizeof *m->node_stats);
    put(w, m->links, (size_t)m->link_nodes * (m->dims ? m->dims : 1) * sizeof *m->links);
    put(w, &m->nhot, 4);
    put(w, m->hot, m->nhot * sizeof *m->hot);
    /* the monitor's round robin over each hardware TLB (hwtlb.c); the assist
     * tables belong to the monitor, which keeps them coherent with its own state */
    for (uint32_t i = 0; i < m->cfg.ncpus; i++)
        put(w, &m->cpus[i].hw_next, 4);
}

/* Reads the fabric section; with apply = 0 it only checks it. */
typedef struct rbuf {
    const uint8_t *p;
    size_t n, pos;
} rbuf;

static int get(rbuf *r, void *dst, size_t len, int apply)
{
    if (r->n - r->pos < len)
        return 0;
    if (apply)
        memcpy(dst, r->p + r->pos, len);
    r->pos += len;
    return 1;
}

static int get_cache(rbuf *r, cache *k, int apply)
{
    size_t slots = (size_t)k->sets * k->ways;
    return get(r, k->tag, slots * sizeof *k->tag, apply) && get(r, k->state, slots, apply) &&
           get(r, k->next, k->sets, apply);
}

static int get_fabric(dc_machine *m, rbuf *r, int apply)
{
    uint32_t timing;
    if (!get(r, &timing, 4, 1))
        return 0;
    if (apply)
        m->timing = timing != 0;
    for (uint32_t i = 0; i < m->cfg.ncpus; i++)
        if (!get_cache(r, &m->cpus[i].l1i, apply) || !get_cache(r, &m->cpus[i].l1d, apply) ||
            !get_cache(r, &m->cpus[i].l2, apply))
            return 0;
    if (apply) {
        madvise(m->dir_sharers, m->nlines * sizeof *m->dir_sharers, MADV_DONTNEED);
        madvise(m->dir_owner, m->nlines, MADV_DONTNEED);
        madvise(m->counters, m->npages * m->nodes * sizeof *m->counters, MADV_DONTNEED);
    }
    uint64_t count;
    if (!get(r, &count, 8, 1) || count > m->nlines)
        return 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t l, sharers;
        uint8_t owner;
        if (!get(r, &l, 8, 1) || !get(r, &sharers, 8, 1) || !get(r, &owner, 1, 1) ||
            l >= m->nlines || owner > m->cfg.ncpus)
            return 0;
        if (apply) {
            m->dir_sharers[l] = sharers;
            m->dir_owner[l] = owner;
        }
    }
    if (!get(r, &count, 8, 1) || count > m->npages * m->nodes)
        return 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t idx;
        uint32_t v;
        if (!get(r, &idx, 8, 1) || !get(r, &v, 4, 1) || idx >= m->npages * m->nodes)
            return 0;
        if (apply)
            m->counters[idx] = v;
    }
    uint32_t nhot;
    if (!get(r, m->node_stats, m->nodes * sizeof *m->node_stats, apply) ||
        !get(r, m->links, (size_t)m->link_nodes * (m->dims ? m->dims : 1) * sizeof *m->links,
             apply) ||
        !get(r, &nhot, 4, 1) || nhot > MAX_HOT)
        return 0;
    if (apply)
        m->nhot = nhot;
    if (!get(r, m->hot, nhot * sizeof *m->hot, apply))
        return 0;
    for (uint32_t i = 0; i < m->cfg.ncpus; i++) {
        uint32_t next;
        if (!get(r, &next, 4, 1) || next >= m->cfg.tlb_entries)
            return 0;
        if (apply)
            m->cpus[i].hw_next = next;
    }
    return 1;
}

static uint64_t touched_pages(const dc_machine *m)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < m->npages; i++)
        n += m->touched[i] != 0;
    return n;
}

size_t dc_snapshot_size(dc_machine *m)
{
    wbuf w = {NULL, 0};
    put_fabric(m, &w);
    return sizeof(snap_header) + m->cfg.ncpus * sizeof(cpu_arch) + sizeof(uint64_t) +
           touched_pages(m) * (sizeof(uint64_t) + PAGE_SIZE) + w.n + sizeof(uint64_t);
}

dc_err dc_snapshot_save(dc_machine *m, void *buf, size_t len, size_t *written)
{
    size_t need = dc_snapshot_size(m);
    if (len < need) {
        set_error(m, "snapshot buffer of %zu bytes is too small: %zu needed", len, need);
        return DC_ERR_ARG;
    }
    uint8_t *p = buf;
    snap_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, SNAP_MAGIC, 8);
    h.version = SNAP_VERSION;
    h.arch_size = sizeof(cpu_arch);
    h.cfg = m->cfg;
    h.cur = m->cur;
    h.halted = m->halted;
    h.halt_code = m->halt_code;
    h.epoch_end = m->epoch_end;
    memcpy(p, &h, sizeof h);
    p += sizeof h;
    for (uint32_t i = 0; i < m->cfg.ncpus; i++) {
        memcpy(p, &m->cpus[i].a, sizeof(cpu_arch));
        p += sizeof(cpu_arch);
    }
    uint64_t count = touched_pages(m);
    memcpy(p, &count, 8);
    p += 8;
    for (uint64_t i = 0; i < m->npages; i++) {
        if (!m->touched[i])
            continue;
        memcpy(p, &i, 8);
        memcpy(p + 8, m->ram + (i << PAGE_SHIFT), PAGE_SIZE);
        p += 8 + PAGE_SIZE;
    }
    wbuf w = {p, 0};
    put_fabric(m, &w);
    p += w.n;
    uint64_t sum = fnv1a(buf, (size_t)(p - (uint8_t *)buf));
    memcpy(p, &sum, 8);
    p += 8;
    *written = (size_t)(p - (uint8_t *)buf);
    return DC_OK;
}

static dc_err bad(dc_machine *m, const char *why)
{
    set_error(m, "snapshot refused: %s; the machine is unchanged", why);
    return DC_ERR_SNAPSHOT;
}

dc_err dc_snapshot_load(dc_machine *m, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    snap_header h;
    size_t fixed = sizeof h + m->cfg.ncpus * sizeof(cpu_arch) + 8;
    if (len < sizeof h)
        return bad(m, "it is shorter than a snapshot header");
    memcpy(&h, p, sizeof h);
    if (memcmp(h.magic, SNAP_MAGIC, 8) != 0)
        return bad(m, "it does not start with the snapshot magic DCSNAP01");
    if (h.version != SNAP_VERSION || h.arch_size != sizeof(cpu_arch))
        return bad(m, "it was written by another version of the core");
    if (memcmp(&h.cfg, &m->cfg, sizeof h.cfg) != 0)
        return bad(m, "it belongs to a machine of another configuration");
    if (len < fixed + 8)
        return bad(m, "it is truncated");
    uint64_t count;
    memcpy(&count, p + fixed - 8, 8);
    if (count > m->npages || len < fixed + count * (8 + PAGE_SIZE) + 8)
        return bad(m, "its length does not match its page count (truncated or damaged)");
    rbuf fab = {p + fixed + count * (8 + PAGE_SIZE), 0, 0};
    fab.n = len - 8 - (size_t)(fixed + count * (8 + PAGE_SIZE));
    uint64_t sum;
    memcpy(&sum, p + len - 8, 8);
    if (fnv1a(p, len - 8) != sum)
        return bad(m, "its checksum does not match (damaged)");
    const uint8_t *pages = p + fixed;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t idx;
        memcpy(&idx, pages + i * (8 + PAGE_SIZE), 8);
        if (idx >= m->npages)
            return bad(m, "it names a RAM page outside this machine");
    }
    if (!get_fabric(m, &fab, 0) || fab.pos != fab.n)
        return bad(m, "its fabric section is damaged");
    fab.pos = 0;

    /* valid: replace the machine's state */
    madvise(m->ram, m->ram_size, MADV_DONTNEED);    /* back to zero pages */
    memset(m->touched, 0, m->npages);
    dpages_drop_all(m);
    for (uint64_t i = 0; i < count; i++) {
        uint64_t idx;
        memcpy(&idx, pages + i * (8 + PAGE_SIZE), 8);
        memcpy(m->ram + (idx << PAGE_SHIFT), pages + i * (8 + PAGE_SIZE) + 8, PAGE_SIZE);
        m->touched[idx] = 1;
    }
    const uint8_t *arch = p + sizeof h;
    for (uint32_t i = 0; i < m->cfg.ncpus; i++) {
        cpu *c = &m->cpus[i];
        memcpy(&c->a, arch + i * sizeof(cpu_arch), sizeof(cpu_arch));
        cp0_update_mode(c);
        stlb_flush(c);
        c->bp_skip = 0;
    }
    get_fabric(m, &fab, 1);
    for (uint32_t i = 0; i < m->cfg.ncpus; i++)
        m->cpus[i].stop_reason = 0;
    m->cur = h.cur;
    m->halted = h.halted;
    m->halt_code = h.halt_code;
    m->epoch_end = h.epoch_end;
    return DC_OK;
}
