"""The monitor's C assists (assist.py) change nothing a guest or a statistic can see.

The same guests run with the assists on and off (`Monitor(assists=False)`:
every exit served in Python) and must give identical simulated cycles,
instructions, registers, TLB contents, guest memory, console output and
statistics; runs with the assists on are deterministic. The C L2TLB tables
hold exactly the Python ones' pairs whatever the monitor does to them.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from disco_core.boot import boot_vms
from disco_core.machine import Machine
from disco_core.mips import LO_D, LO_G, LO_V
from disco_core.monitor import Monitor, VMSpec
from disco_core.monitor import assist as assist_mod
from disco_core.monitor.l2tlb import GLOBAL
from disco_core.presets import preset
from tests.guest.checksums import expected_line
from tests.monitor import guests
from tests.monitor.conftest import disco_vm


def fingerprint(m: Machine, mon: Monitor) -> tuple:
    cpus = []
    for c in m.cpus:
        r = c.context()
        cpus.append((c.cycles, c.instructions, [int(r.gpr[i]) for i in range(32)], int(r.pc),
                     [c.tlb(i) for i in range(m.config.tlb_entries)]))
    vms = [(vm.stop_reason, vm.stats.as_dict(), bytes(vm.console_out),
            hashlib.sha256(vm.pmap.read(0, vm.pmap.npages * 4096)).hexdigest(),
            [v.l2tlb.hits + v.l2tlb.misses for v in vm.vcpus]) for vm in mon.vms]
    return cpus, vms, mon.exits


def served(m: Machine) -> int:
    return sum(c.stats()["l2tlb_refills"] for c in m.cpus)


def one_guest(body: str, assists: bool, tlb: int = 8, budget: int = 50_000_000):
    m = Machine(cpus=1, ram_bytes=16 << 20, tlb_entries=tlb)
    mon = Monitor(m, assists=assists)
    disco_vm(mon, body, pages=128)
    mon.run(budget)
    return m, mon


@pytest.mark.parametrize("name", ["REFILL_COUNTING", "PAGE_TABLE_REFILL", "PRIVILEGED",
                                  "MONITOR_CALLS", "TIMER_WAIT", "DELAY_SLOTS"])
def test_trap_and_emulate_guests_are_the_same_with_and_without_assists(name: str) -> None:
    body = getattr(guests, name)
    m_on, mon_on = one_guest(body, True, budget=3_000_000)
    m_off, mon_off = one_guest(body, False, budget=3_000_000)
    assert served(m_off) == 0
    assert fingerprint(m_on, mon_on) == fingerprint(m_off, mon_off)
    assert mon_off.exits_in_c == 0
    if name in ("REFILL_COUNTING", "PRIVILEGED", "TIMER_WAIT"):
        assert mon_on.exits_in_c > 0  # the C path did serve exits
    if name == "REFILL_COUNTING":
        assert served(m_on) > 0  # TLB refills among them


def four_vms_on_flash8(assists: bool):
    m = Machine(preset("flash8"))
    mon = Monitor(m, assists=assists, timeslice_cycles=50_000)
    disco_vm(mon, guests.SMP_COUNTER.replace("N", "3000"), "smp", vcpus=2, home_nodes=[0, 1])
    disco_vm(mon, guests.REFILL_COUNTING, "refills", pages=128, home_nodes=[0, 1])
    disco_vm(mon, guests.TIMER_WAIT, "timer", home_nodes=[4, 5])
    disco_vm(mon, guests.COUNTER.replace("N", "50000"), "counter", home_nodes=[6, 7])
    assert mon.run(500_000_000) == "stopped"
    return m, mon


def test_several_vms_on_many_cpus_are_the_same_with_and_without_assists() -> None:
    m_on, mon_on = four_vms_on_flash8(True)
    assert served(m_on) > 0
    first = fingerprint(m_on, mon_on)
    assert fingerprint(*four_vms_on_flash8(False)) == first
    assert fingerprint(*four_vms_on_flash8(True)) == first  # deterministic
    assert mon_on.check_invariants() == []


def test_the_disco_kernel_is_the_same_with_and_without_assists(monkeypatch) -> None:
    """Two VMs of two vCPUs each boot the real kernel on flash8 and run a workload."""
    total = [0]
    fold = assist_mod.Assists.fold

    def counting_fold(self, vms):  # type: ignore[no-untyped-def]
        n = fold(self, vms)
        total[0] += n
        return n

    monkeypatch.setattr(assist_mod.Assists, "fold", counting_fold)

    def go(assists: bool) -> tuple:
        r = boot_vms("flash8", 2, ["pmake 4", "echo done"], vcpus=2, assists=assists)
        assert r.reason == "done" and r.invariant_problems == []
        assert all(expected_line("pmake 4") in v.output for v in r.vms)
        return r.cycles, r.instructions, [(v.output, v.exits, v.prompt_cycles,
                                           v.command_cycles, v.stats) for v in r.vms]

    on = go(True)
    assert total[0] > 0
    assert go(False) == on
    assert go(True) == on


# ---- the C L2TLB tables mirror the Python ones exactly ------------------------------------------

OPS = st.lists(st.tuples(
    st.sampled_from(["insert", "insert", "insert", "remove", "forget", "flush", "release",
                     "share"]),
    st.integers(0, 23),          # virtual page
    st.sampled_from([0, 1, 7, GLOBAL]),
    st.integers(0, 15)),         # guest page
    max_size=120)


@settings(max_examples=60, deadline=None)
@given(OPS)
def test_every_c_pair_is_the_python_pair(ops: list[tuple[str, int, int, int]]) -> None:
    m = Machine(cpus=1, ram_bytes=4 << 20, tlb_entries=8)
    mon = Monitor(m)
    vm = mon.create_vm(VMSpec("p", memory_pages=16, l2tlb_size=10))
    other = mon.create_vm(VMSpec("q", memory_pages=16))
    v = vm.vcpus[0]
    handle = mon.assist.l2[v.gid]  # type: ignore[union-attr]
    cpu = m.cpus[0]
    for op, vpn, asid, gpn in ops:
        if op == "insert":
            flags = LO_V | (LO_D if gpn & 1 else 0) | (LO_G if asid == GLOBAL else 0)
            mon.tlb.l2_insert(v, vpn, asid, vm.pmap.entrylo(gpn, flags), gpn)
        elif op == "remove":
            v.l2tlb.remove(vpn, asid)
        elif op == "forget":
            mon.forget_page(v, cpu, (vpn << 12) & ~0x1FFF, asid)
        elif op == "flush":
            v.l2tlb.flush()
        elif op == "release":  # the page goes: backmaps take its L2TLB entries away
            vm.pmap.release(gpn)
        else:
            mon.share_page(vm, gpn, other, gpn)
        entries = v.l2tlb.entries
        pairs = {(vpn2, a): (lo0, lo1) for vpn2, a, lo0, lo1 in m.l2tlb_dump(handle)}
        for (vpn2, a), los in pairs.items():  # every C pair is the Python pair...
            assert los != (None, None)
            for k, lo in enumerate(los):
                e = entries.get((vpn2 * 2 + k, a))
                assert lo == (None if e is None else e[0]), (op, vpn2, a, k)
        for (vpn, a), (lo, _gpn) in entries.items():  # ...and every Python key is there
            assert pairs[(vpn >> 1, a)][vpn & 1] == lo, (op, vpn, a)


# ---- the C kseg tables follow the pmap ---------------------------------------------------------

KOPS = st.lists(st.tuples(
    st.sampled_from(["load", "load", "store", "release", "zero", "share", "unshare"]),
    st.integers(0, 15)), max_size=80)


@settings(max_examples=100, deadline=None)
@given(KOPS)
@example([("load", 0), ("zero", 1)])  # the partner gets a page: the pair is stale
@example([("load", 2), ("share", 3), ("store", 3)])
def test_every_known_kernel_pair_is_what_the_monitor_would_install(
        ops: list[tuple[str, int]]) -> None:
    from types import SimpleNamespace

    from disco_core.mips import EXC_TLBL, EXC_TLBS

    m = Machine(cpus=1, ram_bytes=4 << 20, tlb_entries=8)
    mon = Monitor(m)
    vm = mon.create_vm(VMSpec("p", memory_pages=16))
    other = mon.create_vm(VMSpec("q", memory_pages=16))
    v = vm.vcpus[0]
    handle = mon.assist.kt[vm.id]  # type: ignore[union-attr]
    pm = vm.pmap
    full = LO_V | LO_D | LO_G
    for op, gpn in ops:
        if op in ("load", "store"):  # a kernel TLB fault served in Python fills the pair
            va = 0xC0000000 + gpn * 4096
            e = SimpleNamespace(badvaddr=va, code=EXC_TLBS if op == "store" else EXC_TLBL,
                                pc=0xC0000100, bd=False)
            mon.tlb.kernel_tlb_fault(v, m.cpus[0], 0, e)
        elif op == "release":
            pm.release(gpn)
        elif op == "zero":  # MC_ZERO_PAGE
            pm.release(gpn)
            pm.machine_page(gpn)
        elif op == "share":
            mon.share_page(other, gpn, vm, gpn)
        elif pm.mpn[gpn] >= 0 and gpn in pm.readonly:
            pm.break_sharing(gpn)
        for g in range(0, 16, 2):
            known = m.ktab_get(handle, 0, g)
            if known == (0, 0):
                continue
            now = tuple(pm.entrylo(x, full) if pm.mpn[x] >= 0 else LO_G for x in (g, g + 1))
            assert known == now, (op, gpn, g)
