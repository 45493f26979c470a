"""Compare…: one recording's inputs replayed under two configurations, a and b.

The choices are `disco compare`'s keys (numa-policy, sharing, asid-remap and a
cost table file); what is left "as recorded" stays as the recording has it.
Run replays the recording once on a worker thread to place its inputs by the
guests' progress (`disco_core.record.compare.prepare`), then runs a and b on
two worker threads at once, each with its progress bar (cycles run against the
recorded length), and shows what `disco compare` prints: the table per VM and
workload, the machine's totals, whether the guest-visible behaviour differs,
and the two heat maps side by side with their difference. The UI thread only
reads the finished result.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from disco_core.errors import DiscoError
from disco_core.monitor.diskcache import SHARING
from disco_core.monitor.numa import POLICIES
from disco_core.monitor.stats import CATEGORIES
from disco_core.record.compare import COLUMNS

from .debugger.common import mono

AS_RECORDED = "(as recorded)"
HEAT_WIDEN = 2  # the report's pictures are narrow (12 pixels a node): shown twice as wide


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    """The result's rows as the dialog's table shows them: per VM and workload, a then b
    (`disco compare`'s columns, then the exits by category)."""
    out = []
    for r in result["rows"]:
        for side in ("a", "b"):
            x = r[side]
            out.append([r["vm"], r["workload"], side] + [str(x[k]) for _t, k in COLUMNS]
                       + [str(x["exits"].get(c, 0)) for c in CATEGORIES])
    return out


class VariantBox(QGroupBox):
    """One configuration's choices."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(f"configuration {name}", parent)
        self.setObjectName(f"compare-{name}")
        form = QFormLayout(self)
        self.policy = QComboBox()
        self.policy.addItems([AS_RECORDED, *POLICIES])
        self.sharing = QComboBox()
        self.sharing.addItems([AS_RECORDED, *SHARING])
        self.remap = QComboBox()
        self.remap.addItems([AS_RECORDED, "on", "off"])
        self.costs = QLineEdit()
        self.costs.setPlaceholderText("as recorded; a cost table file, or default")
        browse = QPushButton("\u2026")
        browse.setToolTip("choose a cost table file (docs/costs.md)")
        browse.clicked.connect(self._browse)
        costs_row = QHBoxLayout()
        costs_row.addWidget(self.costs, 1)
        costs_row.addWidget(browse)
        form.addRow("numa-policy", self.policy)
        form.addRow("sharing", self.sharing)
        form.addRow("asid-remap", self.remap)
        form.addRow("costs", costs_row)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Cost table", "", "All files (*)")
        if path:
            self.costs.setText(path)

    def pairs(self) -> list[str]:
        """The KEY=VALUE pairs chosen, as `disco compare --a/--b` takes them."""
        out = []
        for key, box in (("numa-policy", self.policy), ("sharing", self.sharing),
                         ("asid-remap", self.remap)):
            if box.currentText() != AS_RECORDED:
                out.append(f"{key}={box.currentText()}")
        if self.costs.text().strip():
            out.append(f"costs={self.costs.text().strip()}")
        return out


class _Comparison(QObject):
    """The work on threads of their own; the signals reach the UI thread queued."""

    progressed = Signal(str, int)  # "a" or "b", per mille of the recorded length
    stage = Signal(str)
    finished = Signal(object)  # the result (disco_core.record.compare.combine)
    failed = Signal(str)

    def __init__(self, path: str, a: dict[str, str], b: dict[str, str],
                 before: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.path, self.a, self.b = path, a, b
        self.before = before
        self.worker = threading.Thread(target=self._run, name="compare", daemon=True)

    def _run(self) -> None:
        try:
            self.finished.emit(self._compare())
        except (DiscoError, OSError, ValueError) as e:
            self.failed.emit(str(e).splitlines()[0])
        except Exception as e:  # noqa: BLE001 (a one-line message, never a traceback)
            self.failed.emit(f"the comparison failed: {type(e).__name__}: {e}")

    def _compare(self) -> dict[str, Any]:
        from disco_core.record.compare import combine, configured, prepare, run_variant

        if self.before is not None:
            self.before()  # the history's queued chunks on disk (the writer thread)
        self.stage.emit("replaying the recording once to place its inputs\u2026")
        plan = prepare(self.path, partial=True)
        self.stage.emit("running a and b\u2026")
        results: dict[str, dict[str, Any]] = {}
        errors: list[BaseException] = []

        def run(side: str, variant: dict[str, str]) -> None:
            def progress(cycles: int) -> None:
                self.progressed.emit(side, min(1000, cycles * 1000 // max(plan.recorded, 1)))

            try:
                results[side] = run_variant(configured(plan.config, variant), plan.deliveries,
                                            plan.final, plan.limit, progress)
            except BaseException as e:  # noqa: BLE001 (handed to the comparison's thread)
                errors.append(e)

        # b on a thread of its own, a on this one: the C core runs without the GIL
        other = threading.Thread(target=run, args=("b", self.b), name="compare-b",
                                 daemon=True)
        other.start()
        run("a", self.a)
        other.join()
        if errors:
            raise errors[0]
        self.progressed.emit("a", 1000)
        self.progressed.emit("b", 1000)
        return combine(self.path, plan.config, self.a, self.b, results["a"], results["b"])


class CompareDialog(QDialog):
    """Choose a recording and a and b; Run; `outcome` and the views once it is done."""

    compared = Signal()  # the result is shown (or the comparison failed)

    def __init__(self, path: str = "", parent: QWidget | None = None,
                 flush: Callable[[], None] | None = None) -> None:
        super().__init__(parent)
        # `flush`: called on the worker before the file is read when `path` is a
        # history still being written (MainWindow.flush_recording)
        self._flush = flush
        self.setObjectName("compare")
        self.setWindowTitle("Compare: one recording under two configurations")
        self.outcome: dict[str, Any] | None = None
        self.error = ""
        self._work: _Comparison | None = None
        outer = QVBoxLayout(self)
        file_row = QHBoxLayout()
        file_row.addWidget(QLabel("recording"))
        self.path = QLineEdit(path)
        self.path.setObjectName("compare-file")
        self.path.setPlaceholderText("a recording (.rec): File \u203a Save recording\u2026 or "
                                     "disco record")
        file_row.addWidget(self.path, 1)
        browse = QPushButton("Browse\u2026")
        browse.clicked.connect(self._browse)
        file_row.addWidget(browse)
        outer.addLayout(file_row)
        boxes = QHBoxLayout()
        self.a, self.b = VariantBox("a"), VariantBox("b")
        boxes.addWidget(self.a)
        boxes.addWidget(self.b)
        outer.addLayout(boxes)
        run_row = QHBoxLayout()
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("compare-run")
        self.run_button.clicked.connect(self.run)
        run_row.addWidget(self.run_button)
        self.bars: dict[str, QProgressBar] = {}
        for side in ("a", "b"):
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setFormat(f"{side}: %p% of the recorded length")
            bar.setObjectName(f"compare-progress-{side}")
            self.bars[side] = bar
            run_row.addWidget(bar, 1)
        outer.addLayout(run_row)
        self.status = QLabel("choose the configurations and Run")
        self.status.setObjectName("compare-status")
        self.status.setWordWrap(True)
        outer.addWidget(self.status)
        self.table = QTableWidget(0, 3 + len(COLUMNS) + len(CATEGORIES))
        self.table.setObjectName("compare-table")
        self.table.setHorizontalHeaderLabels(["VM", "workload", ""]
                                             + [t for t, _k in COLUMNS] + list(CATEGORIES))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(140)
        outer.addWidget(self.table, 1)
        self.machine = QPlainTextEdit()
        self.machine.setObjectName("compare-machine")
        self.machine.setReadOnly(True)
        self.machine.setFont(mono())
        self.machine.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.machine.setFixedHeight(7 * self.machine.fontMetrics().lineSpacing() + 12)
        outer.addWidget(self.machine)
        maps = QWidget()
        self.maps_widget = maps
        self.maps_row = QHBoxLayout(maps)
        self.maps: list[QLabel] = []
        self.captions: list[QLabel] = []
        for _ in range(3):
            column = QVBoxLayout()
            caption = QLabel()
            caption.setWordWrap(True)
            label = QLabel()
            label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
            column.addWidget(caption)
            column.addWidget(label, 1)
            self.maps.append(label)
            self.captions.append(caption)
            self.maps_row.addLayout(column)
        self.maps_row.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(maps)
        scroll.setMinimumHeight(300)
        outer.addWidget(scroll, 2)
        self.resize(1100, 900)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Recording", self.path.text(),
                                              "Recordings (*.rec);;All files (*)")
        if path:
            self.path.setText(path)

    @property
    def running(self) -> bool:
        return self._work is not None and self._work.worker.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        """Join the worker (tests; closing): the UI never calls it otherwise."""
        if self._work is not None:
            self._work.worker.join(timeout)

    def run(self) -> None:
        """Check the choices (a one-line message if wrong) and start the two runs."""
        from disco_core.record.compare import parse_variant

        if self.running:
            return
        path = self.path.text().strip()
        if not path:
            self._failed("choose a recording first")
            return
        if not Path(path).is_file():
            self._failed(f"{path}: no such file")
            return
        try:
            a, b = parse_variant(self.a.pairs()), parse_variant(self.b.pairs())
        except (DiscoError, OSError, ValueError) as e:
            self._failed(str(e).splitlines()[0])
            return
        self.error = ""
        self.outcome = None
        self.status.setStyleSheet("")
        for bar in self.bars.values():
            bar.setValue(0)
        self.run_button.setEnabled(False)
        self._work = _Comparison(path, a, b, self._flush)
        self._work.progressed.connect(lambda side, v: self.bars[side].setValue(v))
        self._work.stage.connect(self.status.setText)
        self._work.finished.connect(self._show)
        self._work.failed.connect(self._failed)
        self._work.worker.start()

    def _failed(self, message: str) -> None:
        self.error = message
        self.run_button.setEnabled(True)
        self.status.setText(message)
        self.status.setStyleSheet("color: #ef5350;")
        self.compared.emit()

    def _show(self, result: dict[str, Any]) -> None:
        from disco_core.record.compare import format_table, heat_maps

        self.outcome = result
        self.run_button.setEnabled(True)
        rows = table_rows(result)
        t = self.table
        t.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c >= 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                t.setItem(r, c, item)
        lines = format_table(result).splitlines()
        self.machine.setPlainText("\n".join(line for line in lines
                                       if line.startswith(("a: ", "b: ", "machine "))))
        behaviour = lines[-1]
        self.status.setText(behaviour)
        self.status.setStyleSheet("color: #ef5350;" if result["diverged"] else "")
        used, pics = heat_maps(result)
        for label, title, (name, caption, data) in zip(self.maps, self.captions, pics,
                                                       strict=True):
            title.setText(f"<b>{name}</b><br>{caption}")
            pixmap = QPixmap()
            pixmap.loadFromData(data, "PNG")
            pixmap = pixmap.scaled(pixmap.width() * HEAT_WIDEN, pixmap.height())
            label.setPixmap(pixmap)
            label.setFixedSize(pixmap.size())
            title.setFixedWidth(max(pixmap.width(), 220))
            label.setToolTip(f"{name}: {caption}; the {used} RAM pages with misses under a or "
                             "b (down, grouped into 256 rows) by node (across), log scale")
        self.maps_row.activate()  # the pictures' sizes count at once (a grab right after)
        self.compared.emit()

    def heat_pixmaps(self) -> list[QPixmap]:
        return [label.pixmap() for label in self.maps]

