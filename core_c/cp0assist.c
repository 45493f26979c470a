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

/* word indexes of the register page (regpage.py) */
enum { RP_STATUS, RP_CAUSE, RP_EPC, RP_BADVADDR, RP_ENTRYHI, RP_ENTRYLO0, RP_ENTRYLO1,
       RP_CONTEXT, RP_PAGEMASK, RP_INDEX, RP_EBASE, RP_ERROREPC, RP_USERLOCAL };

#define RS_MF 0x00
#define RS_MT 0x04
#define RS_MFMC0 0x0B
#define CO_ERET 0x18
#define ST_IE_ (1u << 0)
#define ST_EXL_ (1u << 1)
#define ST_ERL_ (1u << 2)
#define ST_KSU_ (3u << 3)
#define ST_IM_ 0xFF00u
#define ST_BEV_ (1u << 22)
/* the virtual Status/Cause bits MTC0 writes (vcpu.py ST_WRITABLE, CA_WRITABLE) */
#define ST_WRITABLE_ ((1u << 28) | (1u << 27) | ST_BEV_ | (1u << 20) | (1u << 19) | ST_IM_ | \
                      ST_KSU_ | ST_ERL_ | ST_EXL_ | ST_IE_)
#define CA_WRITABLE_ ((1u << 23) | (1u << 22) | (3u << 8))
#define CA_BD_ (1u << 31)
#define CA_EXCCODE_ (0x1Fu << 2)
#define CA_CE_ (3u << 28)
#define RELOCATED_KSEG0 0xC0000000u
#define VEC_GENERAL 0x180u

/* The page word of CP0 (reg, sel), or -1 when the register is not in the page. */
static int page_word(uint32_t reg, uint32_t sel)
{
    switch (reg * 8 + sel) {
    case 0 * 8: return RP_INDEX;
    case 2 * 8: return RP_ENTRYLO0;
    case 3 * 8: return RP_ENTRYLO1;
    case 4 * 8: return RP_CONTEXT;
    case 4 * 8 + 2: return RP_USERLOCAL;
    case 5 * 8: return RP_PAGEMASK;
    case 8 * 8: return RP_BADVADDR;
    case 10 * 8: return RP_ENTRYHI;
    case 12 * 8: return RP_STATUS;
    case 13 * 8: return RP_CAUSE;
    case 14 * 8: return RP_EPC;
    case 15 * 8 + 1: return RP_EBASE;
    case 30 * 8: return RP_ERROREPC;
    }
    return -1;
}

static inline int deliverable_with(uint32_t st, uint32_t cause)
{
    return (st & ST_IE_) && !(st & (ST_EXL_ | ST_ERL_)) && (cause & st & ST_IM_);
}

static inline int deliverable(const uint32_t *w)
{
    return deliverable_with(w[RP_STATUS], w[RP_CAUSE]);
}

