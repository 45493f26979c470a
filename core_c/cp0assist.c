/* cp0assist.c - the guest kernel's side-effect-free CP0 instructions in C (a
 * "C assist"). Under the monitor every MFC0/MTC0/DI/EI of the guest kernel
 * traps. The registers without side effects live in the running vCPU's
 * register page (disco_core/monitor/regpage.py, docs/monitor-abi.md: one
 * machine page, word i = register i of the layout), the only copy the
 * monitor keeps, so the core can do what Monitor._handle/emulate_cop0 would:
 * MFC0 of a page register; MTC0 of one (with the hardware's write masks),
 * Status and EntryHi with their effect on the real Status and ASID; DI; EI;
 * ERET; and the reflection of a guest user's SYSCALL into the guest kernel.
 * What would deliver an interrupt, touch the timer, or has any other effect
 * exits to Python as before. */
#include "internal.h"

/* the COP0 instruction fields it decodes (MD00086 table A.9) */
#define RS_MF 0x00
#define RS_MT 0x04
#define RS_MFMC0 0x0B
#define CO_ERET 0x18

/* The page word of CP0 (reg, sel), or -1 when the register is not in the page. */
static int page_word(uint32_t reg, uint32_t sel)
{
    switch (reg * 8 + sel) {
    case CP0_INDEX * 8: return RP_INDEX;
    case CP0_ENTRYLO0 * 8: return RP_ENTRYLO0;
    case CP0_ENTRYLO1 * 8: return RP_ENTRYLO1;
    case CP0_CONTEXT * 8: return RP_CONTEXT;
    case CP0_CONTEXT * 8 + 2: return RP_USERLOCAL;
    case CP0_PAGEMASK * 8: return RP_PAGEMASK;
    case CP0_BADVADDR * 8: return RP_BADVADDR;
    case CP0_ENTRYHI * 8: return RP_ENTRYHI;
    case CP0_STATUS * 8: return RP_STATUS;
    case CP0_CAUSE * 8: return RP_CAUSE;
    case CP0_EPC * 8: return RP_EPC;
    case CP0_PRID * 8 + 1: return RP_EBASE;
    case CP0_ERROREPC * 8: return RP_ERROREPC;
    }
    return -1;
}

static inline int deliverable_with(uint32_t st, uint32_t cause)
{
    return (st & STATUS_IE) && !(st & (STATUS_EXL | STATUS_ERL)) && (cause & st & STATUS_IM);
}

static inline int deliverable(const uint32_t *w)
{
    return deliverable_with(w[RP_STATUS], w[RP_CAUSE]);
}

static inline int guest_kernel(uint32_t st)
{
    return (st & (STATUS_EXL | STATUS_ERL)) || !(st & STATUS_KSU);
}

/* Monitor.sync_mode: guest kernel mode runs in real supervisor mode, the rest in user */
static void sync_mode(cpu *c, const l2tlb *t, uint32_t st)
{
    uint32_t real = guest_kernel(st) ? t->real_super : t->real_user;
    if (c->a.status != real)
        cp0_write(c, CP0_STATUS, 0, real, c->a.cycles);
}

