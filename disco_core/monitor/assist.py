"""The monitor's C assists: the hot exits served inside the core (docs/monitor-abi.md).

The tables in C are derived from Python state and never the other way round:
every change is written through as it happens (the L2TLB's `Mirror`, the
vCPU's `on_tlb_write`, the pmap's `changed`), and `rebuild` writes every table
afresh from the Python state (after `Monitor.load_state`). What C counts
(refills served, L2TLB hits, CP0 instructions, an ERET into user mode) is taken
back into the Python statistics by `fold`. The tables:

- per vCPU, an L2TLB table holding every pair of the vCPU's Python `L2Tlb`,
  mirrored on every change of a key (insert, remove, eviction, flush), and its
  virtual TLB, mirrored on every guest TLB write. The table is bound to the
  CPU while the vCPU runs there, and the core serves a kuseg miss as
  `TlbMiss.tlb_fault` would: an L2TLB hit is refilled, a miss that the
  virtual TLB has no valid entry for is reflected into the guest.
- per vCPU, its register page (regpage.py): the guest kernel's MFC0 of a page
  register, MTC0 of one (Status and EntryHi with their real-CPU effect), DI,
  EI, ERET, TLBP and TLBR, and a guest user's SYSCALL reflected into the guest kernel, are
  done in C on the page, unless they would leave an interrupt deliverable;
- per VM, a relocated-kseg0 table: for each guest page pair (and node), the
  EntryLo pair `TlbMiss.kernel_tlb_fault` installed, forgotten whenever the
  pmap changes one of the two pages; a kernel miss on a known pair is served
  in C. Which pairs are known is this module's own state (`kseg`), saved as
  its section.

Each served refill is a trap into the monitor: the core charges the cost
model's trap + the kind's cycles, as `Monitor` does for an exit, and `fold` adds
the counts to the VM's statistics, so cycles and statistics are exactly what
the Python handlers give (tests/monitor/test_assists.py).
"""

from __future__ import annotations

from disco_core.errors import SnapshotError
from disco_core.machine import Machine
from disco_core.monitor import sections
from disco_core.monitor.costs import CostModel
from disco_core.monitor.l2tlb import L2Tlb
from disco_core.monitor.sections import Section
from disco_core.monitor.stats import StatKind
from disco_core.monitor.vcpu import TlbEntry
from disco_core.monitor.vm import VM, VMCpu

SECTION, VERSION = "assists", 1
# the statistic kinds bound once: an enum member's attribute lookup is slow
# (Python 3.11) and these are used on every exit
_KERNEL_TLB_FAULT = StatKind.KERNEL_TLB_FAULT
_L2TLB_REFILL = StatKind.L2TLB_REFILL


class L2Mirror:
    """Makes C table `handle` follow a Python L2TLB: after every change of a key the
    key's pair is written again as the Python table has it. The key's ASID is the
    one in the hardware EntryHi (the guest's: ASIDs go straight to the hardware)."""

    __slots__ = ("machine", "handle", "table")

    def __init__(self, machine: Machine, handle: int, table: L2Tlb) -> None:
        self.machine = machine
        self.handle = handle
        self.table = table

    def changed(self, vpn: int, asid: int) -> None:
        entries = self.table.entries
        even = entries.get((vpn & ~1, asid))
        odd = entries.get((vpn | 1, asid))
        present = (even is not None) | (odd is not None) << 1
        self.machine.l2tlb_put(self.handle, vpn >> 1, asid, present,
                               even[0] if even is not None else 0,
                               odd[0] if odd is not None else 0)

    def cleared(self) -> None:
        self.machine.l2tlb_clear(self.handle)

    def rewrite(self) -> None:
        """The whole table again from the Python one."""
        self.cleared()
        for vpn, asid in {(vpn & ~1, asid) for vpn, asid in self.table.entries}:
            self.changed(vpn, asid)


class VtlbMirror:
    """Writes a guest TLB write through to the C copy of the vCPU's virtual TLB."""

    __slots__ = ("machine", "handle")

    def __init__(self, machine: Machine, handle: int) -> None:
        self.machine = machine
        self.handle = handle

    def __call__(self, i: int, e: TlbEntry) -> None:
        self.machine.vtlb_set(self.handle, i, e.hi, e.lo0, e.lo1, e.mask, e.g)


