"""The recorder: a session observer that writes every outside input and periodic checkpoints.

What enters a session from outside enters between runs of its target, so the
recording is the exact sequence of those runs (budget, what they executed, how
they ended) and of the commands that change the guests (console input,
single steps, timing, VM stop and restart, the monitor's trace), each with the
point (machine instructions, cycles) at which it was applied. Replaying the
same sequence on the same build from the same checkpoint gives the same
machine, bit for bit. Host time decides only where checkpoints fall, never
what the guests see.
"""

from __future__ import annotations

import dataclasses
import hashlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from disco_core.record import checkpoint as ck
from disco_core.record.format import (
    CKPT,
    END,
    FORMAT_VERSION,
    HEAD,
    OPS,
    ChunkWriter,
    RecordingError,
    encode,
)
from disco_core.session import GUEST_COMMANDS, Command, RunResult, Session
from disco_core.session.factories import vms_session
from disco_core.session.vms import MonitorOptions

OPS_PER_CHUNK = 512  # operations buffered before an OPS chunk is written
CHECKPOINT_SECONDS = 0.3  # wall time run between checkpoints, at least
COST_SHARE = 0.1  # and at most this share of the wall time goes to taking them
DENSE_CHECKPOINTS = 1024  # after this many, the spacing doubles whenever their number does
KEYFRAME_EVERY = 16  # every 16th checkpoint holds every page; the others what changed
WRITE_BEHIND = 4  # chunks that may wait for the writer thread


@dataclass(frozen=True)
class RecordConfig:
    """The whole configuration of a recorded session: what `disco boot --vms` takes."""

    preset: str = "flash8"
    vms: int = 4
    vcpus: int = 1
    memory_mib: int | None = None
    numa_policy: str = "migrate_replicate"
    sharing: str = "disco"
    timing: bool | None = None  # None: the preset's
    asid_remap: bool = False  # the monitor's options (session/vms.MonitorOptions)
    costs: dict[str, int] | None = None  # the cost model's entries changed (costfile.py)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordConfig:
        from disco_core.monitor.costfile import check_costs

        fields = {f.name for f in dataclasses.fields(cls)}
        config = cls(**{k: v for k, v in data.items() if k in fields})
        if config.costs is not None:  # a recording's header is read back checked
            config = dataclasses.replace(
                config, costs=check_costs(config.costs, "the recording's cost table"))
        return config

    def options(self) -> MonitorOptions:
        from disco_core.monitor.costfile import cost_model

        return MonitorOptions(asid_remap=bool(self.asid_remap), costs=cost_model(self.costs))

    def session(self, base_image: Path) -> Session:
        s = vms_session(preset_name=self.preset, vms=self.vms, vcpus=self.vcpus,
                        memory_mib=self.memory_mib, numa_policy=self.numa_policy,
                        sharing=self.sharing, base_image=base_image, options=self.options())
        if self.timing is not None:
            s.machine.timing = self.timing
        return s


def new_session(config: RecordConfig) -> tuple[Session, Path]:
    """A session of `config` over the shared root image; (the session, the image)."""
    base = shared_root_image()
    return config.session(base), base


def shared_root_image() -> Path:
    """The root image every recorded session's disks copy on write, at one path.

    The disk cache keys sectors by their image's path, so that path is guest-visible
    state (a hit or a miss costs differently): a replay must see the path the
    recording saw. It is built once into the temporary directory, named by its
    content, and never written (the disks copy on write)."""
    import os
    import tempfile

    from disco_core.boot import root_image

    home = Path(tempfile.gettempdir()) / "disco-recordings"
    home.mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=home))
    try:
        built = root_image(scratch / "root.img")
        final = home / f"root-{file_hash(built)}.img"
        if not final.exists():
            os.replace(built, final)  # atomic: another process may be doing the same
    finally:
        for f in scratch.iterdir():
            f.unlink()
        scratch.rmdir()
    return final


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def command_to_json(c: Command) -> dict[str, Any]:
    return {"type": type(c).__name__, **dataclasses.asdict(c)}


def command_from_json(data: dict[str, Any]) -> Command:
    kinds = {k.__name__: k for k in GUEST_COMMANDS}
    kind = kinds[data["type"]]
    return kind(**{k: v for k, v in data.items() if k != "type"})


def point(session: Session) -> tuple[int, int]:
    """(machine instructions, cycles of the furthest CPU): where an input entered."""
    cpus = session.machine.cpus
    return sum(c.instructions for c in cpus), max(c.cycles for c in cpus)


