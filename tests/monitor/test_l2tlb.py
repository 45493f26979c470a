"""The L2TLB refills the hardware TLB without entering the guest."""

from __future__ import annotations

from disco_core.monitor.l2tlb import GLOBAL, L2Tlb
from tests.monitor import guests
from tests.monitor.conftest import run_disco, run_native

PAIRS = guests.PAGES // 2 + 1  # the data pages and the user code's pair


def test_l2tlb_hits_do_not_enter_the_guest():
    # 8 hardware (and virtual) TLB entries for 17 page pairs: the TLB thrashes
    mon, vm = run_disco(guests.REFILL_COUNTING, pages=128, tlb_entries=8)
    assert vm.stop_reason == "exit(0)", vm.stop_reason
    refills = int.from_bytes(vm.read_guest(0x5000, 4), "little")
    assert refills == PAIRS  # the guest's handler ran once per pair, on first touch
    assert vm.stats.count["l2tlb_refill"] >= (guests.ROUNDS - 1) * guests.PAGES // 2
    native = run_native(guests.REFILL_COUNTING, tlb_entries=8)
    native_refills = int.from_bytes(native.read_phys(0x5000, 4), "little")
    assert native_refills > 5 * PAIRS
    # same computation: the user's sum and the exception cause
    assert vm.vcpus[0].ctx.gpr[16] == native.cpus[0].gpr[16]
    assert vm.vcpus[0].ctx.gpr[22] == native.cpus[0].gpr[22] == 8 << 2
    assert mon.check_invariants() == []


def test_without_l2tlb_the_guest_refills_every_miss():
    _mon, vm = run_disco(guests.REFILL_COUNTING, pages=128, tlb_entries=8, l2tlb_size=0)
    assert vm.stop_reason == "exit(0)"
    refills = int.from_bytes(vm.read_guest(0x5000, 4), "little")
    assert refills > 5 * PAIRS
    assert "l2tlb_refill" not in vm.stats.count


def test_l2tlb_replacement_and_global_entries():
    evicted = []

    class Backmaps:  # what the L2TLB tells its pmap when an entry goes
        def remove_backmap(self, gpn: int, gid: int, vpn: int, asid: int) -> None:
            evicted.append((vpn, asid, gpn))

    t = L2Tlb(4, Backmaps(), gid=0)  # type: ignore[arg-type]
    for k in range(4):
        t.insert(k, 1, 0x100 + k, k)
    t.insert(9, GLOBAL, 0x999, 9)
    assert evicted == [(0, 1, 0)] and len(t) == 4
    assert t.lookup(9, 77) == (0x999, 9)  # a global entry matches any ASID
    assert t.lookup(1, 2) is None and t.lookup(1, 1) == (0x101, 1)
    t.remove_vpn(9, 1)
    assert t.lookup(9, 1) is None
    t.flush()
    assert len(t) == 0 and len(evicted) == 5
    assert L2Tlb(0).insert(1, 1, 1, 1) is None


def test_page_table_refill_handler_matches_native():
    assert "mfc0 $k1, $4" in guests.PAGE_TABLE_REFILL
    assert "0x00400000 - 0x10000" not in guests.PAGE_TABLE_REFILL
    mon, vm = run_disco(guests.PAGE_TABLE_REFILL, pages=0x900, tlb_entries=8)
    assert vm.stop_reason == "exit(0)", vm.stop_reason
    native = run_native(guests.PAGE_TABLE_REFILL, tlb_entries=8)
    assert vm.vcpus[0].ctx.gpr[16] == native.cpus[0].gpr[16]  # the user's sum
    assert int.from_bytes(vm.read_guest(0x5000, 4), "little") == PAIRS
    assert int.from_bytes(native.read_phys(0x5000, 4), "little") > 5 * PAIRS
    assert vm.stats.count["kernel_tlb_fault"] > 0
    assert mon.check_invariants() == []


# TLBWR a user mapping (it reaches the L2TLB), then rewrite every index with
# TLBWI of a never-matching kseg0 entry: a full flush. The entry count comes
# from Config1.MMUSize.
FULL_FLUSH = """
start:
    li $t0, 0x00400000      # EntryHi: VPN2 0x00400000, ASID 0
    mtc0 $t0, $10
    li $t0, (4 << 6) | (3 << 3) | 6
    mtc0 $t0, $2
    mtc0 $zero, $3
    tlbwr
    mfc0 $t1, $16, 1
    srl $t1, $t1, 25
    andi $t1, $t1, 0x3F
    addiu $t1, $t1, 1       # TLB entries
    li $t2, 0
    mtc0 $zero, $2
    mtc0 $zero, $3
1:  sll $t3, $t2, 13
    lui $t4, 0x8000
    addu $t3, $t3, $t4
    mtc0 $t3, $10
    mtc0 $t2, $0
    tlbwi
    addiu $t2, $t2, 1
    bne $t2, $t1, 1b
    nop
    {DONE}
"""


def test_a_full_flush_by_tlbwi_empties_the_l2tlb():
    # regression: the full-flush path passed the Cpu, not its index, to hw_flush
    mon, vm = run_disco(FULL_FLUSH, tlb_entries=16)
    assert vm.stop_reason == "exit(0)", vm.stop_reason
    assert len(vm.vcpus[0].l2tlb) == 0
    assert mon.check_invariants() == []
