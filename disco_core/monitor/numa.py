"""The NUMA manager (paper §2.4): page placement, migration and replication.

Driven by the fabric's per-page per-node miss counters (docs/fabric.md): when
one node's count of L2 misses to a page reaches the hot threshold the machine
reports the page (a HOTPAGE exit), and the manager reads the page's row of
counters to choose:

- **migrate** the page to that node when no other node uses it much (fewer
  than `sharing_threshold` misses): copy it to a page there, shoot down the old
  mappings (every user's, through the pmap backmaps) and remap;
- **replicate** it to that node when other nodes use it too and it has not
  been written since the counters were last reset (no store collapsed its
  replicas, and the directory shows no cache holding one of its lines
  modified): every mapping becomes read-only, a copy goes to the node and CPUs
  there map the copy;
- **leave it** when it is write-shared (its replicas collapsed on a store),
  already local, or has migrated `max_moves` times since the last reset.

A store to a replicated page (a write fault on the read-only mapping, or a
host write such as a disk DMA) **collapses** the replicas: every mapping of
the master and the copies is shot down, the copies are freed and the page is
marked written. Counters and per-page move counts are reset every
`reset_cycles`. Every move is charged in simulated cycles (costs.py), counted
per VM (stats kind "migrate", "replicate", "collapse", "hot_page") and emitted
as an event.

Policies (`POLICIES`): where a new page goes and whether pages move.

| policy | first placement | moves |
|---|---|---|
| none | the VM's home nodes in order (fill the first) | no |
| round_robin | guest page n on home node n mod len(home) | no |
| first_touch | the touching CPU's node if a home node, else round robin | no |
| migrate | first touch | migration |
| migrate_replicate (default) | first touch | migration and replication |

Disco allocates a machine page when a vCPU first touches the guest page, so
its natural placement is the touching CPU's node (first touch); the moving
policies build on it, and `round_robin` is the paper's IRIX baseline. Only
guest pages move: a page with no VM user, or one a pmap does not map
(monitor-owned pages), is left alone.

Thresholds (`NumaParams`), documented in docs/numa.md with their source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from disco_core.errors import DiscoError, SnapshotError
from disco_core.monitor import sections
from disco_core.monitor.context import MonitorContext
from disco_core.monitor.events import EventKind
from disco_core.monitor.memmap import (
    PAGE,
    MemmapEntry,
    OutOfMachineMemory,
    mpn_to_ram_index,
    ram_index_to_mpn,
)
from disco_core.monitor.sections import Section
from disco_core.monitor.stats import StatKind
from disco_core.monitor.vm import VM

POLICIES = ("none", "round_robin", "first_touch", "migrate", "migrate_replicate")
DEFAULT_POLICY = "migrate_replicate"
MOVING = frozenset({"migrate", "migrate_replicate"})
SECTION, VERSION = "numa", 1


class FrameIndex(Protocol):
    """A mechanism that finds machine pages by what they hold (the disk cache, content
    sharing): told when the manager migrates one of its frames."""

    def moved(self, tag: Any, mpn: int) -> None: ...


@dataclass(frozen=True)
class NumaParams:
    """The policy's thresholds (docs/numa.md gives the sources and how they scale)."""

    # Verghese et al. (ASPLOS'96): trigger 128 misses, sharing 32, reset every 100 ms.
    # Our runs are ~100x shorter, so the counters reset every 20 ms (4M cycles at
    # 200 MHz) and the thresholds scale by the same 1/5: 128/5 ~ 32 and 32/5 ~ 8.
    hot_threshold: int = 32  # misses from one node that make a page hot
    sharing_threshold: int = 8  # another node with this many misses shares it
    max_moves: int = 4  # migrations per page between resets (Verghese limits moves; ours)
    reset_cycles: int = 4_000_000  # counter reset period

    def check(self) -> None:
        if not 0 < self.hot_threshold < 1 << 32:
            raise DiscoError(f"NUMA hot_threshold {self.hot_threshold} must be 1 to 2**32-1")
        if not 0 < self.sharing_threshold <= self.hot_threshold:
            raise DiscoError(f"NUMA sharing_threshold {self.sharing_threshold} must be 1 to "
                             f"the hot threshold {self.hot_threshold}")
        if self.max_moves < 0 or self.reset_cycles <= 0:
            raise DiscoError("NUMA max_moves must be >= 0 and reset_cycles > 0")


def check_policy(name: str) -> str:
    if name not in POLICIES:
        raise DiscoError(f"no NUMA policy {name!r}: choose one of {', '.join(POLICIES)}")
    return name