class Assists:
    """The C tables of every vCPU and VM of one monitor."""

    def __init__(self, machine: Machine, costs: CostModel, real_super: int,
                 real_user: int) -> None:
        self.m = machine
        # rows of the kseg tables: one per node, since a replicated page's EntryLo
        # names the replica on the node of the CPU that maps it (numa.py)
        self.ktab_nodes = machine.config.nodes
        self.real_super, self.real_user = real_super, real_user
        self.refill_cost = costs.trap + costs.l2tlb_refill
        self.kfault_cost = costs.trap + costs.kernel_tlb_fault
        t = costs.trap
        self.cp0_cost = {"mfc0": t + costs.mfc0_mtc0, "mtc0": t + costs.mfc0_mtc0,
                         "di": t + costs.other_privileged, "ei": t + costs.other_privileged,
                         "eret": t + costs.eret, "reflect": t + costs.reflect,
                         "tlbp": t + costs.tlbp, "tlbr": t + costs.tlbr}
        self.l2: dict[int, int] = {}  # vCPU gid -> L2TLB table handle
        self.kt: dict[int, int] = {}  # VM id -> kseg table handle
        # the kseg tables' contents: VM id -> gpn // 2 -> row -> (lo0, lo1)
        self.kseg: dict[int, dict[int, dict[int, tuple[int, int]]]] = {}

    def add_vm(self, vm: VM) -> None:
        m = self.m
        self.kt[vm.id] = m.ktab_new(vm.pmap.npages, self.ktab_nodes, self.kfault_cost)
        self.kseg[vm.id] = {}
        vm.pmap.changed = lambda gpn, vm=vm: self.forget_page(vm, gpn)
        for v in vm.vcpus:
            self.l2[v.gid] = t = m.l2tlb_new(self.refill_cost, v.l2tlb.size)
            v.l2tlb.mirror = L2Mirror(m, t, v.l2tlb)
            m.vtlb_reset(t, len(v.tlb))
            v.on_tlb_write = VtlbMirror(m, t)
            if v.regpage_mpn is not None:
                m.cp0_assist(t, v.regpage_mpn << 12, self.cp0_cost, self.real_super,
                             self.real_user)

    # ---- binding: the tables of the vCPU a CPU runs ----

    def bind(self, ci: int, v: VMCpu) -> None:
        cpu = self.m.cpus[ci]
        cpu.l2tlb_bind(self.l2[v.gid])
        cpu.ktab_bind(self.kt[v.vm.id])

    def unbind(self, ci: int) -> None:
        cpu = self.m.cpus[ci]
        cpu.l2tlb_bind(0)
        cpu.ktab_bind(0)

    # ---- what the Python paths tell the tables ----

    def kernel_pair(self, vm: VM, gpn: int, lo0: int, lo1: int, node: int = 0) -> None:
        """kernel_tlb_fault installed (lo0, lo1) for gpn's pair (on a CPU of `node`,
        when the table has a row per node): serve it in C next time."""
        row = node if self.ktab_nodes > 1 else 0
        self.kseg[vm.id].setdefault(gpn >> 1, {})[row] = (lo0, lo1)
        self.m.ktab_set(self.kt[vm.id], row, gpn, lo0, lo1)

    def forget_page(self, vm: VM, gpn: int) -> None:
        """gpn's machine page changed or went: its pair is unknown on every node."""
        self.kseg[vm.id].pop(gpn >> 1, None)
        self.m.ktab_forget(self.kt[vm.id], gpn)

    def reset_vcpu(self, v: VMCpu) -> None:
        """The vCPU was reset (VM start): a fresh virtual TLB, no progress yet."""
        self.m.vtlb_reset(self.l2[v.gid], len(v.tlb))
        self.progressed(v)

    def progressed(self, v: VMCpu) -> bool:
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
                vm.stats.add_many(_KERNEL_TLB_FAULT, n, self.kfault_cost)
                total += n
            for v in vm.vcpus:
                h = self.l2[v.gid]
                counts = m.l2tlb_take(h)
                n = counts["refills"]
                if n:
                    vm.stats.add_many(_L2TLB_REFILL, n, self.refill_cost)
                    total += n
                v.l2tlb.hits += n + counts["hits"]
                v.l2tlb.misses += counts["misses"]
                for kind, n in m.cp0_take(h).items():
                    if n:
                        vm.stats.add_many(StatKind(kind), n, self.cp0_cost[kind])
                        total += n
        return total

    def fold_progress(self, vms: list[VM]) -> None:
        """Take C's "entered user mode" flags into the vCPUs' own (the watchdog reads
        either at the next slice end, so taking them early changes nothing)."""
        for vm in vms:
            for v in vm.vcpus:
                if self.progressed(v):
                    v.progressed = True

    # ---- state ----

    def rebuild(self, vms: list[VM], current: list[VMCpu | None]) -> None:
        """Write every table afresh from the Python state: the L2TLBs, the virtual TLBs,
        the kseg pairs, and the tables bound to each CPU (after a load)."""
        m = self.m
        for vm in vms:
            h = self.kt[vm.id]
            m.ktab_clear(h)
            m.ktab_take(h)
            for pair, rows in self.kseg[vm.id].items():
                for row, (lo0, lo1) in rows.items():
                    m.ktab_set(h, row, pair << 1, lo0, lo1)
            for v in vm.vcpus:
                t = self.l2[v.gid]
                mirror = v.l2tlb.mirror
                assert isinstance(mirror, L2Mirror)
                mirror.rewrite()
                m.vtlb_reset(t, len(v.tlb))
                for i, e in enumerate(v.tlb):
                    m.vtlb_set(t, i, e.hi, e.lo0, e.lo1, e.mask, e.g)
                m.l2tlb_take(t)
                m.cp0_take(t)
                m.vcpu_progressed(t)
        for ci, running in enumerate(current):
            if running is None:
                self.unbind(ci)
            else:
                self.bind(ci, running)

    def state(self) -> Section:
        """The kseg pairs known in C (the rest of the tables is the vCPUs' state)."""
        return sections.make(SECTION, VERSION, kseg=[
            [vm_id, [[pair, [[row, lo0, lo1] for row, (lo0, lo1) in rows.items()]]
                     for pair, rows in pairs.items()]]
            for vm_id, pairs in self.kseg.items()])

    def load_state(self, section: Section) -> None:
        sec = sections.check(section, SECTION, VERSION, "kseg")
        with sections.loading(SECTION):
            kseg = {int(vm_id): {int(pair): {int(row): (int(lo0), int(lo1))
                                             for row, lo0, lo1 in rows}
                                 for pair, rows in pairs}
                    for vm_id, pairs in sec["kseg"]}
        if set(kseg) != set(self.kt):
            raise SnapshotError(f"the assists section has kseg tables of VMs {sorted(kseg)}; "
                                f"this monitor has VMs {sorted(self.kt)}")
        self.kseg = kseg
