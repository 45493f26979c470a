/* exec_handlers.h - one handler per instruction, grouped as in ops.h.
 * Included twice by exec_loop.h: for ordinary instructions (labels L_*,
 * NEXT = the following record) and for delay slots (labels LD_*, NEXT = the
 * branch target `tgt`). The macros of each context are set by the includer. */

    /* ---- internal entries ---- */
H(UNDECODED): {
        dpage *p = page_of(d);
        uint32_t idx = (uint32_t)(d - p->insn), w;
        memcpy(&w, p->host + idx * 4u, 4);
        decode(w, d, idx);
        goto *CTX_HANDLER(d);
    }
H(PAGE_END): {
        /* sequential flow (or a delay slot) runs off the page */
        uint32_t va = vbase + PAGE_SIZE;
        int r = fetch_page(m, c, va, &pg);
        if (unlikely(r)) EXC_MEM(r, va);
        pbase = pg->insn;
        vbase = va;
        d = pbase;
        NEW_PAGE();
        left++;                 /* the sentinel is not an instruction */
        CTX_DISPATCH();
    }
H(FAR): {
        /* a jump off the page, after its delay slot */
        uint32_t va = c->far_target;
        int r = fetch_page(m, c, va, &pg);
        if (unlikely(r)) EXC_MEM(r, va);
        pbase = pg->insn;
        vbase = va & ~0xFFFu;
        d = pbase + ((va >> 2) & (PAGE_WORDS - 1));
        NEW_PAGE();
        left++;
        DISPATCH();
    }
H(NOP):
    NEXT();

    /* ---- arithmetic and logic ---- */
H(ADD): {
        uint32_t a = R[d->rs], b = R[d->rt], r = a + b;
        if (unlikely(((a ^ r) & (b ^ r)) >> 31)) EXC(EXC_OV, 0);
        R[d->rd] = r;
        NEXT();
    }
H(ADDU): R[d->rd] = R[d->rs] + R[d->rt]; NEXT();
H(SUB): {
        uint32_t a = R[d->rs], b = R[d->rt], r = a - b;
        if (unlikely(((a ^ b) & (a ^ r)) >> 31)) EXC(EXC_OV, 0);
        R[d->rd] = r;
        NEXT();
    }
H(SUBU): R[d->rd] = R[d->rs] - R[d->rt]; NEXT();
H(AND): R[d->rd] = R[d->rs] & R[d->rt]; NEXT();
H(OR): R[d->rd] = R[d->rs] | R[d->rt]; NEXT();
H(XOR): R[d->rd] = R[d->rs] ^ R[d->rt]; NEXT();
H(NOR): R[d->rd] = ~(R[d->rs] | R[d->rt]); NEXT();
H(SLT): R[d->rd] = (int32_t)R[d->rs] < (int32_t)R[d->rt]; NEXT();
H(SLTU): R[d->rd] = R[d->rs] < R[d->rt]; NEXT();
H(ADDI): {
        uint32_t a = R[d->rs], b = (uint32_t)d->imm, r = a + b;
        if (unlikely(((a ^ r) & (b ^ r)) >> 31)) EXC(EXC_OV, 0);
        R[d->rd] = r;
        NEXT();
    }
H(ADDIU): R[d->rd] = R[d->rs] + (uint32_t)d->imm; NEXT();
H(SLTI): R[d->rd] = (int32_t)R[d->rs] < d->imm; NEXT();
H(SLTIU): R[d->rd] = R[d->rs] < (uint32_t)d->imm; NEXT();
H(ANDI): R[d->rd] = R[d->rs] & (uint32_t)d->imm; NEXT();
H(ORI): R[d->rd] = R[d->rs] | (uint32_t)d->imm; NEXT();
H(XORI): R[d->rd] = R[d->rs] ^ (uint32_t)d->imm; NEXT();
H(LUI): R[d->rd] = (uint32_t)d->imm; NEXT();
H(MOVE): R[d->rd] = R[d->rs]; NEXT();
H(SLL): R[d->rd] = R[d->rt] << d->imm; NEXT();
H(SRL): R[d->rd] = R[d->rt] >> d->imm; NEXT();
H(SRA): R[d->rd] = (uint32_t)((int32_t)R[d->rt] >> d->imm); NEXT();
H(ROTR): {
        uint32_t x = R[d->rt], s = (uint32_t)d->imm;
        R[d->rd] = s ? (x >> s) | (x << (32 - s)) : x;
        NEXT();
    }
