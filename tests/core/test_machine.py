"""The machine API: determinism, slicing, snapshots, breakpoints, errors, memory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from disco_core.errors import ConfigError, DiscoError, GuestMemoryError, SnapshotError
from disco_core.guest import assemble
from disco_core.machine import ExitReason, Machine, MachineConfig, Ownership
from disco_core.testmachine import TestMachine

ROOT = Path(__file__).resolve().parents[2]
MAIN = 0x80001000
ITERATIONS = 300

# CPU 0 releases the other CPUs; every CPU adds 1 to a shared counter
# ITERATIONS times with LL/SC and mixes a per-CPU hash; CPU 0 waits for the
# total and halts with exit code 0.
SMP_PROGRAM = f"""
    .set noreorder
    lui $t9, 0xbfd0
    la $t0, worker
    sw $t0, 0x20($t9)           # START_PC
    lw $t2, 0x2c($t9)           # number of CPUs
    li $t1, 1
1:  beq $t1, $t2, 2f
    nop
    sw $t1, 0x28($t9)           # START_ARG
    sw $t1, 0x2c($t9)           # START_CPU
    b 1b
    addiu $t1, $t1, 1
2:  jal work
    li $a0, 0
    lw $t2, 0x2c($t9)
    li $t3, {ITERATIONS}
    mul $t3, $t3, $t2           # expected total
    la $t4, counter
3:  lw $t5, 0($t4)
    bne $t5, $t3, 3b
    nop
    sw $zero, 0x10($t9)         # exit 0
4:  b 4b
    nop

worker:
    jal work
    nop
5:  b 5b
    nop

work:                           # a0 = cpu number
    li $t6, {ITERATIONS}
    la $t4, counter
    la $t7, hashes
    sll $t8, $a0, 2
    addu $t7, $t7, $t8
    li $s0, 0x811c9dc5
6:  ll $t5, 0($t4)
    addiu $t5, $t5, 1
    sc $t5, 0($t4)
    beqz $t5, 6b
    nop
    xor $s0, $s0, $t6
    li $s1, 0x01000193
    mul $s0, $s0, $s1
    addiu $t6, $t6, -1
    bnez $t6, 6b
    nop
    jr $ra
    sw $s0, 0($t7)

    .align 4
