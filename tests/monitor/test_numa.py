"""The NUMA manager (numa.py): placement policies, migration, replication, collapse.

The property test drives a 4-node machine with one 4-vCPU VM through loads and
stores made by the CPUs' real hardware TLBs (filled by the monitor's fault
path), interleaved with migrations, replications, collapses, host writes (DMA)
and page frees, and checks that every load sees the last store: no stale
replica or old page is ever readable.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disco_core.errors import DiscoError
from disco_core.machine import Machine
from disco_core.monitor import Monitor, VMSpec
from disco_core.monitor.numa import NumaParams

PAGES = 8
NODES = 4
KSEG = 0xC0000000


def numa_machine(policy: str = "migrate_replicate") -> tuple[Machine, Monitor]:
    m = Machine(cpus=NODES, nodes=NODES, ram_bytes=4 << 20, tlb_entries=8)
    mon = Monitor(m, numa_policy=policy)
    mon.start_vm(mon.create_vm(VMSpec("vm", memory_pages=PAGES, vcpus=NODES,
                                      home_nodes=list(range(NODES)), l2tlb_size=6)))
    mon.boot()
    return m, mon


def access(m: Machine, mon: Monitor, ci: int, gpn: int, write: bool) -> int:
    """The physical address CPU ci reaches for guest page gpn (kseg0), taking the
    monitor's fault path as the hardware would until the access translates."""
    va = KSEG + gpn * 4096
    for _ in range(4):
        try:
            return m.translate(ci, va, write)
        except DiscoError:
            pass
        code = 2
        if write:
            try:
                m.translate(ci, va, False)
                code = 1  # TLB Mod: mapped read-only
            except DiscoError:
                code = 3
        e = SimpleNamespace(code=code, badvaddr=va, pc=0x10, bd=False, mode=1, refill=True,
                            ce=0, insn=0)
        mon.ctx.exit_cpu = ci
        mon.tlb.tlb_fault(mon.current[ci], m.cpus[ci], ci, e)
    raise AssertionError(f"CPU {ci} cannot reach guest page {gpn}")


def visible(m: Machine, ci: int, gpn: int) -> int | None:
    """What CPU ci reads at gpn without any fault (None: it would fault)."""
    try:
        pa = m.translate(ci, KSEG + gpn * 4096, False)
    except DiscoError:
        return None
    return int.from_bytes(m.read_phys(pa, 4), "little")


ops = st.lists(st.one_of(
    st.tuples(st.just("load"), st.integers(0, NODES - 1), st.integers(0, PAGES - 1)),
    st.tuples(st.just("store"), st.integers(0, NODES - 1), st.integers(0, PAGES - 1),
              st.integers(1, 1 << 30)),
    st.tuples(st.just("migrate"), st.integers(0, PAGES - 1), st.integers(0, NODES - 1)),
    st.tuples(st.just("replicate"), st.integers(0, PAGES - 1), st.integers(0, NODES - 1)),
    st.tuples(st.just("collapse"), st.integers(0, PAGES - 1)),
    st.tuples(st.just("dma"), st.integers(0, PAGES - 1), st.integers(1, 1 << 30)),
    st.tuples(st.just("free"), st.integers(0, PAGES - 1)),
), max_size=50)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_every_load_sees_the_last_store_under_movement(seq):
    m, mon = numa_machine()
    vm = mon.vms[0]
    pm = vm.pmap
    model = [0] * PAGES
    for op in seq:
        kind = op[0]
        if kind == "load":
            pa = access(m, mon, op[1], op[2], False)
            assert int.from_bytes(m.read_phys(pa, 4), "little") == model[op[2]]
        elif kind == "store":
            pa = access(m, mon, op[1], op[2], True)
            m.write_phys(pa, op[3].to_bytes(4, "little"))
            model[op[2]] = op[3]
        elif kind in ("migrate", "replicate"):
            mpn = pm.machine_page(op[1])
            if kind == "migrate" and not mon.memmap.entries[mpn].replicas:
                if mon.memmap.node_of(mpn) != op[2]:
                    assert mon.numa.migrate(mpn, op[2], op[2], "test")
                    assert mon.memmap.node_of(pm.mpn[op[1]]) == op[2]
            elif kind == "replicate":
                assert mon.numa.replicate(mpn, op[2], op[2], "test")
        elif kind == "collapse":
            if pm.mpn[op[1]] >= 0:
                mon.numa.collapse(pm.mpn[op[1]], "test")
        elif kind == "dma":
            pm.write(op[1] * 4096, op[2].to_bytes(4, "little"))
            model[op[1]] = op[2]
        elif kind == "free":
            pm.release(op[1])
            model[op[1]] = 0
        assert mon.check_invariants() == []
        for ci in range(NODES):
            for gpn in range(PAGES):
                seen = visible(m, ci, gpn)
                assert seen is None or seen == model[gpn], (op, ci, gpn)
    # every replica is in use and identical to its master
    for mpn, e in mon.memmap.entries.items():
        for node, r in e.replicas.items():
            assert mon.memmap.node_of(r) == node
            assert m.read_phys(r << 12, 4096) == m.read_phys(mpn << 12, 4096)


