"""A session target's breakpoints and watchpoints, armed through the session.

The session counts them in and out of the machine's beside the app debugger's
(`Session.arm_breakpoint`, `arm_watchpoint`); their hits come back to the
target through `Session.stop_claims`.
"""

from __future__ import annotations

from disco_core.gdb.target import PointKind
from disco_core.session.session import Session

ACCESS = {PointKind.WRITE: "w", PointKind.READ: "r", PointKind.ACCESS: "rw"}


class SessionPoints:
    """`insert_point`/`remove_point` for a target with a `session` and a `_points` set."""

    session: Session
    _points: set[tuple[PointKind, int, int]]

    def insert_point(self, kind: PointKind, address: int, length: int) -> None:
        if (kind, address, length) not in self._points:
            self._arm(kind, address, length, 1)
            self._points.add((kind, address, length))

    def remove_point(self, kind: PointKind, address: int, length: int) -> None:
        if (kind, address, length) in self._points:
            self._points.discard((kind, address, length))
            self._arm(kind, address, length, -1)

    def _arm(self, kind: PointKind, address: int, length: int, delta: int) -> None:
        if kind.is_watch:
            self.session.arm_watchpoint(address, length, ACCESS[kind], delta)
        else:
            self.session.arm_breakpoint(address, delta)
