"""The call stack of a stopped target, walked with the program's DWARF call-frame
information (`.debug_frame`, which the guest toolchain emits for every C function:
disco_core/guest.py, `-fforce-dwarf-frame`).

No Qt here: `walk(images, pc, regs, read)` takes the target's registers and a
memory reader and returns `Frame`s, innermost first. For each frame the FDE
that covers its pc gives the row of rules in force there: the canonical frame
address (CFA, a register plus an offset) and where the caller's registers were
saved (at CFA + n). Applying them gives the caller's registers, its stack
pointer (the CFA) and its pc (the saved return address, `$ra`: the address
after the `jal` and its delay slot). A leaf that saves no `$ra` keeps it live
in the register, which the rules say by not naming it.

The walk stops at code without call-frame information (the kernel's
assembly: exception entry, `swtch`), at a return address of 0 or outside
every program, when the stack pointer would move down instead of up, or
after MAX_FRAMES frames; `Frame.note` says why the last frame is the last.
"""

from __future__ import annotations

import bisect
import io
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass

from disco_core.elf import ElfImage

log = logging.getLogger(__name__)

MAX_FRAMES = 64
REG_SP, REG_RA = 29, 31
CALL_SIZE = 8  # a MIPS call and its delay slot: the return address is the call + 8
CODE_AROUND = 8  # instructions a frame carries before and after its address

Reader = Callable[[int, int], bytes]  # (address, length) -> bytes, short where unmapped


@dataclass(frozen=True)
class Frame:
    """One frame of a call stack. `pc` is where the frame goes on (frame 0: the pc;
    a caller: the return address); `where` is the instruction the frame is at (frame 0:
    pc; a caller: its call, pc - 8), which its function and source line describe."""

    level: int
    pc: int
    where: int
    sp: int
    function: str  # "" when no symbol covers `where`
    offset: int  # of `where` into the function
    file: str | None = None
    line: int = 0
    code_address: int = 0  # the instructions around `where`, for a disassembly
    code: bytes = b""
    note: str = ""  # on the last frame: why the walk stopped there

    def describe(self) -> str:
        """``kalloc+0x1c``, or the bare address."""
        if not self.function:
            return f"0x{self.where:08x}"
        return f"{self.function}+{self.offset:#x}" if self.offset else self.function

    def source(self) -> str:
        """``kalloc.c:121``, or an empty string without a line."""
        if not self.file or not self.line:
            return ""
        return f"{self.file.rsplit('/', 1)[-1]}:{self.line}"


@dataclass(frozen=True)
class _Rule:
    kind: str  # OFFSET (saved at CFA + arg), VAL_OFFSET (is CFA + arg), REGISTER (in reg arg)
    arg: int


@dataclass(frozen=True)
class _Row:
    pc: int
    cfa_reg: int  # -1: a DWARF expression (not followed)
    cfa_offset: int
    rules: tuple[tuple[int, _Rule], ...]


class _Fde:
    """One function's address range and its decoded rows, decoded on first use."""

    def __init__(self, start: int, end: int, entry: object) -> None:
        self.start, self.end = start, end
        self._entry = entry
        self._rows: list[_Row] | None = None
        self._starts: list[int] = []

    def row_at(self, pc: int) -> _Row | None:
        if self._rows is None:
            self._rows = _decode(self._entry)
            self._starts = [r.pc for r in self._rows]
            self._entry = None
        i = bisect.bisect_right(self._starts, pc) - 1
        return self._rows[i] if i >= 0 else None


def _decode(entry: object) -> list[_Row]:
    table = entry.get_decoded().table  # type: ignore[attr-defined]
    rows = []
    for row in table:
        cfa = row["cfa"]
        reg, off = (cfa.reg, cfa.offset) if cfa.expr is None and cfa.reg is not None else (-1, 0)
        rules = tuple(sorted((r, _Rule(rule.type, rule.arg if isinstance(rule.arg, int) else 0))
                             for r, rule in row.items()
                             if isinstance(r, int) and rule.type in
                             ("OFFSET", "VAL_OFFSET", "REGISTER")))
        rows.append(_Row(int(row["pc"]), reg, int(off), rules))
    return rows


