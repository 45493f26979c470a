"""A Session: one machine, what runs on it, and a Qt-free run loop in slices.

The workbench's worker thread drives a Session (docs/app.md); tests and
benchmarks drive it directly. Everything that changes the machine goes through
`submit(command)`: the queue is drained at the start of every slice, so a
pause or a breakpoint is answered within one slice and the machine is only
ever touched by the thread that runs the slices. `snapshot()` copies what a
viewer needs into an immutable `Snapshot`, so the viewer never touches the
machine.

Today a session runs a bare-metal program on the test machine, and the whole
machine is one guest with one console. With the monitor, each virtual
machine becomes a guest with its own console and CPUs.
"""

from __future__ import annotations

import queue
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from disco_core.elf import ElfImage
from disco_core.machine import CpuState, ExitReason, Machine

# The largest miss matrix a snapshot carries; bigger machines are summed over
# groups of pages (a 32-node machine would otherwise copy 32 MiB per snapshot).
MAX_MISS_CELLS = 1 << 20
CONSOLE_TAIL = 64 * 1024  # bytes of console output a snapshot carries
CODE_BEFORE = 16  # instructions shown before pc
CODE_AFTER = 24
MEMORY_BYTES = 256
LOG_LINES = 200

# CP0 registers the debugger shows: (name, register, select).
CP0_REGISTERS: tuple[tuple[str, int, int], ...] = (
    ("Index", 0, 0), ("Random", 1, 0), ("EntryLo0", 2, 0), ("EntryLo1", 3, 0),
    ("Context", 4, 0), ("PageMask", 5, 0), ("Wired", 6, 0), ("BadVAddr", 8, 0),
    ("Count", 9, 0), ("EntryHi", 10, 0), ("Compare", 11, 0), ("Status", 12, 0),
    ("Cause", 13, 0), ("EPC", 14, 0), ("PRId", 15, 0), ("EBase", 15, 1),
    ("Config", 16, 0), ("ErrorEPC", 30, 0),
)

CPU_STATE_NAMES = {int(CpuState.RUNNING): "running", int(CpuState.WAITING): "waiting",
                   int(CpuState.PARKED): "parked"}


class Console(Protocol):
    """What a guest's console offers: everything printed so far, and input."""

    output: bytearray

    def feed(self, data: bytes) -> None: ...


@dataclass
class Guest:
    """Something with a name, CPUs and a console: the native machine, later a VM."""

    name: str
    cpus: tuple[int, ...]
    console: Console
    image: ElfImage | None = None  # symbols for the debugger


# ---- commands --------------------------------------------------------------


@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class Step:
    """Execute exactly one instruction on `cpu` (the machine stays paused)."""

    cpu: int


@dataclass(frozen=True)
class StepOver:
    """Step, but run a call (jal/jalr/bal) through to the instruction after its slot."""

    cpu: int


@dataclass(frozen=True)
class StepOut:
    """Run `cpu` until it reaches the return address in $ra."""

    cpu: int


@dataclass(frozen=True)
class RunTo:
    """Resume until `cpu` reaches `target` (an address or a symbol)."""

    cpu: int
    target: int | str


@dataclass(frozen=True)
class AddBreakpoint:
    """Stop before executing `target` (an address or a symbol); cpu None: any CPU."""

    target: int | str
    cpu: int | None = None


@dataclass(frozen=True)
class RemoveBreakpoint:
    target: int | str
    cpu: int | None = None


@dataclass(frozen=True)
class AddWatchpoint:
    """Stop after an instruction reads and/or writes [target, target + length).
    `access` is "w", "r" or "rw"; cpu None: any CPU."""

    target: int | str
    length: int = 4
    access: str = "w"
    cpu: int | None = None


@dataclass(frozen=True)
class RemoveWatchpoint:
    target: int | str
    length: int = 4
    access: str = "w"
    cpu: int | None = None


@dataclass(frozen=True)
class SetTiming:
    """Switch between timing mode (caches, fabric) and fast functional mode."""

    on: bool


@dataclass(frozen=True)
class Focus:
    """Which CPU the snapshot's debugger details describe, and the memory view's address."""

    cpu: int
    memory_address: int | None = None


@dataclass(frozen=True)
class FeedConsole:
    """Type bytes into a guest's console."""

    guest: str
    data: bytes


Command = (Pause | Resume | Step | StepOver | StepOut | RunTo | AddBreakpoint
           | RemoveBreakpoint | AddWatchpoint | RemoveWatchpoint | SetTiming | Focus
           | FeedConsole)