static inline int guest_kernel(uint32_t st)
{
    return (st & (ST_EXL_ | ST_ERL_)) || !(st & ST_KSU_);
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
        if (st & ST_ERL_) {
            target = w[RP_ERROREPC];
            st &= ~ST_ERL_;
        } else {
            target = w[RP_EPC];
            st &= ~ST_EXL_;
        }
        if (deliverable_with(st, w[RP_CAUSE]))
            return 0;           /* Python delivers it on the way */
        w[RP_STATUS] = st;
        sync_mode(c, t, st);
        c->a.pc = target;
        c->a.npc = target + 4;
        c->a.bd = 0;
        c->a.llbit = 0;
        if (!guest_kernel(st) && (st & ST_KSU_) >> 3 >= 2)
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
        if (sel == 0 && (rd == 9 || rd == 11))
            return 0;           /* Count, Compare: the virtual timer */
        if (sel == 0 && rd == 12) {     /* Status: the mode may change */
            uint32_t st = (w[RP_STATUS] & ~ST_WRITABLE_) | (v & ST_WRITABLE_);
            if (deliverable_with(st, w[RP_CAUSE]))
                return 0;
            w[RP_STATUS] = st;
            sync_mode(c, t, st);
            goto mtc0_done;
        }
        if (sel == 0 && rd == 13) {
            uint32_t cause = (w[RP_CAUSE] & ~CA_WRITABLE_) | (v & CA_WRITABLE_);
            if (deliverable_with(w[RP_STATUS], cause))
                return 0;
            w[RP_CAUSE] = cause;
            goto mtc0_done;
        }
        if (deliverable(w))
            return 0;           /* the interrupt is delivered now, by Python */
        switch (rd * 8 + sel) {
        case 0 * 8: w[RP_INDEX] = (w[RP_INDEX] & INDEX_P) | (v & 0x3F); break;
        case 2 * 8: w[RP_ENTRYLO0] = v & ENTRYLO_WRITABLE; break;
        case 3 * 8: w[RP_ENTRYLO1] = v & ENTRYLO_WRITABLE; break;
        case 4 * 8: w[RP_CONTEXT] = (w[RP_CONTEXT] & ~0xFF800000u) | (v & 0xFF800000u); break;
        case 4 * 8 + 2: w[RP_USERLOCAL] = v; break;
        case 10 * 8: {          /* EntryHi: guest ASIDs go straight to the hardware */
            uint32_t old = w[RP_ENTRYHI];
            w[RP_ENTRYHI] = v & (ENTRYHI_VPN2 | ENTRYHI_ASID);
            if ((old ^ v) & ENTRYHI_ASID)
                cp0_write(c, CP0_ENTRYHI, 0, v & ENTRYHI_ASID, c->a.cycles);
            break;
        }
        case 5 * 8: w[RP_PAGEMASK] = v & PAGEMASK_MASK; break;
        case 8 * 8: break;      /* BadVAddr is read-only */
        case 14 * 8: w[RP_EPC] = v; break;
        case 15 * 8 + 1: w[RP_EBASE] = (w[RP_EBASE] & ~0x3FFFF000u) | (v & 0x3FFFF000u); break;
        case 30 * 8: w[RP_ERROREPC] = v; break;
        default: return 0;
        }
mtc0_done:
        kind = CP0K_MTC0;
    } else if (rs == RS_MFMC0) {
        uint32_t old = w[RP_STATUS];
        if (insn & 0x20) {
            w[RP_STATUS] = old | ST_IE_;
            if (deliverable(w)) {
                w[RP_STATUS] = old;
                return 0;       /* Python delivers it */
            }
            kind = CP0K_EI;
        } else {
            w[RP_STATUS] = old & ~ST_IE_;
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
    if (st & ST_BEV_)
        return 0;               /* the boot vectors: Python stops the VM */
    if (!(st & ST_EXL_)) {
        w[RP_EPC] = bd ? pc - 4 : pc;
        cause = (cause & ~CA_BD_) | (bd ? CA_BD_ : 0);
        if (refill && (code == EXC_TLBL || code == EXC_TLBS))
            off = 0;            /* the refill vector */
    }
    w[RP_CAUSE] = (cause & ~(CA_EXCCODE_ | CA_CE_)) | (code << 2);
    if (code == EXC_MOD || code == EXC_TLBL || code == EXC_TLBS) {
        w[RP_CONTEXT] = (w[RP_CONTEXT] & ~(0x7FFFFu << 4)) | ((va >> 13) << 4);
        w[RP_ENTRYHI] = (va & ENTRYHI_VPN2) | (w[RP_ENTRYHI] & ENTRYHI_ASID);
        w[RP_BADVADDR] = va;
    }
    st |= ST_EXL_;
    w[RP_STATUS] = st;
    sync_mode(c, t, st);
    uint32_t vector = RELOCATED_KSEG0 | ((w[RP_EBASE] & 0x1FFFF000u) + off);
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
