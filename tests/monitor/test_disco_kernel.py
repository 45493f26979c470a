"""The disco flavour of the guest kernel as virtual machines under the monitor.

The real kernel (resources/guest/kernel/, hal_disco.c) boots to its shell in
VMs whose root disks are copy-on-write over one base image; the answers must
be the native kernel's (tests/guest/checksums.py). Also the monitor's device
calls (DISK_*, RTC, INFO clock) on a small assembled guest, and vdisk alone.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from disco_core import fsimage
from disco_core.boot import boot, boot_vms, root_image
from disco_core.cli import main
from disco_core.devices.disk import DiskImageLockedError
from disco_core.elf import load_elf
from disco_core.errors import DiscoError
from disco_core.kernel import build_kernel
from disco_core.machine import Machine
from disco_core.monitor import Monitor
from disco_core.monitor.monitor import RTC_EPOCH
from disco_core.monitor.vdisk import SECTOR_SIZE, VirtualDisk
from tests.guest.checksums import SMALL, expected_line
from tests.guest.test_kernel import ktest_elf
from tests.monitor.conftest import disco_vm

ERR = 0xFFFFFFFF
BUDGET = 3_000_000_000


def _sectors(n: int) -> bytes:
    return b"".join(bytes([i]) * SECTOR_SIZE for i in range(n))


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One shared root image; every test checks it is never written."""
    return root_image(tmp_path_factory.mktemp("disco-kernel") / "root.img")


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


# ---- vdisk -----------------------------------------------------------------------------------

def test_copy_on_write_disks_keep_their_writes_apart(tmp_path):
    img = tmp_path / "base.img"
    img.write_bytes(_sectors(16))
    a, b = VirtualDisk.copy_on_write(img), VirtualDisk.copy_on_write(img)
    a.write(3, b"\xaa" * SECTOR_SIZE)
    assert a.read(3, 1) == b"\xaa" * SECTOR_SIZE and a.copy_on_write_sectors == 1
    assert b.read(3, 1) == bytes([3]) * SECTOR_SIZE and b.copy_on_write_sectors == 0
    a.close()
    b.close()
    assert img.read_bytes() == _sectors(16)  # the base is never written


def test_persistent_disk_is_exclusive_and_written_through(tmp_path):
    img = tmp_path / "own.img"
    img.write_bytes(_sectors(8))
    d = VirtualDisk.persistent(img)
    with pytest.raises(DiskImageLockedError):
        VirtualDisk.persistent(img)
    d.write(1, b"\x55" * SECTOR_SIZE)
    assert img.read_bytes()[SECTOR_SIZE:2 * SECTOR_SIZE] == b"\x55" * SECTOR_SIZE
    assert d.valid(0, 8) and not d.valid(7, 2) and not d.valid(0, 0)
    d.close()


# ---- the device calls on a small guest -------------------------------------------------------

DEVICE_CALLS = """
start:
    li $s0, {KB} + 0x5000
    li $v0, 10              # DISK_INFO unit 0, then unit 1 (none)
    li $a0, 0
    syscall
    sw $v0, 0($s0)
    li $v0, 10
    li $a0, 1
    syscall
    sw $v0, 4($s0)
    li $v0, 11              # DISK_READ sector 2 to guest-physical 0x6000
    li $a0, 2
    li $a1, 0x6000
    li $a2, 1
    li $a3, 0
    syscall
    sw $v0, 8($s0)
    li $v0, 12              # DISK_WRITE it to sector 5 (a relocated-kseg0 address)
    li $a0, 5
    li $a1, {KB} + 0x6000
    li $a2, 1
    li $a3, 0
    syscall
    sw $v0, 12($s0)
    li $v0, 11              # beyond the disk
    li $a0, 1000
    li $a1, 0x6000
    li $a2, 1
    li $a3, 0
    syscall
    sw $v0, 16($s0)
    li $v0, 11              # beyond the VM's memory
    li $a0, 0
    li $a1, 0x1FF00
    li $a2, 4
    li $a3, 0
    syscall
    sw $v0, 20($s0)
    li $v0, 8               # INFO 4: the clock
    li $a0, 4
    syscall
    sw $v0, 24($s0)
    li $v0, 15              # RTC
    syscall
    sw $v0, 28($s0)
    li $v0, 14              # IPI_ACK
    syscall
    sw $v0, 32($s0)
    {DONE}
"""


