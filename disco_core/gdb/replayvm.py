"""One VM of a replayed recording as a GDB target, which can run backwards.

`ReplayVmTarget` serves a VM of a `Replayer` (docs/gdb.md, "Reverse
execution"): its vCPUs are the threads, as for a live VM (vm.py), and every move
goes through `disco_core.record.reverse.Reverse`, so the machine only ever runs
as the recording says:

- `vCont;c` runs forward to the next hit of the client's breakpoints and
  watchpoints (in this VM only), or to the end of the recording
  (`replaylog:end`);
- `vCont;s` is one instruction of the stepped vCPU, the other vCPUs and VMs
  running meanwhile as they did when recorded;
- `bs` takes back the last instruction of the selected thread's vCPU, `bc` goes
  back to the previous hit, or to the start (`replaylog:begin`).

The history is one timeline for the whole machine, so one VM of a replay is
served at a time. Registers and memory read as a live VM's (a `VmTarget` over
the current core: a checkpoint's restore builds a fresh monitor); writes are
refused, since they would make the replay diverge from its recording.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from disco_core.errors import DiscoError
from disco_core.gdb.points import ACCESS
from disco_core.gdb.server import GdbServer
from disco_core.gdb.service import attach_command
from disco_core.gdb.target import PointKind, Resume, StopEvent, StopKind, TargetError
from disco_core.gdb.vm import VmTarget
from disco_core.monitor.vm import VM
from disco_core.record.recorder import point
from disco_core.record.replay import Recording, Replayer
from disco_core.record.reverse import BreakSpec, Hit, Point, Reverse, WatchSpec
from disco_core.session.session import Session

log = logging.getLogger(__name__)

_WATCH_STOP = {PointKind.WRITE: StopKind.WATCH, PointKind.READ: StopKind.READ_WATCH,
               PointKind.ACCESS: StopKind.ACCESS_WATCH}
Spec = BreakSpec | WatchSpec


@dataclass(frozen=True)
class _Move:
    """What the client asked for, done by the owner's loop (`run_slice`)."""

    kind: str  # "c", "s", "bc", "bs"
    thread: int


