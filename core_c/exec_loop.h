/* exec_loop.h - the body of the interpreter loop, included three times by
 * exec.c: the fast loop (EXEC_DEBUG 0, EXEC_TIMING 0: dispatch through the
 * decoded record's handler, no breakpoint test), the debug loop (EXEC_DEBUG 1:
 * test breakpoints before every instruction, dispatch by op) and the timing
 * loop (EXEC_TIMING 1: every instruction-line fetch and data access goes
 * through the caches and the fabric; breakpoints are tested only when some
 * are set). A test per instruction costs the fast loop more than half its
 * speed, so breakpoints cost nothing until one is set. The copies differ only
 * in the constants those two switches give the macros below (DISPATCH_TO,
 * IFETCH, TDATA, TSLOW), so each is written once. Define EXEC_FN, EXEC_DEBUG
 * and EXEC_TIMING first.
 *
 * State lives in locals: `d` is the record about to run. An ordinary
 * instruction continues at d + 1. A branch sets `tgt` (where to go after the
 * delay slot) and dispatches d + 1 through the delay-slot copy of the
 * handlers, whose NEXT is `d = tgt`. So the sequential path carries no
 * delay-slot bookkeeping at all; `bd` is only written on the way out. */

static uint64_t EXEC_FN(dc_machine *m, cpu *c, uint64_t budget, dc_exit *ex)
{
    static const void *const labels[OP_COUNT] = {
#define X(name) &&L_##name,
        OPS(X)
#undef X
    };
    static const void *const dlabels[OP_COUNT] = {
#define X(name) &&LD_##name,
        OPS(X)
#undef X
    };
#if !EXEC_DEBUG
    if (!m) {
        for (int i = 0; i < OP_COUNT; i++)
            g_labels[i] = labels[i];
        return 0;
    }
#endif

    uint64_t left = budget;     /* instructions not yet dispatched */
    uint32_t *R = c->a.gpr;
    stlb_entry *stlb;
    uint32_t asidbits;
    dinsn *d, *tgt = NULL, *pbase;
    uint32_t vbase;
    int bd = 0;                 /* d is a delay slot: valid on the way out */
    dpage *pg;
    uint32_t exc_code = 0, exc_badva = 0, exc_ce = 0;
    int exc_refill = 0, exc_counts = 1;
    uint32_t retarget;
    /* breakpoints are tested always in the debug loop, never in the fast one */
    const int has_bp = EXEC_TIMING ? m->nbps != 0 : EXEC_DEBUG;
#if EXEC_TIMING
    /* the instruction line last fetched lives in the CPU's state, so neither an
     * exit nor a restart makes the next fetch differ from an unbroken run */
    uint64_t cur_line = c->a.fetch_line;
    uint64_t pg_off = 0;                /* RAM offset of the current code page */
    const uint32_t iline_shift = m->line_shift - 2;
    const uint32_t ilines = PAGE_SIZE >> m->line_shift;
#endif
    uint32_t stop_exit = 0, stop_pc = 0;    /* end the run after this instruction */
    uint64_t stop_left = 0;
    uint64_t trim = 0;                      /* instructions cut from the turn by charges */

#define VA_OF(p) ((p) == &c->far_entry ? c->far_target \
                  : vbase + (uint32_t)(((p) - pbase) << 2))
#define NOW() (c->a.cycles + (budget - trim - left))
#define SAVE_STATE() do { \
        c->a.pc = VA_OF(d); \
        c->a.npc = bd ? VA_OF(tgt) : c->a.pc + 4; \
        c->a.bd = (uint32_t)bd; \
    } while (0)
/* Stalls move time on, and so do the cycles an assist charges: after either,
 * the instructions left in this turn are trimmed to the cycles left before
 * the limit, so the turn ends after the same instruction however the host
 * split the run (run(a); run(b) == run(a + b) in timing mode too). Trimmed
 * instructions never executed. */
#define TURN_CHECK() do { \
        uint64_t now_ = NOW(); \
        uint64_t room_ = now_ >= c->cycle_limit ? 0 : c->cycle_limit - now_; \
        if (unlikely(room_ < left)) { trim += left - room_; left = room_; } \
    } while (0)
