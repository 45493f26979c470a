"""Build a session off the UI thread while a progress dialog says what is happening.

Building the guest kernel and the root image takes a while the first time
(both are cached by content afterwards); the event loop keeps running, so the
window system never thinks the application hangs.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QProgressDialog, QWidget

from disco_core.session import Session


def build_session(factory: Callable[[Callable[[str], None]], Session],
                  parent: QWidget | None = None, title: str = "Starting") -> Session:
    """Run factory(progress) on a thread; show its progress messages until it returns."""
    dialog = QProgressDialog("preparing the machine", "", 0, 0, parent)
    dialog.setObjectName("loading")
    dialog.setWindowTitle(f"Disco Workbench \u2014 {title}")
    dialog.setCancelButton(None)
    dialog.setMinimumDuration(0)
    dialog.setWindowModality(Qt.WindowModality.ApplicationModal)
    dialog.show()
    messages: queue.SimpleQueue[str] = queue.SimpleQueue()
    built: list[Session] = []
    failed: list[BaseException] = []

    def work() -> None:
        try:
            built.append(factory(messages.put))
        except BaseException as e:  # handed to the UI thread, raised there
            failed.append(e)

    thread = threading.Thread(target=work, name="disco-build", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            while True:
                try:
                    dialog.setLabelText(messages.get_nowait() + "\u2026")
                except queue.Empty:
                    break
            QApplication.processEvents()
            time.sleep(0.02)
        thread.join()
    finally:
        dialog.close()
        dialog.deleteLater()
    if failed:
        raise failed[0]
    return built[0]
