"""Monitor statistics: per VM and per exit kind, a count and the cycles charged.

Kinds map to the paper's categories (Table 2): TLB-write emulation, other
privileged instructions, monitor calls and page faults, kernel TLB faults,
plus L2TLB refills (which Table 2 folds into the fast refill's row),
exceptions reflected into the guest, the NUMA manager's hot-page work
(Figure 8's "DISCO" share) and page sharing.
"""

from __future__ import annotations

import enum

from disco_core.monitor import sections
from disco_core.monitor.sections import Section


class StatKind(enum.StrEnum):
    """What the monitor charged cycles for (an exit kind or background work)."""

    TLBWI = "tlbwi"
    TLBWR = "tlbwr"
    MFC0 = "mfc0"
    MTC0 = "mtc0"
    TLBP = "tlbp"
    TLBR = "tlbr"
    ERET = "eret"
    CACHE = "cache"
    WAIT = "wait"
    DI = "di"
    EI = "ei"
    RDHWR = "rdhwr"
    RDPGPR = "rdpgpr"
    MONITOR_CALL = "monitor_call"
    PAGE_FAULT = "page_fault"
    PAGE_FREED = "page_freed"
    ZERO_PAGE = "zero_page"
    INTR_PENDING = "intr_pending"
    NET_COPY = "net_copy"
    NET_PIN = "net_pin"
    NET_REMAP = "net_remap"
    KERNEL_TLB_FAULT = "kernel_tlb_fault"
    L2TLB_REFILL = "l2tlb_refill"
    VTLB_REFILL = "vtlb_refill"
    REFLECT = "reflect"
    INTERRUPT = "interrupt"
    SWITCH = "switch"
    IDLE = "idle"
    HOT_PAGE = "hot_page"
    MIGRATE = "migrate"
    REPLICATE = "replicate"
    COLLAPSE = "collapse"
    SHARE = "share"
    CONTENT_SCAN = "content_scan"


K = StatKind
# exit kind → the paper's category
CATEGORY: dict[str, str] = {
    K.TLBWI: "tlb_write", K.TLBWR: "tlb_write",
    K.MFC0: "privileged", K.MTC0: "privileged", K.TLBP: "privileged", K.TLBR: "privileged",
    K.ERET: "privileged", K.CACHE: "privileged", K.WAIT: "privileged", K.DI: "privileged",
    K.EI: "privileged", K.RDHWR: "privileged", K.RDPGPR: "privileged",
    K.MONITOR_CALL: "monitor_call", K.PAGE_FAULT: "monitor_call",
    K.PAGE_FREED: "monitor_call", K.ZERO_PAGE: "monitor_call", K.INTR_PENDING: "monitor_call",
    K.NET_COPY: "monitor_call", K.NET_PIN: "monitor_call", K.NET_REMAP: "monitor_call",
    K.KERNEL_TLB_FAULT: "kernel_tlb_fault",
    K.L2TLB_REFILL: "l2tlb_refill", K.VTLB_REFILL: "l2tlb_refill",
    K.REFLECT: "reflected", K.INTERRUPT: "reflected",
    K.SWITCH: "scheduling", K.IDLE: "scheduling",
    K.HOT_PAGE: "numa", K.MIGRATE: "numa", K.REPLICATE: "numa", K.COLLAPSE: "numa",
    K.SHARE: "sharing", K.CONTENT_SCAN: "sharing",
}
SECTION, VERSION = "stats", 1
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

    # ---- state ----

    def state(self) -> Section:
        """Counts and cycles per kind, in the order the kinds first occurred."""
        return sections.make(SECTION, VERSION, kinds=[
            [str(k), self.count[k], self.cycles[k]] for k in self.count])

    def load_state(self, section: Section) -> None:
        sec = sections.check(section, SECTION, VERSION, "kinds")
        with sections.loading(SECTION):
            self.count = {}
            self.cycles = {}
            for kind, n, cycles in sec["kinds"]:
                self.count[str(kind)] = int(n)
                self.cycles[str(kind)] = int(cycles)
