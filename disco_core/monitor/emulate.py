"""Trap-and-emulate (paper §2.2): privileged instructions and exception reflection.

The guest kernel runs in supervisor mode with Status.CU0 = 0, so every CP0
instruction it executes raises Coprocessor Unusable (CE = 0), which a
MONITORED CPU turns into an exit. `emulate_cop0` decodes the instruction word
(MIPS32 Volume II-A, appendix A: COP0, CACHE, SPECIAL3 RDHWR) and performs it
on the vCPU's virtual CP0 and virtual TLB. `reflect` delivers a guest
exception to the guest's own vectors exactly as the hardware would (MIPS32
PRA §6.2; core_c/exception.c follows the same rules).

Both return the monitor-action kind (stats.StatKind) so the caller can count
and charge it. The real CPU's mode and pc follow from the vCPU (realcpu.py);
what a guest TLB write, an ASID or a timer change does to the hardware goes
through the `Effects` the caller passes (the monitor).
"""

from __future__ import annotations

from typing import Protocol

from disco_core.errors import DiscoError
from disco_core.machine import Cpu
from disco_core.mips import (
    CA_BD,
    CA_CE,
    CA_CE_SHIFT,
    CA_DC,
    CA_EXCCODE,
    CA_EXCCODE_SHIFT,
    CA_IV,
    CAUSE,
    CO_ERET,
    CO_TLBP,
    CO_TLBR,
    CO_TLBWI,
    CO_TLBWR,
    CO_WAIT,
    COMPARE,
    CONTEXT_BADVPN2,
    COUNT,
    EH_ASID,
    EH_VPN2,
    ENTRYHI,
    EXC_ADEL,
    EXC_ADES,
    EXC_INT,
    EXC_MOD,
    EXC_TLBL,
    EXC_TLBS,
    FN_RDHWR,
    INDEX_P,
    LO_G,
    LO_WRITABLE,
    OP_CACHE,
    OP_COP0,
    OP_SPECIAL3,
    PAGEMASK_MASK,
    RANDOM,
    RS_MF,
    RS_MFMC0,
    RS_MT,
    RS_RDPGPR,
    RS_WRPGPR,
    ST_BEV,
    ST_ERL,
    ST_EXL,
    ST_IE,
    STATUS,
    VEC_GENERAL,
    VEC_INTERRUPT,
    VEC_REFILL,
)
from disco_core.monitor.realcpu import set_pc, sync_mode
from disco_core.monitor.stats import StatKind
from disco_core.monitor.vcpu import TlbEntry
from disco_core.monitor.vm import RELOCATED_KSEG0, VMCpu

# the statistic kinds bound once: an enum member's attribute lookup is slow
# (Python 3.11) and these are used on every exit
_CACHE = StatKind.CACHE
_DI = StatKind.DI
_EI = StatKind.EI
_ERET = StatKind.ERET
_INTERRUPT = StatKind.INTERRUPT
_MFC0 = StatKind.MFC0
_MTC0 = StatKind.MTC0
_RDPGPR = StatKind.RDPGPR
_REFLECT = StatKind.REFLECT
_TLBP = StatKind.TLBP
_TLBR = StatKind.TLBR
_TLBWI = StatKind.TLBWI
_TLBWR = StatKind.TLBWR
_WAIT = StatKind.WAIT
# RDHWR's hardware registers (MIPS32 Volume II, RDHWR)
HWR_CPUNUM, HWR_SYNCI_STEP, HWR_CC, HWR_CCRES, HWR_COUNT = range(5)
# MTC0 targets whose writes change the real CPU's state or pending interrupts
_SIDE_EFFECT_REGS = frozenset({COUNT, ENTRYHI, COMPARE, STATUS, CAUSE})


class Effects(Protocol):
    """What emulation does to the hardware beyond the vCPU (the monitor provides it)."""

    def sync_asid(self, v: VMCpu, cpu: Cpu) -> None: ...

    def sync_timer(self, v: VMCpu, cpu: Cpu, now: int) -> None: ...

    def hw_flush(self, ci: int) -> None: ...

    def install_virtual_entry(self, v: VMCpu, cpu: Cpu, ent: TlbEntry,
                              kind: StatKind = _TLBWR) -> None: ...

    def forget_virtual_entry(self, v: VMCpu, cpu: Cpu, ent: TlbEntry) -> None: ...

    def forget_page(self, v: VMCpu, cpu: Cpu, vpn2_va: int, asid: int) -> None: ...


class GuestFault(DiscoError):
    """The guest did something the monitor contains by stopping its VM."""


class NotEmulated(Exception):
    """The instruction is not one the monitor emulates: reflect Reserved Instruction."""


