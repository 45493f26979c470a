"""The per-VM pmap (paper §2.3): guest-physical page → machine page.

One entry per guest page: the machine page (allocated and zeroed on first
use, preferring the VM's home nodes), a pre-computed hardware EntryLo for it,
and backmaps to the (vCPU, virtual page, ASID) that map it through the L2TLB,
so the monitor can invalidate those mappings when it takes the page away.
Mappings in the hardware TLBs are found by machine page (see monitor.py).

With the NUMA manager (numa.py) a guest page may also have read-only
replicas on other nodes: `entrylo(gpn, glo, node)` then names the replica on
the mapping CPU's node, every mapping of the page is read-only (the page is
in `readonly`), and a store collapses the replicas first (`on_replicated_store`).
Where a new page goes is the placement policy's choice (`place`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from disco_core.errors import DiscoError, SnapshotError
from disco_core.mips import LO_D, LO_G, LO_V
from disco_core.monitor import sections
from disco_core.monitor.memmap import PAGE, MemMap
from disco_core.monitor.sections import Section

CACHEABLE = 3 << 3  # EntryLo.C: the monitor maps every guest page cacheable
NO_PAGE = -1
SECTION, VERSION = "pmap", 1


class GuestPhysError(DiscoError):
    """A guest-physical address outside the VM's memory."""