class Recorder:
    """Watches `session` (as its observer) and writes the recording at `path`."""

    def __init__(self, session: Session, path: str | Path, config: RecordConfig,
                 base_image: Path, build: dict[str, str], *,
                 checkpoint_seconds: float = CHECKPOINT_SECONDS,
                 cost_share: float = COST_SHARE,
                 branched_from: dict[str, Any] | None = None) -> None:
        self.session = session
        self.path = Path(path)
        self.interval = checkpoint_seconds
        self.cost_share = cost_share
        self._writer = ChunkWriter(self.path)
        self._jobs: queue.Queue[Callable[[], object] | None] = queue.Queue(WRITE_BEHIND)
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="disco-recorder-writer",
                                        daemon=True)
        self._thread.start()
        self._ops: list[list[Any]] = []
        self.op_count = 0
        self.inputs = 0
        self.checkpoints = 0
        self._last_ckpt = time.monotonic()
        # wall seconds the last keyframe and the deltas since took (the spacing's cost)
        self._keyframe_cost: float | None = None
        self._costs: deque[float] = deque(maxlen=KEYFRAME_EVERY - 1)
        # the event log since the last keyframe's events began, as (events, their encoded
        # items): a keyframe's whole log is joined from these, not encoded again
        self._event_chunks: deque[tuple[int, bytes]] = deque()
        self._prev: tuple[np.ndarray, np.ndarray] | None = None  # indexes, hashes
        self._events_seq = 0  # the event log's sequence number at the last checkpoint
        self._encoded = ck.EncodeCache()
        self._consoles: list[bytes] = []  # each VM's console output at the last checkpoint
        self._closed = False
        self._writer.write(HEAD, encode({
            "format_version": FORMAT_VERSION, "build": build, "config": config.to_json(),
            "base_image": file_hash(base_image), "clock_hz": session.machine.config.clock_hz,
            "vms": [g.name for g in session.guests], "branched_from": branched_from}))
        self.checkpoint()
        session.observer = self

    # ---- the observer --------------------------------------------------------------------

    def ran(self, budget: int, result: RunResult) -> None:
        self._ops.append(["r", budget, result.executed, result.kind])
        self.op_count += 1

    def applying(self, command: Command) -> None:
        ins, cyc = point(self.session)
        self._ops.append(["c", ins, cyc, command_to_json(command)])
        self.op_count += 1
        self.inputs += 1

    def sliced(self) -> None:
        if len(self._ops) >= OPS_PER_CHUNK:
            self._flush_ops()
        if time.monotonic() - self._last_ckpt >= self._spacing():
            self.checkpoint()

    def _spacing(self) -> float:
        n = max(1, self.checkpoints // DENSE_CHECKPOINTS)
        base = max(self.interval, self.mean_cost() * (1 - self.cost_share) / self.cost_share)
        return base * (1 << (n.bit_length() - 1))

    def mean_cost(self) -> float:
        """The wall seconds a checkpoint costs, a keyframe's cycle averaged: the last
        keyframe and KEYFRAME_EVERY - 1 deltas as costly as the last ones. (A plain
        mean of the last few would jump after each keyframe, and the intervals with it:
        the long ones are what bounds a seek.)"""
        key = self._keyframe_cost or 0.0
        if not self._costs:
            return key / KEYFRAME_EVERY
        delta = sum(self._costs) / len(self._costs)
        return (key + (KEYFRAME_EVERY - 1) * delta) / KEYFRAME_EVERY

    # ---- writing ----------------------------------------------------------------------------

    def _flush_ops(self) -> None:
        if self._ops:
            data = encode(self._ops)
            self._later(lambda: self._writer.write(OPS, data))
            self._ops = []

    def checkpoint(self) -> None:
        """Write a checkpoint of the session now (between slices)."""
        t0 = time.monotonic()
        self._flush_ops()
        s = self.session
        keyframe = self.checkpoints % KEYFRAME_EVERY == 0 or self._prev is None
        state = s.state()
        m = s.machine
        state["cycles"] = max(c.cycles for c in m.cpus)
        state["machine_instructions"] = sum(c.instructions for c in m.cpus)
        snapshot = m.snapshot()
        mon = s.monitor
        monitor_bytes, events_bytes, digest = b"null", b"null", dict[str, int]()
        consoles_bytes = b"[]"
        if mon is not None:
            # the events since the last checkpoint only, in a section of their own, so
            # gathering them decodes nothing else; a keyframe's whole log is joined
            # from those already encoded
            whole = not self._event_chunks or mon.events.seq < self._events_seq
            monitor = mon.state(events_since=0 if whole else self._events_seq)
            self._events_seq = mon.events.seq
            events = monitor["events"]
            events_bytes = self._events_section(events["events"], keyframe, whole,
                                                int(events["capacity"]))
            monitor["events"] = {**events, "events": []}
            consoles_bytes = encode(self._console_deltas(monitor, keyframe))
            monitor_bytes, digest = ck.encode_monitor(monitor, self._encoded,
                                                      without_consoles=True)
        digest = {**ck.machine_parts(snapshot), **digest, **ck.session_parts(state)}
        head, pages, tail = ck.split_snapshot(snapshot)
        indexes = np.array(pages["index"], np.uint64)
        hashes = ck.page_hashes(pages["data"])
        if keyframe:
            changed = np.ones(len(indexes), bool)
        else:
            assert self._prev is not None
            pi, ph = self._prev
            where = np.minimum(np.searchsorted(pi, indexes), max(len(pi) - 1, 0))
            same = ((pi[where] == indexes) & (ph[where] == hashes).all(axis=1) if len(pi)
                    else np.zeros(len(indexes), bool))
            changed = ~same
        self._prev = (indexes, hashes)
        meta = {"index": self.checkpoints, "op": self.op_count, "keyframe": keyframe,
                "cycles": state["cycles"], "instructions": state["machine_instructions"],
                "digest": digest}
        parts = [
            ("meta", 1, encode(meta)), ("head", 1, head), ("tail", 1, tail),
            ("indexes", 1, indexes.tobytes()),
            ("changed", 1, indexes[changed].tobytes()),
            ("pages", 1, np.ascontiguousarray(pages["data"][changed]).tobytes()),
            ("monitor", 1, monitor_bytes), ("events", 1, events_bytes),
            ("consoles", 1, consoles_bytes),
            ("session", 1, encode(state))]
        # compressed and written by the writer thread (the sections are compressed
        # there, so the chunk is stored)
        self._later(lambda: self._writer.write(CKPT, ck.pack_sections(parts), level=0))
        self.checkpoints += 1
        self._last_ckpt = time.monotonic()
        if keyframe:
            self._keyframe_cost = self._last_ckpt - t0
        else:
            self._costs.append(self._last_ckpt - t0)

    def _events_section(self, new: list[Any], keyframe: bool, whole: bool,
                        capacity: int) -> bytes:
        """The events section: the events since the last checkpoint, or for a keyframe
        the whole log (the reader keeps its last `capacity`: a keyframe may hold a few
        more, from the oldest delta joined)."""
        data = encode(new)
        if whole:
            self._event_chunks.clear()
        if new:
            self._event_chunks.append((len(new), data[1:-1]))
        held = sum(n for n, _ in self._event_chunks)
        while self._event_chunks and held - self._event_chunks[0][0] >= capacity:
            held -= self._event_chunks.popleft()[0]
        if not keyframe or whole:
            return data
        return b"[" + b",".join(items for _n, items in self._event_chunks) + b"]"

    def _console_deltas(self, monitor: dict[str, Any], keyframe: bool) -> list[list[Any]]:
        """Per VM [start, bytes]: its console output is the previous checkpoint's cut at
        `start`, then `bytes` (a keyframe, or output that did not grow: start 0). The
        output only grows while a VM runs, so a checkpoint stores what it printed since
        the last one rather than all of it again."""
        out = []
        now = [bytes(vs["vm"]["console_out"]) for vs in monitor["vms"]]
        for i, text in enumerate(now):
            before = self._consoles[i] if not keyframe and i < len(self._consoles) else b""
            start = len(before) if before and text.startswith(before) else 0
            out.append([start, text[start:]])
        self._consoles = now
        return out

    # ---- the writer thread ------------------------------------------------------------------
    # Compressing a checkpoint's sections and writing chunks (zlib and file writes let
    # go of the GIL) run on a thread of their own while the session runs on; the chunks
    # go out in the order they were made, each whole and flushed, as before.

    def _drain(self) -> None:
        while (job := self._jobs.get()) is not None:
            if self._failed is None:
                try:
                    job()
                except BaseException as e:  # reported to the session's thread
                    self._failed = e

    def _later(self, job: Callable[[], object]) -> None:
        self._check()
        self._jobs.put(job)  # blocks when WRITE_BEHIND jobs wait: memory stays bounded

    def _check(self) -> None:
        if self._failed is not None:
            raise RecordingError(f"{self.path}: the recording could not be written "
                                 f"({self._failed})")

    def _stop(self) -> None:
        """The writer thread ends after the chunks queued before; the file is closed and
        the session no longer watched (also when writing failed)."""
        self._jobs.put(None)  # never blocks for long: the thread drains even after a failure
        self._thread.join()
        self._writer.close()
        if self.session.observer is self:
            self.session.observer = None

    def flush(self) -> None:
        """Wait until every chunk made so far is in the file (from any thread)."""
        if self._closed:  # everything was written when it closed
            self._check()
            return
        done = threading.Event()
        self._later(done.set)
        # a close on another thread may stop the writer before it reaches the event
        while not done.wait(0.05):
            if not self._thread.is_alive():
                break
        self._check()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def size(self) -> int:
        return self._writer.size

    def close(self) -> None:
        """A last checkpoint, then the END chunk; the session is no longer watched.
        A chunk that could not be written raises RecordingError (the file then ends
        where a killed writer's would)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.checkpoint()
            ins, cyc = point(self.session)
            end = encode({"ops": self.op_count, "instructions": ins, "cycles": cyc,
                          "inputs": self.inputs, "checkpoints": self.checkpoints})
            self._later(lambda: self._writer.write(END, end))
        finally:
            self._stop()
        self._check()

    def abandon(self) -> None:
        """Stop writing without an END chunk (what a killed writer leaves); a write
        that failed is not reported again."""
        if self._closed:
            return
        self._closed = True
        self._stop()
