"""Reverse execution of a replayed session: reverse step, step over, step out, continue, run back.

Going back is going forward again: the replay restores an earlier checkpoint
and runs forward with the debugger's breakpoints and watchpoints armed, keeps
the last hit before the current point, and goes a checkpoint further back
when there is none. Determinism makes the point found and the point landed on
the same state: a run of the target split anywhere (a budget, a breakpoint)
leaves the guests exactly as the unsplit run does (only the session's per-VM
counters, which the viewer charges per run, depend on the splits).

A point of the history is a `Point`: an operation of the recording and how
many machine instructions of it (a run) have executed. Breakpoints and
watchpoints are armed through the session's own commands and matched with its
debug targets' scopes (`Targets.applies`), so they stop exactly where forward
ones stop: per VM and per vCPU under the monitor.

A step of target `i` is one of its instructions: `reverse_step(i)` stands just
before the last instruction `i` executed, `forward_step(i)` just before its
next-but-one (so each undoes the other from a stop of `i`). Which target
executed an instruction is found by running the machine one instruction at a
time over a window before the point, doubled until it holds enough of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from disco_core.record import checkpoint as ck
from disco_core.record.format import Chunk
from disco_core.record.recorder import command_to_json, point
from disco_core.record.replay import DEBUG_STOPS, CheckpointEntry, Divergence, Recording, Replayer
from disco_core.session import (
    AddBreakpoint,
    AddWatchpoint,
    Command,
    RemoveBreakpoint,
    RemoveWatchpoint,
    RunResult,
    Session,
)
from disco_core.session.targets import VCpuTargets, WatchHit

FIRST_WINDOW = 256  # machine instructions searched one by one for a step, to begin with
MAX_STEP_SCAN = 1 << 22  # a forward step gives up after this many machine instructions
RUN_BACK_GRAIN = 1024  # machine instructions: how close run_back_to lands


@dataclass(frozen=True, order=True)
class Point:
    """A place in the history: `offset` machine instructions into operation `op`."""

    op: int
    offset: int = 0


@dataclass(frozen=True)
class BreakSpec:
    """A breakpoint: an address (or symbol); `target` a CPU or vCPU, `vm` a VM's name."""

    address: int | str
    target: int | None = None
    vm: str | None = None


@dataclass(frozen=True)
class WatchSpec:
    """A watchpoint on [address, address + length); access "w", "r" or "rw"."""

    address: int | str
    length: int = 4
    access: str = "w"
    target: int | None = None
    vm: str | None = None


@dataclass(frozen=True)
class Hit:
    """A breakpoint or watchpoint hit: where in the history, when, who, and what."""

    kind: str  # "breakpoint" or "watchpoint"
    point: Point
    instructions: int  # the machine's, at the hit
    cycles: int  # the hitting CPU's (an idle CPU's clock may lag until the run ends)
    target: int  # the CPU or vCPU (a debug target)
    cpu: int
    pc: int
    watch: WatchHit | None = None


@dataclass
class _Armed:
    address: int
    target: int | None
    vm: str | None
    length: int = 0
    access: str = ""


