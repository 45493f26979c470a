"""Many VMs at once (the paper's scalability runs): 32 disco kernels on flash32,
one per node, each at its shell prompt running a small command and passing a
file round a ring over the virtual network; a second run is identical to the
cycle. (8 VMs on flash8 running the workloads: test_disco_kernel.py,
test_vms_run_concurrently_on_flash8.) About 30 s of wall time for both runs."""

from __future__ import annotations

from disco_core import fsimage
from disco_core.boot import boot_vms, root_image
from tests.monitor.test_vnet_guest import fnv1a

N = 32


def _ring(base):
    return boot_vms("flash32", N, base_image=base, max_instructions=3_000_000_000, vm_run=[
        [f"echo hello from vm{i}", f"net send vm{(i + 1) % N} /README", "net recv /in"]
        for i in range(N)])


def test_32_vms_on_flash32_reach_the_shell_and_pass_a_file_round(tmp_path):
    base = root_image(tmp_path / "root.img")
    readme = fsimage.read_file(base, "/README")
    sum_ = f"(fnv1a {fnv1a(readme):08x})"
    r = _ring(base)
    assert r.reason == "done", r.output
    assert len(r.vms) == N and r.invariant_problems == [] and r.reports == []
    for i, v in enumerate(r.vms):
        lines = v.output.splitlines()
        assert v.reason == "done" and v.prompt_cycles is not None
        assert f"hello from vm{i}" in lines
        assert (f"net: received {len(readme)} bytes from 0x{0x0D150000 | (i - 1) % N:08x}"
                f" into /in {sum_}") in lines
        # an even share of the 1 GiB: (262144 - 64 monitor pages) / 32 = 8190 pages
        assert "disco-unix: 1 cpus on 1 nodes, 31 MiB, 200 MHz" in lines
    again = _ring(base)
    assert again.output == r.output and again.cycles == r.cycles
    assert [v.command_cycles for v in again.vms] == [v.command_cycles for v in r.vms]
    assert [v.exits for v in again.vms] == [v.exits for v in r.vms]
