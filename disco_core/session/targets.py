"""Debug targets: what a session's debugger works on, the machine's CPUs or the monitor's vCPUs.

One interface (`Targets`), two strategies. A target is an index into `names`
(`Step(cpu=i)` and the other commands); the strategy answers for it: its
registers, its memory (read, write, translate), one step, whether the
instruction at an address is a call, how breakpoints are scoped and armed in
the machine, and how the machine runs until something concerns the debugger
(`run`, which returns a `RunResult` in the session's terms). The session
keeps one table of breakpoints and watchpoints and one run loop for both.

`CpuTargets`: a bare machine; the machine scopes breakpoints to a CPU itself.
`VCpuTargets`: virtual machines under the monitor. Breakpoints and
watchpoints are set in the machine for every CPU (a vCPU may run on any),
reference-counted per address, and a hit is for the debugger only if the
vCPU that was there matches its scope; `Monitor.run` is simply called again
otherwise (the core then executes the instruction instead of stopping
again), so nobody sees it. A step executes one guest instruction of a vCPU
on its CPU with `Machine.step`; an exit to the monitor on the way (a TLB
refill, the monitor's kick) is served as `Monitor.run` would and the
instruction runs again, up to MAX_TRANSPARENT times. When the monitor
emulates the instruction (a privileged one, a monitor call) that is the step;
when it reflects an exception into the guest the step ends at the guest's
exception vector, as on a real CPU.
"""

from __future__ import annotations

import struct
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol, cast

import numpy as np

from disco_core.machine import CpuState, ExitReason, Machine
from disco_core.mips import (
    BADVADDR,
    CAUSE,
    COMPARE,
    CONFIG,
    CONTEXT,
    COUNT,
    EBASE_SEL,
    ENTRYHI,
    ENTRYLO0,
    ENTRYLO1,
    EPC,
    ERROREPC,
    INDEX,
    PAGE_SIZE,
    PAGEMASK,
    PRID,
    RANDOM,
    REG_SP,
    STATUS,
    WIRED,
    is_call,
)
from disco_core.monitor import VM, Monitor
from disco_core.monitor.vcpu import RunState, VCpu
from disco_core.session.commands import MEMORY_SPACES
from disco_core.session.snapshot import DebugDetail
from disco_core.session.vms import VmsView

# CP0 registers the debugger shows: (name, register, select).
CP0_REGISTERS: tuple[tuple[str, int, int], ...] = (
    ("Index", INDEX, 0), ("Random", RANDOM, 0), ("EntryLo0", ENTRYLO0, 0),
    ("EntryLo1", ENTRYLO1, 0), ("Context", CONTEXT, 0), ("PageMask", PAGEMASK, 0),
    ("Wired", WIRED, 0), ("BadVAddr", BADVADDR, 0), ("Count", COUNT, 0),
    ("EntryHi", ENTRYHI, 0), ("Compare", COMPARE, 0), ("Status", STATUS, 0),
    ("Cause", CAUSE, 0), ("EPC", EPC, 0), ("PRId", PRID, 0), ("EBase", PRID, EBASE_SEL),
    ("Config", CONFIG, 0), ("ErrorEPC", ERROREPC, 0),
)
CPU_STATE_NAMES = {int(CpuState.RUNNING): "running", int(CpuState.WAITING): "waiting",
                   int(CpuState.PARKED): "parked"}
CODE_BEFORE = 16  # instructions shown before pc
CODE_AFTER = 24
CODE_BYTES = 4 * (CODE_BEFORE + CODE_AFTER)
MEMORY_BYTES = 256
# Monitor exits one step may serve (TLB refills, a kick) before its guest instruction runs.
MAX_TRANSPARENT = 8
DEBUG_EVERY = 0.5  # s between copies of the focused vCPU's details while running


class _CpuCounters(Protocol):
    """The fields of `Cpu.raw_stats()` (a C struct) read here."""

    instructions: int
    cycles: int


def _counters(machine: Machine, ci: int) -> _CpuCounters:
    return cast(_CpuCounters, machine.cpus[ci].raw_stats())


