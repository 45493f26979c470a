"""The timeline: a scrubber over the recorded history, with markers; click or drag to seek.

It reads the history's state (app/history.py: a copy taken under a lock) on a
timer of its own and asks for seeks by signal: the worker seeks, the UI never
waits. A drag shows where it will land and seeks when the button is released.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from .. import theme
from ..history import History, HistoryState, Marker

POLL_MS = 200  # how often the timeline looks at the history
MARKER_COLORS = {
    "input": QColor("#4fc3f7"),
    "breakpoint": QColor("#ef5350"),
    "reverse": QColor("#ff8a80"),
    "panic": QColor("#e040fb"),
    "restart": QColor("#66bb6a"),
    "migrations": QColor("#fff176"),
}
MARKER_NAMES = {
    "input": "console input", "breakpoint": "breakpoint hit", "reverse": "reverse hit",
    "panic": "VM stopped", "restart": "VM restarted", "migrations": "migrations",
}
PAST = QColor("#ffb74d")  # the colour of "viewing the past"


def seconds(cycles: int, clock_hz: int) -> str:
    return f"{cycles / max(clock_hz, 1):.3f} s"


class Scrubber(QWidget):
    """The bar itself: the range, the markers, where the views stand, the drag."""

    seek_requested = Signal(object)  # a cycle (an int: cycles pass 2**31)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timeline-scrubber")
        self.setMouseTracking(True)
        self.setMinimumHeight(34)
        # as tall as the bar and its markers: extra height would go to the timeline
        # dock, out of the views above it
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.state: HistoryState | None = None
        self.drag: int | None = None  # cycle under a held button

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(600, 34)

    def _bar(self) -> QRectF:
        return QRectF(8, 10, max(self.width() - 16, 1), 14)

    def x_of(self, cycle: int) -> float:
        s = self.state
        bar = self._bar()
        if s is None or s.last <= s.first:
            return bar.right()
        return bar.left() + bar.width() * (cycle - s.first) / (s.last - s.first)

    def cycle_at(self, x: float) -> int:
        s = self.state
        if s is None:
            return 0
        bar = self._bar()
        f = min(max((x - bar.left()) / bar.width(), 0.0), 1.0)
        return int(s.first + f * (s.last - s.first))

    def set_state(self, state: HistoryState) -> None:
        if state != self.state:
            self.state = state
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        bar = self._bar()
        s = self.state
        p.fillRect(bar, theme.PANEL.lighter(130))
        if s is None or not s.enabled:
            p.end()
            return
        here = self.x_of(s.position)
        if s.past:  # the stretch between the views' point and the present
            p.fillRect(QRectF(here, bar.top(), bar.right() - here, bar.height()),
                       QColor(PAST.red(), PAST.green(), PAST.blue(), 50))
        for m in s.markers:
            if s.first <= m.cycle <= s.last:
                x = self.x_of(m.cycle)
                p.setPen(QPen(MARKER_COLORS.get(m.kind, theme.TEXT), 2))
                p.drawLine(QPointF(x, bar.top() - 4), QPointF(x, bar.bottom()))
        p.setPen(QPen(PAST if s.past else theme.ACCENT, 3))
        p.drawLine(QPointF(here, bar.top() - 6), QPointF(here, bar.bottom() + 6))
        if self.drag is not None:
            x = self.x_of(self.drag)
            p.setPen(QPen(theme.TEXT, 1, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(x, bar.top() - 6), QPointF(x, bar.bottom() + 6))
        p.end()

    def marker_near(self, x: float) -> Marker | None:
        s = self.state
        if s is None:
            return None
        near = [m for m in s.markers if abs(self.x_of(m.cycle) - x) <= 4]
        return near[-1] if near else None

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton and self.state is not None \
                and self.state.enabled:
            self.drag = self.cycle_at(event.position().x())
            self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        x = event.position().x()
        if self.drag is not None:
            self.drag = self.cycle_at(x)
            self.update()
        s = self.state
        if s is None or not s.enabled:
            return
        m = self.marker_near(x)
        text = f"{seconds(self.cycle_at(x), s.clock_hz)}"
        if m is not None:
            text += f"\n{MARKER_NAMES.get(m.kind, m.kind)}: {m.text.strip()}"
        QToolTip.showText(event.globalPosition().toPoint(), text, self)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if self.drag is not None and event.button() == Qt.MouseButton.LeftButton:
            cycle = self.cycle_at(event.position().x())
            self.drag = None
            self.update()
            self.seek_requested.emit(cycle)


class TimelineView(QWidget):
    """The scrubber, a line saying where the views stand, and Live."""

    seek_requested = Signal(object)
    live_requested = Signal()

    def __init__(self, history: History | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timeline")
        self.history = history
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 4)
        row = QHBoxLayout()
        self.status = QLabel()
        self.status.setObjectName("timeline-status")
        self.status.setWordWrap(True)
        row.addWidget(self.status, 1)
        self.legend = QLabel(" ".join(
            f"<span style='color:{c.name()}'>\u258e</span>{MARKER_NAMES[k]}"
            for k, c in MARKER_COLORS.items()))
        self.legend.setStyleSheet(f"color: {theme.TEXT_DIM.name()};")
        row.addWidget(self.legend)
        self.live = QPushButton("Live \u25b6\u25b6")
        self.live.setObjectName("timeline-live")
        self.live.setToolTip("Back to the present (the recorded past stays on the timeline)")
        self.live.clicked.connect(self.live_requested)
        row.addWidget(self.live)
        layout.addLayout(row)
        self.scrubber = Scrubber()
        self.scrubber.seek_requested.connect(self.seek_requested)
        layout.addWidget(self.scrubber)
        self.state: HistoryState | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.refresh()

    def refresh(self) -> None:
        """Read the history's state (a copy) and show it."""
        if self.history is None:
            self.status.setText("no history")
            self.live.setEnabled(False)
            return
        s = self.history.state()
        self.state = s
        self.scrubber.set_state(s)
        self.live.setEnabled(s.enabled and s.past and not s.opened)
        self.status.setText(self.describe(s))

    @staticmethod
    def describe(s: HistoryState) -> str:
        if not s.enabled:
            return s.reason
        clock = s.clock_hz
        span = (f"recorded {seconds(s.first, clock)} \u2013 {seconds(s.last, clock)} "
                f"(simulated)")
        busy = f" \u00b7 <i>{s.busy}\u2026</i>" if s.busy else ""
        if s.opened and s.past:
            return (f"<b style='color:{PAST.name()}'>\u25c0 Replaying {s.opened}</b> at "
                    f"{seconds(s.position, clock)} of {seconds(s.last, clock)}. "
                    "Continue (F5) replays on, stopping at breakpoints; at its end it "
                    "starts an alternate future (recorded afresh, the file unchanged). "
                    f"Typing is refused in a replay.{busy}")
        if s.past:
            return (f"<b style='color:{PAST.name()}'>\u25c0 Viewing the past</b> at "
                    f"{seconds(s.position, clock)} (the present: {seconds(s.last, clock)}). "
                    "Continue (F5) replays the recorded future, stopping at breakpoints, "
                    "then runs on live; typing is refused until you are back in the present "
                    f"(Live).{busy}")
        return f"<b style='color:{theme.ACCENT.name()}'>\u25cf Live</b> \u00b7 {span}{busy}"