@dataclass(frozen=True)
class Event:
    """Something the session reports: `kind` is paused, resumed, breakpoint, step,
    halted, idle or error."""

    kind: str
    message: str
    cpu: int = -1
    pc: int = 0


# ---- snapshots -------------------------------------------------------------


@dataclass(frozen=True)
class ConsoleSnapshot:
    """The end of a console's output: `tail` is its last bytes, `total` all it ever printed.

    A viewer that has shown `n` bytes appends the last `total - n` bytes of
    `tail` (or starts again from `tail` when it fell further behind).
    """

    guest: str
    total: int
    tail: bytes


@dataclass(frozen=True)
class Breakpoint:
    address: int
    cpu: int | None
    label: str


@dataclass(frozen=True)
class Watchpoint:
    address: int
    length: int
    access: str  # "w", "r" or "rw"
    cpu: int | None
    label: str


@dataclass(frozen=True)
class DebugDetail:
    """What the debugger shows for the focused CPU."""

    cpu: int
    cp0: tuple[tuple[str, int], ...]
    code_address: int  # first address of `code`
    code: bytes  # may be short (or empty) where nothing is mapped
    memory_address: int
    memory: bytes
    tlb: np.ndarray  # (entries, 4) uint32: EntryHi, EntryLo0, EntryLo1, PageMask


@dataclass(frozen=True)
class Snapshot:
    """An immutable copy of everything a viewer shows; arrays are copies, never views."""

    seq: int
    wall_time: float  # time.monotonic() when taken
    clock_hz: int
    nodes: int
    sim_cycles: int  # the most any CPU has run (simulated time = sim_cycles / clock_hz)
    instructions: int  # summed over CPUs
    guest_mips: float  # million guest instructions per wall second, recently
    running: bool
    halted: bool
    timing: bool
    stopped_cpu: int  # the CPU that stopped the run (breakpoint, step), or -1
    # Per CPU.
    pc: np.ndarray  # (cpus,) uint32
    regs: np.ndarray  # (cpus, 32) uint32
    hi: np.ndarray
    lo: np.ndarray
    state: np.ndarray  # (cpus,) uint8, CpuState values
    cpu_stats: np.ndarray  # Machine.cpu_stats_table() (cycles, stall_cycles, misses_*...)
    node_stats: np.ndarray  # Machine.node_stats_table()
    link_counters: np.ndarray  # (nodes, dimensions) uint64
    miss_counters: np.ndarray  # (pages // page_group, nodes) uint32 (sums if grouped)
    page_group: int  # RAM pages per row of miss_counters
    consoles: tuple[ConsoleSnapshot, ...]
    guests: tuple[tuple[str, tuple[int, ...]], ...]
    breakpoints: tuple[Breakpoint, ...]
    debug: DebugDetail
    log: tuple[str, ...]
    watchpoints: tuple[Watchpoint, ...] = ()

    @property
    def sim_seconds(self) -> float:
        return self.sim_cycles / self.clock_hz

    @property
    def cpus(self) -> int:
        return len(self.pc)


# ---- the session -----------------------------------------------------------


@dataclass
class _Temp:
    """A breakpoint the session set for step over/out or run-to, removed when hit."""

    address: int
    cpu: int


