"""The app's history: every session of VMs records into a file, like a video recorder.

The engine's worker thread owns everything here that touches the session: it
records with `disco_core.record`'s Recorder into a file in the cache directory
(the recorder thins its checkpoints as the history grows; past `max_bytes` the
history starts a new file at the present and the oldest part is dropped, so
disk and memory stay bounded) and, to show the past, replays that file *in the
same session*: a `Replayer` standing at the present, then `Reverse` to seek,
step and continue backwards or forwards through what was recorded. Going back
to the present restores the checkpoint taken when the present was left, and the
recorder goes on from there.

The rule for the past (docs/recording-format.md, the replay layer's rule): a
replay is read-only. Typing into a console or stopping a VM in the past is
refused with a message; Continue and Step replay the recorded future (stopping
at breakpoints) and, at the end of this session's own history, the session is
live again and runs on. At the end of a recording opened from a file, Continue
starts an alternate future: a new history recording from that point, the file
left as it is.

Thread rules: `state()`, `range()`, `markers()` and `recording_path()` may be
called from any thread (they read a copy kept under a lock); everything else
runs on the worker thread (the engine's control queue calls it).
"""

from __future__ import annotations

import shutil
import struct
import tempfile
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from disco_core.record import RecordingError
from disco_core.record.format import END, encode, read_chunks
from disco_core.record.recorder import RecordConfig, Recorder, command_from_json, point
from disco_core.record.replay import Recording, Replayer
from disco_core.record.reverse import BreakSpec, Hit, Point, Reverse, WatchSpec
from disco_core.session import (
    Command,
    FeedConsole,
    RestartVm,
    Session,
    StopVm,
    VmsCoreSpec,
)

DEFAULT_MAX_BYTES = 512 << 20  # a history file this large starts over at the present
MIGRATION_BUCKET = 1 / 100  # simulated s: migrations and replications counted per bucket
MIGRATION_BURST = 8  # ... and a bucket with this many is a burst
MAX_MARKERS = 2000  # the newest are kept


@dataclass(frozen=True)
class Marker:
    """Something worth finding on the timeline: at which cycle, what kind, a text."""

    cycle: int
    kind: str  # "input", "breakpoint", "panic", "restart", "migrations", "reverse"
    text: str


@dataclass(frozen=True)
class HistoryState:
    """What the timeline draws (a copy, safe on any thread)."""

    enabled: bool
    reason: str  # why not, when not enabled
    first: int = 0  # cycles: the recorded range
    last: int = 0
    position: int = 0  # where the views stand (the present while live)
    past: bool = False  # the views show the past (the replay)
    busy: str = ""  # a seek or a reverse command is under way: what
    opened: str = ""  # the file of an opened recording
    markers: tuple[Marker, ...] = field(default_factory=tuple)
    clock_hz: int = 1


def record_config(session: Session) -> RecordConfig | None:
    """The RecordConfig of a session of VMs (None: a session the recorder cannot take)."""
    spec = getattr(session.rebuild, "__self__", None)
    if not isinstance(spec, VmsCoreSpec):
        return None
    mib = None if spec.pages is None else spec.pages * 4096 >> 20
    return RecordConfig(preset=spec.preset_name, vms=spec.vms, vcpus=spec.vcpus,
                        memory_mib=mib, numa_policy=spec.numa_policy, sharing=spec.sharing,
                        timing=bool(session.machine.timing))


def base_image_of(session: Session) -> Path:
    spec = getattr(session.rebuild, "__self__", None)
    assert isinstance(spec, VmsCoreSpec)
    return spec.base


class _MarkingRecorder(Recorder):
    """The recorder, also noting console input and VM stops/restarts as markers."""

    def __init__(self, *args: Any, mark: Callable[[Marker], None], **kw: Any) -> None:
        self._mark = mark
        super().__init__(*args, **kw)

    def applying(self, command: Command) -> None:
        super().applying(command)
        marker = marker_of(command, point(self.session)[1])
        if marker is not None:
            self._mark(marker)


def marker_of(command: Command, cycle: int) -> Marker | None:
    if isinstance(command, FeedConsole):
        text = command.data.decode("utf-8", "replace") if isinstance(command.data, bytes) \
            else str(command.data)
        return Marker(cycle, "input", f"{command.guest}: {text}")
    if isinstance(command, StopVm):
        return Marker(cycle, "panic", f"{command.vm} stopped: {command.reason}")
    if isinstance(command, RestartVm):
        return Marker(cycle, "restart", f"{command.vm} restarted")
    return None


