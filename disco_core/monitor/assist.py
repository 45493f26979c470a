"""The monitor's C assists: the hot exits served inside the core (docs/monitor-abi.md).

Two kinds of table live in C and are kept coherent from here:

- per vCPU, an L2TLB table holding every pair of the vCPU's Python `L2Tlb`,
  mirrored on every change of a key (insert, remove, eviction, flush), and its
  virtual TLB, mirrored on every guest TLB write. The table is bound to the
  CPU while the vCPU runs there, and the core serves a kuseg miss as
  `Monitor._tlb_fault` would: an L2TLB hit is refilled, a miss that the
  virtual TLB has no valid entry for is reflected into the guest.
- per vCPU, its register page (regpage.py): the guest kernel's MFC0 of a page
  register, MTC0 of one (Status and EntryHi with their real-CPU effect), DI,
  EI, ERET, TLBP and TLBR, and a guest user's SYSCALL reflected into the guest kernel, are
  done in C on the page, unless they would leave an interrupt deliverable;
- per VM, a relocated-kseg0 table: for each guest page pair, the EntryLo pair
  `Monitor._kernel_tlb_fault` installed, forgotten whenever the pmap changes
  one of the two pages; a kernel miss on a known pair is served in C.

Each served refill is a trap into the monitor: the core charges the cost
model's trap + the kind's cycles, as `Monitor._on_exception` would, and `fold` adds
the counts to the VM's statistics, so cycles and statistics are exactly what
the Python handlers give (tests/monitor/test_assists.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from disco_core.machine import Machine
from disco_core.monitor.costs import CostModel
from disco_core.monitor.l2tlb import L2Tlb

if TYPE_CHECKING:
    from disco_core.monitor.vcpu import VCpu
    from disco_core.monitor.vm import VM


class Assists:
    """The C tables of every vCPU and VM of one monitor."""

    def __init__(self, machine: Machine, costs: CostModel) -> None:
        self.m = machine
        # rows of the kseg tables: one per node, since a replicated page's EntryLo
        # names the replica on the node of the CPU that maps it (numa.py)
        self.ktab_nodes = machine.config.nodes
        self.refill_cost = costs.trap + costs.l2tlb_refill
        self.kfault_cost = costs.trap + costs.kernel_tlb_fault
        t = costs.trap
        self.cp0_cost = {"mfc0": t + costs.mfc0_mtc0, "mtc0": t + costs.mfc0_mtc0,
                         "di": t + costs.other_privileged, "ei": t + costs.other_privileged,
                         "eret": t + costs.eret, "reflect": t + costs.reflect,
                         "tlbp": t + costs.tlbp, "tlbr": t + costs.tlbr}
        self.l2: dict[int, int] = {}  # vCPU gid -> L2TLB table handle
        self.kt: dict[int, int] = {}  # VM id -> kseg table handle

    def add_vm(self, vm: VM, real_super: int, real_user: int) -> None:
        m = self.m
        self.kt[vm.id] = h = m.ktab_new(vm.pmap.npages, self.ktab_nodes, self.kfault_cost)
        vm.pmap.changed = lambda gpn, h=h: m.ktab_forget(h, gpn)
        for v in vm.vcpus:
            self.l2[v.gid] = t = m.l2tlb_new(self.refill_cost, v.l2tlb.size)
            mirror(m, t, v.l2tlb)
            m.vtlb_reset(t, len(v.tlb))
            v.on_tlb_write = lambda i, e, t=t: m.vtlb_set(t, i, e.hi, e.lo0, e.lo1, e.mask, e.g)
            if v.regpage_mpn is not None:
                m.cp0_assist(t, v.regpage_mpn << 12, self.cp0_cost, real_super, real_user)

    # ---- binding: the tables of the vCPU a CPU runs ----

    def bind(self, ci: int, v: VCpu) -> None:
        cpu = self.m.cpus[ci]
        cpu.l2tlb_bind(self.l2[v.gid])
        cpu.ktab_bind(self.kt[v.vm.id])

    def unbind(self, ci: int) -> None:
        cpu = self.m.cpus[ci]
        cpu.l2tlb_bind(0)
        cpu.ktab_bind(0)

    # ---- coherence hooks ----

    def kernel_pair(self, vm: VM, gpn: int, lo0: int, lo1: int, node: int = 0) -> None:
        """_kernel_tlb_fault installed (lo0, lo1) for gpn's pair (on a CPU of `node`,
        when the table has a row per node): serve it in C next time."""
        self.m.ktab_set(self.kt[vm.id], node if self.ktab_nodes > 1 else 0, gpn, lo0, lo1)

    def forget_page(self, vm: VM, gpn: int) -> None:
        self.m.ktab_forget(self.kt[vm.id], gpn)

    def reset_vcpu(self, v: VCpu) -> None:
        """The vCPU was reset (VM start): a fresh virtual TLB, no progress yet."""
        self.m.vtlb_reset(self.l2[v.gid], len(v.tlb))
        self.progressed(v)

    def progressed(self, v: VCpu) -> bool:
        """An ERET served in C entered guest user mode since the last call."""
        return self.m.vcpu_progressed(self.l2[v.gid])

    # ---- statistics ----

    def fold(self, vms: list[VM]) -> int:
        """Add the refills served in C since the last fold to the VMs' statistics
        (and the L2TLBs' hit counts); returns how many there were."""
        m = self.m
        total = 0
        for vm in vms:
            n = m.ktab_take(self.kt[vm.id])
            if n:
                vm.stats.add_many("kernel_tlb_fault", n, self.kfault_cost)
                total += n
            for v in vm.vcpus:
                h = self.l2[v.gid]
                counts = m.l2tlb_take(h)
                n = counts["refills"]
                if n:
                    vm.stats.add_many("l2tlb_refill", n, self.refill_cost)
                    total += n
                v.l2tlb.hits += n + counts["hits"]
                v.l2tlb.misses += counts["misses"]
                for kind, n in m.cp0_take(h).items():
                    if n:
                        vm.stats.add_many(kind, n, self.cp0_cost[kind])
                        total += n
        return total


def mirror(m: Machine, handle: int, t: L2Tlb) -> None:
    """Make C table `handle` follow the Python L2TLB `t`: after every change of a
    key, the key's pair is written again as the Python table has it. The key's
    ASID is the one in the hardware EntryHi (the guest's: ASIDs go straight to
    the hardware)."""
    entries = t.entries
    put = m.l2tlb_put

    def changed(vpn: int, asid: int) -> None:
        even = entries.get((vpn & ~1, asid))
        odd = entries.get((vpn | 1, asid))
        present = (even is not None) | (odd is not None) << 1
        put(handle, vpn >> 1, asid, present, even[0] if even is not None else 0,
            odd[0] if odd is not None else 0)

    t.on_change = changed
    t.on_flush = lambda: m.l2tlb_clear(handle)
