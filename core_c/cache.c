/* cache.c - set-associative tag arrays for the L1I, L1D and L2 of each CPU.
 * Tags only: values always come from the one copy of memory, so a cache
 * decides how long an access takes, never what it returns. Two ways are
 * replaced least-recently-used; more ways round-robin. */
#include <stdlib.h>

#include "internal.h"

int cache_init(cache *k, uint32_t bytes, uint32_t line_bytes, uint32_t ways)
{
    k->ways = ways;
    k->sets = bytes / line_bytes / ways;   /* a power of two (check_config) */
    if (k->sets == 0 || (k->sets & (k->sets - 1)))
        return 0;
    k->tag = calloc((size_t)k->sets * ways, sizeof *k->tag);
    k->state = calloc((size_t)k->sets * ways, 1);
    k->next = calloc(k->sets, 1);
    return k->tag && k->state && k->next;
}

void cache_free(cache *k)
{
    free(k->tag);
    free(k->state);
    free(k->next);
    memset(k, 0, sizeof *k);
}

int cache_find(const cache *k, uint32_t line, uint32_t *slot)
{
    uint32_t base = (line & (k->sets - 1)) * k->ways;
    for (uint32_t w = 0; w < k->ways; w++) {
        if (k->tag[base + w] == line + 1) {
            *slot = base + w;
            return 1;
        }
    }
    return 0;
}

void cache_touch(cache *k, uint32_t slot)
{
    uint32_t set = slot / k->ways, way = slot % k->ways;
    if (k->ways == 2)
        k->next[set] = (uint8_t)(way ^ 1);
}

uint32_t cache_insert(cache *k, uint32_t line, uint8_t state, uint8_t *victim_state)
{
    uint32_t set = line & (k->sets - 1), base = set * k->ways, way = k->next[set];
    for (uint32_t w = 0; w < k->ways; w++) {
        if (k->tag[base + w] == 0) {    /* prefer an empty way */
            way = w;
            break;
        }
    }
    uint32_t victim = k->tag[base + way];
    *victim_state = k->state[base + way];
    k->tag[base + way] = line + 1;
    k->state[base + way] = state;
    k->next[set] = (uint8_t)(k->ways == 2 ? way ^ 1 : (way + 1) % k->ways);
    return victim;
}

void cache_drop(cache *k, uint32_t line)
{
    uint32_t slot;
    if (cache_find(k, line, &slot)) {
        k->tag[slot] = 0;
        k->state[slot] = 0;
    }
}

void cache_set_state(cache *k, uint32_t line, uint8_t state)
{
    uint32_t slot;
    if (cache_find(k, line, &slot))
        k->state[slot] = state;
}