class _StandingReplayer(Replayer):
    """A Replayer over the session as it stands at the end of the recording (just
    checkpointed there): nothing is restored until it moves."""

    def __init__(self, recording: Recording, session: Session, base: Path) -> None:
        self._standing = True
        super().__init__(recording, session, base)

    def _restore(self, k: int) -> None:
        if self._standing:
            self._standing = False
            self.position = len(self.recording.ops)
            self._done = 0
            return
        super()._restore(k)


class History:
    """The session's recorded history and the replay that shows its past."""

    def __init__(self, session: Session, directory: str | Path | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES, opened: Recording | None = None) -> None:
        self.session = session
        self.max_bytes = max_bytes
        self.config = record_config(session)
        self._lock = threading.Lock()
        self._markers: list[Marker] = []
        self._own_dir = directory is None
        self.directory = Path(directory) if directory is not None else \
            Path(tempfile.mkdtemp(prefix="disco-history-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self._segment = 0
        self.recorder: Recorder | None = None
        self.replayer: Replayer | None = None
        self.reverse: Reverse | None = None
        self.opened = opened  # a recording opened from a file: replayed, read-only
        self._closed = False
        self._events_seq = 0
        self._buckets: dict[int, int] = {}
        clock = int(session.machine.config.clock_hz)
        reason = "" if self.config is not None else \
            "not recorded: only sessions of virtual machines are recorded"
        self._state = HistoryState(self.config is not None, reason, clock_hz=clock,
                                   opened=opened.path.name if opened is not None else "")

    # ---- any thread ------------------------------------------------------------------

    def state(self) -> HistoryState:
        with self._lock:
            return replace(self._state, markers=tuple(self._markers))

    def range(self) -> tuple[int, int]:
        """(first, last) cycle of the recorded history."""
        s = self.state()
        return s.first, s.last

    def markers(self) -> list[Marker]:
        with self._lock:
            return list(self._markers)

    def flush(self) -> None:
        """Every chunk the recorder has made, on disk: its writer thread writes them a
        few behind. Thread-safe; it waits for the writer, never for the simulation."""
        rec = self.recorder
        if rec is not None and not rec.closed:
            rec.flush()

    def recording_path(self) -> Path | None:
        """The file holding the recording so far: every complete chunk of it (open it
        with `Recording.open(path, partial=True)`); the recorder's writer thread may be
        a few chunks behind until `flush()`. An opened recording: its file."""
        if self.opened is not None and self.recorder is None:
            return self.opened.path
        return self.recorder.path if self.recorder is not None else None

    # ---- worker thread ------------------------------------------------------------------

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._state = replace(self._state, **changes)

    def mark(self, marker: Marker) -> None:
        with self._lock:
            last = self._markers[-1] if self._markers else None
            if marker.kind == "input" and last is not None and last.kind == "input" \
                    and not last.text.endswith("\n") \
                    and last.text.split(": ", 1)[0] == marker.text.split(": ", 1)[0]:
                # a console sends a key at a time: one marker per line typed
                typed = marker.text.split(": ", 1)[1]
                self._markers[-1] = Marker(last.cycle, "input", last.text + typed)
                return
            self._markers.append(marker)
            if len(self._markers) > MAX_MARKERS:
                del self._markers[: len(self._markers) - MAX_MARKERS]

    def start(self) -> None:
        """Begin: record the live session, or stand at the start of an opened recording."""
        if self.config is None:
            return
        if self.opened is not None:
            rec = self.opened
            self.replayer = Replayer(rec, self.session, base_image_of(self.session))
            self.reverse = Reverse(self.replayer)
            self.session.running = False
            for op in rec.ops:
                if op[0] == "c":
                    m = marker_of(command_from_json(op[3]), int(op[2]))
                    if m is not None:
                        self.mark(m)
            self._set(first=rec.checkpoints[0].cycles, last=self.replayer.end_cycles,
                      position=self.replayer.cycles, past=True)
            return
        self._begin_segment()

    def _begin_segment(self, branched_from: dict[str, Any] | None = None) -> None:
        from disco_core.record.format import build_identity

        assert self.config is not None
        self._segment += 1
        path = self.directory / f"history-{self._segment}.rec"
        self.recorder = _MarkingRecorder(
            self.session, path, self.config, base_image_of(self.session), build_identity(),
            branched_from=branched_from, mark=self.mark)
        now = point(self.session)[1]
        if self.session.monitor is not None:
            self._events_seq = self.session.monitor.events.seq
        with self._lock:
            self._markers = [m for m in self._markers if m.cycle >= now]
        self._set(first=now, last=now, position=now, past=False)

    @property
    def past(self) -> bool:
        return self.reverse is not None

    def sliced(self) -> None:
        """After a live slice: the range, markers from the monitor's log, the size cap."""
        if self.recorder is None or self.past:
            return
        now = point(self.session)[1]
        self._watch_events()
        self._set(last=now, position=now)
        if self.recorder.size > self.max_bytes:
            old = self.recorder
            old.close()
            self._begin_segment()
            old.path.unlink(missing_ok=True)

    def _watch_events(self) -> None:
        mon = self.session.monitor
        if mon is None or mon.events.seq == self._events_seq:
            return
        bucket = max(1, int(self._state.clock_hz * MIGRATION_BUCKET))
        for e in mon.events.since(self._events_seq):
            if e.kind == "vm_stop":
                self.mark(Marker(e.cycle, "panic", f"{self._vm_name(e.vm)} stopped: "
                                 f"{e.data.get('reason', '')}"))
            elif e.kind == "vm_start" and e.cycle > 0:
                self.mark(Marker(e.cycle, "restart", f"{self._vm_name(e.vm)} started"))
            elif e.kind in ("migrate", "replicate"):
                b = e.cycle // bucket
                n = self._buckets.get(b, 0) + 1
                self._buckets[b] = n
                if n == MIGRATION_BURST:
                    self.mark(Marker(b * bucket, "migrations",
                                     "a burst of page migrations and replications"))
        self._events_seq = mon.events.seq
        if len(self._buckets) > 4 * MAX_MARKERS:
            self._buckets = dict(list(self._buckets.items())[-MAX_MARKERS:])

    def _vm_name(self, vm: int | None) -> str:
        guests = self.session.guests
        return guests[vm].name if vm is not None and 0 <= vm < len(guests) else "a VM"

    def _leave_present(self) -> Reverse:
        """Stand in the replay (the views see the past from here on)."""
        if self.reverse is not None:
            return self.reverse
        rec = self.recorder
        if rec is None:
            raise RecordingError(self._state.reason or "nothing is recorded")
        s = self.session
        s.running = False  # the present waits, paused, for the user to come back
        rec.checkpoint()  # the present, exactly: going back restores it
        rec.flush()  # on disk before the replay reads the file (the writer thread)
        s.observer = None
        recording = Recording.open(rec.path, partial=True)
        self.replayer = _StandingReplayer(recording, s, base_image_of(s))
        self.reverse = Reverse(self.replayer)
        self._set(past=True)
        return self.reverse

    def _arm(self, rev: Reverse) -> None:
        """The reverse commands stop at the debugger's breakpoints and watchpoints as
        they are now (the session's table)."""
        s = self.session
        rev._breaks, rev._watches, rev._keys = [], [], set()  # noqa: SLF001 (rebuilt)
        for address, cpu, vm in list(s._breakpoints):  # noqa: SLF001
            rev.add_breakpoint(BreakSpec(address, cpu, vm))
        for address, length, access, cpu, vm in list(s._watchpoints):  # noqa: SLF001
            rev.add_watchpoint(WatchSpec(address, length, access, cpu, vm))

    def _stood(self) -> int:
        s = self.session
        s.running = False  # a checkpoint of a running session says running
        cycle = point(s)[1]
        self._set(position=cycle)
        return cycle

    def seek(self, cycle: int) -> int:
        """Stand at the first operation boundary at or after `cycle` (within the range);
        where it stood. At or beyond the present's cycle: the present."""
        first, last = self.range()
        cycle = max(first, min(cycle, last))
        if not self.past and cycle >= last:
            return last
        rev = self._leave_present()
        rev.settle()
        assert self.replayer is not None
        self.replayer.seek(cycle)
        return self._stood()

    def seek_point(self, op: int, offset: int) -> int:
        """Stand exactly at a point of the history (`offset` machine instructions into
        operation `op`, as the searches report them: a write found by "who wrote
        this"); the cycle it stands at."""
        rev = self._leave_present()
        rev.settle()
        rev.seek_point(Point(int(op), int(offset)))
        return self._stood()

    def go_live(self) -> bool:
        """Back to the present (this session's own history); False for an opened
        recording (its end is where it stands then)."""
        if self.reverse is None or self.replayer is None:
            return True
        self.reverse.settle()
        rp = self.replayer
        rp.seek_op(len(rp.recording.ops))
        if self.recorder is None:
            self._stood()
            return False
        self.session.running = False
        self.session.observer = self.recorder
        self.reverse = None
        self.replayer = None
        now = point(self.session)[1]
        self._set(past=False, position=now, last=now)
        return True

    def branch(self) -> None:
        """At the end of an opened recording: an alternate future, recorded afresh."""
        assert self.replayer is not None and self.opened is not None
        rp = self.replayer
        branched = {"file": rp.recording.path.name, "op": rp.position, "cycles": rp.cycles}
        self.reverse = None
        self.replayer = None
        self._begin_segment(branched_from=branched)
        self._set(opened="")

    # ---- reverse and replay-exact forward ----------------------------------------------

    def reverse_continue(self) -> Hit | None:
        rev = self._leave_present()
        self._arm(rev)
        hit = rev.reverse_continue()
        self._note_hit(hit, "reverse")
        self._stood()
        return hit

    def forward_continue(self) -> Hit | None:
        """In the past: on to the next hit of the recorded future, or its end."""
        rev = self._leave_present()
        self._arm(rev)
        hit = rev.forward_continue()
        self._note_hit(hit, "breakpoint")
        self._stood()
        return hit

    def reverse_step(self, target: int, how: str = "into") -> None:
        """Back one instruction of `target`, over a call, or out to the call of the
        current function. The debugger's breakpoints do not stop these (a step out
        would otherwise stop at once at a breakpoint standing here)."""
        rev = self._leave_present()
        rev._breaks, rev._watches, rev._keys = [], [], set()  # noqa: SLF001
        if how == "over":
            rev.reverse_step_over(target)
        elif how == "out":
            rev.reverse_step_out(target)
        else:
            rev.reverse_step(target)
        self._stood()

    def forward_step(self, target: int) -> None:
        rev = self._leave_present()
        rev.forward_step(target)
        self._stood()

    def at_end(self) -> bool:
        rev = self.reverse
        return rev is None or rev.point >= rev.end

    def _note_hit(self, hit: Hit | None, kind: str) -> None:
        if hit is None:
            return
        s = self.session
        name = s.targets[hit.target] if 0 <= hit.target < len(s.targets) else "?"
        self.mark(Marker(hit.cycles, kind, f"{name} at {s.describe(hit.pc)}"))

    # ---- files ----------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """A complete recording of the history so far at `path` (the history goes on)."""
        src = self.recording_path()
        if src is None:
            raise RecordingError(self._state.reason or "nothing is recorded")
        dest = Path(path)
        if self.recorder is not None and not self.past:
            self.recorder.checkpoint()  # the file then ends exactly at the present
        if self.recorder is not None:
            self.recorder.flush()  # what was queued for the writer thread, on disk
        if self.recorder is None:
            shutil.copyfile(src, dest)
            return dest
        found = read_chunks(src)
        last = found.chunks[-1]
        end = last.offset + 8 + len(last.body) + 4  # kind, length, payload, CRC
        recording = Recording.open(src, partial=True)
        final = recording.checkpoints[-1]
        summary = encode({"ops": final.op, "instructions": final.instructions,
                          "cycles": final.cycles,
                          "inputs": sum(1 for op in recording.ops[: final.op] if op[0] == "c"),
                          "checkpoints": len(recording.checkpoints)})
        tmp = dest.with_name(dest.name + ".part")
        with open(src, "rb") as f:
            data = f.read(end)
        tmp.write_bytes(data + end_chunk(summary))
        tmp.replace(dest)
        return dest

    def close(self) -> None:
        """The worker is done: stop recording and drop the history's files (twice is
        once)."""
        if self._closed:
            return
        self._closed = True
        if self.recorder is not None:
            self.recorder.abandon()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)


def open_recording(path: str | Path,
                   progress: Callable[[str], None] | None = None) -> tuple[Session, Recording]:
    """File > Open recording...: the file read and checked, and a fresh session of its
    configuration to replay it in (History(session, opened=recording) does)."""
    from disco_core.record.recorder import new_session

    recording = Recording.open(path, partial=True)
    recording.check_build()
    if progress is not None:
        progress(f"building the session {Path(path).name} recorded")
    session, _base = new_session(recording.config)
    return session, recording


def end_chunk(payload: bytes) -> bytes:
    """An END chunk as the recording format lays it out (docs/recording-format.md)."""
    body = zlib.compress(payload, 1)
    head = struct.pack("<4sI", END, len(body))
    return head + body + struct.pack("<I", zlib.crc32(body, zlib.crc32(head)))