/* a hot page or a watchpoint ends the run after this instruction: hide the
 * rest of the budget so the next dispatch leaves; only slow paths set it */
#define STOP_CHECK() do { if (unlikely(c->stop_reason)) { \
        if (!stop_exit) { stop_exit = c->stop_reason; stop_left = left; left = 0; \
                          stop_pc = VA_OF(d); } \
        c->stop_reason = 0; } } while (0)
/* after a slow path: a stop it asked for; in timing mode, the stall it charged */
#define TSLOW() do { STOP_CHECK(); if (EXEC_TIMING) TURN_CHECK(); } while (0)
/* another exit comes first: give the budget back and keep the stop pending */
#define UNSTOP() do { if (stop_exit) { left = stop_left; c->stop_reason = stop_exit; \
        stop_exit = 0; } } while (0)
#if EXEC_TIMING
#define IFETCH() do { \
        uint32_t li_ = (uint32_t)(d - pbase) >> iline_shift; \
        uint64_t lo_ = pg_off + ((uint64_t)li_ << m->line_shift); \
        if (unlikely(lo_ != cur_line) && li_ < ilines && d != &c->far_entry) { \
            cur_line = lo_; \
            if (!l1_hit(&c->l1i, (uint32_t)(lo_ >> m->line_shift), 0)) { \
                c->a.cycles += fabric_access(m, c, lo_, ACC_FETCH, 0); \
                STOP_CHECK(); \
                TURN_CHECK(); \
            } \
        } \
    } while (0)
#define NEW_PAGE() do { pg_off = (uint64_t)(pg->host - m->ram); } while (0)
#define TDATA(host, va, acc) do { \
        uint64_t o_ = (uint64_t)((uint8_t *)(host) - m->ram); \
        if (unlikely(((va) >> 29) == 5) || \
            !l1_hit(&c->l1d, (uint32_t)(o_ >> m->line_shift), (acc) == ACC_STORE)) { \
            c->a.cycles += fabric_access(m, c, o_, (acc), ((va) >> 29) == 5); \
            STOP_CHECK(); \
            TURN_CHECK(); \
        } \
    } while (0)
#else
#define IFETCH() do { } while (0)
#define NEW_PAGE() do { } while (0)
#define TDATA(host, va, acc) do { } while (0)
#endif
/* Dispatch, for all three loops: leave when the budget is spent, charge the
 * fetch (timing), test breakpoints when the loop has them (always in the
 * debug loop, when some are set in the timing loop), then jump. Records hold
 * the fast loop's handler addresses, so the other loops dispatch by op; the
 * constant conditions fold away in each copy. */
#define HANDLER(p) (EXEC_DEBUG || EXEC_TIMING ? labels[(p)->op] : (p)->h)
#define DISPATCH_TO(slot, target, bp_label) do { \
        if (unlikely(left == 0)) { bd = (slot); goto out_budget; } \
        left--; \
        IFETCH(); \
        if (unlikely(has_bp)) goto bp_label; \
        goto *(target); \
    } while (0)
#define DISPATCH() DISPATCH_TO(0, HANDLER(d), check_bp)
#define DISPATCH_DELAY() DISPATCH_TO(1, dlabels[d->op], check_bp_delay)
/* a conditional branch: in-page record delta or far byte offset (decode.c) */
#define BRANCH(cond) do { \
        if (likely(d->rd == 0)) { \
            tgt = (cond) ? d + d->imm : d + 2; \
        } else { \
            uint32_t va_ = VA_OF(d); \
            c->far_target = (cond) ? va_ + (uint32_t)d->imm : va_ + 8; \
            tgt = &c->far_entry; \
        } \
        d++; \
        DISPATCH_DELAY(); \
    } while (0)
/* branch likely: the delay slot runs only when taken */
#define BRANCH_LIKELY(cond) do { \
        if (cond) { \
            if (likely(d->rd == 0)) { \
                tgt = d + d->imm; \
            } else { \
                c->far_target = VA_OF(d) + (uint32_t)d->imm; \
                tgt = &c->far_entry; \
            } \
            d++; \
            DISPATCH_DELAY(); \
        } \
        if (likely(d->rd == 0)) { d += 2; DISPATCH(); } \
        c->far_target = VA_OF(d) + 8; \
        d = &c->far_entry; \
        DISPATCH(); \
    } while (0)
