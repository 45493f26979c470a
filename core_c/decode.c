/* decode.c - instruction decoding into dinsn records.
 * Implements the opcode map of "MIPS32 Architecture for Programmers Volume
 * II-A: The MIPS32 Instruction Set" (MD00086), appendix A (tables A.2-A.11),
 * Release 2, integer only. Reserved encodings decode to RI; coprocessor 1, 2
 * and 3 encodings to Coprocessor Unusable. */
#include "internal.h"

const void *g_labels[OP_COUNT];

/* r0 as a destination becomes the write sink, so r0 stays zero for free. */
static inline uint8_t dest(uint32_t r) { return r ? (uint8_t)r : REG_SINK; }

/* A conditional branch at word `index` of its page with a 16-bit offset:
 * if the delay slot and the target are on the same page, imm is the entry
 * delta to the target; otherwise the branch is FAR and imm is the byte
 * offset from the branch to its target. */
static void branch(dinsn *d, int op, uint32_t w, uint32_t index)
{
    int32_t off = (int16_t)(w & 0xFFFF);
    int32_t target = (int32_t)index + 1 + off;
    d->op = (uint8_t)op;
    if (index + 1 < PAGE_WORDS && target >= 0 && target < (int32_t)PAGE_WORDS) {
        d->rd = 0;
        d->imm = target - (int32_t)index;
    } else {
        d->rd = BR_FAR;
        d->imm = off * 4 + 4;
    }
    d->h = g_labels[op];
}

