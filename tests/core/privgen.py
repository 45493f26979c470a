"""Generated kernel-mode programs that exercise the privileged architecture.

Used by tests/core/qemu_cosim.py, which runs each program in QEMU and in our
core and compares them step by step. A program is a sequence of blocks; each
block starts by writing Status whole, so no block depends on what a handler
left behind. The blocks write and probe the TLB, read it back, write CP0
registers and copy them into GPRs, take TLB refill / invalid / modified and
address-error exceptions (plain, in a taken or not-taken branch's delay slot,
after JAL or JR, nullified by a branch-likely), run code in user and
supervisor mode (entered with ERET, left by an exception), raise and mask
software interrupts, and move EBase, BEV, EXL and ERL.

Memory layout (kseg0 virtual addresses, physical = VA & 0x1FFFFFFF):

| VA | what |
|---|---|
| 0x80000000, 0x80020000 | the two EBase values: a `j HANDLER` at +0x000, +0x180, +0x200 |
| 0x80030000 | the BEV = 1 vectors' mirror (the harness moves pc here from 0xBFC00200 + off) |
| 0x80008000 | HANDLER: copies Cause, EPC, BadVAddr, EntryHi, Context, Status to s0..s5 |
| 0x80040000 | the program |
| phys 0x00100000 | user code, mapped at 0x7F000000 by one global 64 KiB-page entry |
| phys 0x00400000 up | data pages the TLB maps (`Program.touched` lists them) |

Registers: k0/k1 belong to the handler, s0..s5 receive its copies, s6 counts
exceptions, s7 holds the address the handler returns to (ERET to EPC and
ErrorEPC both set to s7), so every block sets s7 before an instruction that
may trap. TLB entry i only ever maps the 32 MiB region (i + 1) << 25 (or the
user code at 0x7F000000), so no two entries can match one address (a
multiple match is a machine check on some processors and UNPREDICTABLE on
others). What the comparison cannot see or must not depend on is kept out:
Count, Random (TLBWR is issued only with Wired = 15, where it must write entry
15), Cause.TI and IP7..IP2 (QEMU's timer and board), Cause.CE except after
Coprocessor Unusable and EntryHi/Context after an address error
(UNPREDICTABLE), PRId and Config (the models differ), the Index field after a
TLBP miss (UNPREDICTABLE), EntryLo bits above the 24Kc's PABITS, SC and COP2
(QEMU deviates), and `bne $r, $r` (QEMU drops its delay slot); the reasons are
in docs/qemu-cosim.md.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.core.progen import encode, i_type, j_type, r_type

EBASES = (0x8000_0000, 0x8002_0000)
BEV_MIRROR = 0x8003_0000
BEV_VECTORS = 0xBFC0_0200  # the vector base while Status.BEV = 1
HANDLER = 0x8000_8000
PROGRAM = 0x8004_0000
USER_PHYS = 0x0010_0000
USER_VA = 0x7F00_0000
USER_PAGE = 0x1_0000  # the user code's entry has 64 KiB pages
DATA_PHYS = 0x0040_0000
KSEG0_DATA = 0x8040_0000
TLB_ENTRIES = 16
UNMATCHABLE = 0x8000_0000  # EntryHi.VPN2 of an entry nothing can match (kseg0 is unmapped)

# the words whose result the harness masks for one step (see copy())
MFC0_CAUSE = 0x4000_6800
MFC0_CONTEXT = 0x4000_2000

# registers
AT, K0, K1 = 1, 26, 27
S0, S6, S7 = 16, 22, 23
RA = 31
TEMPS = (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25)
ADDR = 28  # holds an address to load from / store to
JUMP = 29  # holds a jump target

# CP0 (register, select)
INDEX, ENTRYLO0, ENTRYLO1, CONTEXT, PAGEMASK, WIRED = 0, 2, 3, 4, 5, 6
BADVADDR, ENTRYHI, STATUS, CAUSE, EPC, EBASE, ERROREPC = 8, 10, 12, 13, 14, 15, 30
# Cause.TI and IP7..IP2: in QEMU the host-timed Count/Compare timer and the Malta board's
# interrupt controller drive them; ours has no such devices here
CAUSE_TIMER = 0x4000_FC00
CAUSE_CE = 0x3000_0000  # UNPREDICTABLE except on Coprocessor Unusable

# Status fields
ST_IE, ST_EXL, ST_ERL = 1, 2, 4
ST_UM = 0x10  # KSU = 2 (user)
ST_SM = 0x08  # KSU = 1 (supervisor)
ST_BEV = 1 << 22
ST_CU0 = 1 << 28
ST_IM_SOFT = 0x0300
ST_IM_NO_TIMER = 0x0300  # IM0..IM1; the hardware lines stay masked (see CAUSE_TIMER)

PAGE_SIZES = (0x1000, 0x4000, 0x1_0000, 0x4_0000, 0x10_0000, 0x40_0000, 0x100_0000)
ASIDS = (0, 1, 2, 0x55, 0xFF)


def mfc0(rt: int, rd: int, sel: int = 0) -> int:
    return 0x4000_0000 | rt << 16 | rd << 11 | sel


def mtc0(rt: int, rd: int, sel: int = 0) -> int:
    return 0x4080_0000 | rt << 16 | rd << 11 | sel


TLBR, TLBWI, TLBWR, TLBP, ERET = 0x4200_0001, 0x4200_0002, 0x4200_0006, 0x4200_0008, 0x4200_0018
EHB = 0x0000_00C0
NOP = 0
EI, DI = 0x4160_6020, 0x4160_6000  # ei $zero, di $zero


def mask_of(size: int) -> int:
    """The PageMask value for pages of `size` bytes."""
    return (size // 0x1000 - 1) << 13


def region(index: int) -> int:
    """The only VA range (a 32 MiB-aligned pair region) TLB entry `index` maps."""
    return (index + 1) << 25


@dataclass
class Entry:
    """What the generator wrote into one TLB entry (None: the initial, unmatchable one)."""

    size: int = 0x1000
    asid: int = 0
    lo0: int = 0
    lo1: int = 0
    user_code: bool = False


@dataclass
class Program:
    seed: int
    index: int
    code: bytes            # at PROGRAM
    user_code: bytes       # at USER_PHYS
    end_va: int
    touched: list[int]     # physical 4 KiB pages the program may store to (besides code)
    supervisor: bool = False


def handler_code() -> bytes:
    """The common exception handler at HANDLER (PRA §6.2: it runs with EXL set)."""
    a = _Asm(HANDLER)
    a.li(K1, ~(CAUSE_TIMER | CAUSE_CE))
    a.emit(mfc0(S0, CAUSE), r_type(0, S0, K1, S0, 0, 0x24))  # s0 = Cause, masked
    # CE means something after Coprocessor Unusable only
    a.emit(encode("ANDI", rs=S0, rt=K0, imm=0x7C), encode("ADDIU", rt=K1, imm=11 << 2))
    no_ce = a.new_label()
    a.branch("BNE", K0, K1, no_ce)
    a.emit(i_type(0x0F, 0, K1, CAUSE_CE >> 16))
    a.emit(mfc0(K0, CAUSE), r_type(0, K0, K1, K0, 0, 0x24), r_type(0, S0, K0, S0, 0, 0x25))
    a.place(no_ce)
    a.emit(mfc0(S0 + 1, EPC), mfc0(S0 + 2, BADVADDR), mfc0(S0 + 5, STATUS),
           encode("ADDIU", rs=S6, rt=S6, imm=1), encode("ADDU", rd=S0 + 3),
           encode("ADDU", rd=S0 + 4))
    # EntryHi and Context only after the TLB exceptions (ExcCode 1..3) that set them:
    # after an address error their VPN2 fields are UNPREDICTABLE
    a.emit(encode("ANDI", rs=S0, rt=K0, imm=0x7C), encode("ADDIU", rs=K0, rt=K0, imm=-4 & 0xFFFF),
           encode("SLTIU", rs=K0, rt=K0, imm=12))
    not_tlb = a.new_label()
    a.branch("BEQ", K0, 0, not_tlb)
    a.emit(NOP, mfc0(S0 + 3, ENTRYHI), mfc0(S0 + 4, CONTEXT))
    a.place(not_tlb)
    a.emit(encode("ADDIU", rt=K1, imm=-0x301 & 0xFFFF),
           r_type(0, S0, K1, K0, 0, 0x24), mtc0(K0, CAUSE),      # clear IP1..IP0
           mfc0(K0, STATUS), encode("ADDIU", rt=K1, imm=-0x19 & 0xFFFF),
           r_type(0, K0, K1, K0, 0, 0x24), mtc0(K0, STATUS),     # KSU = kernel
           mtc0(S7, EPC), mtc0(S7, ERROREPC), EHB, ERET, NOP)
    return a.finish()


def vector_code(base: int) -> dict[int, bytes]:
    """`j HANDLER; nop` at a vector base's refill, general and interrupt offsets."""
    jump = struct.pack("<2I", j_type(0x02, HANDLER), NOP)
    return {base + off: jump for off in (0x000, 0x180, 0x200)}