def reflect(vcpu: VMCpu, cpu: Cpu, code: int, pc: int, bd: bool, badva: int = 0,
            refill: bool = False, ce: int = 0) -> StatKind:
    """Enter the guest's exception vector as the hardware would (PRA §6.2).

    `pc` is the faulting instruction (in a delay slot: the slot, with bd set).
    """
    c = vcpu.cp0
    off = VEC_GENERAL
    if not c.status & ST_EXL:
        c.epc = (pc - 4) & 0xFFFFFFFF if bd else pc
        c.cause = (c.cause & ~CA_BD) | (CA_BD if bd else 0)
        if refill and code in (EXC_TLBL, EXC_TLBS):
            off = VEC_REFILL
        elif code == EXC_INT and c.cause & CA_IV:
            off = VEC_INTERRUPT
    c.cause = (c.cause & ~(CA_EXCCODE | CA_CE)) | (code << CA_EXCCODE_SHIFT) | (
        (ce & 3) << CA_CE_SHIFT)
    if code in (EXC_MOD, EXC_TLBL, EXC_TLBS):
        c.context = (c.context & ~CONTEXT_BADVPN2) | ((badva >> 13) << 4)
        c.entryhi = (badva & EH_VPN2) | (c.entryhi & EH_ASID)
        c.badvaddr = badva
    elif code in (EXC_ADEL, EXC_ADES):
        c.badvaddr = badva
    c.status |= ST_EXL
    if c.status & ST_BEV:
        raise GuestFault(
            f"exception {code} with Status.BEV set: the boot vectors (kseg1) are not "
            "reachable in a VM; set EBase and clear BEV first")
    # EBase names a kseg0 address; the guest's kseg0 lives at 0xC0000000
    vector = RELOCATED_KSEG0 | ((c.ebase & 0x1FFFF000) + off)
    sync_mode(vcpu, cpu)
    set_pc(cpu, vector)
    return _REFLECT if code != EXC_INT else _INTERRUPT


def emulate_cop0(mon: Effects, vcpu: VMCpu, cpu: Cpu, insn: int) -> StatKind:
    """Perform one privileged instruction on the vCPU; the caller advances the pc.

    Returns the action kind. ERET moves the pc itself; the monitor advances past
    WAIT, or deschedules the vCPU.
    """
    op = insn >> 26
    if op == OP_COP0:
        rs = (insn >> 21) & 0x1F
        if rs & 0x10:
            fn = insn & 0x3F
            if fn == CO_TLBWI:
                guest_tlb_write(mon, vcpu, cpu, vcpu.cp0.index & 0x3F, random=False)
                return _TLBWI
            if fn == CO_TLBWR:
                c = vcpu.cp0
                i = c.random()
                c.random_step += 1
                guest_tlb_write(mon, vcpu, cpu, i, random=True)
                return _TLBWR
            if fn == CO_TLBP:
                tlbp(mon, vcpu, cpu)
                return _TLBP
            if fn == CO_TLBR:
                tlbr(vcpu)
                return _TLBR
            if fn == CO_ERET:
                eret(vcpu, cpu)
                return _ERET
            if fn == CO_WAIT:
                return _WAIT
            raise NotEmulated
        rt = (insn >> 16) & 0x1F
        rd = (insn >> 11) & 0x1F
        if rs == RS_MF:
            v = vcpu.cp0.read(rd, insn & 7, cpu.cycles if rd in (RANDOM, COUNT) else 0)
            if rt:
                cpu.gpr[rt] = v
            return _MFC0
        if rs == RS_MT:
            v = cpu.gpr[rt]
            c = vcpu.cp0
            if rd in _SIDE_EFFECT_REGS and not insn & 7:
                mtc0_side_effects(mon, vcpu, cpu, rd, v)
            else:
                c.write(rd, insn & 7, v, 0)
            return _MTC0
        if rs == RS_MFMC0:  # DI / EI: rt gets the old Status
            c = vcpu.cp0
            old = c.status
            if rt:
                cpu.gpr[rt] = old
            if insn & 0x20:
                c.status |= ST_IE
                return _EI
            c.status &= ~ST_IE
            return _DI
        if rs in (RS_RDPGPR, RS_WRPGPR):  # one register set: a move
            if rd:
                cpu.gpr[rd] = cpu.gpr[rt]
            return _RDPGPR
        raise NotEmulated
    if op == OP_CACHE:
        return _CACHE  # caches are not modelled functionally: a no-op, as on the core
    raise NotEmulated


