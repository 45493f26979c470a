"""Disassembly: one line per word, undecodable words as .word, symbols from an ELF."""

from __future__ import annotations

import struct

from disco_core import guest
from disco_core.disasm import disassemble, format_line
from disco_core.elf import load_elf

BASE = 0x80001000


def test_mnemonics_operands_and_addresses():
    code = guest.assemble(
        """
        addiu $t0, $zero, 42
        mtc0  $t0, $12
        b     1f
        nop
        1:
        eret
        """,
        base=BASE,
    )
    lines = disassemble(code, BASE)
    assert [ln.address for ln in lines] == [BASE + 4 * i for i in range(5)]
    assert [ln.mnemonic for ln in lines] == ["addiu", "mtc0", "b", "nop", "eret"]
    assert lines[0].operands == "$t0, $zero, 0x2a"
    assert lines[0].word == 0x2408002A
    # Branch targets are absolute addresses.
    assert lines[2].operands == f"{BASE + 16:#x}"
    assert all(ln.symbol is None for ln in lines)


def test_undecodable_words_come_out_as_data():
    code = struct.pack("<3I", 0x00000000, 0xFFFFFFFF, 0x03E00008)
    lines = disassemble(code, BASE)
    assert [ln.mnemonic for ln in lines] == ["nop", ".word", "jr"]
    assert lines[1].operands == "0xffffffff"
    assert lines[2].address == BASE + 8  # decoding continues after the bad word


def test_count_and_partial_words():
    code = struct.pack("<4I", 0, 0, 0, 0) + b"\x01\x02"
    assert len(disassemble(code, BASE)) == 4  # the trailing half word is ignored
    assert len(disassemble(code, BASE, count=2)) == 2
    assert disassemble(code, BASE, count=0) == []


def test_symbols_from_an_elf_image():
    image = load_elf(guest.build_baremetal("demo"))
    main = image.address_of("main")
    seg = next(s for s in image.segments if s.vaddr <= main < s.vaddr + len(s.data))
    code = seg.data[main - seg.vaddr : main - seg.vaddr + 8]
    lines = disassemble(code, main, symbols=image)
    assert [ln.symbol for ln in lines] == ["main", "main+0x4"]


def test_format_line():
    (line,) = disassemble(struct.pack("<I", 0x2408002A), BASE)
    text = format_line(line)
    assert text.startswith("80001000: 2408002a  addiu")
    assert text.endswith("$t0, $zero, 0x2a")
    image = load_elf(guest.build_baremetal("demo"))
    (line,) = disassemble(image.segments[0].data[:4], image.entry, symbols=image)
    assert format_line(line).endswith("<_start>")