class ReplayVmTarget:
    """A `Target` over VM `index` of the replay `reverse` drives."""

    pid = 1
    can_reverse = True

    def __init__(self, reverse: Reverse, index: int) -> None:
        mon = reverse.session.monitor
        if mon is None:
            raise TargetError("this recording has no virtual machines")
        if not 0 <= index < len(mon.vms):
            raise TargetError(f"there is no VM {index}: the recording has VMs "
                              f"0-{len(mon.vms) - 1}")
        self.rv = reverse
        self.index = index
        self._views: tuple[object, VmTarget] | None = None
        self._points: set[tuple[PointKind, int, int]] = set()
        self._armed: set[Spec] = set()
        self._move: _Move | None = None
        self._stops: list[StopEvent] = []
        # (vCPU, the point, the points before its earlier instructions): _step_back's
        self._back: tuple[int, Point, list[Point]] | None = None
        self.killed = False
        self.moves = 0  # forward and backward moves done (for tests and the benchmark)

    # ---- the current core ----------------------------------------------------------

    @property
    def session(self) -> Session:
        return self.rv.session

    @property
    def vm(self) -> VM:
        mon = self.session.monitor
        assert mon is not None
        return mon.vms[self.index]

    def _view(self) -> VmTarget:
        """A live VM target over the session's current monitor (never resumed: it only
        reads registers, memory and the monitor's views)."""
        mon = self.session.monitor
        if self._views is None or self._views[0] is not mon:
            self._views = (mon, VmTarget(self.session, self.vm))
        return self._views[1]

    def vcpu_target(self, thread: int) -> int:
        """The session's debug target (a VCpuTargets index) of a thread."""
        return self._view().target_index(thread)

    def _thread_of(self, target: int) -> int:
        """The thread of a session debug target (a vCPU index), 1 if not this VM's."""
        v = self._view().targets.vcpus[target]
        return v.index + 1 if v.vm is self.vm else 1

    # ---- threads, registers, memory ------------------------------------------------

    def threads(self) -> Sequence[int]:
        return range(1, len(self.vm.vcpus) + 1)

    def thread_info(self, thread: int) -> str:
        return f"{self._view().thread_info(thread)} (replay)"

    def read_registers(self, thread: int) -> Sequence[int]:
        return self._view().read_registers(thread)

    def read_register(self, thread: int, number: int) -> int:
        return self._view().read_register(thread, number)

    def write_register(self, thread: int, number: int, value: int) -> None:
        if value != self.read_register(thread, number):
            raise TargetError("a replay is read-only: a changed register would make it "
                              "diverge from its recording")

    def read_memory(self, thread: int, address: int, length: int) -> bytes:
        return self._view().read_memory(thread, address, length)

    def write_memory(self, thread: int, address: int, data: bytes) -> None:
        if data != self.read_memory(thread, address, len(data)):
            raise TargetError("a replay is read-only: changed memory would make it "
                              "diverge from its recording")

    # ---- breakpoints and watchpoints -------------------------------------------------

    def insert_point(self, kind: PointKind, address: int, length: int) -> None:
        self._points.add((kind, address, length))

    def remove_point(self, kind: PointKind, address: int, length: int) -> None:
        self._points.discard((kind, address, length))

    def _spec(self, kind: PointKind, address: int, length: int) -> Spec:
        name = self.vm.name
        if kind.is_watch:
            return WatchSpec(address, length, ACCESS[kind], None, name)
        return BreakSpec(address, None, name)

    def _sync(self) -> None:
        """Arm in the replay what the client has set, before a move (GDB takes its
        points out at every stop and puts them back at every resume: only the
        difference reaches the session)."""
        want = {self._spec(*p) for p in self._points}
        for spec in self._armed - want:
            if isinstance(spec, WatchSpec):
                self.rv.remove_watchpoint(spec)
            else:
                self.rv.remove_breakpoint(spec)
        for spec in want - self._armed:
            if isinstance(spec, WatchSpec):
                self.rv.add_watchpoint(spec)
            else:
                self.rv.add_breakpoint(spec)
        self._armed = want

    def _hit_event(self, hit: Hit) -> StopEvent:
        thread = self._thread_of(hit.target)
        w = hit.watch
        if w is None:
            return StopEvent(thread, StopKind.BREAKPOINT, hit.pc)
        for kind, address, length in sorted(self._points):
            if (kind.is_watch and address < w.va + w.size and w.va < address + length
                    and (kind == PointKind.ACCESS or (kind == PointKind.WRITE) == w.is_write)):
                return StopEvent(thread, _WATCH_STOP[kind], max(address, w.va))
        return StopEvent(thread, StopKind.WATCH, w.va)

    # ---- run control ------------------------------------------------------------------

    def resume(self, actions: Mapping[int, Resume]) -> None:
        steps = [t for t, r in actions.items() if r == Resume.STEP]
        going = [t for t, r in actions.items() if r == Resume.CONTINUE]
        if steps:
            self._move = _Move("s", steps[0])
        elif going:
            self._move = _Move("c", going[0])

    def reverse(self, thread: int, step: bool) -> None:
        self.vcpu_target(thread)  # the thread exists
        self._move = _Move("bs" if step else "bc", thread)

    def run_slice(self) -> bool:
        """Do the move the client asked for (the owner's loop calls it between
        services); False if there was none."""
        move, self._move = self._move, None
        if move is None:
            return False
        self.moves += 1
        try:
            self._stops.append(self._do(move))
        except DiscoError as e:  # a divergence: the recording does not replay here
            log.error("disco: the replay cannot go on: %s", e)
            self._stops.append(StopEvent(move.thread, StopKind.INTERRUPT))
        return True

    def _do(self, move: _Move) -> StopEvent:
        rv, thread = self.rv, move.thread
        self._sync()
        if move.kind == "c":
            hit = rv.forward_continue()
            return (StopEvent(thread, StopKind.REPLAY_END) if hit is None
                    else self._hit_event(hit))
        if move.kind == "bc":
            hit = rv.reverse_continue(undo_here=True)
            return (StopEvent(thread, StopKind.REPLAY_BEGIN) if hit is None
                    else self._hit_event(hit))
        target = self.vcpu_target(thread)
        if move.kind == "bs":
            return self._step_back(thread, target)
        if rv.forward_step_after(target) is None:  # the vCPU runs no further
            return StopEvent(thread, StopKind.REPLAY_END)
        return StopEvent(thread, StopKind.STEP)

    def _step_back(self, thread: int, target: int) -> StopEvent:
        """Back over the thread's last instruction. The search finds the points before
        its last few instructions at once; they are kept, so that the next steps back
        from there (GDB's reverse-stepi N, reverse-step over a line) only seek."""
        rv = self.rv
        here = rv.point
        if here <= rv.start:
            return StopEvent(thread, StopKind.REPLAY_BEGIN)
        kept = self._back
        if kept is not None and kept[0] == target and kept[1] == here and kept[2]:
            points = kept[2]
        else:
            points = rv.previous_instructions(target)
        if not points:
            self._back = None
            rv.seek_point(rv.start)
            return StopEvent(thread, StopKind.REPLAY_BEGIN)
        to = points[-1]
        rv.seek_point(to)
        self._back = (target, to, points[:-1])
        return StopEvent(thread, StopKind.STEP)

    def interrupt(self) -> None:
        if self._stops:
            return  # a stop is already waiting to be reported
        move, self._move = self._move, None
        self._stops.append(StopEvent(move.thread if move else 1, StopKind.INTERRUPT))

    def poll_stops(self) -> list[StopEvent]:
        out, self._stops = self._stops, []
        return out

    def detach(self) -> None:
        self._points.clear()
        self._move = None
        self._stops.clear()
        self._sync()

    def kill(self) -> None:
        """End the replay's service (the recording stays as it is)."""
        self.detach()
        self.killed = True

    # ---- monitor commands -----------------------------------------------------------

    def monitor(self, command: str) -> str:
        words = command.split()
        if words[:1] == ["when"]:
            rv = self.rv
            instructions, cycle = point(self.session)
            return (f"replay of {rv.replayer.recording.path.name}: operation {rv.point.op} "
                    f"of {len(rv.replayer.recording.ops)} (+{rv.point.offset}), machine "
                    f"instructions {instructions}, cycle {cycle}\n")
        text = self._view().monitor(command)
        if not words or words[0] == "help":
            text += "  when           where the replay stands (operation, cycle)\n"
        return text