@dataclass(frozen=True)
class Registers:
    """A target's user-visible registers, and the CPU it is on (None: off every CPU)."""

    pc: int
    gpr: np.ndarray  # (32,) uint32, a copy
    hi: int
    lo: int
    cpu: int | None


@dataclass(frozen=True)
class WatchHit:
    """An access that hit a watchpoint: [va, va + size), the value, the instruction's pc."""

    va: int
    size: int
    is_write: bool
    value: int
    pc: int


@dataclass(frozen=True)
class RunResult:
    """Why `Targets.run` returned. `kind` is "budget", "again" (nothing to report: run
    on), "idle", "breakpoint", "watchpoint", "halt" or "error"; `target` is the debug
    target that was at the breakpoint or watchpoint (-1: none of them, e.g. the
    monitor's idle loop), `cpu` the CPU."""

    kind: str
    executed: int
    target: int = -1
    cpu: int = -1
    pc: int = 0
    watch: WatchHit | None = None
    message: str = ""


@dataclass(frozen=True)
class StepResult:
    executed: int
    cpu: int  # the CPU that executed it
    halted: bool = False
    served: int = 0  # exits to the monitor on the way


class Targets(ABC):
    """The debugger's targets and how the machine runs under the debugger."""

    names: list[str]
    spaces: tuple[str, ...]  # the address spaces `read` takes

    def __init__(self, machine: Machine) -> None:
        self.machine = machine

    # ---- which targets ------------------------------------------------------------

    @abstractmethod
    def check(self, i: int) -> None:
        """Raise ValueError, saying what there is, unless target `i` exists."""

    @abstractmethod
    def vm_of(self, i: int) -> str | None:
        """The VM target `i` belongs to (None on a bare machine)."""

    # ---- breakpoint scopes ----------------------------------------------------------

    @abstractmethod
    def scope(self, cpu: int | None, vm: str | None) -> str | None:
        """The VM a breakpoint for (target `cpu`, `vm`) is for; raise if they disagree."""

    @abstractmethod
    def scope_text(self, cpu: int | None, vm: str | None) -> str:
        """``on CPU 3`` or ``for vm1``: how an event names a breakpoint's scope."""

    @abstractmethod
    def machine_cpu(self, cpu: int | None) -> int | None:
        """The CPU the machine's breakpoint for target `cpu` is armed on (None: all)."""

    def applies(self, cpu: int | None, vm: str | None, hit: int) -> bool:
        """Whether a breakpoint scoped (cpu, vm) is for target `hit`."""
        return (vm is None or vm == self.vm_of(hit)) and (cpu is None or cpu == hit)

    def on_cpu(self, cpu: int) -> str:
        """What an event adds to say which CPU a target was on (nothing for a CPU)."""
        return ""

    # ---- state ------------------------------------------------------------------------

    @abstractmethod
    def registers(self, i: int) -> Registers: ...

    @abstractmethod
    def translate(self, i: int, address: int, space: str = "virtual") -> int | None:
        """The machine address behind `address` in target `i`'s `space`; -1 for a page
        that reads as zeros (not allocated yet); None where nothing maps it."""

    def read(self, i: int, address: int, n: int, space: str = "virtual") -> bytes:
        """Up to n bytes as target `i` sees them, stopping where nothing is mapped."""
        out = bytearray()
        a = address & 0xFFFFFFFF
        while len(out) < n:
            chunk = min(n - len(out), PAGE_SIZE - (a & (PAGE_SIZE - 1)))
            ma = self.translate(i, a, space)
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

    @abstractmethod
    def write(self, i: int, address: int, data: bytes, space: str = "virtual") -> None:
        """Store `data` at `address` as target `i` sees it (ValueError where it cannot)."""

    def is_call_at(self, i: int, pc: int) -> bool:
        """Whether the instruction at `pc` links (a step over runs it to pc + 8)."""
        data = self.read(i, pc, 4)
        return len(data) == 4 and is_call(struct.unpack("<I", data)[0])

    # ---- running ------------------------------------------------------------------------

    @abstractmethod
    def step(self, i: int) -> StepResult:
        """Execute one instruction of target `i` (ValueError if it cannot step now)."""

    @abstractmethod
    def run(self, budget: int) -> RunResult:
        """Run up to `budget` instructions, until something concerns the debugger."""

    def trace(self, on: bool) -> None:
        raise ValueError("there is no monitor in this session: only virtual machines "
                         "have a monitor event log")

    def forget_copies(self) -> None:  # noqa: B027 (most targets copy nothing costly)
        """The machine changed under the copies a snapshot reuses: take fresh ones."""

    # ---- snapshots ------------------------------------------------------------------------

    @abstractmethod
    def detail(self, i: int, memory_address: int | None, space: str,
               running: bool) -> DebugDetail:
        """What the debugger shows of target `i`; memory at `memory_address` (None: the
        stack, to begin with)."""

    def vms_view(self) -> VmsView | None:
        return None

    def _tlb(self, ci: int) -> np.ndarray:
        entries = self.machine.config.tlb_entries
        cpu = self.machine.cpus[ci]
        return np.array([cpu.tlb(i) for i in range(entries)],
                        dtype=np.uint32).reshape(entries, 4)

    def _cp0(self, ci: int) -> tuple[tuple[str, int], ...]:
        cpu = self.machine.cpus[ci]
        return tuple((name, cpu.cp0(reg, sel)) for name, reg, sel in CP0_REGISTERS)


