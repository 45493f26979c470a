/* exec_loop.h - the body of the interpreter loop, included twice by exec.c:
 * once as the fast loop (EXEC_DEBUG 0: dispatch through the decoded entry's
 * handler, no breakpoint test) and once as the debug loop (EXEC_DEBUG 1:
 * test breakpoints before every instruction, dispatch by op). A test per
 * instruction costs the fast loop more than half its speed, so breakpoints
 * cost nothing until one is set. Define EXEC_FN and EXEC_DEBUG first. */

static uint64_t EXEC_FN(dc_machine *m, cpu *c, uint64_t budget, dc_exit *ex)
{
    static const void *const labels[OP_COUNT] = {
#define X(name) &&L_##name,
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
    dinsn *d, *nd, *pbase;
    uint32_t vbase;
    int bd;
    dpage *pg;
    uint32_t exc_code = 0, exc_badva = 0, exc_ce = 0;
    int exc_refill = 0, exc_counts = 1;
    uint32_t retarget;

#define VA_OF(p) ((p) == &c->far_entry ? c->far_target \
                  : vbase + (uint32_t)(((p) - pbase) << 2))
#define NOW() (c->a.cycles + (budget - left))
#define SAVE_STATE() do { \
        c->a.pc = VA_OF(d); \
        c->a.npc = (d == &c->far_entry || nd == &c->far_entry + 1) ? c->a.pc + 4 : VA_OF(nd); \
        c->a.bd = (uint32_t)bd; \
    } while (0)
#if EXEC_DEBUG
/* the debug loop checks breakpoints and dispatches through its own table */
#define HANDLER(p) labels[(p)->op]
#define DISPATCH() do { \
        if (unlikely(left == 0)) goto out_budget; \
        left--; \
        goto check_bp; \
    } while (0)
#else
#define HANDLER(p) (p)->h
#define DISPATCH() do { \
        if (unlikely(left == 0)) goto out_budget; \
        left--; \
        goto *d->h; \
    } while (0)
#endif
#define NEXT() do { d = nd; nd = d + 1; bd = 0; DISPATCH(); } while (0)
/* run the delay slot, then continue at `tgt` */
#define JUMP(tgt) do { dinsn *t_ = (tgt); d = nd; nd = t_; bd = 1; DISPATCH(); } while (0)
#define FAR_TO(va) do { c->far_target = (va); JUMP(&c->far_entry); } while (0)
/* a conditional branch: in-page delta or far byte offset (decode.c) */
#define BRANCH(cond) do { \
        if (likely(d->rd == 0)) { \
            if (cond) JUMP(d + d->imm); \
            JUMP(nd + 1); \
        } \
        uint32_t va_ = VA_OF(d); \
        FAR_TO((cond) ? va_ + (uint32_t)d->imm : va_ + 8); \
    } while (0)
/* branch likely: the delay slot runs only when taken */
#define BRANCH_LIKELY(cond) do { \
        if (cond) { \
            if (likely(d->rd == 0)) JUMP(d + d->imm); \
            FAR_TO(VA_OF(d) + (uint32_t)d->imm); \
        } \
        if (likely(d->rd == 0)) { d = nd + 1; nd = d + 1; bd = 0; DISPATCH(); } \
        c->far_target = VA_OF(d) + 8; \
        d = &c->far_entry; nd = d + 1; bd = 0; DISPATCH(); \
    } while (0)
/* an absolute jump target: in-page when it is aligned, on this page, and
 * the delay slot is on this page too */
#define JUMP_VA(tgt) do { \
        uint32_t t2_ = (tgt); \
        if (likely(((t2_ ^ vbase) & ~0xFFCu) == 0 && d != pbase + (PAGE_WORDS - 1))) \
            JUMP(pbase + ((t2_ >> 2) & (PAGE_WORDS - 1))); \
        FAR_TO(t2_); \
    } while (0)
#define EXC(code, badva) do { exc_code = (code); exc_badva = (badva); exc_refill = 0; \
        exc_ce = 0; goto take_exc; } while (0)
#define EXC_MEM(code, badva) do { exc_code = (uint32_t)(code); exc_badva = (badva); \
        exc_refill = (exc_code == EXC_TLBL || exc_code == EXC_TLBS) ? c->fault_refill : 0; \
        exc_ce = 0; goto take_exc; } while (0)
#define PRIV() do { if (unlikely(!privileged(c))) { exc_code = EXC_CPU; exc_badva = 0; \
        exc_refill = 0; exc_ce = 0; goto take_exc; } } while (0)