int cp0_assist(dc_machine *m, cpu *c, uint32_t insn)
{
    l2tlb *t = c->l2t;
    uint32_t *w = (uint32_t *)(m->ram + t->regpage);
    int kind;
    if (insn >> 26 != 0x10)
        return 0;
    if (insn == 0x42000008u || insn == 0x42000001u) {  /* TLBP, TLBR (l2tlb.c) */
        int probe = insn == 0x42000008u;
        if (!(probe ? vtlb_probe(c, w) : vtlb_read(c, w)))
            return 0;
        kind = probe ? CP0K_TLBP : CP0K_TLBR;
        goto advance;
    }
    if (insn == (0x42000000u | CO_ERET)) {     /* emulate.eret */
        uint32_t st = w[RP_STATUS], target;
        if (st & STATUS_ERL) {
            target = w[RP_ERROREPC];
            st &= ~STATUS_ERL;
        } else {
            target = w[RP_EPC];
            st &= ~STATUS_EXL;
        }
        if (deliverable_with(st, w[RP_CAUSE]))
            return 0;           /* Python delivers it on the way */
        w[RP_STATUS] = st;
        sync_mode(c, t, st);
        c->a.pc = target;
        c->a.npc = target + 4;
        c->a.bd = 0;
        c->a.llbit = 0;
        if (!guest_kernel(st) && (st & STATUS_KSU) >> STATUS_KSU_SHIFT >= MODE_USER)
            t->progressed = 1;  /* into guest user mode */
        t->cp0_served[CP0K_ERET]++;
        return CP0K_ERET + 1;
    }
    uint32_t rs = (insn >> 21) & 0x1F, rt = (insn >> 16) & 0x1F, rd = (insn >> 11) & 0x1F;
    uint32_t sel = insn & 7;
    if (rs == RS_MF) {
        int i = page_word(rd, sel);
        if (i < 0)
            return 0;
        if (rt)
            c->a.gpr[rt] = w[i];
        kind = CP0K_MFC0;
    } else if (rs == RS_MT) {
        uint32_t v = c->a.gpr[rt];
        if (sel == 0 && (rd == CP0_COUNT || rd == CP0_COMPARE))
            return 0;           /* Count, Compare: the virtual timer */
        if (sel == 0 && rd == CP0_STATUS) {     /* Status: the mode may change */
            uint32_t st = (w[RP_STATUS] & ~STATUS_WRITABLE) | (v & STATUS_WRITABLE);
            if (deliverable_with(st, w[RP_CAUSE]))
                return 0;
            w[RP_STATUS] = st;
            sync_mode(c, t, st);
            goto mtc0_done;
        }
        if (sel == 0 && rd == CP0_CAUSE) {
            if ((v ^ w[RP_CAUSE]) & CAUSE_DC)
                return 0;       /* DC stops or starts the virtual Count: Python's */
            uint32_t cause = (w[RP_CAUSE] & ~CAUSE_WRITABLE) | (v & CAUSE_WRITABLE);
            if (deliverable_with(w[RP_STATUS], cause))
                return 0;
            w[RP_CAUSE] = cause;
            goto mtc0_done;
        }
        if (deliverable(w))
            return 0;           /* the interrupt is delivered now, by Python */
        switch (rd * 8 + sel) {
        case CP0_INDEX * 8: w[RP_INDEX] = (w[RP_INDEX] & INDEX_P) | (v & 0x3F); break;
        case CP0_ENTRYLO0 * 8: w[RP_ENTRYLO0] = v & ENTRYLO_WRITABLE; break;
        case CP0_ENTRYLO1 * 8: w[RP_ENTRYLO1] = v & ENTRYLO_WRITABLE; break;
        case CP0_CONTEXT * 8:
            w[RP_CONTEXT] = (w[RP_CONTEXT] & ~CONTEXT_PTEBASE) | (v & CONTEXT_PTEBASE);
            break;
        case CP0_CONTEXT * 8 + 2: w[RP_USERLOCAL] = v; break;
        case CP0_ENTRYHI * 8: {     /* guest ASIDs go straight to the hardware */
            uint32_t old = w[RP_ENTRYHI];
            w[RP_ENTRYHI] = v & (ENTRYHI_VPN2 | ENTRYHI_ASID);
            if ((old ^ v) & ENTRYHI_ASID)
                cp0_write(c, CP0_ENTRYHI, 0, v & ENTRYHI_ASID, c->a.cycles);
            break;
        }
        case CP0_PAGEMASK * 8: w[RP_PAGEMASK] = v & PAGEMASK_MASK; break;
        case CP0_BADVADDR * 8: break;   /* read-only */
        case CP0_EPC * 8: w[RP_EPC] = v; break;
        case CP0_PRID * 8 + 1:      /* EBase */
            w[RP_EBASE] = (w[RP_EBASE] & ~EBASE_WRITABLE) | (v & EBASE_WRITABLE);
            break;
        case CP0_ERROREPC * 8: w[RP_ERROREPC] = v; break;
        default: return 0;
        }
mtc0_done:
        kind = CP0K_MTC0;
    } else if (rs == RS_MFMC0) {
        uint32_t old = w[RP_STATUS];
        if (insn & 0x20) {
            w[RP_STATUS] = old | STATUS_IE;
            if (deliverable(w)) {
                w[RP_STATUS] = old;
                return 0;       /* Python delivers it */
            }
            kind = CP0K_EI;
        } else {
            w[RP_STATUS] = old & ~STATUS_IE;
            kind = CP0K_DI;
        }
        if (rt)
            c->a.gpr[rt] = old;
    } else {
        return 0;
    }
advance:    /* continue after the instruction, as Cpu.advance does */
    c->a.pc = c->a.npc;
    c->a.npc = c->a.pc + 4;
    c->a.bd = 0;
    t->cp0_served[kind]++;
    return (int)kind + 1;
}

