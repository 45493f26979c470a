/* ops.h - the decoded operations, one handler each in exec.c.
 * Grouped like MIPS32 Volume II-A (MD00086) chapter 3; names are the
 * mnemonics. UNDECODED, PAGE_END and FAR are internal. */
#ifndef DC_OPS_H
#define DC_OPS_H

#define OPS(X) \
    X(UNDECODED) X(PAGE_END) X(FAR) X(NOP) \
    /* arithmetic and logic */ \
    X(ADD) X(ADDU) X(SUB) X(SUBU) X(AND) X(OR) X(XOR) X(NOR) X(SLT) X(SLTU) \
    X(ADDI) X(ADDIU) X(SLTI) X(SLTIU) X(ANDI) X(ORI) X(XORI) X(LUI) X(MOVE) \
    X(SLL) X(SRL) X(SRA) X(ROTR) X(SLLV) X(SRLV) X(SRAV) X(ROTRV) \
    X(MOVZ) X(MOVN) X(CLZ) X(CLO) X(EXT) X(INS) X(WSBH) X(SEB) X(SEH) \
    /* multiply and divide */ \
    X(MFHI) X(MTHI) X(MFLO) X(MTLO) X(MULT) X(MULTU) X(DIV) X(DIVU) \
    X(MUL) X(MADD) X(MADDU) X(MSUB) X(MSUBU) \
    /* traps and system */ \
    X(TGE) X(TGEU) X(TLT) X(TLTU) X(TEQ) X(TNE) \
    X(TGEI) X(TGEIU) X(TLTI) X(TLTIU) X(TEQI) X(TNEI) \
    X(SYSCALL) X(BREAK) X(RDHWR) \
    /* branches and jumps */ \
    X(B) X(BEQ) X(BNE) X(BLEZ) X(BGTZ) X(BLTZ) X(BGEZ) X(BLTZAL) X(BGEZAL) \
    X(BEQL) X(BNEL) X(BLEZL) X(BGTZL) X(BLTZL) X(BGEZL) X(BLTZALL) X(BGEZALL) \
    X(J) X(JAL) X(JR) X(JALR) \
    /* loads and stores */ \
    X(LB) X(LBU) X(LH) X(LHU) X(LW) X(LWL) X(LWR) X(LL) \
    X(SB) X(SH) X(SW) X(SWL) X(SWR) X(SC) \
    /* privileged (CP0) */ \
    X(MFC0) X(MTC0) X(DI) X(EI) X(RDPGPR) X(WRPGPR) X(CACHE) \
    X(TLBR) X(TLBWI) X(TLBWR) X(TLBP) X(ERET) X(WAIT) \
    /* faults decided at decode */ \
    X(RI) X(CPU1) X(CPU2) X(CPU3)

#endif