class Session:
    """A machine, its guests, and the run loop's state."""

    def __init__(self, machine: Machine, guests: list[Guest], title: str = "") -> None:
        self.machine = machine
        self.guests = guests
        self.title = title or "Disco Workbench"
        self.running = True
        self.halted = False
        self.idle = False  # every CPU waits: nothing to run until input arrives
        self.stopped_cpu = -1
        self.focus_cpu = 0
        self.memory_address: int | None = None
        self.on_close: list[Callable[[], None]] = []
        # With virtual machines the monitor runs the machine (its run loop serves
        # the exits); the debugger cannot stop a VM yet.
        self.monitor: object | None = None
        self._commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self.commands_applied = 0  # by the last step_slice: something may have changed
        self._breakpoints: dict[tuple[int, int | None], str] = {}
        self._watchpoints: dict[tuple[int, int, str, int | None], str] = {}
        self._temp: _Temp | None = None
        self._log: deque[str] = deque(maxlen=LOG_LINES)
        self._seq = 0
        self._instructions = 0
        self._rate: deque[tuple[float, int]] = deque(maxlen=32)
        self._rate.append((time.monotonic(), 0))
        pages = machine.ram_bytes // 4096
        nodes = machine.config.nodes
        group = 1
        while (pages // group) * nodes > MAX_MISS_CELLS:
            group *= 2
        self.page_group = group

    # ---- the command queue (any thread) ------------------------------------

    def submit(self, command: Command) -> None:
        """Queue a command; the thread running slices applies it before the next slice."""
        self._commands.put(command)

    def wait_for_command(self, timeout: float) -> bool:
        """Block up to `timeout` s for a command (a paused loop's idle wait); True if one came."""
        try:
            command = self._commands.get(timeout=timeout)
        except queue.Empty:
            return False
        self._commands.put(command)  # order kept: nothing else reads the queue meanwhile
        return True

    # ---- running (the owning thread) ---------------------------------------

    def step_slice(self, budget: int) -> list[Event]:
        """Apply queued commands, then run up to `budget` instructions if running."""
        events: list[Event] = []
        self.commands_applied = 0
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                break
            self.commands_applied += 1
            try:
                self._apply(command, events)
            except (KeyError, ValueError, IndexError) as e:
                events.append(Event("error", str(e).strip("'\"")))
            except Exception as e:  # a machine error must not kill the loop
                events.append(Event("error", f"{type(e).__name__}: {e}"))
        if self.running and not self.halted and budget > 0:
            if self.monitor is not None:
                self._run_monitor(budget, events)
            else:
                self._run(budget, events)
        for e in events:
            self._log.append(e.message)
        return events

    def _run(self, budget: int, events: list[Event]) -> None:
        m = self.machine
        left = budget
        while left > 0 and self.running:
            ex = m.run(left)
            left -= ex.executed
            self._instructions += ex.executed
            reason = ex.reason
            if reason == ExitReason.BUDGET:
                self.idle = False
                return
            if reason == ExitReason.HOTPAGE:
                m.hot_pages()  # no NUMA policy runs natively yet: drop the reports
                continue
            if reason == ExitReason.BREAKPOINT:
                self._stopped_at(ex.cpu, events)
                return
            if reason == ExitReason.WATCHPOINT and ex.watch is not None:
                w = ex.watch
                self.running = False
                self.stopped_cpu = ex.cpu
                self.focus_cpu = ex.cpu
                what = "wrote" if w.is_write else "read"
                events.append(Event("watchpoint", f"CPU {ex.cpu} {what} 0x{w.value:x} at "
                                    f"{self.describe(w.va)} (instruction at "
                                    f"{self.describe(w.pc)})", ex.cpu, ex.pc))
                events.append(Event("paused", "paused", ex.cpu, ex.pc))
                return
            if reason == ExitReason.HALT:
                self.halted = True
                self.running = False
                events.append(Event("halted", f"machine halted with code {ex.code}", ex.cpu,
                                    ex.pc))
                return
            if reason == ExitReason.WAIT:
                if not self.idle:
                    events.append(Event("idle", "every CPU is waiting"))
                self.idle = True
                return
            # An exception on a monitored CPU (no monitor runs here yet) or anything new.
            self.running = False
            events.append(Event("error", f"run stopped: {reason.name} on CPU {ex.cpu} at "
                                         f"0x{ex.pc:08x}", ex.cpu, ex.pc))
            return

    def _run_monitor(self, budget: int, events: list[Event]) -> None:
        m = self.machine
        before = int(m.cpu_stats_table()["instructions"].sum())
        r = self.monitor.run(budget)  # type: ignore[attr-defined]
        self._instructions += int(m.cpu_stats_table()["instructions"].sum()) - before
        if r == "budget":
            self.idle = False
        elif r == "idle":
            if not self.idle:
                events.append(Event("idle", "every virtual CPU is waiting"))
            self.idle = True
        else:  # "stopped" (every VM stopped) or "halt"
            self.halted = True
            self.running = False
            events.append(Event("halted", "every virtual machine has stopped"
                                if r == "stopped" else "machine halted"))

    def _stopped_at(self, cpu: int, events: list[Event]) -> None:
        pc = self.machine.cpus[cpu].pc
        self.running = False
        self.stopped_cpu = cpu
        self.focus_cpu = cpu
        temp = self._temp
        if temp is not None and temp.address == pc and temp.cpu == cpu:
            self._clear_temp()
            events.append(Event("step", f"CPU {cpu} stopped at {self.describe(pc)}", cpu, pc))
        else:
            events.append(Event("breakpoint", f"CPU {cpu} hit breakpoint at "
                                              f"{self.describe(pc)}", cpu, pc))
        events.append(Event("paused", "paused", cpu, pc))

    def _apply(self, c: Command, events: list[Event]) -> None:
        m = self.machine
        if self.monitor is not None and isinstance(
                c, Step | StepOver | StepOut | RunTo | AddBreakpoint | AddWatchpoint):
            raise ValueError("the debugger cannot stop a virtual machine yet: stepping, "
                             "breakpoints and watchpoints work on the bare-metal and native "
                             "kernel sessions")
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
            cpu = m.cpus[c.cpu]
            pc = cpu.pc
            if self._is_call(c.cpu, pc):
                self._run_until(c.cpu, pc + 8, events)
            else:
                self._step(c.cpu, events)
        elif isinstance(c, StepOut):
            self._run_until(c.cpu, m.cpus[c.cpu].gpr[31], events)
        elif isinstance(c, RunTo):
            self._run_until(c.cpu, self.resolve(c.target), events)
        elif isinstance(c, AddBreakpoint):
            address = self.resolve(c.target)
            m.add_breakpoint(address, c.cpu)
            self._breakpoints[(address, c.cpu)] = self.describe(address)
            where = "any CPU" if c.cpu is None else f"CPU {c.cpu}"
            events.append(Event("breakpoint-set",
                                f"breakpoint at {self.describe(address)} on {where}"))
        elif isinstance(c, RemoveBreakpoint):
            address = self.resolve(c.target)
            if self._breakpoints.pop((address, c.cpu), None) is not None:
                if not (self._temp and (self._temp.address, self._temp.cpu) == (address, c.cpu)):
                    m.remove_breakpoint(address, c.cpu)
        elif isinstance(c, AddWatchpoint | RemoveWatchpoint):
            if c.access not in ("w", "r", "rw"):
                raise ValueError(f"watchpoint access {c.access!r} is not w, r or rw")
            if c.length < 1:
                raise ValueError(f"watchpoint length {c.length} must be at least 1")
            address = self.resolve(c.target)
            key = (address, c.length, c.access, c.cpu)
            flags = {"read": "r" in c.access, "write": "w" in c.access}
            if isinstance(c, AddWatchpoint):
                if key not in self._watchpoints:
                    m.add_watchpoint(address, c.length, cpu=c.cpu, **flags)
                self._watchpoints[key] = self.describe(address)
                where = "any CPU" if c.cpu is None else f"CPU {c.cpu}"
                events.append(Event("watchpoint-set", f"watching {c.length} bytes at "
                                    f"{self.describe(address)} ({c.access}) on {where}"))
            elif self._watchpoints.pop(key, None) is not None:
                m.remove_watchpoint(address, c.length, cpu=c.cpu, **flags)
        elif isinstance(c, SetTiming):
            m.timing = c.on
        elif isinstance(c, Focus):
            if not 0 <= c.cpu < m.config.cpus:
                raise ValueError(f"CPU {c.cpu} does not exist: the machine has "
                                 f"{m.config.cpus} CPUs")
            self.focus_cpu = c.cpu
            if c.memory_address is not None:
                self.memory_address = c.memory_address & 0xFFFFFFFF
        elif isinstance(c, FeedConsole):
            self.guest(c.guest).console.feed(c.data)
            self.idle = False

    def _step(self, cpu: int, events: list[Event]) -> None:
        self._check_cpu(cpu)
        state = self.machine.cpus[cpu].state
        if state != CpuState.RUNNING:
            raise ValueError(f"CPU {cpu} is {CPU_STATE_NAMES.get(int(state))}: only a running "
                             "CPU can step")
        if self.running:
            self.running = False
            events.append(Event("paused", "paused"))
        ex = self.machine.step(cpu)
        self._instructions += ex.executed
        self.stopped_cpu = cpu
        self.focus_cpu = cpu
        if ex.reason == ExitReason.HALT:
            self.halted = True
        pc = self.machine.cpus[cpu].pc
        events.append(Event("step", f"CPU {cpu} at {self.describe(pc)}", cpu, pc))

    def _run_until(self, cpu: int, address: int, events: list[Event]) -> None:
        self._check_cpu(cpu)
        self._clear_temp()
        address &= 0xFFFFFFFF
        if (address, cpu) not in self._breakpoints:
            self.machine.add_breakpoint(address, cpu)
        self._temp = _Temp(address, cpu)
        self.running = True
        self.stopped_cpu = -1
        events.append(Event("resumed", f"running CPU {cpu} to {self.describe(address)}", cpu))

    def _clear_temp(self) -> None:
        t = self._temp
        if t is not None:
            self._temp = None
            if (t.address, t.cpu) not in self._breakpoints:
                self.machine.remove_breakpoint(t.address, t.cpu)

    def _check_cpu(self, cpu: int) -> None:
        if not 0 <= cpu < self.machine.config.cpus:
            raise ValueError(f"CPU {cpu} does not exist: the machine has "
                             f"{self.machine.config.cpus} CPUs")

    def _is_call(self, cpu: int, pc: int) -> bool:
        try:
            (word,) = struct.unpack("<I", self.machine.read_virt(cpu, pc, 4))
        except Exception:
            return False
        op = word >> 26
        if op == 3:  # jal
            return True
        if op == 0 and (word & 0x3F) == 9:  # jalr
            return True
        # bal / bgezal / bltzal (REGIMM rt = 0x10, 0x11, 0x12, 0x13)
        return op == 1 and ((word >> 16) & 0x1F) in (0x10, 0x11, 0x12, 0x13)

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
        raise KeyError(f"no symbol named {text!r} in "
                       f"{', '.join(i.name for i in self.images()) or 'any loaded program'}")

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
        for g in self.guests:
            out = g.console.output
            consoles.append(ConsoleSnapshot(g.name, len(out), bytes(out[-CONSOLE_TAIL:])))
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
            breakpoints=tuple(Breakpoint(a, c, label)
                              for (a, c), label in sorted(self._breakpoints.items(),
                                                          key=lambda kv: (kv[0][0],
                                                                          kv[0][1] or -1))),
            debug=self._debug_detail(int(pc[self.focus_cpu])), log=tuple(self._log),
            watchpoints=tuple(Watchpoint(a, n, acc, c, label)
                              for (a, n, acc, c), label in sorted(
                                  self._watchpoints.items(),
                                  key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], kv[0][3] or -1))),
        )

    def _debug_detail(self, pc: int) -> DebugDetail:
        m = self.machine
        cpu = m.cpus[self.focus_cpu]
        cp0 = tuple((name, cpu.cp0(reg, sel)) for name, reg, sel in CP0_REGISTERS)
        start = (pc - 4 * CODE_BEFORE) & 0xFFFFFFFF
        code = self._read(self.focus_cpu, start, 4 * (CODE_BEFORE + CODE_AFTER))
        if self.memory_address is None:
            self.memory_address = int(cpu.gpr[29]) & ~0xF  # the stack, to begin with
        memory = self._read(self.focus_cpu, self.memory_address, MEMORY_BYTES)
        entries = m.config.tlb_entries
        tlb = np.array([cpu.tlb(i) for i in range(entries)], dtype=np.uint32).reshape(entries, 4)
        return DebugDetail(self.focus_cpu, cp0, start, code, self.memory_address, memory, tlb)

    def _read(self, cpu: int, va: int, n: int) -> bytes:
        """Read what is mapped, stopping at the first word that is not."""
        try:
            return self.machine.read_virt(cpu, va, n)
        except Exception:
            pass
        out = bytearray()
        for a in range(va, va + n, 4):
            try:
                out += self.machine.read_virt(cpu, a & 0xFFFFFFFF, 4)
            except Exception:
                break
        return bytes(out)

    def close(self) -> None:
        """Free the machine, then whatever else the session holds (disk images...)."""
        self.machine.close()
        for release in self.on_close:
            release()
        self.on_close.clear()


