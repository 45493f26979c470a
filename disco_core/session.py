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
from collections import Counter, deque
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
    """Stop before executing `target` (an address or a symbol); cpu None: any CPU.
    With virtual machines `cpu` is a vCPU (a debug target, see Session.targets) and
    `vm` names the one VM it applies to (None: every VM)."""

    target: int | str
    cpu: int | None = None
    vm: str | None = None


@dataclass(frozen=True)
class RemoveBreakpoint:
    target: int | str
    cpu: int | None = None
    vm: str | None = None


@dataclass(frozen=True)
class AddWatchpoint:
    """Stop after an instruction reads and/or writes [target, target + length).
    `access` is "w", "r" or "rw"; cpu None: any CPU."""

    target: int | str
    length: int = 4
    access: str = "w"
    cpu: int | None = None
    vm: str | None = None


@dataclass(frozen=True)
class RemoveWatchpoint:
    target: int | str
    length: int = 4
    access: str = "w"
    cpu: int | None = None
    vm: str | None = None


@dataclass(frozen=True)
class SetTiming:
    """Switch between timing mode (caches, fabric) and fast functional mode."""

    on: bool


@dataclass(frozen=True)
class Focus:
    """Which debug target (CPU, or vCPU with VMs) the snapshot's debugger details
    describe, the memory view's address, and with VMs its address space:
    "virtual" (through the vCPU's virtual TLB, or the relocated kseg0),
    "physical" (guest-physical, through the pmap) or "machine"."""

    cpu: int
    memory_address: int | None = None
    space: str | None = None


@dataclass(frozen=True)
class TraceMonitor:
    """Record the monitor's frequent events (TLB writes) in its event log, or stop."""

    on: bool


@dataclass(frozen=True)
class FeedConsole:
    """Type bytes into a guest's console."""

    guest: str
    data: bytes


Command = (Pause | Resume | Step | StepOver | StepOut | RunTo | AddBreakpoint
           | RemoveBreakpoint | AddWatchpoint | RemoveWatchpoint | SetTiming | Focus
           | FeedConsole | TraceMonitor)


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
    vm: str | None = None


@dataclass(frozen=True)
class Watchpoint:
    address: int
    length: int
    access: str  # "w", "r" or "rw"
    cpu: int | None
    label: str
    vm: str | None = None


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
    # The target's registers: a CPU's, or a vCPU's (from its CPU, or saved while off one).
    pc: int = 0
    regs: np.ndarray | None = None  # (32,) uint32
    hi: int = 0
    lo: int = 0
    where: str = ""  # "CPU 3", or "vm1 vCPU 0 on CPU 1 (running)"
    # Virtual machines only.
    vcp0: tuple[tuple[str, int], ...] = ()  # the vCPU's virtual CP0
    l2tlb: np.ndarray | None = None  # (n, 4) int64: vpn, ASID (0x100 global), EntryLo, gpn
    pmap: np.ndarray | None = None  # (guest pages,) int64: machine page, or -1
    memory_space: str = "virtual"
    monitor_events: tuple[object, ...] = ()  # the monitor's newest events (events.Event)