class Reverse:
    """Reverse (and replay-exact forward) execution over a `Replayer`."""

    def __init__(self, replayer: Replayer) -> None:
        self.replayer = replayer
        self.offset = 0  # machine instructions into operation replayer.position
        self._breaks: list[_Armed] = []
        self._watches: list[_Armed] = []
        self._keys: set[tuple[Any, ...]] = set()

    # ---- where we are ---------------------------------------------------------------------

    @property
    def session(self) -> Session:
        return self.replayer.session

    @property
    def point(self) -> Point:
        return Point(self.replayer.position, self.offset)

    @property
    def cycles(self) -> int:
        return point(self.session)[1]

    @property
    def start(self) -> Point:
        return Point(self.replayer.recording.checkpoints[0].op, 0)

    @property
    def end(self) -> Point:
        return Point(len(self.replayer.recording.ops), 0)

    def settle(self) -> None:
        """Finish the operation a reverse stop stands in, so the replayer's own step and
        seek go on from an operation boundary."""
        if self.offset:
            self._run_op(self.replayer.position, self.offset, None, [])
            self.replayer.position += 1
            self.offset = 0

    # ---- breakpoints and watchpoints ------------------------------------------------------

    def add_breakpoint(self, spec: BreakSpec) -> None:
        s = self.session
        address = s.resolve(spec.address)
        vm = s.target.scope(spec.target, spec.vm)
        key = ("b", address, spec.target, vm)
        if key in self._keys:
            return
        self._command(AddBreakpoint(address, spec.target, vm))
        self._keys.add(key)
        self._breaks.append(_Armed(address, spec.target, vm))

    def add_watchpoint(self, spec: WatchSpec) -> None:
        s = self.session
        address = s.resolve(spec.address)
        vm = s.target.scope(spec.target, spec.vm)
        key = ("w", address, spec.length, spec.access, spec.target, vm)
        if key in self._keys:
            return
        self._command(AddWatchpoint(address, spec.length, spec.access, spec.target, vm))
        self._keys.add(key)
        self._watches.append(_Armed(address, spec.target, vm, spec.length, spec.access))

    def remove_breakpoint(self, spec: BreakSpec) -> None:
        """Disarm a breakpoint added with the same spec (nothing if there is none)."""
        s = self.session
        address = s.resolve(spec.address)
        vm = s.target.scope(spec.target, spec.vm)
        if ("b", address, spec.target, vm) in self._keys:
            self._remove_break(spec)

    def remove_watchpoint(self, spec: WatchSpec) -> None:
        """Disarm a watchpoint added with the same spec (nothing if there is none)."""
        s = self.session
        address = s.resolve(spec.address)
        vm = s.target.scope(spec.target, spec.vm)
        key = ("w", address, spec.length, spec.access, spec.target, vm)
        if key not in self._keys:
            return
        self._command(RemoveWatchpoint(address, spec.length, spec.access, spec.target, vm))
        self._keys.discard(key)
        self._watches = [a for a in self._watches
                         if (a.address, a.length, a.access, a.target, a.vm)
                         != (address, spec.length, spec.access, spec.target, vm)]

    def _command(self, c: Command) -> None:
        s = self.session
        observer, s.observer = s.observer, None
        try:
            s.submit(c)
            events = s.step_slice(0)
        finally:
            s.observer = observer
        errors = [e.message for e in events if e.kind == "error"]
        if errors:
            raise ValueError(errors[0])

    def _matches(self, r: RunResult) -> bool:
        """Whether a debug exit is one of ours, as Session._debug_stop decides."""
        t = r.target
        if t < 0:
            return False
        applies = self.session.target.applies
        if r.watch is not None:
            w = r.watch
            return any(a.address < w.va + w.size and w.va < a.address + a.length
                       and ("w" in a.access if w.is_write else "r" in a.access)
                       and applies(a.target, a.vm, t) for a in self._watches)
        return any(a.address == r.pc and applies(a.target, a.vm, t) for a in self._breaks)

    # ---- running a stretch of the history -------------------------------------------------

    def _run_op(self, op: int, start: int, stop: int | None, hits: list[Hit],
                land: bool = False) -> int:
        """Run operation `op` (a run) from `start` instructions into it to `stop` (None:
        its end), appending our hits; how many instructions it executed in all. With
        `land`, `stop` is a hit's point and the run ends by that hit, as the scan that
        found it did (a breakpoint's stop has fetched the instruction: its CPU's clock
        is not where a budget's stop leaves it)."""
        _tag, budget, executed, kind = self.replayer.recording.ops[op]
        whole = executed if kind in DEBUG_STOPS else budget
        end = executed if stop is None else min(stop, executed)
        natural = end == executed  # the run ends as it was recorded (its kind, its exits)
        done = start
        last: tuple[int, int, int] | None = None
        while natural or done < end:
            ask = (whole - done) if natural else (end - done + (1 if land else 0))
            if ask <= 0 and (not natural or kind not in ("idle", "halt")):
                break
            r = self.session.run_once(ask)
            done += r.executed
            if r.kind not in ("breakpoint", "watchpoint"):
                break  # the budget, or the recorded run's own end
            where = (done, r.cpu, r.pc)
            if r.executed == 0 and where == last:
                raise Divergence(f"a debug exit repeats at cycle {self.cycles}")
            last = where
            if land and done == end and not natural:
                break  # the hit landed on
            if self._matches(r) and done <= end:
                at = Point(op + 1) if done == executed else Point(op, done)
                c = self.session.machine.cpus
                hits.append(Hit(r.kind, at, sum(x.instructions for x in c), c[r.cpu].cycles,
                                r.target, r.cpu, r.pc, r.watch))
        if done != end:
            raise Divergence(f"replay diverged at cycle {self.cycles}: a run executed "
                             f"{done} instructions where the recording has {end}")
        return done

    def _forward(self, to: Point, hits: list[Hit] | None = None, land: bool = False) -> None:
        """From the current point to `to` (not before it), collecting hits."""
        rp = self.replayer
        ops = rp.recording.ops
        found: list[Hit] = [] if hits is None else hits
        while self.point < to and rp.position < len(ops):
            op = ops[rp.position]
            if op[0] == "r":
                stop = to.offset if to.op == rp.position else None
                done = self._run_op(rp.position, self.offset, stop, found,
                                    land and stop is not None)
                if stop is not None and done < op[2]:
                    self.offset = done
                    return
                rp.position += 1
            else:
                rp.step()  # a command: applied as the replay applies it
            self.offset = 0

    def _restore_before(self, at: Point) -> int:
        """Restore the last checkpoint strictly before `at` (or at the start); its index."""
        rp = self.replayer
        cps = rp.recording.checkpoints
        k = max([i for i, e in enumerate(cps) if Point(e.op) < at] or [0])
        ck.restore(self.session, rp.recording.load_checkpoint(k))
        rp.position = cps[k].op
        self.offset = 0
        return k

    def seek_point(self, to: Point) -> None:
        """Stand at `to`: run forward from here, or from a checkpoint if it lies behind."""
        if to < self.point or self._checkpoint_between(to):
            self._restore_before(Point(to.op, to.offset + 1))
        self._forward(to)

    def _land(self, hit: Hit) -> None:
        """Stand at `hit` as the scan that found it stood there."""
        if hit.point <= self.point or self._checkpoint_between(hit.point):
            self._restore_before(Point(hit.point.op, hit.point.offset + 1))
        self._forward(hit.point, land=True)

    def _checkpoint_between(self, to: Point) -> bool:
        """A checkpoint after here and at or before `to`: jumping there saves running."""
        here = self.point
        return any(here < Point(e.op) <= to for e in self.replayer.recording.checkpoints)

    def scan(self, frm: Point, to: Point, watch_at_end: bool = False) -> list[Hit]:
        """Every hit of the armed breakpoints and watchpoints in [frm, to); ends at `to`.
        With `watch_at_end`, also a watchpoint's hit at `to` itself (the access that
        ended just there)."""
        self.seek_point(frm)
        hits: list[Hit] = []
        self._forward(to, hits)
        return [h for h in hits if frm <= h.point < to
                or (watch_at_end and h.point == to and h.kind == "watchpoint")]

    # ---- the debugger's API -----------------------------------------------------------------

    def reverse_continue(self, breakpoints: list[BreakSpec] | None = None,
                         watchpoints: list[WatchSpec] | None = None,
                         undo_here: bool = False) -> Hit | None:
        """Back to the last hit before here of the armed (and given) breakpoints and
        watchpoints; None (standing at the start) when there is none. A watchpoint's
        hit stands just after its access; with `undo_here`, a hit at here itself
        counts too: going back undoes first the access that ended here (GDB's view,
        which then steps back over the access itself)."""
        for b in breakpoints or []:
            self.add_breakpoint(b)
        for w in watchpoints or []:
            self.add_watchpoint(w)
        here = self.point
        cps = self.replayer.recording.checkpoints
        bounds = sorted({Point(e.op) for e in cps if Point(e.op) < here} | {self.start})
        upper = here
        for lower in reversed(bounds):
            hits = self.scan(lower, upper, undo_here and upper == here)
            if hits:
                last = hits[-1]
                self._land(last)
                return last
            upper = lower
        self.seek_point(self.start)
        return None

    def forward_continue(self) -> Hit | None:
        """On to the next hit after here (None: the end of the recording, standing there)."""
        here = self.point
        hits: list[Hit] = []
        self._forward(self.end, hits)
        for h in hits:
            if h.point > here:
                self._land(h)
                return h
        return None

    def last_hit(self) -> Hit | None:
        """The last hit before the end of the recording (standing there)."""
        self.seek_point(self.end)
        return self.reverse_continue()

    def run_back_to(self, cycle: int) -> Point:
        """Stand at the last point whose cycle count (the furthest CPU's) is at most
        `cycle`, to within RUN_BACK_GRAIN machine instructions (or at the start)."""
        rp = self.replayer
        cps = rp.recording.checkpoints
        ops = rp.recording.ops
        k = max([i for i, e in enumerate(cps) if e.cycles <= cycle] or [0])
        self._restore_before(Point(cps[k].op, 1))
        best = self.point
        while rp.position < len(ops):
            self._forward(Point(rp.position + 1))
            if self.cycles > cycle:
                break
            best = self.point
        else:
            return self.point
        self.seek_point(best)
        op = ops[best.op]
        if op[0] == "r":
            while self.offset + RUN_BACK_GRAIN < op[2]:
                self._forward(Point(best.op, self.offset + RUN_BACK_GRAIN))
                if self.cycles > cycle:
                    break
                best = self.point
            self.seek_point(best)
        return self.point

    # ---- steps ------------------------------------------------------------------------------

    def _executor(self, before: list[int]) -> int:
        """The target that executed the one instruction since the per-CPU counts `before`."""
        s = self.session
        cpus = s.machine.cpus
        for ci, c in enumerate(cpus):
            if c.instructions != before[ci]:
                if isinstance(s.target, VCpuTargets):
                    v = s.target.monitor.current[ci]
                    return -1 if v is None else v.gid
                return ci
        return -1

    def _instructions_of(self, target: int, frm: Point, to: Point,
                         want: int | None = None) -> list[Point]:
        """The points in [frm, to) just before an instruction of `target` (forward from
        `frm`: stop after `want` of them)."""
        self.seek_point(frm)
        rp = self.replayer
        ops = rp.recording.ops
        found: list[Point] = []
        while self.point < to and rp.position < len(ops):
            op = ops[rp.position]
            if op[0] != "r" or self.offset >= op[2]:
                self._forward(Point(rp.position + 1))
                continue
            at = self.point
            before = [c.instructions for c in self.session.machine.cpus]
            self._forward(Point(at.op, at.offset + 1))
            if self._executor(before) == target:
                found.append(at)
                if want is not None and len(found) >= want:
                    break
        return found

    def reverse_step(self, target: int, n: int = 1) -> Point:
        """Stand just before the n-th last instruction `target` executed (or at the start)."""
        to = self.reverse_step_exact(target, n)
        return self.start if to is None else to

    def reverse_step_exact(self, target: int, n: int = 1) -> Point | None:
        """As reverse_step, but None (standing at the start) when `target` executed
        fewer than n instructions since the start: the history runs out (GDB's
        `replaylog:begin`)."""
        found = self.previous_instructions(target, n)
        to = found[-n] if len(found) >= n else None
        self.seek_point(self.start if to is None else to)
        return to

    def previous_instructions(self, target: int, n: int = 1) -> list[Point]:
        """The points just before the last instructions `target` executed before here,
        oldest first: every one in the window searched, at least n unless the history
        runs out first. The replay stands here again afterwards (a debugger stepping
        back one instruction at a time keeps the list and only seeks)."""
        self.session.target.check(target)
        here = self.point
        window = FIRST_WINDOW
        while True:
            frm = self._back_by(here, window)
            found = self._instructions_of(target, frm, here)
            if len(found) >= n or frm <= self.start:
                return found
            window *= 4

    def forward_step(self, target: int, n: int = 1) -> Point:
        """Stand just before the instruction of `target` after its next n (replay-exact:
        the other CPUs run meanwhile as they did)."""
        self.session.target.check(target)
        here = self.point
        found = self._instructions_of(target, here, self._ahead_by(here, MAX_STEP_SCAN), n + 1)
        if len(found) <= n:
            raise ValueError(f"{self.session.targets[target]} executes fewer than {n + 1} "
                             f"instructions in the next {MAX_STEP_SCAN} of the machine")
        self.seek_point(found[n])
        return found[n]

    def forward_step_after(self, target: int, n: int = 1) -> Point | None:
        """Stand just after the n-th next instruction of `target` (the other CPUs have
        run as the recording has them, up to that instruction): what a debugger's
        stepi shows, without going back to a checkpoint as forward_step does to stand
        before the next one. None (standing at the end, or MAX_STEP_SCAN machine
        instructions on) when `target` executes fewer."""
        self.session.target.check(target)
        here = self.point
        found = self._instructions_of(target, here, self._ahead_by(here, MAX_STEP_SCAN), n)
        return self.point if len(found) >= n else None

    def reverse_step_over(self, target: int) -> Point:
        """A reverse step that goes back over a call: when the instruction before here in
        program order is a call's delay slot and the one before it links, back to that
        call (its last execution)."""
        pc = int(self.session.target.registers(target).pc)
        to = self.reverse_step(target)
        prev = int(self.session.target.registers(target).pc)
        call = (pc - 8) & 0xFFFFFFFF
        if prev not in (pc - 4, call) and self.session.target.is_call_at(target, call):
            self._seek_hit_of(target, call, to)
        return self.point

    def reverse_step_out(self, target: int) -> Point:
        """Back to the call of the current function: the last time `target` stood at the
        call before its return address ($ra as it is here; a frame that has reused $ra
        cannot be told)."""
        ra = int(self.session.target.registers(target).gpr[31])
        self._seek_hit_of(target, (ra - 8) & 0xFFFFFFFF, Point(self.point.op,
                                                                 self.point.offset + 1))
        return self.point

    def _seek_hit_of(self, target: int, address: int, before: Point) -> None:
        """The last time `target` stood at `address` before `before`, with a temporary
        breakpoint (removed after)."""
        temp = BreakSpec(address, target)
        added = ("b", address, target, self.session.target.scope(target, None)) not in self._keys
        self.seek_point(before)
        try:
            self.reverse_continue([temp])
        finally:
            if added:
                self._remove_break(temp)

    def _remove_break(self, spec: BreakSpec) -> None:
        s = self.session
        address = s.resolve(spec.address)
        vm = s.target.scope(spec.target, spec.vm)
        self._command(RemoveBreakpoint(address, spec.target, vm))
        self._keys.discard(("b", address, spec.target, vm))
        self._breaks = [a for a in self._breaks
                        if (a.address, a.target, a.vm) != (address, spec.target, vm)]

    def _back_by(self, at: Point, n: int) -> Point:
        """The point about `n` machine instructions before `at` (within runs)."""
        ops = self.replayer.recording.ops
        op, off = at.op, at.offset
        while n > 0 and Point(op, off) > self.start:
            if off == 0:
                op -= 1
                off = ops[op][2] if ops[op][0] == "r" else 0
                continue
            take = min(n, off)
            off -= take
            n -= take
        return max(Point(op, off), self.start)

    def _ahead_by(self, at: Point, n: int) -> Point:
        ops = self.replayer.recording.ops
        op, off = at.op, at.offset
        while n > 0 and op < len(ops):
            size = ops[op][2] if ops[op][0] == "r" else 0
            take = min(n, size - off)
            n -= take
            off += take
            if off >= size:
                op, off = op + 1, 0
        return Point(op, off)

    # ---- state ------------------------------------------------------------------------------

    def digest(self) -> dict[str, int]:
        """The state's digest, without the session's per-VM counters (see the module)."""
        parts = ck.digest_parts(ck.capture(self.session))
        parts.pop("the session's counters", None)
        return parts