H(SLLV): R[d->rd] = R[d->rt] << (R[d->rs] & 31); NEXT();
H(SRLV): R[d->rd] = R[d->rt] >> (R[d->rs] & 31); NEXT();
H(SRAV): R[d->rd] = (uint32_t)((int32_t)R[d->rt] >> (R[d->rs] & 31)); NEXT();
H(ROTRV): {
        uint32_t x = R[d->rt], s = R[d->rs] & 31;
        R[d->rd] = s ? (x >> s) | (x << (32 - s)) : x;
        NEXT();
    }
H(MOVZ): if (R[d->rt] == 0) R[d->rd] = R[d->rs]; NEXT();
H(MOVN): if (R[d->rt] != 0) R[d->rd] = R[d->rs]; NEXT();
H(CLZ): { uint32_t x = R[d->rs]; R[d->rd] = x ? (uint32_t)__builtin_clz(x) : 32; NEXT(); }
H(CLO): { uint32_t x = ~R[d->rs]; R[d->rd] = x ? (uint32_t)__builtin_clz(x) : 32; NEXT(); }
H(EXT): R[d->rt] = (uint32_t)(((uint64_t)R[d->rs] >> d->rd) & (uint32_t)d->imm); NEXT();
H(INS): {
        uint64_t mask = (uint64_t)(uint32_t)d->imm << d->rd;
        R[d->rt] = (uint32_t)((R[d->rt] & ~mask) | (((uint64_t)R[d->rs] << d->rd) & mask));
        NEXT();
    }
H(WSBH): {
        uint32_t x = R[d->rt];
        R[d->rd] = ((x & 0x00FF00FFu) << 8) | ((x >> 8) & 0x00FF00FFu);
        NEXT();
    }
H(SEB): R[d->rd] = (uint32_t)(int32_t)(int8_t)R[d->rt]; NEXT();
H(SEH): R[d->rd] = (uint32_t)(int32_t)(int16_t)R[d->rt]; NEXT();

    /* ---- multiply and divide ---- */
H(MFHI): R[d->rd] = c->a.hi; NEXT();
H(MTHI): c->a.hi = R[d->rs]; NEXT();
H(MFLO): R[d->rd] = c->a.lo; NEXT();
H(MTLO): c->a.lo = R[d->rs]; NEXT();
H(MULT): {
        int64_t p = (int64_t)(int32_t)R[d->rs] * (int32_t)R[d->rt];
        c->a.lo = (uint32_t)p;
        c->a.hi = (uint32_t)((uint64_t)p >> 32);
        NEXT();
    }
H(MULTU): {
        uint64_t p = (uint64_t)R[d->rs] * R[d->rt];
        c->a.lo = (uint32_t)p;
        c->a.hi = (uint32_t)(p >> 32);
        NEXT();
    }
H(DIV): {
        /* UNPREDICTABLE cases as the reference emulator: divisor 1 for
         * x/0 and INT_MIN/-1, giving LO = dividend, HI = 0 */
        int32_t a = (int32_t)R[d->rs], b = (int32_t)R[d->rt];
        if (b == 0 || (a == INT32_MIN && b == -1)) b = 1;
        c->a.lo = (uint32_t)(a / b);
        c->a.hi = (uint32_t)(a % b);
        NEXT();
    }
H(DIVU): {
        uint32_t a = R[d->rs], b = R[d->rt];
        if (b == 0) b = 1;
        c->a.lo = a / b;
        c->a.hi = a % b;
        NEXT();
    }
