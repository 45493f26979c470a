"""The MIPS32 Release 2 architecture's numbers, in one place.

Exception codes, CP0 register numbers and fields, privilege modes, segment
bases, exception vector offsets, instruction fields the monitor decodes, and
the machine's RAM layout around the device window. Names follow the MIPS32
PRA (MD00090) and Volume II-A (MD00086), as core_c/mips.h does for the C
core. Every Python module that needs one of these numbers imports it from
here: the machine wrapper, the monitor, the session, the app and the tests.
"""

from __future__ import annotations

import enum

# --- pages -----------------------------------------------------------------

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT


# --- exception codes (PRA table 8.25, Cause.ExcCode) -------------------------


class ExcCode(enum.IntEnum):
    """Cause.ExcCode values (MIPS32 PRA table 8.25)."""

    INT = 0
    MOD = 1
    TLBL = 2
    TLBS = 3
    ADEL = 4
    ADES = 5
    IBE = 6
    DBE = 7
    SYS = 8
    BP = 9
    RI = 10
    CPU = 11
    OV = 12
    TR = 13
    WATCH = 23


EXC_INT, EXC_MOD, EXC_TLBL, EXC_TLBS = ExcCode.INT, ExcCode.MOD, ExcCode.TLBL, ExcCode.TLBS
EXC_ADEL, EXC_ADES, EXC_IBE, EXC_DBE = ExcCode.ADEL, ExcCode.ADES, ExcCode.IBE, ExcCode.DBE
EXC_SYS, EXC_BP, EXC_RI, EXC_CPU = ExcCode.SYS, ExcCode.BP, ExcCode.RI, ExcCode.CPU
EXC_OV, EXC_TR, EXC_WATCH = ExcCode.OV, ExcCode.TR, ExcCode.WATCH


# --- privilege modes (Status.KSU when EXL = ERL = 0) --------------------------


class Mode(enum.IntEnum):
    """A privilege mode as Status.KSU encodes it (PRA §3.1)."""

    KERNEL = 0
    SUPERVISOR = 1
    USER = 2


# --- segments (PRA §4.3) ------------------------------------------------------

KUSEG_END = 0x80000000
KSEG0 = 0x80000000
KSEG1 = 0xA0000000
KSSEG = 0xC0000000
KSEG3 = 0xE0000000
SEGMENT_BYTES = 0x20000000  # kseg0 and kseg1 each map the low 512 MiB of physical space


# --- exception vectors (PRA §6.2.1, offsets from the vector base) ------------

VEC_REFILL, VEC_GENERAL, VEC_INTERRUPT = 0x000, 0x180, 0x200
BEV_BASE = 0xBFC00200  # vector base while Status.BEV = 1


# --- CP0 register numbers (PRA table 8.1; select 0 unless named) --------------

INDEX, RANDOM, ENTRYLO0, ENTRYLO1, CONTEXT, PAGEMASK, WIRED, HWRENA = range(8)
BADVADDR, COUNT, ENTRYHI, COMPARE, STATUS, CAUSE, EPC, PRID = range(8, 16)
CONFIG, LLADDR, WATCHLO, WATCHHI = 16, 17, 18, 19
ERROREPC = 30
USERLOCAL_SEL = 2  # UserLocal is CP0 register 4 (Context), select 2
EBASE_SEL = 1  # EBase is CP0 register 15 (PRId), select 1


# --- CP0 fields (PRA §8.15 Status, §8.16 Cause, §8.11 EntryHi, §8.6 EntryLo) --

ST_IE, ST_EXL, ST_ERL = 1 << 0, 1 << 1, 1 << 2
ST_KSU_SHIFT, ST_KSU = 3, 3 << 3
ST_IM_SHIFT, ST_IM = 8, 0xFF << 8
ST_BEV, ST_CU0 = 1 << 22, 1 << 28
ST_WRITABLE = (ST_CU0 | (1 << 27) | ST_BEV | (1 << 20) | (1 << 19) | ST_IM | ST_KSU
               | ST_ERL | ST_EXL | ST_IE)
CA_EXCCODE_SHIFT, CA_EXCCODE = 2, 0x1F << 2
CA_IP_SHIFT = 8
CA_IV, CA_WP = 1 << 23, 1 << 22
CA_CE_SHIFT, CA_CE = 28, 3 << 28
CA_TI, CA_BD = 1 << 30, 1 << 31
CA_DC = 1 << 27  # Release 2: Count stands still while set
CA_WRITABLE = CA_IV | CA_WP | CA_DC | (3 << 8)
EH_ASID, EH_VPN2 = 0xFF, 0xFFFFE000
LO_G, LO_V, LO_D = 1, 2, 4
LO_C_SHIFT = 3
LO_PFN_SHIFT = 6
LO_WRITABLE = 0x3FFFFFFF
PAGEMASK_MASK = 0x1FFFE000
CONTEXT_PTEBASE = 0xFF800000
CONTEXT_BADVPN2 = 0x7FFFF << 4
INDEX_P = 1 << 31
EBASE_WRITABLE = 0x3FFFF000
TIMER_IP = 7  # the count/compare interrupt is hardware line 5 = Cause.IP7