/* emulate.reflect: enter the guest's vector as the hardware would (PRA 6.2) */
static int reflect(dc_machine *m, cpu *c, uint32_t code, uint32_t pc, int bd, uint32_t va,
                   int refill)
{
    l2tlb *t = c->l2t;
    uint32_t *w = (uint32_t *)(m->ram + t->regpage);
    uint32_t st = w[RP_STATUS], cause = w[RP_CAUSE], off = VEC_GENERAL;
    if (st & STATUS_BEV)
        return 0;               /* the boot vectors: Python stops the VM */
    if (!(st & STATUS_EXL)) {
        w[RP_EPC] = bd ? pc - 4 : pc;
        cause = (cause & ~CAUSE_BD) | (bd ? CAUSE_BD : 0);
        if (refill && (code == EXC_TLBL || code == EXC_TLBS))
            off = 0;            /* the refill vector */
    }
    w[RP_CAUSE] = (cause & ~(CAUSE_EXCCODE | CAUSE_CE)) | (code << CAUSE_EXCCODE_SHIFT);
    if (code == EXC_MOD || code == EXC_TLBL || code == EXC_TLBS) {
        w[RP_CONTEXT] = (w[RP_CONTEXT] & ~CONTEXT_BADVPN2) | ((va >> 13) << CONTEXT_BADVPN2_SHIFT);
        w[RP_ENTRYHI] = (va & ENTRYHI_VPN2) | (w[RP_ENTRYHI] & ENTRYHI_ASID);
        w[RP_BADVADDR] = va;
    }
    st |= STATUS_EXL;
    w[RP_STATUS] = st;
    sync_mode(c, t, st);
    uint32_t vector = KSSEG | ((w[RP_EBASE] & 0x1FFFF000u) + off);
    c->a.pc = vector;           /* Monitor.set_pc */
    c->a.npc = vector + 4;
    c->a.bd = 0;
    c->a.mmio_ready = 0;
    t->cp0_served[CP0K_REFLECT]++;
    return CP0K_REFLECT + 1;
}

/* a SYSCALL from guest user mode, into the guest's general vector */
int sys_reflect(dc_machine *m, cpu *c, uint32_t pc, int bd)
{
    return reflect(m, c, EXC_SYS, pc, bd, 0, 0);
}

/* a kuseg TLB miss the guest's own TLB does not serve (l2tlb.c) */
int reflect_tlb(dc_machine *m, cpu *c, uint32_t code, uint32_t pc, int bd, uint32_t va,
                int refill)
{
    return reflect(m, c, code, pc, bd, va, refill);
}

dc_err dc_cp0_assist(dc_machine *m, uint32_t h, uint64_t regpage_pa, const uint32_t *costs,
                     uint32_t real_super, uint32_t real_user)
{
    l2tlb *t;
    dc_err e = l2tlb_table(m, h, &t);
    if (e)
        return e;
    uint64_t off;
    if ((regpage_pa & (PAGE_SIZE - 1)) || !pa_to_ram(m, regpage_pa, &off)) {
        set_error(m, "register page 0x%llx is not a page of RAM", (unsigned long long)regpage_pa);
        return DC_ERR_RANGE;
    }
    t->regpage = off;
    t->has_regpage = 1;
    m->touched[off / PAGE_SIZE] = 1;  /* written from now on: snapshots carry it */
    memcpy(t->cp0_cost, costs, sizeof t->cp0_cost);
    t->real_super = real_super;
    t->real_user = real_user;
    return DC_OK;
}

dc_err dc_cp0_take(dc_machine *m, uint32_t h, uint64_t out[8])
{
    l2tlb *t;
    dc_err e = l2tlb_table(m, h, &t);
    if (e)
        return e;
    for (int k = 0; k < CP0K_COUNT; k++) {
        out[k] = t->cp0_served[k];
        t->cp0_served[k] = 0;
    }
    return DC_OK;
}

dc_err dc_vcpu_progressed(dc_machine *m, uint32_t h, uint32_t *out)
{
    l2tlb *t;
    dc_err e = l2tlb_table(m, h, &t);
    if (e)
        return e;
    *out = t->progressed;
    t->progressed = 0;
    return DC_OK;
}
