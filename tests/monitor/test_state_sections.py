"""The monitor's state sections (disco_core/monitor/sections.py, docs/monitor-layout.md).

Save → load into a fresh monitor → continue gives what the saved monitor gives
when it continues: on the default session's configuration (four VMs on flash8 in
timing mode, the NUMA manager migrating and replicating, Disco's sharing), with
a workload typed into the VMs. Each part's section also round-trips alone, and
a section of the wrong name or version, or a malformed one, is refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from disco_core.boot import root_image, vm_specs
from disco_core.elf import ElfImage, load_elf
from disco_core.errors import SnapshotError
from disco_core.kernel import build_kernel
from disco_core.machine import Machine
from disco_core.monitor import Monitor, RunResult, VMSpec
from disco_core.monitor.events import EventKind, EventLog
from disco_core.monitor.l2tlb import L2Tlb
from disco_core.monitor.memmap import PAGE, MemMap
from disco_core.monitor.numa import NumaManager, NumaParams
from disco_core.monitor.stats import StatKind, Stats
from disco_core.monitor.vdisk import VirtualDisk
from disco_core.monitor.vnet import LINK_BASE, MORE, VNet
from disco_core.presets import preset
from tests.monitor import guests

VMS = 4
BOOT_CHUNK = 1_000_000
COMMANDS = [b"ls\n", b"pmake 1\n", b"ps\n", b"ls src\n"]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[ElfImage, Path]:
    return (load_elf(build_kernel("disco")),
            root_image(tmp_path_factory.mktemp("state-sections") / "root.img"))


class Session:
    """The default session's machine and monitor, built the way session.vms_session does."""

    def __init__(self, image: ElfImage, base: Path, start: bool = True) -> None:
        self.disks = [VirtualDisk.copy_on_write(base) for _ in range(VMS)]
        self.machine = Machine(preset("flash8", hot_threshold=NumaParams().hot_threshold))
        assert self.machine.timing
        self.mon = Monitor(self.machine, numa_policy="migrate_replicate", sharing="disco")
        self.vms = [self.mon.create_vm(s)  # type: ignore[arg-type]
                    for s in vm_specs(self.machine, image, VMS, self.disks)]
        if start:
            for vm in self.vms:
                self.mon.start_vm(vm)

    def close(self) -> None:
        for d in self.disks:
            d.close()
        self.machine.close()

    def observed(self) -> dict[str, Any]:
        """What a user can see: time, output, statistics."""
        mon = self.mon
        return {
            "cycles": [c.cycles for c in self.machine.cpus],
            "instructions": [c.instructions for c in self.machine.cpus],
            "console": [bytes(vm.console_out) for vm in self.vms],
            "stats": [vm.stats.as_dict() for vm in self.vms],
            "exits": (mon.exits, mon.exits_in_c),
            "numa": mon.numa.stats.as_dict(), "sharing": mon.sharing_stats(),
            "events": dict(mon.events.counts), "digest": self.machine.digest(),
        }


def _boot_and_type(s: Session) -> None:
    """Boot to every VM's prompt, type a workload into each and let it start."""
    for _ in range(40):
        if all(b"$ " in vm.console_out for vm in s.vms):
            break
        s.mon.run(BOOT_CHUNK)
    else:
        pytest.fail("the VMs did not reach their prompts")
    for vm, cmd in zip(s.vms, COMMANDS, strict=True):
        s.mon.console_input(vm, cmd)
    assert s.mon.run(1_500_000) == RunResult.BUDGET