def _code_start(pc: int) -> int:
    """Where the code a snapshot carries begins: CODE_BEFORE instructions before pc."""
    return (pc - 4 * CODE_BEFORE) & 0xFFFFFFFF


class CpuTargets(Targets):
    """The CPUs of a bare machine."""

    spaces = ("virtual", "physical")

    def __init__(self, machine: Machine) -> None:
        super().__init__(machine)
        self.names = [f"CPU {i}" for i in range(machine.config.cpus)]

    def check(self, i: int) -> None:
        if not 0 <= i < self.machine.config.cpus:
            raise ValueError(f"CPU {i} does not exist: the machine has "
                             f"{self.machine.config.cpus} CPUs")

    def vm_of(self, i: int) -> str | None:
        return None

    def scope(self, cpu: int | None, vm: str | None) -> str | None:
        if cpu is not None:
            self.check(cpu)
        return None  # no VMs here

    def scope_text(self, cpu: int | None, vm: str | None) -> str:
        return "on any CPU" if cpu is None else f"on CPU {cpu}"

    def machine_cpu(self, cpu: int | None) -> int | None:
        return cpu

    def registers(self, i: int) -> Registers:
        self.check(i)
        cpu = self.machine.cpus[i]
        return Registers(cpu.pc, np.asarray(cpu.regs(), np.uint32).copy(), cpu.hi, cpu.lo, i)

    def translate(self, i: int, address: int, space: str = "virtual") -> int | None:
        if space == "physical":
            return address & 0xFFFFFFFF
        try:
            return self.machine.translate(i, address)
        except Exception:
            return None

    def read(self, i: int, address: int, n: int, space: str = "virtual") -> bytes:
        if space != "virtual":
            return super().read(i, address, n, space)
        try:  # the whole range at once, usually
            return self.machine.read_virt(i, address, n)
        except Exception:
            pass
        out = bytearray()
        for a in range(address, address + n, 4):
            try:
                out += self.machine.read_virt(i, a & 0xFFFFFFFF, 4)
            except Exception:
                break
        return bytes(out)

    def write(self, i: int, address: int, data: bytes, space: str = "virtual") -> None:
        a = address & 0xFFFFFFFF
        pos = 0
        while pos < len(data):
            va = (a + pos) & 0xFFFFFFFF
            n = min(len(data) - pos, PAGE_SIZE - (va & (PAGE_SIZE - 1)))
            pa = va if space == "physical" else self.machine.translate(i, va, write=True)
            self.machine.write_phys(pa, data[pos : pos + n])
            pos += n

    def step(self, i: int) -> StepResult:
        self.check(i)
        state = self.machine.cpus[i].state
        if state != CpuState.RUNNING:
            raise ValueError(f"CPU {i} is {CPU_STATE_NAMES.get(int(state))}: only a running "
                             "CPU can step")
        ex = self.machine.step(i)
        return StepResult(ex.executed, i, halted=ex.reason == ExitReason.HALT)

    def run(self, budget: int) -> RunResult:
        m = self.machine
        ex = m.run(budget)
        reason = ex.reason
        if reason == ExitReason.BUDGET:
            return RunResult("budget", ex.executed)
        if reason == ExitReason.HOTPAGE:
            m.hot_pages()  # no NUMA policy runs natively yet: drop the reports
            return RunResult("again", ex.executed)
        if reason == ExitReason.BREAKPOINT:
            return RunResult("breakpoint", ex.executed, ex.cpu, ex.cpu, m.cpus[ex.cpu].pc)
        if reason == ExitReason.WATCHPOINT and ex.watch is not None:
            w = ex.watch
            return RunResult("watchpoint", ex.executed, ex.cpu, ex.cpu, ex.pc,
                             WatchHit(w.va, w.size, bool(w.is_write), w.value, w.pc))
        if reason == ExitReason.HALT:
            return RunResult("halt", ex.executed, ex.cpu, ex.cpu, ex.pc,
                             message=f"machine halted with code {ex.code}")
        if reason == ExitReason.WAIT:
            return RunResult("idle", ex.executed, message="every CPU is waiting")
        # An exception on a monitored CPU (no monitor runs here) or anything new.
        return RunResult("error", ex.executed, ex.cpu, ex.cpu, ex.pc,
                         message=f"run stopped: {reason.name} on CPU {ex.cpu} at "
                                 f"0x{ex.pc:08x}")

    def detail(self, i: int, memory_address: int | None, space: str,
               running: bool) -> DebugDetail:
        r = self.registers(i)
        start = _code_start(r.pc)
        code = self.read(i, start, CODE_BYTES)
        if memory_address is None:
            memory_address = int(r.gpr[REG_SP]) & ~0xF  # the stack, to begin with
        memory = self.read(i, memory_address, MEMORY_BYTES, space)
        return DebugDetail(i, self._cp0(i), start, code, memory_address, memory,
                           self._tlb(i), pc=r.pc, regs=r.gpr, hi=r.hi, lo=r.lo,
                           where=f"CPU {i}", memory_space=space)