# ---- serving a recording (disco replay FILE --gdb) ------------------------------------


@dataclass
class ReplayServed:
    """A replay and its one server."""

    target: ReplayVmTarget
    server: GdbServer
    kernel: Path

    @property
    def port(self) -> int:
        return self.server.port

    def attach_command(self) -> str:
        return attach_command(str(self.kernel), self.server.port, self.server.host)

    def close(self) -> None:
        self.server.close()
        self.target.rv.replayer.close()


def serve_replay(path: str | Path, address: str | int, vm: int = 0, partial: bool = False,
                 at_cycle: int | None = None) -> ReplayServed:
    """Open recording `path`, stand at its start (or the last point at or before
    `at_cycle`) and serve VM `vm` of it on `address`."""
    from disco_core.kernel import build_kernel

    recording = Recording.open(path, partial=partial)
    replayer = Replayer(recording)
    try:
        rv = Reverse(replayer)
        if at_cycle is not None:
            rv.run_back_to(at_cycle)
        target = ReplayVmTarget(rv, vm)
        server = GdbServer(target, address).start()
    except BaseException:
        replayer.close()
        raise
    return ReplayServed(target, server, build_kernel("disco"))


def run(served: ReplayServed, until: Callable[[], bool] = lambda: False,
        end_on_kill: bool = True) -> None:
    """The owner's loop: the client's moves between services, until `until()` (or,
    with `end_on_kill`, a kill)."""
    target, server = served.target, served.server
    while not until() and not (end_on_kill and target.killed):
        ran = target.run_slice()
        server.service(0.0 if ran else 0.02)
