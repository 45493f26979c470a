"""Seeded generator of random MIPS32r2 little-endian user-mode integer programs.

The differential test (test_diff_unicorn.py, diffrun.py) runs each program on our
core and on unicorn and compares them instruction by instruction. Programs are
pure functions of (seed, index), so a failure reproduces from those two numbers.

Shape of a program:
- the host sets every GPR, HI and LO before the first instruction (interesting
  values, random values, addresses inside the data buffer);
- code at CODE_VA, data buffer at DATA_VA; both in kseg0, because unicorn runs
  in kernel mode and our core reaches kuseg only through the TLB;
- $28 and $29 hold fixed addresses inside the data buffer and nothing writes
  them, so a load/store is base + offset with a known address: aligned
  normally, misaligned on purpose now and then (address-error exceptions);
  other loads/stores use a base set just before with LUI/ORI, often also as rt;
- $30 is the loop counter of the small bounded loops; only the loop writes it;
- branches and jumps go forward only (except a loop's closing BNE), so every
  program ends; delay slots hold random single non-control instructions;
- the program ends at `end_va`, where a BREAK stands as a safety net; the
  harness stops when the pc reaches it.

Instructions whose result MIPS32 calls UNPREDICTABLE are never generated
(CLZ/CLO with rt != rd, EXT/INS with pos + size > 32, JALR with rd == rs,
BxxAL with rs == $31, SC without a matching LL or with a memory access between
them, branches in delay slots, PREF hints that may write memory), except where
our core takes unicorn's answer as the rule: DIV/DIVU by zero and
0x80000000 / -1 (LO = dividend, HI = 0), MUL (HI/LO unchanged) and MTHI/MTLO
after a multiply (the other half keeps its value). A misaligned SC is not
generated either: the architecture says AdES, but QEMU checks SC's alignment
only when the address matches LL's (see unicorn_ref.py).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

CODE_VA = 0x8010_0000
DATA_VA = 0x8020_0000
DATA_SIZE = 0x1000
PAGE = 0x1000
KSEG0 = 0x8000_0000

BASE_REGS = (28, 29)
BASE_VALUES = {28: DATA_VA + 0x400, 29: DATA_VA + 0xC00}
LOOP_REG = 30
RESERVED = frozenset((*BASE_REGS, LOOP_REG))
WRITABLE = tuple(r for r in range(1, 32) if r not in RESERVED)

MASK32 = 0xFFFF_FFFF

# Values that sit on the edges of signed/unsigned arithmetic.
INTERESTING = (
    0, 1, 2, 31, 32, 33, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFF_FFFE, 0x7FFF_FFFF,
    0x8000_0000, 0x8000_0001, 0xFFFF_8000, 0xFFFF_FFFE, 0xFFFF_FFFF, 0x5555_5555,
    0xAAAA_AAAA, 0x0000_FF00, 0x00FF_0000, 0x8000_8000,
)

# Every user-mode instruction the suite must execute at least once.
REQUIRED_MNEMONICS = frozenset("""
    ADD ADDU ADDI ADDIU SUB SUBU AND ANDI OR ORI XOR XORI NOR LUI SLT SLTU SLTI SLTIU
    SLL SRL SRA SLLV SRLV SRAV ROTR ROTRV MULT MULTU DIV DIVU MFHI MFLO MTHI MTLO MUL
    MADD MADDU MSUB MSUBU CLZ CLO MOVN MOVZ SEB SEH WSBH EXT INS
    LB LBU LH LHU LW LWL LWR SB SH SW SWL SWR LL SC
    BEQ BNE BLEZ BGTZ BLTZ BGEZ BLTZAL BGEZAL BEQL BNEL BLEZL BGTZL BLTZL BGEZL
    BLTZALL BGEZALL J JAL JR JALR
    TEQ TNE TGE TGEU TLT TLTU TEQI TNEI TGEI TGEIU TLTI TLTIU
    SYNC PREF SSNOP EHB NOP