def fixed_code() -> dict[int, bytes]:
    """Everything at a fixed place that no program changes: vectors and handler."""
    out: dict[int, bytes] = {HANDLER: handler_code()}
    for base in (*EBASES, BEV_MIRROR):
        out.update(vector_code(base))
    return out


class _Asm:
    """Words with labels; branch and absolute-address fixups resolved at the end."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.words: list[int] = []
        self.labels: dict[str, int] = {}
        self.fixups: list[tuple[int, str, Callable[[int, int], int]]] = []
        self._n = 0

    def new_label(self) -> str:
        self._n += 1
        return f"L{self._n}"

    def here(self) -> int:
        return self.base + 4 * len(self.words)

    def place(self, label: str) -> None:
        self.labels[label] = self.here()

    def emit(self, *words: int) -> None:
        self.words += words

    def li(self, reg: int, value: int) -> None:
        value &= 0xFFFF_FFFF
        self.emit(i_type(0x0F, 0, reg, value >> 16), i_type(0x0D, reg, reg, value & 0xFFFF))

    def la(self, reg: int, label: str) -> None:
        at = len(self.words)
        self.emit(0, 0)
        self.fixups.append((at, label, lambda _pc, t, r=reg: i_type(0x0F, 0, r, t >> 16)))
        self.fixups.append((at + 1, label,
                            lambda _pc, t, r=reg: i_type(0x0D, r, r, t & 0xFFFF)))

    def branch(self, name: str, rs: int, rt: int, label: str) -> None:
        self.fixups.append((len(self.words), label, lambda pc, t: encode(
            name, rs=rs, rt=rt, imm=((t - pc - 4) >> 2) & 0xFFFF)))
        self.emit(0)

    def jal(self, label: str) -> None:
        self.fixups.append((len(self.words), label, lambda _pc, t: j_type(0x03, t)))
        self.emit(0)

    def finish(self) -> bytes:
        for at, label, make in self.fixups:
            self.words[at] = make(self.base + 4 * at, self.labels[label])
        return struct.pack(f"<{len(self.words)}I", *self.words)


@dataclass
class _State:
    tlb: list[Entry] = field(default_factory=lambda: [Entry() for _ in range(TLB_ENTRIES)])
    code_index: int | None = None  # the entry mapping the user code, if any


class PrivilegedGenerator:
    """Seeded: the same (seed, index) always gives the same program."""

    def __init__(self, seed: int, blocks: int = 24, supervisor: bool = True,
                 pabits: int = 32) -> None:
        self.seed = seed
        self.blocks = blocks
        self.supervisor = supervisor
        self.pfn_mask = ((1 << (pabits - 12)) - 1) << 6

    def program(self, index: int) -> Program:
        rng = random.Random(f"priv-{self.seed}-{index}")
        b = Builder(rng, self.supervisor, self.pfn_mask)
        b.prologue()
        kinds = [b.tlb_write, b.tlb_probe, b.tlb_read, b.access, b.access, b.access,
                 b.cp0_write, b.user_block, b.user_block, b.interrupts, b.status_change,
                 b.eret_kernel, b.traps, b.clean_store]
        for _ in range(self.blocks):
            rng.choice(kinds)()
        b.asm.place("end")
        b.asm.branch("BEQ", 0, 0, "end")  # the harness stops here
        b.asm.emit(NOP)
        end = b.asm.labels["end"]
        return Program(self.seed, index, b.asm.finish(), b.user.finish(), end,
                       sorted(b.touched), self.supervisor)


class Builder:
    def __init__(self, rng: random.Random, supervisor: bool, pfn_mask: int) -> None:
        self.rng = rng
        self.supervisor = supervisor
        self.pfn_mask = pfn_mask
        self.asm = _Asm(PROGRAM)
        self.user = _Asm(USER_VA)
        self.state = _State()
        self.touched: set[int] = {DATA_PHYS}

    # ---- helpers --------------------------------------------------------------

    def temp(self) -> int:
        return self.rng.choice(TEMPS)

    def status(self, extra: int = 0, bev: bool | None = None) -> int:
        r = self.rng
        value = (r.getrandbits(7) << 8) & ST_IM_NO_TIMER
        if bev if bev is not None else r.random() < 0.1:
            value |= ST_BEV
        if r.random() < 0.2:
            value |= ST_CU0
        return value | extra

    def set_status(self, value: int) -> None:
        t = self.temp()
        self.asm.li(t, value)
        self.asm.emit(mtc0(t, STATUS), EHB)

    def kernel_status(self) -> None:
        """Kernel mode, EXL = ERL = 0, interrupts off (the start of most blocks)."""
        self.set_status(self.status())

    def resume_here(self) -> str:
        label = self.asm.new_label()
        self.asm.la(S7, label)
        return label

    def copy(self, reg: int, sel: int = 0) -> None:
        """Copy a CP0 register into a GPR so the comparison sees it. Cause and Context
        are masked by the next instruction (the harness masks the one step between)."""
        t = self.temp()
        keep = {CAUSE: ~(CAUSE_TIMER | CAUSE_CE), CONTEXT: 0xFF80_0000}.get(reg)
        if keep is None:
            self.asm.emit(mfc0(t, reg, sel))
            return
        self.asm.li(AT, keep)
        self.asm.emit(mfc0(t, reg, sel), r_type(0, t, AT, t, 0, 0x24))

    def entry_lo(self, pa: int, flags: int) -> int:
        return ((pa >> 12) << 6) & self.pfn_mask | flags

    def data_pa(self, size: int) -> int:
        """A physical page base for a page of `size` bytes in the data window."""
        base = max(size, DATA_PHYS)
        pa = base + size * self.rng.randrange(3 if size < 0x100_0000 else 1)
        self.touched.add(pa)
        return pa

    # ---- blocks ---------------------------------------------------------------

    def prologue(self) -> None:
        """Known CP0 state and TLB contents: nothing is inherited from an earlier program."""
        a = self.asm
        self.set_status(0)
        a.li(K0, 0)
        for reg in (CAUSE, WIRED, PAGEMASK, CONTEXT, ENTRYLO0, ENTRYLO1, EPC, ERROREPC):
            a.emit(mtc0(0, reg))
        a.li(K0, EBASES[0])
        a.emit(mtc0(K0, EBASE, 1))
        for i in range(TLB_ENTRIES):  # unmatchable: kseg0 addresses are never mapped
            a.li(K0, UNMATCHABLE + i * 0x2000)
            a.emit(mtc0(K0, ENTRYHI))
            a.li(K0, i)
            a.emit(mtc0(K0, INDEX), EHB, TLBWI)
        for r in range(1, 32):
            a.li(r, self.rng.choice((0, 1, 0xFFFF_FFFF, self.rng.getrandbits(32))))
        a.li(S6, 0)
        a.emit(mtc0(0, ENTRYHI), EHB)

    def write_entry(self, index: int, entry: Entry, hi: int) -> None:
        a, t = self.asm, self.temp()
        for reg, value in ((INDEX, index), (PAGEMASK, mask_of(entry.size)),
                           (ENTRYHI, hi), (ENTRYLO0, entry.lo0), (ENTRYLO1, entry.lo1)):
            a.li(t, value)
            a.emit(mtc0(t, reg))
        a.emit(EHB, TLBWI, EHB)
        self.state.tlb[index] = entry
        if self.state.code_index == index and not entry.user_code:
            self.state.code_index = None

    def random_entry(self, index: int) -> tuple[Entry, int]:
        r = self.rng
        size = r.choice(PAGE_SIZES)
        g = int(r.random() < 0.25)
        flags = [r.randrange(8) << 3 | r.choice((0, 2, 2, 4, 6, 6)) | g for _ in range(2)]
        if r.random() < 0.1:
            flags[1] ^= g  # G0 != G1: the entry is not global (G = G0 AND G1)
        entry = Entry(size, r.choice(ASIDS),
                      self.entry_lo(self.data_pa(size), flags[0]),
                      self.entry_lo(self.data_pa(size), flags[1]))
        return entry, region(index) | entry.asid

    def tlb_write(self) -> None:
        self.kernel_status()
        r = self.rng
        if r.random() < 0.3:  # TLBWR with Wired = 15: Random can only be 15
            index = TLB_ENTRIES - 1
            # QEMU keeps the entry a TLBWR replaces as a hidden extra that still
            # translates (docs/qemu-cosim.md): replace an unmatchable one
            self.write_entry(index, Entry(), UNMATCHABLE + index * 0x2000)
            entry, hi = self.random_entry(index)
            a, t = self.asm, self.temp()
            a.li(t, TLB_ENTRIES - 1)
            a.emit(mtc0(t, WIRED))
            for reg, value in ((PAGEMASK, mask_of(entry.size)), (ENTRYHI, hi),
                               (ENTRYLO0, entry.lo0), (ENTRYLO1, entry.lo1)):
                a.li(t, value)
                a.emit(mtc0(t, reg))
            a.emit(EHB, TLBWR, EHB)
            self.state.tlb[index] = entry
            if self.state.code_index == index:
                self.state.code_index = None
        else:
            index = r.randrange(TLB_ENTRIES)
            entry, hi = self.random_entry(index)
            self.write_entry(index, entry, hi)
        self.copy(INDEX)
        self.copy(WIRED)

    def tlb_probe(self) -> None:
        self.kernel_status()
        a, r = self.asm, self.rng
        index = r.randrange(TLB_ENTRIES)
        e = self.state.tlb[index]
        va = USER_VA if e.user_code else region(index) + r.choice((0, e.size, 2 * e.size))
        asid = e.asid if r.random() < 0.6 else r.choice(ASIDS)
        t = self.temp()
        a.li(t, va | asid)
        a.emit(mtc0(t, ENTRYHI), EHB, TLBP, EHB)
        # Index after a miss: P is set, the rest is UNPREDICTABLE (PRA, TLBP)
        t = self.temp()
        skip = a.new_label()
        a.emit(mfc0(t, INDEX))
        a.branch("BGEZ", t, 0, skip)
        a.emit(NOP)
        a.emit(i_type(0x0F, 0, t, 0x8000))
        a.place(skip)

    def tlb_read(self) -> None:
        self.kernel_status()
        a, t = self.asm, self.temp()
        a.li(t, self.rng.randrange(TLB_ENTRIES))
        a.emit(mtc0(t, INDEX), EHB, TLBR, EHB)
        for reg in (ENTRYHI, ENTRYLO0, ENTRYLO1, PAGEMASK):
            self.copy(reg)

    def cp0_write(self) -> None:
        """Random values into writable CP0 registers, read back."""
        self.kernel_status()
        a, r = self.asm, self.rng
        for _ in range(r.randrange(1, 5)):
            reg, sel, value = r.choice((
                (INDEX, 0, r.getrandbits(32) & 0x8000_000F),
                (WIRED, 0, r.randrange(TLB_ENTRIES)),
                (PAGEMASK, 0, mask_of(r.choice(PAGE_SIZES))),
                (ENTRYHI, 0, r.getrandbits(32)),
                (ENTRYLO0, 0, r.getrandbits(32) & (self.pfn_mask | 0x3F)),
                (ENTRYLO1, 0, r.getrandbits(32) & (self.pfn_mask | 0x3F)),
                (CONTEXT, 0, r.getrandbits(32)),
                (EPC, 0, r.getrandbits(32)),
                (ERROREPC, 0, r.getrandbits(32)),
                (EBASE, 1, r.choice(EBASES) | r.getrandbits(12) | r.getrandbits(2) << 30),
                (CAUSE, 0, r.getrandbits(32) & (1 << 23 | 1 << 27)),  # IV, DC
            ))
            t = self.temp()
            a.li(t, value)
            a.emit(mtc0(t, reg, sel), EHB)
            self.copy(reg, sel)
            if reg == EBASE:
                # EBase's base bits must name one of the bases with handlers
                a.li(t, EBASES[0] if (value & 0x3FFF_F000) == 0 else EBASES[1])
                a.emit(mtc0(t, EBASE, 1), EHB)

    def address(self, user: bool) -> tuple[int, bool]:
        """An address to access and whether it is word-aligned by construction."""
        r = self.rng
        off = r.randrange(0, 0x1000, 4)
        choice = r.random()
        if choice < 0.15:
            return (KSEG0_DATA if r.random() < 0.7 else KSEG0_DATA | 0x2000_0000) + off, True
        if choice < 0.2 and not user:
            return 0xC000_0000 + off, True  # ksseg: mapped, never in our TLB: refill
        index = r.randrange(TLB_ENTRIES)
        e = self.state.tlb[index]
        if e.user_code:
            return USER_VA + off, True
        return region(index) + r.choice((0, e.size, e.size, 2 * e.size)) + off, True

    def memory_op(self, asm: _Asm, user: bool) -> None:
        """One load or store through ADDR, maybe misaligned, maybe in a delay slot."""
        r = self.rng
        va, _ = self.address(user)
        asm.li(ADDR, va)
        # no SC: QEMU skips its address checks when no LL matches (docs/qemu-cosim.md)
        name = r.choice(("LW", "LW", "SW", "SW", "LH", "SH", "LB", "SB", "LBU", "LHU",
                         "LWL", "SWR", "LL"))
        offset = 0
        if r.random() < 0.15 and name in ("LW", "SW", "LH", "SH", "LHU", "LL"):
            offset = r.choice((1, 2, 3)) if name[1] in "WL" else 1
        word = encode(name, rs=ADDR, rt=self.temp(), imm=offset)
        self.in_slot(asm, word)

    def in_slot(self, asm: _Asm, word: int) -> None:
        """`word` alone, or in a delay slot (taken, not taken, JAL, nullified, JR)."""
        r = self.rng
        after = asm.new_label()
        how = r.choice(("plain", "plain", "taken", "untaken", "jal", "likely", "jr"))
        if how == "plain":
            asm.emit(word)
        elif how == "taken":
            asm.branch("BEQ", 0, 0, after)
            asm.emit(word, NOP)
        elif how == "untaken":  # not BNE $0, $0: QEMU decodes that as a NOP (no delay slot)
            asm.li(AT, 1)
            asm.branch("BEQ", AT, 0, after)
            asm.emit(word)
        elif how == "jal":
            asm.jal(after)
            asm.emit(word, NOP)
        elif how == "likely":
            asm.li(AT, 1)
            asm.branch("BEQL", AT, 0, after)  # not taken: the slot is nullified
            asm.emit(word)
        else:
            asm.la(JUMP, after)
            asm.emit(r_type(0, JUMP, 0, 0, 0, 0x08), word, NOP)
        asm.place(after)

    def access(self) -> None:
        self.kernel_status() if self.rng.random() < 0.8 else self.set_status(
            self.status(ST_EXL))
        resume = self.resume_here()
        t = self.temp()
        self.asm.li(t, self.rng.choice(ASIDS))
        self.asm.emit(mtc0(t, ENTRYHI), EHB)
        for _ in range(self.rng.randrange(1, 4)):
            self.memory_op(self.asm, user=False)
        self.asm.place(resume)

    def clean_store(self) -> None:
        """A store to a valid page whose D bit is clear: TLB Modified."""
        self.kernel_status()
        r = self.rng
        index = r.randrange(TLB_ENTRIES)
        entry, hi = self.random_entry(index)
        entry.lo0 = entry.lo0 & ~0b110 | 0b010
        entry.lo1 = entry.lo1 & ~0b110 | 0b010
        self.write_entry(index, entry, hi)
        resume = self.resume_here()
        self.asm.li(ADDR, region(index) + r.choice((0, entry.size)) + r.randrange(0, 0x1000, 4))
        self.in_slot(self.asm, encode(r.choice(("SW", "SH", "SB")), rs=ADDR, rt=self.temp()))
        self.asm.place(resume)

    def ensure_user_code(self) -> None:
        if self.state.code_index is not None:
            return
        index = self.rng.randrange(TLB_ENTRIES)
        code = Entry(USER_PAGE, 0, self.entry_lo(USER_PHYS, 0b011 << 3 | 0b011),
                     self.entry_lo(USER_PHYS + 0x1_0000, 1), user_code=True)  # odd page: V = 0
        self.write_entry(index, code, USER_VA)
        self.state.code_index = index

    def user_block(self) -> None:
        """ERET into user (or supervisor) mode at generated code; the first exception returns."""
        self.kernel_status()
        self.ensure_user_code()
        a, u, r = self.asm, self.user, self.rng
        start = u.here()
        if start > USER_VA + 0xF000:
            return
        resume = self.resume_here()
        a.li(K0, start)
        a.emit(mtc0(K0, EPC))
        mode = ST_SM if self.supervisor and r.random() < 0.5 else ST_UM
        status = self.status(mode | ST_EXL | (ST_IE if r.random() < 0.3 else 0), bev=False)
        self.set_status(status)
        a.emit(ERET, NOP)
        for _ in range(r.randrange(1, 6)):
            choice = r.random()
            if choice < 0.45:
                self.memory_op(u, user=mode == ST_UM)  # supervisor may reach sseg
            elif choice < 0.6:
                u.emit(encode("ADDU", rs=self.temp(), rt=self.temp(), rd=self.temp()))
            elif choice < 0.7:
                # not EntryHi: its VPN2 may still be what an address error left
                u.emit(mfc0(self.temp(), r.choice((STATUS, EPC, INDEX, WIRED))))
            elif choice < 0.75:
                u.emit(mtc0(self.temp(), ENTRYHI))
            elif choice < 0.8:
                # ERET only while CU0 is clear (it traps): with CU0 it would loop to EPC
                u.emit(r.choice((TLBP, EI, DI) if status & ST_CU0 else (ERET, TLBP, EI, DI)))
            elif choice < 0.9:  # jr to where user mode may not fetch: address error
                u.li(JUMP, r.choice((KSEG0_DATA, PROGRAM, start | 2, 0xC000_0000)))
                u.emit(r_type(0, JUMP, 0, 0, 0, 0x08), NOP)
            else:
                u.emit(encode("SYSCALL"))
        u.emit(encode("SYSCALL"), NOP)
        a.place(resume)

    def interrupts(self) -> None:
        """Software interrupts raised through Cause.IP1..0, masked or not."""
        a, r = self.asm, self.rng
        resume = self.resume_here()
        self.set_status(self.status(ST_IE if r.random() < 0.7 else 0, bev=False)
                        | (ST_IM_SOFT if r.random() < 0.5 else 0))
        t = self.temp()
        a.li(t, r.randrange(4) << 8 | (r.random() < 0.5) << 23)  # IP1..0 and IV
        a.emit(mtc0(t, CAUSE))
        for _ in range(r.randrange(1, 4)):
            choice = r.random()
            if choice < 0.3:
                a.emit(r.choice((EI, DI)))
            elif choice < 0.5:
                self.copy(CAUSE)
            else:
                a.emit(encode("ADDIU", rs=self.temp(), rt=self.temp(), imm=r.getrandbits(16)))
        a.emit(EHB)
        self.copy(STATUS)
        a.place(resume)
        a.emit(mtc0(0, CAUSE))

    def status_change(self) -> None:
        """BEV, EXL and ERL moved, then an access that may trap through the new vectors."""
        r = self.rng
        extra = r.choice((0, ST_EXL, ST_ERL, ST_EXL | ST_ERL))
        resume = self.resume_here()
        self.set_status(self.status(extra, bev=r.random() < 0.5))
        self.copy(STATUS)
        if extra & ST_ERL:  # kuseg is unmapped under ERL: stay in kseg0/kseg2
            self.asm.li(ADDR, r.choice((KSEG0_DATA + 1, 0xC000_0000, KSEG0_DATA + 4)))
            self.in_slot(self.asm, encode(r.choice(("LW", "SW")), rs=ADDR, rt=self.temp()))
        else:
            self.memory_op(self.asm, user=False)
        self.asm.place(resume)

    def eret_kernel(self) -> None:
        """ERET in kernel mode: to ErrorEPC when ERL is set, else to EPC (the other one
        holds a later label, so a wrong choice shows as a different pc)."""
        a, r = self.asm, self.rng
        target, wrong = a.new_label(), a.new_label()
        extra = r.choice((ST_EXL, ST_ERL, ST_EXL | ST_ERL))
        a.la(K0, target)
        a.la(K1, wrong)
        right_reg, wrong_reg = (ERROREPC, EPC) if extra & ST_ERL else (EPC, ERROREPC)
        a.emit(mtc0(K0, right_reg), mtc0(K1, wrong_reg))
        self.set_status(self.status(extra, bev=False))
        resume = self.resume_here()
        a.emit(ERET, encode("ADDIU", rt=self.temp(), imm=7))  # ERET has no delay slot
        a.place(target)
        self.copy(STATUS)
        a.place(wrong)
        a.place(resume)

    def traps(self) -> None:
        """SYSCALL, BREAK, a taken TEQ, RI and CpU, plain or in a delay slot."""
        self.kernel_status()
        resume = self.resume_here()
        word = self.rng.choice((encode("SYSCALL"), encode("BREAK"), encode("TEQ"),
                                0x0000_0028, 0x4400_0000))  # RI, COP1 (CpU)
        self.in_slot(self.asm, word)
        self.asm.place(resume)
