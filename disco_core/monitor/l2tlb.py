"""The second-level software TLB (paper §2.3): per vCPU, virtual → machine.

On a hardware TLB miss the monitor looks here first; a hit is written
straight into the hardware TLB and the guest never sees the miss. Keys are
(4 KiB virtual page, ASID), with global entries under ASID `GLOBAL`. The size
is fixed (Cellular Disco used 1024 entries per vCPU) and the oldest entry is
replaced first, which is deterministic and O(1) on an insertion-ordered dict.

Entries outlive the virtual TLB entries they came from when the guest's
TLBWR replaces them: that is what makes the guest's TLB "much larger". The
monitor removes an entry whenever the guest could expect it gone (TLBWI over
it, TLBP for its page, a flush of the whole TLB) and when the monitor takes
the machine page away (through the pmap backmaps).
"""

from __future__ import annotations

from typing import Protocol

from disco_core.errors import SnapshotError
from disco_core.monitor import sections
from disco_core.monitor.pmap import PMap
from disco_core.monitor.sections import Section

GLOBAL = 0x100  # not an ASID: marks entries with G set
DEFAULT_SIZE = 1024
SECTION, VERSION = "l2tlb", 1


class Mirror(Protocol):
    """A copy of the table elsewhere (the C assist's, assist.py), told of every change."""

    def changed(self, vpn: int, asid: int) -> None:
        """Key (vpn, asid) was added, replaced or removed."""

    def cleared(self) -> None:
        """Every entry went."""


class L2Tlb:
    """A fixed-size cache of (vpn, asid) → (machine EntryLo, guest page)."""

    __slots__ = ("size", "entries", "hits", "misses", "pmap", "gid", "mirror")

    def __init__(self, size: int = DEFAULT_SIZE, pmap: PMap | None = None, gid: int = 0) -> None:
        if size < 0:
            raise ValueError(f"L2TLB size {size} must not be negative")
        self.size = size
        self.entries: dict[tuple[int, int], tuple[int, int]] = {}
        self.hits = 0
        self.misses = 0
        # the owning vCPU's pmap and gid: an entry that goes drops its backmap there
        self.pmap = pmap
        self.gid = gid
        self.mirror: Mirror | None = None

    def _evicted(self, vpn: int, asid: int, gpn: int) -> None:
        if self.pmap is not None:
            self.pmap.remove_backmap(gpn, self.gid, vpn, asid)

    def lookup(self, vpn: int, asid: int) -> tuple[int, int] | None:
        e = self.entries.get((vpn, asid))
        if e is None:
            e = self.entries.get((vpn, GLOBAL))
        if e is None:
            self.misses += 1
        else:
            self.hits += 1
        return e

    def insert(self, vpn: int, asid: int, lo: int, gpn: int) -> None:
        if self.size == 0:
            return
        key = (vpn, asid)
        old = self.entries.pop(key, None)
        mirror = self.mirror
        if old is not None and old[1] != gpn:
            self._evicted(vpn, asid, old[1])
        elif old is None and len(self.entries) >= self.size:
            victim = next(iter(self.entries))
            _lo, vgpn = self.entries.pop(victim)
            self._evicted(victim[0], victim[1], vgpn)
            if mirror is not None:
                mirror.changed(victim[0], victim[1])
        self.entries[key] = (lo, gpn)
        if mirror is not None:
            mirror.changed(vpn, asid)

    def remove(self, vpn: int, asid: int) -> tuple[int, int] | None:
        e = self.entries.pop((vpn, asid), None)
        if e is not None:
            self._evicted(vpn, asid, e[1])
            if self.mirror is not None:
                self.mirror.changed(vpn, asid)
        return e

    def remove_vpn(self, vpn: int, asid: int) -> None:
        """Forget the page for this ASID and any global entry for it (a guest TLBP)."""
        self.remove(vpn, asid)
        self.remove(vpn, GLOBAL)

    def flush(self) -> None:
        for (vpn, asid), (_lo, gpn) in self.entries.items():
            self._evicted(vpn, asid, gpn)
        self.entries.clear()
        if self.mirror is not None:
            self.mirror.cleared()

    def __len__(self) -> int:
        return len(self.entries)

    # ---- state ----

    def state(self) -> Section:
        """The entries oldest first (the replacement order), and the hit counts."""
        return sections.make(SECTION, VERSION, size=self.size, hits=self.hits,
                             misses=self.misses,
                             entries=[[vpn, asid, lo, gpn]
                                      for (vpn, asid), (lo, gpn) in self.entries.items()])

    def load_state(self, section: Section) -> None:
        """Load into this table (its pmap's backmaps are the pmap's own section)."""
        sec = sections.check(section, SECTION, VERSION, "size", "hits", "misses", "entries")
        if sec["size"] != self.size:
            raise SnapshotError(f"the L2TLB section holds {sec['size']} entries' "
                                         f"worth; this L2TLB has {self.size}")
        with sections.loading(SECTION):
            self.entries = {(int(vpn), int(asid)): (int(lo), int(gpn))
                            for vpn, asid, lo, gpn in sec["entries"]}
            self.hits = int(sec["hits"])
            self.misses = int(sec["misses"])
