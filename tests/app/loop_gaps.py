"""How long the Qt event loop went without turning: the app's tests measure that the
UI thread never waits on the simulation."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer


class LoopGaps:
    """A timer every `interval_ms` on the UI thread; `gaps` are the seconds between its
    ticks (a gap much longer than the interval is a stalled event loop)."""

    def __init__(self, interval_ms: int = 10) -> None:
        self.gaps: list[float] = []
        self._last = time.monotonic()
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = time.monotonic()
        self.gaps.append(now - self._last)
        self._last = now

    def stop(self) -> None:
        self._timer.stop()
