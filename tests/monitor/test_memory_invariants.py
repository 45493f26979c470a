"""Property tests: after any sequence of guest TLB writes, page frees, remaps and vCPU
switches, every hardware TLB entry maps a machine page that the pmap assigns to the VM
whose vCPU owns that TLB, and no VM maps another VM's page."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disco_core.machine import Machine
from disco_core.monitor import Monitor, VMSpec
from disco_core.monitor.emulate import guest_tlb_write, tlbp
from disco_core.monitor.l2tlb import GLOBAL
from disco_core.monitor.pmap import NO_PAGE
from disco_core.monitor.vcpu import VirtualCP0

PAGES = 12

tlb_write = st.tuples(st.just("tlbw"), st.integers(0, 1), st.integers(0, 7),
                      st.integers(0, 15), st.integers(0, 3), st.integers(0, PAGES + 2),
                      st.integers(0, 7), st.integers(0, PAGES + 2), st.integers(0, 7),
                      st.booleans())
ops = st.lists(st.one_of(
    tlb_write,
    st.tuples(st.just("free"), st.integers(0, 2), st.integers(0, PAGES - 1)),
    st.tuples(st.just("zero"), st.integers(0, 2), st.integers(0, PAGES - 1)),
    st.tuples(st.just("touch"), st.integers(0, 1), st.integers(0, 31), st.booleans()),
    st.tuples(st.just("ktouch"), st.integers(0, 1), st.integers(0, PAGES + 1), st.booleans()),
    st.tuples(st.just("share"), st.integers(0, 2), st.integers(0, PAGES - 1), st.integers(0, 2),
              st.integers(0, PAGES - 1)),
    st.tuples(st.just("probe"), st.integers(0, 1), st.integers(0, 15), st.integers(0, 3)),
    st.tuples(st.just("asid"), st.integers(0, 1), st.integers(0, 3)),
    st.tuples(st.just("yield"), st.integers(0, 1)),
), max_size=40)


def check(mon: Monitor) -> None:
    assert mon.check_invariants() == []
    for vm in mon.vms:
        for gpn, mpn in enumerate(vm.pmap.mpn):
            if mpn != NO_PAGE:
                assert mpn != 0, "the monitor's own page"
                users = mon.memmap.entries[mpn].users
                assert (vm.id, gpn) in users
                assert len(users) == 1 or mon.memmap.entries[mpn].shared_readonly
                if len(users) > 1:
                    assert all(mon.vms[u].pmap.mpn[g] == mpn and g in mon.vms[u].pmap.readonly
                               for u, g in users)
        for v in vm.vcpus:  # no stale L2TLB entry: each names the pmap's current page
            for (_vpn, _asid), (lo, gpn) in v.l2tlb.entries.items():
                assert lo >> 6 == vm.pmap.mpn[gpn]
    used = [m for vm in mon.vms for m in vm.pmap.mpn
            if m != NO_PAGE and not mon.memmap.entries[m].shared_readonly]
    assert len(used) == len(set(used))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_hardware_tlbs_only_map_the_owners_pages(seq):
    m = Machine(cpus=2, ram_bytes=1 << 20, tlb_entries=8)
    mon = Monitor(m)
    for i in range(3):  # three single-vCPU VMs share two CPUs
        mon.start_vm(mon.create_vm(VMSpec(f"vm{i}", memory_pages=PAGES, l2tlb_size=6)))
    mon.boot()
    for op in seq:
        kind = op[0]
        if kind == "share":
            if op[1] != op[3]:
                mon.share_page(mon.vms[op[1]], op[2], mon.vms[op[3]], op[4])
        elif kind in ("free", "zero"):
            pm = mon.vms[op[1]].pmap
            pm.release(op[2])
            if kind == "zero":
                pm.machine_page(op[2])
        else:
            ci = op[1]
            v = mon.current[ci]
            cpu = m.cpus[ci]
            if v is None:
                continue
            c = v.cp0
            if kind == "tlbw":
                _, _, idx, vpn2, asid, g0, f0, g1, f1, rnd = op
                c.entryhi = (vpn2 << 13) | asid
                c.entrylo0 = (g0 << 6) | (3 << 3) | (f0 & 7)
                c.entrylo1 = (g1 << 6) | (3 << 3) | (f1 & 7)
                c.pagemask = 0
                guest_tlb_write(mon, v, cpu, idx, random=rnd)
            elif kind == "touch":
                e = SimpleNamespace(code=3 if op[3] else 2, badvaddr=op[2] << 12, pc=0x10,
                                    bd=False, mode=2, refill=True, ce=0, insn=0)
                c.status = 0
                mon.tlb.tlb_fault(v, cpu, ci, e)
            elif kind == "ktouch":
                e = SimpleNamespace(code=3 if op[3] else 2,
                                    badvaddr=0xC0000000 + (op[2] << 12), pc=0x10,
                                    bd=False, mode=1, refill=True, ce=0, insn=0)
                c.status = 0
                mon.tlb.tlb_fault(v, cpu, ci, e)
            elif kind == "probe":
                c.entryhi = (op[2] << 13) | op[3]
                tlbp(mon, v, cpu)
            elif kind == "asid":
                c.entryhi = (c.entryhi & ~0xFF) | op[2]
                mon.sync_asid(v, cpu)
            elif kind == "yield":
                mon.sched.yield_cpu(ci, v.state.READY)
        check(mon)


def test_page_freed_shoots_down_every_mapping():
    m = Machine(cpus=1, ram_bytes=1 << 20, tlb_entries=8)
    mon = Monitor(m)
    vm = mon.create_vm(VMSpec("a", memory_pages=8))
    mon.start_vm(vm)
    mon.boot()
    v = mon.current[0]
    c = v.cp0
    c.entryhi, c.entrylo0, c.entrylo1 = 0x2000 | 3, (5 << 6) | 6, (6 << 6) | 6
    guest_tlb_write(mon, v, m.cpus[0], 2, random=False)
    old = vm.pmap.mpn[5]
    assert (2, 3) in v.l2tlb.entries and vm.pmap.backmap[5] == {(v.gid, 2, 3)}
    assert any(m.cpus[0].tlb(i)[1] >> 6 == old for i in range(8))
    vm.pmap.release(5)
    assert (2, 3) not in v.l2tlb.entries and 5 not in vm.pmap.backmap
    assert not any((m.cpus[0].tlb(i)[1] >> 6) == old for i in range(8))
    assert (3, 3) in v.l2tlb.entries  # the other page stays mapped
    assert mon.check_invariants() == []
    assert GLOBAL not in {a for _, a in v.l2tlb.entries}


CP0_REGS = [(r, s) for r in range(32) for s in range(4) if (r, s) not in ((9, 0), (1, 0))]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(CP0_REGS), st.integers(0, 0xFFFFFFFF)), max_size=30))
def test_virtual_cp0_applies_the_hardware_masks(writes):
    """MTC0 then MFC0 of every register gives what the real CP0 gives (bar Count/Random)."""
    m = Machine(cpus=1, ram_bytes=1 << 20)
    cpu = m.cpus[0]
    cpu.set_cp0(12, 0)
    v = VirtualCP0(0, 64)
    for (reg, sel), value in writes:
        if (reg, sel) == (12, 0):
            value &= ~0x7  # keep both in kernel mode with EXL/ERL clear (no mode games)
        cpu.set_cp0(reg, value, sel)
        v.write(reg, sel, value, 0)
    for reg, sel in CP0_REGS:
        if (reg, sel) == (13, 0):
            continue  # Cause.TI follows the real timer
        assert v.read(reg, sel, 0) == cpu.cp0(reg, sel), (reg, sel)


def test_shared_page_is_copied_on_write():
    from tests.monitor import guests
    from tests.monitor.conftest import disco_vm

    m = Machine(cpus=1, ram_bytes=1 << 20)
    mon = Monitor(m)
    a = disco_vm(mon, guests.BUMP_SHARED, "a", pages=16)
    b = disco_vm(mon, guests.BUMP_SHARED, "b", pages=16)
    a.write_guest(0x7000, (41).to_bytes(4, "little"))
    mon.share_page(a, 7, b, 7)
    shared = a.pmap.mpn[7]
    assert b.pmap.mpn[7] == shared and mon.memmap.entries[shared].shared_readonly
    assert b.read_guest(0x7000, 4) == (41).to_bytes(4, "little")
    assert mon.check_invariants() == []
    assert mon.run(10_000_000) == "stopped"
    assert a.exit_code == 42 and b.exit_code == 42
    # the first writer got a copy; the last user kept the page, now private
    assert a.pmap.mpn[7] != b.pmap.mpn[7] and shared in (a.pmap.mpn[7], b.pmap.mpn[7])
    assert not mon.memmap.entries[shared].shared_readonly
    assert mon.check_invariants() == []
