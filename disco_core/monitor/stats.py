"""Monitor statistics: per VM and per exit kind, a count and the cycles charged.

Kinds map to the paper's categories (Table 2): TLB-write emulation, other
privileged instructions, monitor calls and page faults, kernel TLB faults,
plus L2TLB refills (which Table 2 folds into the fast refill's row),
exceptions reflected into the guest, the NUMA manager's hot-page work
(Figure 8's "DISCO" share) and page sharing.
"""

from __future__ import annotations

# exit kind → the paper's category
CATEGORY = {
    "tlbwi": "tlb_write", "tlbwr": "tlb_write",
    "mfc0": "privileged", "mtc0": "privileged", "tlbp": "privileged", "tlbr": "privileged",
    "eret": "privileged", "cache": "privileged", "wait": "privileged", "di": "privileged",
    "ei": "privileged", "rdhwr": "privileged", "rdpgpr": "privileged",
    "monitor_call": "monitor_call", "page_fault": "monitor_call",
    "page_freed": "monitor_call", "zero_page": "monitor_call", "intr_pending": "monitor_call",
    "net_copy": "monitor_call", "net_pin": "monitor_call", "net_remap": "monitor_call",
    "kernel_tlb_fault": "kernel_tlb_fault",
    "l2tlb_refill": "l2tlb_refill", "vtlb_refill": "l2tlb_refill",
    "reflect": "reflected", "interrupt": "reflected",
    "switch": "scheduling", "idle": "scheduling",
    "hot_page": "numa", "migrate": "numa", "replicate": "numa", "collapse": "numa",
    "share": "sharing", "content_scan": "sharing",
}
CATEGORIES = ("tlb_write", "privileged", "monitor_call", "kernel_tlb_fault", "l2tlb_refill",
              "reflected", "scheduling", "numa", "sharing")


class Stats:
    """Counts and charged cycles per exit kind for one VM."""

    __slots__ = ("count", "cycles")

    def __init__(self) -> None:
        self.count: dict[str, int] = {}
        self.cycles: dict[str, int] = {}

    def add(self, kind: str, cycles: int) -> None:
        self.count[kind] = self.count.get(kind, 0) + 1
        self.cycles[kind] = self.cycles.get(kind, 0) + cycles

    def add_many(self, kind: str, n: int, cycles_each: int) -> None:
        """n exits of one kind at the same charge (those a C assist served)."""
        self.count[kind] = self.count.get(kind, 0) + n
        self.cycles[kind] = self.cycles.get(kind, 0) + n * cycles_each

    def by_category(self) -> dict[str, tuple[int, int]]:
        out = {c: (0, 0) for c in CATEGORIES}
        for kind, n in self.count.items():
            cat = CATEGORY.get(kind, "other")
            c, cy = out.get(cat, (0, 0))
            out[cat] = (c + n, cy + self.cycles[kind])
        return out

    @property
    def total_exits(self) -> int:
        return sum(self.count.values())

    @property
    def total_cycles(self) -> int:
        return sum(self.cycles.values())

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {k: {"count": self.count[k], "cycles": self.cycles[k]} for k in sorted(self.count)}
