"""Fixtures for the application's tests: offscreen Qt and a workbench factory.

`make_workbench` follows napari's `make_napari_viewer`: it closes every window
it made and fails the test when top-level widgets or worker threads leak.
"""

from __future__ import annotations

import json
import os
import tempfile

# Offscreen Qt, before Qt is imported anywhere, on a 1920x1200 screen (the offscreen
# plugin's own is 800x800, and the window keeps itself within its screen).
_screen = os.path.join(tempfile.mkdtemp(prefix="disco-qt-"), "screen.json")
with open(_screen, "w") as f:
    json.dump({"screens": [{"name": "test", "x": 0, "y": 0, "width": 1920, "height": 1200,
                            "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}, f)
os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={_screen}"

import gc  # noqa: E402
import threading  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEvent, QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.engine import LIVE_THREADS  # noqa: E402
from app.main_window import MainWindow  # noqa: E402
from disco_core.session import Session, baremetal_session  # noqa: E402

# Widgets Qt itself keeps at top level (tooltips and the like), not ours to close.
QT_INTERNAL = {"QTipLabel", "QComboBoxPrivateContainer", "QMenu"}


def _python_threads() -> set[int]:
    # QThreads that ran Python show up as dummy entries that never go away; the
    # QThreads themselves are checked through LIVE_THREADS.
    return {t.ident or 0 for t in threading.enumerate()
            if not isinstance(t, threading._DummyThread)}


def _our_top_levels() -> dict[int, str]:
    return {id(w): f"{w.metaObject().className()} {w.objectName()!r}"
            for w in QApplication.topLevelWidgets()
            if w.metaObject().className() not in QT_INTERNAL}


@pytest.fixture
def make_session() -> Callable[..., Session]:
    def factory(**kwargs: object) -> Session:
        return baremetal_session(**kwargs)  # type: ignore[arg-type]

    return factory


@pytest.fixture
def make_workbench(qtbot, tmp_path) -> Iterator[Callable[..., MainWindow]]:  # type: ignore[no-untyped-def]
    before = _our_top_levels()
    threads_before = _python_threads()
    windows: list[MainWindow] = []
    settings_file = str(tmp_path / "workbench.ini")

    def factory(session: Session | None = None, start: bool = True, show: bool = True
                ) -> MainWindow:
        settings = QSettings(settings_file, QSettings.Format.IniFormat)
        window = MainWindow(session or baremetal_session(), settings=settings, start=start)
        windows.append(window)
        if show:
            window.show()
        return window

    yield factory

    for window in windows:
        window.close()
        window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    gc.collect()
    running = [t for t in LIVE_THREADS if t.isRunning()]
    assert not running, f"worker threads still running: {running}"
    assert _python_threads() <= threads_before, "Python threads leaked"
    leaked = [name for key, name in _our_top_levels().items() if key not in before]
    assert not leaked, f"Widgets leaked! {leaked}"
