/* directory.c - the coherence directory: per memory line, the CPUs whose L2
 * holds it and the one holding it modified. An invalidation-based protocol
 * in the style of FLASH's: a read of a line dirty in another cache is a
 * three-hop miss that downgrades the owner; a write invalidates every other
 * copy (L2 and both L1s). */
#include "internal.h"

static void invalidate_others(dc_machine *m, cpu *c, uint32_t line)
{
    uint64_t others = m->dir_sharers[line] & ~(1ull << c->id);
    uint32_t home = line_home(m, line);
    while (others) {
        uint32_t i = (uint32_t)__builtin_ctzll(others);
        others &= others - 1;
        cpu *o = &m->cpus[i];
        cache_drop(&o->l2, line);
        cache_drop(&o->l1d, line);
        cache_drop(&o->l1i, line);
        c->a.stats.invalidations++;
        count_route(m, home, o->node);      /* invalidation and its ack */
        count_route(m, o->node, home);
    }
}

uint32_t coherence_miss(dc_machine *m, cpu *c, uint32_t line, int acc, int *cls)
{
    uint32_t home = line_home(m, line);
    uint32_t owner = m->dir_owner[line];
    uint32_t cost = fabric_latency(m, c->node, home);
    count_route(m, c->node, home);
    if (owner && owner - 1 != c->id) {
        /* dirty elsewhere: home forwards to the owner, which replies */
        cpu *o = &m->cpus[owner - 1];
        cost += m->cfg.lat_dirty;
        *cls = DC_MISS_DIRTY;
        count_route(m, home, o->node);
        count_route(m, o->node, c->node);
        m->node_stats[home].writebacks++;
        m->dir_owner[line] = 0;
        if (acc != ACC_STORE) {
            cache_set_state(&o->l2, line, LINE_SHARED);
            cache_set_state(&o->l1d, line, LINE_SHARED);
        }
    } else {
        *cls = home == c->node ? DC_MISS_LOCAL : DC_MISS_REMOTE;
        count_route(m, home, c->node);
    }
    if (home == c->node)
        m->node_stats[home].local_served++;
    else
        m->node_stats[home].remote_served++;
    if (acc == ACC_STORE) {
        invalidate_others(m, c, line);
        m->dir_sharers[line] = 1ull << c->id;
        m->dir_owner[line] = (uint8_t)(c->id + 1);
    } else {
        m->dir_sharers[line] |= 1ull << c->id;
    }
    return cost;
}

uint32_t coherence_upgrade(dc_machine *m, cpu *c, uint32_t line)
{
    uint32_t home = line_home(m, line);
    count_route(m, c->node, home);
    count_route(m, home, c->node);
    invalidate_others(m, c, line);
    m->dir_sharers[line] = 1ull << c->id;
    m->dir_owner[line] = (uint8_t)(c->id + 1);
    return fabric_latency(m, c->node, home);
}

/* The L2 let go of a line: a modified one is written back home. */
void coherence_evict(dc_machine *m, cpu *c, uint32_t line, uint8_t state)
{
    m->dir_sharers[line] &= ~(1ull << c->id);
    cache_drop(&c->l1d, line);      /* the L1s are inclusive in the L2 */
    cache_drop(&c->l1i, line);
    if (state == LINE_MODIFIED && m->dir_owner[line] == c->id + 1) {
        uint32_t home = line_home(m, line);
        m->dir_owner[line] = 0;
        m->node_stats[home].writebacks++;
        count_route(m, c->node, home);
    }
}

/* Memory changed outside the caches (the monitor copied or zeroed a page for a
 * migration or replication): every cached copy of the line goes, without a
 * writeback (the monitor's copy already holds the data), so the next access
 * misses to memory rather than to a stale owner. */
void coherence_flush(dc_machine *m, uint32_t line)
{
    uint64_t holders = m->dir_sharers[line];
    if (m->dir_owner[line])
        holders |= 1ull << (m->dir_owner[line] - 1);
    while (holders) {
        uint32_t i = (uint32_t)__builtin_ctzll(holders);
        holders &= holders - 1;
        cpu *o = &m->cpus[i];
        cache_drop(&o->l2, line);
        cache_drop(&o->l1d, line);
        cache_drop(&o->l1i, line);
        o->a.fetch_line = UINT64_MAX;   /* the fetch shortcut may name this line */
    }
    m->dir_sharers[line] = 0;
    m->dir_owner[line] = 0;
}

/* How many lines of RAM [off, off + len) some cache holds modified: the
 * directory's view of whether a page is being written (the NUMA manager does
 * not replicate such pages). */
uint32_t coherence_dirty_lines(dc_machine *m, uint64_t off, uint64_t len)
{
    uint32_t n = 0;
    for (uint64_t l = off >> m->line_shift; l <= (off + len - 1) >> m->line_shift; l++)
        n += m->dir_owner[l] != 0;
    return n;
}
