"""The worker thread: runs a Session in slices and hands the UI snapshots.

The superqt generator-worker idea: a yield point every slice. Between slices
the session drains its command queue, so pause, step and breakpoints are
answered within one slice. At most every SNAPSHOT_INTERVAL the worker copies
a Snapshot and emits `snapshot_ready`; while the UI has not taken the previous
one, a newer snapshot replaces it instead of queueing up (the newest wins).
The UI never calls the machine and never waits on a lock: it talks to the
worker only through `send()` (a thread-safe queue) and these signals.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
import weakref

from PySide6.QtCore import QObject, QThread, Signal

from disco_core.gdb.server import GdbServer
from disco_core.gdb.service import GdbService
from disco_core.session import Command, Event, Session, Snapshot

# s: at most 16 snapshots a second. The heat map draws one every 90 ms (~11/s), so
# each of its redraws has a fresh one; more would cost the worker for nothing.
SNAPSHOT_INTERVAL = 1 / 16
# Wall time one slice aims at. After each slice the worker needs the GIL back
# for a moment, and may wait for the UI thread to give it up: longer slices
# make that rarer; shorter ones answer a pause sooner.
SLICE_SECONDS = 0.025
# How long the UI thread may keep the GIL from a worker that wants it (Python's
# default is 5 ms, a fifth of a slice).
SWITCH_INTERVAL = 0.0005
MIN_BUDGET = 10_000
MAX_BUDGET = 4_000_000
IDLE_WAIT = 0.02  # s a paused worker blocks for a command before looking around again


# Every worker thread ever started, for leak checks in tests.
LIVE_THREADS: weakref.WeakSet[QThread] = weakref.WeakSet()


class _Thread(QThread):
    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine
        self.setObjectName("disco-engine")

    def run(self) -> None:
        self._engine.work()


class Engine(QObject):
    """Runs `session` on a worker thread (`start()`), or on the caller's (`work()`)."""

    snapshot_ready = Signal(object)  # Snapshot
    paused = Signal()
    resumed = Signal()
    events_ready = Signal(object)  # list[Event]
    errored = Signal(str)
    finished = Signal()

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.budget = 200_000
        self._stop = threading.Event()
        self._thread: _Thread | None = None
        self._in_flight = False  # a snapshot was emitted and the UI has not taken it yet
        self._pending: Snapshot | None = None  # the newest one not yet emitted
        self.latest: Snapshot | None = None  # the newest one the UI has taken
        self.gdb: GdbService | None = None  # GDB servers, serviced by the worker's slices
        # Connected first, so it runs before any other receiver of the signal.
        self.snapshot_ready.connect(self._taken)

    # ---- control (UI thread) ------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        if sys.getswitchinterval() > SWITCH_INTERVAL:
            sys.setswitchinterval(SWITCH_INTERVAL)
        # What exists now (the session: the monitor's tables, the kernel's symbols and
        # DWARF lines) lives as long as the window. Frozen, the cyclic GC stops walking
        # it: a full collection took 60-200 ms with VMs, holding the GIL all along.
        gc.collect()
        gc.freeze()
        self._thread = _Thread(self)
        LIVE_THREADS.add(self._thread)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the worker to finish and wait for it (one slice at most)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.wait(int(timeout * 1000))
            self._thread = None
        self.stop_gdb()

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def send(self, command: Command) -> None:
        """Queue a command for the session (thread-safe, never blocks)."""
        self.session.submit(command)

    def serve_gdb(self, vm: int, address: str | int = 0) -> GdbServer:
        """Serve VM `vm` (0-based; the machine itself in a session without VMs) to GDB
        on `address`. The worker answers its client between slices
        (Session.slice_hooks), so the UI thread never waits on it."""
        if self.gdb is None:
            self.gdb = GdbService(self.session)
        if self.session.monitor is None:
            return self.gdb.serve_machine(address)
        return self.gdb.serve_vm(vm, address)

    def stop_gdb(self) -> None:
        """Close the GDB servers (after the worker has stopped): the VMs run on."""
        if self.gdb is not None and not self.is_running:
            self.gdb.close()
            self.gdb = None

    def _taken(self, snapshot: Snapshot) -> None:
        self._in_flight = False
        self.latest = snapshot

    # ---- the loop (worker thread, or the main thread in tests) -----------

    def work(self, max_slices: int | None = None, process_events: bool = False) -> None:
        """The worker loop. `max_slices` bounds it and `process_events` delivers the
        queued signals between slices, for driving it on the main thread."""
        session = self.session
        last_snapshot = 0.0
        slices = 0
        dirty = True
        try:
            while not self._stop.is_set():
                if max_slices is not None and slices >= max_slices:
                    break
                slices += 1
                active = session.running and not session.halted and not session.idle
                if not active:
                    session.wait_for_command(IDLE_WAIT)
                t0 = time.monotonic()
                events = session.step_slice(self.budget if active or session.running else 0)
                took = time.monotonic() - t0
                if active and session.running:
                    self._adapt(took)
                if events:
                    self._report(events)
                now = time.monotonic()
                # A paused machine changes only through commands: no snapshots meanwhile.
                dirty = dirty or bool(events) or bool(session.commands_applied) or active
                if dirty and (events or now - last_snapshot >= SNAPSHOT_INTERVAL):
                    self._pending = session.snapshot()
                    last_snapshot = now
                    dirty = False
                self._flush()
                if process_events:
                    from PySide6.QtCore import QCoreApplication

                    QCoreApplication.processEvents()
            # The final state, so a viewer shows where the machine stopped.
            self._pending = session.snapshot()
            self._in_flight = False
            self._flush()
        except Exception as e:  # report, never die silently on the worker thread
            import traceback

            self.errored.emit(f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
        finally:
            self.finished.emit()

    def _adapt(self, took: float) -> None:
        # Keep a slice near SLICE_SECONDS of wall time whatever the machine's speed;
        # slice size never changes results (run(a); run(b) == run(a + b)).
        if took < SLICE_SECONDS / 2:
            self.budget = min(MAX_BUDGET, self.budget * 2)
        elif took > SLICE_SECONDS * 2:
            self.budget = max(MIN_BUDGET, self.budget // 2)

    def _report(self, events: list[Event]) -> None:
        self.events_ready.emit(events)
        for e in events:
            if e.kind == "paused" or (e.kind == "halted"):
                self.paused.emit()
            elif e.kind == "resumed":
                self.resumed.emit()
            elif e.kind == "error":
                self.errored.emit(e.message)

    def _flush(self) -> None:
        if self._pending is not None and not self._in_flight:
            snapshot, self._pending = self._pending, None
            self._in_flight = True
            self.snapshot_ready.emit(snapshot)
