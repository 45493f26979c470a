"""Bulk reads and the live register view: the same values as the one-register calls."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from disco_core import mips
from disco_core.errors import DiscoError
from disco_core.guest import assemble
from disco_core.machine import CP0_VIEW, Machine, MachineConfig
from disco_core.testmachine import TestMachine

ROOT = Path(__file__).resolve().parents[2]
MAIN = 0x80001000

# Fills registers, HI/LO and a few TLB entries, then stops in a delay slot's
# neighbourhood so pc, npc and the delay-slot flag all say something.
PROGRAM = """
    .set noreorder
    li $t0, 0x12345678
    li $t1, 0x9abcdef0
    multu $t0, $t1
    li $s0, 3
    mtc0 $s0, $0                # Index
    li $s1, 0x00402000
    mtc0 $s1, $10               # EntryHi
    li $s2, 0x00001017
    mtc0 $s2, $2                # EntryLo0
    li $s3, 0x0000105f
    mtc0 $s3, $3                # EntryLo1
    tlbwi
    li $s4, 7
    mtc0 $s4, $0
    li $s5, 0x7fff0023
    mtc0 $s5, $10
    tlbwi
    li $sp, 0x80010000
1:  b 1b
    addiu $a0, $a0, 1
"""


def machine() -> TestMachine:
    tm = TestMachine(config=MachineConfig(cpus=2, ram_bytes=4 << 20, tlb_entries=16))
    tm.write_phys(MAIN & 0x1FFFFFFF, assemble(PROGRAM, base=MAIN))
    tm.cpus[0].pc = MAIN
    tm.run(1001)  # odd: the loop leaves CPU 0 in its delay slot
    return tm


def test_registers_reads_what_the_single_calls_read() -> None:
    tm = machine()
    cpu = tm.cpus[0]
    r = cpu.registers()
    assert r.gpr.tolist() == cpu.regs().tolist() == list(cpu.gpr)
    assert (r.pc, r.npc, r.hi, r.lo) == (cpu.pc, cpu.npc, cpu.hi, cpu.lo)
    assert (r.in_delay_slot, r.llbit) == (cpu.in_delay_slot, cpu.llbit)
    assert r.in_delay_slot and r.hi != 0 and r.gpr[mips.REG_SP] == 0x80010000
    for name, reg, sel, _ in CP0_VIEW:
        if (reg, sel) not in ((mips.RANDOM, 0), (mips.COUNT, 0)):  # they move with time
            assert r.cp0[reg, sel] == cpu.cp0(reg, sel), name
    assert dict(r.cp0_named())["EntryHi"] == 0x7FFF0023
    assert len(r.cp0) == len(CP0_VIEW)


def test_whole_tlb_in_one_call_equals_entry_by_entry() -> None:
    tm = machine()
    for cpu in tm.cpus:
        table = cpu.tlb()
        assert table.shape == (16, 4) and table.dtype == np.uint32
        assert [tuple(int(w) for w in row) for row in table] == [cpu.tlb(i) for i in range(16)]
    assert tm.cpus[0].tlb()[3, 0] == 0x00402000 and tm.cpus[0].tlb()[7, 0] == 0x7FFF0023


def test_single_registers_follow_the_machine_live() -> None:
    tm = machine()
    cpu = tm.cpus[0]
    a0 = cpu.gpr[mips.REG_A0]
    tm.run(2)  # one more trip round the loop
    assert cpu.gpr[mips.REG_A0] == a0 + 1
    cpu.hi, cpu.lo = 0xDEADBEEF, 0x0BADF00D
    cpu.gpr[0] = 5
    cpu.gpr[9] = 0xFFFFFFFF + 2  # masked to 32 bits
    assert (cpu.hi, cpu.lo, cpu.gpr[0], cpu.gpr[9]) == (0xDEADBEEF, 0x0BADF00D, 0, 1)
    r = cpu.context()
    assert (r.hi, r.lo, r.gpr[9]) == (0xDEADBEEF, 0x0BADF00D, 1)
    blob = tm.snapshot()
    cpu.hi = 0
    tm.restore(blob)
    assert cpu.hi == 0xDEADBEEF  # the view survives a restore
    with pytest.raises(IndexError):
        cpu.gpr[32]


def test_a_closed_machines_registers_are_refused() -> None:
    m = Machine(ram_bytes=1 << 20)
    cpu = m.cpus[0]
    m.close()
    for read in (lambda: cpu.pc, lambda: cpu.hi, lambda: cpu.gpr[1], cpu.regs):
        with pytest.raises(DiscoError, match="closed"):
            read()


def test_public_headers_are_all_in_the_cdef_and_cffi_parseable() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("dc_build", ROOT / "core_c" / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    on_disk = sorted(p.name for p in (ROOT / "core_c" / "include").glob("*.h"))
    assert sorted(build.HEADERS) == on_disk
    for name in on_disk:
        text = (ROOT / "core_c" / "include" / name).read_text()
        assert not re.search(r"^\s*#", text, re.M), f"{name}: no preprocessor lines for cffi"
    cdef = build.cdef()
    assert "dc_l2tlb_new" in cdef and "dc_regs_view" in cdef