# ---- sessions the workbench knows --------------------------------------------


def baremetal_session(program: str | Path = "numademo", preset_name: str = "flash8",
                      **overrides: object) -> Session:
    """A bare-metal program (default: resources/baremetal/numademo.c) on the test machine."""
    from disco_core.guest import build_baremetal
    from disco_core.presets import preset
    from disco_core.testmachine import TestMachine

    config = preset(preset_name, **overrides)
    defines = {"NODE_BYTES": config.memory_per_node}
    elf = build_baremetal(program, defines=defines)
    machine = TestMachine(config=config)
    image = machine.load_elf(elf)
    name = Path(str(program)).stem
    guest = Guest("native", tuple(range(config.cpus)), machine.console, image)
    return Session(machine, [guest], title=f"{name} on {preset_name}")


def kernel_session(program: str | None = None, preset_name: str = "flash8") -> Session:
    """The native guest kernel (resources/guest/) booted on a fresh copy-on-write root
    image; it reaches its shell prompt within a second of simulated time.
    `program` is ignored (the kernel runs what is typed at its console)."""
    import shutil
    import tempfile

    from disco_core.boot import Booted, root_image
    from disco_core.devices import DiskImage

    tmp = Path(tempfile.mkdtemp(prefix="disco-workbench-"))
    try:
        disk = DiskImage.open(root_image(tmp / "root.img"), persistent=False)
        booted = Booted(preset_name, disk=disk)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    cpus = tuple(range(booted.machine.config.cpus))
    guest = Guest("native", cpus, booted.devices.uart, booted.image)
    session = Session(booted.machine, [guest], title=f"native kernel on {preset_name}")
    session.on_close.append(booted.devices.close)
    session.on_close.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
    return session


