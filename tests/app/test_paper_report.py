"""Help › Paper reproduction's "Run experiments…": a real quick run on a worker thread
advances the progress bar while the event loop keeps ticking and then shows the new
report; a second run counts the cached runs; Cancel writes nothing."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer

from app.views.paper_report import PaperReportDialog
from disco_core.experiments import report
from disco_core.experiments.cache import ResultCache

WAIT = 180_000


@pytest.fixture
def pointer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The last-report pointer in the test's folder, not the user's cache."""
    p = tmp_path / "experiments-last-report"
    monkeypatch.setattr(report, "_pointer", lambda: p)
    return p


class Ticks:
    """A QTimer on the UI thread: the longest gap between its ticks says whether the
    event loop was ever blocked."""

    def __init__(self) -> None:
        self.count = 0
        self.last = time.monotonic()
        self.longest = 0.0
        self.timer = QTimer()
        self.timer.setInterval(20)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self) -> None:
        now = time.monotonic()
        self.longest = max(self.longest, now - self.last)
        self.last = now
        self.count += 1


def test_run_experiments_shows_progress_and_the_new_report(qtbot, tmp_path: Path,
                                                            pointer: Path) -> None:
    out = tmp_path / "report"
    dialog = PaperReportDialog(None, names=["table2"], out=out,
                               cache=ResultCache(tmp_path / "cache"), jobs=2)
    qtbot.addWidget(dialog)
    dialog.show()
    assert "No report yet" in dialog.browser.toPlainText()
    assert dialog.scale.currentData() == "quick"
    seen: list[tuple[int, int, int, int]] = []
    dialog.progress_shown.connect(lambda d, t, c: seen.append((d, t, c, dialog.bar.value())))

    def run_once() -> Ticks:
        seen.clear()
        ticks = Ticks()
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
        assert dialog.worker is not None and not dialog.run_button.isEnabled()
        assert dialog.cancel_button.isEnabled()
        qtbot.waitUntil(lambda: dialog.worker is None, timeout=WAIT)
        ticks.timer.stop()
        return ticks

    ticks = run_once()
    # the UI thread never waited on the runs (two simulations in worker processes)
    assert ticks.count > 20
    assert ticks.longest < 0.5, f"the event loop stalled for {ticks.longest:.2f} s"
    # Table 2's two runs: the bar went 0 -> 1 -> 2 of 2, nothing cached
    assert [s[:3] for s in seen] == [(0, 2, 0), (1, 2, 0), (2, 2, 0)]
    assert [s[3] for s in seen] == [0, 1, 2]
    assert dialog.bar.format() == "2 / 2 runs (0 cached)"
    index = out / "index.html"
    assert index.is_file() and pointer.read_text() == str(index.resolve())
    text = dialog.browser.toPlainText()
    assert "Table 2" in text and "2 runs simulated, 0 from the cache" in text
    assert dialog.browser.source().toLocalFile() == str(index)
    assert "Report written" in dialog.status.text()
    assert dialog.run_button.isEnabled() and not dialog.cancel_button.isEnabled()
    assert not dialog.open_button.isHidden()

    # again: both runs come from the cache, and the page shown is the new one
    run_once()
    assert [s[:3] for s in seen] == [(2, 2, 2)]
    assert dialog.bar.format() == "2 / 2 runs (2 cached)"
    assert "0 runs simulated, 2 from the cache" in dialog.browser.toPlainText()
    shot = tmp_path / "paper-report.png"
    assert dialog.grab().save(str(shot)) and shot.stat().st_size > 20_000


def test_cancel_writes_no_report(qtbot, tmp_path: Path, pointer: Path) -> None:
    out = tmp_path / "report"
    dialog = PaperReportDialog(None, names=["fig5"], out=out,
                               cache=ResultCache(tmp_path / "cache"), jobs=2)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    assert dialog.worker is not None
    # as soon as the runs are under way (the first count, 0 of 12), cancel
    qtbot.waitUntil(lambda: dialog.bar.maximum() == 12, timeout=WAIT)
    assert dialog.bar.value() < 12
    started = time.monotonic()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.worker is None, timeout=WAIT)
    # the worker processes were stopped, not waited for (a run takes seconds or more)
    assert time.monotonic() - started < 10
    assert multiprocessing.active_children() == []
    assert "Cancelled" in dialog.status.text() and dialog.bar.format() == "cancelled"
    assert not out.exists() or not any(out.iterdir())
    assert not pointer.exists()
    assert "No report yet" in dialog.browser.toPlainText()
    assert dialog.run_button.isEnabled() and not dialog.cancel_button.isEnabled()


def test_closing_while_running_cancels_without_waiting(qtbot, tmp_path: Path,
                                                       pointer: Path) -> None:
    from app.views import paper_report

    out = tmp_path / "report"
    dialog = PaperReportDialog(None, names=["fig7"], out=out,
                               cache=ResultCache(tmp_path / "cache"), jobs=2)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.bar.maximum() == 9, timeout=WAIT)
    started = time.monotonic()
    dialog.close()
    # the UI thread did not wait for the worker: it is kept until it ends on its own
    assert time.monotonic() - started < 0.5
    assert dialog.worker is None and len(paper_report._ORPHANS) == 1
    qtbot.waitUntil(lambda: not paper_report._ORPHANS, timeout=WAIT)
    assert multiprocessing.active_children() == []
    assert not (out / "index.html").exists() and not pointer.exists()
