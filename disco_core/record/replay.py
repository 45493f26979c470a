"""Replay: a recording read and checked, and a session driven through it bit for bit.

`Recording.open` reads every complete chunk and refuses a damaged, foreign or
wrong-version file with a RecordingError that names the problem. A `Replayer`
builds the recorded configuration, restores the first checkpoint and applies
the recorded operations in order; `seek` restores the nearest earlier
checkpoint and runs forward, `verify` compares every checkpoint's digest with
the replayed state and names what differs at the first mismatch. A replay is
read-only: a change to the guests is refused unless `branch` started an
alternate future (a new recording from the current point).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from disco_core.errors import DiscoError
from disco_core.record import checkpoint as ck
from disco_core.record.format import (
    CKPT,
    END,
    HEAD,
    OPS,
    Chunk,
    RecordingError,
    build_identity,
    decode,
    read_chunks,
)
from disco_core.record.recorder import (
    RecordConfig,
    Recorder,
    command_from_json,
    file_hash,
    new_session,
    point,
)
from disco_core.session import GUEST_COMMANDS, Command, RunResult, Session

DEBUG_STOPS = ("breakpoint", "watchpoint", "step")


@dataclass(frozen=True)
class CheckpointEntry:
    """Where a checkpoint is and what it says of itself."""

    chunk: Chunk
    index: int
    op: int  # how many operations came before it
    cycles: int
    instructions: int
    keyframe: bool
    digest: dict[str, int]


class Divergence(RecordingError):
    """The replay left the recorded run: between which cycles, and what differed."""


class Recording:
    """A recording file, read and checked (nothing is run)."""

    def __init__(self, path: Path, header: dict[str, Any], ops: list[list[Any]],
                 checkpoints: list[CheckpointEntry], end: dict[str, Any] | None,
                 size: int, cut_at: int | None) -> None:
        self.path = path
        self.header = header
        self.ops = ops
        self.checkpoints = checkpoints
        self.end = end
        self.size = size
        self.cut_at = cut_at
        self._keyframe: tuple[int, dict[str, bytes]] | None = None
        self._keyframe_events: tuple[int, list[Any]] | None = None

    @property
    def complete(self) -> bool:
        return self.end is not None

    @property
    def config(self) -> RecordConfig:
        return RecordConfig.from_json(self.header["config"])

    @classmethod
    def open(cls, path: str | Path, partial: bool = False) -> Recording:
        """Read `path`. A file cut short (no END chunk) is refused unless `partial`,
        which keeps what its complete chunks hold."""
        p = Path(path)
        found = read_chunks(p)
        chunks = found.chunks
        if not chunks or chunks[0].kind != HEAD:
            raise RecordingError(f"{p}: truncated (it ends before its header is complete)")
        header = cls._plain(chunks[0], p)
        ops: list[list[Any]] = []
        entries: list[CheckpointEntry] = []
        end: dict[str, Any] | None = None
        for c in chunks[1:]:
            if end is not None:
                raise RecordingError(f"{p}: corrupt at byte {c.offset} (a chunk after END)")
            if c.kind == OPS:
                ops += cls._plain(c, p)
            elif c.kind == CKPT:
                meta = _checkpoint_meta(c, p)
                entries.append(CheckpointEntry(c, int(meta["index"]), int(meta["op"]),
                                               int(meta["cycles"]), int(meta["instructions"]),
                                               bool(meta["keyframe"]), meta["digest"]))
            elif c.kind == END:
                end = cls._plain(c, p)
            else:
                raise RecordingError(f"{p}: corrupt at byte {c.offset} (a second header)")
        if not entries:
            raise RecordingError(f"{p}: truncated (no complete checkpoint)")
        if end is None and not partial:
            where = found.cut_at if found.cut_at is not None else found.size
            raise RecordingError(f"{p}: truncated at byte {where} (no END chunk; "
                                 "--partial replays up to its last complete chunk)")
        # what lies after the last OPS chunk's operations cannot be replayed
        entries = [e for e in entries if e.op <= len(ops)]
        return cls(p, header, ops, entries, end, found.size, found.cut_at)

    @staticmethod
    def _plain(c: Chunk, p: Path) -> Any:
        try:
            return decode(c.payload())
        except ValueError:
            raise RecordingError(f"{p}: corrupt at byte {c.offset} (its "
                                 f"{c.kind.decode().strip()} chunk is not plain data)") from None

    def check_build(self) -> None:
        """Refuse a recording made by another build of the core or the guest kernel."""
        mine = build_identity()
        theirs = self.header.get("build", {})
        for part in ("core", "kernel"):
            if theirs.get(part) != mine[part]:
                what = "C core" if part == "core" else "guest kernel"
                raise RecordingError(f"{self.path}: recorded by another build (its {what} is "
                                     f"{theirs.get(part)}, this one's is {mine[part]}); replay "
                                     "it with the workbench that made it")

    def load_checkpoint(self, k: int) -> ck.Checkpoint:
        """Checkpoint k, its pages and events gathered from the last keyframe up to it."""
        start = k
        while not self.checkpoints[start].keyframe:
            start -= 1
        changed: list[np.ndarray] = []
        data: list[np.ndarray] = []
        events: list[Any] = []
        consoles: list[bytes] | None = None
        for e in self.checkpoints[start : k + 1]:
            parts = self._cached(e)
            idx = np.frombuffer(parts["changed"], np.uint64)
            rows = np.frombuffer(parts["pages"], np.uint8)
            if rows.size != idx.size * 4096:
                raise RecordingError(f"{self.path}: checkpoint {e.index} is damaged (its "
                                     "pages do not match their indexes)")
            changed.append(idx)
            data.append(rows.reshape(-1, 4096))
            events += self._events(e, parts)
            consoles = self._consoles(e, parts, consoles)
        last = self._cached(self.checkpoints[k])
        indexes = np.frombuffer(last["indexes"], np.uint64)
        all_idx = np.concatenate(changed)
        all_rows = np.concatenate(data)
        # the newest copy of each page: the last occurrence of its index
        rev_unique, rev_first = np.unique(all_idx[::-1], return_index=True)
        newest = len(all_idx) - 1 - rev_first
        where = np.searchsorted(rev_unique, indexes)
        if (where >= len(rev_unique)).any() or (rev_unique[np.minimum(
                where, len(rev_unique) - 1)] != indexes).any():
            raise RecordingError(f"{self.path}: checkpoint {k} is damaged (a page of it is "
                                 "in none of the checkpoints before)")
        blob = ck.join_snapshot(last["head"], indexes, all_rows[newest[where]], last["tail"])
        monitor = self._monitor(self.checkpoints[k], last)
        if monitor is not None:
            log = monitor["events"]
            log["events"] = events[-int(log["capacity"]):]
            if consoles is not None:  # format 2: the consoles' output kept incrementally
                if len(consoles) != len(monitor["vms"]):
                    raise RecordingError(f"{self.path}: checkpoint {k} is damaged (its "
                                         "consoles do not match its VMs)")
                for vs, text in zip(monitor["vms"], consoles, strict=True):
                    vs["vm"]["console_out"] = text
        try:
            return ck.Checkpoint(blob, monitor, decode(last["session"]))
        except ValueError:
            raise RecordingError(f"{self.path}: checkpoint {k} is damaged") from None

    def held_bytes(self) -> int:
        """What this recording holds in memory: its chunks (compressed) and the
        decompressed keyframe."""
        chunks = sum(len(e.chunk.body) for e in self.checkpoints)
        frame = sum(len(v) for v in self._keyframe[1].values()) if self._keyframe else 0
        return chunks + frame + len(self.ops) * 64  # ~64 bytes an operation as Python lists

    def _cached(self, e: CheckpointEntry) -> dict[str, bytes]:
        """A checkpoint's sections; the last keyframe's stay decompressed (seeks near
        one another share it)."""
        if not e.keyframe:
            return self._sections(e)
        if self._keyframe is None or self._keyframe[0] != e.index:
            self._keyframe = (e.index, self._sections(e))
        return self._keyframe[1]

    def _events(self, e: CheckpointEntry, parts: dict[str, bytes]) -> list[Any]:
        """The events a checkpoint added to the log (a keyframe: the whole log); the last
        keyframe's stay decoded."""
        if e.keyframe and self._keyframe_events is not None \
                and self._keyframe_events[0] == e.index:
            return list(self._keyframe_events[1])
        try:
            events = decode(parts["events"])
        except (ValueError, KeyError):
            raise RecordingError(f"{self.path}: checkpoint {e.index} is damaged") from None
        if not isinstance(events, list):
            raise RecordingError(f"{self.path}: checkpoint {e.index} is damaged")
        if e.keyframe:
            self._keyframe_events = (e.index, events)
            return list(events)
        return events

    def _consoles(self, e: CheckpointEntry, parts: dict[str, bytes],
                  before: list[bytes] | None) -> list[bytes] | None:
        """Every VM's console output at checkpoint `e`, from the output `before` it (None:
        a recording of format 1, whose monitor section holds the whole output)."""
        if "consoles" not in parts:
            return None
        try:
            deltas = decode(parts["consoles"])
            out = []
            for i, (start, data) in enumerate(deltas):
                prev = before[i] if before is not None and i < len(before) else b""
                if not isinstance(data, bytes) or not 0 <= int(start) <= len(prev):
                    raise ValueError
                out.append(prev[: int(start)] + data)
        except (ValueError, TypeError):
            raise RecordingError(f"{self.path}: checkpoint {e.index} is damaged (its "
                                 "consoles section)") from None
        return out

    def _monitor(self, e: CheckpointEntry, parts: dict[str, bytes]) -> Any:
        try:
            return decode(parts["monitor"])
        except (ValueError, KeyError):
            raise RecordingError(f"{self.path}: checkpoint {e.index} is damaged") from None

    def _sections(self, e: CheckpointEntry) -> dict[str, bytes]:
        try:
            parts = ck.unpack_sections(e.chunk.payload())
        except DiscoError as err:
            raise RecordingError(f"{self.path}: checkpoint {e.index}: {err}") from None
        return {name: data for name, (_v, data) in parts.items()}

    def info(self) -> dict[str, Any]:
        """What `disco replay --info` prints."""
        last = self.checkpoints[-1]
        inputs = [op for op in self.ops if op[0] == "c"]
        clock = int(self.header["clock_hz"])
        cycles = self.end["cycles"] if self.end else last.cycles
        return {
            "file": str(self.path), "size": self.size, "complete": self.complete,
            "format_version": self.header["format_version"], "build": self.header["build"],
            "config": self.header["config"], "base_image": self.header["base_image"],
            "vms": self.header["vms"], "branched_from": self.header.get("branched_from"),
            "cycles": cycles, "seconds": cycles / clock,
            "instructions": self.end["instructions"] if self.end else last.instructions,
            "operations": len(self.ops), "inputs": len(inputs),
            "input_kinds": sorted({op[3]["type"] for op in inputs}),
            "checkpoints": len(self.checkpoints),
        }