def test_disk_calls_move_sectors_between_the_disk_and_guest_memory(tmp_path):
    img = tmp_path / "base.img"
    img.write_bytes(_sectors(16))
    disk, other = VirtualDisk.copy_on_write(img), VirtualDisk.copy_on_write(img)
    m = Machine(cpus=1, ram_bytes=1 << 20)
    mon = Monitor(m)
    vm = disco_vm(mon, DEVICE_CALLS, pages=32, disks=[disk])
    assert mon.run(10_000_000) == "stopped" and vm.stop_reason == "exit(0)"
    w = [int.from_bytes(vm.read_guest(0x5000 + 4 * i, 4), "little") for i in range(9)]
    assert w[:6] == [16, ERR, 0, 0, ERR, ERR]
    assert w[6] == m.config.clock_hz and w[7] == RTC_EPOCH and w[8] == 0
    assert vm.read_guest(0x6000, SECTOR_SIZE) == bytes([2]) * SECTOR_SIZE
    assert disk.read(5, 1) == bytes([2]) * SECTOR_SIZE      # this VM's copy
    assert other.read(5, 1) == bytes([5]) * SECTOR_SIZE     # nobody else's
    disk.close()
    other.close()
    assert img.read_bytes() == _sectors(16)
    assert mon.check_invariants() == []


# ---- the kernel ------------------------------------------------------------------------------

def test_disco_kernel_is_linked_in_the_relocated_kseg0():
    image = load_elf(build_kernel("disco"))
    assert image.entry == 0xC0010000
    assert all(0xC0000000 <= s.vaddr < 0xE0000000 for s in image.segments)
    assert load_elf(build_kernel("native")).entry == 0x80010000


SHELL = ["echo hello world", "ls", "echo one two three | wc", "cat README | wc -l"]


@pytest.fixture(scope="module", params=["test", "flash8"])
def one_vm(request, base):
    before = _digest(base)
    r = boot_vms(request.param, 1, SHELL + list(SMALL), base, max_instructions=BUDGET)
    assert _digest(base) == before
    return r


def test_one_vm_boots_to_the_shell(one_vm):
    assert one_vm.reason == "done", one_vm.output
    (vm,) = one_vm.vms
    assert vm.reason == "done" and vm.prompt_cycles is not None
    assert "disco-unix: 1 cpus" in vm.output
    lines = vm.output.splitlines()
    assert "hello world" in lines
    assert any(line.split()[:2] == ["sh", "file"] for line in lines)  # ls
    assert "1 3 14" in lines  # the pipe
    assert one_vm.output.startswith("[vm0] ")


def test_one_vm_runs_the_workloads_with_the_native_checksums(one_vm):
    out = one_vm.vms[0].output
    for command in SMALL:
        assert expected_line(command) in out, out


def test_one_vm_exits_fall_in_the_papers_categories(one_vm):
    stats = one_vm.vms[0].stats
    assert stats["privileged"][0] > 0 and stats["tlb_write"][0] > 0
    assert stats["monitor_call"][0] > 0 and stats["kernel_tlb_fault"][0] > 0


@pytest.mark.parametrize("n", [2, 4, 8])
def test_vms_run_concurrently_on_flash8(base, n):
    work = list(SMALL)
    before = _digest(base)
    r = boot_vms("flash8", n, vm_run=[[work[i % len(work)], "echo done"] for i in range(n)],
                 base_image=base, max_instructions=BUDGET)
    assert r.reason == "done", r.output
    assert r.invariant_problems == [] and r.reports == []
    for i, vm in enumerate(r.vms):
        assert expected_line(work[i % len(work)]) in vm.output
        assert "done" in vm.output.splitlines()
    assert _digest(base) == before


def test_vms_time_share_one_cpu(base):
    work = list(SMALL)
    r = boot_vms("test", 4, vm_run=[[w, "ls | wc"] for w in work], base_image=base,
                 max_instructions=BUDGET)
    assert r.reason == "done" and r.invariant_problems == [], r.output
    for w, vm in zip(work, r.vms, strict=True):
        assert expected_line(w) in vm.output
        assert vm.exits["switch"][0] > 1  # it left the CPU and came back


def test_smp_vms_run_background_jobs_on_both_vcpus(base):
    r = boot_vms("flash8", 2, ["pmake 4 & raytrace 8 & wait", "echo ok"], base, vcpus=2,
                 max_instructions=BUDGET)
    assert r.reason == "done", r.output
    for vm in r.vms:
        assert "disco-unix: 2 cpus" in vm.output
        assert expected_line("pmake 4") in vm.output and expected_line("raytrace 8") in vm.output
        assert "ok" in vm.output.splitlines()


