"""The monitor's C assists in the core (core_c/hwtlb.c, l2tlb.c, ktab.c).

A MONITORED CPU's refill that the bound tables know is served without an
exit: the entry the monitor would install is installed, the cost is charged,
and the run goes on exactly as if the host had served the exit and run on.
"""

from __future__ import annotations

import pytest

from disco_core.errors import DiscoError
from disco_core.guest import assemble
from disco_core.machine import ExitReason, Ownership
from disco_core.testmachine import TestMachine

MAIN = 0x80001000
HALT = """
    lui $k1, 0xbfd0
    sw $zero, 0x10($k1)
1:  b 1b
    nop
"""
V, D, G = 0b010, 0b100, 0b001
GLOBAL = 256


def lo(pa: int, flags: int = V | D) -> int:
    return ((pa >> 12) << 6) | flags


def machine(main: str) -> TestMachine:
    tm = TestMachine(cpus=1, ram_bytes=16 << 20)
    tm.write_phys(MAIN & 0x1FFFFFFF, assemble(".set noreorder\n" + main, base=MAIN))
    tm.cpus[0].pc = MAIN
    tm.cpus[0].ownership = Ownership.MONITORED
    return tm


LOADS = """
    li $t1, 0x00700004
    lw $s0, 0($t1)              # even page
    lw $s1, 0x1000($t1)         # odd page: same entry pair
    lw $s2, 0x2000($t1)         # not in the table: exits
"""


def test_a_known_pair_is_refilled_without_an_exit() -> None:
    tm = machine(LOADS)
    tm.write_phys(0x00300004, (11).to_bytes(4, "little"))
    tm.write_phys(0x00301004, (22).to_bytes(4, "little"))
    cpu = tm.cpus[0]
    h = tm.l2tlb_new(cost=25)
    tm.l2tlb_put(h, 0x00700 >> 1, 0, 3, lo(0x00300000), lo(0x00301000))
    cpu.l2tlb_bind(h)
    before = cpu.cycles
    ex = tm.run(100)
    assert ex.reason == ExitReason.EXCEPTION and ex.exception is not None
    assert (ex.exception.badvaddr, ex.exception.refill) == (0x00702004, True)
    assert (cpu.gpr[16], cpu.gpr[17]) == (11, 22)
    assert tm.l2tlb_take(h)["refills"] == 1  # one refill filled both halves
    assert tm.l2tlb_take(h)["refills"] == 0
    assert cpu.stats()["l2tlb_refills"] == 1
    assert cpu.tlb(0)[:3] == (0x00700000, lo(0x00300000), lo(0x00301000))
    assert cpu.cycles - before == ex.executed + 25
    assert tm.l2tlb_dump(h) == [(0x00700 >> 1, 0, lo(0x00300000), lo(0x00301000))]
    tm.l2tlb_put(h, 0x00700 >> 1, 0, 0, 0, 0)  # forgotten
    assert tm.l2tlb_dump(h) == []


def test_serving_in_c_gives_the_cycles_of_serving_on_the_host() -> None:
    """The same refills, once by the assist and once by the host (exit, install,
    charge): the same cycles, TLB contents and registers, even when the charge
    runs past the end of the CPU's turn."""
    prog = LOADS.replace("lw $s2, 0x2000($t1)", "nop") + "\n    lw $s3, 0($t1)\n" + HALT

    def go(assist: bool) -> tuple:
        tm = machine(prog)
        cpu = tm.cpus[0]
        pair = (lo(0x00300000), lo(0x00301000))
        if assist:
            h = tm.l2tlb_new(cost=5000)
            tm.l2tlb_put(h, 0x00700 >> 1, 0, 3, *pair)
            cpu.l2tlb_bind(h)
        while True:
            ex = tm.run(7)  # many short runs: exits fall anywhere
            if ex.reason == ExitReason.HALT:
                break
            if ex.reason == ExitReason.EXCEPTION:
                assert not assist
                cpu.hw_install(0x00700000, 0, *pair)
                cpu.charge(5000)
        return cpu.cycles, cpu.instructions, [cpu.tlb(i) for i in range(4)], cpu.gpr[16]

    assert go(True) == go(False)


def test_global_pairs_match_any_asid_and_stores_need_d() -> None:
    tm = machine("""
        li $t0, 9
        mtc0 $t0, $10               # ASID 9
        li $t1, 0x00800000
        lw $s0, 0($t1)
        sw $s0, 0x2000($t1)         # a read-only page: the store exits
    """ + HALT)
    cpu = tm.cpus[0]
    h = tm.l2tlb_new(cost=0)
    tm.l2tlb_put(h, 0x00800 >> 1, GLOBAL, 3, lo(0x00300000, V | D | G), lo(0x00301000, V | G))
    tm.l2tlb_put(h, 0x00802 >> 1, GLOBAL, 1, lo(0x00302000, V | G), 0)
    cpu.l2tlb_bind(h)
    tm.write_phys(0x00300000, (5).to_bytes(4, "little"))
    ex = tm.run(100)
    assert ex.reason == ExitReason.EXCEPTION and ex.exception is not None
    assert ex.exception.badvaddr == 0x00802000 and cpu.gpr[16] == 5
    hi, lo0, lo1, _ = cpu.tlb(0)
    assert hi == 0x00800000 and lo0 & lo1 & G  # global: both halves carry G
    assert tm.l2tlb_take(h)["refills"] == 1


