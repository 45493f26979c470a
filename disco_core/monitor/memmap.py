"""The global memmap (paper §2.3): one entry per machine page, and the allocator.

For each machine page in use: which VMs use it as which guest page (for
shootdown when the page is taken away), its read-only replicas on other
nodes (the NUMA manager, numa.py), whether the monitor shares it read-only,
and what it caches (a disk block of the global disk cache, diskcache.py). Machine pages are handed
out per node, preferring the VM's home nodes; a page that was used before is
zeroed before it is handed out again, so no VM ever sees another's data.

A machine page number (MPN) is the machine physical address >> 12, i.e. the
PFN the hardware TLB takes. RAM sits at physical 0 up to the device window and
continues at 0x20000000 (docs/machine-api.md); nodes own consecutive pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from disco_core.errors import DiscoError, SnapshotError
from disco_core.mips import pfn_to_ram_index, ram_index_to_pfn
from disco_core.monitor import sections
from disco_core.monitor.sections import Section

if TYPE_CHECKING:
    from disco_core.machine import Machine

PAGE = 4096
MONITOR_PAGES = 1  # machine page 0: the monitor's idle loop
SECTION, VERSION = "memmap", 1


class OutOfMachineMemory(DiscoError):
    """No node has a free machine page."""


@dataclass
class MemmapEntry:
    users: set[tuple[int, int]] = field(default_factory=set)  # (VM id, guest page)
    replicas: dict[int, int] = field(default_factory=dict)  # node → MPN of a read-only copy
    shared_readonly: bool = False
    replica_of: int = -1  # for a replica: the master page it copies
    moves: int = 0  # NUMA moves (migrations, replications) since the counters' last reset
    written: bool = False  # a store collapsed its replicas since the last reset
    tag: Any = None  # what the page holds for the monitor: a disk-cache or content key (tuple)


# A machine page number is a physical page number: the RAM layout is the architecture's.
ram_index_to_mpn = ram_index_to_pfn
mpn_to_ram_index = pfn_to_ram_index


class MemMap:
    """Machine page → users, plus a per-node machine-memory allocator."""

    def __init__(self, machine: Machine, ram_bytes: int, nodes: int) -> None:
        self.machine = machine
        self.pages = ram_bytes // PAGE
        self.nodes = nodes
        self.per_node = self.pages // nodes
        self.entries: dict[int, MemmapEntry] = {}
        # fresh pages were never handed out (the machine keeps them zero); freed
        # pages go on a LIFO list and are zeroed when handed out again
        self._fresh = [n * self.per_node for n in range(nodes)]
        self._fresh[0] += MONITOR_PAGES
        self._freed: list[list[int]] = [[] for _ in range(nodes)]
        self.zeroed_pages = 0

    def node_of(self, mpn: int) -> int:
        return mpn_to_ram_index(mpn) // self.per_node

    def free_pages(self, node: int) -> int:
        return (node + 1) * self.per_node - self._fresh[node] + len(self._freed[node])

    def alloc(self, prefer: Sequence[int] = (0,), only: bool = False) -> int:
        """A zeroed machine page, from the first preferred node with room, else any node
        (with `only`, none: OutOfMachineMemory)."""
        order = list(prefer) if only else \
            list(prefer) + [n for n in range(self.nodes) if n not in prefer]
        for node in order:
            if self._freed[node]:
                mpn = self._freed[node].pop()
                self.machine.write_phys(mpn << 12, bytes(PAGE))
                self.zeroed_pages += 1
                break
            if self._fresh[node] < (node + 1) * self.per_node:
                mpn = ram_index_to_mpn(self._fresh[node])
                self._fresh[node] += 1
                break
        else:
            raise OutOfMachineMemory("machine memory is exhausted: no node has a free page"
                                     if not only else f"nodes {list(prefer)} have no free page")
        self.entries[mpn] = MemmapEntry()
        return mpn

    def free(self, mpn: int) -> None:
        e = self.entries.pop(mpn, None)
        if e is None:
            raise DiscoError(f"machine page {mpn:#x} is not in use")
        self._freed[self.node_of(mpn)].append(mpn)

    def move(self, old: int, new: int) -> None:
        """A migration: the page just allocated as `new` takes over old's entry, old is freed."""
        e = self.entries.pop(old)
        self.entries[new] = e
        for r in e.replicas.values():
            self.entries[r].replica_of = new
        self._freed[self.node_of(old)].append(old)

    def add_user(self, mpn: int, vm_id: int, gpn: int) -> None:
        self.entries[mpn].users.add((vm_id, gpn))

    def remove_user(self, mpn: int, vm_id: int, gpn: int) -> bool:
        """Drop a user; True when the page has no users left."""
        e = self.entries[mpn]
        e.users.discard((vm_id, gpn))
        return not e.users

    def owners(self, mpn: int) -> set[int]:
        e = self.entries.get(mpn)
        return {vm for vm, _ in e.users} if e else set()

    def master(self, mpn: int) -> int:
        """The page a replica copies, or mpn itself."""
        e = self.entries.get(mpn)
        return e.replica_of if e is not None and e.replica_of >= 0 else mpn

    # ---- state -------------------------------------------------------------------------

    def state(self) -> Section:
        """The allocator (fresh frontier and freed lists per node) and every entry."""
        return sections.make(
            SECTION, VERSION, pages=self.pages, nodes=self.nodes, fresh=list(self._fresh),
            freed=[list(f) for f in self._freed], zeroed_pages=self.zeroed_pages,
            entries=[[mpn, sorted(list(u) for u in e.users), [list(r) for r in e.replicas.items()],
                      e.shared_readonly, e.replica_of, e.moves, e.written, sections.listed(e.tag)]
                     for mpn, e in self.entries.items()])

    def load_state(self, section: Section) -> None:
        sec = sections.check(section, SECTION, VERSION, "pages", "nodes", "fresh", "freed",
                             "zeroed_pages", "entries")
        if (sec["pages"], sec["nodes"]) != (self.pages, self.nodes):
            raise SnapshotError(f"the memmap section is of {sec['pages']} pages on "
                                f"{sec['nodes']} nodes; this machine has {self.pages} on "
                                f"{self.nodes}")
        with sections.loading(SECTION):
            self._fresh = [int(x) for x in sec["fresh"]]
            self._freed = [[int(x) for x in f] for f in sec["freed"]]
            if len(self._fresh) != self.nodes or len(self._freed) != self.nodes:
                raise SnapshotError("the memmap section's allocator is not one per node")
            self.zeroed_pages = int(sec["zeroed_pages"])
            self.entries = {
                int(mpn): MemmapEntry(users={(int(a), int(b)) for a, b in users},
                                      replicas={int(n): int(r) for n, r in replicas},
                                      shared_readonly=bool(shared), replica_of=int(of),
                                      moves=int(moves), written=bool(written),
                                      tag=sections.tupled(tag))
                for mpn, users, replicas, shared, of, moves, written, tag in sec["entries"]}