class FrameTable:
    """A program's FDEs by address (built once per program)."""

    def __init__(self, image: ElfImage) -> None:
        self.image = image
        self._fdes: list[_Fde] = []
        self.return_register = REG_RA
        try:
            self._read(image._raw)
        except Exception as e:  # damaged call-frame information: no frames, not a crash
            log.warning("%s: ignoring unreadable call-frame information (%s)", image.name, e)
            self._fdes = []
        self._fdes.sort(key=lambda f: f.start)
        self._starts = [f.start for f in self._fdes]

    def _read(self, raw: bytes) -> None:
        from elftools.dwarf.callframe import FDE
        from elftools.elf.elffile import ELFFile

        elf = ELFFile(io.BytesIO(raw))
        if not elf.has_dwarf_info():
            return
        dwarf = elf.get_dwarf_info()
        if not dwarf.has_CFI():
            return
        for entry in dwarf.CFI_entries():
            if isinstance(entry, FDE):
                start = int(entry["initial_location"])
                size = int(entry["address_range"])
                if size > 0 and self._loaded(start):
                    if entry.cie is not None:
                        self.return_register = int(entry.cie["return_address_register"])
                    self._fdes.append(_Fde(start, start + size, entry))

    def _loaded(self, address: int) -> bool:
        # Functions the linker dropped keep FDEs at address 0 and up.
        return any(s.vaddr <= address < s.vaddr + s.memsz
                   for s in self.image.segments if s.executable)

    def fde_at(self, pc: int) -> _Fde | None:
        i = bisect.bisect_right(self._starts, pc) - 1
        if i >= 0 and pc < self._fdes[i].end:
            return self._fdes[i]
        return None

    def __len__(self) -> int:
        return len(self._fdes)


def _word(read: Reader, address: int) -> int | None:
    data = read(address & 0xFFFFFFFF, 4)
    return struct.unpack("<I", data)[0] if len(data) == 4 else None


def _frame(level: int, pc: int, where: int, sp: int, images: list[ElfImage],
           read: Reader, note: str = "") -> Frame:
    function, offset = "", 0
    file: str | None = None
    line = 0
    for image in images:
        found = image.symbol_at(where)
        if found is not None:
            function, offset = found
            loc = image.line_for(where)
            if loc is not None:
                file, line = loc
            break
    start = (where - 4 * CODE_AROUND) & 0xFFFFFFFF
    code = read(start, 8 * CODE_AROUND)
    return Frame(level, pc, where, sp, function, offset, file, line, start, code, note)


def walk(tables: list[FrameTable], pc: int, regs: list[int], read: Reader,
         max_frames: int = MAX_FRAMES) -> tuple[Frame, ...]:
    """The frames of a target stopped at `pc` with general registers `regs` (32),
    innermost first; `read(address, n)` reads its memory as it sees it."""
    images = [t.image for t in tables]
    regs = [int(r) & 0xFFFFFFFF for r in regs]
    frames: list[Frame] = []
    where = pc & 0xFFFFFFFF
    pc &= 0xFFFFFFFF
    for level in range(max_frames):
        sp = regs[REG_SP]
        table = next((t for t in tables if t.fde_at(where) is not None), None)
        fde = table.fde_at(where) if table is not None else None
        row = fde.row_at(where) if fde is not None else None
        if table is None or fde is None or row is None or row.cfa_reg < 0:
            frames.append(_frame(level, pc, where, sp, images, read,
                                 "no call-frame information here (assembly): the walk stops"))
            break
        cfa = (regs[row.cfa_reg] + row.cfa_offset) & 0xFFFFFFFF
        caller = list(regs)
        ok = True
        for reg, rule in row.rules:
            if reg >= 32:
                continue
            if rule.kind == "OFFSET":
                value = _word(read, cfa + rule.arg)
                if value is None:
                    ok = False
                    break
                caller[reg] = value
            elif rule.kind == "VAL_OFFSET":
                caller[reg] = (cfa + rule.arg) & 0xFFFFFFFF
            elif rule.kind == "REGISTER" and 0 <= rule.arg < 32:
                caller[reg] = regs[rule.arg]
        caller[REG_SP] = cfa
        ra = caller[table.return_register]
        note = ""
        if not ok:
            note = f"the saved registers at 0x{cfa:08x} cannot be read: the walk stops"
        elif ra == 0:
            note = "the return address is 0: the outermost frame"
        elif cfa < sp:
            note = "the caller's stack would be below this frame's: the walk stops"
        elif ra == pc and cfa == sp:
            note = "the frame repeats itself: the walk stops"
        elif not any(img.symbol_at(ra - CALL_SIZE) is not None for img in images):
            note = f"the return address 0x{ra:08x} is in no program: the walk stops"
        elif level == max_frames - 1:
            note = f"more than {max_frames} frames: the rest are not shown"
        frames.append(_frame(level, pc, where, sp, images, read, note))
        if note:
            break
        regs = caller
        pc = ra
        where = (ra - CALL_SIZE) & 0xFFFFFFFF  # the call itself: its line, its function
    return tuple(frames)