/* retire the current instruction, then re-enter through restart */
#define RETIRE() do { d = nd; nd = d + 1; bd = 0; SAVE_STATE(); } while (0)

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
        bd = (int)c->a.bd;
        if (!bd && npc == pc + 4)
            nd = d + 1;
        else if (((npc ^ vbase) & ~0xFFCu) == 0)
            nd = pbase + ((npc >> 2) & (PAGE_WORDS - 1));
        else {
            c->far_target = npc;
            nd = &c->far_entry;
        }
    }
    DISPATCH();

#if EXEC_DEBUG
check_bp: {
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
        goto *HANDLER(d);
    }
#endif

    /* ---- internal entries ---- */
L_UNDECODED: {
        dpage *p = page_of(d);
        uint32_t idx = (uint32_t)(d - p->insn), w;
        memcpy(&w, p->host + idx * 4u, 4);
        decode(w, d, idx);
        goto *HANDLER(d);
    }
L_PAGE_END: {
        uint32_t va = vbase + PAGE_SIZE;
        int r = fetch_page(m, c, va, &pg);
        if (unlikely(r)) EXC_MEM(r, va);
        pbase = pg->insn;
        vbase = va;
        d = pbase;
        if (!bd)
            nd = d + 1;
        left++;
        DISPATCH();
    }
L_FAR: {
        uint32_t va = c->far_target;
        int r = fetch_page(m, c, va, &pg);
        if (unlikely(r)) EXC_MEM(r, va);
        pbase = pg->insn;
        vbase = va & ~0xFFFu;
        d = pbase + ((va >> 2) & (PAGE_WORDS - 1));
        if (!bd)
            nd = d + 1;
        left++;
        DISPATCH();
    }
L_NOP:
    NEXT();

    /* ---- arithmetic and logic ---- */
L_ADD: {
        uint32_t a = R[d->rs], b = R[d->rt], r = a + b;
        if (unlikely(((a ^ r) & (b ^ r)) >> 31)) EXC(EXC_OV, 0);
        R[d->rd] = r;
        NEXT();
    }
L_ADDU: R[d->rd] = R[d->rs] + R[d->rt]; NEXT();
L_SUB: {
        uint32_t a = R[d->rs], b = R[d->rt], r = a - b;
        if (unlikely(((a ^ b) & (a ^ r)) >> 31)) EXC(EXC_OV, 0);
        R[d->rd] = r;
        NEXT();
    }
L_SUBU: R[d->rd] = R[d->rs] - R[d->rt]; NEXT();
L_AND: R[d->rd] = R[d->rs] & R[d->rt]; NEXT();
L_OR: R[d->rd] = R[d->rs] | R[d->rt]; NEXT();
L_XOR: R[d->rd] = R[d->rs] ^ R[d->rt]; NEXT();
L_NOR: R[d->rd] = ~(R[d->rs] | R[d->rt]); NEXT();
L_SLT: R[d->rd] = (int32_t)R[d->rs] < (int32_t)R[d->rt]; NEXT();
L_SLTU: R[d->rd] = R[d->rs] < R[d->rt]; NEXT();
L_ADDI: {
        uint32_t a = R[d->rs], b = (uint32_t)d->imm, r = a + b;
        if (unlikely(((a ^ r) & (b ^ r)) >> 31)) EXC(EXC_OV, 0);
        R[d->rd] = r;
        NEXT();
    }
L_ADDIU: R[d->rd] = R[d->rs] + (uint32_t)d->imm; NEXT();
L_SLTI: R[d->rd] = (int32_t)R[d->rs] < d->imm; NEXT();
L_SLTIU: R[d->rd] = R[d->rs] < (uint32_t)d->imm; NEXT();
L_ANDI: R[d->rd] = R[d->rs] & (uint32_t)d->imm; NEXT();
L_ORI: R[d->rd] = R[d->rs] | (uint32_t)d->imm; NEXT();
L_XORI: R[d->rd] = R[d->rs] ^ (uint32_t)d->imm; NEXT();
L_LUI: R[d->rd] = (uint32_t)d->imm; NEXT();
L_MOVE: R[d->rd] = R[d->rs]; NEXT();
L_SLL: R[d->rd] = R[d->rt] << d->imm; NEXT();
L_SRL: R[d->rd] = R[d->rt] >> d->imm; NEXT();
L_SRA: R[d->rd] = (uint32_t)((int32_t)R[d->rt] >> d->imm); NEXT();
L_ROTR: {
        uint32_t x = R[d->rt], s = (uint32_t)d->imm;
        R[d->rd] = s ? (x >> s) | (x << (32 - s)) : x;
        NEXT();
    }