class _VmConsole:
    """A VM's console as a Session guest sees it: the monitor's output buffer,
    and input that goes to that VM only."""

    def __init__(self, monitor: object, vm: object) -> None:
        self._monitor = monitor
        self._vm = vm

    @property
    def output(self) -> bytearray:
        return self._vm.console_out  # type: ignore[attr-defined, no-any-return]

    def feed(self, data: bytes) -> None:
        self._monitor.console_input(self._vm, data)  # type: ignore[attr-defined]


def vms_session(program: str | None = None, preset_name: str = "flash8",
                vms: int = 4) -> Session:
    """The guest kernel's disco flavour as `vms` virtual machines under the monitor,
    each with a copy-on-write root disk over one shared image and its own console.
    `program` is ignored (each VM runs what is typed at its console)."""
    import shutil
    import tempfile

    from disco_core.boot import root_image, vm_specs
    from disco_core.elf import load_elf
    from disco_core.kernel import build_kernel
    from disco_core.monitor import Monitor
    from disco_core.monitor.numa import NumaParams
    from disco_core.monitor.vdisk import VirtualDisk
    from disco_core.presets import preset

    tmp = Path(tempfile.mkdtemp(prefix="disco-workbench-"))
    disks: list[VirtualDisk] = []
    machine: Machine | None = None
    try:
        image = load_elf(build_kernel("disco"))
        base = root_image(tmp / "root.img")
        disks = [VirtualDisk.copy_on_write(base) for _ in range(vms)]
        # FLASH reports hot pages to the monitor's NUMA manager (docs/numa.md)
        machine = Machine(preset(preset_name, hot_threshold=NumaParams().hot_threshold))
        monitor = Monitor(machine)
        vmlist = [monitor.create_vm(spec)  # type: ignore[arg-type]
                  for spec in vm_specs(machine, image, vms, disks)]
        for vm in vmlist:
            monitor.start_vm(vm)
    except BaseException:
        for d in disks:
            d.close()
        if machine is not None:
            machine.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    guests = []
    for vm in vmlist:
        home = set(vm.home_nodes)
        cpus = tuple(c for c in range(machine.config.cpus) if machine.node_of_cpu(c) in home)
        guests.append(Guest(vm.name, cpus, _VmConsole(monitor, vm), image))
    session = Session(machine, guests, title=f"{vms} virtual machines on {preset_name}")
    session.monitor = monitor
    for d in disks:
        session.on_close.append(d.close)
    session.on_close.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
    return session


SESSION_KINDS: dict[str, Callable[..., Session]] = {
    "baremetal": baremetal_session,
    "kernel": kernel_session,
    "vms": vms_session,
}


def default_session() -> Session:
    """What `disco-workbench` opens: numademo on flash8."""
    return baremetal_session()


@dataclass
class Throughput:
    """Guest instructions over wall time, for benchmarks."""

    instructions: int = 0
    seconds: float = 0.0
    samples: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.instructions / self.seconds if self.seconds else 0.0


def run_headless(session: Session, seconds: float, budget: int = 1_000_000,
                 snapshot_every: float = 0.0) -> Throughput:
    """Run slices for `seconds` of wall time on this thread (optionally taking snapshots)."""
    result = Throughput()
    start = time.monotonic()
    last_snap = start
    first = session.snapshot().instructions
    while True:
        now = time.monotonic()
        if now - start >= seconds:
            break
        session.step_slice(budget)
        if snapshot_every and now - last_snap >= snapshot_every:
            session.snapshot()
            last_snap = now
    end = session.snapshot()
    result.instructions = end.instructions - first
    result.seconds = time.monotonic() - start
    return result