void decode(uint32_t w, dinsn *d, uint32_t index)
{
    uint32_t op = w >> 26, rs = (w >> 21) & 31, rt = (w >> 16) & 31;
    uint32_t rd = (w >> 11) & 31, sa = (w >> 6) & 31, fn = w & 63;
    int32_t simm = (int16_t)(w & 0xFFFF);
    uint32_t uimm = w & 0xFFFF;
    int o = OP_RI;

    d->rs = (uint8_t)rs;
    d->rt = (uint8_t)rt;
    d->rd = dest(rd);
    d->imm = simm;

    switch (op) {
    case 0x00: /* SPECIAL (table A.3) */
        switch (fn) {
        case 0x00:
            if (rd == 0) o = OP_NOP;            /* nop, ssnop, ehb */
            else { o = OP_SLL; d->imm = (int32_t)sa; }
            break;
        case 0x01: o = OP_CPU1; break;          /* MOVF/MOVT */
        case 0x02: o = (rs & 1) ? OP_ROTR : OP_SRL; d->imm = (int32_t)sa; break;
        case 0x03: o = OP_SRA; d->imm = (int32_t)sa; break;
        case 0x04: o = OP_SLLV; break;
        case 0x06: o = (sa & 1) ? OP_ROTRV : OP_SRLV; break;
        case 0x07: o = OP_SRAV; break;
        case 0x08: o = OP_JR; break;
        case 0x09: o = OP_JALR; break;
        case 0x0A: o = OP_MOVZ; break;
        case 0x0B: o = OP_MOVN; break;
        case 0x0C: o = OP_SYSCALL; break;
        case 0x0D: o = OP_BREAK; break;
        case 0x0F: o = OP_NOP; break;           /* SYNC */
        case 0x10: o = OP_MFHI; break;
        case 0x11: o = OP_MTHI; break;
        case 0x12: o = OP_MFLO; break;
        case 0x13: o = OP_MTLO; break;
        case 0x18: o = OP_MULT; break;
        case 0x19: o = OP_MULTU; break;
        case 0x1A: o = OP_DIV; break;
        case 0x1B: o = OP_DIVU; break;
        case 0x20: o = OP_ADD; break;
        case 0x21: o = (rt == 0) ? OP_MOVE : OP_ADDU; break;
        case 0x22: o = OP_SUB; break;
        case 0x23: o = OP_SUBU; break;
        case 0x24: o = OP_AND; break;
        case 0x25: o = (rt == 0) ? OP_MOVE : OP_OR; break;
        case 0x26: o = OP_XOR; break;
        case 0x27: o = OP_NOR; break;
        case 0x2A: o = OP_SLT; break;
        case 0x2B: o = OP_SLTU; break;
        case 0x30: o = OP_TGE; break;
        case 0x31: o = OP_TGEU; break;
        case 0x32: o = OP_TLT; break;
        case 0x33: o = OP_TLTU; break;
        case 0x34: o = OP_TEQ; break;
        case 0x36: o = OP_TNE; break;
        default: break;
        }
        break;
    case 0x01: /* REGIMM (table A.4) */
        switch (rt) {
        case 0x00: branch(d, OP_BLTZ, w, index); return;
        case 0x01: branch(d, rs == 0 ? OP_B : OP_BGEZ, w, index); return;
        case 0x02: branch(d, OP_BLTZL, w, index); return;
        case 0x03: branch(d, OP_BGEZL, w, index); return;
        case 0x08: o = OP_TGEI; break;
        case 0x09: o = OP_TGEIU; break;
        case 0x0A: o = OP_TLTI; break;
        case 0x0B: o = OP_TLTIU; break;
        case 0x0C: o = OP_TEQI; break;
        case 0x0E: o = OP_TNEI; break;
        case 0x10: branch(d, OP_BLTZAL, w, index); return;
        case 0x11: branch(d, OP_BGEZAL, w, index); return;
        case 0x12: branch(d, OP_BLTZALL, w, index); return;
        case 0x13: branch(d, OP_BGEZALL, w, index); return;
        case 0x1F: o = OP_NOP; break;           /* SYNCI: decoded code tracks stores */
        default: break;
        }
        break;
    case 0x02: o = OP_J; d->imm = (int32_t)((w & 0x03FFFFFF) << 2); break;
    case 0x03: o = OP_JAL; d->imm = (int32_t)((w & 0x03FFFFFF) << 2); break;
    case 0x04: branch(d, (rs == rt) ? OP_B : OP_BEQ, w, index); return;
    case 0x05: branch(d, OP_BNE, w, index); return;
    case 0x06: branch(d, OP_BLEZ, w, index); return;
    case 0x07: branch(d, OP_BGTZ, w, index); return;
    case 0x08: o = OP_ADDI; d->rd = dest(rt); break;
    case 0x09: o = OP_ADDIU; d->rd = dest(rt); break;
    case 0x0A: o = OP_SLTI; d->rd = dest(rt); break;
    case 0x0B: o = OP_SLTIU; d->rd = dest(rt); break;
    case 0x0C: o = OP_ANDI; d->rd = dest(rt); d->imm = (int32_t)uimm; break;
    case 0x0D: o = OP_ORI; d->rd = dest(rt); d->imm = (int32_t)uimm; break;
    case 0x0E: o = OP_XORI; d->rd = dest(rt); d->imm = (int32_t)uimm; break;
    case 0x0F: o = OP_LUI; d->rd = dest(rt); d->imm = (int32_t)(uimm << 16); break;
    case 0x10: /* COP0 (tables A.11, A.12) */
        if (rs & 0x10) {
            switch (fn) {
            case 0x01: o = OP_TLBR; break;
            case 0x02: o = OP_TLBWI; break;
            case 0x06: o = OP_TLBWR; break;
            case 0x08: o = OP_TLBP; break;
            case 0x18: o = OP_ERET; break;
            case 0x20: o = OP_WAIT; break;
            default: break;                     /* DERET and others: no EJTAG */
            }
        } else {
            d->imm = (int32_t)(w & 7);          /* sel */
            d->rd = (uint8_t)rd;                /* a CP0 register: 0 is Index */
            switch (rs) {
            case 0x00: o = OP_MFC0; d->rt = dest(rt); break;
            case 0x04: o = OP_MTC0; break;
            case 0x0A: o = OP_RDPGPR; d->rd = dest(rd); break;
            case 0x0B: o = ((w >> 5) & 1) ? OP_EI : OP_DI; d->rt = dest(rt); break;
            case 0x0E: o = OP_WRPGPR; d->rd = dest(rd); break;
            default: break;
            }
        }
        break;
    case 0x11: case 0x13: /* COP1, COP1X */
    case 0x31: case 0x35: case 0x39: case 0x3D: /* LWC1 LDC1 SWC1 SDC1 */
        o = OP_CPU1;
        break;
    case 0x12: case 0x32: case 0x36: case 0x3A: case 0x3E: /* COP2, LWC2 LDC2 SWC2 SDC2 */
        o = OP_CPU2;
        break;
    case 0x14: branch(d, OP_BEQL, w, index); return;
    case 0x15: branch(d, OP_BNEL, w, index); return;
    case 0x16: branch(d, OP_BLEZL, w, index); return;
    case 0x17: branch(d, OP_BGTZL, w, index); return;
    case 0x1C: /* SPECIAL2 (table A.5) */
        switch (fn) {
        case 0x00: o = OP_MADD; break;
        case 0x01: o = OP_MADDU; break;
        case 0x02: o = OP_MUL; break;
        case 0x04: o = OP_MSUB; break;
        case 0x05: o = OP_MSUBU; break;
        case 0x20: o = OP_CLZ; break;
        case 0x21: o = OP_CLO; break;
        default: break;                         /* SDBBP: no EJTAG */
        }
        break;
    case 0x1F: /* SPECIAL3 (table A.6) */
        switch (fn) {
        case 0x00: /* EXT rt, rs, pos=sa, size=rd+1 */
            o = OP_EXT;
            d->rt = dest(rt);
            d->rd = (uint8_t)sa;
            d->imm = (int32_t)(uint32_t)((rd + 1 >= 32) ? 0xFFFFFFFFu : ((1u << (rd + 1)) - 1));
            break;
        case 0x04: /* INS rt, rs, pos=sa, size=rd-sa+1 */
            o = OP_INS;
            d->rt = dest(rt);
            d->rd = (uint8_t)sa;
            if (rd >= sa) {
                uint32_t size = rd - sa + 1;
                d->imm = (int32_t)(uint32_t)(size >= 32 ? 0xFFFFFFFFu : ((1u << size) - 1));
            } else {
                d->imm = 0;                     /* UNPREDICTABLE: leave rt alone */
            }
            break;
        case 0x20: /* BSHFL */
            switch (sa) {
            case 0x02: o = OP_WSBH; break;
            case 0x10: o = OP_SEB; break;
            case 0x18: o = OP_SEH; break;
            default: break;
            }
            break;
        case 0x3B: o = OP_RDHWR; d->rt = dest(rt); d->rd = (uint8_t)rd; break;
        default: break;
        }
        break;
    case 0x20: o = OP_LB; d->rt = dest(rt); break;
    case 0x21: o = OP_LH; d->rt = dest(rt); break;
    case 0x22: o = OP_LWL; d->rt = dest(rt); break;
    case 0x23: o = OP_LW; d->rt = dest(rt); break;
    case 0x24: o = OP_LBU; d->rt = dest(rt); break;
    case 0x25: o = OP_LHU; d->rt = dest(rt); break;
    case 0x26: o = OP_LWR; d->rt = dest(rt); break;
    case 0x28: o = OP_SB; break;
    case 0x29: o = OP_SH; break;
    case 0x2A: o = OP_SWL; break;
    case 0x2B: o = OP_SW; break;
    case 0x2E: o = OP_SWR; break;
    case 0x2F: o = OP_CACHE; break;
    case 0x30: o = OP_LL; d->rt = dest(rt); break;
    case 0x33: o = OP_NOP; break;               /* PREF */
    case 0x38: o = OP_SC; d->rd = dest(rt); break;  /* rt is read and written */
    default: break;
    }
    d->op = (uint8_t)o;
    d->h = g_labels[o];
}
