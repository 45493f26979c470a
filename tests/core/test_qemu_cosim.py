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
    NOP,
    PROGRAM,
    Builder,
    PrivilegedGenerator,
    Program,
    encode,
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
