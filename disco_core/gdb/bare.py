"""The bare machine as a GDB target: its CPUs are the threads (thread n is CPU n - 1).

`BareTarget` drives a `Machine` through its public methods only. It is all-stop:
continuing runs every CPU (the machine has no way to run some CPUs and not
others), a step executes one instruction on the stepped CPU while the others
wait, and any stop holds the whole machine. `serve()` is the owner's loop for a
machine that nothing else runs (tests, `bench/gdb_step.py`); a session runs its
own loop and calls the server the same way between its slices.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Mapping, Sequence

from disco_core.errors import GuestMemoryError
from disco_core.gdb.server import GdbServer
from disco_core.gdb.target import (
    CP0_OF_REG,
    EXTRA_CP0,
    GPR_COUNT,
    REG_F0,
    REG_FIR,
    REG_HI,
    REG_LO,
    REG_PC,
    PointKind,
    Resume,
    StopEvent,
    StopKind,
    TargetError,
)
from disco_core.machine import Exit, ExitReason, Machine
from disco_core.mips import BADVADDR, CAUSE, PAGE_SIZE, STATUS

SLICE = 200_000  # instructions per run slice while GDB lets the machine go
_FPU_ZEROS = [0] * (REG_FIR + 1 - REG_F0)


class _State(enum.Enum):
    HELD = "held"  # stopped for the client
    RUNNING = "running"  # resumed by the client
    FREE = "free"  # detached: runs on, points gone
    EXITED = "exited"  # halted (the program exited) or killed


class BareTarget:
    """A `Target` over a bare Machine. Starts held, like QEMU's `-S` (`held=False`:
    running freely until a client attaches)."""

    pid = 1
    can_reverse = False

    def __init__(self, machine: Machine, slice_size: int = SLICE, held: bool = True) -> None:
        self.machine = machine
        self.slice_size = slice_size
        self._state = _State.HELD if held else _State.FREE
        self._actions: dict[int, Resume] = {}
        self._stops: list[StopEvent] = []
        self._points: set[tuple[PointKind, int, int]] = set()
        self._killed = False
        self.exit: Exit | None = None  # the last exit of a run slice
        self.resumes = 0  # resumes the client asked for

    # ---- threads and state ------------------------------------------------------------

    def threads(self) -> Sequence[int]:
        return range(1, len(self.machine.cpus) + 1)

    def _cpu(self, thread: int) -> int:
        if not 1 <= thread <= len(self.machine.cpus):
            raise TargetError(f"thread {thread} does not exist: threads are 1-"
                              f"{len(self.machine.cpus)} (CPU n is thread n + 1)")
        return thread - 1

    def thread_info(self, thread: int) -> str:
        cpu = self.machine.cpus[self._cpu(thread)]
        return f"cpu{cpu.index}, {cpu.state.name.lower()}"

    @property
    def finished(self) -> bool:
        """The machine has halted or was killed: nothing more will run."""
        return self._state == _State.EXITED

    @property
    def running(self) -> bool:
        """Resumed by the client (not held, not detached, not exited)."""
        return self._state == _State.RUNNING

    @property
    def free(self) -> bool:
        """Detached: the machine runs on by itself."""
        return self._state == _State.FREE

    # ---- registers and memory ---------------------------------------------------------

    def read_registers(self, thread: int) -> Sequence[int]:
        cpu = self.machine.cpus[self._cpu(thread)]
        regs: list[int] = cpu.regs().tolist()
        regs += [cpu.cp0(STATUS), cpu.lo, cpu.hi, cpu.cp0(BADVADDR), cpu.cp0(CAUSE), cpu.pc]
        regs += _FPU_ZEROS
        regs += [cpu.cp0(reg, sel) for _, reg, sel in EXTRA_CP0]
        return regs

    def read_register(self, thread: int, number: int) -> int:
        cpu = self.machine.cpus[self._cpu(thread)]
        if 0 <= number < GPR_COUNT:
            return cpu.gpr[number]
        if number == REG_PC:
            return cpu.pc
        if number in CP0_OF_REG:
            return cpu.cp0(*CP0_OF_REG[number])
        if number in (REG_LO, REG_HI):
            return cpu.lo if number == REG_LO else cpu.hi
        if REG_F0 <= number <= REG_FIR:
            return 0
        raise TargetError(f"register {number} does not exist")

    def write_register(self, thread: int, number: int, value: int) -> None:
        cpu = self.machine.cpus[self._cpu(thread)]
        if 0 < number < GPR_COUNT:
            cpu.gpr[number] = value
        elif number == REG_LO:
            cpu.lo = value
        elif number == REG_HI:
            cpu.hi = value
        elif number == REG_PC:
            if value != cpu.pc:  # setting pc cancels a pending delay slot: only on a change
                cpu.pc = value
        elif number in CP0_OF_REG:
            reg, sel = CP0_OF_REG[number]
            if value != cpu.cp0(reg, sel):
                cpu.set_cp0(reg, value, sel)
        # r0 and the floating point registers (there is no FPU) take no writes.

    def read_memory(self, thread: int, address: int, length: int) -> bytes:
        cpu = self._cpu(thread)
        try:
            return self.machine.read_virt(cpu, address, length)
        except GuestMemoryError as e:
            raise TargetError(f"0x{address:08x}+{length}: {e}") from None

    def write_memory(self, thread: int, address: int, data: bytes) -> None:
        cpu = self._cpu(thread)
        # Translate every page first, so a write that is partly unmapped changes nothing.
        pieces: list[tuple[int, bytes]] = []
        pos = 0
        while pos < len(data):
            va = address + pos
            n = min(len(data) - pos, PAGE_SIZE - va % PAGE_SIZE)
            try:
                pieces.append((self.machine.translate(cpu, va, write=True), data[pos : pos + n]))
            except GuestMemoryError as e:
                raise TargetError(f"0x{va:08x}: {e}") from None
            pos += n
        try:
            for pa, chunk in pieces:
                self.machine.write_phys(pa, chunk)
        except GuestMemoryError as e:
            raise TargetError(str(e)) from None

    # ---- breakpoints and watchpoints ------------------------------------------------------

    def insert_point(self, kind: PointKind, address: int, length: int) -> None:
        if kind.is_watch:
            self.machine.add_watchpoint(address, length, read=kind != PointKind.WRITE,
                                        write=kind != PointKind.READ)
        elif not any(not k.is_watch and a == address for k, a, _ in self._points):
            self.machine.add_breakpoint(address)
        self._points.add((kind, address, length))

    def remove_point(self, kind: PointKind, address: int, length: int) -> None:
        if (kind, address, length) not in self._points:
            return  # not inserted
        self._points.discard((kind, address, length))
        if kind.is_watch:
            self.machine.remove_watchpoint(address, length, read=kind != PointKind.WRITE,
                                           write=kind != PointKind.READ)
        elif not any(not k.is_watch and a == address for k, a, _ in self._points):
            self.machine.remove_breakpoint(address)

    def _watch_event(self, thread: int, va: int, size: int, is_write: bool) -> StopEvent:
        kinds = {PointKind.WRITE: StopKind.WATCH, PointKind.READ: StopKind.READ_WATCH,
                 PointKind.ACCESS: StopKind.ACCESS_WATCH}
        for kind, address, length in self._points:
            if kind.is_watch and address < va + size and va < address + length:
                if kind == PointKind.ACCESS or (kind == PointKind.WRITE) == is_write:
                    return StopEvent(thread, kinds[kind], max(address, va))
        return StopEvent(thread, StopKind.WATCH if is_write else StopKind.READ_WATCH, va)

    # ---- run control ---------------------------------------------------------------------

    def resume(self, actions: Mapping[int, Resume]) -> None:
        if self._state == _State.EXITED:
            self._stops.append(StopEvent(1, StopKind.EXITED, code=self._exit_code()))
            return
        self._actions = dict(actions)
        self._state = _State.RUNNING
        self.resumes += 1

    def reverse(self, thread: int, step: bool) -> None:
        raise TargetError("the bare machine keeps no recording to run backwards on")

    def interrupt(self) -> None:
        if self._stops:
            return  # a stop is already waiting to be reported
        if self._state == _State.EXITED:
            self._stops.append(StopEvent(1, StopKind.EXITED, code=self._exit_code()))
            return
        self._state = _State.HELD  # also a free (detached) machine a new client attaches to
        self._stops.append(StopEvent(1, StopKind.INTERRUPT))

    def poll_stops(self) -> list[StopEvent]:
        out, self._stops = self._stops, []
        return out

    def detach(self) -> None:
        for kind, address, length in list(self._points):
            self.remove_point(kind, address, length)
        if self._state != _State.EXITED:
            self._state = _State.FREE

    def kill(self) -> None:
        self._killed = True
        self._state = _State.EXITED

    def _exit_code(self) -> int:
        return self.machine.halt_code if self.machine.halted else 0

    def monitor(self, command: str) -> str:
        words = command.split()
        m = self.machine
        if not words or words[0] == "help":
            return ("monitor commands: help, cpus, stats, tlb [CPU]\n")
        if words[0] == "cpus":
            return "".join(f"cpu{c.index}: pc=0x{c.pc:08x} {c.state.name.lower()} "
                           f"{c.instructions} instructions\n" for c in m.cpus)
        if words[0] == "stats":
            return "".join(f"cpu{c.index}: {c.instructions} instructions, {c.cycles} cycles\n"
                           for c in m.cpus)
        if words[0] == "tlb":
            try:
                cpu = m.cpus[int(words[1]) if len(words) > 1 else 0]
            except (ValueError, IndexError):
                return f"tlb: no CPU {words[1]!r}\n"
            rows = [cpu.tlb(i) for i in range(m.config.tlb_entries)]
            text = "".join(f"{i:2d}: hi={hi:08x} lo0={lo0:08x} lo1={lo1:08x} mask={mask:08x}\n"
                           for i, (hi, lo0, lo1, mask) in enumerate(rows) if lo0 | lo1)
            return text or f"cpu{cpu.index}: no TLB entry maps anything\n"
        return f"unknown monitor command {words[0]!r}; try 'monitor help'\n"

    # ---- the owner's loop ----------------------------------------------------------------

    def run_slice(self) -> bool:
        """Advance the machine if the client (or a detach) lets it; False if it is held."""
        if self._state not in (_State.RUNNING, _State.FREE):
            return False
        steps = [t for t, r in self._actions.items() if r == Resume.STEP]
        if self._state == _State.RUNNING and steps:
            thread = steps[0]
            self._after(thread, self.machine.step(thread - 1), stepped=True)
            return True
        ex = self.machine.run(self.slice_size)
        self.exit = ex
        thread = ex.cpu + 1 if ex.cpu >= 0 else 1
        if ex.reason == ExitReason.HOTPAGE:
            self.machine.hot_pages()  # nobody migrates pages here: drop the reports
        elif ex.reason == ExitReason.WAIT:
            return False  # every CPU sleeps and only the host could wake one
        elif ex.reason != ExitReason.BUDGET:
            self._after(thread, ex, stepped=False)
        return True

    def _after(self, thread: int, ex: Exit, stepped: bool) -> None:
        if ex.reason == ExitReason.HALT:
            self._state = _State.EXITED
            self._stops.append(StopEvent(thread, StopKind.EXITED, code=ex.code))
            return
        if self._state == _State.FREE:
            return  # breakpoints are gone once detached; nothing else stops a free run
        if ex.reason == ExitReason.WATCHPOINT and ex.watch is not None:
            w = ex.watch
            self._stops.append(self._watch_event(thread, w.va, w.size, bool(w.is_write)))
        elif ex.reason == ExitReason.BREAKPOINT:
            self._stops.append(StopEvent(thread, StopKind.BREAKPOINT, ex.pc))
        elif stepped:
            self._stops.append(StopEvent(thread, StopKind.STEP))
        else:
            return  # an exit nobody asked to stop at: keep running
        self._state = _State.HELD


def serve(target: BareTarget, server: GdbServer, timeout: float = 60.0,
          stop: threading.Event | None = None) -> None:
    """Run the machine for the client until it halts (or, detached, to the end).

    Returns when the machine has halted (or was killed) and the client is gone,
    when `stop` is set, or after `timeout` seconds of wall-clock time.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
        ran = target.run_slice()
        served = server.service(0.0 if ran else 0.02)
        if target.finished and not server.attached and not served:
            return


class Background:
    """A bare target served by `serve()` on a thread of its own, which then owns the
    machine (tests, benchmarks, scripts): `.server.port` to connect, `close()` to end."""

    def __init__(self, target: BareTarget, address: str | int = 0,
                 timeout: float = 600.0) -> None:
        self.target = target
        self.server = GdbServer(target, address).start()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=serve, name="gdb-owner", daemon=True,
                                       args=(target, self.server, timeout, self.stop))
        self.thread.start()

    def join(self, timeout: float) -> bool:
        """Wait for the run to end by itself (halted, client gone); True if it has."""
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def close(self) -> None:
        self.stop.set()
        self.server.close()
        self.thread.join(5.0)
