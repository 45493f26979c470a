"""What a session's viewers see of the virtual machines: per-VM counters and copied tables.

The copies that cost something (every VM's pmap, the focused vCPU's L2TLB,
the monitor's event log) are refreshed at most every VM_INFO_EVERY while the
machine runs, at once when it is stopped or when asked (`forget`).
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from disco_core.machine import Machine
from disco_core.mips import (
    DEVICE_WINDOW_PFN,
    HIGH_RAM_PFN,
    PAGE_SHIFT,
    PAGE_SIZE,
    ram_index_to_pfn,
)
from disco_core.monitor import Monitor
from disco_core.monitor.costs import DEFAULT as DEFAULT_COSTS
from disco_core.monitor.costs import CostModel
from disco_core.monitor.events import Event as MonitorEvent
from disco_core.monitor.vcpu import VCpu
from disco_core.session.snapshot import VmsInfo

VM_INFO_EVERY = 0.25  # s between copies of the pmaps, L2TLB and event log while running
MONITOR_EVENTS = 500  # monitor events a snapshot carries
MOVED_SECONDS = 2.0  # how long a migrated or replicated page stays marked
_MOVES = ("migrate", "replicate", "collapse")


@dataclass(frozen=True)
class MonitorOptions:
    """The monitor's options a session of VMs is built with. They are part of its core
    spec (factories.VmsCoreSpec), so the fresh monitor a checkpoint is loaded into
    has them too, and of a recording's configuration (record/recorder.RecordConfig),
    so `disco compare` can change them."""

    asid_remap: bool = False  # tag hardware TLB entries per vCPU instead of flushing
    costs: CostModel = DEFAULT_COSTS  # what the monitor's work is charged (costs.py)


def ram_rows(mpn: np.ndarray) -> np.ndarray:
    """Machine page numbers -> RAM page indexes (rows of the miss counters); -1 stays.
    The array form of disco_core.mips.pfn_to_ram_index."""
    return np.where(mpn < 0, -1, np.where(mpn < DEVICE_WINDOW_PFN, mpn,
                                          DEVICE_WINDOW_PFN + mpn - HIGH_RAM_PFN))


def _own(owner: np.ndarray, rows: np.ndarray, vm_id: int) -> None:
    """Mark RAM rows as vm_id's, or shared (-2) where another VM has them already."""
    cur = owner[rows]
    owner[rows] = np.where((cur == -1) | (cur == vm_id), vm_id, -2)


@dataclass(frozen=True)
class Copies:
    """One refresh of the tables that cost to copy."""

    pmaps: list[np.ndarray]  # per VM: guest page -> machine page, or -1
    rows: list[np.ndarray]  # the same as RAM rows
    owner: np.ndarray  # (RAM pages,) int16: VM, -1 free, -2 shared
    memory: np.ndarray  # (VMs, nodes) pages
    moved: np.ndarray  # RAM rows recently migrated or replicated
    events: tuple[MonitorEvent, ...]
    l2tlb: np.ndarray  # the focused vCPU's: (n, 4) int64 vpn, ASID, EntryLo, gpn


