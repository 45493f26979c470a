"""Containment checks: memory isolation read back from the real hardware TLBs.

Every valid hardware entry must map a machine page that the pmap of the VM
owning that TLB (or, with ASID remapping, owning the entry's machine ASID)
assigns to a guest page; a replica or a page shared read-only must never be
mapped writable; a register page is mapped only at its own address on the CPU
of its own vCPU; and no machine page backs two VMs unless it is shared
read-only. `check` returns the problems found (none when all is well).
"""

from __future__ import annotations

from disco_core.mips import (
    EH_ASID,
    EH_VPN2,
    KSEG1,
    KSEG3,
    KSSEG,
    KUSEG_END,
    LO_D,
    LO_G,
    LO_PFN_SHIFT,
    LO_V,
    PAGE_SHIFT,
)
from disco_core.monitor.context import MonitorContext
from disco_core.monitor.hwtlb import HwTlb
from disco_core.monitor.pmap import NO_PAGE
from disco_core.monitor.regpage import REGPAGE_VA
from disco_core.monitor.vm import VM


def check(ctx: MonitorContext, hw: HwTlb) -> list[str]:
    """Memory isolation, read from the real hardware TLBs: every valid entry maps
    a machine page that the pmap of the VM owning that TLB assigns to a guest page."""
    problems = []
    memmap = ctx.memmap
    for ci, cpu in enumerate(ctx.cpus):
        owner = hw.owner[ci]
        owner_vm = ctx.vcpus[owner].vm if owner is not None else None
        regpages = {v.regpage_mpn: v.gid for v in ctx.vcpus.values()}
        for i in range(hw.tlb_entries):
            hi, lo0, lo1, _mask = cpu.tlb(i)
            vm: VM | None = owner_vm
            if hw.asid_remap and not lo0 & lo1 & LO_G:  # tagged: its vCPU's VM
                tag = hw.masid_owner[hi & EH_ASID]
                vm = ctx.vcpus[tag[0]].vm if tag is not None else None
            for k, lo in enumerate((lo0, lo1)):
                if not lo & LO_V:
                    continue
                mpn = (lo >> LO_PFN_SHIFT) & 0xFFFFFF
                if mpn in regpages:
                    va = (hi & EH_VPN2) | (k << PAGE_SHIFT)
                    if regpages[mpn] != owner or va != REGPAGE_VA:
                        problems.append(f"CPU {ci} entry {i} maps the register page of "
                                        f"vCPU {regpages[mpn]} at {va:#x} (owner {owner})")
                    continue
                if vm is None:
                    problems.append(f"CPU {ci} entry {i} maps {mpn:#x} with no vCPU")
                    continue
                replica = memmap.master(mpn) != mpn
                if lo & LO_D and replica:
                    problems.append(f"CPU {ci} entry {i} maps replica {mpn:#x} writable")
                mpn = memmap.master(mpn)  # a replica stands for its master
                users = memmap.entries.get(mpn)
                if users is None or not any(u == vm.id for u, _ in users.users):
                    problems.append(f"CPU {ci} entry {i} maps machine page {mpn:#x}, "
                                    f"not VM {vm.name}'s")
                    continue
                if not any(vm.pmap.mpn[g] == mpn for u, g in users.users if u == vm.id):
                    problems.append(f"CPU {ci} entry {i}: pmap does not map {mpn:#x}")
                if lo & LO_D and users.shared_readonly:
                    problems.append(f"CPU {ci} entry {i} maps shared {mpn:#x} writable")
                if lo & LO_D and users.replicas:
                    problems.append(f"CPU {ci} entry {i} maps replicated {mpn:#x} writable")
    for a in ctx.vms:
        for mpn in a.pmap.mpn:
            if mpn != NO_PAGE and memmap.owners(mpn) - {a.id} and \
                    not memmap.entries[mpn].shared_readonly:
                problems.append(f"machine page {mpn:#x} of VM {a.name} is shared")
    return problems


def kernel_address_fault(va: int) -> str | None:
    """Why a guest kernel's address error at va is the monitor's business (it reached
    an unmapped segment a VM cannot have), or None (reflect it)."""
    if KUSEG_END <= va < KSSEG or va >= KSEG3:
        what = "kseg3" if va >= KSEG3 else ("kseg1" if va >= KSEG1 else "kseg0")
        return (f"the guest kernel reached {what} address {va:#010x}; a VM's kernel "
                "runs in the relocated kseg0 at 0xC0000000 and reaches devices through "
                "monitor calls")
    return None
