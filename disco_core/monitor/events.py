"""The monitor's event log: what the monitor did, with the simulated time it did it.

Every mechanism that changes where guest memory lives or how it is mapped
reports here (a TLB write translated to machine terms, a page migrated,
replicated, collapsed or shared, a VM stopped), so the application's event
log, the NUMA statistics and tests read one record. Frequent kinds (TLB
writes) are only recorded while someone asks for them (`trace`); every kind
is always counted.

An event's text is formatted only when it is read, so recording costs a tuple.
"""

from __future__ import annotations

import enum
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from disco_core.monitor import sections
from disco_core.monitor.sections import Section


class EventKind(enum.StrEnum):
    """What an event records."""

    TLBWR = "tlbwr"
    TLBWI = "tlbwi"
    L2TLB_REFILL = "l2tlb_refill"
    MIGRATE = "migrate"
    REPLICATE = "replicate"
    COLLAPSE = "collapse"
    SHARE = "share"
    UNSHARE = "unshare"
    VM_START = "vm_start"
    VM_STOP = "vm_stop"
    NET_SEND = "net_send"
    NET_DROP = "net_drop"


E = EventKind
# kinds recorded only while traced: they happen thousands of times a second
FREQUENT = frozenset({E.TLBWR, E.TLBWI, E.L2TLB_REFILL})

# one line per kind; the fields are the event's data
FORMATS: dict[str, str] = {
    E.TLBWR: "tlbwr VA {va:#010x} → PA {pa:#010x} → MA {ma:#010x} on node {node}",
    E.TLBWI: "tlbwi VA {va:#010x} → PA {pa:#010x} → MA {ma:#010x} on node {node}",
    E.MIGRATE: "migrate page PA {pa:#010x}: node {src} → node {dst} ({reason})",
    E.REPLICATE: "replicate page PA {pa:#010x} from node {src} to node {dst} ({reason})",
    E.COLLAPSE: "collapse replicas of PA {pa:#010x} to node {node} ({reason})",
    E.SHARE: "share PA {pa:#010x} with MA {ma:#010x} ({reason})",
    E.UNSHARE: "copy shared PA {pa:#010x} on write ({reason})",
    E.VM_START: "VM started",
    E.VM_STOP: "VM stopped: {reason}",
    E.NET_SEND: "network message to {dest:#010x}: {length} bytes, {pages} pages by remapping",
    E.NET_DROP: "network message to {dest:#010x} dropped: {reason}",
}
SECTION, VERSION = "events", 1


@dataclass(frozen=True, slots=True)
class Event:
    seq: int  # 0, 1, 2, … in the order the monitor did things
    cycle: int  # simulated cycle count of the CPU it happened on (or the machine's)
    kind: str
    vm: int | None = None
    cpu: int | None = None
    data: dict[str, object] = field(default_factory=dict)

    @property
    def text(self) -> str:
        fmt = FORMATS.get(self.kind)
        if fmt is None:
            return f"{self.kind} {self.data}" if self.data else self.kind
        try:
            return fmt.format(**self.data)
        except (KeyError, ValueError, IndexError):
            return f"{self.kind} {self.data}"


class EventLog:
    """A bounded record of monitor events plus a count of every kind ever emitted."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self.events: deque[Event] = deque(maxlen=capacity)
        self.counts: Counter[str] = Counter()
        self.traced: set[str] = set()  # frequent kinds being recorded
        self.seq = 0

    def trace(self, kinds: Iterable[str] = FREQUENT, on: bool = True) -> None:
        """Record (or stop recording) frequent kinds such as TLB writes."""
        if on:
            self.traced.update(kinds)
        else:
            self.traced.difference_update(kinds)

    def wants(self, kind: str) -> bool:
        """Whether emit(kind) would record: callers skip building the data if not."""
        return kind not in FREQUENT or kind in self.traced

    def emit(self, kind: str, cycle: int, vm: int | None = None, cpu: int | None = None,
             **data: object) -> None:
        self.counts[kind] += 1
        if kind in FREQUENT and kind not in self.traced:
            return
        self.events.append(Event(self.seq, cycle, kind, vm, cpu, data))
        self.seq += 1

    def since(self, seq: int) -> list[Event]:
        """The recorded events numbered seq and later (those still held)."""
        ev = self.events
        if not ev or ev[-1].seq < seq:
            return []
        start = max(0, seq - ev[0].seq)
        return [ev[i] for i in range(start, len(ev))]

    def of_kind(self, *kinds: str) -> list[Event]:
        return [e for e in self.events if e.kind in kinds]

    def clear(self) -> None:
        self.events.clear()
        self.counts.clear()
        self.seq = 0

    # ---- state ----

    def state(self, since: int = 0) -> Section:
        """The section; with `since`, only the events numbered `since` and later (a
        recording keeps the log incrementally: disco_core/record/)."""
        held = self.events if since <= 0 else self.since(since)
        return sections.make(
            SECTION, VERSION, capacity=self.capacity, seq=self.seq,
            traced=sorted(str(k) for k in self.traced),
            counts=[[str(k), n] for k, n in self.counts.items()],
            events=[[e.seq, e.cycle, str(e.kind), e.vm, e.cpu, dict(e.data)]
                    for e in held])

    def load_state(self, section: Section) -> None:
        sec = sections.check(section, SECTION, VERSION, "capacity", "seq", "traced",
                             "counts", "events")
        with sections.loading(SECTION):
            self.capacity = int(sec["capacity"])
            self.events = deque((Event(int(q), int(c), _kind(k), vm, cpu, dict(data))
                                 for q, c, k, vm, cpu, data in sec["events"]),
                                maxlen=self.capacity)
            self.counts = Counter({_kind(k): int(n) for k, n in sec["counts"]})
            self.traced = {_kind(k) for k in sec["traced"]}
            self.seq = int(sec["seq"])


def _kind(name: str) -> str:
    """An event kind read back: the enum member when it is one of ours (a dict lookup:
    EventKind(name) costs ~6 us, and a recording loads 100 000 of them per seek)."""
    return _KINDS.get(name) or str(name)


_KINDS: dict[str, EventKind] = {k.value: k for k in EventKind}