/* an absolute target: in-page when aligned, on this page, and the delay slot
 * is on this page too (otherwise the sentinel would move vbase under it) */
#define JUMP_VA(target) do { \
        uint32_t t2_ = (target); \
        if (likely(((t2_ ^ vbase) & ~0xFFCu) == 0 && d != pbase + (PAGE_WORDS - 1))) { \
            tgt = pbase + ((t2_ >> 2) & (PAGE_WORDS - 1)); \
        } else { \
            c->far_target = t2_; \
            tgt = &c->far_entry; \
        } \
        d++; \
        DISPATCH_DELAY(); \
    } while (0)
#define EXC(code, badva) do { exc_code = (code); exc_badva = (badva); exc_refill = 0; \
        exc_ce = 0; bd = CTX_BD; goto take_exc; } while (0)
#define EXC_CE(ce) do { exc_code = EXC_CPU; exc_badva = 0; exc_refill = 0; \
        exc_ce = (ce); bd = CTX_BD; goto take_exc; } while (0)
#define EXC_MEM(code, badva) do { exc_code = (uint32_t)(code); exc_badva = (badva); \
        exc_refill = (exc_code == EXC_TLBL || exc_code == EXC_TLBS) ? c->fault_refill : 0; \
        exc_ce = 0; bd = CTX_BD; goto take_exc; } while (0)
#define PRIV() do { if (unlikely(!privileged(c))) EXC_CE(0); } while (0)
/* a load from a device: exit before it executes; it re-runs with the value */
#define MMIO_READ_EXIT() do { bd = CTX_BD; goto out_mmio_read; } while (0)
/* a store to a device: it is done; exit after it */
#define MMIO_WRITE_EXIT() do { RETIRE(); UNSTOP(); ex->reason = DC_EXIT_MMIO; goto out; } \
    while (0)

    if (unlikely(c->stop_reason)) {     /* left pending by an earlier exit */
        ex->reason = c->stop_reason;
        c->stop_reason = 0;
        if (ex->reason == DC_EXIT_WATCHPOINT) {
            ex->watch = c->watch_hit;
            ex->watch.pc = c->a.pc;
        }
        return 0;
    }
restart:
    stlb = c->stlb[c->mode];
    asidbits = (c->a.entryhi & ENTRYHI_ASID) << 4;
    if (unlikely(irq_pending(c))) {
        exc_code = EXC_INT;
        exc_badva = 0;
        exc_refill = 0;
        exc_ce = 0;
        exc_counts = 0;
        goto take_exc_unsaved;
    }
    {
        uint32_t pc = c->a.pc, npc = c->a.npc;
        int r = fetch_page(m, c, pc, &pg);
        if (unlikely(r)) {
            exc_code = (uint32_t)r;
            exc_badva = pc;
            exc_refill = (r == EXC_TLBL) ? c->fault_refill : 0;
            exc_ce = 0;
            exc_counts = 1;
            if (left == 0)
                goto out;       /* nothing may run: report nothing */
            left--;
            goto take_exc_unsaved;
        }
        pbase = pg->insn;
        vbase = pc & ~0xFFFu;
        d = pbase + ((pc >> 2) & (PAGE_WORDS - 1));
        NEW_PAGE();
        if (c->a.bd) {          /* resuming in a delay slot */
            if (((npc ^ vbase) & ~0xFFCu) == 0) {
                tgt = pbase + ((npc >> 2) & (PAGE_WORDS - 1));
            } else {
                c->far_target = npc;
                tgt = &c->far_entry;
            }
            DISPATCH_DELAY();
        }
    }
    DISPATCH();

check_bp:
    bd = 0;
    goto test_bp;
check_bp_delay:
    bd = 1;
test_bp: {
        uint32_t va = VA_OF(d);
        if (bp_match(m, c, va)) {
            if (c->bp_skip && c->bp_skip_va == va) {
                c->bp_skip = 0;
            } else {
                left++;
                SAVE_STATE();
                c->bp_skip = 1;
                c->bp_skip_va = va;
                ex->reason = DC_EXIT_BREAKPOINT;
                goto out;
            }
        } else {
            c->bp_skip = 0;
        }
        if (bd)
            goto *dlabels[d->op];
        goto *labels[d->op];
    }

    /* ---- ordinary instructions ---- */
