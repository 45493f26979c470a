"""ELF loading: segments, symbols, DWARF lines, and one-line errors for bad input."""

from __future__ import annotations

import os
import random
import re
import struct
import sys
from pathlib import Path

import pytest

from disco_core import guest
from disco_core.elf import PF_X, load_elf
from disco_core.errors import ElfError

DEMO_C = guest.resources_dir() / "baremetal" / "demo.c"


@pytest.fixture(scope="module")
def demo_elf() -> Path:
    return guest.build_baremetal("demo")


@pytest.fixture(scope="module")
def demo_bytes(demo_elf) -> bytes:
    return demo_elf.read_bytes()


def source_line(path: Path, pattern: str) -> int:
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        if re.match(pattern, text):
            return number
    raise AssertionError(f"{pattern!r} not in {path}")


def elf_error(data: bytes, tmp_path: Path, name: str = "bad.elf") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ElfError) as info:
        load_elf(path)
    message = str(info.value)
    assert "\n" not in message, "ElfError messages are one line"
    assert str(path) in message, "the message names the file"
    return message


def patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def test_segments_of_a_built_program(demo_elf):
    image = load_elf(demo_elf)
    assert image.entry == 0x80010000
    text = image.segments[0]
    assert text.vaddr == text.paddr == 0x80010000 and text.flags & PF_X
    for seg in image.segments:
        assert len(seg.data) <= seg.memsz
    # .bss lies past the file bytes of the last segment.
    bss = image.address_of("_bss_start")
    assert any(s.vaddr + len(s.data) <= bss < s.vaddr + s.memsz or bss == s.vaddr + s.memsz
               for s in image.segments)


def test_bytes_and_paths_load_alike(demo_elf, demo_bytes):
    a, b = load_elf(demo_elf), load_elf(demo_bytes)
    assert a.entry == b.entry and a.segments == b.segments
    assert a.symbols == b.symbols


def test_symbols(demo_elf):
    image = load_elf(demo_elf)
    main = image.address_of("main")
    assert image.symbol_at(main) == ("main", 0)
    assert image.symbol_at(main + 8) == ("main", 8)
    assert image.symbol_at(image.entry) == ("_start", 0)
    assert image.symbol_at(image.address_of("_secondary_start") + 4) == ("_secondary_start", 4)
    assert image.symbol_at(0x1000) is None
    with pytest.raises(KeyError, match="no symbol named 'no_such_function'"):
        image.address_of("no_such_function")


def test_line_for_finds_c_and_assembly_sources(demo_elf):
    image = load_elf(demo_elf)
    file, line = image.line_for(image.address_of("main"))
    assert Path(file).name == "demo.c"
    main_line = source_line(DEMO_C, r"^main\(int cpu\)")
    assert main_line <= line <= main_line + 2

    file, line = image.line_for(image.entry)
    assert Path(file).name == "crt0.S"
    assert line == source_line(Path(file), r"^_start:") + 1  # the first instruction

    assert image.line_for(0x1000) is None


def test_random_bytes_are_not_an_elf(tmp_path):
    data = random.Random(7).randbytes(4096)
    message = elf_error(data, tmp_path)
    assert "is not an ELF file (starts with b'" in message


def test_empty_file(tmp_path):
    assert "is not an ELF file (it is empty)" in elf_error(b"", tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(ElfError, match="cannot read .*nowhere.elf"):
        load_elf(tmp_path / "nowhere.elf")


@pytest.mark.parametrize("cut", [10, 40, 100, 0x10100])
def test_truncated_elf(demo_bytes, tmp_path, cut):
    message = elf_error(demo_bytes[:cut], tmp_path)
    assert "truncated" in message


def test_the_host_python_is_a_foreign_elf(tmp_path):
    host = os.path.realpath(sys.executable)
    with open(host, "rb") as f:
        # the project runs on Linux, where the interpreter is an ELF (x86-64 or ARM)
        assert f.read(4) == b"\x7fELF", "the host Python is not an ELF binary"
    with pytest.raises(ElfError) as info:
        load_elf(host)
    message = str(info.value)
    assert "\n" not in message
    assert re.search(r"is a 64-bit \S+ ELF; Disco Workbench runs 32-bit little-endian MIPS "
                     r"\(EM_MIPS, ELFCLASS32, ELFDATA2LSB\)", message), message


def test_wrong_machine_class_and_byte_order(demo_bytes, tmp_path):
    x86 = patched(demo_bytes, 18, "<H", 62)
    assert "is a 32-bit x86-64 ELF" in elf_error(x86, tmp_path)
    big = patched(demo_bytes, 5, "B", 2)
    big = patched(big, 18, ">H", 8)
    assert "is a 32-bit big-endian MIPS ELF" in elf_error(big, tmp_path)


def test_not_an_executable(demo_bytes, tmp_path):
    rel = patched(demo_bytes, 16, "<H", 1)
    assert "is a relocatable object (ET_REL), not an executable" in elf_error(rel, tmp_path)
    dyn = patched(demo_bytes, 16, "<H", 3)
    assert "not an executable" in elf_error(dyn, tmp_path)


def test_no_loadable_segments(demo_bytes, tmp_path):
    none = patched(demo_bytes, 44, "<H", 0)  # e_phnum
    assert "has no loadable segments (PT_LOAD)" in elf_error(none, tmp_path)


def test_damaged_files_raise_only_elf_error(demo_bytes):
    # pyelftools raises many kinds of exception on garbage; none may escape.
    rng = random.Random(1234)
    header_end = 52 + 32 * 4
    for _ in range(300):
        data = bytearray(demo_bytes)
        for _ in range(rng.choice((1, 2, 4, 8))):
            data[rng.randrange(4, header_end)] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data))]
        try:
            image = load_elf(bytes(data))
        except ElfError as e:
            assert "\n" not in str(e)
        else:
            image.symbol_at(image.entry)
