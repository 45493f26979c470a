"""A session's bare machine as a GDB target (bare metal, the native kernel): CPUs are threads.

`SessionMachineTarget` is `BareTarget` (registers, memory, monitor commands,
thread n is CPU n - 1) with the session's run control instead of a run loop
of its own: the session runs the slices; a stop holds the whole machine
(`Session.holds`), a step executes one instruction with the session's
`CpuTargets.step`, and breakpoints and watchpoints are armed through the
session beside the app debugger's, their hits claimed by this target
(`Session.stop_claims`). `kill` detaches: the app's machine is not GDB's to end.
"""

from __future__ import annotations

from collections.abc import Mapping

from disco_core.gdb.bare import BareTarget, _State
from disco_core.gdb.points import SessionPoints
from disco_core.gdb.target import Resume, StopEvent, StopKind, TargetError
from disco_core.session.session import Session
from disco_core.session.targets import CpuTargets, RunResult


class SessionMachineTarget(SessionPoints, BareTarget):
    """The machine of a session without VMs, served to GDB. `held` holds it at once."""

    def __init__(self, session: Session, held: bool = False) -> None:
        if not isinstance(session.target, CpuTargets):
            raise TargetError("this session runs virtual machines: serve each VM instead")
        super().__init__(session.machine, held=False)
        self.session = session
        self.woke = False  # released since the owner last looked
        if held:
            self._hold()

    def _hold(self) -> None:
        self.session.holds.add(self)
        self._state = _State.HELD

    def _release(self, running: bool) -> None:
        self.session.holds.discard(self)
        self._state = _State.RUNNING if running else _State.FREE
        self.woke = True

    # ---- points (inserted through SessionPoints) -------------------------------------------

    def claim(self, r: RunResult) -> bool:
        """A breakpoint or watchpoint exit in the session's run: this target's if one of
        the client's points covers it; then the machine is held and the stop reported."""
        if not self.running or r.target < 0:
            return False
        thread = r.target + 1
        if r.watch is not None:
            w = r.watch
            if not any(k.is_watch and a < w.va + w.size and w.va < a + n
                       for k, a, n in self._points):
                return False
            event = self._watch_event(thread, w.va, w.size, w.is_write)
        elif any(not k.is_watch and a == r.pc for k, a, _ in self._points):
            event = StopEvent(thread, StopKind.BREAKPOINT, r.pc)
        else:
            return False
        self._hold()
        self._stops.append(event)
        return True

    # ---- run control -------------------------------------------------------------------

    def resume(self, actions: Mapping[int, Resume]) -> None:
        if self.session.halted:
            self._stops.append(StopEvent(1, StopKind.EXITED, code=self._exit_code()))
            return
        self.resumes += 1
        steps = [t for t, r in actions.items() if r == Resume.STEP]
        if not steps:
            self._release(running=True)
            return
        thread = steps[0]
        try:
            result = self.session.target.step(self._cpu(thread))
        except ValueError as e:
            raise TargetError(str(e)) from None
        if result.halted:
            self._stops.append(StopEvent(thread, StopKind.EXITED, code=self._exit_code()))
        else:
            self._stops.append(StopEvent(thread, StopKind.STEP))

    def interrupt(self) -> None:
        if self._stops:
            return
        if self.session.halted:
            self._stops.append(StopEvent(1, StopKind.EXITED, code=self._exit_code()))
            return
        self._hold()
        self._stops.append(StopEvent(1, StopKind.INTERRUPT))

    def poll_stops(self) -> list[StopEvent]:
        if self.running and self.session.halted:
            self._stops.append(StopEvent(1, StopKind.EXITED, code=self._exit_code()))
            self._state = _State.EXITED
        return super().poll_stops()

    def detach(self) -> None:
        for kind, address, length in list(self._points):
            self.remove_point(kind, address, length)
        self._release(running=False)

    def kill(self) -> None:
        self.detach()

    def run_slice(self) -> bool:
        raise TargetError("the session runs this machine (Session.step_slice)")