#define H(name) L_##name
#define CTX_BD 0
#define CTX_HANDLER(p) HANDLER(p)
#define CTX_DISPATCH() DISPATCH()
#define NEXT() do { d++; DISPATCH(); } while (0)
#define RETIRE() do { d++; bd = 0; SAVE_STATE(); } while (0)
#include "exec_handlers.h"
#undef H
#undef CTX_BD
#undef CTX_HANDLER
#undef CTX_DISPATCH
#undef NEXT
#undef RETIRE

    /* ---- the same, in a branch delay slot ---- */
#define H(name) LD_##name
#define CTX_BD 1
#define CTX_HANDLER(p) dlabels[(p)->op]
#define CTX_DISPATCH() DISPATCH_DELAY()
#define NEXT() do { d = tgt; DISPATCH(); } while (0)
#define RETIRE() do { d = tgt; bd = 0; SAVE_STATE(); } while (0)
#include "exec_handlers.h"
#undef H
#undef CTX_BD
#undef CTX_HANDLER
#undef CTX_DISPATCH
#undef NEXT
#undef RETIRE

    /* ---- exits ---- */
take_exc:
    exc_counts = 1;
    SAVE_STATE();
take_exc_unsaved: {
        /* the CPU state (pc, npc, bd) describes the faulting instruction */
        uint32_t pc = c->a.pc;
        int fbd = (int)c->a.bd;
        c->a.stats.exceptions[exc_code & 31]++;
        if (exc_code == EXC_INT)
            c->a.stats.interrupts++;
        if (exc_refill && !(c->a.status & STATUS_EXL))
            c->a.stats.tlb_refills++;
        if (c->a.ownership == DC_MONITORED) {
            /* what the monitor would do just so, done without an exit (assist.c) */
            uint32_t cost = 0;
            if (monitor_assist(m, c, exc_code, exc_badva, exc_ce, pc, fbd, &cost)) {
                if (exc_counts)
                    left++;             /* it runs again, or was emulated: not executed */
                c->a.cycles += cost;
                TURN_CHECK();           /* as a host charge between two runs would */
                goto restart;
            }
            UNSTOP();
            if (exc_counts)
                left++;                 /* it did not execute */
            dc_exit_exception *e = &ex->exception;
            e->code = exc_code;
            e->pc = pc;
            e->epc = fbd ? pc - 4 : pc;
            e->badvaddr = exc_badva;
            e->bd = (uint32_t)fbd;
            e->ce = exc_ce;
            e->refill = (uint32_t)exc_refill;
            e->mode = c->mode;
            e->insn = 0;
            if (exc_code != EXC_INT)
                fetch_word(m, c, pc, &e->insn);
            ex->reason = DC_EXIT_EXCEPTION;
            goto out;
        }
        take_exception(c, exc_code, pc, fbd, exc_badva, exc_refill, exc_ce);
        goto restart;
    }

out_mmio_read:
    UNSTOP();
    left++;
    SAVE_STATE();
    ex->reason = DC_EXIT_MMIO;
    goto out;
out_budget:
    SAVE_STATE();
    if (stop_exit) {
        left = stop_left;
        ex->reason = stop_exit;
        if (stop_exit == DC_EXIT_WATCHPOINT) {
            ex->watch = c->watch_hit;
            ex->watch.pc = stop_pc;
        }
    }
out:
#if EXEC_TIMING
    c->a.fetch_line = cur_line;
#endif
    return budget - trim - left;
}

#undef STOP_CHECK
#undef TURN_CHECK
#undef UNSTOP
#undef IFETCH
#undef NEW_PAGE
#undef TDATA
#undef TSLOW
#undef VA_OF
#undef NOW
#undef SAVE_STATE
#undef HANDLER
#undef DISPATCH
#undef DISPATCH_DELAY
#undef DISPATCH_TO
#undef BRANCH
#undef BRANCH_LIKELY
#undef JUMP_VA
#undef EXC
#undef EXC_CE
#undef EXC_MEM
#undef PRIV
#undef MMIO_READ_EXIT
#undef MMIO_WRITE_EXIT
#undef STLB_E
#undef KEY
#undef LOAD
#undef STORE
