"""The layout as a first-time user meets it: hover texts never move a splitter, the
debugger's fields stay readable at 1280x800, the window stays on its screen, and
stops and errors are also said in the debugger."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QApplication

from disco_core.session import Event

WAIT = 60_000


def test_long_hover_text_does_not_move_a_splitter(make_workbench, qtbot) -> None:
    window = make_workbench()
    qtbot.waitUntil(lambda: window.heatmap.redraws >= 2, timeout=WAIT)
    QApplication.processEvents()
    before = [split.sizes() for split in window._splitters]
    window.heatmap.info.setText("page 0x1234 " + "misses by node: n0: 1,234,567, " * 40)
    window.heatmap.legend.setText("a very long legend entry " * 60)
    for _ in range(5):
        QApplication.processEvents()
    assert [split.sizes() for split in window._splitters] == before


def test_debugger_fields_stay_readable_at_1280x800(make_workbench, qtbot) -> None:
    window = make_workbench()
    window.resize(1280, 800)
    for _ in range(5):
        QApplication.processEvents()
    dock = window.debugger
    for edit in (dock.run_to, dock.bp_edit):
        text_width = edit.fontMetrics().horizontalAdvance(edit.placeholderText())
        assert edit.width() >= text_width, (edit.objectName(), edit.width(), text_width)
    assert window.topology.width() >= 280 and window.heatmap.width() >= 320
    assert window.plots.width() >= 300


def test_window_is_kept_within_its_screen(make_workbench, qtbot) -> None:
    window = make_workbench()
    area = window.screen().availableGeometry()
    window.resize(area.width() + 600, area.height() + 400)
    window.move(area.right() + 500, area.bottom() + 300)
    window.fit_to_screen()
    frame = window.frameGeometry()
    assert area.contains(frame), (area, frame)
    # a geometry saved on a bigger screen comes back inside this one
    window.move(QPoint(-3000, -2000))
    window.save_settings()
    again = make_workbench(start=False)
    qtbot.waitUntil(lambda: area.contains(again.frameGeometry()), timeout=5000)
    assert QRect(area).intersects(again.geometry())


def test_stops_and_errors_are_said_in_the_debugger(make_workbench, qtbot) -> None:
    window = make_workbench(start=False)
    window._events([Event("breakpoint", "CPU 2 stopped at stream_update (0x00400120)")])
    message = window.debugger.message
    assert message.isVisible() and "stream_update" in message.text()
    assert window.statusBar().currentMessage() == message.text()
    window._errored("RunTo: no symbol 'stram_update'\nTraceback ...")
    assert message.text() == "RunTo: no symbol 'stram_update'"
    assert "ef5350" in message.styleSheet()  # the error colour