L_SLLV: R[d->rd] = R[d->rt] << (R[d->rs] & 31); NEXT();
L_SRLV: R[d->rd] = R[d->rt] >> (R[d->rs] & 31); NEXT();
L_SRAV: R[d->rd] = (uint32_t)((int32_t)R[d->rt] >> (R[d->rs] & 31)); NEXT();
L_ROTRV: {
        uint32_t x = R[d->rt], s = R[d->rs] & 31;
        R[d->rd] = s ? (x >> s) | (x << (32 - s)) : x;
        NEXT();
    }
L_MOVZ: if (R[d->rt] == 0) R[d->rd] = R[d->rs]; NEXT();
L_MOVN: if (R[d->rt] != 0) R[d->rd] = R[d->rs]; NEXT();
L_CLZ: { uint32_t x = R[d->rs]; R[d->rd] = x ? (uint32_t)__builtin_clz(x) : 32; NEXT(); }
L_CLO: { uint32_t x = ~R[d->rs]; R[d->rd] = x ? (uint32_t)__builtin_clz(x) : 32; NEXT(); }
L_EXT: R[d->rt] = (uint32_t)(((uint64_t)R[d->rs] >> d->rd) & (uint32_t)d->imm); NEXT();
L_INS: {
        uint64_t mask = (uint64_t)(uint32_t)d->imm << d->rd;
        R[d->rt] = (uint32_t)((R[d->rt] & ~mask) | (((uint64_t)R[d->rs] << d->rd) & mask));
        NEXT();
    }
L_WSBH: {
        uint32_t x = R[d->rt];
        R[d->rd] = ((x & 0x00FF00FFu) << 8) | ((x >> 8) & 0x00FF00FFu);
        NEXT();
    }
L_SEB: R[d->rd] = (uint32_t)(int32_t)(int8_t)R[d->rt]; NEXT();
L_SEH: R[d->rd] = (uint32_t)(int32_t)(int16_t)R[d->rt]; NEXT();

    /* ---- multiply and divide ---- */
L_MFHI: R[d->rd] = c->a.hi; NEXT();
L_MTHI: c->a.hi = R[d->rs]; NEXT();
L_MFLO: R[d->rd] = c->a.lo; NEXT();
L_MTLO: c->a.lo = R[d->rs]; NEXT();
L_MULT: {
        int64_t p = (int64_t)(int32_t)R[d->rs] * (int32_t)R[d->rt];
        c->a.lo = (uint32_t)p;
        c->a.hi = (uint32_t)((uint64_t)p >> 32);
        NEXT();
    }
L_MULTU: {
        uint64_t p = (uint64_t)R[d->rs] * R[d->rt];
        c->a.lo = (uint32_t)p;
        c->a.hi = (uint32_t)(p >> 32);
        NEXT();
    }
L_DIV: {
        /* UNPREDICTABLE cases as the reference emulator: divisor 1 for
         * x/0 and INT_MIN/-1, giving LO = dividend, HI = 0 */
        int32_t a = (int32_t)R[d->rs], b = (int32_t)R[d->rt];
        if (b == 0 || (a == INT32_MIN && b == -1)) b = 1;
        c->a.lo = (uint32_t)(a / b);
        c->a.hi = (uint32_t)(a % b);
        NEXT();
    }
L_DIVU: {
        uint32_t a = R[d->rs], b = R[d->rt];
        if (b == 0) b = 1;
        c->a.lo = a / b;
        c->a.hi = a % b;
        NEXT();
    }
L_MUL: R[d->rd] = R[d->rs] * R[d->rt]; NEXT();
L_MADD: L_MADDU: L_MSUB: L_MSUBU: {
        uint64_t acc = ((uint64_t)c->a.hi << 32) | c->a.lo, p;
        if (d->op == OP_MADD || d->op == OP_MSUB)
            p = (uint64_t)((int64_t)(int32_t)R[d->rs] * (int32_t)R[d->rt]);
        else
            p = (uint64_t)R[d->rs] * R[d->rt];
        acc = (d->op == OP_MADD || d->op == OP_MADDU) ? acc + p : acc - p;
        c->a.lo = (uint32_t)acc;
        c->a.hi = (uint32_t)(acc >> 32);
        NEXT();
    }

    /* ---- traps and system ---- */
