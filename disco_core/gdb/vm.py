"""One virtual machine as a GDB target: its vCPUs are the threads (thread n is vCPU n - 1).

A `VmTarget` works on a `Session` with virtual machines, on the session's
thread (docs/gdb.md, "Threads"), through the session's vCPU debug targets
(`VCpuTargets`) and the monitor. It is all-stop for its VM only: a stop holds
every vCPU of the VM while the other VMs run on. Holding a vCPU takes it off
its CPU and out of the scheduler's queues (its state reads STOPPED meanwhile);
releasing it makes it ready (one that waited for an interrupt wakes as from a
spurious wakeup, and its guest waits again).

- Registers are the vCPU's: the live CPU's while it runs, the saved context
  while it is off a CPU, with the virtual CP0 (what the guest believes).
- Memory is guest-virtual, through the vCPU's mappings and the VM's pmap,
  without side effects; a store to a page the monitor shares read-only
  between VMs is refused (it would reach every VM).
- Breakpoints and watchpoints are armed in the machine through the session
  (reference-counted beside the app debugger's) and a hit is claimed by this
  target only if the vCPU that was there is one of this VM's: another VM
  running the same kernel text passes through (Session.stop_claims).
- A step runs exactly one guest instruction of a held vCPU: it is put on a
  CPU (its last one if idle, else an idle one, else its last one's vCPU gives
  way), stepped with `VCpuTargets.step` (exits to the monitor on the way are
  served transparently) and held again. Interrupts are not delivered during
  the step (as QEMU's gdbstub does by default): a pending one is taken at the
  next continue.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

from disco_core.gdb.points import SessionPoints
from disco_core.gdb.target import (
    CP0_OF_REG,
    EXTRA_CP0,
    GPR_COUNT,
    REG_CAUSE,
    REG_F0,
    REG_FIR,
    REG_HI,
    REG_LO,
    REG_PC,
    REG_STATUS,
    PointKind,
    Resume,
    StopEvent,
    StopKind,
    TargetError,
)
from disco_core.machine import Cpu, CpuState
from disco_core.mips import BADVADDR, CA_IP_SHIFT, CAUSE, EPC, ERROREPC, PAGE_SIZE, STATUS
from disco_core.monitor import vintr
from disco_core.monitor.pmap import NO_PAGE
from disco_core.monitor.realcpu import KICK_LINE
from disco_core.monitor.vcpu import RunState, SavedContext
from disco_core.monitor.vm import VM, VMCpu
from disco_core.session.session import Session
from disco_core.session.targets import RunResult, VCpuTargets

_FPU_ZEROS = [0] * (REG_FIR + 1 - REG_F0)
_IP_BITS = 0xFF << CA_IP_SHIFT  # Cause.IP0-7: the pending interrupt lines
# CP0 registers a client may write (no side effects on the monitor's view of the vCPU).
_WRITABLE_CP0 = {EPC, ERROREPC, BADVADDR}
_WATCH_STOP = {PointKind.WRITE: StopKind.WATCH, PointKind.READ: StopKind.READ_WATCH,
               PointKind.ACCESS: StopKind.ACCESS_WATCH}
PMAP_LINES = 256  # guest pages `monitor pmap` lists at most (it says how many more)
EVENT_LINES = 40  # monitor events `monitor events` shows by default


class _State(enum.Enum):
    HELD = "held"  # stopped for the client
    RUNNING = "running"  # resumed by the client
    FREE = "free"  # no client (detached, or never attached and not held)
    EXITED = "exited"  # the VM stopped (or was killed)


class VmTarget(SessionPoints):
    """A `Target` over one VM of a session. `held=True` starts it held (`--gdb-wait`)."""

    pid = 1
    can_reverse = False

    def __init__(self, session: Session, vm: VM, held: bool = False) -> None:
        if not isinstance(session.target, VCpuTargets) or session.monitor is None:
            raise TargetError("this session has no virtual machines")
        self.session = session
        self.targets: VCpuTargets = session.target
        self.mon = session.monitor
        self.vm = vm
        self._index = {v.gid: i for i, v in enumerate(self.targets.vcpus)}
        self._state = _State.FREE
        self._held: dict[int, RunState] = {}  # gid -> what it was before the hold
        self._stops: list[StopEvent] = []
        self._points: set[tuple[PointKind, int, int]] = set()
        self.woke = False  # released since the owner last looked (the session runs again)
        self.resumes = 0  # resumes the client asked for
        if held:
            self._hold()

    # ---- threads ---------------------------------------------------------------------

    def threads(self) -> Sequence[int]:
        return range(1, len(self.vm.vcpus) + 1)

    def _vcpu(self, thread: int) -> VMCpu:
        if not 1 <= thread <= len(self.vm.vcpus):
            raise TargetError(f"thread {thread} does not exist: {self.vm.name} has threads 1-"
                              f"{len(self.vm.vcpus)} (vCPU n is thread n + 1)")
        return self.vm.vcpus[thread - 1]

    def thread_info(self, thread: int) -> str:
        v = self._vcpu(thread)
        cpu = v.cpu if v.cpu is not None else v.last_cpu
        where = f" on cpu{cpu}" if cpu is not None else ""
        was = self._held.get(v.gid)
        state = f"held (was {was.value})" if was is not None else v.state.value
        return f"{self.vm.name} vcpu{v.index}{where}, {state}"

    @property
    def held(self) -> bool:
        return self._state == _State.HELD

    @property
    def running(self) -> bool:
        return self._state == _State.RUNNING

    # ---- holding and releasing the VM's vCPUs ------------------------------------------

    def _hold(self) -> None:
        """Every vCPU of the VM off its CPU and out of the queues: the VM stops, the
        other VMs run on (on the CPUs it leaves, too)."""
        self._state = _State.HELD if self.vm.running else _State.EXITED
        freed = [ci for v in self.vm.vcpus if (ci := self._hold_vcpu(v)) is not None]
        sched = self.mon.sched
        if sched.booted:
            for ci in freed:
                sched.schedule(ci)

    def _hold_vcpu(self, v: VMCpu) -> int | None:
        """Hold one vCPU; the CPU it leaves (to be given other work), if any."""
        sched = self.mon.sched
        if v.state == RunState.RUNNING and v.cpu is not None:
            ci = v.cpu
            sched.switch_out(ci, RunState.STOPPED)
            self._held[v.gid] = RunState.READY
            return ci
        if v.state == RunState.READY and v in sched.ready:
            sched.ready.remove(v)
        elif v.state == RunState.WAITING and v in sched.waiting:
            sched.waiting.remove(v)
        else:
            return None  # stopped with its VM, or held already
        self._held[v.gid] = v.state
        v.state = RunState.STOPPED
        return None

    def _release(self, only: set[int] | None = None) -> None:
        """Put the held vCPUs (those of `only`, by gid) back in the ready queue."""
        sched = self.mon.sched
        for v in self.vm.vcpus:
            if only is not None and v.gid not in only:
                continue
            was = self._held.pop(v.gid, None)
            if was is None or v.state != RunState.STOPPED or not self.vm.running:
                continue  # not held, or restarted or stopped by the monitor meanwhile
            # Ready, also one that was waiting for an interrupt: it wakes as from a
            # spurious wakeup (the guest's idle loop waits again). Put back among the
            # waiters it could sleep on with no CPU's timer armed for its deadline.
            sched.make_ready(v)
        self.woke = True

    def _now(self, v: VMCpu) -> int:
        ci = v.cpu if v.cpu is not None else (v.last_cpu if v.last_cpu is not None else 0)
        return int(self.mon.cpus[ci].cycles)

    # ---- registers -------------------------------------------------------------------

    def _live_cpu(self, v: VMCpu) -> int | None:
        return v.cpu if v.state == RunState.RUNNING and v.cpu is not None else None

    def _cp0(self, v: VMCpu, reg: int, sel: int) -> int:
        return int(v.cp0.read(reg, sel, self._now(v))) & 0xFFFFFFFF

    def read_registers(self, thread: int) -> Sequence[int]:
        v = self._vcpu(thread)
        ci = self._live_cpu(v)
        if ci is not None:
            cpu = self.mon.cpus[ci]
            regs: list[int] = [int(x) for x in cpu.regs().tolist()]
            pc, lo, hi = cpu.pc, cpu.lo, cpu.hi
        else:
            c = v.ctx
            regs = [int(x) & 0xFFFFFFFF for x in c.gpr]
            pc, lo, hi = c.pc, c.lo, c.hi
        regs += [self._cp0(v, STATUS, 0), lo, hi, self._cp0(v, BADVADDR, 0),
                 self._cp0(v, CAUSE, 0), pc]
        regs += _FPU_ZEROS
        regs += [self._cp0(v, reg, sel) for _, reg, sel in EXTRA_CP0]
        return regs

    def read_register(self, thread: int, number: int) -> int:
        v = self._vcpu(thread)
        if number in CP0_OF_REG:
            return self._cp0(v, *CP0_OF_REG[number])
        if REG_F0 <= number <= REG_FIR:
            return 0
        ci = self._live_cpu(v)
        if ci is not None:
            cpu = self.mon.cpus[ci]
            if number < GPR_COUNT:
                return int(cpu.gpr[number])
            values = {REG_PC: cpu.pc, REG_LO: cpu.lo, REG_HI: cpu.hi}
        else:
            c = v.ctx
            if number < GPR_COUNT:
                return int(c.gpr[number]) & 0xFFFFFFFF
            values = {REG_PC: c.pc, REG_LO: c.lo, REG_HI: c.hi}
        if number not in values:
            raise TargetError(f"register {number} does not exist")
        return int(values[number]) & 0xFFFFFFFF

    def write_register(self, thread: int, number: int, value: int) -> None:
        v = self._vcpu(thread)
        value &= 0xFFFFFFFF
        if REG_F0 <= number <= REG_FIR or number == 0:
            return  # r0 and the floating point registers (there is no FPU) take no writes
        if number in CP0_OF_REG:
            reg, sel = CP0_OF_REG[number]
            if value == self._cp0(v, reg, sel):
                return
            if sel or reg not in _WRITABLE_CP0 or number in (REG_STATUS, REG_CAUSE):
                raise TargetError(f"CP0 register {reg}.{sel} is the monitor's to change")
            v.cp0.write(reg, sel, value, self._now(v))
            return
        ci = self._live_cpu(v)
        regs: Cpu | SavedContext = self.mon.cpus[ci] if ci is not None else v.ctx
        if number < GPR_COUNT:
            regs.gpr[number] = value
        elif number == REG_LO:
            regs.lo = value
        elif number == REG_HI:
            regs.hi = value
        elif number == REG_PC and value != regs.pc:
            if isinstance(regs, SavedContext):  # a new pc leaves any delay slot
                regs.npc, regs.bd = (value + 4) & 0xFFFFFFFF, 0
            regs.pc = value

    # ---- memory -----------------------------------------------------------------------

    def target_index(self, thread: int) -> int:
        """The session's debug target (VCpuTargets index) of a thread."""
        return self._index[self._vcpu(thread).gid]

    def read_memory(self, thread: int, address: int, length: int) -> bytes:
        i = self.target_index(thread)
        data = self.targets.read(i, address, length)
        if len(data) < length:
            raise TargetError(f"0x{(address + len(data)) & 0xFFFFFFFF:08x} is not mapped "
                              f"for {self.vm.name}")
        return data

    def write_memory(self, thread: int, address: int, data: bytes) -> None:
        i = self.target_index(thread)
        # Every page first, so a write that is partly unmapped changes nothing.
        for va in range(address & ~(PAGE_SIZE - 1), address + len(data), PAGE_SIZE):
            if self.targets.translate(i, max(va, address)) is None:
                raise TargetError(f"0x{max(va, address):08x} is not mapped for {self.vm.name}")
        try:
            self.targets.write(i, address, data)
        except (ValueError, KeyError) as e:
            raise TargetError(str(e)) from None

    # ---- breakpoints and watchpoints (inserted through SessionPoints) --------------------

    def claim(self, r: RunResult) -> bool:
        """A breakpoint or watchpoint exit in the session's run: this target's if one of
        this VM's vCPUs was there and one of the client's points covers it; then the
        VM is held and the stop reported (Session.stop_claims)."""
        if self._state != _State.RUNNING or not 0 <= r.target < len(self.targets.vcpus):
            return False
        v = self.targets.vcpus[r.target]
        if v.vm is not self.vm:
            return False
        thread = v.index + 1
        event: StopEvent | None = None
        if r.watch is not None:
            w = r.watch
            for kind, address, length in self._points:
                if (kind.is_watch and address < w.va + w.size and w.va < address + length
                        and (kind == PointKind.ACCESS or (kind == PointKind.WRITE) == w.is_write)):
                    event = StopEvent(thread, _WATCH_STOP[kind], max(address, w.va))
                    break
        elif any(not k.is_watch and a == r.pc for k, a, _ in self._points):
            event = StopEvent(thread, StopKind.BREAKPOINT, r.pc)
        if event is None:
            return False
        self._hold()
        self._stops.append(event)
        return True

    # ---- run control --------------------------------------------------------------------

    def resume(self, actions: Mapping[int, Resume]) -> None:
        if not self.vm.running:
            self._exited()
            return
        self.resumes += 1
        steps = [t for t, r in actions.items() if r == Resume.STEP]
        if steps:
            self._stops.append(self._step(self._vcpu(steps[0])))
            return
        going = {self._vcpu(t).gid for t, r in actions.items() if r == Resume.CONTINUE}
        self._state = _State.RUNNING
        self._release(going)

    def _step(self, v: VMCpu) -> StopEvent:
        """One guest instruction of held vCPU v, which stays held."""
        thread = v.index + 1
        if v.gid not in self._held:
            raise TargetError(f"{self.vm.name} vCPU {v.index} is not held")
        mon, sched = self.mon, self.mon.sched
        if not sched.booted:
            mon.boot()
            for ci in range(mon.ncpus):  # boot gave the CPUs this VM's vCPUs too: take them
                w = mon.current[ci]
                if w is not None and w.vm is self.vm:
                    self._hold_vcpu(w)
                    sched.schedule(ci)
        ci = self._borrow_cpu(v)
        cpu = mon.cpus[ci]
        now = int(cpu.cycles)
        vintr.check_timer(v, now)
        masked = v.cp0.cause & _IP_BITS if v.cp0.interrupt_deliverable() else 0
        v.cp0.cause &= ~masked  # no interrupt is delivered during the step
        del self._held[v.gid]
        sched.switch_in(v, ci)
        if cpu.state == CpuState.WAITING:
            cpu.set_irq(KICK_LINE, True)  # wake the idle CPU (the step serves the kick)
        try:
            self.targets.step(self._index[v.gid])
        finally:
            v.cp0.cause |= masked
            freed = self._hold_vcpu(v)  # as it is now: it ran, or the monitor made it wait
            if freed is not None:
                sched.schedule(freed)
        if not self.vm.running:
            return self._exit_event()
        return StopEvent(thread, StopKind.STEP)

    def _borrow_cpu(self, v: VMCpu) -> int:
        """A CPU to step v on: its last one if idle, else an idle one, else its last one
        after the vCPU there gives way (back to the ready queue)."""
        mon = self.mon
        idle = [ci for ci in range(mon.ncpus) if mon.current[ci] is None]
        last = v.last_cpu if v.last_cpu is not None else 0
        if last in idle:
            return last
        if idle:
            return idle[0]
        mon.sched.switch_out(last, RunState.READY)
        return last

    def reverse(self, thread: int, step: bool) -> None:
        raise TargetError("this session keeps no recording to run backwards on")

    def interrupt(self) -> None:
        if self._stops:
            return  # a stop is already waiting to be reported
        if not self.vm.running:
            self._exited()
            return
        running = [v for v in self.vm.vcpus if v.state == RunState.RUNNING]
        self._hold()
        first = running[0] if running else self.vm.vcpus[0]
        self._stops.append(StopEvent(first.index + 1, StopKind.INTERRUPT))

    def _exit_event(self) -> StopEvent:
        self._state = _State.EXITED
        return StopEvent(1, StopKind.EXITED, code=(self.vm.exit_code or 0) & 0xFF)

    def _exited(self) -> None:
        self._stops.append(self._exit_event())

    def poll_stops(self) -> list[StopEvent]:
        if self._state == _State.RUNNING and not self.vm.running:
            self._exited()
        out, self._stops = self._stops, []
        return out

    def detach(self) -> None:
        for kind, address, length in list(self._points):
            self.remove_point(kind, address, length)
        self._stops.clear()
        if self._state != _State.EXITED:
            self._state = _State.FREE
        self._release()

    def kill(self) -> None:
        """Stop this VM alone (the others run on)."""
        self.detach()
        self.mon.stop_vm(self.vm, "killed by GDB")
        self._state = _State.EXITED

    # ---- monitor commands -------------------------------------------------------------

    def monitor(self, command: str) -> str:
        words = command.split()
        name = words[0] if words else "help"
        handler = _COMMANDS.get(name)
        if handler is None:
            return f"unknown monitor command {name!r}; try 'monitor help'\n"
        try:
            return handler(self, words[1:])
        except (ValueError, IndexError) as e:
            return f"{name}: {e}\n"

    def _arg_vcpu(self, args: list[str]) -> VMCpu:
        n = int(args[0], 0) if args else 0
        if not 0 <= n < len(self.vm.vcpus):
            raise ValueError(f"{self.vm.name} has vCPUs 0-{len(self.vm.vcpus) - 1}")
        return self.vm.vcpus[n]

    def _help(self, args: list[str]) -> str:
        return ("monitor commands (Disco's views of this VM):\n"
                "  pmap [all]     guest pages -> machine pages, home nodes, sharing\n"
                "  l2tlb [VCPU]   the vCPU's second-level software TLB\n"
                "  tlb [VCPU]     the vCPU's virtual TLB (what the guest wrote)\n"
                "  events [N]     the monitor's last N events for this VM\n"
                "  vms            every VM: state, vCPUs and where they run\n"
                "  stats          this VM's exits to the monitor by kind\n")

    def _pmap(self, args: list[str]) -> str:
        pm, memmap = self.vm.pmap, self.mon.memmap
        used = [(g, m) for g, m in enumerate(pm.mpn) if m != NO_PAGE]
        limit = len(used) if args[:1] == ["all"] else PMAP_LINES
        lines = [f"{self.vm.name} pmap: {len(used)} of {pm.npages} guest pages backed"]
        for gpn, mpn in used[:limit]:
            flags = (" read-only shared" if gpn in pm.readonly else "") + \
                    (" replicated" if gpn in pm.replicated else "")
            lines.append(f"  guest 0x{gpn << 12:08x} -> machine 0x{mpn << 12:08x} "
                         f"node {memmap.node_of(mpn)}{flags}")
        if len(used) > limit:
            lines.append(f"  ... {len(used) - limit} more ('monitor pmap all' lists them)")
        return "\n".join(lines) + "\n"

    def _l2tlb(self, args: list[str]) -> str:
        v = self._arg_vcpu(args)
        rows = v.l2tlb_rows()
        lines = [f"{self.vm.name} vCPU {v.index} L2TLB: {len(rows)} entries"]
        lines += [f"  vpn 0x{vpn:05x} asid {'global' if asid > 255 else asid} "
                  f"entrylo 0x{lo:08x} guest page 0x{gpn:05x}" for vpn, asid, lo, gpn in rows]
        return "\n".join(lines) + "\n"

    def _tlb(self, args: list[str]) -> str:
        v = self._arg_vcpu(args)
        lines = [f"  {i:2d}: hi={e.hi:08x} lo0={e.lo0:08x} lo1={e.lo1:08x} mask={e.mask:08x}"
                 f"{' global' if e.g else ''}"
                 for i, e in enumerate(v.tlb) if (e.lo0 | e.lo1) & 2]
        head = f"{self.vm.name} vCPU {v.index} virtual TLB: {len(lines)} valid entries"
        return "\n".join([head, *lines]) + "\n"

    def _events(self, args: list[str]) -> str:
        n = int(args[0], 0) if args else EVENT_LINES
        log = self.mon.events
        mine = [e for e in log.events if e.vm == self.vm.id][-n:] if n > 0 else []
        lines = [f"{self.vm.name}: the last {len(mine)} monitor events"]
        lines += [f"  #{e.seq} cycle {e.cycle}{'' if e.cpu is None else f' cpu{e.cpu}'}: "
                  f"{e.text}" for e in mine]
        return "\n".join(lines) + "\n"

    def _vms(self, args: list[str]) -> str:
        lines = []
        for vm in self.mon.vms:
            mark = "*" if vm is self.vm else " "
            why = f" ({vm.stop_reason})" if vm.stop_reason else ""
            vcpus = ", ".join(
                f"vcpu{v.index} " + (f"on cpu{v.cpu}" if v.cpu is not None else v.state.value)
                for v in vm.vcpus)
            lines.append(f"{mark} {vm.name}: {vm.state.value}{why}, {vm.pmap.npages} pages, "
                         f"home nodes {vm.home_nodes}: {vcpus}")
        return "\n".join(lines) + "\n"

    def _stats(self, args: list[str]) -> str:
        st = self.vm.stats
        ran = int(self.targets.view.instructions[self.vm.id])
        lines = [f"{self.vm.name}: {ran} guest instructions, {st.total_exits} exits to the "
                 f"monitor, {st.total_cycles} monitor cycles"]
        for kind, (count, cycles) in st.by_category().items():
            lines.append(f"  {kind:18} {count:>10} exits {cycles:>14} cycles")
        return "\n".join(lines) + "\n"


_COMMANDS = {
    "help": VmTarget._help, "pmap": VmTarget._pmap, "l2tlb": VmTarget._l2tlb,
    "tlb": VmTarget._tlb, "events": VmTarget._events, "vms": VmTarget._vms,
    "stats": VmTarget._stats,
}

