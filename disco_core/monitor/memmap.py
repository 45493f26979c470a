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

from dataclasses import dataclass, field

from disco_core.errors import DiscoError
from disco_core.mips import pfn_to_ram_index, ram_index_to_pfn

PAGE = 4096
MONITOR_PAGES = 1  # machine page 0: the monitor's idle loop


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
    tag: object = None  # what the page holds for the monitor (a global disk-cache key)


# A machine page number is a physical page number: the RAM layout is the architecture's.
ram_index_to_mpn = ram_index_to_pfn
mpn_to_ram_index = pfn_to_ram_index


class MemMap:
    """Machine page → users, plus a per-node machine-memory allocator."""

    def __init__(self, machine: object, ram_bytes: int, nodes: int) -> None:
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

    def alloc(self, prefer: list[int] | tuple[int, ...] = (0,), only: bool = False) -> int:
        """A zeroed machine page, from the first preferred node with room, else any node
        (with `only`, none: OutOfMachineMemory)."""
        order = list(prefer) if only else \
            list(prefer) + [n for n in range(self.nodes) if n not in prefer]
        for node in order:
            if self._freed[node]:
                mpn = self._freed[node].pop()
                self.machine.write_phys(mpn << 12, bytes(PAGE))  # type: ignore[attr-defined]
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

