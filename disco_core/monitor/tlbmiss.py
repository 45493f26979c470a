"""TLB misses and what guest TLB writes do: the L2TLB, the virtual TLB, the pmap, the hardware.

A miss in kuseg is served from the vCPU's L2TLB (its entries outlive the guest's
TLBWR replacements), else from the guest's virtual TLB translated through the
pmap (and then kept in the L2TLB), else reflected into the guest. A miss in
the relocated kseg0 (0xC0000000 + x is guest-physical x) maps the pair from
the pmap directly, and the last page of it is the running vCPU's register
page. A guest TLBWI/TLBWR installs the translated entry at once; an entry it
overwrites, a probe that misses, and a machine page the monitor takes away
remove what was derived from it (`invalidate_page`, the pmap's hook).
"""

from __future__ import annotations

from disco_core.errors import CoreBug
from disco_core.machine import Cpu
from disco_core.mips import (
    EH_ASID,
    EH_VPN2,
    EXC_DBE,
    EXC_IBE,
    EXC_MOD,
    EXC_TLBL,
    EXC_TLBS,
    KSEG3,
    KSSEG,
    KUSEG_END,
    LO_D,
    LO_G,
    LO_PFN_SHIFT,
    LO_V,
)
from disco_core.monitor.assist import Assists
from disco_core.monitor.context import MonitorContext, Trap
from disco_core.monitor.emulate import reflect
from disco_core.monitor.events import EventKind
from disco_core.monitor.hwtlb import HwTlb
from disco_core.monitor.l2tlb import GLOBAL
from disco_core.monitor.pmap import CACHEABLE, NO_PAGE
from disco_core.monitor.regpage import REGPAGE_VA, REGPAGE_VPN2_VA
from disco_core.monitor.stats import StatKind
from disco_core.monitor.vcpu import TlbEntry
from disco_core.monitor.vm import VM, VMCpu

# the statistic kinds bound once: an enum member's attribute lookup is slow
# (Python 3.11) and these are used on every exit
_KERNEL_TLB_FAULT = StatKind.KERNEL_TLB_FAULT
_L2TLB_REFILL = StatKind.L2TLB_REFILL
_TLBWR = StatKind.TLBWR
_VTLB_REFILL = StatKind.VTLB_REFILL
_REGPAGE_VPN = REGPAGE_VA >> 12


def _pfn(lo: int) -> int:
    """The page an EntryLo names: the 24-bit field (EntryLo bits 29..6) a guest may
    fill, so a bad PFN is caught by the pmap's bounds, not masked into range."""
    return (lo >> LO_PFN_SHIFT) & 0xFFFFFF


