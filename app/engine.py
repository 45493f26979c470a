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
import queue
import sys
import threading
import time
import weakref
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from disco_core.gdb.server import GdbServer
from disco_core.gdb.service import GdbService
from disco_core.record import RecordingError
from disco_core.session import (
    GUEST_COMMANDS,
    AddBreakpoint,
    AddWatchpoint,
    Command,
    Event,
    Focus,
    Pause,
    RemoveBreakpoint,
    RemoveWatchpoint,
    Resume,
    Session,
    Snapshot,
    Step,
)

from .history import History

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
    # The history (app/history.py): emitted before the snapshot of the point concerned.
    seeked = Signal(object)  # the views now show the past, at this cycle (an int; >2**31)
    went_live = Signal()  # the views show the present again
    saved = Signal(str)  # File > Save recording...: the file written

    def __init__(self, session: Session, parent: QObject | None = None,
                 history: History | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.history = history
        # Seek, reverse, live and save requests for the worker, and the commands the UI
        # sends while the views show the past (the replay decides what they mean then).
        self._control: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._inbox: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._past = False
        self._mode = threading.Lock()
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
        """Queue a command for the session (thread-safe, never blocks). While the views
        show the past it goes to the worker's replay instead (see _past_command)."""
        with self._mode:
            if self._past:
                self._inbox.put(command)
                return
            self.session.submit(command)

    def request(self, what: str, arg: Any = None) -> None:
        """Ask the worker to move through the history (never blocks): `seek` (a cycle),
        `seek_point` ((op, offset): exactly there), `live`, `reverse` ((how, target):
        how is continue, into, over or out), `save` (a path)."""
        self._control.put((what, arg))

    @property
    def in_past(self) -> bool:
        return self._past

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
        history = self.history
        try:
            if history is not None and history.recorder is None and not history.past:
                history.start()  # on this thread: the first checkpoint, or the replay
                if history.past:  # an opened recording, at its start
                    self._enter_past(history.state().position)
                    self._pending = session.snapshot()
                    self._flush()
            while not self._stop.is_set():
                if max_slices is not None and slices >= max_slices:
                    break
                slices += 1
                if self._serve_history():
                    self._pending = session.snapshot()
                    last_snapshot = time.monotonic()
                    self._in_flight = False
                    self._flush()
                    continue
                if self._past:
                    time.sleep(IDLE_WAIT)
                    if process_events:
                        from PySide6.QtCore import QCoreApplication

                        QCoreApplication.processEvents()
                    continue
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
                if history is not None:
                    self._mark_stops(events)
                    history.sliced()
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
            if history is not None and max_slices is None:
                history.close()
            self.finished.emit()

    # ---- the history (worker thread) ---------------------------------------------

    def _set_past(self, past: bool) -> None:
        with self._mode:
            self._past = past

    def _mark_stops(self, events: list[Event]) -> None:
        from .history import Marker

        assert self.history is not None
        for e in events:
            if e.kind in ("breakpoint", "watchpoint"):
                cycles = max(c.cycles for c in self.session.machine.cpus)
                self.history.mark(Marker(cycles, "breakpoint", e.message))

    def _serve_history(self) -> bool:
        """Answer one seek/reverse/live/save request, or one command sent while in the
        past; True if the views' point may have moved (a snapshot is due)."""
        h = self.history
        try:
            what, arg = self._control.get_nowait()
        except queue.Empty:
            if not self._past:
                return False
            try:
                command = self._inbox.get_nowait()
            except queue.Empty:
                return False
            return self._past_command(command)
        if h is None or not h.state().enabled:
            reason = h.state().reason if h is not None else "this session keeps no history"
            self._report([Event("error", reason)])
            return False
        h._set(busy=what)  # noqa: SLF001 (the engine drives the history)
        try:
            return self._history_request(h, what, arg)
        except (RecordingError, ValueError, IndexError) as e:
            self._report([Event("error", str(e))])
            return True
        finally:
            h._set(busy="")  # noqa: SLF001

    def _history_request(self, h: History, what: str, arg: Any) -> bool:
        if what == "save":
            path = h.save(arg)
            self.saved.emit(str(path))
            return False
        if what == "live":
            self._live(h, resume=False)
            return True
        if what == "seek":
            cycle = h.seek(int(arg))
            if h.past:
                self._enter_past(cycle)
            return True
        if what == "seek_point":
            op, offset = arg
            self._enter_past(h.seek_point(int(op), int(offset)))
            return True
        if what == "reverse":
            how, target = arg
            if how == "continue":
                hit = h.reverse_continue()
                self._enter_past(h.state().position)
                name = self.session.targets[hit.target] if hit is not None else ""
                self._report([Event("breakpoint", f"reverse continue: {name} at "
                                    f"{self.session.describe(hit.pc)}, cycle {hit.cycles:,}",
                                    hit.target, hit.pc) if hit is not None else
                              Event("step", "reverse continue: no earlier hit; at the "
                                    "start of the history")])
            else:
                h.reverse_step(int(target), how)
                self._enter_past(h.state().position)
                self._report([Event("step", f"reverse step {how}: "
                                    f"{self.session.targets[int(target)]} at "
                                    f"{self._pc_text(int(target))}", int(target))])
            return True
        raise ValueError(f"unknown history request {what!r}")

    def _pc_text(self, target: int) -> str:
        pc = int(self.session.target.registers(target).pc)
        return self.session.describe(pc)

    def _enter_past(self, cycle: int) -> None:
        self._set_past(True)
        self.seeked.emit(cycle)
        self.paused.emit()

    def _live(self, h: History, resume: bool) -> None:
        if h.go_live():
            self._set_past(False)
            self.went_live.emit()
            if resume:
                self.session.submit(Resume())
        elif resume:
            h.branch()  # the end of an opened recording: an alternate future from here
            self._set_past(False)
            self.went_live.emit()
            self.session.submit(Resume())
            self._report([Event("resumed", "an alternate future: recording afresh from "
                                f"the end of {h.opened.path.name if h.opened else 'it'}")])

    def _past_command(self, c: Command) -> bool:
        """A command the UI sent while the views show the past (the replay is read-only:
        docs/recording-format.md). Continue and Step replay the recorded future."""
        h = self.history
        assert h is not None
        s = self.session
        try:
            if isinstance(c, Resume):
                hit = h.forward_continue()
                if hit is None and h.at_end():
                    self._live(h, resume=True)
                else:
                    self._enter_past(h.state().position)
                    if hit is not None:
                        self._report([Event("breakpoint", f"{s.targets[hit.target]} hit "
                                            f"breakpoint at {s.describe(hit.pc)} (replayed, "
                                            f"cycle {hit.cycles:,})", hit.target, hit.pc)])
                return True
            if isinstance(c, Step):
                h.forward_step(c.cpu)
                self._enter_past(h.state().position)
                self._report([Event("step", f"{s.targets[c.cpu]} stepped to "
                                    f"{self._pc_text(c.cpu)} (replayed)", c.cpu)])
                return True
            if isinstance(c, Pause):
                return False
            if isinstance(c, AddBreakpoint | RemoveBreakpoint | AddWatchpoint
                          | RemoveWatchpoint | Focus):
                s.submit(c)
                events = s.step_slice(0)
                s.running = False
                if events:
                    self._report(events)
                return True
            what = "typing into a console" if type(c).__name__ == "FeedConsole" else \
                f"{type(c).__name__}"
            if isinstance(c, GUEST_COMMANDS):
                raise ValueError(f"viewing the past: {what} is refused (a replay is "
                                 "read-only); go back to the present (Live) to change "
                                 "the guests")
            raise ValueError(f"viewing the past: {what} works in the present only; "
                             "use Step into, Continue or the reverse commands here, or "
                             "go back to the present (Live)")
        except (RecordingError, ValueError, IndexError) as e:
            self._report([Event("error", str(e))])
            return True

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
