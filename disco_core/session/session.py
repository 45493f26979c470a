"""The Session: one machine, what runs on it, its debug targets, and a run loop in slices.

Everything that changes the machine goes through `submit(command)`: the queue
is drained at the start of every slice, so a pause or a breakpoint is
answered within one slice and the machine is only ever touched by the thread
that runs the slices. `snapshot()` copies what a viewer needs into an
immutable `Snapshot`, so the viewer never touches the machine. What the
debugger works on (the machine's CPUs, or the monitor's vCPUs) is a
`Targets` strategy (targets.py); breakpoints, watchpoints and the loop
itself are the same for both.
"""

from __future__ import annotations

import dataclasses
import difflib
import queue
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from disco_core.elf import ElfImage
from disco_core.machine import Machine
from disco_core.mips import PAGE_SIZE
from disco_core.monitor import VM, Monitor
from disco_core.session.callstack import Frame, FrameTable, walk
from disco_core.session.commands import (
    AddBreakpoint,
    AddWatchpoint,
    Command,
    Event,
    FeedConsole,
    Focus,
    Pause,
    PauseVm,
    RemoveBreakpoint,
    RemoveWatchpoint,
    RestartVm,
    Resume,
    ResumeVm,
    RunTo,
    SetTiming,
    Step,
    StepOut,
    StepOver,
    StopVm,
    TraceMonitor,
)
from disco_core.session.condition import Condition, ConditionError, TargetState
from disco_core.session.condition import parse as parse_condition
from disco_core.session.snapshot import (
    Breakpoint,
    ConsoleSnapshot,
    DebugDetail,
    Snapshot,
    VmsInfo,
    Watchpoint,
)
from disco_core.session.targets import CpuTargets, RunResult, Targets, VCpuTargets

# The largest miss matrix a snapshot carries; bigger machines are summed over
# groups of pages (a 32-node machine would otherwise copy 32 MiB per snapshot).
MAX_MISS_CELLS = 1 << 20
CONSOLE_TAIL = 64 * 1024  # bytes of console output a snapshot carries
LOG_LINES = 200
HOOK_POLL = 0.005  # s between looks at the command queue while waiting on debug clients
ACCESSES = ("w", "r", "rw")


class SliceHook(Protocol):
    """A debug client served between slices beside the user's debugger (the GDB
    server, disco_core/gdb/service.py)."""

    def between_slices(self) -> bool:
        """Serve the client; True if it let something run again (the session un-idles)."""
        ...

    def wait(self, timeout: float) -> bool:
        """Sleep until the client sends something, at most `timeout`; True if it did."""
        ...


class MonitorConsole:
    """A VM's console as a Session guest sees it: the monitor's output buffer,
    and input that goes to that VM only."""

    def __init__(self, monitor: Monitor, vm: VM) -> None:
        self._monitor = monitor
        self._vm = vm

    @property
    def output(self) -> bytearray:
        return self._vm.console_out

    def feed(self, data: bytes) -> None:
        self._monitor.console_input(self._vm, data)


class Console(Protocol):
    """What a guest's console offers: everything printed so far, and input."""

    @property
    def output(self) -> bytearray: ...

    def feed(self, data: bytes) -> None: ...


@dataclass
class Guest:
    """Something with a name, CPUs and a console: the native machine, or a VM."""

    name: str
    cpus: tuple[int, ...]
    console: Console
    image: ElfImage | None = None  # symbols for the debugger
    # A real tty behind the console (Linux): the guest edits lines and keeps the
    # history itself, so the app sends every key raw (arrows as escape sequences).
    tty: bool = False


@dataclass
class _Temp:
    """A breakpoint the session set for step over/out or run-to, removed when hit."""

    address: int
    cpu: int


BreakpointKey = tuple[int, int | None, str | None]  # address, target, VM
WatchpointKey = tuple[int, int, str, int | None, str | None]  # + length, access


