"""The disco kernel's paravirtual parts: CP0 through the register page, and the
page allocator's hints (PAGE_FREED), docs/monitor-abi.md.

The native kernel's checksums are checked in test_disco_kernel.py; here, that
the paravirtual paths are the ones taken and that the hints give machine
memory back.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from disco_core.boot import _drive_vms, boot_vms, root_image, vm_specs
from disco_core.elf import load_elf
from disco_core.kernel import build_kernel, kernel_dir
from disco_core.machine import Machine
from disco_core.monitor import Monitor
from disco_core.monitor.pmap import NO_PAGE
from disco_core.monitor.vdisk import VirtualDisk
from disco_core.presets import preset
from tests.guest.checksums import expected_line

BUDGET = 3_000_000_000


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return root_image(tmp_path_factory.mktemp("regpage-kernel") / "root.img")


def test_the_kernel_reaches_page_registers_without_trapping(base):
    r = boot_vms("test", 1, ["pmake 4"], base, max_instructions=BUDGET)
    assert r.reason == "done", r.reports
    vm = r.vms[0]
    assert expected_line("pmake 4") in vm.output
    ex = {k: n for k, (n, _cycles) in vm.exits.items()}
    cp0_moves = sum(ex.get(k, 0) for k in ("mfc0", "mtc0", "di", "ei"))
    # before the register page this was about 170,000: every lock took two DI/EIs
    # and a Status read, every trap four MFC0s and two MTC0s, every refill five
    assert cp0_moves < 3000, ex
    assert ex.get("tlbwr", 0) > 50  # the refill handler still ends in TLBWR + ERET
    assert r.invariant_problems == []


def _in_use(vm) -> int:
    return sum(1 for m in vm.pmap.mpn if m != NO_PAGE)


def test_freed_pages_go_back_to_the_monitor(base):
    machine = Machine(preset("test"))
    disk = VirtualDisk.copy_on_write(base)
    try:
        mon = Monitor(machine)
        image = load_elf(build_kernel("disco"))
        vm = mon.create_vm(vm_specs(machine, image, 1, [disk])[0])  # type: ignore[arg-type]
        mon.start_vm(vm)
        assert _drive_vms(mon, [vm], [[]], BUDGET, time.perf_counter(), None).reason == "done"
        pages_booted, machine_booted = _in_use(vm), len(mon.memmap.entries)
        allocs = vm.pmap.allocations
        r = _drive_vms(mon, [vm], [["engineering 1"]], BUDGET, time.perf_counter(), None)
        assert r.reason == "done" and expected_line("engineering 1") in vm.console_text
        touched = vm.pmap.allocations - allocs
        assert touched > 500  # engineering touches megabytes
        # the processes exited: their pages were freed with PAGE_FREED and taken back
        assert vm.stats.count["page_freed"] > 500
        assert _in_use(vm) - pages_booted < touched // 4
        assert len(mon.memmap.entries) - machine_booted < touched // 4
        assert mon.check_invariants() == []
    finally:
        disk.close()
        machine.close()


def test_the_refill_vectors_fit_below_the_general_vector():
    # entry.S copies vec_refill to EBase + 0 and vec_general to EBase + 0x180
    for flavour in ("native", "disco"):
        img = load_elf(build_kernel(flavour))
        size = img.address_of("vec_refill_end") - img.address_of("vec_refill")
        assert 0 < size <= 0x180, (flavour, size)


def test_the_kernel_and_the_monitor_agree_on_the_layout():
    from disco_core.monitor import regpage as rp
    header = (kernel_dir() / "regpage.h").read_text()
    defines = {}
    for line in header.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "#define" and parts[1].startswith("RP_") \
                and "(" not in parts[1]:
            defines[parts[1][3:]] = int(parts[2], 0)
    assert defines == {name.upper(): word for name, word in rp.FIELDS.items()} | {
        "KSCRATCH": rp.KSCRATCH}
    assert f"#define REGPAGE_VA    {rp.REGPAGE_VA:#X}u".replace("0X", "0x") in header
