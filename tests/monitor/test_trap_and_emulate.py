"""Trap-and-emulate and reflection agree with the bare machine."""

from __future__ import annotations

from tests.monitor import guests
from tests.monitor.conftest import run_disco, run_native


def test_syscall_roundtrip_matches_native():
    mon, vm = run_disco(guests.SYSCALL_ROUNDTRIP)
    assert vm.stop_reason == "exit(0)" and vm.exit_code == 0
    native = run_native(guests.SYSCALL_ROUNDTRIP).cpus[0]
    got = vm.vcpus[0].ctx.gpr
    # s0: the syscall's result; s1: Cause; s2: EPC (of the second syscall); s3: Status
    assert got[16] == 41
    assert got[17] == 8 << 2
    for r in (16, 17, 18, 19):
        assert got[r] == native.gpr[r], f"${r}: disco {got[r]:#x} native {native.gpr[r]:#x}"
    s = vm.stats.count
    assert s["tlbwi"] == 1 and s["eret"] == 2 and s["reflect"] == 2
    assert mon.check_invariants() == []


def test_every_privileged_instruction_matches_native():
    mon, vm = run_disco(guests.PRIVILEGED)
    assert vm.stop_reason == "exit(0)", vm.stop_reason
    native = run_native(guests.PRIVILEGED)
    raw = native.read_phys(0x5000, 4096)
    words_native = [int.from_bytes(raw[i:i + 4], "little") for i in range(0, 4096, 4)]
    n = next(i for i, w in enumerate(words_native) if w == 4 * i) + 1  # the last word: its offset
    got = vm.read_guest(0x5000, 4 * n)
    words = [(int.from_bytes(got[i:i + 4], "little"), words_native[i // 4])
             for i in range(0, 4 * n, 4)]
    assert n == 40
    diffs = [(i * 4, f"{g:#x}", f"{w:#x}") for i, (g, w) in enumerate(words) if g != w]
    assert diffs == []
    assert any(g for g, _ in words)
    assert {"mtc0", "mfc0", "tlbwi", "tlbp", "tlbr", "di", "ei", "rdhwr", "cache"} <= set(
        vm.stats.count)


def test_privileged_instructions_in_delay_slots():
    _mon, vm = run_disco(guests.DELAY_SLOTS)
    assert vm.stop_reason == "exit(0)"
    native = run_native(guests.DELAY_SLOTS)
    assert vm.read_guest(0x5000, 12) == native.read_phys(0x5000, 12)
    assert vm.read_guest(0x5000, 4) == (0x80003000).to_bytes(4, "little")


def test_software_interrupt_is_taken_after_the_mtc0():
    _mon, vm = run_disco(guests.SOFT_INTERRUPT)
    assert vm.stop_reason == "exit(0)"
    native = run_native(guests.SOFT_INTERRUPT).cpus[0]
    g = vm.vcpus[0].ctx.gpr
    for r in (17, 19, 20):  # s1 Cause, s3 (not yet set), s4 Status (EXL)
        assert g[r] == native.gpr[r], (r, hex(g[r]), hex(native.gpr[r]))
    # s2: EPC, the instruction after the MTC0, in each one's kernel segment
    assert g[18] - guests.DISCO_KB == native.gpr[18] - guests.NATIVE_KB
    assert g[17] & 0x7C == 0 and g[19] == 0


def test_wait_with_a_pending_interrupt_falls_through():
    _mon, vm = run_disco(guests.WAIT_PENDING)
    assert vm.stop_reason == "exit(0)"
    native = run_native(guests.WAIT_PENDING).cpus[0]
    g = vm.vcpus[0].ctx.gpr
    assert g[19] == native.gpr[19] == 1  # s3: the interrupt came after "li $s3, 1"
    assert g[17] == native.gpr[17]
    assert g[18] - guests.DISCO_KB == native.gpr[18] - guests.NATIVE_KB


def test_cause_dc_stops_the_virtual_count_as_the_real_one():
    """Cause.DC under the monitor: the virtual Count stands still and its timer holds
    back, as on the bare machine (docs/qemu-cosim.md, divergence 1)."""
    _mon, vm = run_disco(guests.COUNT_DISABLE)
    assert vm.stop_reason == "exit(0)", vm.stop_reason
    native = run_native(guests.COUNT_DISABLE).cpus[0]
    for g in (vm.vcpus[0].ctx.gpr, native.gpr):
        assert g[16] & 0x0800_0000, "Cause.DC did not stick"
        assert g[18] == g[17], "Count ran while Cause.DC was set"
        assert 0 < (g[19] - g[18]) & 0xFFFFFFFF < 4000, "Count did not go on"
        assert g[22] == 0 and g[23] == 1, "the timer fired while Count stood still"
