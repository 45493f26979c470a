/* exception.c - the single place that enters an exception vector.
 * Implements "MIPS32 Architecture for Programmers Volume III" (MD00090)
 * §6.2: EPC and Cause.BD only when Status.EXL was clear, the refill vector
 * only for TLB misses with EXL clear, BEV selecting the boot vectors. */
#include "internal.h"

void take_exception(cpu *c, uint32_t code, uint32_t pc, int bd, uint32_t badva,
                    int refill, uint32_t ce)
{
    uint32_t off = VEC_GENERAL;
    if (!(c->a.status & STATUS_EXL)) {
        c->a.epc = bd ? pc - 4 : pc;
        c->a.cause = (c->a.cause & ~CAUSE_BD) | (bd ? CAUSE_BD : 0);
        if (refill && (code == EXC_TLBL || code == EXC_TLBS))
            off = VEC_REFILL;
        else if (code == EXC_INT && (c->a.cause & CAUSE_IV))
            off = VEC_INTERRUPT;
    }
    c->a.cause = (c->a.cause & ~(CAUSE_EXCCODE | CAUSE_CE)) |
                 (code << CAUSE_EXCCODE_SHIFT) | ((ce & 3) << CAUSE_CE_SHIFT);
    switch (code) {
    case EXC_MOD:
    case EXC_TLBL:
    case EXC_TLBS:
        c->a.context = (c->a.context & ~CONTEXT_BADVPN2) |
                       ((badva >> 13) << CONTEXT_BADVPN2_SHIFT);
        c->a.entryhi = (badva & ENTRYHI_VPN2) | (c->a.entryhi & ENTRYHI_ASID);
        /* fall through */
    case EXC_ADEL:
    case EXC_ADES:
        c->a.badvaddr = badva;
        break;
    default:
        break;
    }
    c->a.status |= STATUS_EXL;
    cp0_update_mode(c);
    uint32_t base = (c->a.status & STATUS_BEV) ? BEV_BASE : (c->a.ebase & 0xFFFFF000u);
    c->a.pc = base + off;
    c->a.npc = c->a.pc + 4;
    c->a.bd = 0;
}
