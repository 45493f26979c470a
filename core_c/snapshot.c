/* snapshot.c - the whole machine as bytes, restored bit-exactly.
 * Layout (little-endian host structs; see docs/snapshot-format.md):
 *   header  magic "DCSNAP01", version, sizes, config, scheduler position
 *   cpus    one cpu_arch block per CPU (all architectural state)
 *   pages   count, then (page index, 4096 bytes) for every touched RAM page
 *   trailer FNV-1a 64 of everything before it
 * A blob is checked completely before anything in the machine changes. */
#include <sys/mman.h>

#include "internal.h"

#define SNAP_MAGIC "DCSNAP01"
#define SNAP_VERSION 1u

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

static uint64_t touched_pages(const dc_machine *m)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < m->npages; i++)
        n += m->touched[i] != 0;
    return n;
}

size_t dc_snapshot_size(dc_machine *m)
{
    return sizeof(snap_header) + m->cfg.ncpus * sizeof(cpu_arch) + sizeof(uint64_t) +
           touched_pages(m) * (sizeof(uint64_t) + PAGE_SIZE) + sizeof(uint64_t);
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
    if (count > m->npages || len != fixed + count * (8 + PAGE_SIZE) + 8)
        return bad(m, "its length does not match its page count (truncated or damaged)");
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
    m->cur = h.cur;
    m->halted = h.halted;
    m->halt_code = h.halt_code;
    m->epoch_end = h.epoch_end;
    return DC_OK;
}
