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

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

# kinds recorded only while traced: they happen thousands of times a second
FREQUENT = frozenset({"tlbwr", "tlbwi", "l2tlb_refill"})

# one line per kind; the fields are the event's data
FORMATS = {
    "tlbwr": "tlbwr VA {va:#010x} → PA {pa:#010x} → MA {ma:#010x} on node {node}",
    "tlbwi": "tlbwi VA {va:#010x} → PA {pa:#010x} → MA {ma:#010x} on node {node}",
    "migrate": "migrate page PA {pa:#010x}: node {src} → node {dst} ({reason})",
    "replicate": "replicate page PA {pa:#010x} from node {src} to node {dst} ({reason})",
    "collapse": "collapse replicas of PA {pa:#010x} to node {node} ({reason})",
    "share": "share PA {pa:#010x} with MA {ma:#010x} ({reason})",
    "unshare": "copy shared PA {pa:#010x} on write ({reason})",
    "vm_start": "VM started",
    "vm_stop": "VM stopped: {reason}",
    "net_send": "network message to {dest:#010x}: {length} bytes, {pages} pages by remapping",
    "net_drop": "network message to {dest:#010x} dropped: {reason}",
}


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