def _checkpoint_meta(c: Chunk, p: Path) -> dict[str, Any]:
    try:
        parts = ck.unpack_sections(c.payload())
        meta = decode(parts["meta"][1])
        if not isinstance(meta, dict):
            raise ValueError
        for key in ("index", "op", "cycles", "instructions", "keyframe", "digest"):
            meta[key]  # noqa: B018 (present)
        return meta
    except (DiscoError, KeyError, ValueError, TypeError):
        raise RecordingError(f"{p}: corrupt at byte {c.offset} (a damaged checkpoint)") \
            from None


class Replayer:
    """Drives a session of the recorded configuration through the recording."""

    def __init__(self, recording: Recording, session: Session | None = None,
                 base_image: Path | None = None) -> None:
        self.recording = recording
        recording.check_build()
        if session is None:
            session, base_image = new_session(recording.config)
        self.session = session
        if base_image is not None and file_hash(base_image) != recording.header["base_image"]:
            raise RecordingError(f"{recording.path}: its base disk image differs from this "
                                 "workbench's (another build of the root file system)")
        self.position = 0  # operations applied
        self._done = 0  # instructions of the current run operation done (a breakpoint cut it)
        self.branch_recorder: Recorder | None = None
        self._restore(0)

    def close(self) -> None:
        if self.branch_recorder is not None:
            self.branch_recorder.close()
        self.session.close()

    # ---- where we are -----------------------------------------------------------------------

    @property
    def cycles(self) -> int:
        return point(self.session)[1]

    @property
    def end_cycles(self) -> int:
        r = self.recording
        return int(r.end["cycles"]) if r.end else r.checkpoints[-1].cycles

    @property
    def at_end(self) -> bool:
        return self.position >= len(self.recording.ops)

    def _restore(self, k: int) -> None:
        ck.restore(self.session, self.recording.load_checkpoint(k))
        self.position = self.recording.checkpoints[k].op
        self._done = 0

    # ---- moving -----------------------------------------------------------------------------

    def step(self, n: int = 1) -> int:
        """Apply the next `n` operations (runs or inputs); how many were applied.
        A breakpoint or watchpoint armed in the session is ignored here (see run_forward)."""
        ops = self.recording.ops
        done = 0
        while done < n and self.position < len(ops):
            while self._apply(ops[self.position]) is not None:
                pass
            self.position += 1
            done += 1
        return done

    def run_forward(self, until_op: int | None = None) -> RunResult | None:
        """Apply operations up to `until_op` (default: the end), stopping at the first
        breakpoint or watchpoint the session has armed: its RunResult, with the replay
        standing inside the operation it cut short (None: none was hit). Stops are
        transparent to the machine, so going on from there replays exactly."""
        ops = self.recording.ops
        end = len(ops) if until_op is None else min(until_op, len(ops))
        while self.position < end:
            hit = self._apply(ops[self.position])
            if hit is not None:
                return hit
            self.position += 1
        return None

    def _apply(self, op: list[Any]) -> RunResult | None:
        """Apply one operation, or the rest of one; a debugger stop that cut it short."""
        s = self.session
        if op[0] == "r":
            _tag, budget, executed, kind = op
            # A debugger's stop ended the recorded run early: run what it executed.
            total = executed if kind in DEBUG_STOPS else budget
            r = s.run_once(total - self._done)
            self._done += r.executed
            if r.kind in DEBUG_STOPS and self._done < executed:
                return r
            if self._done != executed:
                raise Divergence(f"replay diverged at cycle {self.cycles}: a run executed "
                                 f"{self._done} instructions, the recording {executed}")
            self._done = 0
        else:
            self._command(command_from_json(op[3]))
        return None

    def _command(self, command: Command) -> None:
        s = self.session
        observer, s.observer = s.observer, None
        try:
            s.submit(command)
            s.step_slice(0)  # applies it, runs nothing
        finally:
            s.observer = observer

    def play(self) -> None:
        """Apply every remaining operation."""
        self.step(len(self.recording.ops))

    def seek_op(self, op: int) -> None:
        """Stand after the first `op` operations."""
        op = max(0, min(op, len(self.recording.ops)))
        cps = self.recording.checkpoints
        k = max(i for i, e in enumerate(cps) if e.op <= op)
        if op < self.position or cps[k].op > self.position:
            self._restore(k)
        self.step(op - self.position)

    def seek(self, cycle: int) -> None:
        """Stand at the first operation boundary at or after `cycle` (or the end)."""
        cps = self.recording.checkpoints
        k = max([i for i, e in enumerate(cps) if e.cycles <= cycle] or [0])
        if cycle < self.cycles or cps[k].op > self.position:
            self._restore(k)
        ops = self.recording.ops
        while self.cycles < cycle and self.position < len(ops):
            self.step()

    # ---- checking ---------------------------------------------------------------------------

    def verify(self) -> int:
        """Replay from the start, checking every checkpoint; how many were checked.
        A Divergence names the first interval and what differed."""
        cps = self.recording.checkpoints
        self._restore(0)
        previous = cps[0].cycles
        for k, e in enumerate(cps[1:], start=1):
            self.step(e.op - self.position)
            live = ck.capture(self.session)
            mine = ck.digest_parts(live)
            recorded = self.recording.load_checkpoint(k)
            stored = ck.digest_parts(recorded)
            wrong = ck.differences(e.digest, mine) or ck.differences(stored, mine)
            if wrong:
                what = [w for w in wrong if w != "RAM"]
                if "RAM" in wrong:
                    n = ck.differing_pages(live.machine, recorded.machine)
                    what.append(f"{n} page{'s' if n != 1 else ''}")
                raise Divergence(f"replay diverged between cycle {previous} and "
                                 f"{e.cycles}: {', '.join(what)}")
            previous = e.cycles
        self.play()
        return len(cps) - 1

    # ---- changing the guests ----------------------------------------------------------------

    def submit(self, command: Command) -> None:
        """A command for the session. Breakpoints, watchpoints, focus, pause are applied
        at once; a change to the guests is refused in a replay, unless `branch` started
        a new recording here (the alternate future)."""
        if not isinstance(command, GUEST_COMMANDS):
            self._command(command)
            return
        if self.branch_recorder is None:
            raise RecordingError(
                f"a replay is read-only: to change the guests at cycle {self.cycles}, "
                "start an alternate future there (Replayer.branch(FILE), or "
                "File > Save recording... in the app) and change it")
        self.session.submit(command)

    def branch(self, path: str | Path) -> Recorder:
        """From here on, the session is live and records into a new file (an alternate
        future of this recording, which stays as it is)."""
        if self.branch_recorder is not None:
            raise RecordingError("this replay already branched into "
                                 f"{self.branch_recorder.path}")
        r = self.recording
        self.branch_recorder = Recorder(
            self.session, path, r.config, _base_of(self.session), r.header["build"],
            branched_from={"file": r.path.name, "op": self.position, "cycles": self.cycles})
        return self.branch_recorder


def _base_of(session: Session) -> Path:
    from disco_core.session import VmsCoreSpec

    rebuild = session.rebuild
    spec = getattr(rebuild, "__self__", None)
    if not isinstance(spec, VmsCoreSpec):
        raise DiscoError("only a session of virtual machines can be recorded")
    return spec.base
