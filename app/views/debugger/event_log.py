"""The monitor's event log: appended as events arrive, the newest EVENT_LINES kept."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QPlainTextEdit, QVBoxLayout, QWidget

from disco_core.monitor.events import Event as MonitorEvent
from disco_core.session import TraceMonitor

from .common import mono

EVENT_LINES = 2000  # the view keeps this many lines


class EventLogView(QWidget):
    commanded = Signal(object)  # a session Command

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        ll = QVBoxLayout(self)
        ll.setContentsMargins(0, 0, 0, 0)
        self.trace_tlb = QCheckBox("record TLB writes (tlbwr/tlbwi: VA \u2192 PA \u2192 MA)")
        self.trace_tlb.setObjectName("trace-tlb")
        self.trace_tlb.toggled.connect(lambda on: self.commanded.emit(TraceMonitor(on)))
        ll.addWidget(self.trace_tlb)
        self.event_log = QPlainTextEdit()
        self.event_log.setObjectName("monitor-log")
        self.event_log.setReadOnly(True)
        self.event_log.setFont(mono())
        self.event_log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.event_log.setMaximumBlockCount(EVENT_LINES)  # capped: old lines fall off
        ll.addWidget(self.event_log)
        self.vm_names: tuple[str, ...] = ()
        self._seq = -1  # the newest event shown

    def add_events(self, events: tuple[MonitorEvent, ...]) -> None:
        """Append the events not shown yet."""
        new = [e for e in events if e.seq > self._seq]
        if not new:
            return
        self._seq = new[-1].seq
        names = self.vm_names
        lines = []
        for e in new[-EVENT_LINES:]:
            vm = names[e.vm] if e.vm is not None and e.vm < len(names) else "monitor"
            cpu = f" CPU {e.cpu}" if e.cpu is not None else ""
            lines.append(f"{e.cycle:>12,}  {vm}{cpu}: {e.text}")
        self.event_log.appendPlainText("\n".join(lines))
