"""The vCPU scheduler: time-sharing vCPUs over the physical CPUs (paper §2.4).

Ready vCPUs queue in `ready`, those that executed WAIT (or the idle call) in
`waiting` until a virtual interrupt wakes them. A CPU picks with affinity: the
first ready vCPU whose own home node this is, else one whose VM lives on this
node, else any. A vCPU made ready kicks an idle CPU (its last one, else one on
its home node). A CPU with nothing to run enters the monitor's idle loop (a
WAIT at machine page 0). At each slice end the watchdog checks progress and a
vCPU that has used its timeslice yields to a ready one.

A VM can be paused (`pause_vm`, the debugger's "stop one VM while the others
run"): its vCPUs leave their CPUs as if preempted, wait in the ready queue and
are never picked, and a wake-up kicks no CPU for them; the CPUs they leave run
the other VMs. `resume_vm` makes them pickable again. Its guest time goes on
meanwhile (its timer interrupts are delivered when it runs again), as for a
vCPU that waits for a CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from disco_core.errors import SnapshotError
from disco_core.mips import STATUS
from disco_core.monitor import sections, vintr
from disco_core.monitor.assist import Assists
from disco_core.monitor.context import MonitorContext
from disco_core.monitor.hwtlb import HwTlb
from disco_core.monitor.realcpu import IM_TIMER, KICK_LINE, REAL_BASE, arm_timer, sync_mode
from disco_core.monitor.sections import Section
from disco_core.monitor.stats import StatKind
from disco_core.monitor.vcpu import RunState
from disco_core.monitor.vm import VM, VMCpu

# the statistic kinds bound once: an enum member's attribute lookup is slow
# (Python 3.11) and these are used on every exit
_SWITCH = StatKind.SWITCH

IDLE_PC = 0x80000000  # machine page 0, reached through the monitor's own kseg0
IDLE_CODE = bytes.fromhex(
    "20000042"  # wait
    "feff0010"  # b . - 4 (back to wait)
    "00000000"  # nop
)
SECTION, VERSION = "scheduler", 1


class Scheduler:
    """Which vCPU runs on which CPU, and the queues of those that do not."""

    def __init__(self, ctx: MonitorContext, hw: HwTlb, assists: Assists | None,
                 watchdog_cycles: int, timeslice_cycles: int) -> None:
        self.ctx = ctx
        self.cpus = ctx.cpus
        self.hw = hw
        self.assist = assists
        self.watchdog_cycles = watchdog_cycles
        self.timeslice_cycles = timeslice_cycles
        self.current = ctx.current
        self.ready: list[VMCpu] = []
        self.waiting: list[VMCpu] = []
        self.booted = False
        self._scheduling = -1  # the CPU being given its next vCPU: kick no one for it
        self.paused: set[int] = set()  # ids of the VMs whose vCPUs are not scheduled

    def pick_for(self, ci: int) -> VMCpu | None:
        """Affinity (paper §2.4: scheduling cooperates with page placement): the first
        ready vCPU whose own home node this is (vCPU i of a VM: home node i mod
        len(home)), else the first whose VM lives on this node, else the first ready
        one; never one whose last CPU is idle and was kicked to take it back."""
        node = self.ctx.node(ci)
        best, best_rank = None, 3
        paused = self.paused
        for v in self.ready:
            if paused and v.vm.id in paused:
                continue
            last = v.last_cpu
            if (last is not None and last != ci and self.current[last] is None
                    and last != self._scheduling):
                continue
            home = v.vm.home_nodes
            if home[v.index % len(home)] == node:
                return v
            rank = 1 if node in home else 2
            if rank < best_rank:
                best, best_rank = v, rank
        return best

    def make_ready(self, v: VMCpu) -> None:
        v.state = RunState.READY
        self.ready.append(v)
        if not self.booted or v.vm.id in self.paused:
            return
        self._kick_for(v)

    def _kick_for(self, v: VMCpu) -> None:
        """Interrupt an idle CPU (v's last one, else one on its home node) to take v."""
        idle = [ci for ci in range(self.ctx.ncpus)
                if self.current[ci] is None and ci != self._scheduling]
        if not idle:
            return
        node = self.ctx.node
        own = v.vm.home_nodes[v.index % len(v.vm.home_nodes)]
        home = ([ci for ci in idle if node(ci) == own]
                or [ci for ci in idle if node(ci) in v.vm.home_nodes])
        target = v.last_cpu if v.last_cpu in idle else (home or idle)[0]
        assert target is not None
        self.cpus[target].set_irq(KICK_LINE, True)

    def schedule(self, ci: int) -> None:
        """Give CPU ci its next vCPU, or the idle loop."""
        cpu = self.cpus[ci]
        if self.waiting:
            self._scheduling = ci  # a vCPU woken here is picked here: kick no one
            vintr.check_waiting(self, cpu.cycles)
            self._scheduling = -1
        v = self.pick_for(ci)
        if v is None:
            self.go_idle(ci)
            return
        self.ready.remove(v)
        self.switch_in(v, ci)

    def go_idle(self, ci: int) -> None:
        cpu = self.cpus[ci]
        self.current[ci] = None
        deadlines = [w.deadline for w in self.waiting if w.deadline is not None]
        # kernel mode, waiting for a kick, and for the timer only if a vCPU needs it:
        # with nothing due the machine reports that every CPU waits (Monitor.run: "idle")
        cpu.set_cp0(STATUS, REAL_BASE if deadlines else REAL_BASE & ~IM_TIMER)
        cpu.pc = IDLE_PC
        arm_timer(cpu, cpu.cycles, min(deadlines) if deadlines else None)

    def switch_in(self, v: VMCpu, ci: int) -> None:
        cpu = self.cpus[ci]
        now = cpu.cycles
        if self.hw.switch_in(v, ci):
            self.ctx.charge(cpu, v.vm, _SWITCH, self.ctx.costs.vcpu_switch)
        r: Any = cpu.context()  # the core's register record (cffi)
        ctx = v.ctx
        for i in range(32):
            r.gpr[i] = ctx.gpr[i]
        r.pc, r.npc, r.hi, r.lo = ctx.pc, ctx.npc, ctx.hi, ctx.lo
        r.bd, r.llbit = ctx.bd, ctx.llbit
        cpu.set_context(r)
        self.current[ci] = v
        if self.assist is not None:
            self.assist.bind(ci, v)
        v.cpu = ci
        v.state = RunState.RUNNING
        v.cycles_mark = now
        v.slice_start = now
        self.hw.sync_asid(v, ci)
        sync_mode(v, cpu)
        vintr.check_timer(v, now)  # it may have come due while v was off a CPU
        arm_timer(cpu, now, v.deadline)
        vintr.deliver(self.ctx, v, cpu, (ctx.pc, bool(ctx.bd)))

    def switch_out(self, ci: int, state: RunState) -> None:
        cpu = self.cpus[ci]
        v = self.current[ci]
        assert v is not None
        r: Any = cpu.context()
        ctx = v.ctx
        ctx.gpr = [int(r.gpr[i]) for i in range(32)]
        ctx.pc, ctx.npc, ctx.hi, ctx.lo = r.pc, r.npc, r.hi, r.lo
        ctx.bd, ctx.llbit = r.bd, r.llbit
        now = cpu.cycles
        v.ran_cycles += now - v.cycles_mark
        v.cycles_mark = now
        self.current[ci] = None
        if self.assist is not None:
            self.assist.unbind(ci)
        v.cpu = None
        v.last_cpu = ci
        v.state = state
        if state == RunState.READY:
            self.ready.append(v)
        elif state == RunState.WAITING:
            self.waiting.append(v)

    def yield_cpu(self, ci: int, state: RunState) -> None:
        """The vCPU on ci leaves it (ready again, or waiting) and ci runs the next."""
        self.switch_out(ci, state)
        self.schedule(ci)

    def pause_vm(self, vm: VM) -> None:
        """Stop scheduling vm's vCPUs: those on a CPU leave it (ready, as if preempted),
        and the CPU takes the next vCPU of another VM."""
        if vm.id in self.paused:
            return
        self.paused.add(vm.id)
        for v in vm.vcpus:
            if v.state == RunState.RUNNING and v.cpu is not None:
                self.yield_cpu(v.cpu, RunState.READY)

    def resume_vm(self, vm: VM) -> None:
        """Schedule vm's vCPUs again: an idle CPU is kicked for each ready one."""
        if vm.id not in self.paused:
            return
        self.paused.discard(vm.id)
        if self.booted:
            for v in [r for r in self.ready if r.vm is vm]:
                self._kick_for(v)

    def remove_vm(self, vm: VM) -> set[int]:
        """vm stops: its vCPUs leave the queues and their CPUs; their gids."""
        gids = {v.gid for v in vm.vcpus}
        self.paused.discard(vm.id)  # a stopped VM boots again unpaused
        # out of the queues first, so the CPUs it leaves cannot pick its other vCPUs
        self.ready = [v for v in self.ready if v.gid not in gids]
        self.waiting = [v for v in self.waiting if v.gid not in gids]
        for v in vm.vcpus:
            if v.state == RunState.RUNNING and v.cpu is not None:
                self.yield_cpu(v.cpu, RunState.STOPPED)
            v.state = RunState.STOPPED
            v.l2tlb.flush()
        return gids

    def slice_end(self, stop_vm: Callable[[VM, str], None]) -> None:
        """The watchdog (`stop_vm` a vCPU without progress) and time-slicing, then wake
        the waiting vCPUs that came due."""
        for ci in range(self.ctx.ncpus):
            v = self.current[ci]
            if v is None:
                continue
            now = self.cpus[ci].cycles
            v.ran_cycles += now - v.cycles_mark
            v.cycles_mark = now
            if self.assist is not None and self.assist.progressed(v):
                v.progressed = True  # an ERET into user mode that C served
            if v.progressed:
                v.progressed = False
                v.progress_at = v.ran_cycles
            elif v.ran_cycles - v.progress_at > self.watchdog_cycles:
                stop_vm(v.vm, f"watchdog: vCPU {v.index} ran {v.ran_cycles - v.progress_at}"
                        f" cycles without progress (pc {self.cpus[ci].pc:#010x})")
                continue
            if now - v.slice_start >= self.timeslice_cycles and self.pick_for(ci) is not None:
                self.yield_cpu(ci, RunState.READY)
        if self.waiting:
            vintr.check_waiting(self, self.ctx.machine_cycles())

    # ---- state ----------------------------------------------------------------------------

    def state(self) -> Section:
        """Which vCPU (gid) is on each CPU, and the queues in order."""
        sec = sections.make(SECTION, VERSION, booted=self.booted,
                            current=[None if v is None else v.gid for v in self.current],
                            ready=[v.gid for v in self.ready],
                            waiting=[v.gid for v in self.waiting])
        if self.paused:  # only then: the sections of sessions that never pause stay as they were
            sec["paused"] = sorted(self.paused)
        return sec

    def load_state(self, section: Section) -> None:
        sec = sections.check(section, SECTION, VERSION, "booted", "current", "ready",
                             "waiting")
        vcpus = self.ctx.vcpus
        with sections.loading(SECTION):
            current = [None if g is None else vcpus[int(g)] for g in sec["current"]]
            if len(current) != self.ctx.ncpus:
                raise SnapshotError(f"the scheduler section has {len(current)} CPUs, not "
                                    f"{self.ctx.ncpus}")
            self.current[:] = current  # the context's list: every part sees it
            self.ready = [vcpus[int(g)] for g in sec["ready"]]
            self.waiting = [vcpus[int(g)] for g in sec["waiting"]]
            self.booted = bool(sec["booted"])
            self.paused = {int(i) for i in sec.get("paused", [])}