def test_an_unbound_or_freed_table_serves_nothing() -> None:
    tm = machine(LOADS)
    h = tm.l2tlb_new(cost=0)
    tm.l2tlb_put(h, 0x00700 >> 1, 0, 3, lo(0x00300000), lo(0x00301000))
    cpu = tm.cpus[0]
    cpu.l2tlb_bind(h)
    cpu.l2tlb_bind(0)
    assert tm.run(100).exception.badvaddr == 0x00700004  # type: ignore[union-attr]
    cpu.l2tlb_bind(h)
    tm.l2tlb_free(h)  # unbinds it too
    assert tm.run(100).exception.badvaddr == 0x00700004  # type: ignore[union-attr]
    with pytest.raises(DiscoError, match="does not exist"):
        tm.l2tlb_put(h, 0, 0, 1, 0, 0)
    with pytest.raises(DiscoError, match="out of range"):
        tm.l2tlb_put(tm.l2tlb_new(cost=0), 0, 300, 1, 0, 0)
    small = tm.l2tlb_new(cost=0, entries=3)  # 16 slots: 8 pairs at most
    for k in range(8):
        tm.l2tlb_put(small, k, 0, 1, 0, 0)
    with pytest.raises(DiscoError, match="full"):
        tm.l2tlb_put(small, 8, 0, 1, 0, 0)
    for k in range(0, 8, 2):  # forgetting keeps the others findable (probing)
        tm.l2tlb_put(small, k, 0, 0, 0, 0)
    assert sorted(p[0] for p in tm.l2tlb_dump(small)) == [1, 3, 5, 7]


def test_hardware_tlb_keys_round_robin_and_shootdown() -> None:
    tm = TestMachine(cpus=2, ram_bytes=16 << 20, tlb_entries=4)
    cpu = tm.cpus[0]
    cpu.hw_install(0x00400000, 1, lo(0x1000), lo(0x2000))
    cpu.hw_install(0x00400000, 2, lo(0x3000), 0)
    cpu.hw_install(0x00400000, 1, lo(0x4000), 0)  # same key: same index
    assert [cpu.tlb(i)[:2] for i in range(2)] == [(0x00400001, lo(0x4000)),
                                                  (0x00400002, lo(0x3000))]
    cpu.hw_install(0x00400000, GLOBAL, lo(0x5000), lo(0x6000))  # displaces both
    assert cpu.tlb(2)[:3] == (0x00400000, lo(0x5000, V | D | G), lo(0x6000, V | D | G))
    assert all(cpu.tlb(i)[0] >= 0x80000000 for i in (0, 1))
    cpu.hw_install(0x00400000, 3, lo(0x7000), 0)  # displaces the global one, index 3
    assert cpu.tlb(3)[0] == 0x00400003 and cpu.tlb(2)[0] >= 0x80000000
    cpu.hw_install(0x00600000, 3, lo(0x8000), 0)  # round robin comes back to 0
    assert cpu.tlb(0)[0] == 0x00600003
    tm.cpus[1].hw_install(0x00600000, 3, lo(0x9000), lo(0x8000))
    tm.hw_invalidate_mpn(0x8)  # on every CPU
    assert cpu.tlb(0)[0] >= 0x80000000 and tm.cpus[1].tlb(0)[0] >= 0x80000000
    cpu.hw_remove(0x00400000, 3)
    assert cpu.tlb(3)[0] >= 0x80000000
    with pytest.raises(DiscoError, match="out of range"):
        cpu.hw_install(0x00401000, 0, 0, 0)  # not VPN2-aligned


def test_relocated_kseg0_pairs_are_served_from_the_vm_table() -> None:
    tm = machine("""
        li $t1, 0xC0003000
        lw $s0, 4($t1)              # gpn 3: known, valid
        sw $s0, -0x1000($t1)        # gpn 2: known but not writable: exits
    """ + HALT)
    cpu = tm.cpus[0]
    tm.write_phys(0x00503004, (7).to_bytes(4, "little"))
    h = tm.ktab_new(npages=16, nodes=1, cost=60)
    tm.ktab_set(h, 0, 3, lo(0x00502000, V | G), lo(0x00503000, V | D | G))
    assert tm.ktab_get(h, 0, 2) == tm.ktab_get(h, 0, 3) != (0, 0)
    cpu.ktab_bind(h)
    before = cpu.cycles
    ex = tm.run(100)
    assert ex.reason == ExitReason.EXCEPTION and ex.exception is not None
    assert ex.exception.badvaddr == 0xC0002000 and cpu.gpr[16] == 7
    assert cpu.cycles - before == ex.executed + 60 and tm.ktab_take(h) == 1
    assert cpu.tlb(0)[0] == 0xC0002000
    tm.ktab_forget(h, 2)
    assert tm.ktab_get(h, 0, 3) == (0, 0)
    tm.ktab_set(h, 0, 9, lo(0x00509000, V | G), 0)
    tm.ktab_clear(h)
    assert tm.ktab_get(h, 0, 9) == (0, 0)
    with pytest.raises(DiscoError, match="out of range"):
        tm.ktab_set(h, 1, 0, 0, 0)
    with pytest.raises(DiscoError, match="out of range"):
        tm.ktab_new(npages=0, nodes=1, cost=0)


def test_the_register_page_pair_always_exits() -> None:
    tm = machine("""
        li $t1, 0xDFFFF000
        lw $s0, 0($t1)
    """ + HALT)
    h = tm.ktab_new(npages=1 << 17, nodes=1, cost=0)
    tm.ktab_set(h, 0, 0x1FFFF, lo(0x00502000, V | G), lo(0x00503000, V | G))
    tm.cpus[0].ktab_bind(h)
    ex = tm.run(100)
    assert ex.reason == ExitReason.EXCEPTION and ex.exception.badvaddr == 0xDFFFF000  # type: ignore
