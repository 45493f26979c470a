"""A part of the QEMU co-simulation campaign (tests/core/qemu_cosim.py) in the suite.

QEMU (`qemu-system-mipsel`, Debian's qemu-system-mips) is installed by
scripts/debian-tools.sh; a machine without it fails here, it never skips.
"""

from __future__ import annotations

import random
import shutil

import pytest

from tests.core import qemu_cosim
from tests.core.privgen import (
    ADDR,
    EHB,
    ENTRYHI,
    ENTRYLO0,
    ENTRYLO1,
    NOP,
    PAGEMASK,
    PROGRAM,
    TLBWR,
    WIRED,
    Builder,
    Entry,
    PrivilegedGenerator,
    Program,
    encode,
    mtc0,
    region,
)


def test_qemu_is_installed() -> None:
    assert shutil.which(qemu_cosim.QEMU), \
        "qemu-system-mipsel missing: apt-get install qemu-system-mips (scripts/debian-tools.sh)"


def test_campaign_part_has_no_divergence() -> None:
    result = qemu_cosim.campaign(25_000, seed=17)
    assert not result.divergences, "\n\n".join(str(d) for d in result.divergences)
    assert result.instructions >= 25_000
    seen = result.seen
    # the programs reached what they are for (names as qemu_cosim counts them)
    for what in ("TLBL at the refill vector", "TLBS at the refill vector",
                 "TLBL at the general vector", "AdEL at the general vector",
                 "Sys at the general vector", "CpU at the general vector",
                 "exceptions in a delay slot", "steps in user mode",
                 "steps in supervisor mode"):
        assert seen[what] > 0, f"no {what} in the campaign: {dict(seen)}"
    assert any(k.endswith("(BEV)") for k in seen), seen
    assert any(k.startswith("Int at") for k in seen), seen
    assert any(k.startswith("Mod at") for k in seen), seen


def test_generator_is_deterministic() -> None:
    a, b = PrivilegedGenerator(3).program(5), PrivilegedGenerator(3).program(5)
    assert (a.code, a.user_code, a.touched) == (b.code, b.user_code, b.touched)
    assert PrivilegedGenerator(3).program(6).code != a.code


def _misaligned_sc_program() -> Program:
    """SC to a misaligned address with no LL before it: the architecture raises AdES
    (MD00086, SC), QEMU 7.2 lets the SC fail quietly (docs/qemu-cosim.md)."""
    b = Builder(random.Random(0), False, 0xFFFFF << 6)
    b.prologue()
    b.kernel_status()
    resume = b.resume_here()
    b.asm.li(ADDR, 0x8040_0002)
    b.asm.emit(encode("SC", rs=ADDR, rt=8))
    b.asm.place(resume)
    b.asm.place("end")
    b.asm.branch("BEQ", 0, 0, "end")
    b.asm.emit(NOP)
    return Program(-1, 0, b.asm.finish(), b.user.finish(), b.asm.labels["end"],
                   sorted(b.touched))


def test_harness_reports_a_real_difference() -> None:
    # the comparison must be able to fail: a known QEMU deviation the generator avoids
    sim = qemu_cosim.Cosim()
    try:
        div = sim.run(_misaligned_sc_program())
    finally:
        sim.close()
    assert div is not None
    text = str(div)
    assert "sc $t0, ($gp)" in text, text
    assert "badvaddr: ours 0x80400002, qemu 0x00000000" in text, text  # our AdES
    assert "cause: ours 0x00000014" in text, text
    assert div.pc >= PROGRAM


def _tlbwr_shadow_program() -> Program:
    """TLBWR replaces entry 15 (Wired = 15), then a load through the mapping it replaced:
    the architecture misses (TLB refill); QEMU 7.2 still translates through a hidden
    copy of the replaced entry (docs/qemu-cosim.md)."""
    b = Builder(random.Random(0), False, 0xFFFFF << 6)
    b.prologue()
    b.kernel_status()
    a = b.asm
    b.write_entry(15, Entry(0x1000, 0, b.entry_lo(0x40_0000, 0b110),
                            b.entry_lo(0x40_1000, 0b110)), region(15))
    for reg, value in ((WIRED, 15), (PAGEMASK, 0), (ENTRYHI, region(14)),
                       (ENTRYLO0, b.entry_lo(0x40_2000, 0b110)),
                       (ENTRYLO1, b.entry_lo(0x40_3000, 0b110))):
        a.li(8, value)
        a.emit(mtc0(8, reg))
    a.emit(EHB, TLBWR, EHB)
    resume = b.resume_here()
    a.li(ADDR, region(15) + 0x10)
    a.emit(encode("LW", rs=ADDR, rt=9))
    a.place(resume)
    a.place("end")
    a.branch("BEQ", 0, 0, "end")
    a.emit(NOP)
    return Program(-1, 1, a.finish(), b.user.finish(), a.labels["end"], sorted(b.touched))


def test_harness_reports_qemus_tlbwr_shadow() -> None:
    sim = qemu_cosim.Cosim()
    try:
        div = sim.run(_tlbwr_shadow_program())
    finally:
        sim.close()
    assert div is not None
    text = str(div)
    assert "lw $t1, ($gp)" in text, text
    assert "badvaddr: ours 0x20000010, qemu 0x00000000" in text, text  # our refill
    assert "cause: ours 0x00000008" in text, text  # TLBL


def test_command_line_prints_divergences(capsys: pytest.CaptureFixture[str]) -> None:
    assert qemu_cosim.main(["--instructions", "1500", "--seed", "4"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "divergences: 0"
    assert "instructions co-simulated" in lines[-2]


def test_command_line_rejects_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        qemu_cosim.main(["--instructions", "0"])
    assert exc.value.code == 2
    assert "--instructions must be positive" in capsys.readouterr().err