def lo_pfn(lo: int) -> int:
    """The page frame number in an EntryLo value (PRA §8.6)."""
    return (lo >> LO_PFN_SHIFT) & 0xFFFFF


def lo_with_pfn(lo: int, pfn: int) -> int:
    """`lo` with its PFN replaced by `pfn`, its flags (C, D, V, G) kept."""
    return (lo & 0x3F) | ((pfn & 0xFFFFF) << LO_PFN_SHIFT)


def status_mode(status: int) -> Mode:
    """The mode the CPU runs in for a Status value: kernel while EXL or ERL is set."""
    if status & (ST_EXL | ST_ERL):
        return Mode.KERNEL
    return Mode((status & ST_KSU) >> ST_KSU_SHIFT)


# --- instruction fields the monitor and the debugger decode (MD00086 app. A) --

OP_SPECIAL, OP_REGIMM, OP_J, OP_JAL = 0x00, 0x01, 0x02, 0x03
OP_COP0, OP_CACHE, OP_SPECIAL3 = 0x10, 0x2F, 0x1F
FN_JR, FN_JALR, FN_SYSCALL, FN_BREAK = 0x08, 0x09, 0x0C, 0x0D
FN_RDHWR = 0x3B
RT_BLTZAL, RT_BGEZAL, RT_BLTZALL, RT_BGEZALL = 0x10, 0x11, 0x12, 0x13
RS_MF, RS_MT, RS_RDPGPR, RS_MFMC0, RS_WRPGPR = 0x00, 0x04, 0x0A, 0x0B, 0x0E
CO_TLBR, CO_TLBWI, CO_TLBWR, CO_TLBP, CO_ERET, CO_WAIT = 0x01, 0x02, 0x06, 0x08, 0x18, 0x20


def is_call(word: int) -> bool:
    """Whether an instruction word links: JAL, JALR, BAL and the other REGIMM
    branch-and-link forms. A step over such a call runs to the instruction after
    its delay slot."""
    op = word >> 26
    if op == OP_JAL:
        return True
    if op == OP_SPECIAL and (word & 0x3F) == FN_JALR:
        return True
    return op == OP_REGIMM and ((word >> 16) & 0x1F) in (
        RT_BLTZAL, RT_BGEZAL, RT_BLTZALL, RT_BGEZALL)


# --- general registers (o32 names) ------------------------------------------

GPR_NAMES = (
    "zero", "at", "v0", "v1", "a0", "a1", "a2", "a3",
    "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7",
    "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7",
    "t8", "t9", "k0", "k1", "gp", "sp", "fp", "ra",
)
REG_V0, REG_A0, REG_A1, REG_A2, REG_A3 = 2, 4, 5, 6, 7
REG_K0, REG_K1, REG_GP, REG_SP, REG_RA = 26, 27, 28, 29, 31


# --- the machine's physical map (docs/machine-api.md) ----------------------

DEVICE_WINDOW_PA = 0x1F000000  # RAM stops here, devices occupy 0x1F000000-0x1FFFFFFF
HIGH_RAM_PA = 0x20000000  # the rest of RAM continues here
DEVICE_WINDOW_PFN = DEVICE_WINDOW_PA >> PAGE_SHIFT
HIGH_RAM_PFN = HIGH_RAM_PA >> PAGE_SHIFT


def ram_index_to_pfn(r: int) -> int:
    """The physical page number of the r-th page of RAM."""
    return r if r < DEVICE_WINDOW_PFN else HIGH_RAM_PFN + (r - DEVICE_WINDOW_PFN)


def pfn_to_ram_index(pfn: int) -> int:
    """Which page of RAM a physical page number is (inverse of ram_index_to_pfn)."""
    return pfn if pfn < DEVICE_WINDOW_PFN else DEVICE_WINDOW_PFN + (pfn - HIGH_RAM_PFN)


def ram_offset_to_pa(offset: int) -> int:
    """The physical address of a byte offset into RAM."""
    return offset if offset < DEVICE_WINDOW_PA else HIGH_RAM_PA + (offset - DEVICE_WINDOW_PA)