def test_identical_runs_take_identical_cycles(base):
    def once():
        r = boot_vms("flash8", 2, ["echo x", "pmake 4"], base, max_instructions=BUDGET)
        assert r.reason == "done"
        assert all(expected_line("pmake 4") in v.output for v in r.vms)
        return (r.cycles, [(v.prompt_cycles, v.command_cycles, v.stats) for v in r.vms])

    assert once() == once()


def test_a_write_in_one_vm_is_not_seen_by_another(base):
    before = _digest(base)
    r = boot_vms("flash8", 2, base_image=base, max_instructions=BUDGET, vm_run=[
        ["echo secret > note", "cat note", "echo hi >> README"],
        ["engineering 1", "cat note", "cat README | wc -l"],
    ])
    assert r.reason == "done", r.output
    a, b = r.vms
    assert "secret" in a.output.splitlines() and a.disk_writes > 0
    assert "secret" not in b.output
    assert expected_line("engineering 1") in b.output
    assert _digest(base) == before
    # the README line count in vm1 is the base's: vm0's append stayed in vm0's disk
    native = boot("test", run=["cat README | wc -l"], disk_image=base, persistent=False)
    assert native.output.splitlines()[-2] in b.output.splitlines()


def test_boot_native_false_and_the_cli(base, capsys):
    r = boot("test", native=False, run=["echo via boot"], disk_image=base, persistent=False,
             vms=1)
    assert r.reason == "done" and "via boot" in r.vms[0].output.splitlines()
    assert main(["boot", "--machine", "test", "--vms", "2", "--disk", str(base),
                 "--run", "echo cli"]) == 0
    out = capsys.readouterr().out
    assert "[vm0] cli" in out and "[vm1] cli" in out
    assert "monitor_call" in out and "tlbwr" in out  # the category and exit-kind tables
    assert main(["boot", "--machine", "test", "--vms", "1", "--disk", str(base), "--json",
                 "--run", "echo j"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["reason"] == "done" and "[vm0] j" in doc["output"].splitlines()
    assert doc["vms"][0]["stats"]["monitor_call"][0] > 0


def test_a_panicking_or_exiting_vm_stops_alone(tmp_path):
    base = fsimage.build_root_image(tmp_path / "root.img", extra_files={"ktest": ktest_elf()})
    kernel = build_kernel("disco", defines={"KERNEL_DEBUG": None})
    r = boot_vms("flash8", 3, base_image=base, kernel=kernel, max_instructions=BUDGET,
                 vm_run=[["ktest kpanic"], ["poweroff 7"], ["engineering 1", "echo alive"]])
    panicked, exited, alive = r.vms
    assert panicked.reason.startswith("guest panic: kernel panic")
    assert "panic: sys_debug: deliberate panic" in panicked.output
    assert panicked.backtrace[0].split()[1].startswith("sys_debug")
    assert exited.reason == "exit(7)" and exited.exit_code == 7
    assert alive.reason == "done" and "alive" in alive.output.splitlines()
    assert expected_line("engineering 1") in alive.output
    assert r.invariant_problems == []


def test_persistent_disks_are_each_vms_own(base, tmp_path):
    images = [tmp_path / f"vm{i}.img" for i in range(2)]
    for p in images:
        p.write_bytes(base.read_bytes())
    r = boot_vms("flash8", 2, vm_disks=images, max_instructions=BUDGET,
                 vm_run=[["echo kept > note"], ["echo other > note"]])
    assert r.reason == "done", r.output
    with pytest.raises(DiskImageLockedError):  # exclusive while a VM has it
        boot_vms("test", 2, vm_disks=[images[0], images[0]], run=["echo x"])
    r = boot_vms("test", 2, vm_disks=images, run=["cat note"], max_instructions=BUDGET)
    assert "kept" in r.vms[0].output.splitlines() and "kept" not in r.vms[1].output
    assert "other" in r.vms[1].output.splitlines()


def test_impossible_requests_are_clear_errors(base):
    with pytest.raises(DiscoError, match="at least one VM"):
        boot_vms("test", 0, base_image=base)
    with pytest.raises(DiscoError, match="do not fit"):
        boot_vms("test", 32, base_image=base)
    with pytest.raises(DiscoError, match="copy-on-write"):
        boot("test", native=False, disk_image=base)  # persistent by default
