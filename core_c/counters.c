/* counters.c - FLASH's hot-page support and the fabric's traffic counts.
 * FLASH counted the cache misses to every page from every node so that the
 * monitor could migrate and replicate hot pages; a page whose count from one
 * node reaches the threshold is reported (dc_hot_pages) and ends the run. */
#include "internal.h"

void count_miss(dc_machine *m, cpu *c, uint32_t line)
{
    uint64_t page = ((uint64_t)line << m->line_shift) >> PAGE_SHIFT;
    uint32_t *n = &m->counters[page * m->nodes + c->node];
    if (*n != UINT32_MAX)
        (*n)++;
    if (*n == m->cfg.hot_threshold && m->cfg.hot_threshold) {
        if (m->nhot < MAX_HOT) {
            m->hot[m->nhot].page = page;
            m->hot[m->nhot].node = c->node;
            m->hot[m->nhot].count = *n;
            m->nhot++;
        }
        c->stop_reason = DC_EXIT_HOTPAGE;
    }
}

/* Dimension-ordered routing on the hypercube: count each link crossed. */
void count_route(dc_machine *m, uint32_t from, uint32_t to)
{
    uint32_t diff = from ^ to;
    while (diff) {
        uint32_t d = (uint32_t)__builtin_ctz(diff);
        m->links[(uint64_t)from * m->dims + d]++;
        from ^= 1u << d;
        diff &= diff - 1;
    }
}

uint32_t dc_hot_pages(dc_machine *m, dc_hot_page *buf, uint32_t max)
{
    uint32_t n = m->nhot < max ? m->nhot : max;
    memcpy(buf, m->hot, n * sizeof *buf);
    memmove(m->hot, m->hot + n, (m->nhot - n) * sizeof *buf);
    m->nhot -= n;
    return n;
}

dc_err dc_miss_counters(dc_machine *m, uint32_t **out, uint64_t *pages, uint32_t *nodes)
{
    *out = m->counters;
    *pages = m->npages;
    *nodes = m->nodes;
    return DC_OK;
}

void dc_miss_counters_reset(dc_machine *m)
{
    memset(m->counters, 0, m->npages * m->nodes * sizeof *m->counters);
}

dc_err dc_link_counters(dc_machine *m, uint64_t **out, uint32_t *nodes, uint32_t *dims)
{
    *out = m->links;
    *nodes = m->link_nodes;
    *dims = m->dims;
    return DC_OK;
}

dc_err dc_node_stats_get(dc_machine *m, uint32_t node, dc_node_stats *out)
{
    if (node >= m->nodes) {
        set_error(m, "node %u does not exist: the machine has %u nodes", node, m->nodes);
        return DC_ERR_RANGE;
    }
    *out = m->node_stats[node];
    uint64_t first = node * (m->node_bytes >> PAGE_SHIFT), n = m->node_bytes >> PAGE_SHIFT;
    out->pages_touched = 0;
    for (uint64_t p = first; p < first + n; p++)
        out->pages_touched += m->touched[p] != 0;
    return DC_OK;
}