class LiveRecording(Recording):
    """A session's history kept in memory, for sessions a file cannot record (a bare
    machine): every run and guest command as the recorder writes them, and a
    checkpoint every `every` slices. `replayer()` ends the recording and replays it in
    the same session (a bare machine's checkpoints load in place)."""

    def __init__(self, session: Session, every: int = 4) -> None:
        super().__init__(Path("<live>"), {"clock_hz": session.machine.config.clock_hz},
                         [], [], None, 0, None)
        self.session = session
        self.every = every
        self._slices = 0
        self._saved: list[ck.Checkpoint] = []
        self._checkpoint()
        session.observer = self

    # ---- the session's observer -------------------------------------------------------

    def ran(self, budget: int, result: RunResult) -> None:
        self.ops.append(["r", budget, result.executed, result.kind])

    def applying(self, command: Command) -> None:
        ins, cyc = point(self.session)
        self.ops.append(["c", ins, cyc, command_to_json(command)])

    def sliced(self) -> None:
        self._slices += 1
        if self._slices % self.every == 0:
            self._checkpoint()

    def _checkpoint(self) -> None:
        c = ck.capture(self.session)
        # no chunk behind it: load_checkpoint answers from memory
        self.checkpoints.append(CheckpointEntry(
            cast(Chunk, None), len(self._saved), len(self.ops), c.cycles,
            int(c.session["machine_instructions"]), True, {}))
        self._saved.append(c)

    # ---- what a Replayer asks of a recording ------------------------------------------

    def check_build(self) -> None:
        """Made by this very build."""

    def load_checkpoint(self, k: int) -> ck.Checkpoint:
        return self._saved[k]

    def replayer(self) -> Replayer:
        """Stop recording and replay what was recorded, in the same session."""
        self._checkpoint()
        if self.session.observer is self:
            self.session.observer = None
        return Replayer(self, self.session)