def _plain(x: object, where: str = "state") -> None:
    """Sections are plain data: JSON types and bytes only."""
    if isinstance(x, dict):
        for k, v in x.items():
            assert isinstance(k, str), f"{where}: key {k!r}"
            _plain(v, f"{where}.{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            _plain(v, f"{where}[{i}]")
    else:
        assert x is None or type(x) in (int, bool, str, bytes, float), f"{where}: {type(x)}"


def _json(x: object) -> str:
    return json.dumps(x, default=lambda b: b.hex(), sort_keys=True)


def test_save_load_continue_equals_the_saved_monitor_continuing(kernel):
    image, base = kernel
    a = Session(image, base)
    b = Session(image, base, start=False)
    try:
        _boot_and_type(a)
        blob = a.machine.snapshot()
        state = a.mon.state()
        _plain(state)
        json.dumps(state, default=lambda b: b.hex())  # msgpack- or JSON-able
        b.machine.restore(blob)
        b.mon.load_state(state)
        assert _json(b.mon.state()) == _json(state)
        assert b.observed() == a.observed()
        for _ in range(3):
            ra, rb = a.mon.run(1_000_000), b.mon.run(1_000_000)
            assert ra == rb
            assert b.observed() == a.observed()
        assert _json(b.mon.state()) == _json(a.mon.state())
        assert a.mon.numa.stats.replications > 0 and a.mon.sharing_stats()["shares"] > 0
        assert any(d.copy_on_write_sectors for d in b.disks)  # pmake wrote its disk
        assert all(vm.running for vm in a.vms) and not a.mon.check_invariants()
        assert b.mon.check_invariants() == []
    finally:
        a.close()
        b.close()


def test_a_restored_monitor_runs_as_an_uninterrupted_one(kernel):
    image, base = kernel
    a, c = Session(image, base), Session(image, base)
    b = Session(image, base, start=False)
    try:
        _boot_and_type(a)
        _boot_and_type(c)
        b.machine.restore(a.machine.snapshot())
        b.mon.load_state(a.mon.state())
        b.mon.run(2_000_000)
        c.mon.run(2_000_000)
        assert b.observed() == c.observed()
    finally:
        for s in (a, b, c):
            s.close()


# ---- each part alone -------------------------------------------------------------------------

def _two_vm_monitor(sharing: str = "both", start: bool = True,
                    **options: Any) -> tuple[Monitor, Any, Any]:
    """Two small VMs that ran a while (pages touched, L2TLBs full, events logged)."""
    m = Machine(cpus=2, ram_bytes=16 << 20)
    mon = Monitor(m, sharing=sharing, **options)
    # refills, TLB writes and a user loop that goes on (100000 rounds over 32 pages)
    body = guests.REFILL_COUNTING.replace(f"li $s1, {guests.ROUNDS}", "li $s1, 100000")
    code = guests.build(body, guests.DISCO_KB)
    vms = []
    for name in ("a", "b"):
        vm = mon.create_vm(VMSpec(name, memory_pages=64, image=[(guests.CODE_PA, code)],
                                  entry=guests.DISCO_KB + guests.CODE_PA, l2tlb_size=16))
        vms.append(vm)
    if start:
        for vm in vms:
            mon.start_vm(vm)
        mon.run(200_000)
    return mon, vms[0], vms[1]


@pytest.mark.parametrize("options", [{"asid_remap": True}, {"assists": False},
                                     {"sharing": "content"}],
                         ids=["asid_remap", "no_assists", "content_sharing"])
def test_other_monitor_options_continue_alike_after_a_load(options):
    a, *_ = _two_vm_monitor(**options)
    b, *_ = _two_vm_monitor(start=False, **options)
    b.m.restore(a.m.snapshot())
    b.load_state(a.state())
    for _ in range(3):
        assert a.run(150_000) == b.run(150_000)
        assert [c.cycles for c in a.cpus] == [c.cycles for c in b.cpus]
        assert [vm.stats.as_dict() for vm in a.vms] == [vm.stats.as_dict() for vm in b.vms]
        assert a.m.digest() == b.m.digest()
    assert _json(a.state()) == _json(b.state())


def test_every_part_round_trips_into_a_fresh_instance():
    mon, a, b = _two_vm_monitor()
    assert mon.assist is not None
    kseg = mon.assist.state()
    assert any(pairs for _vm, pairs in kseg["kseg"])  # kernel pairs known in C
    mon.assist.load_state(kseg)
    assert mon.assist.state() == kseg
    # something in the network's queue, half a message gathered, pages pinned
    for vm in (a, b):
        vm.write_guest(0x8000, bytes(range(256)) * 16)
    assert mon.vnet.send(a, LINK_BASE | 1, 0x8000, PAGE + 100) == 0
    assert mon.vnet.send(b, LINK_BASE | 0, 0x8000, 300, MORE) == 0
    mon.contentshare.scan(64)  # type: ignore[union-attr]

    def same(part: Any, into: Any) -> None:
        saved = part.state()
        _plain(saved)
        into.load_state(saved)
        assert _json(into.state()) == _json(saved)

    # a fresh monitor built the same way: every part of it loads its twin's section
    fresh, fa, fb = _two_vm_monitor(start=False)
    same(mon.memmap, fresh.memmap)
    for vm, fvm in ((a, fa), (b, fb)):
        same(vm.pmap, fvm.pmap)
        same(vm.stats, fvm.stats)
        for v, fv in zip(vm.vcpus, fvm.vcpus, strict=True):
            same(v.l2tlb, fv.l2tlb)
            saved = v.save_state()
            fv.load_state(saved)
            assert _json(fv.save_state()) == _json(saved)
        for d, fd in zip(vm.disks, fvm.disks, strict=True):
            same(d, fd)
        saved = vm.save_state()
        fvm.load_state(saved)
        assert _json(fvm.save_state()) == _json(saved)
    for name in ("events", "hw", "sched", "numa", "diskcache", "contentshare", "vnet",
                 "assist"):
        same(getattr(mon, name), getattr(fresh, name))
    # and standalone instances, for the parts that need no monitor
    same(mon.events, EventLog())
    same(a.stats, Stats())
    same(a.vcpus[0].l2tlb, L2Tlb(a.vcpus[0].l2tlb.size))
    same(mon.memmap, MemMap(mon.m, mon.m.config.ram_bytes, mon.m.config.nodes))
    same(mon.numa, NumaManager(fresh.ctx))
    same(mon.vnet, VNet(fresh.ctx))
    assert mon.vnet.queues and mon.vnet.gathering


def test_the_c_tables_are_rebuilt_from_the_python_state():
    mon, a, _b = _two_vm_monitor("disco")
    assert mon.assist is not None
    v = a.vcpus[0]
    handle = mon.assist.l2[v.gid]
    before = sorted(mon.m.l2tlb_dump(handle))
    assert before
    mon.m.l2tlb_clear(handle)
    mon.assist.rebuild(mon.vms, mon.current)
    assert sorted(mon.m.l2tlb_dump(handle)) == before
    kt = mon.assist.kt[a.id]
    for pair, rows in mon.assist.kseg[a.id].items():
        for row, (lo0, lo1) in rows.items():
            assert mon.m.ktab_get(kt, row, pair << 1) == (lo0 & 0x3FFFFFFF, lo1 & 0x3FFFFFFF)


# ---- refused sections ------------------------------------------------------------------------

def test_a_section_of_another_name_or_version_or_malformed_is_refused():
    mon, a, _b = _two_vm_monitor("disco")
    state = mon.state()
    fresh = Machine(cpus=2, ram_bytes=16 << 20)
    with pytest.raises(SnapshotError, match="expected a 'monitor' section"):
        Monitor(fresh).load_state({**state, "section": "scheduler"})
    with pytest.raises(SnapshotError, match="version 99"):
        Monitor(fresh).load_state({**state, "version": 99})
    with pytest.raises(SnapshotError, match="lacks"):
        Monitor(fresh).load_state({k: v for k, v in state.items() if k != "scheduler"})
    with pytest.raises(SnapshotError, match="2 VMs"):
        Monitor(fresh).load_state(state)  # no VMs created
    with pytest.raises(SnapshotError, match="not a dict"):
        a.pmap.load_state([1, 2])  # type: ignore[arg-type]
    with pytest.raises(SnapshotError, match="malformed"):
        a.pmap.load_state({**a.pmap.state(), "backmap": [[1, [[2, 3]]]]})
    with pytest.raises(SnapshotError, match="pages"):
        a.pmap.load_state({**a.pmap.state(), "npages": 3})
    with pytest.raises(SnapshotError, match="malformed"):
        mon.events.load_state({**mon.events.state(), "events": [[1, 2]]})
    with pytest.raises(SnapshotError, match="'l2tlb'"):
        a.vcpus[0].l2tlb.load_state(mon.memmap.state())
    with pytest.raises(SnapshotError, match="version"):
        Stats().load_state({**a.stats.state(), "version": 2})
    with pytest.raises(SnapshotError, match="policy"):
        NumaManager(mon.ctx, "none").load_state(mon.numa.state())


def test_kinds_are_enums_with_the_old_string_values():
    assert RunResult.STOPPED == "stopped" and StatKind.L2TLB_REFILL == "l2tlb_refill"
    assert EventKind.VM_STOP == "vm_stop"
    s = Stats()
    s.add(StatKind.MFC0, 3)
    assert s.count["mfc0"] == 1 and s.by_category()["privileged"] == (1, 3)
