"""Isolation: a VM never sees another's memory, never reaches kseg0/kseg1, and its
user mode cannot run privileged instructions."""

from __future__ import annotations

import pytest

from disco_core.machine import Machine
from disco_core.monitor import Monitor
from tests.monitor import guests
from tests.monitor.conftest import disco_vm, run_disco, run_native


def test_scanning_all_guest_memory_never_sees_another_vms_data():
    m = Machine(cpus=2, ram_bytes=4 << 20)
    mon = Monitor(m)
    # one VM writes a secret and gives its pages back; one keeps its secret
    freer = disco_vm(mon, guests.WRITE_SECRET.replace("FREE", "1"), "freer", pages=96)
    keeper = disco_vm(mon, guests.WRITE_SECRET.replace("FREE", "0"), "keeper", pages=96)
    assert mon.run(50_000_000) == "stopped"
    assert freer.exit_code == 0 and keeper.exit_code == 0
    assert keeper.read_guest(0x10000, 4) == guests.MARKER.to_bytes(4, "little")
    scanners = [disco_vm(mon, guests.SCAN, f"scan{i}", pages=96) for i in range(2)]
    assert mon.run(200_000_000) == "stopped"
    for s in scanners:
        assert s.stop_reason == "exit(0)", s.stop_reason
    assert mon.memmap.zeroed_pages > 0  # the freed pages were reused, zeroed
    assert mon.check_invariants() == []


@pytest.mark.parametrize("addr,segment", [(0x80000000, "kseg0"), (0xBF000000, "kseg1"),
                                          (0xE0000000, "kseg3")])
def test_guest_kernel_cannot_reach_unmapped_segments(addr, segment):
    _mon, vm = run_disco(guests.KERNEL_TOUCH.replace("{ADDR}", hex(addr)))
    assert vm.exit_code is None
    assert segment in vm.stop_reason and "illegal" in vm.stop_reason


@pytest.mark.parametrize("user,code,badvaddr", [
    ("mtc0 $zero, $12", 11, None),  # Coprocessor Unusable
    ("tlbwi", 11, None),
    ("li $t0, 0xC0001000\n lw $t1, 0($t0)", 4, 0xC0001000),  # the guest kernel's memory
    ("li $t0, 0x80001000\n lw $t1, 0($t0)", 4, 0x80001000),
    ("break", 9, None),
    ("rdhwr $t0, $2", 10, None),  # HWREna does not allow it: Reserved Instruction
    ("b 1f\n syscall\n1: nop", 8, None),  # in a delay slot: EPC is the branch, BD set
])
def test_user_mode_faults_are_reflected_to_the_guest_kernel(user, code, badvaddr):
    body = guests.USER_FAULT.replace("{USER}", user)
    _mon, vm = run_disco(body)
    assert vm.stop_reason == "exit(0)", vm.stop_reason
    g = vm.vcpus[0].ctx.gpr
    native = run_native(body).cpus[0]
    assert (g[17] >> 2) & 0x1F == code
    assert g[17] == native.gpr[17] and g[18] == native.gpr[18]  # Cause, EPC
    if badvaddr is not None:
        assert g[20] == native.gpr[20] == badvaddr