""".split())


# --- encoders: one per instruction format ------------------------------------

def r_type(opcode: int, rs: int, rt: int, rd: int, sa: int, funct: int) -> int:
    """Register format: opcode | rs | rt | rd | sa | funct (also SPECIAL2/3)."""
    return (
        (opcode & 0x3F) << 26 | (rs & 31) << 21 | (rt & 31) << 16
        | (rd & 31) << 11 | (sa & 31) << 6 | (funct & 0x3F)
    )


def i_type(opcode: int, rs: int, rt: int, imm: int) -> int:
    """Immediate format: opcode | rs | rt | imm16 (REGIMM puts its sub-op in rt)."""
    return (opcode & 0x3F) << 26 | (rs & 31) << 21 | (rt & 31) << 16 | (imm & 0xFFFF)


def j_type(opcode: int, target_va: int) -> int:
    """Jump format: opcode | instr_index (the word index within the 256 MiB region)."""
    return (opcode & 0x3F) << 26 | ((target_va >> 2) & 0x03FF_FFFF)


# Opcode and function numbers, from MIPS32 Vol. II (MD00086) Table A.2 - A.6.
SPECIAL, REGIMM, SPECIAL2, SPECIAL3 = 0x00, 0x01, 0x1C, 0x1F

SPECIAL_FUNCT = {
    "SLL": 0x00, "SRL": 0x02, "SRA": 0x03, "SLLV": 0x04, "SRLV": 0x06, "SRAV": 0x07,
    "JR": 0x08, "JALR": 0x09, "MOVZ": 0x0A, "MOVN": 0x0B, "SYSCALL": 0x0C, "BREAK": 0x0D,
    "SYNC": 0x0F, "MFHI": 0x10, "MTHI": 0x11, "MFLO": 0x12, "MTLO": 0x13,
    "MULT": 0x18, "MULTU": 0x19, "DIV": 0x1A, "DIVU": 0x1B,
    "ADD": 0x20, "ADDU": 0x21, "SUB": 0x22, "SUBU": 0x23, "AND": 0x24, "OR": 0x25,
    "XOR": 0x26, "NOR": 0x27, "SLT": 0x2A, "SLTU": 0x2B,
    "TGE": 0x30, "TGEU": 0x31, "TLT": 0x32, "TLTU": 0x33, "TEQ": 0x34, "TNE": 0x36,
}
SPECIAL2_FUNCT = {
    "MADD": 0x00, "MADDU": 0x01, "MUL": 0x02, "MSUB": 0x04, "MSUBU": 0x05,
    "CLZ": 0x20, "CLO": 0x21,
}
REGIMM_RT = {
    "BLTZ": 0x00, "BGEZ": 0x01, "BLTZL": 0x02, "BGEZL": 0x03,
    "TGEI": 0x08, "TGEIU": 0x09, "TLTI": 0x0A, "TLTIU": 0x0B, "TEQI": 0x0C, "TNEI": 0x0E,
    "BLTZAL": 0x10, "BGEZAL": 0x11, "BLTZALL": 0x12, "BGEZALL": 0x13,
}
OPCODE = {
    "J": 0x02, "JAL": 0x03, "BEQ": 0x04, "BNE": 0x05, "BLEZ": 0x06, "BGTZ": 0x07,
    "ADDI": 0x08, "ADDIU": 0x09, "SLTI": 0x0A, "SLTIU": 0x0B, "ANDI": 0x0C, "ORI": 0x0D,
    "XORI": 0x0E, "LUI": 0x0F, "BEQL": 0x14, "BNEL": 0x15, "BLEZL": 0x16, "BGTZL": 0x17,
    "LB": 0x20, "LH": 0x21, "LWL": 0x22, "LW": 0x23, "LBU": 0x24, "LHU": 0x25, "LWR": 0x26,
    "SB": 0x28, "SH": 0x29, "SWL": 0x2A, "SW": 0x2B, "SWR": 0x2E,
    "LL": 0x30, "PREF": 0x33, "SC": 0x38,
}
BSHFL_SA = {"WSBH": 0x02, "SEB": 0x10, "SEH": 0x18}

LOADS = ("LB", "LBU", "LH", "LHU", "LW", "LWL", "LWR")
STORES = ("SB", "SH", "SW", "SWL", "SWR")
ACCESS_SIZE = {
    "LB": 1, "LBU": 1, "SB": 1, "LH": 2, "LHU": 2, "SH": 2,
    "LW": 4, "SW": 4, "LL": 4, "SC": 4, "LWL": 1, "LWR": 1, "SWL": 1, "SWR": 1,
}
# Encodings that MIPS32r2 leaves reserved and unicorn decodes as RI: SPECIAL funct
# 0x28/0x29 and opcode 0x3B.
RESERVED_WORDS = (0x0000_0028, 0x0000_0029, 0xEC00_0000)


def encode(name: str, rs: int = 0, rt: int = 0, rd: int = 0, sa: int = 0, imm: int = 0) -> int:
    """Encode a non-jump instruction by mnemonic (fields as in the manual)."""
    if name in SPECIAL_FUNCT:
        return r_type(SPECIAL, rs, rt, rd, sa, SPECIAL_FUNCT[name])
    if name in SPECIAL2_FUNCT:
        return r_type(SPECIAL2, rs, rt, rd, sa, SPECIAL2_FUNCT[name])
    if name in REGIMM_RT:
        return i_type(REGIMM, rs, REGIMM_RT[name], imm)
    if name in OPCODE:
        return i_type(OPCODE[name], rs, rt, imm)
    raise KeyError(name)


def rotr(rd: int, rt: int, sa: int) -> int:
    return r_type(SPECIAL, 1, rt, rd, sa, SPECIAL_FUNCT["SRL"])  # SRL with rs = 1


def rotrv(rd: int, rt: int, rs: int) -> int:
    return r_type(SPECIAL, rs, rt, rd, 1, SPECIAL_FUNCT["SRLV"])  # SRLV with sa = 1


def bshfl(name: str, rd: int, rt: int) -> int:
    return r_type(SPECIAL3, 0, rt, rd, BSHFL_SA[name], 0x20)


def ext(rt: int, rs: int, pos: int, size: int) -> int:
    return r_type(SPECIAL3, rs, rt, size - 1, pos, 0x00)


def ins(rt: int, rs: int, pos: int, size: int) -> int:
    return r_type(SPECIAL3, rs, rt, pos + size - 1, pos, 0x04)


def to_bytes(words: list[int]) -> bytes:
    return struct.pack(f"<{len(words)}I", *words)


def s32(value: int) -> int:
    value &= MASK32
    return value - (1 << 32) if value & 0x8000_0000 else value


# --- programs ------------------------------------------------------------------

@dataclass(frozen=True)
class Program:
    """One generated program and everything needed to run it on either side."""

    seed: int
    index: int
    words: tuple[int, ...]
    mnemonics: tuple[str, ...]  # the generator's name for each word
    gpr: tuple[int, ...]        # initial $0..$31 ($0 is 0)
    hi: int
    lo: int
    data: bytes                 # initial contents of the data buffer
    code_va: int = CODE_VA
    data_va: int = DATA_VA

    @property
    def end_va(self) -> int:
        """The address of the end marker: reaching it ends the program."""
        return self.code_va + 4 * (len(self.words) - 1)

    @property
    def code(self) -> bytes:
        return to_bytes(list(self.words))

    def mnemonic_at(self, va: int) -> str:
        return self.mnemonics[(va - self.code_va) // 4]


Fixup = Callable[[dict[int, int], int], int]  # (label addresses, own address) -> word


@dataclass
class _Asm:
    """Collects words with their mnemonics; forward targets are labels fixed up at the end."""

    items: list[tuple[str, int | Fixup]] = field(default_factory=list)
    placed: dict[int, int] = field(default_factory=dict)  # label -> word index
    next_label: int = 0

    def emit(self, name: str, word: int | Fixup) -> None:
        self.items.append((name, word))

    def new_label(self) -> int:
        self.next_label += 1
        return self.next_label

    def place(self, label: int) -> None:
        self.placed[label] = len(self.items)

    def link(self, base: int) -> tuple[tuple[int, ...], tuple[str, ...]]:
        addrs = {label: base + 4 * index for label, index in self.placed.items()}
        words = tuple(
            w if isinstance(w, int) else w(addrs, base + 4 * i) & MASK32
            for i, (_, w) in enumerate(self.items)
        )
        return words, tuple(name for name, _ in self.items)


def _branch_fixup(name: str, rs: int, rt: int, label: int) -> Fixup:
    def fix(addrs: dict[int, int], pc: int) -> int:
        offset = (addrs[label] - (pc + 4)) >> 2
        assert -0x8000 <= offset <= 0x7FFF, "branch out of range"
        return encode(name, rs=rs, rt=rt, imm=offset)
    return fix


def _jump_fixup(name: str, label: int) -> Fixup:
    return lambda addrs, pc: j_type(OPCODE[name], addrs[label])


def _hi_fixup(reg: int, label: int, skew: int) -> Fixup:
    return lambda addrs, pc: encode("LUI", rt=reg, imm=(addrs[label] + skew) >> 16)


def _lo_fixup(reg: int, label: int, skew: int) -> Fixup:
    return lambda addrs, pc: encode("ORI", rs=reg, rt=reg, imm=(addrs[label] + skew))


class ProgramGenerator:
    """Builds programs of roughly `length` static instructions from (seed, index)."""

    def __init__(self, seed: int, length: int = 300, straddle: bool = False) -> None:
        self.seed = seed
        self.length = length
        # Each program placed so that one of its branches or jumps has its delay slot
        # on the first word of a page: the code runs across a page boundary.
        self.straddle = straddle

    def program(self, index: int) -> Program:
        rng = random.Random(f"progen:{self.seed}:{index}")
        builder = _Builder(rng)
        builder.region(self.length, allow_loops=True)
        asm = builder.asm
        asm.emit("BREAK", encode("BREAK"))  # end marker
        base = CODE_VA
        if self.straddle:
            base = _straddling_base(asm, rng)
        words, names = asm.link(base)
        gpr = [0] + [builder.initial_value(r) for r in range(1, 32)]
        return Program(
            code_va=base,
            seed=self.seed,
            index=index,
            words=words,
            mnemonics=names,
            gpr=tuple(gpr),
            hi=builder.random_value(),
            lo=builder.random_value(),
            data=rng.randbytes(DATA_SIZE),
        )

    def programs(self, count: int, start: int = 0):
        for index in range(start, start + count):
            yield self.program(index)


BRANCHES = frozenset(n for n in (*SPECIAL_FUNCT, *REGIMM_RT, *OPCODE)
                     if n.startswith(("B", "J")) and n != "BREAK")


def _straddling_base(asm: _Asm, rng: random.Random) -> int:
    """A base at or above CODE_VA that puts a random branch's delay slot first on a page."""
    at = [i for i, (name, _) in enumerate(asm.items) if name in BRANCHES]
    i = rng.choice(at) if at else 0
    boundary = CODE_VA + PAGE * (1 + (4 * i) // PAGE)
    return boundary - 4 * (i + 1)


class _Builder:
    """The random choices behind one program."""

    # How often a top-level unit is a branch, a jump, a loop, a multi-word idiom.
    UNIT_WEIGHTS = {
        "single": 60, "branch": 10, "jump": 3, "loop": 2, "guarded": 6, "known_trap": 3,
        "known_div": 2, "unaligned_pair": 3, "llsc": 2, "computed_base": 2, "fault": 0.15,
    }

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.asm = _Asm()
        self.in_loop = False
        self._requests: list[list[tuple[int, int, int]]] = []
        self._units = list(self.UNIT_WEIGHTS)
        self._weights = list(self.UNIT_WEIGHTS.values())

    # values and registers

    def random_value(self) -> int:
        roll = self.rng.random()
        if roll < 0.45:
            return self.rng.choice(INTERESTING)
        if roll < 0.8:
            return self.rng.getrandbits(32)
        if roll < 0.9:
            return DATA_VA + self.rng.randrange(DATA_SIZE)
        return self.rng.randrange(-64, 64) & MASK32

    def initial_value(self, reg: int) -> int:
        if reg in BASE_VALUES:
            return BASE_VALUES[reg]
        if reg == LOOP_REG:
            return 0
        return self.random_value()

    def dest(self) -> int:
        # $0 as a destination checks that writes to it are dropped.
        return 0 if self.rng.random() < 0.03 else self.rng.choice(WRITABLE)

    def src(self) -> int:
        roll = self.rng.random()
        if roll < 0.05:
            return 0
        if roll < 0.1:
            return self.rng.choice((*BASE_REGS, LOOP_REG))
        return self.rng.choice(WRITABLE)

    def temps(self, count: int) -> list[int]:
        return self.rng.sample(WRITABLE, count)

    def emit(self, name: str, word: int | Fixup) -> None:
        self.asm.emit(name, word)

    def load_const(self, reg: int, value: int) -> None:
        """LUI + ORI, as an assembler's `li` does for a 32-bit constant."""
        self.emit("LUI", encode("LUI", rt=reg, imm=value >> 16))
        self.emit("ORI", encode("ORI", rs=reg, rt=reg, imm=value))

    # regions and units

    def region(self, length: int, allow_loops: bool) -> None:
        """Units up to `length` words; branches inside go to later units or the end.

        Each unit starts at a label, and a forward branch names "n units ahead"
        as a label alias that is pinned once the region's units are all known.
        """
        self._requests.append([])
        start = len(self.asm.items)
        labels: list[int] = []
        while len(self.asm.items) - start < length:
            label = self.asm.new_label()
            self.asm.place(label)
            labels.append(label)
            self.unit(labels, allow_loops)
        end = self.asm.new_label()
        self.asm.place(end)
        labels.append(end)
        for alias, unit_index, distance in self._requests.pop():
            target = labels[min(unit_index + distance, len(labels) - 1)]
            self.asm.placed[alias] = self.asm.placed[target]

    def forward(self, labels: list[int]) -> int:
        """A label for the start of a later unit of the current region (or its end)."""
        alias = self.asm.new_label()
        distance = 1 + min(int(self.rng.expovariate(0.5)), 12)
        self._requests[-1].append((alias, len(labels) - 1, distance))
        return alias

    def unit(self, labels: list[int], allow_loops: bool) -> None:
        kind = self.rng.choices(self._units, self._weights)[0]
        if kind == "loop" and not allow_loops:
            kind = "single"
        getattr(self, "unit_" + kind)(labels)

    def unit_single(self, labels: list[int]) -> None:
        self.single(in_delay_slot=False)

    def unit_branch(self, labels: list[int]) -> None:
        rng = self.rng
        target = self.forward(labels)
        name = rng.choice((
            "BEQ", "BNE", "BLEZ", "BGTZ", "BLTZ", "BGEZ", "BLTZAL", "BGEZAL",
            "BEQL", "BNEL", "BLEZL", "BGTZL", "BLTZL", "BGEZL", "BLTZALL", "BGEZALL",
        ))
        rs = self.src()
        rt = 0
        if name in ("BEQ", "BNE", "BEQL", "BNEL"):
            # Equal registers and $0 make "taken" frequent enough for both paths.
            rt = rs if rng.random() < 0.2 else self.src()
        if name.startswith(("BLTZAL", "BGEZAL")):
            while rs == 31:  # rs = $31 is UNPREDICTABLE for the linking branches
                rs = self.src()
            if name == "BGEZAL" and rng.random() < 0.2:
                rs = 0  # BAL
        self.emit(name, _branch_fixup(name, rs, rt, target))
        self.single(in_delay_slot=True)

    def unit_jump(self, labels: list[int]) -> None:
        rng = self.rng
        name = rng.choice(("J", "JAL", "JR", "JALR"))
        target = self.forward(labels)
        if name in ("J", "JAL"):
            self.emit(name, _jump_fixup(name, target))
        else:
            reg = rng.choice(WRITABLE)
            self.emit("LUI", _hi_fixup(reg, target, 0))
            self.emit("ORI", _lo_fixup(reg, target, 0))
            if name == "JR":
                self.emit("JR", encode("JR", rs=reg))
            else:
                link = 31 if rng.random() < 0.7 else rng.choice(WRITABLE)
                while link == reg:  # rd == rs is UNPREDICTABLE
                    link = rng.choice(WRITABLE)
                self.emit("JALR", encode("JALR", rs=reg, rd=link))
        self.single(in_delay_slot=True)

    def unit_loop(self, labels: list[int]) -> None:
        """A loop of 2..5 iterations; only it writes $30, and nothing jumps into it."""
        if self.in_loop:
            self.single(in_delay_slot=False)
            return
        self.in_loop = True
        self.emit("ADDIU", encode("ADDIU", rs=0, rt=LOOP_REG, imm=self.rng.randint(2, 5)))
        top = self.asm.new_label()
        self.asm.place(top)
        self.region(self.rng.randint(4, 24), allow_loops=False)
        self.emit("ADDIU", encode("ADDIU", rs=LOOP_REG, rt=LOOP_REG, imm=-1))
        self.emit("BNE", _branch_fixup("BNE", LOOP_REG, 0, top))
        self.single(in_delay_slot=True)
        self.in_loop = False

    def unit_guarded(self, labels: list[int]) -> None:
        """ADD/ADDI/SUB on halved operands, so they cannot overflow."""
        rng = self.rng
        name = rng.choice(("ADD", "ADDI", "SUB"))
        a, b = self.temps(2)
        self.emit("SRA", encode("SRA", rt=self.src(), rd=a, sa=rng.randint(1, 3)))
        if name == "ADDI":
            self.emit("ADDI", encode("ADDI", rs=a, rt=self.dest(), imm=rng.getrandbits(16)))
            return
        self.emit("SRA", encode("SRA", rt=self.src(), rd=b, sa=rng.randint(1, 3)))
        self.emit(name, encode(name, rs=a, rt=b, rd=self.dest()))

    def unit_known_trap(self, labels: list[int]) -> None:
        """A trap on values the generator knows, so it fires only when chosen to."""
        rng = self.rng
        name = rng.choice(("TEQ", "TNE", "TGE", "TGEU", "TLT", "TLTU",
                           "TEQI", "TNEI", "TGEI", "TGEIU", "TLTI", "TLTIU"))
        fire = rng.random() < 0.03
        for _ in range(100):
            a = self.random_value()
            if name.endswith(("I", "IU")):
                b = rng.choice((a & 0xFFFF, rng.getrandbits(16), 0, 0xFFFF, 0x8000, 0x7FFF))
                b_value = (b - 0x10000 if b & 0x8000 else b) & MASK32  # sign-extended
            else:
                b_value = rng.choice((a, self.random_value(), (a + 1) & MASK32))
                b = b_value
            if _trap_fires(name, a, b_value) == fire:
                break
        else:
            return  # no operands give the wanted outcome; skip the unit
        ra, rb = self.temps(2)
        self.load_const(ra, a)
        if name.endswith(("I", "IU")):
            self.emit(name, encode(name, rs=ra, imm=b))
        else:
            self.load_const(rb, b)
            self.emit(name, encode(name, rs=ra, rt=rb))

    def unit_known_div(self, labels: list[int]) -> None:
        """DIV/DIVU by zero and INT_MIN / -1 (results chosen by QEMU: see module doc)."""
        rng = self.rng
        a, b = self.temps(2)
        self.load_const(a, rng.choice((0x8000_0000, self.random_value())))
        self.load_const(b, rng.choice((0, 0xFFFF_FFFF, 0)))
        self.emit_hilo_op(rng.choice(("DIV", "DIVU")), a, b)

    def emit_hilo_op(self, name: str, rs: int, rt: int) -> None:
        self.emit(name, encode(name, rs=rs, rt=rt))
        # Read both halves back so the next MTHI/MTLO is not UNPREDICTABLE for the other.
        self.emit("MFHI", encode("MFHI", rd=self.dest()))
        self.emit("MFLO", encode("MFLO", rd=self.dest()))

    def unit_unaligned_pair(self, labels: list[int]) -> None:
        """The assembler's ulw/usw idioms: LWL+LWR or SWL+SWR on one unaligned word."""
        rng = self.rng
        base = rng.choice(BASE_REGS)
        offset = self.offset(base, 4, aligned=False)
        if rng.random() < 0.5:
            rt = self.dest()
            self.emit("LWL", encode("LWL", rs=base, rt=rt, imm=offset + 3))
            self.emit("LWR", encode("LWR", rs=base, rt=rt, imm=offset))
        else:
            rt = self.src()
            self.emit("SWL", encode("SWL", rs=base, rt=rt, imm=offset + 3))
            self.emit("SWR", encode("SWR", rs=base, rt=rt, imm=offset))

    def unit_computed_base(self, labels: list[int]) -> None:
        """A load or store through a base set just before with LUI/ORI; often rt is the base."""
        rng = self.rng
        name = rng.choice((*LOADS, *STORES, "LL"))
        size = ACCESS_SIZE[name]
        target = (DATA_VA + rng.randrange(16, DATA_SIZE - 16)) & ~(size - 1)
        offset = rng.randint(-16, 16)
        base = rng.choice(WRITABLE)
        self.load_const(base, target - offset)
        if rng.random() < 0.5:
            rt = base  # lw $t0, 0($t0) and friends
        else:
            rt = self.src() if name in STORES else self.dest()
        self.emit(name, encode(name, rs=base, rt=rt, imm=offset))

    def unit_llsc(self, labels: list[int]) -> None:
        """LL, a few register-only instructions, SC to the same word: SC succeeds."""
        rng = self.rng
        base = rng.choice(BASE_REGS)
        offset = self.offset(base, 4, aligned=rng.random() > 0.005)
        self.emit("LL", encode("LL", rs=base, rt=self.dest(), imm=offset))
        for _ in range(rng.randint(0, 3)):
            self.alu()
        self.emit("SC", encode("SC", rs=base, rt=self.dest(), imm=offset))

    def unit_fault(self, labels: list[int]) -> None:
        """An instruction that certainly raises an exception."""
        rng = self.rng
        kind = rng.choice(("ov", "trap", "adel", "ades", "syscall", "break", "ri", "fetch"))
        if kind == "ov":
            name = rng.choice(("ADD", "SUB", "ADDI"))
            x, y = rng.choice(_OVERFLOWING[name])
            a, b = self.temps(2)
            self.load_const(a, x)
            if name == "ADDI":
                self.emit(name, encode(name, rs=a, rt=rng.choice((a, b)), imm=y))
                return
            self.load_const(b, y)
            # rd may be a source: it must still hold the operand afterwards.
            self.emit(name, encode(name, rs=a, rt=b, rd=rng.choice((a, b, self.dest()))))
        elif kind == "trap":
            reg = self.src()
            name = rng.choice(("TEQ", "TGE", "TGEU"))
            self.emit(name, encode(name, rs=reg, rt=reg, rd=rng.getrandbits(5)))
        elif kind in ("adel", "ades"):
            # Not SC: QEMU checks SC's alignment only when its address matches LL's.
            names = ("LH", "LHU", "LW", "LL") if kind == "adel" else ("SH", "SW")
            self.memory(rng.choice(names), misaligned=True)
        elif kind == "syscall":
            self.emit("SYSCALL", encode("SYSCALL") | rng.getrandbits(20) << 6)
        elif kind == "break":
            self.emit("BREAK", encode("BREAK") | rng.getrandbits(20) << 6)
        elif kind == "ri":
            self.emit("RESERVED", rng.choice(RESERVED_WORDS))
        else:
            # A jump to a misaligned address: AdEL on the fetch, after the delay slot.
            reg = rng.choice(WRITABLE)
            target = self.forward(labels)
            self.emit("LUI", _hi_fixup(reg, target, 0))
            self.emit("ORI", _lo_fixup(reg, target, rng.choice((1, 2, 3))))
            self.emit("JR", encode("JR", rs=reg))
            self.single(in_delay_slot=True)

    # single instructions (usable in delay slots)

    SINGLE_WEIGHTS = {"alu": 55, "hilo": 10, "bits": 8, "load": 12, "store": 8,
                      "trap": 3, "misc": 3, "trapping_alu": 1, "misaligned": 0.15,
                      "ll": 0.5}

    def single(self, in_delay_slot: bool) -> None:
        kinds = list(self.SINGLE_WEIGHTS)
        kind = self.rng.choices(kinds, list(self.SINGLE_WEIGHTS.values()))[0]
        if kind == "alu":
            self.alu()
        elif kind == "hilo":
            self.hilo()
        elif kind == "bits":
            self.bits()
        elif kind == "load":
            self.memory(self.rng.choice(LOADS))
        elif kind == "store":
            self.memory(self.rng.choice(STORES))
        elif kind == "trap":
            self.same_register_trap()
        elif kind == "misc":
            self.misc()
        elif kind == "trapping_alu":
            self.trapping_alu()
        elif kind == "misaligned":
            self.memory(self.rng.choice(("LH", "LHU", "LW", "SH", "SW")), misaligned=True)
        else:
            # A lone LL is defined (it only loads and sets LLbit); a lone SC is not.
            self.memory("LL")

    def alu(self) -> None:
        rng = self.rng
        name = rng.choice((
            "ADDU", "SUBU", "AND", "OR", "XOR", "NOR", "SLT", "SLTU", "SLLV", "SRLV", "SRAV",
            "ROTRV", "MOVN", "MOVZ", "MUL", "ADDIU", "ANDI", "ORI", "XORI", "LUI", "SLTI",
            "SLTIU", "SLL", "SRL", "SRA", "ROTR",
        ))
        rd = self.dest()
        if name in ("SLL", "SRL", "SRA"):
            self.emit(name, encode(name, rt=self.src(), rd=rd, sa=rng.getrandbits(5)))
        elif name == "ROTR":
            self.emit(name, rotr(rd, self.src(), rng.getrandbits(5)))
        elif name == "ROTRV":
            self.emit(name, rotrv(rd, self.src(), self.src()))
        elif name in ("ADDIU", "ANDI", "ORI", "XORI", "SLTI", "SLTIU"):
            self.emit(name, encode(name, rs=self.src(), rt=rd, imm=self.imm16()))
        elif name == "LUI":
            self.emit(name, encode(name, rt=rd, imm=self.imm16()))
        elif name == "MUL":
            self.emit(name, encode(name, rs=self.src(), rt=self.src(), rd=rd))
        else:
            self.emit(name, encode(name, rs=self.src(), rt=self.src(), rd=rd))

    def imm16(self) -> int:
        roll = self.rng.random()
        if roll < 0.3:
            return self.rng.choice((0, 1, 0x7FFF, 0x8000, 0xFFFF, 0xFFFE, 31, 32))
        return self.rng.getrandbits(16)

    def trapping_alu(self) -> None:
        """ADD/ADDI/SUB on whatever the registers hold: overflows now and then."""
        name = self.rng.choice(("ADD", "ADDI", "SUB"))
        if name == "ADDI":
            self.emit(name, encode(name, rs=self.src(), rt=self.dest(), imm=self.imm16()))
        else:
            self.emit(name, encode(name, rs=self.src(), rt=self.src(), rd=self.dest()))

    def hilo(self) -> None:
        rng = self.rng
        name = rng.choice(("MULT", "MULTU", "DIV", "DIVU", "MFHI", "MFLO", "MTHI", "MTLO",
                           "MADD", "MADDU", "MSUB", "MSUBU"))
        if name in ("MFHI", "MFLO"):
            self.emit(name, encode(name, rd=self.dest()))
        elif name in ("MTHI", "MTLO"):
            self.emit(name, encode(name, rs=self.src()))
        else:
            rt = 0 if name.startswith("DIV") and rng.random() < 0.1 else self.src()
            self.emit(name, encode(name, rs=self.src(), rt=rt))

    def bits(self) -> None:
        rng = self.rng
        name = rng.choice(("CLZ", "CLO", "SEB", "SEH", "WSBH", "EXT", "INS"))
        rd = self.dest()
        if name in ("CLZ", "CLO"):
            # rt must equal rd (MIPS32 Vol. II, CLZ: otherwise UNPREDICTABLE)
            self.emit(name, encode(name, rs=self.src(), rt=rd, rd=rd))
        elif name in BSHFL_SA:
            self.emit(name, bshfl(name, rd, self.src()))
        else:
            pos = rng.randrange(32)
            size = rng.randint(1, 32 - pos)
            emit = ext if name == "EXT" else ins
            self.emit(name, emit(rd, self.src(), pos, size))

    def same_register_trap(self) -> None:
        """Traps whose outcome is known whatever the register holds; they rarely fire."""
        rng = self.rng
        reg = self.src()
        if rng.random() < 0.5:
            name = rng.choice(("TNE", "TLT", "TLTU"))  # never fire on rs == rt
            if rng.random() < 0.02:
                name = rng.choice(("TEQ", "TGE", "TGEU"))  # always fire
            self.emit(name, encode(name, rs=reg, rt=reg, rd=rng.getrandbits(5)))
        else:
            # Immediate forms against $0, where the outcome is known.
            name, imm = rng.choice((("TEQI", 1), ("TNEI", 0), ("TGEI", 1), ("TLTI", 0),
                                    ("TGEIU", 1), ("TLTIU", 0), ("TEQI", 0xFFFF),
                                    ("TGEI", 0x7FFF), ("TLTIU", 0)))
            self.emit(name, encode(name, rs=0, imm=imm))

    def misc(self) -> None:
        rng = self.rng
        name = rng.choice(("SYNC", "PREF", "SSNOP", "EHB", "NOP"))
        if name == "SYNC":
            self.emit(name, encode("SYNC"))
        elif name == "PREF":
            # Hints that only move data; 25 and 30/31 may write memory.
            base = rng.choice(BASE_REGS)
            hint = rng.choice((0, 1, 4, 5, 6, 7))
            offset = self.offset(base, 1, aligned=True)
            self.emit(name, encode("PREF", rs=base, rt=hint, imm=offset))
        elif name == "SSNOP":
            self.emit(name, encode("SLL", sa=1))
        elif name == "EHB":
            self.emit(name, encode("SLL", sa=3))
        else:
            self.emit(name, 0)

    def offset(self, base: int, size: int, aligned: bool) -> int:
        """An offset from `base` that stays inside the data buffer."""
        low = DATA_VA - BASE_VALUES[base]
        # Room at the top for a word, a misalignment skew and LWL's +3.
        high = DATA_VA + DATA_SIZE - 12 - BASE_VALUES[base]
        offset = self.rng.randint(low, high)
        if aligned:
            return offset & ~(size - 1)
        if size > 1 and offset % size == 0:
            offset += self.rng.randrange(1, size)
        return offset

    def memory(self, name: str, misaligned: bool = False) -> None:
        base = self.rng.choice(BASE_REGS)
        size = ACCESS_SIZE[name]
        offset = self.offset(base, 4 if misaligned else size, aligned=not misaligned)
        rt = self.src() if name in STORES or name == "SC" else self.dest()
        self.emit(name, encode(name, rs=base, rt=rt, imm=offset))


# Operand pairs that overflow (ADDI: register and 16-bit immediate).
_OVERFLOWING = {
    "ADD": ((0x7FFF_FFFF, 1), (0x7FFF_0000, 0x7FFF_FFFF), (0x8000_0000, 0x8000_0000),
            (0x8000_0000, 0xFFFF_FFFF)),
    "SUB": ((0x7FFF_FFFF, 0xFFFF_FFFF), (0x8000_0000, 1), (0, 0x8000_0000),
            (0x7FFF_0000, 0x8000_0000)),
    "ADDI": ((0x7FFF_FFFF, 1), (0x7FFF_FFF0, 0x10), (0x8000_0000, 0xFFFF),
             (0x8000_0005, 0x8000), (0x7FFF_8000, 0x7FFF)),
}

_TRAP_BASE = {"TEQI": "TEQ", "TNEI": "TNE", "TGEI": "TGE", "TGEIU": "TGEU",
              "TLTI": "TLT", "TLTIU": "TLTU"}


def _trap_fires(name: str, a: int, b: int) -> bool:
    """The trap condition of MIPS32 Vol. II on 32-bit values (immediates sign-extended)."""
    base = _TRAP_BASE.get(name, name)
    x, y = (a, b) if base.endswith("U") else (s32(a), s32(b))
    return {
        "TEQ": x == y, "TNE": x != y, "TGE": x >= y, "TGEU": x >= y,
        "TLT": x < y, "TLTU": x < y,
    }[base]


# ---- random words as instructions ----------------------------------------------------

# Major opcodes a random word may have: SPECIAL, SPECIAL2, SPECIAL3, the immediate ALU
# group, and the encodings MIPS32 reserves (MIPS64's and others': RI). Not branches,
# jumps, loads, stores, coprocessors or CACHE: their operands would be random addresses.
RANDOM_MAJORS = (0x00, 0x00, 0x00, 0x00, 0x1C, 0x1C, 0x1F, 0x1F,
                 *range(0x08, 0x10),
                 0x18, 0x19, 0x1A, 0x1B, 0x1E, 0x27, 0x2C, 0x2D, 0x31, 0x32, 0x34, 0x35,
                 0x36, 0x37, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F)
# SPECIAL JR/JALR (jumps), MOVCI (FPU), 0x05 (reserved in MIPS32, but QEMU executes
# it); SPECIAL2 SDBBP (a debug exception unicorn cannot take); SPECIAL3 RDHWR (reads
# hardware registers the two machines set up differently).
_SKIP = {(0x00, 0x08), (0x00, 0x09), (0x00, 0x01), (0x00, 0x05), (0x1C, 0x3F), (0x1F, 0x3B)}


def _field(w: int, shift: int, value: int) -> int:
    return (w & ~(31 << shift)) | (value << shift)


def canonical(w: int) -> int:
    """`w` with the fields MIPS32 requires to be zero (or constrains) made valid, so the
    word is either a defined instruction or a reserved encoding (which must raise RI).
    What a non-zero must-be-zero field does is not defined: QEMU raises RI, our core
    ignores the field (docs/cpu.md)."""
    op, rs, rd, sa, fn = w >> 26, (w >> 21) & 31, (w >> 11) & 31, (w >> 6) & 31, w & 63
    if op == 0x00:
        if fn in (0x00, 0x03):
            w = _field(w, 21, 0)
        elif fn == 0x02:
            w = _field(w, 21, rs & 1)
        elif fn in (0x04, 0x07, 0x0A, 0x0B) or 0x20 <= fn <= 0x2B:
            w = _field(w, 6, 0)
        elif fn == 0x06:
            w = _field(w, 6, sa & 1)
        elif fn == 0x0F:
            w = w & ~(0x7FFF << 11) & ~(31 << 21) | (sa << 6)
        elif fn in (0x10, 0x12):
            w = _field(_field(_field(w, 21, 0), 16, 0), 6, 0)
        elif fn in (0x11, 0x13):
            w = _field(_field(_field(w, 16, 0), 11, 0), 6, 0)
        elif 0x18 <= fn <= 0x1B:
            w = _field(_field(w, 11, 0), 6, 0)
    elif op == 0x1C:
        if fn in (0x00, 0x01, 0x04, 0x05):
            w = _field(_field(w, 11, 0), 6, 0)
        elif fn == 0x02:
            w = _field(w, 6, 0)
        elif fn in (0x20, 0x21):
            w = _field(_field(w, 6, 0), 16, rd)  # CLZ/CLO: rt must equal rd
    elif op == 0x1F:
        if fn == 0x00 and sa + rd > 31:  # EXT: pos + size <= 32
            w = _field(w, 11, 31 - sa)
        elif fn == 0x04 and rd < sa:  # INS: msb >= lsb
            w = _field(w, 11, sa)
        elif fn == 0x20:
            w = _field(w, 21, 0)
    elif op == 0x0F:
        w = _field(w, 21, 0)  # LUI
    return w & MASK32


def random_word(rng: random.Random) -> int:
    """A random instruction word of RANDOM_MAJORS, made canonical."""
    while True:
        op = rng.choice(RANDOM_MAJORS)
        w = (op << 26) | rng.getrandbits(26)
        if (op, w & 63) not in _SKIP:
            return canonical(w)
