/* handles.c - numbered tables the monitor's assists hand to Python.
 * An assist table (an L2TLB, a kseg table) is known to Python by a handle:
 * its slot index + 1, so 0 means "none". Freed slots are reused first. */
#include <stdlib.h>

#include "internal.h"

dc_err handle_add(handle_table *t, void *item, uint32_t *handle)
{
    uint32_t i = 0;
    while (i < t->n && t->items[i])
        i++;
    if (i == t->n) {
        uint32_t n = t->n ? t->n * 2 : 8;
        void **grown = realloc(t->items, n * sizeof *grown);
        if (!grown)
            return DC_ERR_NOMEM;
        memset(grown + t->n, 0, (n - t->n) * sizeof *grown);
        t->items = grown;
        t->n = n;
    }
    t->items[i] = item;
    *handle = i + 1;
    return DC_OK;
}

void *handle_get(const handle_table *t, uint32_t h)
{
    return h == 0 || h > t->n ? NULL : t->items[h - 1];
}

void handle_remove(handle_table *t, uint32_t h)
{
    free(t->items[h - 1]);
    t->items[h - 1] = NULL;
}

void handle_free_all(handle_table *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        free(t->items[i]);
    free(t->items);
    t->items = NULL;
    t->n = 0;
}
