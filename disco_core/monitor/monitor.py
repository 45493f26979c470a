"""The monitor's run loop: physical CPUs in MONITORED ownership run vCPUs.

Every exception of a guest exits here (docs/cpu.md) and is dispatched to its
mechanism: privileged instructions are emulated (emulate.py), TLB misses are
served from the L2TLB, the guest's virtual TLB or the pmap, or reflected into
the guest (tlbmiss.py), SYSCALL from the guest kernel is a monitor call
(mcall.py), real interrupts become virtual ones (vintr.py). The scheduler
(scheduler.py) time-shares vCPUs over CPUs with affinity to the VM's home
nodes; the hardware TLBs and ASID remapping are hwtlb.py's. The hot exits are
served in C (assist.py) from tables derived from the Python state.

Fault containment: an illegal operation, a panic call or a vCPU that runs
`watchdog_cycles` without progress stops its VM alone; the others go on.
Progress is a monitor call, a WAIT, or an ERET into guest user mode: a kernel
that spins, even with interrupts arriving, makes none.

Each part owns its state and saves it as a versioned section (sections.py);
`Monitor.state()` gathers them and `Monitor.load_state()` loads them into a
monitor built the same way (docs/monitor-layout.md).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from disco_core.errors import CoreBug, DiscoError, SnapshotError
from disco_core.machine import Cpu, CpuState, ExitReason, Machine, Ownership
from disco_core.mips import (
    EXC_ADEL,
    EXC_ADES,
    EXC_CPU,
    EXC_INT,
    EXC_MOD,
    EXC_RI,
    EXC_SYS,
    EXC_TLBL,
    EXC_TLBS,
    HWRENA,
    ST_CU0,
    WIRED,
    Mode,
)
from disco_core.monitor import emulate, invariants, sections, vintr
from disco_core.monitor.assist import Assists
from disco_core.monitor.contentshare import ContentShare
from disco_core.monitor.context import MonitorContext, Trap
from disco_core.monitor.costs import DEFAULT, CostModel, page_traffic
from disco_core.monitor.diskcache import SHARING, DiskCache
from disco_core.monitor.emulate import GuestFault, NotEmulated
from disco_core.monitor.events import EventKind, EventLog
from disco_core.monitor.hwtlb import HwTlb
from disco_core.monitor.mcall import (  # noqa: F401  (the call numbers' old home)
    CONSOLE_LINE,
    IPI_LINE,
    MC_INTR_PENDING,
    RTC_EPOCH,
    Call,
    MonitorCalls,
    VMStop,
)
from disco_core.monitor.memmap import MemMap, OutOfMachineMemory
from disco_core.monitor.numa import DEFAULT_POLICY, NumaManager, NumaParams
from disco_core.monitor.pmap import PMap
from disco_core.monitor.realcpu import KICK_LINE, REAL_SUPER, REAL_USER, set_pc, sync_mode
from disco_core.monitor.regpage import MAX_GUEST_PAGES, REGPAGE_VA, machine_words
from disco_core.monitor.scheduler import IDLE_CODE, IDLE_PC, Scheduler
from disco_core.monitor.sections import Section
from disco_core.monitor.stats import StatKind
from disco_core.monitor.tlbmiss import TlbMiss
from disco_core.monitor.vcpu import RunState, TlbEntry
from disco_core.monitor.vm import VM, VMCpu, VMSpec, VMState
from disco_core.monitor.vnet import VNet

__all__ = ["IDLE_PC", "MC_INTR_PENDING", "RTC_EPOCH", "Call", "DebugStop", "Monitor",
           "RunResult", "run_vms"]

K = StatKind
# the kinds the exit path compares, bound once: an enum member's attribute lookup is
# slow (Python 3.11) and this runs on every exit
_ERET = StatKind.ERET
_WAIT = StatKind.WAIT
_MTC0 = StatKind.MTC0
_EI = StatKind.EI
_RDHWR = StatKind.RDHWR
_PAGE_FAULT = StatKind.PAGE_FAULT
_REFLECT = StatKind.REFLECT
_MONITOR_CALL = StatKind.MONITOR_CALL
_SUPERVISOR, _USER = Mode.SUPERVISOR, Mode.USER
_EXIT_EXCEPTION, _EXIT_BUDGET = int(ExitReason.EXCEPTION), int(ExitReason.BUDGET)
_EXIT_WAIT, _EXIT_HALT = int(ExitReason.WAIT), int(ExitReason.HALT)
_EXIT_HOTPAGE = int(ExitReason.HOTPAGE)
SECTION, VERSION = "monitor", 1


class RunResult(enum.StrEnum):
    """Why Monitor.run returned."""

    STOPPED = "stopped"  # every VM has stopped
    IDLE = "idle"  # nothing can run: every CPU waits with nothing due
    HALT = "halt"  # the machine halted
    BUDGET = "budget"  # the instructions asked for were run
    BREAKPOINT = "breakpoint"  # a debugger's exits (see Monitor.debug_stop)
    WATCHPOINT = "watchpoint"
    STEP = "step"


# exits only a debugger causes: Monitor.run returns them to its caller (see _debug_exit)
_DEBUG_EXITS = {int(ExitReason.BREAKPOINT): RunResult.BREAKPOINT,
                int(ExitReason.WATCHPOINT): RunResult.WATCHPOINT,
                int(ExitReason.STEP): RunResult.STEP}


@dataclass(frozen=True)
class DebugStop:
    """Where Monitor.run stopped for a debugger: the reason it returned, the CPU, the
    vCPU running there (None in the monitor's idle loop), the pc, and for a
    watchpoint (va, is_write, value, pc of the access)."""

    reason: RunResult
    cpu: int
    vcpu: VMCpu | None
    pc: int
    watch: tuple[int, bool, int, int] | None = None


class Monitor:
    """Disco on a Machine: VMs, vCPUs, the run loop and exit dispatch."""

    def __init__(self, machine: Machine, costs: CostModel = DEFAULT,
                 slice_instructions: int = 100_000, watchdog_cycles: int = 100_000_000,
                 timeslice_cycles: int = 1_000_000, asid_remap: bool = False,
                 assists: bool = True, numa_policy: str = DEFAULT_POLICY,
                 numa_params: NumaParams | None = None, sharing: str = "disco") -> None:
        if sharing not in SHARING:
            raise DiscoError(f"no sharing mode {sharing!r}: choose one of {', '.join(SHARING)}")
        self.m = machine
        cfg = machine.config
        self.cpus: list[Cpu] = machine.cpus
        self.ncpus = cfg.cpus
        self.tlb_entries = cfg.tlb_entries
        self.costs = costs
        self.slice = slice_instructions
        self.memmap = MemMap(machine, cfg.ram_bytes, cfg.nodes)
        machine.write_phys(0, IDLE_CODE)
        # what the monitor did, for the app and the statistics
        self.events = EventLog()
        self.ctx = ctx = MonitorContext(machine, costs, self.memmap, self.events)
        self.vms: list[VM] = ctx.vms
        self.vcpus: dict[int, VMCpu] = ctx.vcpus
        self.current: list[VMCpu | None] = ctx.current
        self.reports: list[str] = []
        self.debug_stop: DebugStop | None = None  # the last breakpoint/watchpoint/step exit
        # the hot exits served in C (assist.py); None: every exit comes here. The C
        # assists tag hardware entries with the guest's ASID, so ASID remapping (an
        # option to compare, with the same simulated costs) serves every exit in Python.
        self.asid_remap = asid_remap
        self.assist = (Assists(machine, costs, REAL_SUPER, REAL_USER)
                       if assists and not asid_remap else None)
        self.hw = HwTlb(ctx, asid_remap)
        self.tlb = TlbMiss(ctx, self.hw, self.assist)
        self.sched = Scheduler(ctx, self.hw, self.assist, watchdog_cycles, timeslice_cycles)
        ctx.post_interrupt = self.post_interrupt
        self.vnet = VNet(ctx)  # the virtual network between the VMs (vnet.py)
        self.numa = NumaManager(ctx, numa_policy, numa_params)  # placement, hot pages
        self.sharing = sharing
        self.diskcache = DiskCache(ctx, self.numa) if sharing in ("disco", "both") else None
        self.contentshare = ContentShare(ctx) if sharing in ("content", "both") else None
        for index in (self.diskcache, self.contentshare):
            if index is not None:
                self.numa.indexes.append(index)  # a migrated frame's index follows it
        self.calls = MonitorCalls(ctx, self.sched, self.vnet, self.diskcache)
        self.exits = 0
        self.exits_in_c = 0  # of those, served by the C assists (assist.py)
        self._running_vms = 0
        self._slice_left = slice_instructions
        c = costs
        self._kind_cost: dict[str, int] = {
            K.MFC0: c.mfc0_mtc0, K.MTC0: c.mfc0_mtc0, K.TLBWI: c.tlb_write,
            K.TLBWR: c.tlb_write, K.TLBP: c.tlbp, K.TLBR: c.tlbr, K.ERET: c.eret,
            K.CACHE: c.other_privileged, K.WAIT: c.other_privileged,
            K.DI: c.other_privileged, K.EI: c.other_privileged, K.RDHWR: c.other_privileged,
            K.RDPGPR: c.other_privileged, K.REFLECT: c.reflect, K.INTERRUPT: c.reflect,
            K.L2TLB_REFILL: c.l2tlb_refill, K.VTLB_REFILL: c.vtlb_refill,
            K.KERNEL_TLB_FAULT: c.kernel_tlb_fault, K.MONITOR_CALL: c.monitor_call,
            K.PAGE_FREED: c.monitor_call, K.ZERO_PAGE: c.monitor_call,
            K.INTR_PENDING: c.monitor_call,
        }

    # ---- the parts' state, under the names other code reads ----------------------------

    @property
    def ready(self) -> list[VMCpu]:
        return self.sched.ready

    @property
    def waiting(self) -> list[VMCpu]:
        return self.sched.waiting

    @property
    def booted(self) -> bool:
        return self.sched.booted

    @property
    def watchdog_cycles(self) -> int:
        return self.sched.watchdog_cycles

    @property
    def timeslice_cycles(self) -> int:
        return self.sched.timeslice_cycles

    @property
    def hw_owner(self) -> list[int | None]:
        return self.hw.owner

    @property
    def switch_flushes(self) -> int:
        return self.hw.switch_flushes

    @property
    def asid_recycles(self) -> int:
        return self.hw.asid_recycles

    # ---- VMs -------------------------------------------------------------------------

    def create_vm(self, spec: VMSpec) -> VM:
        if spec.memory_pages <= 0:
            raise DiscoError(f"VM {spec.name!r}: memory_pages must be positive")
        if spec.memory_pages > MAX_GUEST_PAGES:
            raise DiscoError(
                f"VM {spec.name!r}: memory_pages {spec.memory_pages} is more than "
                f"{MAX_GUEST_PAGES}: the relocated kseg0 above that holds the register page "
                f"at {REGPAGE_VA:#x}; give the VM less memory")
        bad = [n for n in spec.home_nodes if not 0 <= n < self.memmap.nodes]
        if bad:
            raise DiscoError(f"VM {spec.name!r}: home nodes {bad} do not exist")
        vm_id = len(self.vms)
        pmap = PMap(vm_id, spec.memory_pages, self.memmap, list(spec.home_nodes))
        vm = VM(vm_id, spec, pmap, self.tlb_entries, first_gid=len(self.vcpus))
        pmap.invalidate = lambda gpn, mpn, vm=vm: self.tlb.invalidate_page(vm, gpn, mpn)
        self.numa.attach(vm)
        pmap.on_unshare = lambda gpn, mpn, vm=vm: self.events.emit(
            EventKind.UNSHARE, self.ctx.machine_cycles(), vm=vm.id, pa=gpn << 12,
            ma=mpn << 12, reason="copy on write")
        for v in vm.vcpus:
            # the register page: a machine page outside guest memory, on this vCPU's own
            # home node (where affinity runs it: every trap touches the page)
            home = vm.home_nodes
            mpn = self.memmap.alloc([home[v.index % len(home)]] + list(home))
            v.attach_regpage(mpn, machine_words(self.m, mpn))
            self.vcpus[v.gid] = v
        if self.assist is not None:
            self.assist.add_vm(vm)
        self.vms.append(vm)
        return vm

    def start_vm(self, vm: VM) -> None:
        """Load the VM's image and make its vCPUs runnable at the entry point."""
        if vm.state == VMState.RUNNING:
            raise DiscoError(f"VM {vm.name!r} is already running")
        self.vnet.forget(vm)
        self.ctx.exit_cpu = -1  # the image's pages are not touched by any CPU
        vm.pmap.release_all()
        vm.load_image()
        if self.diskcache is not None and vm.spec.text:
            self.diskcache.share_text(vm, vm.spec.text)
        vm.state = VMState.RUNNING
        self._running_vms += 1
        vm.stop_reason = None
        vm.exit_code = None
        vm.starts += 1
        self.events.emit(EventKind.VM_START, self.ctx.machine_cycles(), vm=vm.id)
        for v in vm.vcpus:
            v.l2tlb.flush()
            v.reset(vm.spec.entry)
            if self.assist is not None:
                self.assist.reset_vcpu(v)
            self.sched.make_ready(v)

    restart_vm = start_vm

    def stop_vm(self, vm: VM, reason: str, exit_code: int | None = None) -> None:
        """Stop a VM alone: its vCPUs leave their CPUs, which go on with other work."""
        if vm.state != VMState.RUNNING:
            return
        vm.state = VMState.STOPPED
        self._running_vms -= 1
        self.vnet.forget(vm)
        vm.stop_reason = reason
        vm.exit_code = exit_code
        self.reports.append(f"VM {vm.id} {vm.name!r} stopped: {reason}")
        self.events.emit(EventKind.VM_STOP, self.ctx.machine_cycles(), vm=vm.id, reason=reason)
        self.hw.forget_vcpus(self.sched.remove_vm(vm))

    # ---- the run loop -------------------------------------------------------------------

    def boot(self) -> None:
        """Put every CPU in MONITORED ownership and give each its first vCPU."""
        for ci, cpu in enumerate(self.cpus):
            if cpu.state == CpuState.PARKED:
                cpu.start(IDLE_PC)
            cpu.ownership = Ownership.MONITORED
            cpu.set_cp0(HWRENA, 0)  # every RDHWR traps and is emulated
            cpu.set_cp0(WIRED, 0)
            self.hw.flush(ci)
            self.sched.go_idle(ci)
        self.sched.booted = True
        for ci in range(self.ncpus):
            self.sched.schedule(ci)

    def run(self, max_instructions: int = 10**12) -> RunResult:
        """Run until every VM has stopped (STOPPED), nothing can run (IDLE), the
        machine halts (HALT) or the budget is spent (BUDGET); a debugger's
        breakpoint, watchpoint or step exit returns its name (see debug_stop)."""
        if not self.booted:
            self.boot()
        try:
            return self._run(max_instructions)
        finally:
            self._fold()

    def _fold(self) -> None:
        if self.assist is not None:  # what C served joins the statistics
            n = self.assist.fold(self.vms)
            self.exits += n
            self.exits_in_c += n

    def _run(self, left: int) -> RunResult:
        run = self.m.run_cdata  # the C exit record itself: no Exit object per exit
        on_exception = self._on_exception
        while left > 0:
            if self._running_vms == 0:
                return RunResult.STOPPED
            ex: Any = run(min(self._slice_left, left))
            executed = ex.executed
            left -= executed
            self._slice_left -= executed
            reason = ex.reason
            if reason == _EXIT_EXCEPTION:
                self.exits += 1
                on_exception(ex.cpu, ex.exception)
            elif reason == _EXIT_BUDGET:
                pass
            elif reason == _EXIT_HOTPAGE:
                self.numa.on_hot_pages(ex.cpu)
            elif reason == _EXIT_WAIT:
                self._slice_end()
                if not self.ready:
                    return RunResult.IDLE
            elif reason == _EXIT_HALT:
                return RunResult.HALT
            elif reason in _DEBUG_EXITS:  # app debugger: see _debug_exit
                return self._debug_exit(ex)
            else:
                raise CoreBug(f"the monitor got an unexpected exit {ExitReason(reason)!r}")
            if self._slice_left <= 0:  # a slice boundary, however many exits fell in it
                self._slice_left = self.slice
                self._slice_end()
        return RunResult.BUDGET

    def _slice_end(self) -> None:
        """At each slice boundary: the NUMA manager's clock, the watchdog and time-slicing,
        then content sharing's scan."""
        self.numa.tick()
        self.sched.slice_end(self.stop_vm)
        if self.contentshare is not None:
            self.contentshare.tick()

    def _debug_exit(self, ex: Any) -> RunResult:
        """A breakpoint, watchpoint or step exit (set by a debugger, never by the monitor):
        record where it happened and which vCPU was there, and let the caller decide.
        The CPU is left exactly as the exit left it, so calling run() again goes on
        (the core executes the instruction at a breakpoint instead of stopping again)."""
        ci = int(ex.cpu)
        reason = _DEBUG_EXITS[int(ex.reason)]
        watch = None
        if reason == RunResult.WATCHPOINT:
            w = ex.watch
            watch = (int(w.va), bool(w.is_write), int(w.value), int(w.pc))
        self.debug_stop = DebugStop(reason, ci, self.current[ci], int(self.cpus[ci].pc), watch)
        return reason

    def serve_exception(self, ci: int, e: Trap) -> None:
        """Serve an EXCEPTION exit of CPU ci as run() does: for a debugger that steps
        a vCPU with Machine.step instead of running the machine."""
        self.exits += 1
        self._on_exception(ci, e)

    # ---- exits ------------------------------------------------------------------------------

    def _on_exception(self, ci: int, e: Trap) -> None:
        v = self.current[ci]
        cpu = self.cpus[ci]
        if v is None:
            if e.code != EXC_INT:
                raise CoreBug(f"CPU {ci} faulted in the monitor's idle loop: {e}")
            cpu.set_irq(KICK_LINE, False)
            self.sched.schedule(ci)
            return
        vm = v.vm
        allocs = vm.pmap.allocations
        self.ctx.exit_cpu = ci
        try:
            kind = self._handle(v, cpu, ci, e)
        except GuestFault as f:
            self.ctx.charge(cpu, vm, _REFLECT, self.costs.trap)
            self.stop_vm(vm, f"illegal operation at pc {e.pc:#010x}: {f}")
            return
        except OutOfMachineMemory as f:
            self.stop_vm(vm, f"out of machine memory at pc {e.pc:#010x}: {f}")
            return
        except VMStop as s:
            self.ctx.charge(cpu, vm, _MONITOR_CALL, self.costs.trap + self.costs.monitor_call)
            self.stop_vm(vm, s.reason, s.exit_code)
            return
        cost = self.costs.trap + self._kind_cost.get(kind, 0)
        vm.stats.add(kind, cost)
        if vm.pmap.allocations != allocs:  # the monitor zeroed pages for this exit
            # a zeroing loop's instructions plus its stores' misses (costs.page_traffic)
            zero = self.costs.zero_page + page_traffic(self.m)
            for _ in range(vm.pmap.allocations - allocs):
                vm.stats.add(_PAGE_FAULT, zero)
                cost += zero
        if cost:
            cpu.charge(cost)

    def _handle(self, v: VMCpu, cpu: Cpu, ci: int, e: Trap) -> StatKind:
        code = e.code
        supervisor = e.mode == _SUPERVISOR  # the guest kernel (real supervisor mode)
        if code == EXC_CPU and e.ce == 0 and (supervisor or v.cp0.status & ST_CU0):
            try:
                kind = emulate.emulate_cop0(self, v, cpu, e.insn)
            except NotEmulated:
                return emulate.reflect(v, cpu, EXC_RI, e.pc, e.bd)
            if kind == _ERET:
                if v.cp0.mode == _USER:
                    v.progressed = True
                vintr.deliver(self.ctx, v, cpu, None)
            elif kind == _WAIT:
                cpu.advance()
                v.progressed = True
                if not v.cp0.interrupt_wakes():
                    self.sched.yield_cpu(ci, RunState.WAITING)
                else:  # already pending: taken right after the WAIT if enabled
                    vintr.deliver(self.ctx, v, cpu, None)
            else:
                cpu.advance()
                if kind in (_MTC0, _EI) and v.cp0.interrupt_deliverable():
                    vintr.deliver(self.ctx, v, cpu, None)
            return kind
        if code in (EXC_TLBL, EXC_TLBS, EXC_MOD):
            return self.tlb.tlb_fault(v, cpu, ci, e)
        if code == EXC_SYS and supervisor:
            return self.calls.serve(v, cpu, ci)
        if code == EXC_INT:
            return vintr.real_interrupt(self.ctx, self.sched, v, cpu, e.pc, e.bd)
        if code in (EXC_ADEL, EXC_ADES) and supervisor:
            why = invariants.kernel_address_fault(e.badvaddr)
            if why is not None:
                raise GuestFault(why)
        if code == EXC_RI and emulate.rdhwr(v, cpu, e.insn, supervisor):
            cpu.advance()
            return _RDHWR
        return emulate.reflect(v, cpu, code, e.pc, e.bd, e.badvaddr, e.refill, e.ce)

    # ---- what emulation does to the hardware (emulate.Effects) ---------------------------

    def install_virtual_entry(self, v: VMCpu, cpu: Cpu, ent: TlbEntry,
                              kind: StatKind = K.TLBWR) -> None:
        self.tlb.install_virtual_entry(v, cpu, ent, kind)

    def forget_virtual_entry(self, v: VMCpu, cpu: Cpu, ent: TlbEntry) -> None:
        self.tlb.forget_virtual_entry(v, cpu, ent)

    def forget_page(self, v: VMCpu, cpu: Cpu, vpn2_va: int, asid: int) -> None:
        self.tlb.forget_page(v, cpu, vpn2_va, asid)

    def sync_asid(self, v: VMCpu, cpu: Cpu) -> None:
        self.hw.sync_asid(v, cpu.index)

    def sync_timer(self, v: VMCpu, cpu: Cpu, now: int) -> None:
        vintr.sync_timer(v, cpu, now)

    def sync_mode(self, v: VMCpu, cpu: Cpu) -> None:
        sync_mode(v, cpu)

    def set_pc(self, cpu: Cpu, pc: int, clear_ll: bool = False) -> None:
        set_pc(cpu, pc, clear_ll)

    def hw_install(self, ci: int, vpn2_va: int, asid: int, lo0: int, lo1: int) -> None:
        self.hw.install(ci, vpn2_va, asid, lo0, lo1)

    def hw_remove(self, ci: int, vpn2_va: int, asid: int) -> None:
        self.hw.remove(ci, vpn2_va, asid)

    def hw_keys(self, ci: int) -> list[tuple[int, int]]:
        return self.hw.keys(ci)

    def hw_flush(self, ci: int) -> None:
        self.hw.flush(ci)

    def now(self, cpu: Cpu) -> int:
        return cpu.cycles

    # ---- interrupts, consoles, sharing ----------------------------------------------------

    def post_interrupt(self, v: VMCpu, line: int) -> None:
        """Raise the vCPU's virtual Cause.IP(2 + line) (virtual devices, IPIs)."""
        vintr.post(self.ctx, self.sched, v, line)

    def clear_interrupt(self, v: VMCpu, line: int) -> None:
        vintr.clear(v, line)

    def console_input(self, vm: VM, data: bytes) -> None:
        """Type into a VM's console: GETC returns the bytes, and vCPU 0 gets the
        console interrupt (Cause.IP2) until GETC has drained them."""
        if not data:
            return
        vm.console_in += data
        if vm.running:
            self.post_interrupt(vm.vcpus[0], CONSOLE_LINE)

    def share_page(self, src: VM, src_gpn: int, dst: VM, dst_gpn: int) -> None:
        """Let dst's guest page dst_gpn share src's machine page read-only (copy-on-write
        for both), as the paper's copy-on-write disks and network remapping do."""
        dst.pmap.share_from(dst_gpn, src.pmap.make_readonly(src_gpn))

    # ---- inspection ------------------------------------------------------------------------------

    def vm_by_name(self, name: str) -> VM:
        for vm in self.vms:
            if vm.name == name:
                return vm
        raise KeyError(name)

    def check_invariants(self) -> list[str]:
        """Memory isolation, read from the real hardware TLBs (invariants.py)."""
        return invariants.check(self.ctx, self.hw)

    def sharing_stats(self) -> dict[str, int]:
        """Counts of the sharing mechanisms (diskcache.py, contentshare.py)."""
        out: dict[str, int] = {}
        for mech in (self.diskcache, self.contentshare):
            if mech is not None:
                for k, n in mech.stats.items():
                    out[k] = out.get(k, 0) + n
        return out

    # ---- state ---------------------------------------------------------------------------

    def state(self, events_since: int = 0) -> Section:
        """Every part's section, gathered: the monitor's own counters, the scheduler,
        the hardware TLBs' owners, memmap, each VM (with its pmap, vCPUs and
        statistics), the NUMA manager, the sharing mechanisms, the network, the C
        assists' kseg pairs and the event log. What C counted is taken into the
        Python statistics first. Take it between runs, with Machine.snapshot().
        `events_since` keeps only the events numbered from it (a recording's
        incremental checkpoints; that section alone does not load)."""
        self._fold()
        if self.assist is not None:
            self.assist.fold_progress(self.vms)
        return sections.make(
            SECTION, VERSION, exits=self.exits, exits_in_c=self.exits_in_c,
            running_vms=self._running_vms, slice_left=self._slice_left,
            exit_cpu=self.ctx.exit_cpu, reports=list(self.reports),
            scheduler=self.sched.state(), hwtlb=self.hw.state(), memmap=self.memmap.state(),
            vms=[{"vm": vm.save_state(), "pmap": vm.pmap.state(), "stats": vm.stats.state(),
                  "vcpus": [v.save_state() for v in vm.vcpus]} for vm in self.vms],
            numa=self.numa.state(),
            diskcache=self.diskcache.state() if self.diskcache is not None else None,
            contentshare=self.contentshare.state() if self.contentshare is not None else None,
            vnet=self.vnet.state(), events=self.events.state(events_since),
            assists=self.assist.state() if self.assist is not None else None)

    def load_state(self, section: Section) -> None:
        """Load a state() into this monitor, built as the saved one was (the same
        constructor arguments, the same VMSpecs created in order, not run yet) on a
        machine that Machine.restore() has given the saved machine's state. The C
        assist tables are then rebuilt from the loaded Python state."""
        sec = sections.check(section, SECTION, VERSION, "exits", "exits_in_c", "running_vms",
                             "slice_left", "exit_cpu", "reports", "scheduler", "hwtlb",
                             "memmap", "vms", "numa", "diskcache", "contentshare", "vnet",
                             "events", "assists")
        if len(sec["vms"]) != len(self.vms):
            raise SnapshotError(f"the monitor section has {len(sec['vms'])} VMs; this monitor "
                                f"has {len(self.vms)}: create the same VMs before loading")
        for name, part, saved in (("diskcache", self.diskcache, sec["diskcache"]),
                                  ("contentshare", self.contentshare, sec["contentshare"]),
                                  ("assists", self.assist, sec["assists"])):
            if (part is None) != (saved is None):
                raise SnapshotError(f"the monitor section {'has' if saved else 'lacks'} a "
                                    f"{name} section; this monitor "
                                    f"{'has' if part is not None else 'lacks'} one")
        self.memmap.load_state(sec["memmap"])
        for vm, vs in zip(self.vms, sec["vms"], strict=True):
            with sections.loading(SECTION):
                vm.load_state(vs["vm"])
                vm.pmap.load_state(vs["pmap"])
                vm.stats.load_state(vs["stats"])
                if len(vs["vcpus"]) != len(vm.vcpus):
                    raise SnapshotError(f"VM {vm.name!r} has {len(vm.vcpus)} vCPUs; the "
                                        f"section has {len(vs['vcpus'])}")
                for v, cs in zip(vm.vcpus, vs["vcpus"], strict=True):
                    v.load_state(cs)
        self.sched.load_state(sec["scheduler"])
        self.hw.load_state(sec["hwtlb"])
        self.numa.load_state(sec["numa"])
        if self.diskcache is not None:
            self.diskcache.load_state(sec["diskcache"])
        if self.contentshare is not None:
            self.contentshare.load_state(sec["contentshare"])
        self.vnet.load_state(sec["vnet"])
        self.events.load_state(sec["events"])
        with sections.loading(SECTION):
            self.exits = int(sec["exits"])
            self.exits_in_c = int(sec["exits_in_c"])
            self._running_vms = int(sec["running_vms"])
            self._slice_left = int(sec["slice_left"])
            self.ctx.exit_cpu = int(sec["exit_cpu"])
            self.reports = [str(r) for r in sec["reports"]]
        if self.assist is not None:
            self.assist.load_state(sec["assists"])
            self.assist.rebuild(self.vms, self.current)


def run_vms(machine: Machine, specs: Iterable[VMSpec], max_instructions: int = 10**9,
            **kwargs: Any) -> Monitor:
    """Create a monitor, start one VM per spec and run until they stop or idle."""
    mon = Monitor(machine, **kwargs)
    for s in specs:
        mon.start_vm(mon.create_vm(s))
    mon.run(max_instructions)
    return mon
