"""Help › Paper reproduction: the last report `disco experiments report` wrote, and a
button that runs the experiments and writes a new one.

The report is plain HTML with PNG charts (disco_core/experiments/report.py), so a
QTextBrowser shows it as it is, charts included; "Open in browser" hands it to the
desktop's browser for the SVGs and the raw JSON. With no report yet, the dialog says
which command makes one.

"Run experiments…" runs the suite at the chosen scale on a worker thread
(`SuiteWorker`, calling `run_experiments` with local worker processes, as the CLI
does): the UI thread only receives its progress signals, runs done / total with the
cached ones counted. Cancel stops the runs (the finished ones stay cached) and writes
nothing; the report is written only when every run has finished, and then shown.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QThread, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from disco_core.errors import DiscoError
from disco_core.experiments.cache import ResultCache
from disco_core.experiments.report import default_report_dir, last_report, write_report
from disco_core.experiments.runner import Cancelled, Executor

NO_REPORT = ("<h3>No report yet</h3><p>Press <b>Run experiments…</b> below, or run "
             "<code>disco experiments report</code> (or <code>disco experiments report "
             "--quick</code> for a small one) to reproduce the paper's figures; the last "
             "report written opens here.</p>")
SCALES = (("quick", "quick scale (small workloads, a minute or so)"),
          ("paper", "paper scale (the paper's configurations, minutes)"))

# Workers still running after their dialog closed (cancelled, finishing their last
# poll): kept referenced until they end, so no running QThread is ever destroyed.
_ORPHANS: set[SuiteWorker] = set()


class SuiteWorker(QThread):
    """Runs experiments and writes their report, off the UI thread."""

    progressed = Signal(int, int, int)   # done, total, cached
    written = Signal(str)                # the report's index.html
    failed = Signal(str)                 # a one-line reason
    cancelled = Signal()

    def __init__(self, names: Sequence[str], scale: str, out: Path,
                 cache: ResultCache | None, jobs: int | None) -> None:
        super().__init__()
        self.names = list(names)
        self.scale = scale
        self.out = out
        self.cache = cache
        self.jobs = jobs
        self._stop = threading.Event()

    def cancel(self) -> None:
        self._stop.set()

    def run(self) -> None:  # the worker thread
        from disco_core.experiments.suite import run_experiments

        try:
            res = run_experiments(self.names, self.scale, executor=Executor("local",
                                                                            jobs=self.jobs),
                                  cache=self.cache, progress=self.progressed.emit,
                                  cancel=self._stop.is_set)
            if self._stop.is_set():
                raise Cancelled()
            index = write_report(res, self.out)
        except Cancelled:
            self.cancelled.emit()
            return
        except DiscoError as e:
            self.failed.emit(str(e))
            return
        except OSError as e:
            self.failed.emit(f"cannot write the report to {self.out}: {e.strerror or e}")
            return
        self.written.emit(str(index))


class PaperReportDialog(QDialog):
    """The report, and the controls that make a new one."""

    progress_shown = Signal(int, int, int)   # the bar now shows done / total (cached)

    def __init__(self, parent: QWidget | None = None, names: Sequence[str] | None = None,
                 out: Path | None = None, cache: ResultCache | None = None,
                 jobs: int | None = None) -> None:
        super().__init__(parent)
        from disco_core.experiments.registry import EXPERIMENTS

        self.names = list(names) if names is not None else list(EXPERIMENTS)
        self.out = out
        self.cache = cache
        self.jobs = jobs
        self.worker: SuiteWorker | None = None
        self.index: Path | None = None
        self.setObjectName("help-paper")
        self.setWindowTitle("Paper reproduction")
        layout = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setObjectName("paper-report")
        self.browser.setOpenExternalLinks(True)
        layout.addWidget(self.browser)

        row = QHBoxLayout()
        self.scale = QComboBox()
        self.scale.setObjectName("experiments-scale")
        for key, text in SCALES:
            self.scale.addItem(text, key)
        self.run_button = QPushButton("Run experiments…")
        self.run_button.setObjectName("run-experiments")
        self.run_button.clicked.connect(self.start)
        self.bar = QProgressBar()
        self.bar.setObjectName("experiments-progress")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("no runs yet")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancel-experiments")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.scale)
        row.addWidget(self.run_button)
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        self.status = QLabel("")
        self.status.setObjectName("experiments-status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.open_button = QPushButton("Open in browser")
        self.open_button.setObjectName("open-report")
        self.open_button.clicked.connect(self._open_external)
        buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        self.show_report(last_report())
        self.resize(1000, 760)

    # ---- the report ---------------------------------------------------------------------

    def show_report(self, index: Path | None) -> None:
        self.index = index
        self.open_button.setVisible(index is not None)
        if index is None:
            self.browser.setHtml(NO_REPORT)
            return
        url = QUrl.fromLocalFile(str(index))
        if self.browser.source() == url:
            self.browser.reload()      # the same file, rewritten: read it again
        else:
            self.browser.setSource(url)

    def _open_external(self) -> None:
        if self.index is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.index)))

    # ---- running the experiments --------------------------------------------------------

    def start(self) -> None:
        if self.worker is not None:
            return
        scale = str(self.scale.currentData())
        out = self.out or default_report_dir()
        worker = SuiteWorker(self.names, scale, out, self.cache, self.jobs)
        worker.progressed.connect(self._progressed)
        worker.written.connect(self._written)
        worker.failed.connect(self._failed)
        worker.cancelled.connect(self._cancelled)
        worker.finished.connect(self._worker_ended)
        self.worker = worker
        self.run_button.setEnabled(False)
        self.scale.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.bar.setRange(0, 0)        # busy until the first count arrives
        self.status.setText(f"Running {len(self.names)} experiment"
                            f"{'s' if len(self.names) != 1 else ''} at the {scale} scale…")
        worker.start()

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling…")

    def _progressed(self, done: int, total: int, cached: int) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        self.bar.setFormat(f"{done} / {total} runs ({cached} cached)")
        self.progress_shown.emit(done, total, cached)

    def _written(self, index: str) -> None:
        self.status.setText(f"Report written: {index}")
        self.show_report(Path(index))

    def _failed(self, reason: str) -> None:
        self.status.setText(f"Failed: {reason}")

    def _cancelled(self) -> None:
        self.status.setText("Cancelled: no report written (the finished runs stay cached).")
        self.bar.setFormat("cancelled")

    def _worker_ended(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.wait()              # it has emitted finished: it is returning now
            worker.deleteLater()
        self.run_button.setEnabled(True)
        self.scale.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self.bar.maximum() == 0:
            self.bar.setRange(0, 1)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        worker, self.worker = self.worker, None
        if worker is not None:
            # stop it and let it end on its own: the UI thread does not wait for it
            for signal in (worker.progressed, worker.written, worker.failed,
                           worker.cancelled, worker.finished):
                signal.disconnect()
            worker.cancel()
            _ORPHANS.add(worker)
            worker.finished.connect(lambda: _forget(worker))
        super().closeEvent(event)


def _forget(worker: SuiteWorker) -> None:
    worker.wait()                      # it has emitted finished: it is returning now
    _ORPHANS.discard(worker)


def paper_report_dialog(parent: QWidget | None) -> QDialog:
    return PaperReportDialog(parent)
