"""`disco-workbench` (or `python -m app`): open the default session in the main window.

`--screenshot FILE.png --run-for SECONDS` runs the session for that long,
saves a picture of the main window and quits (works with
QT_QPA_PLATFORM=offscreen).
"""

from __future__ import annotations

import argparse
import gc
import sys

from disco_core.session import SESSION_KINDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="disco-workbench", description=__doc__.splitlines()[0])
    parser.add_argument("--session", choices=sorted(SESSION_KINDS), default="baremetal",
                        help="baremetal: a program on the test machine (default: numademo "
                        "on flash8); kernel: the native guest kernel booted to its shell; "
                        "vms: four virtual machines running the guest under the monitor")
    parser.add_argument("--program", default="numademo",
                        help="bare-metal program under resources/ (default: numademo)")
    parser.add_argument("--preset", default="flash8", help="machine preset (default: flash8)")
    parser.add_argument("--screenshot", metavar="FILE.png",
                        help="save a picture of the window after --run-for seconds and quit")
    parser.add_argument("--run-for", type=float, default=None, metavar="SECONDS",
                        help="quit after this many seconds (with --screenshot: take it then)")
    args = parser.parse_args(argv)

    from PySide6.QtCore import QCoreApplication, QEvent, QTimer
    from PySide6.QtWidgets import QApplication

    from app import theme
    from app.main_window import MainWindow

    QCoreApplication.setOrganizationName("disco-workbench")
    QCoreApplication.setApplicationName("Disco Workbench")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    theme.apply(app)  # type: ignore[arg-type]
    session = SESSION_KINDS[args.session](program=args.program, preset_name=args.preset)
    # A screenshot shows the default layout, whatever the user last arranged.
    holder = {"window": MainWindow(session, persist=not args.screenshot)}
    window = holder["window"]
    window.show()
    result = {"code": 0}

    def finish() -> None:
        window = holder["window"]
        if args.screenshot:
            window.render()
            if not window.grab().save(args.screenshot):
                print(f"disco-workbench: could not write {args.screenshot}", file=sys.stderr)
                result["code"] = 1
        window.close()

    if args.run_for is not None or args.screenshot:
        QTimer.singleShot(int((args.run_for if args.run_for is not None else 3.0) * 1000),
                          finish)
    app.exec()
    # Tear the window down while the application still exists: left to the
    # interpreter's final garbage collection, PySide6 can crash on the way out.
    window.deleteLater()
    del window, holder["window"]
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    return result["code"]


if __name__ == "__main__":
    sys.exit(main())
