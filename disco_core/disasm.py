"""MIPS32 little-endian disassembly through capstone, one line per word."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from disco_core.elf import ElfImage


@dataclass(frozen=True)
class Line:
    """One disassembled instruction word."""

    address: int
    word: int
    mnemonic: str
    operands: str
    symbol: str | None  # "name" or "name+0x10" when an ElfImage was given


_capstone = None


def _engine():  # type: ignore[no-untyped-def]
    # One engine for the process: creating a capstone handle costs more than
    # disassembling a page.
    global _capstone
    if _capstone is None:
        import capstone

        _capstone = capstone.Cs(
            capstone.CS_ARCH_MIPS, capstone.CS_MODE_MIPS32 | capstone.CS_MODE_LITTLE_ENDIAN
        )
    return _capstone


def disassemble(
    code: bytes, address: int, count: int | None = None, symbols: ElfImage | None = None
) -> list[Line]:
    """Disassemble ``code`` placed at ``address``, at most ``count`` words.

    Every whole word yields one Line: words capstone cannot decode come out as
    ``.word 0x...``, so addresses stay in step with the memory they describe.
    A trailing partial word is ignored.
    """
    n = len(code) // 4
    if count is not None:
        n = min(n, max(count, 0))
    cs = _engine()
    lines = []
    for i in range(n):
        pc = (address + 4 * i) & 0xFFFFFFFF
        chunk = bytes(code[4 * i : 4 * i + 4])
        (word,) = struct.unpack("<I", chunk)
        # Word by word rather than disasm() over the block: capstone stops at the
        # first undecodable word, and MIPS words are independent anyway.
        insn = next(cs.disasm(chunk, pc, 1), None)
        if insn is None:
            mnemonic, operands = ".word", f"0x{word:08x}"
        else:
            mnemonic, operands = insn.mnemonic, insn.op_str
        lines.append(Line(pc, word, mnemonic, operands, _symbol_name(symbols, pc)))
    return lines


def _symbol_name(symbols: ElfImage | None, pc: int) -> str | None:
    if symbols is None:
        return None
    found = symbols.symbol_at(pc)
    if found is None:
        return None
    name, offset = found
    return f"{name}+{offset:#x}" if offset else name


def format_line(line: Line) -> str:
    """``80010000: 3c1c8002  lui     $gp, 0x8002   <_start>`` style text."""
    text = f"{line.address:08x}: {line.word:08x}  {line.mnemonic:<8}{line.operands}".rstrip()
    if line.symbol:
        text = f"{text:<56}<{line.symbol}>"
    return text