class NumaStats:
    """Machine-wide counts of what the manager did."""

    __slots__ = ("hot_reports", "migrations", "replications", "collapses", "skipped",
                 "cycles", "resets")

    def __init__(self) -> None:
        self.hot_reports = 0
        self.migrations = 0
        self.replications = 0
        self.collapses = 0
        self.skipped: dict[str, int] = {}  # why a hot page stayed: local, shared, limit, …
        self.cycles = 0  # simulated cycles charged for NUMA work
        self.resets = 0

    def as_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__slots__}


class NumaManager:
    """Placement and hot-page handling for every VM of one monitor."""

    def __init__(self, ctx: MonitorContext, policy: str = DEFAULT_POLICY,
                 params: NumaParams | None = None) -> None:
        self.ctx = ctx
        self.policy = check_policy(policy)
        self.params = params or NumaParams()
        self.params.check()
        self.moving = policy in MOVING
        self.replicating = policy == "migrate_replicate"
        self.stats = NumaStats()
        self.indexes: list[FrameIndex] = []  # told of migrated frames, in this order
        self._touched: list[MemmapEntry] = []  # entries whose moves/written need resetting
        self._next_reset = self.params.reset_cycles
        hw = ctx.machine.config.hot_threshold
        # without hardware reports (hot_threshold 0) the manager polls the counters,
        # eight times per reset period
        self._poll = self.moving and hw == 0
        self._threshold = hw if hw else self.params.hot_threshold
        self._reported: set[tuple[int, int]] = set()
        self._next_poll = 0

    # ---- VMs ----------------------------------------------------------------------------

    def attach(self, vm: VM) -> None:
        pm = vm.pmap
        home = list(vm.home_nodes)
        n = len(home)
        if self.policy == "none":
            pm.place = None
        elif self.policy in ("first_touch", "migrate", "migrate_replicate"):
            def place(gpn: int) -> list[int]:
                ci = self.ctx.exit_cpu
                node = self.ctx.node(ci) if ci >= 0 else -1
                # a VM's memory stays on its home nodes: a vCPU running elsewhere
                # (overcommitted CPUs) gets round robin over them instead
                return [node] if node in home else [home[gpn % n]]
            pm.place = place
        else:
            pm.place = lambda gpn: [home[gpn % n]]
        pm.on_replicated_store = lambda gpn, vm=vm: self.collapse(
            vm.pmap.mpn[gpn], "write", vm)

    # ---- periodic work ------------------------------------------------------------------

    def tick(self) -> None:
        """At a slice boundary: poll the counters (no hardware reports) and reset them
        when the period is over."""
        if not self.moving:
            return
        now = self.ctx.machine_cycles()
        if self._poll and now >= self._next_poll:
            self._next_poll = now + self.params.reset_cycles // 8
            self._poll_counters()
        if now >= self._next_reset:
            self._next_reset = now + self.params.reset_cycles
            self.reset()

    def reset(self) -> None:
        self.ctx.machine.reset_miss_counters()
        for e in self._touched:
            e.moves = 0
            e.written = False
        self._touched.clear()
        self._reported.clear()
        self.stats.resets += 1

    def _poll_counters(self) -> None:
        c = self.ctx.machine.miss_counters()
        pages, nodes = np.nonzero(c >= self._threshold)
        reports = [(int(p), int(n), int(c[p, n])) for p, n in zip(pages, nodes, strict=True)
                   if (int(p), int(n)) not in self._reported]
        if reports:
            self._reported.update((p, n) for p, n, _ in reports)
            self.on_hot_pages(-1, reports)

    # ---- hot pages ------------------------------------------------------------------------

    def on_hot_pages(self, ci: int, reports: list[tuple[int, int, int]] | None = None) -> None:
        """A HOTPAGE exit on CPU ci (or polled reports): decide for each page."""
        if reports is None:
            reports = self.ctx.machine.hot_pages()
        if not self.moving:
            return
        counters = self.ctx.machine.miss_counters()
        for page, node, _count in reports:
            self.stats.hot_reports += 1
            cpu = ci if ci >= 0 else self._cpu_of_node(node)
            self._charge(cpu, None, StatKind.HOT_PAGE, self.ctx.costs.numa_hot_page)
            why = self._decide(counters, page, node, cpu)
            if why is not None:
                self.stats.skipped[why] = self.stats.skipped.get(why, 0) + 1

    def _guest_entry(self, mpn: int) -> MemmapEntry | None:
        """The memmap entry if mpn is a guest page every user's pmap maps, else None."""
        e = self.ctx.memmap.entries.get(mpn)
        if e is None or not e.users or e.replica_of >= 0:
            return None
        vms = self.ctx.vms
        for vm_id, gpn in e.users:
            pm = vms[vm_id].pmap
            if not 0 <= gpn < pm.npages or pm.mpn[gpn] != mpn:
                return None
        return e

    def _decide(self, counters: np.ndarray, page: int, node: int, cpu: int) -> str | None:
        """Move the hot page or say why not."""
        mm = self.ctx.memmap
        mpn = ram_index_to_mpn(page)
        e = self._guest_entry(mpn)
        if e is None:
            return "not_guest"
        src = mm.node_of(mpn)
        if src == node or node in e.replicas:
            return "local"
        if e.moves >= self.params.max_moves:
            return "limit"
        row = counters[page]
        sharing = self.params.sharing_threshold
        others = [n for n in range(mm.nodes) if n != node and int(row[n]) >= sharing]
        if not others and not e.replicas:
            return None if self.migrate(mpn, node, cpu, "hot, one node") else "no_memory"
        if not self.replicating:
            return "shared"
        if e.written or mm.machine.dirty_lines(mpn << 12, PAGE):
            return "write_shared"  # collapsed on a store, or a cache holds it modified
        return None if self.replicate(mpn, node, cpu, "hot, read-shared") else "no_memory"

    # ---- moves ------------------------------------------------------------------------------

    def _users(self, e: MemmapEntry) -> list[tuple[VM, int]]:
        return [(self.ctx.vms[vm_id], gpn) for vm_id, gpn in sorted(e.users)]

    def migrate(self, mpn: int, dst: int, cpu: int = -1, reason: str = "") -> bool:
        """Move guest page mpn to node dst; False when dst has no free page."""
        mm = self.ctx.memmap
        e = mm.entries[mpn]
        try:
            new = mm.alloc([dst], only=True)
        except OutOfMachineMemory:
            return False
        machine = mm.machine
        machine.write_phys(new << 12, machine.read_phys(mpn << 12, PAGE))
        # the copy went behind the caches: no cache keeps either page's lines
        machine.flush_caches(mpn << 12, PAGE)
        machine.flush_caches(new << 12, PAGE)
        src = mm.node_of(mpn)
        users = self._users(e)
        for vm, gpn in users:
            vm.pmap._shoot(gpn, mpn)
        mm.move(mpn, new)
        if e.tag is not None:  # a disk-cache or content-shared frame: its index follows
            for index in self.indexes:
                index.moved(e.tag, new)
        for vm, gpn in users:
            vm.pmap.remap(gpn, new)
        self._moved(e)
        # the new page's counts start afresh, so its next report is news
        self.ctx.machine.miss_counters()[mpn_to_ram_index(new)] = 0
        self.stats.migrations += 1
        vm0, gpn0 = users[0]
        self._charge(cpu, vm0, StatKind.MIGRATE, self.ctx.costs.numa_migrate)
        self.ctx.events.emit(EventKind.MIGRATE, self._now(cpu), vm=vm0.id,
                             cpu=cpu if cpu >= 0 else None, pa=gpn0 << 12, src=src, dst=dst,
                             reason=reason,
                             ma=new << 12, old_ma=mpn << 12)
        return True

    def replicate(self, mpn: int, dst: int, cpu: int = -1, reason: str = "") -> bool:
        """Copy guest page mpn read-only to node dst; False when dst has no free page."""
        mm = self.ctx.memmap
        e = mm.entries[mpn]
        if dst in e.replicas or mm.node_of(mpn) == dst:
            return True
        try:
            r = mm.alloc([dst], only=True)
        except OutOfMachineMemory:
            return False
        machine = mm.machine
        machine.write_phys(r << 12, machine.read_phys(mpn << 12, PAGE))
        machine.flush_caches(r << 12, PAGE)
        mm.entries[r].replica_of = mpn
        users = self._users(e)
        for vm, gpn in users:
            # the master's mappings go (writable ones, and remote ones on dst's CPUs);
            # other replicas are mapped read-only already and hold the same bytes
            if vm.pmap.invalidate is not None:
                vm.pmap.invalidate(gpn, mpn)
        e.replicas[dst] = r
        for vm, gpn in users:
            vm.pmap.readonly.add(gpn)
            vm.pmap.replicated.add(gpn)
        self._moved(e, move=False)  # copies are bounded by the nodes; moves limit ping-pong
        self.ctx.machine.miss_counters()[mpn_to_ram_index(mpn), dst] = 0
        self.stats.replications += 1
        vm0, gpn0 = users[0]
        self._charge(cpu, vm0, StatKind.REPLICATE, self.ctx.costs.numa_replicate)
        self.ctx.events.emit(EventKind.REPLICATE, self._now(cpu), vm=vm0.id,
                             cpu=cpu if cpu >= 0 else None, pa=gpn0 << 12,
                             src=mm.node_of(mpn), dst=dst, reason=reason, ma=r << 12)
        return True

    def collapse(self, mpn: int, reason: str, vm: VM | None = None) -> None:
        """Drop every replica of mpn (a store is coming): all users' mappings go."""
        mm = self.ctx.memmap
        e = mm.entries[mpn]
        if not e.replicas:
            return
        users = self._users(e)
        for uvm, gpn in users:
            uvm.pmap._shoot(gpn, mpn)  # the master's mappings and every replica's
        for uvm, gpn in users:
            uvm.pmap.replicated.discard(gpn)
            if not e.shared_readonly:
                uvm.pmap.readonly.discard(gpn)
        n = len(e.replicas)
        for r in e.replicas.values():
            mm.machine.flush_caches(r << 12, PAGE)
            mm.free(r)
        e.replicas.clear()
        e.written = True
        self._moved(e, move=False)
        self.stats.collapses += 1
        cpu = self.ctx.exit_cpu
        who = vm if vm is not None else users[0][0]
        self._charge(cpu, who, StatKind.COLLAPSE, self.ctx.costs.numa_collapse)
        gpn0 = next((g for u, g in users if u is who), users[0][1])
        self.ctx.events.emit(EventKind.COLLAPSE, self._now(cpu), vm=who.id,
                             cpu=cpu if cpu >= 0 else None, pa=gpn0 << 12,
                             node=mm.node_of(mpn), reason=reason, replicas=n)

    def replicate_all(self, mpn: int, nodes: list[int], reason: str) -> int:
        """Replicate a page to each of nodes (kernel text); how many copies were made."""
        made = 0
        for n in nodes:
            e = self.ctx.memmap.entries[mpn]
            if n != self.ctx.memmap.node_of(mpn) and n not in e.replicas:
                made += self.replicate(mpn, n, -1, reason)
        return made

    # ---- helpers --------------------------------------------------------------------------------

    def _moved(self, e: MemmapEntry, move: bool = True) -> None:
        if move:
            e.moves += 1
        self._touched.append(e)

    def _cpu_of_node(self, node: int) -> int:
        per = self.ctx.machine.config.cpus_per_node
        return node * per if node * per < self.ctx.ncpus else -1

    def _now(self, cpu: int) -> int:
        return self.ctx.cycles_at(cpu)

    def _charge(self, cpu: int, vm: VM | None, kind: StatKind, cycles: int) -> None:
        """Charge NUMA work to the CPU that did it and to the VM it was for."""
        self.stats.cycles += cycles
        if vm is None and cpu >= 0:
            v = self.ctx.current[cpu]
            vm = v.vm if v is not None else None
        if vm is not None:
            vm.stats.add(kind, cycles)
        if cpu >= 0 and cycles:
            self.ctx.cpus[cpu].charge(cycles)

    # ---- state --------------------------------------------------------------------------------

    def state(self) -> Section:
        """The clocks, the pages reported since the last reset, which memmap entries
        need their move counts reset (by machine page), and the counts."""
        where = {id(e): mpn for mpn, e in self.ctx.memmap.entries.items()}
        # entries freed since (replicas, migrated-away pages) have nothing left to reset
        touched = [where[id(e)] for e in self._touched if id(e) in where]
        st = self.stats
        return sections.make(
            SECTION, VERSION, policy=self.policy, next_reset=self._next_reset,
            next_poll=self._next_poll, reported=sorted(list(r) for r in self._reported),
            touched=touched,
            stats={"hot_reports": st.hot_reports, "migrations": st.migrations,
                   "replications": st.replications, "collapses": st.collapses,
                   "skipped": dict(st.skipped), "cycles": st.cycles, "resets": st.resets})

    def load_state(self, section: Section) -> None:
        """Load after the memmap (the touched entries are found by machine page)."""
        sec = sections.check(section, SECTION, VERSION, "policy", "next_reset", "next_poll",
                             "reported", "touched", "stats")
        if sec["policy"] != self.policy:
            raise SnapshotError(f"the NUMA section was saved under policy {sec['policy']!r}; "
                                f"this manager runs {self.policy!r}")
        with sections.loading(SECTION):
            entries = self.ctx.memmap.entries
            self._touched = [entries[int(mpn)] for mpn in sec["touched"]]
            self._next_reset = int(sec["next_reset"])
            self._next_poll = int(sec["next_poll"])
            self._reported = {(int(p), int(n)) for p, n in sec["reported"]}
            st = NumaStats()
            for k, v in sec["stats"].items():
                if k not in NumaStats.__slots__:
                    raise SnapshotError(f"the NUMA section counts {k!r}, which this manager "
                                        "does not")
                setattr(st, k, dict(v) if k == "skipped" else int(v))
            self.stats = st
