"""ASID remapping (`Monitor(asid_remap=True)`): machine ASIDs per (vCPU, guest
ASID) instead of a hardware TLB flush at every vCPU switch.

The kuseg entries of a vCPU survive while others run on its CPU; the global
ones (relocated kseg0, register page) do not; every VM still sees only its
own memory; running out of machine ASIDs flushes and starts over.
"""

from __future__ import annotations

import pytest

from disco_core.boot import boot_vms, root_image
from disco_core.machine import Machine
from disco_core.monitor import Monitor
from disco_core.monitor.l2tlb import GLOBAL
from tests.guest.checksums import expected_line
from tests.monitor.conftest import disco_vm

# Guest kernel code maps two user pages under ASID 5 (its data pages 4 and 5)
# and then, ROUNDS times, loads from both and yields the CPU to the other VM.
PINGPONG = """
start:
    li $t0, 0x00400005          # EntryHi: VA 0x00400000, ASID 5
    mtc0 $t0, $10
    li $t0, (4 << 6) | (3 << 3) | 6
    mtc0 $t0, $2
    li $t0, (5 << 6) | (3 << 3) | 6
    mtc0 $t0, $3
    mtc0 $zero, $5
    li $t0, 3
    mtc0 $t0, $0
    tlbwi
    li $s0, ROUNDS
    move $s1, $zero
    li $t1, 0x00400000
1:  lw $t2, 0($t1)
    lw $t3, 0x1000($t1)
    addu $s1, $s1, $t2
    addu $s1, $s1, $t3
    li $v0, 4                   # YIELD
    syscall
    addiu $s0, $s0, -1
    bnez $s0, 1b
    nop
    li $v0, 7
    move $a0, $s1
    syscall
    nop
"""


def _pingpong(remap: bool, rounds: int = 40):
    m = Machine(cpus=1, ram_bytes=16 << 20)
    mon = Monitor(m, asid_remap=remap)
    vms = []
    for i in range(2):
        vm = disco_vm(mon, PINGPONG.replace("ROUNDS", str(rounds)), f"vm{i}")
        vm.write_guest(0x4000, (i + 1).to_bytes(4, "little"))
        vm.write_guest(0x5000, (10 * (i + 1)).to_bytes(4, "little"))
        vms.append(vm)
    assert mon.run(50_000_000) == "stopped"
    return mon, vms, m


@pytest.mark.parametrize("remap", [False, True], ids=["flush", "asid_remap"])
def test_each_vm_reads_its_own_pages(remap):
    mon, vms, _m = _pingpong(remap)
    for i, vm in enumerate(vms):
        # the same VA and guest ASID in both VMs, different memory behind it
        assert vm.exit_code == 40 * 11 * (i + 1), vm.stop_reason
    assert mon.check_invariants() == []


def test_remapping_keeps_entries_across_switches():
    flush, fvms, fm = _pingpong(False)
    remap, rvms, rm = _pingpong(True)
    refills = [sum(vm.stats.count.get("l2tlb_refill", 0) for vm in v) for v in (fvms, rvms)]
    switches = [sum(vm.stats.count.get("switch", 0) for vm in v) for v in (fvms, rvms)]
    assert switches[0] == switches[1] >= 80  # the same schedule ...
    assert flush.switch_flushes >= 80 and remap.switch_flushes == 0
    assert refills[0] >= 70 and refills[1] <= 4, refills  # ... without the refills
    assert rm.cpus[0].cycles < fm.cpus[0].cycles


def test_running_out_of_machine_asids_flushes_and_starts_over():
    mon2 = Monitor(Machine(cpus=1, ram_bytes=16 << 20), asid_remap=True)
    vm = disco_vm(mon2, PINGPONG.replace("ROUNDS", "200"), "a")
    other = disco_vm(mon2, PINGPONG.replace("ROUNDS", "200"), "b")
    vm.write_guest(0x4000, (1).to_bytes(4, "little"))
    mon2.run(300)
    running = mon2.current[0]
    assert running is not None and mon2.hw_keys(0)
    for a in range(256):  # a guest cycling through ASIDs takes them all
        mon2.hw.asid(other.vcpus[0] if running.vm is vm else vm.vcpus[0], a)
    assert mon2.asid_recycles == 1
    assert not any(k[1] != GLOBAL for k in mon2.hw_keys(0))  # the TLB was flushed
    # the running vCPU got its current ASID back, and the hardware uses it
    cur = mon2.hw.masid[(running.gid, running.cp0.entryhi & 0xFF)]
    assert mon2.cpus[0].cp0(10) & 0xFF == cur
    assert mon2.run(50_000_000) == "stopped"
    assert vm.exit_code == 200 * 1 and other.exit_code == 0
    assert mon2.check_invariants() == []


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory):
    return root_image(tmp_path_factory.mktemp("asid-remap") / "root.img")


def test_the_disco_kernel_runs_with_remapping(base):
    work = ["raytrace 8", "database 1", "pmake 4"]
    r = boot_vms("test", 3, vm_run=[[w] for w in work], base_image=base,
                 max_instructions=3_000_000_000, monitor_options={"asid_remap": True})
    assert r.reason == "done", r.reports
    for vm, w in zip(r.vms, work, strict=True):
        assert expected_line(w) in vm.output
    assert r.invariant_problems == []