counter: .word 0
hashes: .space 64
"""


def smp_machine(cpus: int = 4, quantum: int = 50, config: MachineConfig | None = None
                ) -> TestMachine:
    tm = TestMachine(config=config or MachineConfig(cpus=cpus, ram_bytes=8 << 20,
                                                     quantum=quantum))
    tm.write_phys(MAIN & 0x1FFFFFFF, assemble(SMP_PROGRAM, base=MAIN))
    tm.cpus[0].pc = MAIN
    return tm


def final_state(tm: TestMachine) -> tuple[str, tuple[int, ...]]:
    return tm.digest(), tuple(c.cycles for c in tm.cpus)


def test_smp_program_finishes_with_correct_counter() -> None:
    tm = smp_machine()
    ex = tm.run(10_000_000)
    # CPU 0 halts only once the LL/SC counter holds every CPU's increments
    assert ex.reason == ExitReason.HALT and ex.code == 0
    assert all(c.instructions > ITERATIONS * 5 for c in tm.cpus)


def test_two_runs_are_identical() -> None:
    states = []
    for _ in range(2):
        tm = smp_machine()
        assert tm.run(10_000_000).reason == ExitReason.HALT
        states.append(final_state(tm))
    assert states[0] == states[1]


@pytest.mark.parametrize("slices", [[1, 2, 3, 5000], [7] * 300, [12345], [999, 1, 1, 1, 4000]])
def test_run_split_equals_run_whole(slices: list[int]) -> None:
    whole = smp_machine()
    total = sum(slices)
    ex = whole.run(total)
    assert ex.executed == total
    split = smp_machine()
    for s in slices:
        assert split.run(s).executed == s
    assert final_state(split) == final_state(whole)


def test_snapshot_restore_continue_equals_uninterrupted() -> None:
    straight = smp_machine()
    straight.run(3000)
    straight.run(4000)
    tm = smp_machine()
    tm.run(3000)
    blob = tm.snapshot()
    tm.run(500)  # wander off, then come back
    tm.restore(blob)
    tm.run(4000)
    assert final_state(tm) == final_state(straight)
    # and into a brand new machine of the same configuration
    fresh = smp_machine()
    fresh.restore(blob)
    fresh.run(4000)
    assert final_state(fresh) == final_state(straight)


def test_damaged_snapshot_is_refused_and_machine_unchanged() -> None:
    tm = smp_machine()
    tm.run(2000)
    blob = bytearray(tm.snapshot())
    before = tm.digest()
    def flip(i: int) -> bytes:
        return bytes(blob[:i]) + bytes([blob[i] ^ 0xFF]) + bytes(blob[i + 1 :])

    for damage in (blob[:10], blob[:-1], flip(40), flip(len(blob) // 2), b"garbage"):
        with pytest.raises(SnapshotError, match="unchanged"):
            tm.restore(bytes(damage))
        assert tm.digest() == before


def test_snapshot_of_other_configuration_is_refused() -> None:
    blob = smp_machine(cpus=2).snapshot()
    tm = smp_machine(cpus=4)
    with pytest.raises(SnapshotError, match="another configuration"):
        tm.restore(blob)


def test_breakpoint_stops_before_instruction_and_resumes() -> None:
    tm = TestMachine(ram_bytes=1 << 20)
    code = assemble("""
        .set noreorder
        li $t0, 1
        li $t0, 2
        li $t0, 3
        lui $t9, 0xbfd0
        sw $t0, 0x10($t9)
    """, base=MAIN)
    tm.write_phys(MAIN & 0x1FFFFFFF, code)
    tm.cpus[0].pc = MAIN
    tm.add_breakpoint(MAIN + 8)
    ex = tm.run(100)
    assert ex.reason == ExitReason.BREAKPOINT and ex.pc == MAIN + 8
    assert tm.cpus[0].gpr[8] == 2
    ex = tm.run(100)  # resumes over the breakpoint
    assert ex.reason == ExitReason.HALT and ex.code == 3
    tm.remove_breakpoint(MAIN + 8)


def test_step_executes_exactly_one_instruction_including_delay_slots() -> None:
    tm = TestMachine(ram_bytes=1 << 20)
    code = assemble("""
        .set noreorder
        b 1f
        li $t0, 5
        li $t0, 6
    1:  li $t1, 7
    """, base=MAIN)
    tm.write_phys(MAIN & 0x1FFFFFFF, code)
    cpu = tm.cpus[0]
    cpu.pc = MAIN
    assert tm.step(0).executed == 1 and cpu.pc == MAIN + 4 and cpu.in_delay_slot
    assert tm.step(0).executed == 1 and cpu.pc == MAIN + 12 and cpu.gpr[8] == 5
    assert tm.step(0).executed == 1 and cpu.gpr[9] == 7


def test_stores_into_executed_code_are_noticed() -> None:
    tm = TestMachine(ram_bytes=1 << 20)
    # run `target` once (it returns 1), patch its first word to return 2, run it again
    code = assemble("""
        .set noreorder
        jal target
        nop
        move $s0, $v0
        la $t0, target
        lw $t1, 0($t0)
        addiu $t1, $t1, 1           # li $v0, 1 -> li $v0, 2
        sw $t1, 0($t0)
        jal target
        nop
        move $s1, $v0
        lui $t9, 0xbfd0
        sw $zero, 0x10($t9)
    target:
        li $v0, 1
        jr $ra
        nop
    """, base=MAIN)
    tm.write_phys(MAIN & 0x1FFFFFFF, code)
    tm.cpus[0].pc = MAIN
    assert tm.run(1000).reason == ExitReason.HALT
    assert (tm.cpus[0].gpr[16], tm.cpus[0].gpr[17]) == (1, 2)


def test_host_write_invalidates_decoded_code() -> None:
    tm = TestMachine(ram_bytes=1 << 20)
    one = assemble(".set noreorder\nli $t0, 1\nb .\nnop\n", base=MAIN)
    two = assemble(".set noreorder\nli $t0, 2\nb .\nnop\n", base=MAIN)
    tm.write_phys(MAIN & 0x1FFFFFFF, one)
    tm.cpus[0].pc = MAIN
    tm.run(10)
    assert tm.cpus[0].gpr[8] == 1
    tm.write_phys(MAIN & 0x1FFFFFFF, two)
    tm.cpus[0].pc = MAIN
    tm.run(10)
    assert tm.cpus[0].gpr[8] == 2


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [("cpus", 0, "1 to 64"), ("cpus", 65, "1 to 64"), ("ram_bytes", 1000, "multiple of 4096"),
     ("tlb_entries", 100, "4 to 64"), ("quantum", 0, "1 to 1000000")],
)
def test_impossible_configurations_are_refused(field: str, value: int, words: str) -> None:
    with pytest.raises(ConfigError, match=f"{field} = {value}.*{words}"):
        Machine(MachineConfig(**{field: value}))


def test_host_access_outside_ram_is_refused() -> None:
    m = Machine(ram_bytes=1 << 20)
    with pytest.raises(GuestMemoryError, match="not RAM"):
        m.read_phys((1 << 20) - 2, 4)
    with pytest.raises(GuestMemoryError):
        m.write_phys(0x1FD00000, b"x")


def test_overlapping_devices_are_refused() -> None:
    m = TestMachine(ram_bytes=1 << 20)
    with pytest.raises(GuestMemoryError, match="overlaps device"):
        m.map_device(0x1FD00008, 16, m.console)
    with pytest.raises(GuestMemoryError, match="overlaps RAM"):
        m.map_device(0x1000, 16, m.console)


def test_ram_above_the_device_window() -> None:
    m = Machine(ram_bytes=600 << 20)
    m.write_phys(0x20000000, b"high")
    assert m.read_phys(0x20000000, 4) == b"high"
    assert m.read_phys(0x1EFFFFFC, 4) == bytes(4)  # last low-RAM word
    with pytest.raises(GuestMemoryError):
        m.read_phys(0x1F000000, 4)


def test_large_machine_costs_only_touched_memory() -> None:
    def rss_kib() -> int:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]

    before = rss_kib()
    m = Machine(cpus=32, ram_bytes=8 << 30)
    m.write_phys(5 << 30, b"x" * 4096)
    assert rss_kib() - before < 64 * 1024
    m.close()


def test_mmio_read_reaches_the_register() -> None:
    tm = TestMachine(ram_bytes=1 << 20)
    tm.console.feed(b"A")
    code = assemble("""
        .set noreorder
        lui $t9, 0xbfd0
        lw $s0, 4($t9)              # 'A'
        lw $s1, 4($t9)              # -1: no more input
        sw $s0, 0x10($t9)
    """, base=MAIN)
    tm.write_phys(MAIN & 0x1FFFFFFF, code)
    tm.cpus[0].pc = MAIN
    ex = tm.run(100)
    assert ex.reason == ExitReason.HALT and ex.code == ord("A")
    assert tm.cpus[0].gpr[17] == 0xFFFFFFFF


def test_only_machine_module_imports_the_cffi_extension() -> None:
    for path in (ROOT / "disco_core").rglob("*.py"):
        if path.name != "machine.py":
            assert "_dc_cffi" not in path.read_text(), path


def test_disco_core_never_imports_qt() -> None:
    code = ("import sys, pkgutil, importlib, disco_core\n"
            "for m in pkgutil.walk_packages(disco_core.__path__, 'disco_core.'):\n"
            "    if not m.name.startswith('disco_core._dc_cffi'):\n"
            "        importlib.import_module(m.name)\n"
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'PyQt', 'pyqtgraph'))]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_charged_cycles_count_as_simulated_time() -> None:
    m = Machine(ram_bytes=1 << 20)
    m.cpus[0].charge(1234)
    assert m.cpus[0].cycles == 1234 and m.cpus[0].instructions == 0


WATCHED = """
    .set noreorder
    la $t0, data
    lw $t1, 0($t0)              # a read of the watched word
    sw $t1, 8($t0)              # same page, not watched
    li $t2, 77
    b 1f
    sw $t2, 0($t0)              # a write in a delay slot
