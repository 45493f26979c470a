"""What the open workbench costs the simulation: guest instructions per wall second
with the application running the session (offscreen) versus the same Session run
headless, in the same process, alternating so both see the same machine load.

    QT_QPA_PLATFORM=offscreen python bench/ui_overhead.py [--seconds 4] [--rounds 5]
        [--session vms|baremetal|kernel] [--run "database 64"]

The session is the workbench's default (four VMs under the monitor on flash8)
unless --session says otherwise; the VMs boot to their prompts first and then
run --run's command line (by default a long steady workload; --warmup
instructions pass before measuring), so both measurements see them at the same work.
Each round measures headless, then with the app; a round's ratio is its app
rate over its headless rate. At least 5 rounds are run (the host may be
shared: one round proves little); the line above the last gives the session
measured, the median and the range of the rounds' ratios. The last line is
`ui_vs_headless: X`, the median (the target is at least 0.85).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disco_core.session import (  # noqa: E402
    DEFAULT_SESSION,
    SESSION_KINDS,
    FeedConsole,
    Session,
    run_headless,
)

# One long, steady program (the paper's Engineering workload, ~4 MiB per VM): after
# its start-up (page faults: mostly monitor work) its speed is steady for minutes,
# so the alternating measurements see the same phase.
WORKLOAD = "engineering 100000"
MIN_ROUNDS = 5
WARMUP = 60_000_000  # instructions run headless before measuring: past the start-up


def headless(session: Session, seconds: float, budget: int) -> tuple[int, float]:
    result = run_headless(session, seconds, budget=budget)
    return result.instructions, result.seconds


def with_app(session: Session, seconds: float) -> tuple[int, float, int]:
    from PySide6.QtCore import QCoreApplication, QEvent, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    settings = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                         "disco-workbench-bench", "ui-overhead")
    window = MainWindow(session, settings=settings, owns_session=False, persist=False)
    seen: list[tuple[float, int]] = []
    window.engine.snapshot_ready.connect(lambda s: seen.append((s.wall_time, s.instructions)))
    window.show()
    # Measure from the first snapshot (the window is up and the worker runs) on.
    QTimer.singleShot(int(seconds * 1000) + 500, window.close)
    window.engine.finished.connect(app.quit)
    app.exec()
    renders = window.renders
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    first = next(s for s in seen if s[0] >= seen[0][0] + 0.5)
    last = seen[-1]
    return last[1] - first[1], last[0] - first[0], renders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=MIN_ROUNDS,
                        help=f"rounds (at least {MIN_ROUNDS})")
    parser.add_argument("--session", choices=sorted(SESSION_KINDS), default=DEFAULT_SESSION)
    parser.add_argument("--warmup", type=int, default=WARMUP,
                        help="instructions the workload runs headless before measuring")
    parser.add_argument("--run", default=WORKLOAD,
                        help="command line every VM runs while measured (vms session)")
    args = parser.parse_args()

    session = SESSION_KINDS[args.session]()
    if args.session == "vms":
        for _ in range(400):  # boot to the prompts
            session.step_slice(500_000)
            if all(g.console.output.endswith(b"$ ") for g in session.guests):
                break
        for g in session.guests:
            session.submit(FeedConsole(g.name, args.run.encode() + b"\n"))
        start = session.snapshot().instructions
        while session.snapshot().instructions - start < args.warmup:
            session.step_slice(2_000_000)
    else:
        session.step_slice(5_000_000)  # past the start-up printing
    ratios: list[float] = []
    for r in range(max(args.rounds, MIN_ROUNDS)):
        n, t = headless(session, args.seconds, budget=400_000)
        alone = n / t
        print(f"round {r}: headless {alone / 1e6:7.1f} MIPS ({n:,} instructions in {t:.1f} s)")
        n, t, renders = with_app(session, args.seconds)
        ratios.append(n / t / alone)
        print(f"round {r}: with app {n / t / 1e6:7.1f} MIPS ({n:,} instructions in {t:.1f} s, "
              f"{renders / t:.1f} heat-map redraws/s), ratio {ratios[-1]:.2f}")
    session.close()
    what = f"--session {args.session}: {session.title}"
    if args.session == "vms":
        what += f", each running {args.run!r}"
    median = statistics.median(ratios)
    print(f"{what}; {len(ratios)} rounds of {args.seconds:g} s each way: ratio median "
          f"{median:.2f}, range {min(ratios):.2f}-{max(ratios):.2f}")
    print(f"ui_vs_headless: {median:.2f}")

if __name__ == "__main__":
    main()