H(MUL): R[d->rd] = R[d->rs] * R[d->rt]; NEXT();
H(MADD): H(MADDU): H(MSUB): H(MSUBU): {
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
H(TGE): if ((int32_t)R[d->rs] >= (int32_t)R[d->rt]) EXC(EXC_TR, 0); NEXT();
H(TGEU): if (R[d->rs] >= R[d->rt]) EXC(EXC_TR, 0); NEXT();
H(TLT): if ((int32_t)R[d->rs] < (int32_t)R[d->rt]) EXC(EXC_TR, 0); NEXT();
H(TLTU): if (R[d->rs] < R[d->rt]) EXC(EXC_TR, 0); NEXT();
H(TEQ): if (R[d->rs] == R[d->rt]) EXC(EXC_TR, 0); NEXT();
H(TNE): if (R[d->rs] != R[d->rt]) EXC(EXC_TR, 0); NEXT();
H(TGEI): if ((int32_t)R[d->rs] >= d->imm) EXC(EXC_TR, 0); NEXT();
H(TGEIU): if (R[d->rs] >= (uint32_t)d->imm) EXC(EXC_TR, 0); NEXT();
H(TLTI): if ((int32_t)R[d->rs] < d->imm) EXC(EXC_TR, 0); NEXT();
H(TLTIU): if (R[d->rs] < (uint32_t)d->imm) EXC(EXC_TR, 0); NEXT();
H(TEQI): if ((int32_t)R[d->rs] == d->imm) EXC(EXC_TR, 0); NEXT();
H(TNEI): if ((int32_t)R[d->rs] != d->imm) EXC(EXC_TR, 0); NEXT();
H(SYSCALL): EXC(EXC_SYS, 0);
H(BREAK): EXC(EXC_BP, 0);
H(RDHWR): {
        uint32_t reg = d->rd, v;
        if (c->mode != MODE_KERNEL && !(c->a.status & STATUS_CU0) &&
            !((reg < 4 || reg == 29) && (c->a.hwrena & (1u << reg))))
            EXC(EXC_RI, 0);
        switch (reg) {
        case 0: v = c->a.ebase & EBASE_CPUNUM; break;      /* CPUNum */
        case 1: v = 64; break;                              /* SYNCI_Step */
        case 2: v = cp0_read(c, CP0_COUNT, 0, NOW()); break; /* CC */
        case 3: v = 2; break;                               /* CCRes */
        case 29:                                            /* ULR: UserLocal */
            if (c->m->cfg.cpu_model != DC_CPU_LINUX)
                EXC(EXC_RI, 0);
            v = c->a.userlocal;
            break;
        default: EXC(EXC_RI, 0);
        }
        R[d->rt] = v;
        NEXT();
    }

    /* ---- branches and jumps ---- */
H(B): BRANCH(1);
H(BEQ): BRANCH(R[d->rs] == R[d->rt]);
H(BNE): BRANCH(R[d->rs] != R[d->rt]);
H(BLEZ): BRANCH((int32_t)R[d->rs] <= 0);
H(BGTZ): BRANCH((int32_t)R[d->rs] > 0);
H(BLTZ): BRANCH((int32_t)R[d->rs] < 0);
H(BGEZ): BRANCH((int32_t)R[d->rs] >= 0);
H(BLTZAL): { int t = (int32_t)R[d->rs] < 0; R[31] = VA_OF(d) + 8; BRANCH(t); }
H(BGEZAL): { int t = (int32_t)R[d->rs] >= 0; R[31] = VA_OF(d) + 8; BRANCH(t); }
H(BEQL): BRANCH_LIKELY(R[d->rs] == R[d->rt]);
H(BNEL): BRANCH_LIKELY(R[d->rs] != R[d->rt]);
H(BLEZL): BRANCH_LIKELY((int32_t)R[d->rs] <= 0);
H(BGTZL): BRANCH_LIKELY((int32_t)R[d->rs] > 0);
H(BLTZL): BRANCH_LIKELY((int32_t)R[d->rs] < 0);
H(BGEZL): BRANCH_LIKELY((int32_t)R[d->rs] >= 0);
H(BLTZALL): { int t = (int32_t)R[d->rs] < 0; R[31] = VA_OF(d) + 8; BRANCH_LIKELY(t); }
H(BGEZALL): { int t = (int32_t)R[d->rs] >= 0; R[31] = VA_OF(d) + 8; BRANCH_LIKELY(t); }
H(J): JUMP_VA(((VA_OF(d) + 4) & 0xF0000000u) | (uint32_t)d->imm);
H(JAL): {
        uint32_t va = VA_OF(d);
        R[31] = va + 8;
        JUMP_VA(((va + 4) & 0xF0000000u) | (uint32_t)d->imm);
    }
H(JR): JUMP_VA(R[d->rs]);
H(JALR): {
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
            TDATA(e->addend + va, va, ACC_LOAD); \
        } else { \
            int r = mem_load_slow(m, c, va, SIZE, &v, ex); \
            if (unlikely(r)) { if (r == MEM_MMIO) MMIO_READ_EXIT(); EXC_MEM(r, va); } \
            v = (uint32_t)CAST(TYPE) v; \
            TSLOW(); \
        } \
        R[d->rt] = v; \
        NEXT(); }
#define STORE(TYPE, SIZE) { \
        uint32_t va = R[d->rs] + (uint32_t)d->imm; \
        TYPE v = (TYPE)R[d->rt]; \
        stlb_entry *e = STLB_E(va); \
        if (likely(e->wtag == KEY(va) && !(va & (SIZE - 1)))) { \
            memcpy((void *)(e->addend + va), &v, SIZE); \
            TDATA(e->addend + va, va, ACC_STORE); \
        } else { \
            int r = mem_store_slow(m, c, va, SIZE, (uint32_t)v, ex); \
            if (unlikely(r)) { if (r == MEM_MMIO) MMIO_WRITE_EXIT(); EXC_MEM(r, va); } \
            TSLOW(); \
        } \
        NEXT(); }