L_TGE: if ((int32_t)R[d->rs] >= (int32_t)R[d->rt]) EXC(EXC_TR, 0); NEXT();
L_TGEU: if (R[d->rs] >= R[d->rt]) EXC(EXC_TR, 0); NEXT();
L_TLT: if ((int32_t)R[d->rs] < (int32_t)R[d->rt]) EXC(EXC_TR, 0); NEXT();
L_TLTU: if (R[d->rs] < R[d->rt]) EXC(EXC_TR, 0); NEXT();
L_TEQ: if (R[d->rs] == R[d->rt]) EXC(EXC_TR, 0); NEXT();
L_TNE: if (R[d->rs] != R[d->rt]) EXC(EXC_TR, 0); NEXT();
L_TGEI: if ((int32_t)R[d->rs] >= d->imm) EXC(EXC_TR, 0); NEXT();
L_TGEIU: if (R[d->rs] >= (uint32_t)d->imm) EXC(EXC_TR, 0); NEXT();
L_TLTI: if ((int32_t)R[d->rs] < d->imm) EXC(EXC_TR, 0); NEXT();
L_TLTIU: if (R[d->rs] < (uint32_t)d->imm) EXC(EXC_TR, 0); NEXT();
L_TEQI: if ((int32_t)R[d->rs] == d->imm) EXC(EXC_TR, 0); NEXT();
L_TNEI: if ((int32_t)R[d->rs] != d->imm) EXC(EXC_TR, 0); NEXT();
L_SYSCALL: EXC(EXC_SYS, 0);
L_BREAK: EXC(EXC_BP, 0);
L_RDHWR: {
        uint32_t reg = d->rd, v;
        if (c->mode != MODE_KERNEL && !(c->a.status & STATUS_CU0) &&
            !(reg < 4 && (c->a.hwrena & (1u << reg))))
            EXC(EXC_RI, 0);
        switch (reg) {
        case 0: v = c->a.ebase & EBASE_CPUNUM; break;      /* CPUNum */
        case 1: v = 64; break;                              /* SYNCI_Step */
        case 2: v = cp0_read(c, CP0_COUNT, 0, NOW()); break; /* CC */
        case 3: v = 2; break;                               /* CCRes */
        default: EXC(EXC_RI, 0);
        }
        R[d->rt] = v;
        NEXT();
    }

    /* ---- branches and jumps ---- */
L_B: BRANCH(1);
L_BEQ: BRANCH(R[d->rs] == R[d->rt]);
L_BNE: BRANCH(R[d->rs] != R[d->rt]);
L_BLEZ: BRANCH((int32_t)R[d->rs] <= 0);
L_BGTZ: BRANCH((int32_t)R[d->rs] > 0);
L_BLTZ: BRANCH((int32_t)R[d->rs] < 0);
L_BGEZ: BRANCH((int32_t)R[d->rs] >= 0);
L_BLTZAL: { int t = (int32_t)R[d->rs] < 0; R[31] = VA_OF(d) + 8; BRANCH(t); }
L_BGEZAL: { int t = (int32_t)R[d->rs] >= 0; R[31] = VA_OF(d) + 8; BRANCH(t); }
L_BEQL: BRANCH_LIKELY(R[d->rs] == R[d->rt]);
L_BNEL: BRANCH_LIKELY(R[d->rs] != R[d->rt]);
L_BLEZL: BRANCH_LIKELY((int32_t)R[d->rs] <= 0);
L_BGTZL: BRANCH_LIKELY((int32_t)R[d->rs] > 0);
L_BLTZL: BRANCH_LIKELY((int32_t)R[d->rs] < 0);
L_BGEZL: BRANCH_LIKELY((int32_t)R[d->rs] >= 0);
L_BLTZALL: { int t = (int32_t)R[d->rs] < 0; R[31] = VA_OF(d) + 8; BRANCH_LIKELY(t); }
L_BGEZALL: { int t = (int32_t)R[d->rs] >= 0; R[31] = VA_OF(d) + 8; BRANCH_LIKELY(t); }
L_J: JUMP_VA(((VA_OF(d) + 4) & 0xF0000000u) | (uint32_t)d->imm);
L_JAL: {
        uint32_t va = VA_OF(d);
        R[31] = va + 8;
        JUMP_VA(((va + 4) & 0xF0000000u) | (uint32_t)d->imm);
    }
L_JR: JUMP_VA(R[d->rs]);
L_JALR: {
        uint32_t t = R[d->rs];
        R[d->rd] = VA_OF(d) + 8;
        JUMP_VA(t);
    }

    /* ---- loads and stores ---- */
