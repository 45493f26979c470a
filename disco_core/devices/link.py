"""Network links: what is at the far end of a network interface's cable.

The NIC calls `send(frame)` for each frame it transmits. Frames coming in are
put on the link with `deliver(frame)`; they wait in `incoming` until the NIC
attached to the link takes them, which it does at once when it is notified.
Delivery order is the order of `deliver` calls, so a run is as deterministic
as the host that drives the links.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable

from disco_core.errors import DiscoError


class Link(ABC):
    """One end of a cable. Subclasses decide where sent frames go."""

    def __init__(self) -> None:
        self.incoming: deque[bytes] = deque()
        self._listener: Callable[[], None] | None = None

    @abstractmethod
    def send(self, frame: bytes) -> None:
        """The attached NIC transmits `frame` (a subclass delivers it somewhere)."""

    def deliver(self, frame: bytes) -> None:
        """A frame arrives at this end."""
        self.incoming.append(bytes(frame))
        if self._listener is not None:
            self._listener()

    def attach(self, listener: Callable[[], None] | None) -> None:
        """Called by the NIC that plugs into this end (None to unplug)."""
        if listener is not None and self._listener is not None:
            raise DiscoError("this link is already plugged into a network interface: "
                             "give each interface its own link end")
        self._listener = listener


class LoopbackLink(Link):
    """Every frame sent comes straight back to the same interface."""

    def send(self, frame: bytes) -> None:
        self.deliver(frame)


class HostLink(Link):
    """The far end is the host: sent frames are collected in `sent`."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []

    def send(self, frame: bytes) -> None:
        self.sent.append(bytes(frame))


class PairLink(Link):
    """One end of a cable between two interfaces (possibly on two machines)."""

    def __init__(self) -> None:
        super().__init__()
        self.peer: PairLink | None = None

    def send(self, frame: bytes) -> None:
        if self.peer is not None:
            self.peer.deliver(frame)


def link_pair() -> tuple[PairLink, PairLink]:
    """Two connected ends: what one sends, the other receives."""
    a, b = PairLink(), PairLink()
    a.peer, b.peer = b, a
    return a, b
