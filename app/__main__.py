"""`disco-workbench` (or `python -m app`): open the default session in the main window.

The default session is four virtual machines booting the guest kernel under the
monitor on flash8; `--session baremetal` or `--session kernel` open the others.

`--screenshot FILE.png --run-for SECONDS` runs the session for that long,
saves a picture of the main window and quits (works with
QT_QPA_PLATFORM=offscreen).
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable

from disco_core.record.replay import Recording
from disco_core.session import DEFAULT_SESSION, SESSION_KINDS, Session

# The desktop entry (packaging/disco-workbench.desktop) and the icon's name.
DESKTOP_NAME = "disco-workbench"


def set_identity() -> None:
    """Give the windows the application's icon and name its desktop entry.

    The icon is every PNG size of resources/icons (docs/packaging.md); the desktop
    file name lets a desktop shell match the windows to the installed entry.
    """
    from PySide6.QtGui import QGuiApplication, QIcon

    from disco_core.guest import resources_dir

    icon = QIcon()
    for png in sorted((resources_dir() / "icons" / "hicolor").glob(f"*/apps/{DESKTOP_NAME}.png")):
        icon.addFile(str(png))
    QGuiApplication.setWindowIcon(icon)
    QGuiApplication.setDesktopFileName(DESKTOP_NAME)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="disco-workbench", description=__doc__.splitlines()[0])
    parser.add_argument("--session", choices=sorted(SESSION_KINDS), default=DEFAULT_SESSION,
                        help="vms (the default): virtual machines running the guest kernel "
                        "under the monitor; baremetal: a program on the machine (numademo "
                        "unless --program says otherwise); kernel: the native guest kernel "
                        "booted to its shell")
    parser.add_argument("--run", metavar="COMMAND", default=None,
                        help="type COMMAND into every guest's console at the start (a "
                        "workload: e.g. 'database 64')")
    parser.add_argument("--vms", type=int, default=4,
                        help="virtual machines in the vms session (default: 4)")
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

    from . import theme
    from .loader import build_session
    from .main_window import MainWindow
    from .views.new_machine import MachineChoice

    QCoreApplication.setOrganizationName("disco-workbench")
    QCoreApplication.setApplicationName("Disco Workbench")
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    theme.apply(app)
    set_identity()
    kind = SESSION_KINDS[args.session]

    def extra() -> dict[str, object]:
        # A session of VMs records its history over the root image every recording
        # shares (its path is guest-visible: docs/recording-format.md).
        from disco_core.record.recorder import shared_root_image

        return {"vms": args.vms, "base_image": shared_root_image()} \
            if args.session == "vms" else {}

    try:
        session = build_session(lambda progress: kind(program=args.program,
                                                      preset_name=args.preset,
                                                      progress=progress, **extra()))
    except Exception as e:  # a bad preset or layout: say so, no traceback
        print(f"disco-workbench: {e}", file=sys.stderr)
        return 2
    holder: dict[str, MainWindow] = {}

    def open_window(session: Session, opened: Recording | None = None) -> None:
        # A screenshot shows the default layout, whatever the user last arranged.
        window = MainWindow(session, persist=not args.screenshot, opened=opened)
        window.new_machine.connect(new_machine)
        window.open_recording.connect(open_recording)
        holder["window"] = window
        window.show()

    def open_recording(path: str) -> None:
        """File > Open recording...: replay the file in a window of its own."""
        from .history import open_recording as read

        old = holder["window"]
        found: dict[str, Recording] = {}

        def build(progress: Callable[[str], None]) -> Session:
            session, found["recording"] = read(path, progress)
            return session

        try:
            session = build_session(build, old, f"opening {path}")
        except Exception as e:  # a damaged or foreign file: one line, no traceback
            old.statusBar().showMessage(f"could not open the recording: {e}", 15000)
            return
        app.setQuitOnLastWindowClosed(False)
        open_window(session, found["recording"])
        old.close()
        old.deleteLater()
        app.setQuitOnLastWindowClosed(True)

    def new_machine(choice: MachineChoice) -> None:
        """File > New session: build the chosen session (any kind), then swap windows."""
        from disco_core.session import vms_session

        old = holder["window"]

        def build(progress: Callable[[str], None]) -> Session:
            if choice.kind == "vms":
                from disco_core.record.recorder import shared_root_image

                return vms_session(preset_name=choice.preset, vms=choice.vms,
                                   vcpus=choice.vcpus, memory_mib=choice.memory_mib,
                                   progress=progress, base_image=shared_root_image())
            return SESSION_KINDS[choice.kind](preset_name=choice.preset, progress=progress)

        try:
            session = build_session(build, old, choice.title)
        except Exception as e:
            old.statusBar().showMessage(f"could not build the machine: {e}", 15000)
            return
        app.setQuitOnLastWindowClosed(False)  # not while the old window goes
        open_window(session)
        old.close()
        old.deleteLater()
        app.setQuitOnLastWindowClosed(True)

    open_window(session)
    if args.run:
        from disco_core.session import FeedConsole

        typed: set[str] = set()

        def type_command() -> None:
            """Type --run into each guest's console once it shows its first prompt."""
            snap = holder["window"].latest
            for c in snap.consoles if snap is not None else ():
                if c.guest not in typed and c.tail.rstrip().endswith((b"$", b"#")):
                    typed.add(c.guest)
                    holder["window"].engine.send(FeedConsole(c.guest,
                                                             args.run.encode() + b"\n"))
            if len(typed) < len(session.guests):
                QTimer.singleShot(50, type_command)

        type_command()
    result = {"code": 0}

    def finish() -> None:
        window = holder["window"]
        if args.screenshot:
            window.render_now()
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
    window = holder.pop("window")
    window.deleteLater()
    del window
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    return result["code"]


if __name__ == "__main__":
    sys.exit(main())
