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

GLOBAL = 0x100  # not an ASID: marks entries with G set
DEFAULT_SIZE = 1024


class L2Tlb:
    """A fixed-size cache of (vpn, asid) → (machine EntryLo, guest page)."""

    __slots__ = ("size", "entries", "hits", "misses", "on_evict", "on_change", "on_flush")

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 0:
            raise ValueError(f"L2TLB size {size} must not be negative")
        self.size = size
        self.entries: dict[tuple[int, int], tuple[int, int]] = {}
        self.hits = 0
        self.misses = 0
        self.on_evict = None  # callback(vpn, asid, gpn): drop the backmap
        # callbacks for a mirror (the monitor's C assist, assist.py): key (vpn, asid)
        # changed; every entry went
        self.on_change = None
        self.on_flush = None

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
        if old is not None and self.on_evict is not None and old[1] != gpn:
            self.on_evict(vpn, asid, old[1])
        elif old is None and len(self.entries) >= self.size:
            victim = next(iter(self.entries))
            _lo, vgpn = self.entries.pop(victim)
            if self.on_evict is not None:
                self.on_evict(victim[0], victim[1], vgpn)
            if self.on_change is not None:
                self.on_change(victim[0], victim[1])
        self.entries[key] = (lo, gpn)
        if self.on_change is not None:
            self.on_change(vpn, asid)

    def remove(self, vpn: int, asid: int) -> tuple[int, int] | None:
        e = self.entries.pop((vpn, asid), None)
        if e is not None:
            if self.on_evict is not None:
                self.on_evict(vpn, asid, e[1])
            if self.on_change is not None:
                self.on_change(vpn, asid)
        return e

    def remove_vpn(self, vpn: int, asid: int) -> None:
        """Forget the page for this ASID and any global entry for it (a guest TLBP)."""
        self.remove(vpn, asid)
        self.remove(vpn, GLOBAL)

    def flush(self) -> None:
        if self.on_evict is not None:
            for (vpn, asid), (_lo, gpn) in self.entries.items():
                self.on_evict(vpn, asid, gpn)
        self.entries.clear()
        if self.on_flush is not None:
            self.on_flush()

    def __len__(self) -> int:
        return len(self.entries)