@dataclass(frozen=True)
class VmsInfo:
    """What the views show of the virtual machines (copies). Cumulative counters
    are per VM in `names` order; viewers take differences between snapshots."""

    names: tuple[str, ...]
    vcpu_names: tuple[str, ...]  # per vCPU (monitor-wide id order): "vm1 vCPU 0"
    vcpu_vm: tuple[int, ...]  # per vCPU: its VM
    vcpu_state: tuple[str, ...]  # per vCPU: ready, running, waiting, stopped
    cpu_vcpu: np.ndarray  # (cpus,) int: the vCPU on each CPU, or -1 (the monitor's idle loop)
    vm_state: tuple[str, ...]  # running, stopped (with the reason)
    pmap_rows: tuple[np.ndarray, ...]  # per VM: guest page -> RAM page (miss row), or -1
    page_owner: np.ndarray  # (RAM pages,) int16: VM, -1 free, -2 shared by several VMs
    moved: np.ndarray  # RAM pages that recently migrated or got a replica
    memory: np.ndarray  # (VMs, nodes) pages of each VM on each node
    instructions: np.ndarray  # (VMs,) guest instructions executed
    cycles: np.ndarray  # (VMs,) CPU cycles spent running the VM (monitor's included)
    monitor_cycles: np.ndarray  # (VMs,) cycles the monitor charged for the VM's exits
    exits: np.ndarray  # (VMs,) exits to the monitor
    local_misses: np.ndarray  # (VMs,) misses on the VM's pages from their home node
    misses: np.ndarray  # (VMs,) all misses on the VM's pages


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
    targets: tuple[str, ...] = ()  # what the debugger can choose: CPUs, or vCPUs with VMs
    vms: VmsInfo | None = None  # with virtual machines

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
        # What the debugger chooses from (Step(cpu=i) etc.): here the CPUs; with
        # virtual machines (MonitorSession) the vCPUs.
        self.targets: list[str] = [f"CPU {i}" for i in range(machine.config.cpus)]
        # With virtual machines the monitor runs the machine (its run loop serves the exits).
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
        if isinstance(c, TraceMonitor):
            raise ValueError("there is no monitor in this session: only virtual machines "
                             "have a monitor event log")
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
            breakpoints=self._breakpoint_list(), debug=self._debug_detail(pc),
            log=tuple(self._log), watchpoints=self._watchpoint_list(),
            targets=tuple(self.targets), vms=self._vms_info(misses),
        )

    def _breakpoint_list(self) -> tuple[Breakpoint, ...]:
        return tuple(Breakpoint(a, c, label)
                     for (a, c), label in sorted(self._breakpoints.items(),
                                                 key=lambda kv: (kv[0][0], kv[0][1] or -1)))

    def _watchpoint_list(self) -> tuple[Watchpoint, ...]:
        return tuple(Watchpoint(a, n, acc, c, label)
                     for (a, n, acc, c), label in sorted(
                         self._watchpoints.items(),
                         key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], kv[0][3] or -1)))

    def _vms_info(self, misses: np.ndarray) -> VmsInfo | None:
        return None

    def _debug_detail(self, pcs: np.ndarray) -> DebugDetail:
        m = self.machine
        pc = int(pcs[self.focus_cpu])
        cpu = m.cpus[self.focus_cpu]
        cp0 = tuple((name, cpu.cp0(reg, sel)) for name, reg, sel in CP0_REGISTERS)
        start = (pc - 4 * CODE_BEFORE) & 0xFFFFFFFF
        code = self._read(self.focus_cpu, start, 4 * (CODE_BEFORE + CODE_AFTER))
        if self.memory_address is None:
            self.memory_address = int(cpu.gpr[29]) & ~0xF  # the stack, to begin with
        memory = self._read(self.focus_cpu, self.memory_address, MEMORY_BYTES)
        entries = m.config.tlb_entries
        tlb = np.array([cpu.tlb(i) for i in range(entries)], dtype=np.uint32).reshape(entries, 4)
        return DebugDetail(self.focus_cpu, cp0, start, code, self.memory_address, memory, tlb,
                           pc=pc, regs=np.asarray(cpu.regs(), np.uint32).copy(), hi=cpu.hi,
                           lo=cpu.lo, where=f"CPU {self.focus_cpu}")

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


# ---- virtual machines: the debugger on vCPUs -----------------------------------

SSEG, SSEG_END = 0xC0000000, 0xE0000000  # a VM kernel's relocated kseg0: VA = 0xC0000000 + gpa
KUSEG_END = 0x80000000
MEMORY_SPACES = ("virtual", "physical", "machine")
# Monitor exits one step may serve (TLB refills, a kick) before its guest instruction runs.
MAX_TRANSPARENT = 8
VM_INFO_EVERY = 0.25  # s between copies of the pmaps, L2TLB and event log while running
DEBUG_EVERY = 0.5  # s between copies of the focused vCPU's details while running
MONITOR_EVENTS = 500  # monitor events a snapshot carries
MOVED_SECONDS = 2.0  # how long a migrated or replicated page stays marked
_MOVES = ("migrate", "replicate", "collapse")


def _ram_rows(mpn: np.ndarray) -> np.ndarray:
    """Machine page numbers -> RAM page indexes (rows of the miss counters); -1 stays."""
    from disco_core.mips import DEVICE_WINDOW_PFN, HIGH_RAM_PFN

    return np.where(mpn < 0, -1, np.where(mpn < DEVICE_WINDOW_PFN, mpn,
                                          DEVICE_WINDOW_PFN + mpn - HIGH_RAM_PFN))