@dataclass
class Core:
    """A session's machine and monitor, and what frees what they hold (their disks)."""

    machine: Machine
    monitor: Monitor | None
    closers: list[Callable[[], None]]


class Observer(Protocol):
    """What watches a session's guest-visible history (disco_core/record/recorder.py):
    every run of the target with its budget, and every command that changes the guests,
    told before it is applied."""

    def ran(self, budget: int, result: RunResult) -> None: ...

    def applying(self, command: Command) -> None: ...

    def sliced(self) -> None:
        """The end of a slice: the session is consistent (a checkpoint may be taken)."""


# Commands that change what the guests see; the others only steer the loop or the views.
GUEST_COMMANDS = (FeedConsole, Step, SetTiming, TraceMonitor, StopVm, RestartVm, PauseVm,
                  ResumeVm)
SESSION_STATE_VERSION = 1


class Session:
    """A machine, its guests, and the run loop's state. With `monitor` the machine
    runs virtual machines and the debugger's targets are their vCPUs."""

    def __init__(self, machine: Machine, guests: list[Guest], title: str = "",
                 monitor: Monitor | None = None) -> None:
        self.machine = machine
        self.guests = guests
        self.title = title or "Disco Workbench"
        self.monitor = monitor
        self.target: Targets = (CpuTargets(machine) if monitor is None
                                else VCpuTargets(machine, monitor))
        # What the debugger chooses from (Step(cpu=i) etc.): the CPUs, or the vCPUs.
        self.targets: list[str] = self.target.names
        self.target_vms = [self.target.vm_of(i) for i in range(len(self.targets))]
        self.running = True
        self.halted = False
        self.idle = False  # every CPU waits: nothing to run until input arrives
        self.stopped_cpu = -1
        self.focus_cpu = 0
        self.memory_address: int | None = None
        self.memory_space = "virtual"
        self.on_close: list[Callable[[], None]] = []
        self._commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self.commands_applied = 0  # by the last step_slice: something may have changed
        self._breakpoints: dict[BreakpointKey, str] = {}
        self._hits: dict[BreakpointKey, int] = {}  # stops at each breakpoint (the debugger's)
        self._conditions: dict[BreakpointKey, Condition] = {}  # stop only when it holds
        self._watchpoints: dict[WatchpointKey, str] = {}
        # What is armed in the machine, reference-counted: the breakpoints and
        # watchpoints above and the temporary one may share a machine breakpoint.
        self._armed: Counter[tuple[int, int | None]] = Counter()
        self._armed_watch: Counter[tuple[int, int, str, int | None]] = Counter()
        self._temp: _Temp | None = None
        # Debug clients beside the user's debugger (the GDB server): served at the start
        # of each slice, and asked first whether a breakpoint or watchpoint exit is theirs
        # (a claimed stop holds what the client debugs; the session runs on).
        self.slice_hooks: list[SliceHook] = []
        self.stop_claims: list[Callable[[RunResult], bool]] = []
        self.holds: set[object] = set()  # clients holding the whole machine: nothing runs
        self._log: deque[str] = deque(maxlen=LOG_LINES)
        self._seq = 0
        self._instructions = 0
        self._rate: deque[tuple[float, int]] = deque(maxlen=32)
        self._rate.append((time.monotonic(), 0))
        pages = machine.ram_bytes // PAGE_SIZE
        nodes = machine.config.nodes
        group = 1
        while (pages // group) * nodes > MAX_MISS_CELLS:
            group *= 2
        self.page_group = group
        self.observer: Observer | None = None
        self.core: Core | None = None  # set by adopt_core: a session that can load a checkpoint
        self.rebuild: Callable[[], Core] | None = None
        self._frame_tables: list[FrameTable] | None = None

    # ---- the machine and monitor as one replaceable core -------------------------------

    def adopt_core(self, core: Core, rebuild: Callable[[], Core]) -> None:
        """Own `core` (freed on close), and know how to build a fresh, unstarted one."""
        self.core = core
        self.rebuild = rebuild

    def replace_core(self, core: Core) -> None:
        """Swap in a machine and monitor loaded elsewhere (record/checkpoint.py): the
        targets, consoles and armed breakpoints follow; the old core is freed."""
        old = self.core
        self.machine, self.monitor, self.core = core.machine, core.monitor, core
        self.target = (CpuTargets(core.machine) if core.monitor is None
                       else VCpuTargets(core.machine, core.monitor))
        if core.monitor is not None:
            for guest, vm in zip(self.guests, core.monitor.vms, strict=True):
                guest.console = MonitorConsole(core.monitor, vm)
        for (address, cpu), _n in self._armed.items():
            core.machine.add_breakpoint(address, cpu)
        for (address, length, access, cpu), _n in self._armed_watch.items():
            core.machine.add_watchpoint(address, length, cpu=cpu, read="r" in access,
                                        write="w" in access)
        if old is not None:
            old.machine.close()
            for release in old.closers:
                release()

    def state(self) -> dict[str, object]:
        """The session's own section: the loop's flags and the counters its snapshots show."""
        view = self.target.vms_view()
        return {"section": "session", "version": SESSION_STATE_VERSION,
                "running": self.running, "halted": self.halted, "idle": self.idle,
                "stopped_cpu": self.stopped_cpu, "instructions": self._instructions,
                "vm_instructions": [] if view is None else view.instructions.tolist(),
                "vm_cycles": [] if view is None else view.cycles.tolist()}

    def load_state(self, section: dict[str, object]) -> None:
        from disco_core.monitor import sections

        sec = sections.check(section, "session", SESSION_STATE_VERSION,
                             "running", "halted", "idle", "stopped_cpu", "instructions",
                             "vm_instructions", "vm_cycles")
        view = self.target.vms_view()
        with sections.loading("session"):
            self.running = bool(sec["running"])
            self.halted = bool(sec["halted"])
            self.idle = bool(sec["idle"])
            self.stopped_cpu = int(sec["stopped_cpu"])
            self._instructions = int(sec["instructions"])
            if view is not None:
                view.instructions[:] = sec["vm_instructions"]
                view.cycles[:] = sec["vm_cycles"]
                view.forget()
        self.target.forget_copies()

    # ---- the command queue (any thread) ------------------------------------

    def submit(self, command: Command) -> None:
        """Queue a command; the thread running slices applies it before the next slice."""
        self._commands.put(command)

    def wait_for_command(self, timeout: float) -> bool:
        """Block up to `timeout` s for a command (a paused loop's idle wait); True if one came."""
        if self.slice_hooks:
            return self._wait_with_hooks(timeout)
        try:
            command = self._commands.get(timeout=timeout)
        except queue.Empty:
            return False
        self._commands.put(command)  # order kept: nothing else reads the queue meanwhile
        return True

    def _wait_with_hooks(self, timeout: float) -> bool:
        """wait_for_command that also wakes when a debug client sends something."""
        deadline = time.monotonic() + timeout
        while True:
            if not self._commands.empty():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if any(h.wait(min(left, HOOK_POLL)) for h in self.slice_hooks):
                return True

    # ---- running (the owning thread) ---------------------------------------

    def step_slice(self, budget: int) -> list[Event]:
        """Apply queued commands, then run up to `budget` instructions if running."""
        events: list[Event] = []
        self.commands_applied = 0
        for hook in self.slice_hooks:
            if hook.between_slices():
                self.idle = False
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                break
            self.commands_applied += 1
            try:
                if self.observer is not None and isinstance(command, GUEST_COMMANDS):
                    self.check_command(command)
                    self.observer.applying(command)
                self._apply(command, events)
            except (KeyError, ValueError, IndexError) as e:
                events.append(Event("error", str(e).strip("'\"")))
            except Exception as e:  # a machine error must not kill the loop
                events.append(Event("error", f"{type(e).__name__}: {e}"))
        if self.holds:
            self.idle = True  # held by a debug client: wait until it lets go
        elif self.running and not self.halted and budget > 0:
            self._run(budget, events)
        for event in events:
            self._log.append(event.message)
        if self.observer is not None:
            self.observer.sliced()
        return events

    def run_once(self, budget: int) -> RunResult:
        """One run of the target, counted as the loop counts it (replay drives this)."""
        r = self.target.run(budget)
        self._instructions += r.executed
        self.idle = r.kind == "idle"
        if r.kind == "halt":
            self.halted = True
        return r

    def _run(self, budget: int, events: list[Event]) -> None:
        left = budget
        while left > 0 and self.running:
            r = self.target.run(left)
            if self.observer is not None:
                self.observer.ran(left, r)
            left -= r.executed
            self._instructions += r.executed
            kind = r.kind
            if kind == "again":
                continue
            if kind == "budget":
                self.idle = False
                return
            if kind == "idle":
                if not self.idle:
                    events.append(Event("idle", r.message))
                self.idle = True
                return
            if kind in ("breakpoint", "watchpoint"):
                if self._debug_stop(r, events):
                    return
                if r.executed == 0:
                    left -= 1  # a hit for another target: on, and never spin in place
                continue
            self.running = False
            if kind == "halt":
                self.halted = True
                events.append(Event("halted", r.message, r.target, r.pc))
            else:
                events.append(Event("error", r.message, r.target, r.pc))
            return

    def _debug_stop(self, r: RunResult, events: list[Event]) -> bool:
        """A breakpoint or watchpoint exit: stop if it is for the target that hit it."""
        t = r.target
        if t < 0:  # the monitor's idle loop
            return False
        if any(claim(r) for claim in self.stop_claims):
            return True  # a debug client's stop: the slice ends so that it is told at once
        name, pc = self.targets[t], r.pc
        if r.watch is not None:
            w = r.watch
            if not any(a < w.va + w.size and w.va < a + n
                       and ("w" in acc if w.is_write else "r" in acc)
                       and self.target.applies(cpu, vm, t)
                       for a, n, acc, cpu, vm in self._watchpoints):
                return False
            what = "wrote" if w.is_write else "read"
            self._stop(r, events, Event(
                "watchpoint", f"{name} {what} 0x{w.value:x} at {self.describe(w.va)} "
                f"(instruction at {self.describe(w.pc)}){self.target.on_cpu(r.cpu)}", t, pc))
            return True
        temp = self._temp
        if temp is not None and temp.address == pc and temp.cpu == t:
            self._clear_temp()
            self._stop(r, events, Event("step", f"{name} stopped at {self.describe(pc)}", t, pc))
            return True
        hit = [key for key in self._breakpoints
               if key[0] == pc and self.target.applies(key[1], key[2], t)]
        why = ""
        held = []
        for key in hit:
            condition = self._conditions.get(key)
            if condition is None:
                held.append(key)
                continue
            try:
                if condition.holds(self._target_state(t)):
                    held.append(key)
                    why = f" ({condition.text})"
            except ConditionError as e:  # stop and say so, as gdb does
                held.append(key)
                why = f" (condition {condition.text!r} not evaluated: {e})"
        if held:
            for key in held:
                self._hits[key] = self._hits.get(key, 0) + 1
            self._stop(r, events, Event(
                "breakpoint", f"{name} hit breakpoint at {self.describe(pc)}"
                f"{self.target.on_cpu(r.cpu)}{why}", t, pc))
            return True
        return False

    def _target_state(self, i: int) -> TargetState:
        """What a breakpoint's condition reads of target i."""
        r = self.target.registers(i)
        return TargetState(r.pc, tuple(int(x) for x in r.gpr), r.hi, r.lo,
                           lambda a, n: self.target.read(i, a, n))

    def _stop(self, r: RunResult, events: list[Event], event: Event) -> None:
        self.running = False
        self.stopped_cpu = r.cpu
        self.focus_cpu = r.target
        events.append(event)
        events.append(Event("paused", "paused", event.cpu, event.pc))

    # ---- commands ------------------------------------------------------------

    def _apply(self, c: Command, events: list[Event]) -> None:
        t = self.target
        if isinstance(c, Pause):
            if self.running:
                self.running = False
                events.append(Event("paused", "paused"))
        elif isinstance(c, Resume):
            if not self.running and not self.halted:
                self.running = True
                self.stopped_cpu = -1
                events.append(Event("resumed", "running"))
        elif isinstance(c, Step):
            self._step(c.cpu, events)
        elif isinstance(c, StepOver):
            pc = t.registers(c.cpu).pc
            if t.is_call_at(c.cpu, pc):
                self._run_until(c.cpu, pc + 8, events)
            else:
                self._step(c.cpu, events)
        elif isinstance(c, StepOut):
            self._run_until(c.cpu, int(t.registers(c.cpu).gpr[31]), events)
        elif isinstance(c, RunTo):
            t.check(c.cpu)
            self._run_until(c.cpu, self.resolve(c.target), events)
        elif isinstance(c, AddBreakpoint | RemoveBreakpoint):
            address = self.resolve(c.target)
            vm = t.scope(c.cpu, c.vm)
            key = (address, c.cpu, vm)
            if isinstance(c, AddBreakpoint):
                text = (c.condition or "").strip()
                condition = parse_condition(text, self.resolve) if text else None
                if key not in self._breakpoints:
                    self._arm(address, c.cpu, 1)
                self._breakpoints[key] = self.describe(address)
                if condition is None:
                    self._conditions.pop(key, None)
                else:
                    self._conditions[key] = condition
                events.append(Event("breakpoint-set", f"breakpoint at {self.describe(address)} "
                                    f"{t.scope_text(c.cpu, vm)}"
                                    + (f" if {condition.text}" if condition else "")))
            elif self._breakpoints.pop(key, None) is not None:
                self._hits.pop(key, None)
                self._conditions.pop(key, None)
                self._arm(address, c.cpu, -1)
        elif isinstance(c, AddWatchpoint | RemoveWatchpoint):
            if c.access not in ACCESSES:
                raise ValueError(f"watchpoint access {c.access!r} is not w, r or rw")
            if c.length < 1:
                raise ValueError(f"watchpoint length {c.length} must be at least 1")
            address = self.resolve(c.target)
            vm = t.scope(c.cpu, c.vm)
            wkey = (address, c.length, c.access, c.cpu, vm)
            if isinstance(c, AddWatchpoint):
                if wkey not in self._watchpoints:
                    self._arm_watch(wkey, 1)
                self._watchpoints[wkey] = self.describe(address)
                events.append(Event("watchpoint-set", f"watching {c.length} bytes at "
                                    f"{self.describe(address)} ({c.access}) "
                                    f"{t.scope_text(c.cpu, vm)}"))
            elif self._watchpoints.pop(wkey, None) is not None:
                self._arm_watch(wkey, -1)
        elif isinstance(c, SetTiming):
            self.machine.timing = c.on
        elif isinstance(c, Focus):
            t.check(c.cpu)
            if c.space is not None:
                if c.space not in t.spaces:
                    raise ValueError(f"memory space {c.space!r} is not one of "
                                     f"{', '.join(t.spaces)}")
                self.memory_space = c.space
            self.focus_cpu = c.cpu
            if c.memory_address is not None:
                self.memory_address = c.memory_address & 0xFFFFFFFF
            t.forget_copies()  # the details of another target
        elif isinstance(c, FeedConsole):
            self.guest(c.guest).console.feed(c.data)
            self.idle = False
        elif isinstance(c, TraceMonitor):
            t.trace(c.on)
        elif isinstance(c, PauseVm | ResumeVm):
            which = self._vm_named(c.vm)
            mon = self.monitor
            assert mon is not None
            if isinstance(c, PauseVm):
                if not which.running:
                    raise ValueError(f"{c.vm} is stopped: only a running VM pauses")
                if which.id not in mon.sched.paused:
                    mon.sched.pause_vm(which)
                    events.append(Event("vm-paused", f"{c.vm} paused: the other VMs run on"))
            elif which.id in mon.sched.paused:
                mon.sched.resume_vm(which)
                self.idle = False
                events.append(Event("vm-resumed", f"{c.vm} runs again"))
            t.forget_copies()
        elif isinstance(c, StopVm | RestartVm):
            mon = self.monitor
            if mon is None:
                raise ValueError("there is no monitor in this session: only VMs stop "
                                 "and restart")
            which = mon.vm_by_name(c.vm)
            if isinstance(c, StopVm):
                mon.stop_vm(which, c.reason)
            else:
                if which.running:
                    mon.stop_vm(which, "restarted")
                mon.restart_vm(which)
            self.idle = False
            t.forget_copies()

    def check_command(self, c: Command) -> None:
        """Refuse, before it is recorded, a guest command that would fail anyway."""
        if isinstance(c, FeedConsole):
            self.guest(c.guest)
        elif isinstance(c, PauseVm | ResumeVm):
            which = self._vm_named(c.vm)
            if isinstance(c, PauseVm) and not which.running:
                raise ValueError(f"{c.vm} is stopped: only a running VM pauses")
        elif isinstance(c, StopVm | RestartVm):
            if self.monitor is None:
                raise ValueError("there is no monitor in this session: only VMs stop "
                                 "and restart")
            self.monitor.vm_by_name(c.vm)

    def _vm_named(self, name: str) -> VM:
        if self.monitor is None:
            raise ValueError("there is no monitor in this session: only VMs pause")
        try:
            return self.monitor.vm_by_name(name)
        except KeyError:
            raise KeyError(f"no VM named {name!r}: there are "
                           f"{', '.join(v.name for v in self.monitor.vms)}") from None

    def paused_vms(self) -> tuple[str, ...]:
        """The VMs paused while the others run (PauseVm)."""
        mon = self.monitor
        return () if mon is None else tuple(vm.name for vm in mon.vms
                                            if vm.id in mon.sched.paused)

    def _arm(self, address: int, cpu: int | None, delta: int) -> None:
        """Count a breakpoint in (delta 1) or out (-1) of the machine's."""
        key = (address, self.target.machine_cpu(cpu))
        n = self._armed[key]
        if n == 0 and delta > 0:
            self.machine.add_breakpoint(*key)
        elif n == 1 and delta < 0:
            self.machine.remove_breakpoint(*key)
        self._armed[key] = n + delta
        if self._armed[key] <= 0:
            del self._armed[key]

    def arm_breakpoint(self, address: int, delta: int) -> None:
        """A debug client's breakpoint for every target, counted in (1) or out (-1) of
        the machine's beside the user's; its hits come to `stop_claims`."""
        self._arm(address & 0xFFFFFFFF, None, delta)

    def arm_watchpoint(self, address: int, length: int, access: str, delta: int) -> None:
        """A debug client's watchpoint ("w", "r" or "rw") for every target, as above."""
        self._arm_watch((address & 0xFFFFFFFF, length, access, None, None), delta)

    def _arm_watch(self, wkey: WatchpointKey, delta: int) -> None:
        address, length, access, cpu, _vm = wkey
        key = (address, length, access, self.target.machine_cpu(cpu))
        flags = {"read": "r" in access, "write": "w" in access}
        n = self._armed_watch[key]
        if n == 0 and delta > 0:
            self.machine.add_watchpoint(address, length, cpu=key[3], **flags)
        elif n == 1 and delta < 0:
            self.machine.remove_watchpoint(address, length, cpu=key[3], **flags)
        self._armed_watch[key] = n + delta
        if self._armed_watch[key] <= 0:
            del self._armed_watch[key]

    def _step(self, i: int, events: list[Event]) -> None:
        r = self.target.step(i)  # checks first: a target that cannot step changes nothing
        if self.running:
            self.running = False
            events.append(Event("paused", "paused"))
        self._instructions += r.executed
        if r.halted:
            self.halted = True
        self.stopped_cpu = r.cpu
        self.focus_cpu = i
        self.target.forget_copies()
        pc = self.target.registers(i).pc
        extra = (f" ({r.served} exit{'s' if r.served > 1 else ''} to the monitor)"
                 if r.served else "")
        events.append(Event("step", f"{self.targets[i]} at {self.describe(pc)}{extra}", i, pc))

    def _run_until(self, i: int, address: int, events: list[Event]) -> None:
        self.target.check(i)
        self._clear_temp()
        address &= 0xFFFFFFFF
        self._arm(address, i, 1)
        self._temp = _Temp(address, i)
        self.running = True
        self.stopped_cpu = -1
        events.append(Event("resumed", f"running {self.targets[i]} to "
                                       f"{self.describe(address)}", i))

    def _clear_temp(self) -> None:
        t = self._temp
        if t is not None:
            self._temp = None
            self._arm(t.address, t.cpu, -1)

    # ---- symbols -----------------------------------------------------------

    def guest(self, name: str) -> Guest:
        for g in self.guests:
            if g.name == name:
                return g
        raise KeyError(f"no guest named {name!r}: there are "
                       f"{', '.join(g.name for g in self.guests)}")

    def images(self) -> list[ElfImage]:
        return [g.image for g in self.guests if g.image is not None]

    def resolve(self, target: int | str) -> int:
        """An address from an int, a hex/decimal string or a symbol of a guest's program."""
        if isinstance(target, int):
            return target & 0xFFFFFFFF
        text = target.strip()
        try:
            return int(text, 0) & 0xFFFFFFFF
        except ValueError:
            pass
        for image in self.images():
            try:
                return image.address_of(text)
            except KeyError:
                continue
        # Each program once, by its file name (VMs share one image; its name is a path
        # into the build cache), and the nearest names for a typo.
        programs = dict.fromkeys(i.name.rsplit("/", 1)[-1] for i in self.images())
        names = {sym.name for i in self.images() for sym in i.symbols}
        close = difflib.get_close_matches(text, names, n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise KeyError(f"no symbol named {text!r} in "
                       f"{', '.join(programs) or 'any loaded program'}{hint}")

    def describe(self, address: int) -> str:
        """``0x80010110 <stream_update+0x8>``, or just the address."""
        for image in self.images():
            found = image.symbol_at(address)
            if found is not None:
                name, off = found
                return f"0x{address:08x} <{name}+{off:#x}>" if off else \
                    f"0x{address:08x} <{name}>"
        return f"0x{address:08x}"

    # ---- snapshots ---------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Copy what a viewer shows. Call it from the thread that runs the slices."""
        m = self.machine
        now = time.monotonic()
        ncpu = m.config.cpus
        regs = np.zeros((ncpu, 32), np.uint32)
        pc = np.zeros(ncpu, np.uint32)
        hi = np.zeros(ncpu, np.uint32)
        lo = np.zeros(ncpu, np.uint32)
        state = np.zeros(ncpu, np.uint8)
        for i, cpu in enumerate(m.cpus):
            regs[i] = cpu.regs()
            pc[i] = cpu.pc
            hi[i] = cpu.hi
            lo[i] = cpu.lo
            state[i] = int(cpu.state)
        cpu_stats = m.cpu_stats_table()
        total = int(cpu_stats["instructions"].sum())
        self._rate.append((now, total))
        t0, n0 = self._rate[0]
        # Over the last second or so: steady enough for a plot, quick to follow a pause.
        while len(self._rate) > 2 and now - self._rate[1][0] > 1.0:
            self._rate.popleft()
            t0, n0 = self._rate[0]
        mips = (total - n0) / (now - t0) / 1e6 if now > t0 else 0.0
        misses = m.miss_counters()
        if self.page_group > 1:
            g = self.page_group
            rows = misses.shape[0] // g
            misses = misses[: rows * g].reshape(rows, g, -1).sum(axis=1, dtype=np.uint32)
        else:
            misses = misses.copy()
        consoles = []
        for guest in self.guests:
            out = guest.console.output
            consoles.append(ConsoleSnapshot(guest.name, len(out), bytes(out[-CONSOLE_TAIL:])))
        self._seq += 1
        return Snapshot(
            seq=self._seq, wall_time=now, clock_hz=m.config.clock_hz, nodes=m.config.nodes,
            sim_cycles=int(cpu_stats["cycles"].max()), instructions=total, guest_mips=mips,
            running=self.running, halted=self.halted, timing=m.timing,
            stopped_cpu=self.stopped_cpu, pc=pc, regs=regs, hi=hi, lo=lo, state=state,
            cpu_stats=cpu_stats, node_stats=m.node_stats_table(),
            link_counters=m.link_counters().copy(), miss_counters=misses,
            page_group=self.page_group, consoles=tuple(consoles),
            guests=tuple((g.name, g.cpus) for g in self.guests),
            breakpoints=self._breakpoint_list(), debug=self._debug_detail(),
            log=tuple(self._log), watchpoints=self._watchpoint_list(),
            targets=tuple(self.targets), vms=self._vms_info(misses),
        )

    def _breakpoint_list(self) -> tuple[Breakpoint, ...]:
        return tuple(Breakpoint(a, c, label, vm, self._hits.get((a, c, vm), 0),
                                self._conditions[(a, c, vm)].text
                                if (a, c, vm) in self._conditions else "")
                     for (a, c, vm), label in sorted(
            self._breakpoints.items(), key=lambda kv: (kv[0][0], kv[0][1] or -1, kv[0][2] or "")))

    def _watchpoint_list(self) -> tuple[Watchpoint, ...]:
        return tuple(Watchpoint(a, n, acc, c, label, vm) for (a, n, acc, c, vm), label in sorted(
            self._watchpoints.items(),
            key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], kv[0][3] or -1, kv[0][4] or "")))

    def _debug_detail(self) -> DebugDetail:
        d = self.target.detail(self.focus_cpu, self.memory_address, self.memory_space,
                               self.running)
        if self.memory_address is None:
            self.memory_address = d.memory_address  # the stack, to begin with
        if not self.running and d.regs is not None:
            d = dataclasses.replace(d, frames=self.call_stack(d.cpu, d.pc, d.regs))
        return d

    def call_stack(self, i: int, pc: int, regs: np.ndarray) -> tuple[Frame, ...]:
        """Target i's frames from its registers (walked with the programs' DWARF
        call-frame information; tables built at the first walk)."""
        images = self.images()
        if self._frame_tables is None or len(self._frame_tables) != len(images):
            # VMs share one kernel image: one table per distinct program.
            by_id: dict[int, FrameTable] = {}
            self._frame_tables = [by_id.setdefault(id(img), FrameTable(img)) for img in images]
        tables = list({id(t): t for t in self._frame_tables}.values())
        return walk(tables, pc, [int(r) for r in regs], lambda a, n: self.target.read(i, a, n))

    def _vms_info(self, misses: np.ndarray) -> VmsInfo | None:
        view = self.target.vms_view()
        if view is None:
            return None
        return view.info(misses, self.page_group, view.vcpus[self.focus_cpu], self.running)

    # ---- the debugger's access to the targets ----------------------------------

    def read(self, i: int, address: int, n: int, space: str = "virtual") -> bytes:
        """Up to n bytes of target i's memory, stopping where nothing is mapped."""
        return self.target.read(i, address, n, space)

    def translate(self, i: int, address: int, space: str = "virtual") -> int | None:
        """The machine address behind `address` for target i (-1: a page not allocated
        yet, which reads as zeros; None: unmapped)."""
        return self.target.translate(i, address, space)

    def close(self) -> None:
        """Free the machine, then whatever else the session holds (disk images...)."""
        self.machine.close()
        if self.core is not None:
            for release in self.core.closers:
                release()
            self.core = None
        for release in self.on_close:
            release()
        self.on_close.clear()
