/* mips.h - CP0 register numbers, fields and exception codes, spelled as in
 * "MIPS32 Architecture for Programmers Volume III: The MIPS32 Privileged
 * Resource Architecture" (MD00090), chapters 8 (CP0 registers) and 6
 * (exceptions), and Volume II-A (MD00086) for the opcode map (appendix A). */
#ifndef DC_MIPS_H
#define DC_MIPS_H

/* CP0 register numbers (PRA §8, table 8.1) */
#define CP0_INDEX 0
#define CP0_RANDOM 1
#define CP0_ENTRYLO0 2
#define CP0_ENTRYLO1 3
#define CP0_CONTEXT 4
#define CP0_PAGEMASK 5
#define CP0_WIRED 6
#define CP0_HWRENA 7
#define CP0_BADVADDR 8
#define CP0_COUNT 9
#define CP0_ENTRYHI 10
#define CP0_COMPARE 11
#define CP0_STATUS 12           /* sel 1 IntCtl, sel 2 SRSCtl */
#define CP0_CAUSE 13
#define CP0_EPC 14
#define CP0_PRID 15             /* sel 1 EBase */
#define CP0_CONFIG 16           /* sel 0..3 */
#define CP0_LLADDR 17
#define CP0_WATCHLO 18
#define CP0_WATCHHI 19
#define CP0_ERROREPC 30

/* Status (PRA §8.15) */
#define STATUS_IE (1u << 0)
#define STATUS_EXL (1u << 1)
#define STATUS_ERL (1u << 2)
#define STATUS_KSU_SHIFT 3
#define STATUS_KSU (3u << 3)
#define STATUS_IM_SHIFT 8
#define STATUS_IM (0xFFu << 8)
#define STATUS_NMI (1u << 19)
#define STATUS_SR (1u << 20)
#define STATUS_TS (1u << 21)
#define STATUS_BEV (1u << 22)
#define STATUS_RP (1u << 27)
#define STATUS_CU0 (1u << 28)
/* CU1..3 are absent (no FPU, no COP2), so they read as zero. */
#define STATUS_WRITABLE (STATUS_CU0 | STATUS_RP | STATUS_BEV | STATUS_SR | STATUS_NMI | \
                         STATUS_IM | STATUS_KSU | STATUS_ERL | STATUS_EXL | STATUS_IE)

/* Cause (PRA §8.16) */
#define CAUSE_EXCCODE_SHIFT 2
#define CAUSE_EXCCODE (0x1Fu << 2)
#define CAUSE_IP_SHIFT 8
#define CAUSE_IP (0xFFu << 8)
#define CAUSE_IP_SW (0x3u << 8)
#define CAUSE_IV (1u << 23)
#define CAUSE_DC (1u << 27)
#define CAUSE_WP (1u << 22)
#define CAUSE_CE_SHIFT 28
#define CAUSE_CE (3u << 28)
#define CAUSE_TI (1u << 30)
#define CAUSE_BD (1u << 31)
#define CAUSE_WRITABLE (CAUSE_IV | CAUSE_WP | CAUSE_IP_SW | CAUSE_DC)
#define TIMER_IP 7              /* IntCtl.IPTI: the timer drives IP7 */

/* EntryHi / EntryLo / PageMask / Context (PRA §8.4-8.7, 8.11) */
#define ENTRYHI_ASID 0xFFu
#define ENTRYHI_VPN2 0xFFFFE000u
#define ENTRYLO_G (1u << 0)
#define ENTRYLO_V (1u << 1)
#define ENTRYLO_D (1u << 2)
#define ENTRYLO_C_SHIFT 3
#define ENTRYLO_PFN_SHIFT 6
#define ENTRYLO_WRITABLE 0x3FFFFFFFu
#define PAGEMASK_MASK 0x1FFFE000u
#define CONTEXT_PTEBASE 0xFF800000u
#define CONTEXT_BADVPN2_SHIFT 4
#define CONTEXT_BADVPN2 (0x7FFFFu << 4)
#define INDEX_P (1u << 31)
#define EBASE_WRITABLE 0x3FFFF000u
#define EBASE_CPUNUM 0x3FFu

/* Exception codes, Cause.ExcCode (PRA table 8.25) */
#define EXC_INT 0
#define EXC_MOD 1
#define EXC_TLBL 2
#define EXC_TLBS 3
#define EXC_ADEL 4
#define EXC_ADES 5
#define EXC_IBE 6
#define EXC_DBE 7
#define EXC_SYS 8
#define EXC_BP 9
#define EXC_RI 10
#define EXC_CPU 11
#define EXC_OV 12
#define EXC_TR 13
#define EXC_WATCH 23

/* Vector offsets (PRA §6.2.1, table 6.5) */
#define VEC_REFILL 0x000u
#define VEC_GENERAL 0x180u
#define VEC_INTERRUPT 0x200u
#define BEV_BASE 0xBFC00200u
#define RESET_VECTOR 0xBFC00000u

/* Segments (PRA §4.3) */
#define KSEG0 0x80000000u
#define KSEG1 0xA0000000u
#define KSSEG 0xC0000000u
#define KSEG3 0xE0000000u

/* Processor modes */
#define MODE_KERNEL 0
#define MODE_SUPER 1
#define MODE_USER 2

#endif