def test_replicas_are_read_locally_and_a_store_collapses_them():
    m, mon = numa_machine()
    pm = mon.vms[0].pmap
    pa = access(m, mon, 0, 3, True)
    m.write_phys(pa, b"\x2a\0\0\0")
    mpn = pm.mpn[3]
    assert mon.memmap.node_of(mpn) == 0  # first touch, by CPU 0
    for n in (1, 2, 3):
        assert mon.numa.replicate(mpn, n, n, "test")
    for ci in range(NODES):  # each CPU reads the copy on its own node
        assert mon.memmap.node_of(access(m, mon, ci, 3, False) >> 12) == ci
    cycles = m.cpus[2].cycles
    pa = access(m, mon, 2, 3, True)
    assert pa >> 12 == mpn and not mon.memmap.entries[mpn].replicas
    assert m.cpus[2].cycles - cycles >= mon.costs.numa_collapse
    kinds = [e.kind for e in mon.events.of_kind("replicate", "collapse")]
    assert kinds == ["replicate"] * 3 + ["collapse"]
    ev = mon.events.of_kind("collapse")[0]
    assert ev.data["pa"] == 3 << 12 and ev.data["reason"] == "write" and ev.cpu == 2
    assert mon.numa.stats.replications == 3 and mon.numa.stats.collapses == 1
    assert mon.vms[0].stats.count["collapse"] == 1


def test_migration_moves_the_page_charges_and_reports():
    m, mon = numa_machine()
    pm = mon.vms[0].pmap
    pa = access(m, mon, 1, 5, True)
    m.write_phys(pa, b"data")
    old = pm.mpn[5]
    before = m.cpus[3].cycles
    assert mon.numa.migrate(old, 3, 3, "test")
    assert mon.memmap.node_of(pm.mpn[5]) == 3 and old not in mon.memmap.entries
    assert m.cpus[3].cycles - before == mon.costs.numa_migrate
    assert m.read_phys(access(m, mon, 3, 5, False), 4) == b"data"
    ev = mon.events.of_kind("migrate")[-1]
    assert (ev.data["src"], ev.data["dst"], ev.data["pa"]) == (1 % NODES, 3, 5 << 12)
    assert "node 1 → node 3" in ev.text


def test_placement_policies():
    for policy, expect in (("round_robin", [g % NODES for g in range(PAGES)]),
                           ("none", [0] * PAGES)):
        m, mon = numa_machine(policy)
        pm = mon.vms[0].pmap
        pm.release_all()
        assert [mon.memmap.node_of(pm.machine_page(g)) for g in range(PAGES)] == expect
    m, mon = numa_machine("first_touch")
    pm = mon.vms[0].pmap
    pm.release_all()
    for g in range(PAGES):
        access(m, mon, g % 3 + 1, g, False)
        assert mon.memmap.node_of(pm.mpn[g]) == g % 3 + 1


def test_bad_policy_and_thresholds_are_clear_errors():
    m = Machine(cpus=1)
    with pytest.raises(DiscoError, match="no NUMA policy 'fastest'"):
        Monitor(m, numa_policy="fastest")
    with pytest.raises(DiscoError, match="sharing_threshold"):
        Monitor(m, numa_params=NumaParams(hot_threshold=4, sharing_threshold=8))
    with pytest.raises(DiscoError, match="no sharing mode"):
        Monitor(m, sharing="all")


def test_content_sharing_and_migration_of_a_shared_frame():
    m = Machine(cpus=NODES, nodes=NODES, ram_bytes=4 << 20, tlb_entries=8)
    mon = Monitor(m, sharing="content")
    vms = [mon.create_vm(VMSpec(f"vm{i}", memory_pages=PAGES, home_nodes=[i])) for i in range(3)]
    for vm in vms:
        mon.start_vm(vm)
        vm.write_guest(2 * 4096, b"same" * 1024)
        vm.write_guest(3 * 4096, vm.name.encode() * 1024)
    cs = mon.contentshare
    cs.scan(2 * PAGES)  # vm0 and vm1: vm1's page 2 shares vm0's
    frame = vms[0].pmap.mpn[2]
    assert vms[1].pmap.mpn[2] == frame and 2 in vms[1].pmap.readonly
    assert vms[0].pmap.mpn[3] != vms[1].pmap.mpn[3]  # different content stays apart
    assert mon.numa.migrate(frame, 3, 3, "test")
    moved = vms[0].pmap.mpn[2]
    assert moved != frame and vms[1].pmap.mpn[2] == moved
    cs.scan(PAGES)  # vm2's page joins the moved frame
    assert vms[2].pmap.mpn[2] == moved and cs.stats["content_shares"] == 2
    assert mon.check_invariants() == []
    vms[1].pmap.break_sharing(2)  # a store: vm1 gets its own copy again
    assert vms[1].pmap.mpn[2] != moved and vms[1].read_guest(2 * 4096, 4) == b"same"
    ev = [e.data["reason"] for e in mon.events.of_kind("share")]
    assert ev == ["same content", "same content"]
    un = mon.events.of_kind("unshare")
    assert len(un) == 1 and un[0].vm == 1 and un[0].data["pa"] == 2 << 12
    assert "copy shared PA 0x00002000 on write" in un[0].text
