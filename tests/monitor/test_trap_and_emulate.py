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
