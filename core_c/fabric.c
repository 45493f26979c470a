/* fabric.c - the FLASH-like ccNUMA fabric: nodes on a hypercube, the home
 * node of every memory line, miss latencies, and the one entry point the
 * interpreter's timing loop calls for each instruction-line fetch and each
 * data access. Defaults and their sources are in docs/fabric.md. */
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

uint32_t hops(uint32_t a, uint32_t b)
{
    return (uint32_t)__builtin_popcount(a ^ b);
}

uint32_t dc_hops(dc_machine *m, uint32_t from, uint32_t to)
{
    return (from < m->nodes && to < m->nodes) ? hops(from, to) : 0;
}

uint32_t fabric_latency(const dc_machine *m, uint32_t from, uint32_t home)
{
    if (from == home)
        return m->cfg.lat_local;
    return m->cfg.lat_remote + (hops(from, home) - 1) * m->cfg.lat_hop;
}

uint32_t dc_home_node(dc_machine *m, uint64_t pa)
{
    uint64_t off;
    if (!pa_to_ram(m, pa, &off))
        return UINT32_MAX;
    return (uint32_t)(off / m->node_bytes);
}

static void *reserve(size_t len)
{
    void *p = mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int fabric_init(dc_machine *m)
{
    const dc_config *cfg = &m->cfg;
    m->timing = cfg->timing != 0;
    m->nodes = cfg->nodes;
    m->cpus_per_node = cfg->ncpus / cfg->nodes;
    m->node_bytes = cfg->ram_bytes / cfg->nodes;
    m->dims = 0;
    while ((1u << m->dims) < m->nodes)
        m->dims++;
    m->link_nodes = 1u << m->dims;
    m->line_shift = (uint32_t)__builtin_ctz(cfg->line_bytes);
    m->nlines = cfg->ram_bytes >> m->line_shift;
    m->dir_sharers = reserve(m->nlines * sizeof *m->dir_sharers);
    m->dir_owner = reserve(m->nlines);
    m->counters = reserve(m->npages * m->nodes * sizeof *m->counters);
    m->links = calloc((size_t)m->link_nodes * (m->dims ? m->dims : 1), sizeof *m->links);
    m->node_stats = calloc(m->nodes, sizeof *m->node_stats);
    if (!m->dir_sharers || !m->dir_owner || !m->counters || !m->links || !m->node_stats)
        return 0;
    for (uint32_t i = 0; i < cfg->ncpus; i++) {
        cpu *c = &m->cpus[i];
        c->node = i / m->cpus_per_node;
        if (!cache_init(&c->l1i, cfg->l1_bytes, cfg->line_bytes, cfg->l1_ways) ||
            !cache_init(&c->l1d, cfg->l1_bytes, cfg->line_bytes, cfg->l1_ways) ||
            !cache_init(&c->l2, cfg->l2_bytes, cfg->line_bytes, cfg->l2_ways))
            return 0;
    }
    return 1;
}

void fabric_free(dc_machine *m)
{
    if (m->dir_sharers)
        munmap(m->dir_sharers, m->nlines * sizeof *m->dir_sharers);
    if (m->dir_owner)
        munmap(m->dir_owner, m->nlines ? m->nlines : 1);
    if (m->counters)
        munmap(m->counters, m->npages * m->nodes * sizeof *m->counters);
    free(m->links);
    free(m->node_stats);
    if (m->cpus)
        for (uint32_t i = 0; i < m->cfg.ncpus; i++) {
            cache_free(&m->cpus[i].l1i);
            cache_free(&m->cpus[i].l1d);
            cache_free(&m->cpus[i].l2);
        }
}

static void charge(cpu *c, int cls, uint32_t cost, int acc)
{
    c->a.stats.misses[cls]++;
    c->a.stats.miss_cycles[cls] += cost;
    c->a.stats.stall_cycles += cost;
    if (acc == ACC_FETCH && cls != DC_MISS_L2_HIT)
        c->a.stats.ifetch_misses++;
}

uint32_t fabric_access(dc_machine *m, cpu *c, uint64_t ramoff, int acc, int uncached)
{
    uint32_t line = (uint32_t)(ramoff >> m->line_shift);
    if (uncached) {
        uint32_t cost = fabric_latency(m, c->node, line_home(m, line));
        charge(c, DC_MISS_UNCACHED, cost, acc);
        return cost;
    }
    cache *l1 = acc == ACC_FETCH ? &c->l1i : &c->l1d;
    uint32_t slot;
    int in_l1 = cache_find(l1, line, &slot);
    if (in_l1) {
        cache_touch(l1, slot);
        if (acc != ACC_STORE || l1->state[slot] == LINE_MODIFIED)
            return 0;
    }
    uint32_t slot2, cost;
    uint8_t vstate;
    if (cache_find(&c->l2, line, &slot2)) {
        cache_touch(&c->l2, slot2);
        if (acc == ACC_STORE && c->l2.state[slot2] != LINE_MODIFIED) {
            cost = coherence_upgrade(m, c, line);
            c->l2.state[slot2] = LINE_MODIFIED;
            charge(c, DC_MISS_UPGRADE, cost, acc);
            count_miss(m, c, line);
        } else {
            cost = in_l1 ? 0 : m->cfg.lat_l2;
            if (!in_l1)
                charge(c, DC_MISS_L2_HIT, cost, acc);
        }
        uint8_t st = c->l2.state[slot2];
        if (in_l1)
            l1->state[slot] = st;
        else
            cache_insert(l1, line, acc == ACC_FETCH ? LINE_SHARED : st, &vstate);
        return cost;
    }
    int cls;
    cost = coherence_miss(m, c, line, acc, &cls);
    charge(c, cls, cost, acc);
    count_miss(m, c, line);
    uint8_t st = acc == ACC_STORE ? LINE_MODIFIED : LINE_SHARED;
    uint32_t victim = cache_insert(&c->l2, line, st, &vstate);
    if (victim)
        coherence_evict(m, c, victim - 1, vstate);
    if (in_l1)
        l1->state[slot] = st;
    else
        cache_insert(l1, line, acc == ACC_FETCH ? LINE_SHARED : st, &vstate);
    return cost;
}

dc_err dc_set_timing(dc_machine *m, int on)
{
    m->timing = on != 0;
    return DC_OK;
}

int dc_timing(dc_machine *m) { return (int)m->timing; }