class VCpuTargets(Targets):
    """The vCPUs of the monitor's virtual machines (monitor-wide id order)."""

    spaces = MEMORY_SPACES

    def __init__(self, machine: Machine, monitor: Monitor) -> None:
        super().__init__(machine)
        self.monitor = monitor
        self._vm: dict[int, VM] = {}  # vCPU id -> its VM
        for vm in monitor.vms:
            for v in vm.vcpus:
                self._vm[v.gid] = vm
        self.vcpus: list[VCpu] = sorted((v for vm in monitor.vms for v in vm.vcpus),
                                        key=lambda v: v.gid)
        self.names = [f"{self._vm[v.gid].name} vCPU {v.index}" for v in self.vcpus]
        self.view = VmsView(machine, monitor, self.vcpus, self.names)
        self._debug: DebugDetail | None = None
        self._debug_at = -1.0

    def vcpu(self, i: int) -> VCpu:
        self.check(i)
        return self.vcpus[i]

    def vm(self, i: int) -> VM:
        """The VM of vCPU i."""
        return self._vm[self.vcpu(i).gid]

    def check(self, i: int) -> None:
        if not 0 <= i < len(self.vcpus):
            raise ValueError(f"vCPU {i} does not exist: there are {len(self.vcpus)} "
                             f"({', '.join(self.names)})")

    def vm_of(self, i: int) -> str | None:
        return self.vm(i).name

    def scope(self, cpu: int | None, vm: str | None) -> str | None:
        """The VM a breakpoint is for: the named one, or the one of its vCPU."""
        if vm is not None and vm not in (v.name for v in self.monitor.vms):
            raise KeyError(f"no guest named {vm!r}: there are "
                           f"{', '.join(v.name for v in self.monitor.vms)}")
        if cpu is not None:
            own = self.vm(cpu).name
            if vm is not None and vm != own:
                raise ValueError(f"{self.names[cpu]} is not in VM {vm}")
            vm = own
        return vm

    def scope_text(self, cpu: int | None, vm: str | None) -> str:
        return "for " + (self.names[cpu] if cpu is not None else (vm if vm else "every VM"))

    def machine_cpu(self, cpu: int | None) -> int | None:
        return None  # a vCPU may run on any CPU: the hit is filtered by `applies`

    def on_cpu(self, cpu: int) -> str:
        return f" on CPU {cpu}"

    # ---- state ------------------------------------------------------------------------

    def registers(self, i: int) -> Registers:
        """From its CPU while it runs there, else as the monitor saved them."""
        v = self.vcpu(i)
        ci = v.cpu
        if v.state == RunState.RUNNING and ci is not None:
            cpu = self.machine.cpus[ci]
            return Registers(cpu.pc, np.asarray(cpu.regs(), np.uint32).copy(), cpu.hi,
                             cpu.lo, ci)
        ctx = v.ctx
        return Registers(ctx.pc, np.array(ctx.gpr, np.uint32), ctx.hi, ctx.lo, None)

    def translate(self, i: int, address: int, space: str = "virtual") -> int | None:
        """Through the vCPU's mappings and its VM's pmap (VCpu.machine_address)."""
        return self.vcpu(i).machine_address(address, space, self.vm(i).pmap.mpn)

    def write(self, i: int, address: int, data: bytes, space: str = "virtual") -> None:
        """Guest-virtual and guest-physical stores go through the VM's pmap (which
        allocates the page, and collapses its replicas first); a page the monitor
        shares read-only between VMs is refused, as the store would reach every VM."""
        v, vm = self.vcpu(i), self.vm(i)
        a = address & 0xFFFFFFFF
        pos = 0
        while pos < len(data):
            at = (a + pos) & 0xFFFFFFFF
            n = min(len(data) - pos, PAGE_SIZE - (at & (PAGE_SIZE - 1)))
            if space == "machine":
                self.machine.write_phys(at, data[pos : pos + n])
            else:
                gpa = v.guest_physical(at) if space == "virtual" else at
                if gpa is None:
                    raise ValueError(f"nothing is mapped at 0x{at:08x} for {self.names[i]}")
                gpn = gpa // PAGE_SIZE
                if gpn in vm.pmap.readonly and gpn not in vm.pmap.replicated:
                    raise ValueError(f"guest page 0x{gpa & ~(PAGE_SIZE - 1):08x} of "
                                     f"{vm.name} is shared read-only with other VMs")
                vm.write_guest(gpa, data[pos : pos + n])
            pos += n

    # ---- running ------------------------------------------------------------------------

    def step(self, i: int) -> StepResult:
        v = self.vcpu(i)
        if self._vm[v.gid].id in self.monitor.sched.paused:
            raise ValueError(f"{self.names[i]}'s VM is paused (the others run on): resume "
                             "it, then step when the vCPU is on a CPU")
        if v.state != RunState.RUNNING or v.cpu is None:
            why = {RunState.WAITING: "waiting for an interrupt (it executed WAIT): type "
                   "into its console or continue until it runs",
                   RunState.READY: "ready but not on a CPU: continue until it runs",
                   RunState.STOPPED: "stopped with its VM"}[v.state]
            raise ValueError(f"{self.names[i]} is {why}; only a vCPU on a CPU can step")
        m, mon = self.machine, self.monitor
        ci = v.cpu
        cpu = m.cpus[ci]
        served = executed = 0
        halted = False
        vm_id = self._vm[v.gid].id
        for _ in range(MAX_TRANSPARENT):
            pc0 = cpu.pc
            ex = m.step(ci)
            executed += ex.executed
            self.view.charge(vm_id, ex.executed, 0)
            if ex.reason == ExitReason.EXCEPTION and ex.exception is not None:
                mon.serve_exception(ci, ex.exception)
                served += 1
                if mon.current[ci] is v and cpu.pc == pc0:
                    continue  # served without the guest noticing: the instruction runs again
            elif ex.reason == ExitReason.HALT:
                halted = True
            break
        return StepResult(executed, ci, halted, served)

    def _counters(self) -> tuple[list[int], list[int]]:
        stats = [_counters(self.machine, ci) for ci in range(len(self.machine.cpus))]
        return [int(s.instructions) for s in stats], [int(s.cycles) for s in stats]

    def run(self, budget: int) -> RunResult:
        mon = self.monitor
        ins0, cyc0 = self._counters()
        r = mon.run(budget)
        ins1, cyc1 = self._counters()
        done = sum(ins1) - sum(ins0)
        for ci, v in enumerate(mon.current):
            if v is not None:
                self.view.charge(self._vm[v.gid].id, ins1[ci] - ins0[ci], cyc1[ci] - cyc0[ci])
        if r == "budget":
            return RunResult("budget", done)
        if r == "idle":
            return RunResult("idle", done, message="every virtual CPU is waiting")
        if r in ("breakpoint", "watchpoint", "step"):
            stop = mon.debug_stop
            assert stop is not None, "Monitor.run names a debugger exit in debug_stop"
            hit = None
            if stop.watch is not None:  # the monitor does not say the access's size
                va, is_write, value, wpc = stop.watch
                hit = WatchHit(va, 1, is_write, value, wpc)
            return RunResult("watchpoint" if r == "watchpoint" else "breakpoint", done,
                             -1 if stop.vcpu is None else stop.vcpu.gid, stop.cpu, stop.pc,
                             hit)
        return RunResult("halt", done, message="every virtual machine has stopped"
                         if r == "stopped" else "machine halted")

    def trace(self, on: bool) -> None:
        self.monitor.events.trace(on=on)

    def forget_copies(self) -> None:
        self.view.forget()
        self._debug_at = -1.0

    # ---- snapshots ------------------------------------------------------------------------

    def vms_view(self) -> VmsView | None:
        return self.view

    def detail(self, i: int, memory_address: int | None, space: str,
               running: bool) -> DebugDetail:
        """The vCPU's details; while running at most every DEBUG_EVERY (the debugger
        refreshes about once a second then, and reading them costs)."""
        now = time.monotonic()
        d = self._debug
        if (running and d is not None and d.cpu == i
                and 0 <= now - self._debug_at < DEBUG_EVERY):
            return d
        self._debug = self._detail(i, memory_address, space, running)
        self._debug_at = now
        return self._debug

    def _detail(self, i: int, memory_address: int | None, space: str,
                running: bool) -> DebugDetail:
        v = self.vcpu(i)
        r = self.registers(i)
        ci = r.cpu if r.cpu is not None else (v.last_cpu if v.last_cpu is not None else 0)
        now = int(_counters(self.machine, ci).cycles)
        vcp0 = []
        for name, reg, sel in CP0_REGISTERS:
            try:
                vcp0.append((name, int(v.cp0.read(reg, sel, now)) & 0xFFFFFFFF))
            except Exception:
                continue
        start = _code_start(r.pc)
        code = self.read(i, start, CODE_BYTES)
        if memory_address is None:
            memory_address = int(r.gpr[REG_SP]) & ~0xF
        memory = self.read(i, memory_address, MEMORY_BYTES, space)
        where = (f"{self.names[i]} on CPU {r.cpu}" if r.cpu is not None else
                 f"{self.names[i]} {v.state.value}, last on CPU {ci}")
        c = self.view.copies(v, running)
        return DebugDetail(
            i, self._cp0(ci), start, code, memory_address, memory, self._tlb(ci), pc=r.pc,
            regs=r.gpr, hi=r.hi, lo=r.lo, where=where, vcp0=tuple(vcp0), l2tlb=c.l2tlb,
            pmap=c.pmaps[self._vm[v.gid].id], memory_space=space, monitor_events=c.events)