#define STLB_E(va) (&stlb[((va) >> PAGE_SHIFT) & STLB_MASK])
#define KEY(va) (((va) & ~0xFFFu) | asidbits)
#define LOAD(TYPE, SIZE, CAST) { \
        uint32_t va = R[d->rs] + (uint32_t)d->imm, v; \
        stlb_entry *e = STLB_E(va); \
        if (likely(e->rtag == KEY(va) && !(va & (SIZE - 1)))) { \
            TYPE t; memcpy(&t, (const void *)(e->addend + va), SIZE); v = (uint32_t)CAST t; \
        } else { \
            int r = mem_load_slow(m, c, va, SIZE, &v, ex); \
            if (unlikely(r)) { if (r == MEM_MMIO) goto out_mmio_read; EXC_MEM(r, va); } \
            v = (uint32_t)CAST(TYPE) v; \
        } \
        R[d->rt] = v; \
        NEXT(); }
#define STORE(TYPE, SIZE) { \
        uint32_t va = R[d->rs] + (uint32_t)d->imm; \
        TYPE v = (TYPE)R[d->rt]; \
        stlb_entry *e = STLB_E(va); \
        if (likely(e->wtag == KEY(va) && !(va & (SIZE - 1)))) { \
            memcpy((void *)(e->addend + va), &v, SIZE); \
        } else { \
            int r = mem_store_slow(m, c, va, SIZE, (uint32_t)v, ex); \
            if (unlikely(r)) { if (r == MEM_MMIO) goto out_mmio_write; EXC_MEM(r, va); } \
        } \
        NEXT(); }
L_LB: LOAD(int8_t, 1, (int32_t))
L_LBU: LOAD(uint8_t, 1, )
L_LH: LOAD(int16_t, 2, (int32_t))
L_LHU: LOAD(uint16_t, 2, )
L_LW: LOAD(uint32_t, 4, )
L_LL: {
        uint32_t va = R[d->rs] + (uint32_t)d->imm, v;
        int r = mem_load_slow(m, c, va, 4, &v, ex);
        if (unlikely(r)) { if (r == MEM_MMIO) goto out_mmio_read; EXC_MEM(r, va); }
        xlate x;
        translate(c, va, ACC_LOAD, &x);
        c->a.lladdr = (uint32_t)(x.pa >> 4);
        c->a.llbit = 1;
        c->a.ll_va = va;
        R[d->rt] = v;
        NEXT();
    }
L_LWL: L_LWR: {
        /* little-endian: LWL fills the high bytes, LWR the low ones */
        uint32_t va = R[d->rs] + (uint32_t)d->imm, wa = va & ~3u, w, sh;
        stlb_entry *e = STLB_E(wa);
        if (likely(e->rtag == KEY(wa))) {
            memcpy(&w, (const void *)(e->addend + wa), 4);
        } else {
            int r = mem_load_slow(m, c, wa, 4, &w, ex);
            if (unlikely(r)) { if (r == MEM_MMIO) r = EXC_DBE; EXC_MEM(r, va); }
        }
        uint32_t old = R[d->rt];
        if (d->op == OP_LWL) {
            sh = (3 - (va & 3)) * 8;
            R[d->rt] = (uint32_t)(((uint64_t)w << sh) | (old & (uint32_t)((1ull << sh) - 1)));
        } else {
            sh = (va & 3) * 8;
            R[d->rt] = (w >> sh) | (old & ~(uint32_t)(0xFFFFFFFFull >> sh));
        }
        NEXT();
    }
L_SB: STORE(uint8_t, 1)
L_SH: STORE(uint16_t, 2)
L_SW: STORE(uint32_t, 4)
L_SC: {
        uint32_t va = R[d->rs] + (uint32_t)d->imm;
        if (!c->a.llbit || va != c->a.ll_va) {
            if (unlikely(va & 3)) EXC(EXC_ADES, va);
            R[d->rd] = 0;
            NEXT();
        }
        int r = mem_store_slow(m, c, va, 4, R[d->rt], ex);
        if (unlikely(r)) { if (r == MEM_MMIO) r = EXC_DBE; EXC_MEM(r, va); }
        c->a.llbit = 0;
        R[d->rd] = 1;
        NEXT();
    }