def rdhwr(vcpu: VMCpu, cpu: Cpu, insn: int, kernel: bool) -> bool:
    """Emulate RDHWR if the guest's HWREna (or kernel mode) allows it; False: reflect RI."""
    if insn >> 26 != OP_SPECIAL3 or insn & 0x3F != FN_RDHWR:
        return False
    rt = (insn >> 16) & 0x1F
    rd = (insn >> 11) & 0x1F
    c = vcpu.cp0
    if not kernel and not (rd < HWR_COUNT and c.hwrena & (1 << rd)):
        return False
    if rd == HWR_CPUNUM:
        v = c.ebase & 0x3FF
    elif rd == HWR_SYNCI_STEP:
        v = 64  # bytes between SYNCI addresses: the cache line
    elif rd == HWR_CC:
        v = c.count(cpu.cycles)
    elif rd == HWR_CCRES:
        v = 2  # Count ticks every other cycle
    else:
        return False
    if rt:
        cpu.gpr[rt] = v
    return True


def mtc0_side_effects(mon: Effects, vcpu: VMCpu, cpu: Cpu, rd: int, v: int) -> None:
    c = vcpu.cp0
    if rd == ENTRYHI:  # guest ASIDs go straight to the hardware
        old = c.entryhi
        c.write(rd, 0, v, 0)
        if (old ^ c.entryhi) & EH_ASID:
            mon.sync_asid(vcpu, cpu)
        return
    if rd in (COUNT, COMPARE) or (rd == CAUSE and (c.cause ^ v) & CA_DC):
        now = cpu.cycles  # they move the virtual timer (Cause.DC stops or starts it)
        c.write(rd, 0, v, now)
        mon.sync_timer(vcpu, cpu, now)
        return
    c.write(rd, 0, v, 0)
    if rd == STATUS:  # the mode may change
        sync_mode(vcpu, cpu)


def guest_tlb_write(mon: Effects, vcpu: VMCpu, cpu: Cpu, index: int, random: bool) -> None:
    """TLBWI/TLBWR: the virtual TLB gets the guest's entry; the hardware a machine one."""
    c = vcpu.cp0
    n = len(vcpu.tlb)
    i = index % n
    old = vcpu.tlb[i]
    mask = c.pagemask & PAGEMASK_MASK
    new = TlbEntry(hi=c.entryhi & ((EH_VPN2 & ~mask) | EH_ASID),
                   lo0=c.entrylo0 & LO_WRITABLE & ~LO_G, lo1=c.entrylo1 & LO_WRITABLE & ~LO_G,
                   mask=mask, g=c.entrylo0 & c.entrylo1 & LO_G)
    vcpu.tlb[i] = new
    if vcpu.on_tlb_write is not None:
        vcpu.on_tlb_write(i, new)
    if not random:
        # the guest may be invalidating: what the old entry mapped must go
        mon.forget_virtual_entry(vcpu, cpu, old)
        vcpu.wi_written.add(i)
        w = min(c.wired, n - 1)
        if len(vcpu.wi_written) >= n - w and all(j in vcpu.wi_written for j in range(w, n)):
            # every index was rewritten: a full flush, so TLBWR leftovers go too
            vcpu.l2tlb.flush()
            mon.hw_flush(cpu.index)  # the vCPU is running on it
            vcpu.wi_written.clear()
    mon.install_virtual_entry(vcpu, cpu, new, _TLBWR if random else _TLBWI)


def tlbp(mon: Effects, vcpu: VMCpu, cpu: Cpu) -> None:
    c = vcpu.cp0
    hi = c.entryhi
    for i, e in enumerate(vcpu.tlb):
        vmask = EH_VPN2 & ~e.mask
        if ((hi ^ e.hi) & vmask) == 0 and (e.g or ((hi ^ e.hi) & EH_ASID) == 0):
            c.index = i
            return
    c.index = INDEX_P | (c.index & 0x3F)
    # a probe that misses is how a guest checks before changing a mapping: drop what
    # the L2TLB still holds for this page (left there by TLBWR) so it cannot go stale
    mon.forget_page(vcpu, cpu, hi & EH_VPN2, hi & EH_ASID)


def tlbr(vcpu: VMCpu) -> None:
    c = vcpu.cp0
    e = vcpu.tlb[(c.index & 0x3F) % len(vcpu.tlb)]
    c.pagemask = e.mask
    c.entryhi = e.hi
    c.entrylo0 = e.lo0 | e.g
    c.entrylo1 = e.lo1 | e.g


def eret(vcpu: VMCpu, cpu: Cpu) -> None:
    c = vcpu.cp0
    if c.status & ST_ERL:
        target = c.errorepc
        c.status &= ~ST_ERL
    else:
        target = c.epc
        c.status &= ~ST_EXL
    sync_mode(vcpu, cpu)
    set_pc(cpu, target, clear_ll=True)