H(LB): LOAD(int8_t, 1, (int32_t))
H(LBU): LOAD(uint8_t, 1, )
H(LH): LOAD(int16_t, 2, (int32_t))
H(LHU): LOAD(uint16_t, 2, )
H(LW): LOAD(uint32_t, 4, )
H(LL): {
        uint32_t va = R[d->rs] + (uint32_t)d->imm, v;
        int r = mem_load_slow(m, c, va, 4, &v, ex);
        if (unlikely(r)) { if (r == MEM_MMIO) MMIO_READ_EXIT(); EXC_MEM(r, va); }
        TSLOW();
        xlate x;
        translate(c, va, ACC_LOAD, &x);
        c->a.lladdr = (uint32_t)(x.pa >> 4);
        c->a.llbit = 1;
        c->a.ll_va = va;
        R[d->rt] = v;
        NEXT();
    }
H(LWL): H(LWR): {
        /* little-endian: LWL fills the high bytes, LWR the low ones */
        uint32_t va = R[d->rs] + (uint32_t)d->imm, wa = va & ~3u, w, sh;
        stlb_entry *e = STLB_E(wa);
        if (likely(e->rtag == KEY(wa))) {
            memcpy(&w, (const void *)(e->addend + wa), 4);
            TDATA(e->addend + wa, wa, ACC_LOAD);
        } else {
            int r = mem_load_slow(m, c, wa, 4, &w, ex);
            if (unlikely(r)) { if (r == MEM_MMIO) r = EXC_DBE; EXC_MEM(r, va); }
            TSLOW();
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
H(SB): STORE(uint8_t, 1)
H(SH): STORE(uint16_t, 2)
H(SW): STORE(uint32_t, 4)
H(SC): {
        uint32_t va = R[d->rs] + (uint32_t)d->imm;
        if (!c->a.llbit || va != c->a.ll_va) {
            if (unlikely(va & 3)) EXC(EXC_ADES, va);
            R[d->rd] = 0;
            NEXT();
        }
        int r = mem_store_slow(m, c, va, 4, R[d->rt], ex);
        if (unlikely(r)) { if (r == MEM_MMIO) r = EXC_DBE; EXC_MEM(r, va); }
        TSLOW();
        c->a.llbit = 0;
        R[d->rd] = 1;
        NEXT();
    }
H(SWL): H(SWR): {
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
            TDATA(e->addend + wa, wa, ACC_STORE);
        } else {
            int r = mem_merge_slow(m, c, wa, mask, bits);
            if (unlikely(r)) EXC_MEM(r, va);
            TSLOW();
        }
        NEXT();
    }
H(CACHE):
    PRIV();
    NEXT();

    /* ---- privileged ---- */
H(MFC0):
    PRIV();
    R[d->rt] = cp0_read(c, d->rd, (uint32_t)d->imm, NOW());
    NEXT();
H(MTC0): {
        PRIV();
        int f = cp0_write(c, d->rd, (uint32_t)d->imm, R[d->rt], NOW());
        if (f == 0) NEXT();
        RETIRE();
        if (f & CP0_RESLICE) goto out;
        goto restart;
    }
H(DI): H(EI):
    PRIV();
    R[d->rt] = c->a.status;
    if (d->op == OP_DI) {
        c->a.status &= ~STATUS_IE;
        NEXT();
    }
    c->a.status |= STATUS_IE;
    RETIRE();
    goto restart;
H(RDPGPR): H(WRPGPR):
    /* one register set (SRSCtl.HSS = 0): shadow sets are the current set */
    PRIV();
    R[d->rd] = R[d->rt];
    NEXT();
H(TLBR):
    PRIV();
    tlbr(c);
    RETIRE();
    goto restart;
H(TLBWI):
    PRIV();
    tlbwi(c);
    RETIRE();
    goto restart;
H(TLBWR):
    PRIV();
    tlbwr(c, NOW());
    RETIRE();
    goto restart;
H(TLBP):
    PRIV();
    tlbp(c);
    NEXT();
H(ERET):
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
H(WAIT):
    PRIV();
    RETIRE();
    c->a.state = DC_CPU_WAITING;
    goto out;

    /* ---- faults decided at decode ---- */
H(RI): EXC(EXC_RI, 0);
H(CPU1): EXC_CE(1);
H(CPU2): EXC_CE(2);
H(CPU3): EXC_CE(3);