class TlbMiss:
    """The monitor's TLB paths for every vCPU."""

    def __init__(self, ctx: MonitorContext, hw: HwTlb, assists: Assists | None) -> None:
        self.ctx = ctx
        self.hw = hw
        self.assist = assists

    # ---- misses --------------------------------------------------------------------------

    def tlb_fault(self, v: VMCpu, cpu: Cpu, ci: int, e: Trap) -> StatKind:
        va = e.badvaddr
        store = e.code != EXC_TLBL
        if va >= KUSEG_END:
            if KSSEG <= va < KSEG3:
                return self.kernel_tlb_fault(v, cpu, ci, e)
            raise CoreBug(f"TLB exception at unmapped address {va:#x}")
        asid = v.cp0.entryhi & EH_ASID
        vpn = va >> 12
        hit = v.l2tlb.lookup(vpn, asid)
        if hit is not None and (not store or hit[0] & LO_D):
            self.fill_pair(v, ci, vpn, hit[0])
            return _L2TLB_REFILL
        ent = v.tlb_match(va)
        tcode = EXC_TLBS if store else EXC_TLBL
        if ent is None:
            return reflect(v, cpu, tcode, e.pc, e.bd, va, True)
        glo, half = ent.lo_for(va)
        if not glo & LO_V:
            return reflect(v, cpu, tcode, e.pc, e.bd, va, False)
        if store and not glo & LO_D:
            return reflect(v, cpu, EXC_MOD, e.pc, e.bd, va)
        gpn = ((_pfn(glo) << 12) & ~(half - 1) | (va & (half - 1))) >> 12
        pm = v.vm.pmap
        if gpn >= pm.npages:
            return reflect(v, cpu, EXC_IBE if va == e.pc else EXC_DBE, e.pc, e.bd)
        if store and gpn in pm.readonly:
            pm.break_sharing(gpn)
        lo = pm.entrylo(gpn, glo | (LO_G if ent.g else 0), self.ctx.node(ci))
        self.l2_insert(v, vpn, GLOBAL if ent.g else asid, lo, gpn)
        self.fill_pair(v, ci, vpn, lo)
        return _VTLB_REFILL

    def kernel_tlb_fault(self, v: VMCpu, cpu: Cpu, ci: int, e: Trap) -> StatKind:
        """A miss in the relocated kseg0: VA 0xC0000000 + x is guest-physical x."""
        va = e.badvaddr
        if va >> 12 == _REGPAGE_VPN:
            # the running vCPU's register page; the hardware TLB is flushed whenever the
            # CPU switches vCPUs, so no other vCPU ever sees this entry
            assert v.regpage_mpn is not None
            lo = (v.regpage_mpn << 6) | CACHEABLE | LO_D | LO_V | LO_G
            self.hw.install(ci, REGPAGE_VPN2_VA, GLOBAL, LO_G, lo)
            return _KERNEL_TLB_FAULT
        pm = v.vm.pmap
        gpn = (va - KSSEG) >> 12
        if gpn >= pm.npages:
            return reflect(v, cpu, EXC_IBE if va == e.pc else EXC_DBE, e.pc, e.bd)
        if e.code != EXC_TLBL and gpn in pm.readonly:
            pm.break_sharing(gpn)
        full = LO_V | LO_D | LO_G
        pm.entrylo(gpn, full)  # allocates the touched page; its partner only when touched
        even = gpn & ~1
        node = self.ctx.node(ci)
        lo0, lo1 = (pm.entrylo(g, full, node) if g < pm.npages and pm.mpn[g] != NO_PAGE else LO_G
                    for g in (even, even + 1))
        self.hw.install(ci, va & EH_VPN2, GLOBAL, lo0, lo1)
        if self.assist is not None:  # the next miss on this pair is served in C
            self.assist.kernel_pair(v.vm, gpn, lo0, lo1, node)
        return _KERNEL_TLB_FAULT

    def fill_pair(self, v: VMCpu, ci: int, vpn: int, lo: int) -> None:
        """Write the hardware entry for vpn's pair: this half, and the other if the L2TLB has it."""
        g = lo & LO_G
        asid = v.cp0.entryhi & EH_ASID
        other = v.l2tlb.entries.get((vpn ^ 1, GLOBAL if g else asid))
        olo = other[0] if other is not None else g
        hw = GLOBAL if g else asid
        if self.hw.asid_remap:  # never global in hardware: tagged with this vCPU's ASID
            hw = self.hw.asid(v, asid)
            lo &= ~LO_G
            olo &= ~LO_G
        if vpn & 1:
            self.hw.install(ci, (vpn << 12) & EH_VPN2, hw, olo, lo)
        else:
            self.hw.install(ci, vpn << 12, hw, lo, olo)

    def l2_insert(self, v: VMCpu, vpn: int, asid: int, lo: int, gpn: int) -> None:
        if v.l2tlb.size:
            v.l2tlb.insert(vpn, asid, lo, gpn)
            v.vm.pmap.add_backmap(gpn, v.gid, vpn, asid)

    # ---- what guest TLB writes do (emulate.py) ------------------------------------------------

    def install_virtual_entry(self, v: VMCpu, cpu: Cpu, ent: TlbEntry,
                              kind: StatKind = _TLBWR) -> None:
        """Translate a guest TLB entry and write it to the hardware TLB and the L2TLB.
        `kind` (tlbwr or tlbwi) names the guest's instruction in the event log."""
        if ent.hi >= KUSEG_END or ent.mask:
            return  # entries outside kuseg are never used; large pages fill on demand
        pm = v.vm.pmap
        asid = GLOBAL if ent.g else ent.hi & EH_ASID
        vpn0 = ent.hi >> 12 & ~1
        los = []
        node = self.ctx.node(cpu.index)
        for k, glo in enumerate((ent.lo0, ent.lo1)):
            gpn = _pfn(glo)
            if glo & LO_V and gpn < pm.npages:
                lo = pm.entrylo(gpn, glo | (LO_G if ent.g else 0), node)
                self.l2_insert(v, vpn0 + k, asid, lo, gpn)
            else:
                lo = LO_G if ent.g else 0  # invalid: a touch comes back to the monitor
            los.append(lo)
        if self.hw.asid_remap:  # a guest-global entry is tagged with the current ASID
            asid = self.hw.asid(v, (v.cp0.entryhi if ent.g else ent.hi) & EH_ASID)
            los = [lo & ~LO_G for lo in los]
        self.hw.install(cpu.index, ent.hi & EH_VPN2, asid, los[0], los[1])
        if self.ctx.events.wants(kind):  # only while traced: TLB writes are frequent
            self._log_tlb_write(v, cpu, EventKind(kind), vpn0, (ent.lo0, ent.lo1), los)

    def _log_tlb_write(self, v: VMCpu, cpu: Cpu, kind: EventKind, vpn0: int,
                       guest_los: tuple[int, int], los: list[int]) -> None:
        """One event per valid half: VA → guest-physical → machine address, and its node."""
        now = cpu.cycles
        for k in (0, 1):
            if not los[k] & LO_V:
                continue
            mpn = _pfn(los[k])
            self.ctx.events.emit(kind, now, vm=v.vm.id, cpu=cpu.index, va=(vpn0 + k) << 12,
                                 pa=_pfn(guest_los[k]) << 12, ma=mpn << 12,
                                 node=self.ctx.memmap.node_of(mpn))

    def forget_virtual_entry(self, v: VMCpu, cpu: Cpu, ent: TlbEntry) -> None:
        """The guest overwrote `ent` with TLBWI: nothing derived from it may survive."""
        if ent.hi >= KUSEG_END or not (ent.lo0 | ent.lo1) & LO_V:
            return
        if ent.mask:
            v.l2tlb.flush()
            self.hw.flush(cpu.index)
            return
        self.forget_page(v, cpu, ent.hi & EH_VPN2, GLOBAL if ent.g else ent.hi & EH_ASID)

    def forget_page(self, v: VMCpu, cpu: Cpu, vpn2_va: int, asid: int) -> None:
        if vpn2_va >= KUSEG_END:
            return
        vpn = vpn2_va >> 12
        remap = self.hw.asid_remap
        for a in (asid, GLOBAL):
            v.l2tlb.remove(vpn, a)
            v.l2tlb.remove(vpn + 1, a)
            if not remap:
                self.hw.remove(cpu.index, vpn2_va, a)
        if remap:  # under any of v's machine ASIDs (guest-global entries)
            mine = self.hw.of_vcpu(v.gid)
            self.hw.remove_if(cpu.index, lambda k: k[0] == vpn2_va and mine(k))

    def invalidate_page(self, vm: VM, gpn: int, mpn: int) -> None:
        """pmap hook: the machine page behind gpn goes away; shoot down every mapping."""
        vcpus = self.ctx.vcpus
        for gid, vpn, asid in list(vm.pmap.backmap.get(gpn, ())):
            vcpus[gid].l2tlb.remove(vpn, asid)
        vm.pmap.backmap.pop(gpn, None)
        if self.assist is not None:
            self.assist.forget_page(vm, gpn)
        self.ctx.machine.hw_invalidate_mpn(mpn)