class VmsView:
    """Per-VM counters the run loop charges, and the copies a snapshot carries."""

    def __init__(self, machine: Machine, monitor: Monitor, vcpus: list[VCpu],
                 names: list[str]) -> None:
        self.machine = machine
        self.monitor = monitor
        self.vcpus = vcpus
        self.names = names
        nvm = len(monitor.vms)
        self.instructions = np.zeros(nvm, np.int64)
        self.cycles = np.zeros(nvm, np.int64)
        self._vm_of = {v.gid: vm.id for vm in monitor.vms for v in vm.vcpus}
        self._copies: Copies | None = None
        self._copied_at = -1.0
        self._misses_at = -2.0  # the refresh the per-VM miss sums below belong to
        self._vm_misses = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        self._moved: deque[tuple[float, int]] = deque(maxlen=4096)
        self._event_seq = 0
        self._checked = np.zeros(0, bool)  # pages _freshen looked up since the last copy

    def charge(self, vm_id: int, instructions: int, cycles: int) -> None:
        self.instructions[vm_id] += instructions
        self.cycles[vm_id] += cycles

    def forget(self) -> None:
        self._copied_at = -1.0

    def copies(self, focus: VCpu, running: bool) -> Copies:
        """The copies, at most VM_INFO_EVERY old while running."""
        now = time.monotonic()
        if (running and self._copies is not None
                and 0 <= now - self._copied_at < VM_INFO_EVERY):
            return self._copies
        vms = self.monitor.vms
        pmaps = [np.array(vm.pmap.mpn, np.int64) for vm in vms]
        rows = [ram_rows(p) for p in pmaps]
        pages = self.machine.ram_bytes // PAGE_SIZE
        owner = np.full(pages, -1, np.int16)
        for vm, r in zip(vms, rows, strict=True):
            _own(owner, r[r >= 0], vm.id)
        # The pmaps name the master pages only: a replica (numa.py) and a vCPU's register
        # page (regpage.py) are their VM's too, though no pmap maps them.
        entries = self.monitor.memmap.entries
        for vm in vms:
            extra = [v.regpage_mpn for v in vm.vcpus if v.regpage_mpn is not None]
            for gpn in vm.pmap.replicated:
                master = entries.get(vm.pmap.mpn[gpn])
                if master is not None:
                    extra += master.replicas.values()
            if extra:
                _own(owner, ram_rows(np.array(extra, np.int64)), vm.id)
        self._checked = np.zeros(pages, bool)
        nodes = self.machine.config.nodes
        per_node = pages // nodes
        memory = np.stack([np.bincount(r[r >= 0] // per_node, minlength=nodes)[:nodes]
                           for r in rows]) if rows else np.zeros((0, nodes), np.int64)
        events = self.monitor.events
        for e in events.since(self._event_seq):
            pa = e.data.get("pa")
            if e.kind in _MOVES and e.vm is not None and isinstance(pa, int | np.integer):
                gpn = int(pa) >> PAGE_SHIFT
                mpn = pmaps[e.vm]
                if gpn < len(mpn) and mpn[gpn] >= 0:
                    self._moved.append((now, int(ram_rows(mpn[gpn : gpn + 1])[0])))
        self._event_seq = events.seq
        while self._moved and now - self._moved[0][0] > MOVED_SECONDS:
            self._moved.popleft()
        l2 = np.array(focus.l2tlb_rows(), np.int64).reshape(-1, 4)
        self._copies = Copies(
            pmaps=pmaps, rows=rows, owner=owner, memory=memory,
            moved=np.array(sorted({r for _, r in self._moved}), np.int64),
            events=tuple(events.since(max(0, events.seq - MONITOR_EVENTS))), l2tlb=l2)
        self._copied_at = now
        return self._copies

    def _freshen(self, c: Copies, misses: np.ndarray, g: int) -> np.ndarray:
        """The owners, with the pages that miss but had no owner at the last copy looked
        up in the memmap now: the copy is up to VM_INFO_EVERY old, and a page allocated
        since glows with its first misses at once (it would show as no VM's page)."""
        owner = c.owner
        unowned = owner[: misses.shape[0] * g : g] == -1 if g > 1 else owner == -1
        rows = np.flatnonzero(unowned & misses.any(axis=1))
        if not rows.size:
            return owner
        pages = (rows[:, None] * g + np.arange(g)).ravel() if g > 1 else rows
        pages = pages[(owner[pages] == -1) & ~self._checked[pages]]
        if not pages.size:
            return owner
        self._checked[pages] = True
        entries = self.monitor.memmap.entries
        found: list[tuple[int, set[int]]] = []
        for page in pages.tolist():
            e = entries.get(ram_index_to_pfn(page))
            if e is not None and e.replica_of >= 0:
                e = entries.get(e.replica_of)
            if e is not None and e.users:
                found.append((page, {vm for vm, _gpn in e.users}))
        if not found:
            return owner
        owner = owner.copy()  # a snapshot's array is never changed after it is taken
        for page, vms in found:
            owner[page] = next(iter(vms)) if len(vms) == 1 else -2
        self._copies = dataclasses.replace(c, owner=owner)
        return owner

    def info(self, misses: np.ndarray, page_group: int, focus: VCpu,
             running: bool) -> VmsInfo:
        mon = self.monitor
        vms = mon.vms
        c = self.copies(focus, running)
        g = page_group
        if self._misses_at != self._copied_at:  # with the pmaps, a few times a second
            nodes = self.machine.config.nodes
            per_row_node = misses.shape[0] // nodes
            local = np.zeros(len(vms), np.int64)
            total = np.zeros(len(vms), np.int64)
            for i, r in enumerate(c.rows):
                rr = r[r >= 0] // g
                sub = misses[rr]
                total[i] = int(sub.sum(dtype=np.int64))
                local[i] = int(sub[np.arange(len(rr)), rr // per_row_node].sum(dtype=np.int64))
            self._vm_misses = (local, total)
            self._misses_at = self._copied_at
        local, total = self._vm_misses
        owner = self._freshen(c, misses, g)
        if g > 1:
            owner = owner[: misses.shape[0] * g : g]
        cpu_vcpu = np.array([-1 if v is None else v.gid for v in mon.current], np.int64)
        paused = mon.sched.paused  # PauseVm: not scheduled while the others run
        return VmsInfo(
            names=tuple(vm.name for vm in vms), vcpu_names=tuple(self.names),
            vcpu_vm=tuple(self._vm_of[v.gid] for v in self.vcpus),
            vcpu_state=tuple("paused" if self._vm_of[v.gid] in paused else v.state.value
                             for v in self.vcpus),
            cpu_vcpu=cpu_vcpu,
            vm_state=tuple("paused" if vm.id in paused else
                           vm.state.value + (f": {vm.stop_reason}" if vm.stop_reason else "")
                           for vm in vms),
            pmap_rows=tuple(c.rows), page_owner=owner, moved=c.moved, memory=c.memory,
            instructions=self.instructions.copy(), cycles=self.cycles.copy(),
            monitor_cycles=np.array([vm.stats.total_cycles for vm in vms], np.int64),
            exits=np.array([vm.stats.total_exits for vm in vms], np.int64),
            local_misses=local, misses=total)
