"""The per-VM pmap (paper §2.3): guest-physical page → machine page.

One entry per guest page: the machine page (allocated and zeroed on first
use, preferring the VM's home nodes), a pre-computed hardware EntryLo for it,
and backmaps to the (vCPU, virtual page, ASID) that map it through the L2TLB,
so the monitor can invalidate those mappings when it takes the page away.
Mappings in the hardware TLBs are found by machine page (see monitor.py).
"""

from __future__ import annotations

from collections.abc import Callable

from disco_core.errors import DiscoError
from disco_core.monitor.memmap import PAGE, MemMap
from disco_core.monitor.vcpu import LO_D, LO_G, LO_V

CACHEABLE = 3 << 3  # EntryLo.C: the monitor maps every guest page cacheable
NO_PAGE = -1


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

    # ---- translation ------------------------------------------------------------

    def machine_page(self, gpn: int) -> int:
        """The machine page behind guest page gpn, allocated (zeroed) on first use."""
        m = self.mpn[gpn]
        if m == NO_PAGE:
            if not 0 <= gpn < self.npages:
                raise GuestPhysError(f"guest page {gpn:#x} is outside the VM's memory")
            m = self.memmap.alloc(self.home)
            self.memmap.add_user(m, self.vm_id, gpn)
            self.mpn[gpn] = m
            self.lo[gpn] = (m << 6) | CACHEABLE | LO_D | LO_V
            self.allocations += 1
            if self.changed is not None:
                self.changed(gpn)
        return m

    def entrylo(self, gpn: int, guest_lo: int) -> int:
        """The hardware EntryLo for a guest EntryLo: machine PFN, guest V/D/G merged.

        D is cleared when the monitor shares the machine page read-only, so a
        store traps to the monitor (copy-on-write).
        """
        if self.mpn[gpn] == NO_PAGE:
            self.machine_page(gpn)
        lo = self.lo[gpn] & ~(LO_D | LO_V)
        lo |= guest_lo & (LO_V | LO_D | LO_G)
        if gpn in self.readonly:
            lo &= ~LO_D
        return lo

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
        if self.invalidate is not None:
            self.invalidate(gpn, m)
        self.mpn[gpn] = NO_PAGE
        self.lo[gpn] = 0
        self.readonly.discard(gpn)
        if self.memmap.remove_user(m, self.vm_id, gpn):
            self.memmap.free(m)
        return True

    def share_from(self, gpn: int, mpn: int) -> None:
        """Map gpn to machine page mpn read-only, shared with its other users.

        The caller makes the other users read-only too (Monitor.share_page).
        """
        self.release(gpn)
        self.memmap.add_user(mpn, self.vm_id, gpn)
        self.memmap.entries[mpn].shared_readonly = True
        self.mpn[gpn] = mpn
        self.lo[gpn] = (mpn << 6) | CACHEABLE | LO_D | LO_V
        self.readonly.add(gpn)
        if self.changed is not None:
            self.changed(gpn)

    def break_sharing(self, gpn: int) -> None:
        """A store to a shared read-only page: give this VM its own copy (copy-on-write)."""
        old = self.mpn[gpn]
        mm = self.memmap
        entry = mm.entries[old]
        if self.invalidate is not None:
            self.invalidate(gpn, old)  # read-only mappings of the old page go
        self.readonly.discard(gpn)
        if entry.users == {(self.vm_id, gpn)}:
            entry.shared_readonly = False  # the last user keeps the page, writable
            return
        new = mm.alloc(self.home)
        mm.machine.write_phys(new << 12, mm.machine.read_phys(old << 12, PAGE))
        mm.add_user(new, self.vm_id, gpn)
        mm.remove_user(old, self.vm_id, gpn)
        self.mpn[gpn] = new
        self.lo[gpn] = (new << 6) | CACHEABLE | LO_D | LO_V
        self.allocations += 1

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
