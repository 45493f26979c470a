/* exec.c - the interpreter: threaded dispatch over decoded instructions.
 * Semantics follow "MIPS32 Architecture for Programmers Volume II-A"
 * (MD00086) chapter 3, one handler per instruction, grouped as in ops.h;
 * exceptions follow Volume III (MD00090) chapter 6.
 *
 * The loop body is exec_loop.h, compiled three times: the fast loop, the
 * debug loop (breakpoints tested before every instruction) and the timing
 * loop (caches and fabric). Execution state lives in locals: `d` is the
 * instruction about to run and, while it is a delay slot, `tgt` the branch
 * target; a branch dispatches its delay slot through a second copy of the
 * handlers, so the ordinary path carries no delay-slot test. Pages end in a
 * sentinel entry (PAGE_END) and jumps that leave the page go through a
 * per-CPU FAR entry; both translate the new pc. Exceptions of a MONITORED
 * CPU go to the monitor's assists (assist.c) before they exit. */
#include "internal.h"

/* ------------------------------------------------------------------------- */

static inline dpage *page_of(const dinsn *d)
{
    return (dpage *)((uintptr_t)d & ~(uintptr_t)(DPAGE_ALIGN - 1));
}

/* Translate `va` for instruction fetch and return its decoded page. */
static int fetch_page(dc_machine *m, cpu *c, uint32_t va, dpage **out)
{
    if (unlikely(va & 3)) {
        c->fault_refill = 0;
        return EXC_ADEL;
    }
    /* fast: a data access already translated this page */
    stlb_entry *e = &c->stlb[c->mode][(va >> PAGE_SHIFT) & STLB_MASK];
    if (e->rtag == ((va & ~0xFFFu) | ((c->a.entryhi & ENTRYHI_ASID) << 4))) {
        uint64_t off = (uint64_t)((uint8_t *)(e->addend + (va & ~0xFFFu)) - m->ram);
        dpage *p = m->dpages[off >> PAGE_SHIFT];
        if (likely(p != NULL)) {
            *out = p;
            return 0;
        }
    }
    xlate x;
    int r = translate(c, va, ACC_FETCH, &x);
    if (r) {
        c->fault_refill = x.refill;
        return r;
    }
    uint64_t off;
    if (!pa_to_ram(m, x.pa, &off))
        return EXC_IBE;
    dpage *p = dpage_get(m, off >> PAGE_SHIFT);
    if (!p)
        return EXC_IBE;
    stlb_fill(m, c, va, off, x.writable);
    *out = p;
    return 0;
}

static int bp_match(const dc_machine *m, const cpu *c, uint32_t va)
{
    for (uint32_t i = 0; i < m->nbps; i++)
        if (m->bps[i].va == va && (m->bps[i].cpu < 0 || (uint32_t)m->bps[i].cpu == c->id))
            return 1;
    return 0;
}

static int privileged(const cpu *c)
{
    return c->mode == MODE_KERNEL || (c->a.status & STATUS_CU0);
}

#define EXEC_FN exec_fast
#define EXEC_DEBUG 0
#define EXEC_TIMING 0
#include "exec_loop.h"
#undef EXEC_FN
#undef EXEC_DEBUG
#undef EXEC_TIMING

#define EXEC_FN exec_debug
#define EXEC_DEBUG 1
#define EXEC_TIMING 0
#include "exec_loop.h"
#undef EXEC_FN
#undef EXEC_DEBUG
#undef EXEC_TIMING

#define EXEC_FN exec_timing
#define EXEC_DEBUG 0
#define EXEC_TIMING 1
#include "exec_loop.h"
#undef EXEC_FN
#undef EXEC_DEBUG
#undef EXEC_TIMING

void exec_init(void)
{
    exec_fast(NULL, NULL, 0, NULL);
}

/* A step is a run of budget 1: dc_step sets up the breakpoint skip and the
 * turn limit itself, so the loops need not know. */
uint64_t cpu_exec(dc_machine *m, cpu *c, uint64_t budget, dc_exit *ex)
{
    if (m->timing)
        return exec_timing(m, c, budget, ex);
    return m->nbps ? exec_debug(m, c, budget, ex) : exec_fast(m, c, budget, ex);
}