L_SWL: L_SWR: {
        uint32_t va = R[d->rs] + (uint32_t)d->imm, wa = va & ~3u, v = R[d->rt], mask, bits, sh;
        if (d->op == OP_SWL) {
            sh = (3 - (va & 3)) * 8;
            mask = 0xFFFFFFFFu >> sh;
            bits = v >> sh;
        } else {
            sh = (va & 3) * 8;
            mask = 0xFFFFFFFFu << sh;
            bits = v << sh;
        }
        stlb_entry *e = STLB_E(wa);
        if (likely(e->wtag == KEY(wa))) {
            uint32_t w;
            memcpy(&w, (const void *)(e->addend + wa), 4);
            w = (w & ~mask) | bits;
            memcpy((void *)(e->addend + wa), &w, 4);
        } else {
            int r = mem_merge_slow(m, c, wa, mask, bits);
            if (unlikely(r)) EXC_MEM(r, va);
        }
        NEXT();
    }
L_CACHE:
    PRIV();
    NEXT();

    /* ---- privileged ---- */
L_MFC0:
    PRIV();
    R[d->rt] = cp0_read(c, d->rd, (uint32_t)d->imm, NOW());
    NEXT();
L_MTC0: {
        PRIV();
        int f = cp0_write(c, d->rd, (uint32_t)d->imm, R[d->rt], NOW());
        if (f == 0) NEXT();
        RETIRE();
        if (f & CP0_RESLICE) goto out;
        goto restart;
    }
L_DI: L_EI:
    PRIV();
    R[d->rt] = c->a.status;
    if (d->op == OP_DI) {
        c->a.status &= ~STATUS_IE;
        NEXT();
    }
    c->a.status |= STATUS_IE;
    RETIRE();
    goto restart;
L_RDPGPR: L_WRPGPR:
    /* one register set (SRSCtl.HSS = 0): shadow sets are the current set */
    PRIV();
    R[d->rd] = R[d->rt];
    NEXT();
L_TLBR:
    PRIV();
    tlbr(c);
    RETIRE();
    goto restart;
L_TLBWI:
    PRIV();
    tlbwi(c);
    RETIRE();
    goto restart;
L_TLBWR:
    PRIV();
    tlbwr(c, NOW());
    RETIRE();
    goto restart;
L_TLBP:
    PRIV();
    tlbp(c);
    NEXT();
L_ERET:
    PRIV();
    if (c->a.status & STATUS_ERL) {
        retarget = c->a.errorepc;
        c->a.status &= ~STATUS_ERL;
    } else {
        retarget = c->a.epc;
        c->a.status &= ~STATUS_EXL;
    }
    cp0_update_mode(c);
    c->a.llbit = 0;
    c->a.pc = retarget;
    c->a.npc = retarget + 4;
    c->a.bd = 0;
    goto restart;
L_WAIT:
    PRIV();
    RETIRE();
    c->a.state = DC_CPU_WAITING;
    goto out;

    /* ---- faults decided at decode ---- */
L_RI: EXC(EXC_RI, 0);
L_CPU1: exc_ce = 1; goto cpu_unusable;
L_CPU2: exc_ce = 2; goto cpu_unusable;
L_CPU3: exc_ce = 3;
cpu_unusable:
    exc_code = EXC_CPU;
    exc_badva = 0;
    exc_refill = 0;
    goto take_exc_ce;

    /* ---- exits ---- */
take_exc:
take_exc_ce:
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
            {
                xlate x;
                uint64_t off;
                if (exc_code != EXC_INT && translate(c, pc, ACC_FETCH, &x) == 0 &&
                    pa_to_ram(m, x.pa, &off))
                    memcpy(&e->insn, m->ram + off, 4);
            }
            ex->reason = DC_EXIT_EXCEPTION;
            goto out;
        }
        take_exception(c, exc_code, pc, fbd, exc_badva, exc_refill, exc_ce);
        goto restart;
    }

out_mmio_read:
    /* the load re-executes when the host has supplied the value */
    left++;
    SAVE_STATE();
    ex->reason = DC_EXIT_MMIO;
    goto out;
out_mmio_write:
    RETIRE();
    ex->reason = DC_EXIT_MMIO;
    goto out;
out_budget:
    SAVE_STATE();
out:
    return budget - left;
}

#undef VA_OF
#undef NOW
#undef SAVE_STATE
#undef HANDLER
#undef DISPATCH
#undef NEXT
#undef JUMP
#undef FAR_TO
#undef BRANCH
#undef BRANCH_LIKELY
#undef JUMP_VA
#undef EXC
#undef EXC_MEM
#undef PRIV
#undef RETIRE
#undef STLB_E
#undef KEY
#undef LOAD
#undef STORE