class MonitorSession(Session):
    """Virtual machines under the monitor; the debugger's targets are the vCPUs.

    Breakpoints and watchpoints are set in the machine for every CPU (a vCPU may
    run on any) and filtered here: `Monitor.run` returns at every hit, and a hit
    by a vCPU the breakpoint is not for (another VM's, at a kernel address every
    VM shares) is resumed at once - the core then executes the instruction
    instead of stopping again - so nobody sees it. A step executes one guest
    instruction of a vCPU on its CPU with `Machine.step`; an exit to the monitor
    on the way (a TLB refill, the monitor's kick) is served as `Monitor.run`
    would, and the instruction runs again, up to MAX_TRANSPARENT times. When the
    monitor emulates the instruction (a privileged one, a monitor call) that is
    the step; when it reflects an exception into the guest the step ends at the
    guest's exception vector, as on a real CPU.
    """

    def __init__(self, machine: Machine, guests: list[Guest], monitor: object,
                 title: str = "") -> None:
        super().__init__(machine, guests, title)
        self.monitor = monitor
        mon = monitor
        self.vcpus = sorted((v for vm in mon.vms for v in vm.vcpus),  # type: ignore[attr-defined]
                            key=lambda v: v.gid)
        self.targets = [f"{v.vm.name} vCPU {v.index}" for v in self.vcpus]
        self.target_vms = [v.vm.name for v in self.vcpus]  # the VM of each target
        self.memory_space = "virtual"
        self._bps: dict[tuple[int, int | None, str | None], str] = {}
        self._wps: dict[tuple[int, int, str, int | None, str | None], str] = {}
        self._machine_bps: Counter[int] = Counter()
        self._machine_wps: Counter[tuple[int, int, str]] = Counter()
        nvm = len(mon.vms)  # type: ignore[attr-defined]
        self._vm_instructions = np.zeros(nvm, np.int64)
        self._vm_cycles = np.zeros(nvm, np.int64)
        self._cached: dict[str, object] = {}
        self._cached_at = -1.0
        self._debug: DebugDetail | None = None
        self._debug_at = -1.0
        self._misses_at = -2.0  # the refresh the per-VM miss sums below belong to
        self._vm_misses = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        self._moved: deque[tuple[float, int]] = deque(maxlen=4096)
        self._event_seq = 0

    # ---- running ------------------------------------------------------------------

    def _counters(self) -> tuple[list[int], list[int]]:
        stats = [c.raw_stats() for c in self.machine.cpus]
        return [int(s.instructions) for s in stats], [int(s.cycles) for s in stats]

    def _run_monitor(self, budget: int, events: list[Event]) -> None:
        mon = self.monitor
        left = budget
        while left > 0 and self.running:
            ins0, cyc0 = self._counters()
            r = mon.run(left)  # type: ignore[attr-defined]
            ins1, cyc1 = self._counters()
            done = sum(ins1) - sum(ins0)
            self._instructions += done
            for ci, v in enumerate(mon.current):  # type: ignore[attr-defined]
                if v is not None:
                    self._vm_instructions[v.vm.id] += ins1[ci] - ins0[ci]
                    self._vm_cycles[v.vm.id] += cyc1[ci] - cyc0[ci]
            left -= max(done, 1)
            if r == "budget":
                self.idle = False
                return
            if r == "idle":
                if not self.idle:
                    events.append(Event("idle", "every virtual CPU is waiting"))
                self.idle = True
                return
            if r in ("breakpoint", "watchpoint", "step"):
                if self._debug_stop(mon.debug_stop, events):  # type: ignore[attr-defined]
                    return
                continue  # not for the VM it was set for: on (the core steps over it)
            self.halted = True
            self.running = False
            events.append(Event("halted", "every virtual machine has stopped"
                                if r == "stopped" else "machine halted"))
            return

    def _debug_stop(self, stop: object, events: list[Event]) -> bool:
        """A breakpoint or watchpoint exit: stop if it is for the vCPU that hit it."""
        v = stop.vcpu  # type: ignore[attr-defined]
        if v is None:  # the monitor's idle loop
            return False
        ci, pc = stop.cpu, stop.pc  # type: ignore[attr-defined]
        name = self.targets[v.gid]
        if stop.reason == "watchpoint":  # type: ignore[attr-defined]
            va, is_write, value, wpc = stop.watch  # type: ignore[attr-defined]
            hit = [k for k in self._wps if k[0] <= va < k[0] + k[1]
                   and ("w" in k[2] if is_write else "r" in k[2]) and self._applies(k[3], k[4], v)]
            if not hit:
                return False
            what = "wrote" if is_write else "read"
            self._stop(v, ci, events, Event(
                "watchpoint", f"{name} {what} 0x{value:x} at {self.describe(va)} "
                f"(instruction at {self.describe(wpc)}) on CPU {ci}", v.gid, pc))
            return True
        t = self._temp
        if t is not None and t.address == pc and t.cpu == v.gid:
            self._clear_temp()
            self._stop(v, ci, events, Event("step", f"{name} stopped at {self.describe(pc)}",
                                            v.gid, pc))
            return True
        if any(k[0] == pc and self._applies(k[1], k[2], v) for k in self._bps):
            self._stop(v, ci, events, Event(
                "breakpoint", f"{name} hit breakpoint at {self.describe(pc)} on CPU {ci}",
                v.gid, pc))
            return True
        return False

    @staticmethod
    def _applies(gid: int | None, vm: str | None, v: object) -> bool:
        return (vm is None or vm == v.vm.name) and (gid is None or gid == v.gid)  # type: ignore

    def _stop(self, v: object, ci: int, events: list[Event], event: Event) -> None:
        self.running = False
        self.stopped_cpu = ci
        self.focus_cpu = v.gid  # type: ignore[attr-defined]
        events.append(event)
        events.append(Event("paused", "paused", event.cpu, event.pc))

    # ---- commands -------------------------------------------------------------------

    def _apply(self, c: Command, events: list[Event]) -> None:
        if isinstance(c, Step):
            self._step_vcpu(c.cpu, events)
        elif isinstance(c, StepOver):
            v = self._vcpu(c.cpu)
            pc = self._vcpu_regs(v)[0]
            if self._is_call_at(v, pc):
                self._run_until(c.cpu, pc + 8, events)
            else:
                self._step_vcpu(c.cpu, events)
        elif isinstance(c, StepOut):
            self._run_until(c.cpu, int(self._vcpu_regs(self._vcpu(c.cpu))[1][31]), events)
        elif isinstance(c, RunTo):
            self._vcpu(c.cpu)
            self._run_until(c.cpu, self.resolve(c.target), events)
        elif isinstance(c, AddBreakpoint | RemoveBreakpoint):
            address = self.resolve(c.target)
            vm = self._scope(c.cpu, c.vm)
            key = (address, c.cpu, vm)
            if isinstance(c, AddBreakpoint):
                if key not in self._bps:
                    self._bp_ref(address, 1)
                self._bps[key] = self.describe(address)
                events.append(Event("breakpoint-set", f"breakpoint at {self.describe(address)} "
                                    f"for {self._scope_text(c.cpu, vm)}"))
            elif self._bps.pop(key, None) is not None:
                self._bp_ref(address, -1)
        elif isinstance(c, AddWatchpoint | RemoveWatchpoint):
            if c.access not in ("w", "r", "rw"):
                raise ValueError(f"watchpoint access {c.access!r} is not w, r or rw")
            if c.length < 1:
                raise ValueError(f"watchpoint length {c.length} must be at least 1")
            address = self.resolve(c.target)
            vm = self._scope(c.cpu, c.vm)
            wkey = (address, c.length, c.access, c.cpu, vm)
            if isinstance(c, AddWatchpoint):
                if wkey not in self._wps:
                    self._wp_ref((address, c.length, c.access), 1)
                self._wps[wkey] = self.describe(address)
                events.append(Event("watchpoint-set", f"watching {c.length} bytes at "
                                    f"{self.describe(address)} ({c.access}) for "
                                    f"{self._scope_text(c.cpu, vm)}"))
            elif self._wps.pop(wkey, None) is not None:
                self._wp_ref((address, c.length, c.access), -1)
        elif isinstance(c, Focus):
            self._vcpu(c.cpu)
            if c.space is not None:
                if c.space not in MEMORY_SPACES:
                    raise ValueError(f"memory space {c.space!r} is not one of "
                                     f"{', '.join(MEMORY_SPACES)}")
                self.memory_space = c.space
            self.focus_cpu = c.cpu
            if c.memory_address is not None:
                self.memory_address = c.memory_address & 0xFFFFFFFF
            self._cached_at = self._debug_at = -1.0  # the details of another vCPU
        elif isinstance(c, TraceMonitor):
            self.monitor.events.trace(on=c.on)  # type: ignore[attr-defined]
        else:
            super()._apply(c, events)

    def _vcpu(self, gid: int) -> object:
        if not 0 <= gid < len(self.vcpus):
            raise ValueError(f"vCPU {gid} does not exist: there are {len(self.vcpus)} "
                             f"({', '.join(self.targets)})")
        return self.vcpus[gid]

    def _scope(self, gid: int | None, vm: str | None) -> str | None:
        """The VM a breakpoint is for: the named one, or the one of its vCPU."""
        if vm is not None:
            self.guest(vm)  # a clear error for a VM that does not exist
        if gid is not None:
            v = self._vcpu(gid)
            if vm is not None and vm != v.vm.name:  # type: ignore[attr-defined]
                raise ValueError(f"{self.targets[gid]} is not in VM {vm}")
            vm = v.vm.name  # type: ignore[attr-defined]
        return vm

    def _scope_text(self, gid: int | None, vm: str | None) -> str:
        return self.targets[gid] if gid is not None else (vm if vm else "every VM")

    def _bp_ref(self, address: int, delta: int) -> None:
        n = self._machine_bps[address]
        if n == 0 and delta > 0:
            self.machine.add_breakpoint(address, None)
        elif n == 1 and delta < 0:
            self.machine.remove_breakpoint(address, None)
        self._machine_bps[address] = n + delta
        if self._machine_bps[address] <= 0:
            del self._machine_bps[address]

    def _wp_ref(self, key: tuple[int, int, str], delta: int) -> None:
        address, length, access = key
        flags = {"read": "r" in access, "write": "w" in access}
        n = self._machine_wps[key]
        if n == 0 and delta > 0:
            self.machine.add_watchpoint(address, length, cpu=None, **flags)
        elif n == 1 and delta < 0:
            self.machine.remove_watchpoint(address, length, cpu=None, **flags)
        self._machine_wps[key] = n + delta
        if self._machine_wps[key] <= 0:
            del self._machine_wps[key]

    def _run_until(self, cpu: int, address: int, events: list[Event]) -> None:
        self._vcpu(cpu)
        self._clear_temp()
        address &= 0xFFFFFFFF
        self._bp_ref(address, 1)
        self._temp = _Temp(address, cpu)
        self.running = True
        self.stopped_cpu = -1
        events.append(Event("resumed", f"running {self.targets[cpu]} to "
                                       f"{self.describe(address)}", cpu))

    def _clear_temp(self) -> None:
        t = self._temp
        if t is not None:
            self._temp = None
            self._bp_ref(t.address, -1)

    def _step_vcpu(self, gid: int, events: list[Event]) -> None:
        from disco_core.monitor.vcpu import RunState

        v = self._vcpu(gid)
        name = self.targets[gid]
        if v.state != RunState.RUNNING or v.cpu is None:  # type: ignore[attr-defined]
            why = {RunState.WAITING: "waiting for an interrupt (it executed WAIT): type "
                   "into its console or continue until it runs",
                   RunState.READY: "ready but not on a CPU: continue until it runs",
                   RunState.STOPPED: "stopped with its VM"}[v.state]  # type: ignore
            raise ValueError(f"{name} is {why}; only a vCPU on a CPU can step")
        if self.running:
            self.running = False
            events.append(Event("paused", "paused"))
        m, mon = self.machine, self.monitor
        ci = v.cpu  # type: ignore[attr-defined]
        cpu = m.cpus[ci]
        served = 0
        for _ in range(MAX_TRANSPARENT):
            pc0 = cpu.pc
            ex = m.step(ci)
            self._instructions += ex.executed
            self._vm_instructions[v.vm.id] += ex.executed  # type: ignore[attr-defined]
            if ex.reason == ExitReason.EXCEPTION:
                mon.serve_exception(ci, ex.exception)  # type: ignore[attr-defined]
                served += 1
                if mon.current[ci] is v and cpu.pc == pc0:  # type: ignore[attr-defined]
                    continue  # served without the guest noticing: the instruction runs again
            elif ex.reason == ExitReason.HALT:
                self.halted = True
            break
        self.stopped_cpu = ci
        self.focus_cpu = gid
        self._cached_at = self._debug_at = -1.0
        pc = self._vcpu_regs(v)[0]
        extra = f" ({served} exit{'s' if served > 1 else ''} to the monitor)" if served else ""
        events.append(Event("step", f"{name} at {self.describe(pc)}{extra}", gid, pc))

    # ---- a vCPU's state and its guest's memory -----------------------------------------

    def _vcpu_regs(self, v: object) -> tuple[int, np.ndarray, int, int, int | None]:
        """(pc, gprs, hi, lo, CPU): from its CPU while it runs, else as saved."""
        from disco_core.monitor.vcpu import RunState

        ci = v.cpu  # type: ignore[attr-defined]
        if v.state == RunState.RUNNING and ci is not None:  # type: ignore[attr-defined]
            cpu = self.machine.cpus[ci]
            return (cpu.pc, np.asarray(cpu.regs(), np.uint32).copy(), cpu.hi, cpu.lo, ci)
        ctx = v.ctx  # type: ignore[attr-defined]
        return (ctx.pc, np.array(ctx.gpr, np.uint32), ctx.hi, ctx.lo, None)

    def _is_call_at(self, v: object, pc: int) -> bool:
        data = self.guest_read(v, pc, 4)
        if len(data) < 4:
            return False
        (word,) = struct.unpack("<I", data)
        op = word >> 26
        return (op == 3 or (op == 0 and (word & 0x3F) == 9)
                or (op == 1 and ((word >> 16) & 0x1F) in (0x10, 0x11, 0x12, 0x13)))

    def translate(self, v: object, address: int, space: str = "virtual") -> int | None:
        """The machine address behind `address` in a vCPU's `space`; -1 for a guest page
        the monitor has not allocated yet (it reads as zeros); None when unmapped."""
        from disco_core.mips import EH_ASID, LO_V
        from disco_core.monitor.l2tlb import GLOBAL

        address &= 0xFFFFFFFF
        if space == "machine":
            return address
        pmap = v.vm.pmap  # type: ignore[attr-defined]
        if space == "virtual":
            if SSEG <= address < SSEG_END:
                gpa = address - SSEG
            elif address < KUSEG_END:
                ent = v.tlb_match(address)  # type: ignore[attr-defined]
                if ent is not None:
                    glo, half = ent.lo_for(address)
                    if not glo & LO_V:
                        return None
                    base = (((glo >> 6) & 0xFFFFFF) << 12) & ~(half - 1)
                    gpa = base | (address & (half - 1))
                else:  # the L2TLB outlives what the guest's TLB still holds
                    asid = v.cp0.entryhi & EH_ASID  # type: ignore[attr-defined]
                    entries = v.l2tlb.entries  # type: ignore[attr-defined]
                    hit = entries.get((address >> 12, asid)) or entries.get((address >> 12,
                                                                             GLOBAL))
                    if hit is None:
                        return None
                    gpa = hit[1] << 12 | (address & 0xFFF)
            else:
                return None
        else:
            gpa = address
        gpn = gpa >> 12
        if gpn >= pmap.npages:
            return None
        mpn = pmap.mpn[gpn]
        return -1 if mpn < 0 else (mpn << 12) | (gpa & 0xFFF)

    def guest_read(self, v: object, address: int, n: int, space: str = "virtual") -> bytes:
        """Read up to n bytes as the vCPU's guest sees them, stopping where nothing is mapped."""
        out = bytearray()
        a = address & 0xFFFFFFFF
        while len(out) < n:
            chunk = min(n - len(out), 4096 - (a & 0xFFF))
            ma = self.translate(v, a, space)
            if ma is None:
                break
            if ma < 0:
                out += bytes(chunk)
            else:
                try:
                    out += self.machine.read_phys(ma, chunk)
                except Exception:
                    break
            a = (a + chunk) & 0xFFFFFFFF
        return bytes(out)

    # ---- snapshots ----------------------------------------------------------------------

    def _breakpoint_list(self) -> tuple[Breakpoint, ...]:
        return tuple(Breakpoint(a, c, label, vm) for (a, c, vm), label in sorted(
            self._bps.items(), key=lambda kv: (kv[0][0], kv[0][1] or -1, kv[0][2] or "")))

    def _watchpoint_list(self) -> tuple[Watchpoint, ...]:
        return tuple(Watchpoint(a, n, acc, c, label, vm) for (a, n, acc, c, vm), label in sorted(
            self._wps.items(),
            key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], kv[0][3] or -1, kv[0][4] or "")))

    def _refresh(self) -> dict[str, object]:
        """The copies that cost something (pmaps, L2TLB, event log), at most every
        VM_INFO_EVERY while running; at once when stopped or asked for."""
        now = time.monotonic()
        if self.running and 0 <= now - self._cached_at < VM_INFO_EVERY:
            return self._cached
        mon = self.monitor
        vms = mon.vms  # type: ignore[attr-defined]
        pmaps = [np.array(vm.pmap.mpn, np.int64) for vm in vms]
        rows = [_ram_rows(p) for p in pmaps]
        pages = self.machine.ram_bytes // 4096
        owner = np.full(pages, -1, np.int16)
        for vm, r in zip(vms, rows, strict=True):
            valid = r[r >= 0]
            cur = owner[valid]
            owner[valid] = np.where((cur == -1) | (cur == vm.id), vm.id, -2)
        nodes = self.machine.config.nodes
        per_node = pages // nodes
        memory = np.stack([np.bincount(r[r >= 0] // per_node, minlength=nodes)[:nodes]
                           for r in rows]) if rows else np.zeros((0, nodes), np.int64)
        events = mon.events  # type: ignore[attr-defined]
        for e in events.since(self._event_seq):
            if e.kind in _MOVES and e.vm is not None and "pa" in e.data:
                gpn = int(e.data["pa"]) >> 12  # type: ignore[call-overload]
                pm = vms[e.vm].pmap
                if gpn < pm.npages and pm.mpn[gpn] >= 0:
                    self._moved.append((now, int(_ram_rows(np.array([pm.mpn[gpn]]))[0])))
        self._event_seq = events.seq
        while self._moved and now - self._moved[0][0] > MOVED_SECONDS:
            self._moved.popleft()
        v = self.vcpus[self.focus_cpu]
        l2 = np.array([(vpn, asid, lo, gpn) for (vpn, asid), (lo, gpn)
                       in v.l2tlb.entries.items()], np.int64).reshape(-1, 4)  # type: ignore
        self._cached = {
            "pmaps": pmaps, "rows": rows, "owner": owner, "memory": memory,
            "moved": np.array(sorted({r for _, r in self._moved}), np.int64),
            "events": tuple(events.since(max(0, events.seq - MONITOR_EVENTS))),
            "l2tlb": l2,
        }
        self._cached_at = now
        return self._cached

    def _vms_info(self, misses: np.ndarray) -> VmsInfo | None:
        from disco_core.monitor.vcpu import RunState

        mon = self.monitor
        vms = mon.vms  # type: ignore[attr-defined]
        c = self._refresh()
        g = self.page_group
        rows: list[np.ndarray] = c["rows"]  # type: ignore[assignment]
        if self._misses_at != self._cached_at:  # with the pmaps, a few times a second
            nodes = self.machine.config.nodes
            per_row_node = misses.shape[0] // nodes
            local = np.zeros(len(vms), np.int64)
            total = np.zeros(len(vms), np.int64)
            for i, r in enumerate(rows):
                rr = r[r >= 0] // g
                sub = misses[rr]
                total[i] = int(sub.sum(dtype=np.int64))
                local[i] = int(sub[np.arange(len(rr)), rr // per_row_node].sum(dtype=np.int64))
            self._vm_misses = (local, total)
            self._misses_at = self._cached_at
        local, total = self._vm_misses
        owner: np.ndarray = c["owner"]  # type: ignore[assignment]
        if g > 1:
            owner = owner[: misses.shape[0] * g : g]
        cpu_vcpu = np.array([-1 if v is None else v.gid for v in mon.current],  # type: ignore
                            np.int64)
        return VmsInfo(
            names=tuple(vm.name for vm in vms), vcpu_names=tuple(self.targets),
            vcpu_vm=tuple(v.vm.id for v in self.vcpus),
            vcpu_state=tuple(v.state.value if isinstance(v.state, RunState) else str(v.state)
                             for v in self.vcpus),
            cpu_vcpu=cpu_vcpu,
            vm_state=tuple(vm.state.value + (f": {vm.stop_reason}" if vm.stop_reason else "")
                           for vm in vms),
            pmap_rows=tuple(rows), page_owner=owner, moved=c["moved"],  # type: ignore[arg-type]
            memory=c["memory"],  # type: ignore[arg-type]
            instructions=self._vm_instructions.copy(), cycles=self._vm_cycles.copy(),
            monitor_cycles=np.array([vm.stats.total_cycles for vm in vms], np.int64),
            exits=np.array([vm.stats.total_exits for vm in vms], np.int64),
            local_misses=local, misses=total)

    def _debug_detail(self, pcs: np.ndarray) -> DebugDetail:
        """The focused vCPU's details; while running at most every DEBUG_EVERY (the
        debugger refreshes about once a second then, and reading them costs)."""
        now = time.monotonic()
        d = self._debug
        if (self.running and d is not None and d.cpu == self.focus_cpu
                and 0 <= now - self._debug_at < DEBUG_EVERY):
            return d
        self._debug = self._vcpu_detail()
        self._debug_at = now
        return self._debug

    def _vcpu_detail(self) -> DebugDetail:
        from disco_core.monitor.vcpu import RunState

        m = self.machine
        v = self.vcpus[self.focus_cpu]
        pc, regs, hi, lo, on = self._vcpu_regs(v)
        ci = on if on is not None else (v.last_cpu if v.last_cpu is not None else 0)
        cpu = m.cpus[ci]
        now = int(cpu.raw_stats().cycles)
        cp0 = tuple((name, cpu.cp0(reg, sel)) for name, reg, sel in CP0_REGISTERS)
        vcp0 = []
        for name, reg, sel in CP0_REGISTERS:
            try:
                vcp0.append((name, int(v.cp0.read(reg, sel, now)) & 0xFFFFFFFF))
            except Exception:
                continue
        start = (pc - 4 * CODE_BEFORE) & 0xFFFFFFFF
        code = self.guest_read(v, start, 4 * (CODE_BEFORE + CODE_AFTER))
        if self.memory_address is None:
            self.memory_address = int(regs[29]) & ~0xF
        memory = self.guest_read(v, self.memory_address, MEMORY_BYTES, self.memory_space)
        entries = m.config.tlb_entries
        tlb = np.array([cpu.tlb(i) for i in range(entries)], dtype=np.uint32).reshape(entries, 4)
        state = v.state.value if isinstance(v.state, RunState) else str(v.state)
        where = (f"{self.targets[v.gid]} on CPU {on}" if on is not None else
                 f"{self.targets[v.gid]} {state}, last on CPU {ci}")
        c = self._refresh()
        pmaps: list[np.ndarray] = c["pmaps"]  # type: ignore[assignment]
        return DebugDetail(
            self.focus_cpu, cp0, start, code, self.memory_address, memory, tlb, pc=pc, regs=regs,
            hi=hi, lo=lo, where=where, vcp0=tuple(vcp0), l2tlb=c["l2tlb"],  # type: ignore
            pmap=pmaps[v.vm.id], memory_space=self.memory_space,
            monitor_events=c["events"])  # type: ignore[arg-type]


# ---- sessions the workbench knows --------------------------------------------


def baremetal_session(program: str | Path = "numademo", preset_name: str = "flash8",
                      progress: Callable[[str], None] | None = None,
                      **overrides: object) -> Session:
    """A bare-metal program (default: resources/baremetal/numademo.c) on the test machine."""
    from disco_core.guest import build_baremetal
    from disco_core.presets import preset
    from disco_core.testmachine import TestMachine

    config = preset(preset_name, **overrides)
    defines = {"NODE_BYTES": config.memory_per_node}
    _say(progress, f"building {program}")
    elf = build_baremetal(program, defines=defines)
    machine = TestMachine(config=config)
    image = machine.load_elf(elf)
    name = Path(str(program)).stem
    guest = Guest("native", tuple(range(config.cpus)), machine.console, image)
    return Session(machine, [guest], title=f"{name} on {preset_name}")


def kernel_session(program: str | None = None, preset_name: str = "flash8",
                   progress: Callable[[str], None] | None = None) -> Session:
    """The native guest kernel (resources/guest/) booted on a fresh copy-on-write root
    image; it reaches its shell prompt within a second of simulated time.
    `program` is ignored (the kernel runs what is typed at its console)."""
    import shutil
    import tempfile

    from disco_core.boot import Booted, root_image
    from disco_core.devices import DiskImage

    tmp = Path(tempfile.mkdtemp(prefix="disco-workbench-"))
    try:
        _say(progress, "building the guest kernel and its root file system image")
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


def check_vms_request(preset_name: str = "flash8", vms: int = 4, vcpus: int = 1,
                      memory_mib: int | None = None) -> int | None:
    """Refuse a VM layout the machine cannot hold, with a message that says why
    (DiscoError, or ConfigError for an unknown preset); the pages per VM otherwise
    (None: split the machine's memory evenly, as vm_specs does)."""
    from disco_core.boot import VM_PAGES_MAX, VM_PAGES_MIN
    from disco_core.errors import DiscoError
    from disco_core.presets import preset

    config = preset(preset_name)
    ram_pages = config.ram_bytes // 4096 - 64  # the monitor keeps some for itself
    if vms < 1:
        raise DiscoError(f"{vms} VMs: a machine needs at least one")
    if not 1 <= vcpus <= config.cpus:
        raise DiscoError(f"{vcpus} vCPUs per VM: {preset_name} has {config.cpus} CPUs, so a "
                         f"VM can have 1 to {config.cpus}")
    if memory_mib is None:
        if ram_pages // vms < VM_PAGES_MIN:
            raise DiscoError(f"{vms} VMs do not fit in {preset_name}'s "
                             f"{config.ram_bytes >> 20} MiB: each needs at least "
                             f"{VM_PAGES_MIN * 4096 >> 20} MiB")
        return None
    pages = memory_mib * 256
    if not VM_PAGES_MIN <= pages <= VM_PAGES_MAX:
        raise DiscoError(f"{memory_mib} MiB per VM: the guest kernel needs "
                         f"{VM_PAGES_MIN * 4096 >> 20} to {VM_PAGES_MAX * 4096 >> 20} MiB")
    if pages * vms > ram_pages:
        raise DiscoError(f"{vms} VMs of {memory_mib} MiB need {vms * memory_mib} MiB: "
                         f"{preset_name} has {config.ram_bytes >> 20} MiB "
                         f"(at most {ram_pages // pages} such VMs fit)")
    return pages


def _say(progress: Callable[[str], None] | None, text: str) -> None:
    if progress is not None:
        progress(text)


def vms_session(program: str | None = None, preset_name: str = "flash8",
                vms: int = 4, vcpus: int = 1, memory_mib: int | None = None,
                progress: Callable[[str], None] | None = None) -> Session:
    """The guest kernel's disco flavour as `vms` virtual machines under the monitor,
    each with a copy-on-write root disk over one shared image and its own console.
    `program` is ignored (each VM runs what is typed at its console). `progress`
    hears what is being built (the kernel and the root image take a while the
    first time)."""
    import shutil
    import tempfile

    from disco_core.boot import root_image, vm_specs
    from disco_core.elf import load_elf
    from disco_core.kernel import build_kernel
    from disco_core.monitor import Monitor
    from disco_core.monitor.numa import NumaParams
    from disco_core.monitor.vdisk import VirtualDisk
    from disco_core.presets import preset

    pages = check_vms_request(preset_name, vms, vcpus, memory_mib)
    tmp = Path(tempfile.mkdtemp(prefix="disco-workbench-"))
    disks: list[VirtualDisk] = []
    machine: Machine | None = None
    try:
        _say(progress, "building the guest kernel (disco flavour)")
        image = load_elf(build_kernel("disco"))
        # Parse the DWARF line table now, on the building thread: done lazily, the
        # debugger's first source-line lookup would stall the UI for most of a second.
        image.line_for(image.entry)
        _say(progress, "building the root file system image")
        base = root_image(tmp / "root.img")
        _say(progress, f"creating {vms} virtual machines on {preset_name}")
        disks = [VirtualDisk.copy_on_write(base) for _ in range(vms)]
        # FLASH reports hot pages to the monitor's NUMA manager (docs/numa.md)
        machine = Machine(preset(preset_name, hot_threshold=NumaParams().hot_threshold))
        monitor = Monitor(machine)
        vmlist = [monitor.create_vm(spec)  # type: ignore[arg-type]
                  for spec in vm_specs(machine, image, vms, disks, pages, vcpus)]
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
    session = MonitorSession(machine, guests, monitor,
                             title=f"{vms} virtual machine{'s' if vms > 1 else ''} on "
                                   f"{preset_name}")
    for d in disks:
        session.on_close.append(d.close)
    session.on_close.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
    return session


SESSION_KINDS: dict[str, Callable[..., Session]] = {
    "baremetal": baremetal_session,
    "kernel": kernel_session,
    "vms": vms_session,
}


DEFAULT_SESSION = "vms"


def default_session() -> Session:
    """What `disco-workbench` opens: four VMs under the monitor on flash8."""
    return SESSION_KINDS[DEFAULT_SESSION]()


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
