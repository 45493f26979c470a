"""The guest toolchain: building C and assembly, the build cache, compiler errors."""

from __future__ import annotations

import struct
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from disco_core import guest
from disco_core.elf import EM_MIPS, PF_X, load_elf
from disco_core.errors import ToolchainError

BASE = 0x80001000


def words(code: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(code) // 4}I", code))


def fresh_program(tmp_path: Path, body: str = "") -> Path:
    """A source no earlier run has cached (a unique comment changes its hash)."""
    src = tmp_path / "prog.c"
    src.write_text(
        f"// {uuid.uuid4()}\n"
        '#include "libbare.h"\n'
        f"{body}\n"
        "int main(int cpu) { printf(\"hi %d\\n\", cpu); return 0; }\n"
    )
    return src


def test_resources_dir_holds_the_bare_metal_runtime():
    res = guest.resources_dir()
    for name in ("link.ld", "crt0.S", "libbare.c", "libbare.h", "demo.c"):
        assert (res / "baremetal" / name).is_file()


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DISCO_CACHE_DIR", str(tmp_path / "mine"))
    assert guest.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("DISCO_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert guest.cache_dir() == tmp_path / "xdg" / "disco-workbench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert guest.cache_dir() == Path.home() / ".cache" / "disco-workbench"


def test_build_baremetal_links_a_mips_executable_in_kseg0(tmp_path):
    elf = guest.build_baremetal(fresh_program(tmp_path))
    image = load_elf(elf)
    assert elf.read_bytes()[18] == EM_MIPS
    assert image.entry == image.address_of("_start") == 0x80010000
    text = [s for s in image.segments if s.flags & PF_X]
    assert text and text[0].vaddr == text[0].paddr == 0x80010000
    for name in ("main", "printf", "_secondary_start", "_bss_start", "_bss_end"):
        image.address_of(name)


def test_build_program_output_and_defines(tmp_path):
    src = tmp_path / "value.c"
    # _start uses value so the linker's --gc-sections keeps it.
    src.write_text(
        f"// {uuid.uuid4()}\n"
        "unsigned value = VALUE * 2;\n"
        "unsigned _start(void) { return value; }\n"
    )
    out = tmp_path / "out" / "value.elf"
    built = guest.build_program([src], output=out, defines={"VALUE": 21})
    assert built == out and out.is_file()
    image = load_elf(out)
    addr = image.address_of("value")
    seg = next(s for s in image.segments if s.vaddr <= addr < s.vaddr + len(s.data))
    assert struct.unpack_from("<I", seg.data, addr - seg.vaddr)[0] == 42


def test_cache_hit_is_fast_and_returns_the_same_path(tmp_path):
    src = fresh_program(tmp_path)
    start = time.perf_counter()
    first = guest.build_baremetal(src)
    cold = time.perf_counter() - start
    stamp = first.stat().st_mtime_ns

    start = time.perf_counter()
    second = guest.build_baremetal(src)
    warm = time.perf_counter() - start
    assert second == first
    assert second.stat().st_mtime_ns == stamp  # not rebuilt
    assert warm < cold / 2 and warm < 1.0


def test_a_changed_header_invalidates_the_cache(tmp_path):
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "config.h").write_text("#define ANSWER 1\n")
    src = fresh_program(tmp_path, '#include "config.h"\nint answer = ANSWER;')
    first = guest.build_baremetal(src, include_dirs=[inc])
    (inc / "config.h").write_text("#define ANSWER 2\n")
    second = guest.build_baremetal(src, include_dirs=[inc])
    assert second != first


def test_concurrent_builds_of_the_same_program_agree(tmp_path):
    src = fresh_program(tmp_path)
    with ThreadPoolExecutor(2) as pool:
        paths = list(pool.map(lambda _: guest.build_baremetal(src), range(2)))
    assert paths[0] == paths[1]
    load_elf(paths[0])
    leftovers = [p for p in paths[0].parent.iterdir() if p.name.startswith(".prog.")]
    assert not leftovers


def test_compile_error_raises_with_the_compilers_message(tmp_path):
    src = tmp_path / "broken.c"
    src.write_text(f"// {uuid.uuid4()}\nint main(int cpu) {{ return undefined_thing; }}\n")
    with pytest.raises(ToolchainError) as info:
        guest.build_baremetal(src)
    message = str(info.value)
    assert "broken.c" in message
    assert "undeclared identifier 'undefined_thing'" in message


def test_missing_source_and_wrong_suffix(tmp_path):
    with pytest.raises(ToolchainError, match="does not exist"):
        guest.build_program([tmp_path / "nowhere.c"])
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ToolchainError, match="not a C or assembly source"):
        guest.build_program([tmp_path / "notes.txt"])
    with pytest.raises(ToolchainError, match="no bare-metal program 'no-such-demo'"):
        guest.build_baremetal("no-such-demo")


def test_assemble_known_encodings():
    code = guest.assemble(
        """
        addiu $t0, $zero, 42
        lui   $t1, 0xbfd0
        mtc0  $t0, $12
        mfc0  $t1, $15, 1
        tlbwi
        tlbwr
        tlbp
        tlbr
        eret
        wait
        sync
        ll    $t0, 0($a0)
        sc    $t0, 0($a0)
        di
        ei
        jr    $ra
        nop
        """,
        base=BASE,
    )
    assert words(code) == [
        0x2408002A,  # addiu $t0, $zero, 42
        0x3C09BFD0,  # lui $t1, 0xbfd0
        0x40886000,  # mtc0 $t0, $12 (Status)
        0x40097801,  # mfc0 $t1, $15, 1 (EBase)
        0x42000002,  # tlbwi
        0x42000006,  # tlbwr
        0x42000008,  # tlbp
        0x42000001,  # tlbr
        0x42000018,  # eret
        0x42000020,  # wait
        0x0000000F,  # sync
        0xC0880000,  # ll
        0xE0880000,  # sc
        0x41606000,  # di
        0x41606020,  # ei
        0x03E00008,  # jr $ra
        0x00000000,  # nop
    ]


def test_assemble_keeps_delay_slots_as_written_and_resolves_against_base():
    code = guest.assemble(
        """
        b     1f
        addiu $t0, $t0, 1
        1:
        jal   0x80001000
        la    $t1, data
        data: .word 0x12345678
        """,
        base=BASE,
    )
    w = words(code)
    # noreorder: no nop was slipped into the branch's delay slot.
    assert w[0] == 0x10000001 and w[1] == 0x25080001
    assert w[2] == 0x0C000000 | ((BASE >> 2) & 0x3FFFFFF)
    data = BASE + 4 * 5
    assert w[3] == 0x3C090000 | (data >> 16)  # lui $t1, %hi(data)
    assert w[4] == 0x25290000 | (data & 0xFFFF)  # addiu $t1, $t1, %lo(data)
    assert w[5] == 0x12345678


def test_assemble_is_cached():
    snippet = f"addiu $t0, $zero, 7  # {uuid.uuid4()}\n"
    first = guest.assemble(snippet)
    start = time.perf_counter()
    assert guest.assemble(snippet) == first
    assert time.perf_counter() - start < 0.5


def test_assemble_error_raises_with_the_assemblers_message():
    with pytest.raises(ToolchainError) as info:
        guest.assemble("frobnicate $t0, $t1\n")
    assert "frobnicate" in str(info.value)
    with pytest.raises(ToolchainError, match="word-aligned"):
        guest.assemble("nop\n", base=0x80001002)