1:  lw $t3, 4($t0)
    lui $t9, 0xbfd0
    sw $zero, 0x10($t9)
    .align 4
data: .word 5, 6, 0
"""


def test_write_watchpoint_stops_after_the_store() -> None:
    tm = TestMachine(ram_bytes=1 << 20)
    code = assemble(WATCHED, base=MAIN)
    tm.write_phys(MAIN & 0x1FFFFFFF, code)
    data = MAIN + len(code) - 12
    tm.cpus[0].pc = MAIN
    tm.add_watchpoint(data, 4, write=True)
    ex = tm.run(1000)
    assert ex.reason == ExitReason.WATCHPOINT and ex.watch is not None
    assert (ex.watch.va, ex.watch.is_write, ex.watch.value) == (data, True, 77)
    assert ex.watch.pc == MAIN + 24  # the store in the delay slot
    assert int.from_bytes(tm.read_phys(data & 0x1FFFFFFF, 4), "little") == 77
    assert tm.cpus[0].pc == MAIN + 28  # continues at the branch target
    assert tm.run(1000).reason == ExitReason.HALT
    tm.remove_watchpoint(data, 4, write=True)


def test_read_watchpoint_and_counts() -> None:
    tm = TestMachine(ram_bytes=1 << 20)
    code = assemble(WATCHED, base=MAIN)
    tm.write_phys(MAIN & 0x1FFFFFFF, code)
    data = MAIN + len(code) - 12
    tm.cpus[0].pc = MAIN
    tm.add_watchpoint(data, 4, read=True, write=False)
    ex = tm.run(1000)
    assert ex.reason == ExitReason.WATCHPOINT and ex.watch is not None
    assert (ex.watch.is_write, ex.watch.value, ex.executed) == (False, 5, 3)
    assert tm.cpus[0].gpr[9] == 5
    assert tm.run(1000).reason == ExitReason.HALT  # the write is not watched


def test_bad_watchpoints_are_refused() -> None:
    m = Machine(ram_bytes=1 << 20)
    with pytest.raises(DiscoError, match="not valid"):
        m.add_watchpoint(0x80001000, 0)
    with pytest.raises(DiscoError, match="no watchpoint"):
        m.remove_watchpoint(0x80001000, 4)


def test_run_cdata_returns_the_raw_exit_record() -> None:
    tm = TestMachine(ram_bytes=1 << 20)
    code = assemble("""
        .set noreorder
        lui $t9, 0xbfd0
        li $t0, 0x41
        sw $t0, 0($t9)              # console: served inside
        syscall
    """, base=MAIN)
    tm.write_phys(MAIN & 0x1FFFFFFF, code)
    tm.cpus[0].pc = MAIN
    tm.cpus[0].ownership = Ownership.MONITORED
    ex = tm.run_cdata(100)
    assert ExitReason(ex.reason) == ExitReason.EXCEPTION
    assert (ex.exception.code, ex.exception.pc) == (8, MAIN + 12)
    assert ex.executed == 3  # the instructions before the device access count too
    assert bytes(tm.console.output) == b"A"