class PMap:
    def __init__(self, vm_id: int, npages: int, memmap: MemMap, home: list[int]) -> None:
        self.vm_id = vm_id
        self.npages = npages
        self.memmap = memmap
        self.home = home
        self.mpn = [NO_PAGE] * npages
        self.lo = [0] * npages  # machine PFN | C | D | V, the pre-computed hardware EntryLo
        self.readonly: set[int] = set()  # guest pages the monitor shares read-only
        self.backmap: dict[int, set[tuple[int, int, int]]] = {}
        # called as invalidate(gpn, mpn) before a machine page is taken away
        self.invalidate: Callable[[int, int], None] | None = None
        # called as changed(gpn) when gpn gets a machine page (the C assists' kseg table)
        self.changed: Callable[[int], None] | None = None
        self.allocations = 0
        self.replicated: set[int] = set()  # guest pages whose machine page has replicas
        # NUMA hooks: preferred nodes for a new page; a store (or host write) to a
        # replicated page, which must collapse the replicas before it happens
        self.place: Callable[[int], Sequence[int]] | None = None
        self.on_replicated_store: Callable[[int], None] | None = None
        self.on_unshare: Callable[[int, int], None] | None = None  # (gpn, new mpn): a COW copy

    # ---- translation ------------------------------------------------------------

    def machine_page(self, gpn: int) -> int:
        """The machine page behind guest page gpn, allocated (zeroed) on first use."""
        m = self.mpn[gpn]
        if m == NO_PAGE:
            if not 0 <= gpn < self.npages:
                raise GuestPhysError(f"guest page {gpn:#x} is outside the VM's memory")
            m = self.memmap.alloc(self.home if self.place is None else self.place(gpn))
            self.memmap.add_user(m, self.vm_id, gpn)
            self.mpn[gpn] = m
            self.lo[gpn] = (m << 6) | CACHEABLE | LO_D | LO_V
            self.allocations += 1
            if self.changed is not None:
                self.changed(gpn)
        return m

    def entrylo(self, gpn: int, guest_lo: int, node: int = -1) -> int:
        """The hardware EntryLo for a guest EntryLo: machine PFN, guest V/D/G merged.

        D is cleared when the monitor shares the machine page read-only, so a
        store traps to the monitor (copy-on-write, or collapsing replicas).
        `node` is the node of the CPU that will use the entry: a replicated
        page maps its replica there when it has one.
        """
        if self.mpn[gpn] == NO_PAGE:
            self.machine_page(gpn)
        lo = self.lo[gpn] & ~(LO_D | LO_V)
        lo |= guest_lo & (LO_V | LO_D | LO_G)
        if gpn in self.readonly:
            lo &= ~LO_D
            if node >= 0 and gpn in self.replicated:
                r = self.memmap.entries[self.mpn[gpn]].replicas.get(node)
                if r is not None:
                    lo = (lo & 0x3F) | (r << 6)
        return lo

    def remap(self, gpn: int, mpn: int) -> None:
        """Point gpn at machine page mpn (a migration: the caller moved the contents
        and shot down the old mappings)."""
        self.mpn[gpn] = mpn
        self.lo[gpn] = (mpn << 6) | CACHEABLE | LO_D | LO_V

    def make_readonly(self, gpn: int) -> int:
        """Make gpn's machine page read-only for this VM, ready to be shared: its
        mappings are shot down, so the next store traps (copy-on-write, or a replica
        collapse). Returns the machine page."""
        mpn = self.machine_page(gpn)
        if gpn not in self.readonly:
            self._shoot(gpn, mpn)
            self.readonly.add(gpn)
        return mpn

    def _shoot(self, gpn: int, m: int) -> None:
        """Invalidate every mapping of gpn: its machine page and the page's replicas."""
        if self.invalidate is None:
            return
        self.invalidate(gpn, m)
        if gpn in self.replicated:
            for r in self.memmap.entries[m].replicas.values():
                self.invalidate(gpn, r)

    # ---- backmaps -----------------------------------------------------------------

    def add_backmap(self, gpn: int, vcpu_gid: int, vpn: int, asid: int) -> None:
        s = self.backmap.get(gpn)
        if s is None:
            s = self.backmap[gpn] = set()
        s.add((vcpu_gid, vpn, asid))

    def remove_backmap(self, gpn: int, vcpu_gid: int, vpn: int, asid: int) -> None:
        s = self.backmap.get(gpn)
        if s is not None:
            s.discard((vcpu_gid, vpn, asid))
            if not s:
                del self.backmap[gpn]

    # ---- taking pages away ----------------------------------------------------------

    def release(self, gpn: int) -> bool:
        """Take the machine page away (page-freed hint); the next touch gets a zero page."""
        m = self.mpn[gpn]
        if m == NO_PAGE:
            return False
        self._shoot(gpn, m)
        self.mpn[gpn] = NO_PAGE
        self.lo[gpn] = 0
        self.readonly.discard(gpn)
        self.replicated.discard(gpn)
        if self.memmap.remove_user(m, self.vm_id, gpn):
            for r in self.memmap.entries[m].replicas.values():
                self.memmap.free(r)
            self.memmap.free(m)
        return True

    def share_from(self, gpn: int, mpn: int) -> None:
        """Map gpn to machine page mpn read-only, shared with its other users.

        The caller makes the other users read-only too (Monitor.share_page).
        """
        self.release(gpn)
        self.memmap.add_user(mpn, self.vm_id, gpn)
        e = self.memmap.entries[mpn]
        e.shared_readonly = True
        self.mpn[gpn] = mpn
        self.lo[gpn] = (mpn << 6) | CACHEABLE | LO_D | LO_V
        self.readonly.add(gpn)
        if self.changed is not None:
            self.changed(gpn)
        if e.replicas:
            self.replicated.add(gpn)

    def break_sharing(self, gpn: int) -> None:
        """A store to a shared read-only page: give this VM its own copy (copy-on-write)."""
        if gpn in self.replicated and self.on_replicated_store is not None:
            self.on_replicated_store(gpn)  # the replicas go first (every user's)
            if gpn not in self.readonly:
                return  # it was read-only for its replicas alone
        old = self.mpn[gpn]
        mm = self.memmap
        entry = mm.entries[old]
        self._shoot(gpn, old)  # read-only mappings of the old page go
        self.readonly.discard(gpn)
        if entry.users == {(self.vm_id, gpn)}:
            entry.shared_readonly = False  # the last user keeps the page, writable
            entry.tag = None  # and may change it: no longer a cache of anything
            return
        self.replicated.discard(gpn)
        new = mm.alloc(self.home if self.place is None else self.place(gpn))
        mm.machine.write_phys(new << 12, mm.machine.read_phys(old << 12, PAGE))
        mm.add_user(new, self.vm_id, gpn)
        mm.remove_user(old, self.vm_id, gpn)
        self.mpn[gpn] = new
        self.lo[gpn] = (new << 6) | CACHEABLE | LO_D | LO_V
        self.allocations += 1
        if self.on_unshare is not None:
            self.on_unshare(gpn, new)

    def release_all(self) -> None:
        for gpn in range(self.npages):
            if self.mpn[gpn] != NO_PAGE:
                self.release(gpn)

    # ---- host access (loading images, reading messages) --------------------------------

    def write(self, gpa: int, data: bytes) -> None:
        if gpa < 0 or gpa + len(data) > self.npages * PAGE:
            raise GuestPhysError(
                f"guest-physical [{gpa:#x}, {gpa + len(data):#x}) is outside the VM's "
                f"{self.npages * PAGE:#x} bytes")
        pos = 0
        while pos < len(data):
            a = gpa + pos
            n = min(PAGE - (a & (PAGE - 1)), len(data) - pos)
            m = self.machine_page(a >> 12)
            if (a >> 12) in self.replicated and self.on_replicated_store is not None:
                self.on_replicated_store(a >> 12)  # a host write, too, makes replicas stale
            self.memmap.machine.write_phys((m << 12) | (a & (PAGE - 1)), data[pos:pos + n])
            pos += n

    def read(self, gpa: int, n: int) -> bytes:
        if gpa < 0 or gpa + n > self.npages * PAGE:
            raise GuestPhysError(f"guest-physical {gpa:#x}+{n} is outside the VM's memory")
        out = bytearray()
        while n:
            k = min(PAGE - (gpa & (PAGE - 1)), n)
            m = self.mpn[gpa >> 12]
            if m == NO_PAGE:
                out += bytes(k)  # never touched: reads as zero
            else:
                out += self.memmap.machine.read_phys((m << 12) | (gpa & (PAGE - 1)), k)
            gpa += k
            n -= k
        return bytes(out)

    def in_use(self) -> int:
        return sum(1 for m in self.mpn if m != NO_PAGE)

    # ---- state -------------------------------------------------------------------------

    def state(self) -> Section:
        """Every guest page's machine page and EntryLo, the read-only and replicated
        sets, and the backmaps (the hooks are wiring, made again by the monitor)."""
        return sections.make(
            SECTION, VERSION, vm=self.vm_id, npages=self.npages, mpn=list(self.mpn),
            lo=list(self.lo), readonly=sorted(self.readonly),
            replicated=sorted(self.replicated), allocations=self.allocations,
            backmap=[[gpn, sorted(list(t) for t in s)] for gpn, s in self.backmap.items()])

    def load_state(self, section: Section) -> None:
        sec = sections.check(section, SECTION, VERSION, "vm", "npages", "mpn", "lo",
                             "readonly", "replicated", "allocations", "backmap")
        if (sec["vm"], sec["npages"]) != (self.vm_id, self.npages):
            raise SnapshotError(f"the pmap section is VM {sec['vm']}'s of {sec['npages']} "
                                f"pages; this pmap is VM {self.vm_id}'s of {self.npages}")
        with sections.loading(SECTION):
            mpn = [int(m) for m in sec["mpn"]]
            lo = [int(x) for x in sec["lo"]]
            if len(mpn) != self.npages or len(lo) != self.npages:
                raise SnapshotError(f"the pmap section of VM {self.vm_id} maps {len(mpn)} "
                                    f"pages, not {self.npages}")
            self.mpn, self.lo = mpn, lo
            self.readonly = {int(g) for g in sec["readonly"]}
            self.replicated = {int(g) for g in sec["replicated"]}
            self.allocations = int(sec["allocations"])
            self.backmap = {int(gpn): {(int(a), int(b), int(c)) for a, b, c in users}
                            for gpn, users in sec["backmap"]}
