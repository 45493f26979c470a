"""The reference runner: a MIPS32r2 little-endian program in unicorn, one record per instruction.

Unicorn (2.1.x, QEMU 5 inside) is the project's independent oracle for the
user-mode integer ISA. What it does, found by experiment (test_user_isa.py
pins the parts our core must match):

CPU model. The default MIPS32 model (74Kf) implements MIPS16e: a JR to an odd
address enters MIPS16 mode instead of raising AdEL. We select the 4KEc, which
is MIPS32r2 without MIPS16e and without an FPU, like our core.

Addresses. Unicorn starts the CPU in kernel mode with Status = 0x20400004
(BEV and ERL set), so kseg0/kseg1 are unmapped windows onto physical memory and
kuseg is identity-mapped (ERL makes it unmapped). `mem_map` takes *physical*
addresses: a program at virtual 0x80100000 needs `mem_map(0x00100000, ...)`.
Our core reaches kuseg only through the TLB, so programs live in kseg0 on both
sides.

Stepping and delay slots. `UC_HOOK_CODE` runs before every instruction,
delay slots included, and sees the state left by the previous one, so the
state after instruction N is what the hook for N+1 reads (after the last, what
`emu_start` leaves; the pc it leaves can be stale, e.g. after a trap that did
not fire, so reaching `until` is taken to mean pc = end). A branch's link
register is already written when its delay slot's hook runs. For a
branch-likely that is *not* taken the hook still runs for the nullified slot
(which changes nothing); this runner evaluates the branch condition itself and
drops that call, since our core never steps a nullified slot.

Unicorn bugs worked around:
- With a `UC_HOOK_MEM_WRITE` hook installed, a store in the delay slot of a
  *taken* branch leaves QEMU's "in delay slot" flag set: the next branch raises
  RI, or the instruction at the target runs twice. So there is no memory hook:
  after a store the runner reads back the aligned word it wrote.
- An engine keeps hidden state from one `emu_start` to the next (a pending
  delay slot in hflags/btarget, lladdr) and `mem_write` does not drop the
  translations of code it overwrites; reusing an engine after a fetch
  exception crashed unicorn in `emu_start`. So every run gets a fresh engine
  (about 4 ms).

Exceptions. With a `UC_HOOK_INTR` hook installed, unicorn does not vector: it
calls the hook with QEMU's EXCP_* number, and nothing of CP0 (EPC, Cause,
BadVAddr) is visible (no register ids for them, and the pc read in the hook is
0 for most exceptions, the next pc for SYSCALL). The hook stops emulation; for
misaligned loads/stores `emu_start` also raises UC_ERR_READ/WRITE_UNALIGNED.
So this runner derives what the architecture defines: the faulting instruction
is the one whose code hook ran last; EPC is that pc, or the branch's pc with
BD = 1 when it sits in a delay slot; BadVAddr is the effective address for an
address error. A jump to a misaligned address raises AdEL (QEMU number 12) on
the fetch *after* the delay slot ran, with no code hook for the target:
EPC = BadVAddr = the target, BD = 0. Registers read in the hook are those
before the faulting instruction (an overflowing ADD leaves rd alone).

QEMU EXCP_* to Cause.ExcCode: AdEL 12 -> 4, AdES 13 -> 5, SYSCALL 17 -> 8,
BREAK 18 -> 9, CpU 19 -> 11, RI 20 -> 10, OVERFLOW 21 -> 12, TRAP 22 -> 13.

Results the architecture leaves open (UNPREDICTABLE), as unicorn gives them:
- DIV/DIVU by zero: QEMU divides by 1 instead: LO = dividend, HI = 0.
  DIV 0x80000000 / -1 likewise gives LO = 0x80000000, HI = 0 (the same as
  the wrapped quotient and remainder).
- MUL (SPECIAL2) leaves HI and LO unchanged.
- MTHI/MTLO after MULT/DIV without MFHI/MFLO in between: the other half keeps
  its value.
- SC with no LL before it fails (rt = 0, no store). QEMU's SC succeeds when the
  address equals LL's and the word still holds the value LL read.
And one defined case where QEMU departs from the architecture: a misaligned SC
whose address differs from LL's just fails, without AdES (QEMU checks the
alignment only on the matching path). Programs avoid it.
Reserved encodings (SPECIAL funct 0x28/0x29, opcode 0x3B) raise RI.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from unicorn import UC_ARCH_MIPS, UC_HOOK_CODE, UC_HOOK_INTR, Uc, UcError
from unicorn import UC_MODE_LITTLE_ENDIAN as _LE
from unicorn import UC_MODE_MIPS32 as _MIPS32
from unicorn import mips_const as mc

# Cause.ExcCode values (MIPS32 PRA, Table 9.31).
EXC_ADEL, EXC_ADES, EXC_SYS, EXC_BP, EXC_RI, EXC_CPU, EXC_OV, EXC_TR = 4, 5, 8, 9, 10, 11, 12, 13

# QEMU's EXCP_* numbers (target/mips/cpu.h) as UC_HOOK_INTR reports them.
QEMU_EXCP_TO_EXCCODE = {
    12: EXC_ADEL, 13: EXC_ADES, 17: EXC_SYS, 18: EXC_BP, 19: EXC_CPU, 20: EXC_RI,
    21: EXC_OV, 22: EXC_TR,
}
EXC_NAMES = {EXC_ADEL: "AdEL", EXC_ADES: "AdES", EXC_SYS: "Sys", EXC_BP: "Bp",
             EXC_RI: "RI", EXC_CPU: "CpU", EXC_OV: "Ov", EXC_TR: "Tr"}

_GPR_IDS = [mc.UC_MIPS_REG_0 + n for n in range(32)]
_STATE_IDS = [*_GPR_IDS, mc.UC_MIPS_REG_HI, mc.UC_MIPS_REG_LO]
_PHYS_MASK = 0x1FFF_FFFF
_NSTATE = len(_STATE_IDS)
_MASK32 = 0xFFFF_FFFF


@dataclass(frozen=True)
class Fault:
    """An exception as the architecture would report it."""

    code: int              # Cause.ExcCode
    pc: int                # the instruction (or fetch address) that raised it
    epc: int
    bd: bool               # in a branch delay slot
    badvaddr: int | None   # for address errors only


@dataclass(frozen=True)
class Step:
    """One executed instruction and the state right after it."""

    pc: int
    word: int | None                       # None for a faulting fetch
    gpr: tuple[int, ...]                   # $0..$31 afterwards
    hi: int
    lo: int
    next_pc: int                           # the pc afterwards (= pc when it faulted)
    store: tuple[int, int] | None          # stores: (aligned word address, word afterwards)
    fault: Fault | None = None
    delay_slot: bool = False


@dataclass(frozen=True)
class Trace:
    steps: list[Step]
    ended: str  # "end" (reached end_va), "fault" or "limit"


# --- just enough decoding to place exceptions and nullified slots ------------------

def _s16(word: int) -> int:
    imm = word & 0xFFFF
    return imm - 0x10000 if imm & 0x8000 else imm


def _s32(value: int) -> int:
    return value - (1 << 32) if value & 0x8000_0000 else value


def control_transfer(word: int) -> bool:
    """Branches and jumps: instructions with a delay slot."""
    op = word >> 26
    if op == 0:
        return word & 0x3F in (0x08, 0x09)  # JR, JALR
    if op == 1:
        return (word >> 16) & 0x1F in (0x00, 0x01, 0x02, 0x03, 0x10, 0x11, 0x12, 0x13)
    return op in (0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x14, 0x15, 0x16, 0x17)


def branch_outcome(word: int, pc: int, gpr: tuple[int, ...]) -> tuple[bool, bool, int]:
    """(likely, taken, target) of a control transfer, from the registers before it."""
    op = word >> 26
    rs = _s32(gpr[(word >> 21) & 31])
    rt = _s32(gpr[(word >> 16) & 31])
    target = (pc + 4 + (_s16(word) << 2)) & _MASK32
    if op == 0:
        return False, True, gpr[(word >> 21) & 31]
    if op in (2, 3):
        return False, True, ((pc + 4) & 0xF000_0000) | (word & 0x03FF_FFFF) << 2
    if op == 1:
        sub = (word >> 16) & 0x1F
        taken = rs < 0 if sub & 1 == 0 else rs >= 0
        return bool(sub & 0x02), taken, target
    cond = {4: rs == rt, 5: rs != rt, 6: rs <= 0, 7: rs > 0}[op & 0x7 | 0x4]
    return op >= 0x14, cond, target


_LOAD_SIZE = {0x20: 1, 0x21: 2, 0x23: 4, 0x24: 1, 0x25: 2, 0x30: 4}  # LB LH LW LBU LHU LL
_ANY_MEMORY = {0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x28, 0x29, 0x2A, 0x2B, 0x2E,
               0x30, 0x38}


def effective_address(word: int, gpr: tuple[int, ...]) -> int | None:
    """The data address of a load or store, or None for other instructions."""
    if word >> 26 not in _ANY_MEMORY:
        return None
    return (gpr[(word >> 21) & 31] + _s16(word)) & _MASK32


_STORE_OPS = {0x28, 0x29, 0x2A, 0x2B, 0x2E, 0x38}  # SB SH SWL SW SWR SC


def stored_word(word: int, gpr: tuple[int, ...]) -> int | None:
    """The aligned word a store writes into (every store stays inside one word)."""
    if word >> 26 not in _STORE_OPS:
        return None
    return (gpr[(word >> 21) & 31] + _s16(word)) & _MASK32 & ~3


def misaligned_load(word: int, gpr: tuple[int, ...]) -> bool:
    size = _LOAD_SIZE.get(word >> 26)
    return size is not None and (gpr[(word >> 21) & 31] + _s16(word)) % size != 0


def _batch_reader(uc: Uc) -> Callable[[], tuple[int, ...]]:
    """A reader of the 32 GPRs, HI and LO, with its argument arrays built once.

    `Uc.reg_read_batch` rebuilds its ctypes arrays on every call, which made it
    most of the runner's time; this calls the same C function directly.
    """
    try:
        from unicorn.unicorn_py3.unicorn import uclib
        handle = uc._uch
    except (ImportError, AttributeError):  # another binding layout: the slow path
        return lambda: tuple(uc.reg_read_batch(_STATE_IDS))
    ids = (ctypes.c_int * _NSTATE)(*_STATE_IDS)
    values = (ctypes.c_uint64 * _NSTATE)()  # unicorn writes 32 bits of each
    base = ctypes.addressof(values)
    pointers = (ctypes.c_void_p * _NSTATE)(*(base + 8 * i for i in range(_NSTATE)))
    count = ctypes.c_int(_NSTATE)
    read_batch = uclib.uc_reg_read_batch

    def read() -> tuple[int, ...]:
        if read_batch(handle, ids, pointers, count) != 0:
            raise UcError(uc.errno())
        return tuple(values)

    return read


class _Pending:
    """The instruction whose code hook ran last; it completes at the next hook."""

    __slots__ = ("pc", "word", "pre", "store_at", "nullifies", "target", "branch", "slot_of")

    def __init__(self, pc: int, word: int, pre: tuple[int, ...], slot_of: int | None) -> None:
        self.pc = pc
        self.word = word
        self.pre = pre
        self.store_at = stored_word(word, pre)
        self.branch = control_transfer(word)
        self.nullifies = False
        self.target = 0
        self.slot_of = slot_of  # pc of the branch whose delay slot this is
        if self.branch:
            likely, taken, self.target = branch_outcome(word, pc, pre)
            self.nullifies = likely and not taken


class UnicornRef:
    """Runs programs in one reusable unicorn instance.

    `windows` maps kseg0/kseg1 virtual addresses to sizes (multiples of 4 KiB);
    each becomes a mapping of the physical memory behind it.
    """

    def __init__(self, windows: Mapping[int, int], cpu_model: int = mc.UC_CPU_MIPS32_4KEC) -> None:
        for va in windows:
            if va & 0xC000_0000 != 0x8000_0000:
                raise ValueError(f"window {va:#x} is not in kseg0/kseg1; unicorn and our core "
                                 "only agree on unmapped segments")
        self.windows = dict(windows)
        self.cpu_model = cpu_model
        self._words: dict[int, int] = {}
        self._steps: list[Step] = []
        self._pending: _Pending | None = None
        self._last: _Pending | None = None
        self._limit = 0
        self._ended = "end"
        self._error: BaseException | None = None
        self.uc: Uc | None = None

    def _new_engine(self) -> Uc:
        uc = Uc(UC_ARCH_MIPS, _MIPS32 | _LE)
        uc.ctl_set_cpu_model(self.cpu_model)
        for va, size in self.windows.items():
            uc.mem_map(va & _PHYS_MASK, size)
        self._read_state = _batch_reader(uc)
        uc.hook_add(UC_HOOK_CODE, self._on_code)
        uc.hook_add(UC_HOOK_INTR, self._on_intr)
        return uc

    # running

    def run(self, loads: Mapping[int, bytes], code_va: int, pc: int,
            gpr: Sequence[int], hi: int, lo: int, end_va: int,
            max_steps: int = 100_000) -> Trace:
        """Load `loads` ({va: bytes}, the code at `code_va` among them), set the
        registers, run from `pc` until the pc reaches `end_va`, an exception, or
        `max_steps` instructions."""
        # Every run gets a fresh engine: QEMU keeps hidden state between runs
        # (a pending delay slot in hflags/btarget, lladdr, translated code that
        # mem_write does not invalidate), and reusing an engine after a fetch
        # exception crashed unicorn 2.1.4 in emu_start.
        uc = self.uc = self._new_engine()
        for va, data in loads.items():
            uc.mem_write(va & _PHYS_MASK, bytes(data))
        code = loads[code_va]
        self._words = {code_va + 4 * i: w for i, (w,) in enumerate(struct.iter_unpack("<I", code))}
        for reg, value in zip(_GPR_IDS[1:], gpr[1:], strict=True):
            uc.reg_write(reg, value & _MASK32)
        uc.reg_write(mc.UC_MIPS_REG_HI, hi & _MASK32)
        uc.reg_write(mc.UC_MIPS_REG_LO, lo & _MASK32)
        self._steps = []
        self._pending = None
        self._last = None
        self._limit = max_steps
        self._ended = "end"
        self._error = None
        try:
            uc.emu_start(pc, end_va)
        except UcError as exc:
            # Unaligned accesses also end emu_start with an error after the intr hook.
            if self._ended != "fault":
                raise RuntimeError(f"unicorn stopped without a MIPS exception: {exc} "
                                   f"(pc {uc.reg_read(mc.UC_MIPS_REG_PC):#x})") from exc
        if self._error is not None:
            raise self._error
        if self._pending is not None:
            values = self._read_state()
            # The pc unicorn leaves is stale after some instructions (a trap that
            # did not fire); stopping at `until` means the pc reached end_va.
            next_pc = end_va if self._ended == "end" else uc.reg_read(mc.UC_MIPS_REG_PC)
            self._complete(self._pending, values, next_pc)
            self._pending = None
        return Trace(self._steps, self._ended)

    def read(self, va: int, size: int) -> bytes:
        """Memory of the last run."""
        return bytes(self.uc.mem_read(va & _PHYS_MASK, size))

    def _complete(self, p: _Pending, values: tuple[int, ...], next_pc: int,
                  fault: Fault | None = None) -> None:
        store = None
        if p.store_at is not None and fault is None:
            raw = self.uc.mem_read(p.store_at & _PHYS_MASK, 4)
            store = (p.store_at, int.from_bytes(raw, "little"))
        self._steps.append(Step(
            pc=p.pc, word=p.word, gpr=values[:32], hi=values[32], lo=values[33],
            next_pc=next_pc, store=store, fault=fault, delay_slot=p.slot_of is not None,
        ))
        self._last = p

    def _on_code(self, uc: Uc, address: int, size: int, _data: object) -> None:
        values = self._read_state()
        p = self._pending
        if p is not None:
            if p.nullifies and address == p.pc + 4:
                return  # the nullified slot of a branch-likely not taken: not executed
            self._complete(p, values, address)
        if len(self._steps) >= self._limit:
            self._ended = "limit"
            self._pending = None
            uc.emu_stop()
            return
        word = self._words.get(address)
        if word is None:
            self._error = RuntimeError(f"execution left the program at {address:#x}")
            self._pending = None
            uc.emu_stop()
            return
        last = self._last
        slot_of = last.pc if last is not None and last.branch and address == last.pc + 4 else None
        self._pending = _Pending(address, word, values, slot_of)

    def _on_intr(self, uc: Uc, intno: int, _data: object) -> None:
        uc.emu_stop()
        self._ended = "fault"
        code = QEMU_EXCP_TO_EXCCODE.get(intno)
        if code is None:
            self._error = RuntimeError(f"unicorn raised QEMU exception {intno}, which has no "
                                       "MIPS ExcCode mapping here")
            return
        values = self._read_state()
        p = self._pending
        self._pending = None
        if p is None or (code == EXC_ADEL and not misaligned_load(p.word, p.pre)):
            # The fetch at a jump's misaligned target, after its delay slot ran.
            branch = self._last
            if p is None or branch is None or not branch.branch:
                raise_at = uc.reg_read(mc.UC_MIPS_REG_PC)
                self._error = RuntimeError(f"AdEL at {raise_at:#x} that no load explains")
                return
            target = branch.target
            self._complete(p, values, target)
            fault = Fault(code, pc=target, epc=target, bd=False, badvaddr=target)
            self._steps.append(Step(target, None, values[:32], values[32], values[33],
                                    target, None, fault))
            return
        badvaddr = None
        if code in (EXC_ADEL, EXC_ADES):
            badvaddr = effective_address(p.word, p.pre)
        in_slot = p.slot_of is not None
        epc = p.slot_of if p.slot_of is not None else p.pc
        self._complete(p, values, p.pc, Fault(code, p.pc, epc, in_slot, badvaddr))
