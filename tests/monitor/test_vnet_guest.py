"""The virtual network from the guest's side: the kernel's driver (net.c,
hal_net_disco.c), its system calls and the `net` utility, between VMs of the
disco kernel; natively the system calls report that there is no network."""

from __future__ import annotations

from pathlib import Path

import pytest

from disco_core import fsimage
from disco_core.boot import boot, boot_vms, root_image
from tests.guest.checksums import expected_line

BUDGET = 3_000_000_000


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return root_image(tmp_path_factory.mktemp("vnet") / "root.img")


def fnv1a(data: bytes) -> int:
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def test_a_file_goes_to_another_vm_and_back_intact(base):
    data = fsimage.read_file(base, "/raytrace")
    n, pages = len(data), len(data) // 4096
    assert pages >= 2 and n % 4096  # whole pages to remap and a tail to copy
    r = boot_vms("flash8", 2, base_image=base, max_instructions=BUDGET, vm_run=[
        ["net addr", "net send vm1 /raytrace", "net recv /back", "net send vm7 /README",
         "net send 0x1234 /README", "net send vm1 /missing", "net addr extra"],
        ["net addr", "net recv /got", "net send vm0 /got", "echo still here"],
    ])
    assert r.reason == "done", r.output
    assert r.invariant_problems == [] and r.reports == []
    vm0, vm1 = (v.output.splitlines() for v in r.vms)
    sum_ = f"(fnv1a {fnv1a(data):08x})"
    assert "0x0d150000 (vm0)" in vm0 and "0x0d150001 (vm1)" in vm1
    assert f"net: sent {n} bytes to 0x0d150001 {sum_}" in vm0
    assert f"net: received {n} bytes from 0x0d150000 into /got {sum_}" in vm1
    # vm1 sent back what it had written to its disk: the file system got it intact
    assert f"net: sent {n} bytes to 0x0d150000 {sum_}" in vm1
    assert f"net: received {n} bytes from 0x0d150001 into /back {sum_}" in vm0
    # garbage gets an error and the VMs go on
    assert "net: send to vm7: no such link address" in vm0
    assert "net: send to 0x1234: no such link address" in vm0
    assert "net: /missing: no such file or directory" in vm0
    assert "usage: net addr | net send ADDR FILE | net recv FILE" in vm0
    assert "still here" in vm1
    # the user's page-aligned buffers travelled by remapping, only the tails were copied
    for v in r.vms:
        assert v.exits["net_remap"][0] == pages and v.exits["net_pin"][0] == pages
        assert v.exits["net_copy"][0] == 2  # the tail: into the queue, out of it


def test_the_native_kernel_has_no_network(base):
    r = boot("test", run=["net addr", "net send vm1 /README", "net recv /x", "echo ok"],
             disk_image=base, persistent=False, max_instructions=BUDGET)
    out = r.output.splitlines()
    assert "net: addr: no such device" in out
    assert "net: send to vm1: no such device" in out
    assert "net: receive: no such device" in out
    assert "ok" in out


def test_transfers_between_two_cpu_vms_while_a_workload_runs(base):
    data = fsimage.read_file(base, "/raytrace")
    sum_ = f"{len(data)} bytes"
    r = boot_vms("flash8", 2, vcpus=2, base_image=base, max_instructions=BUDGET, vm_run=[
        ["pmake 4 & net send vm1 /raytrace; wait", "net recv /b"],
        ["pmake 4 & net recv /got; net send vm0 /got; wait"],
    ])
    assert r.reason == "done", r.output
    assert r.invariant_problems == [] and r.reports == []
    out0, out1 = (v.output.splitlines() for v in r.vms)
    check = f"(fnv1a {fnv1a(data):08x})"
    assert f"net: received {sum_} from 0x0d150001 into /b {check}" in out0
    assert f"net: received {sum_} from 0x0d150000 into /got {check}" in out1
    assert all(expected_line("pmake 4") in v.output for v in r.vms)
