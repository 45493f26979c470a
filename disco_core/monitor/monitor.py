"""The monitor's run loop: physical CPUs in MONITORED ownership run vCPUs.

Every exception of a guest exits here (docs/cpu.md): privileged instructions
are emulated (emulate.py), TLB misses are served from the L2TLB, the guest's
virtual TLB or the pmap, or reflected into the guest; SYSCALL from the guest
kernel is a monitor call (docs/monitor-abi.md). A simple scheduler time-shares
vCPUs over CPUs with affinity to the VM's home nodes; a vCPU that executes
WAIT is descheduled until a virtual interrupt is posted to it. The hardware
TLB is flushed whenever a CPU switches to a different vCPU (the paper's way),
so guest ASIDs go straight to the hardware. With `asid_remap=True` the
hardware instead sees machine ASIDs, one per (vCPU, guest ASID), so a switch
keeps the other vCPUs' entries and removes only the global ones (relocated
kseg0, register page).

Fault containment: an illegal operation, a panic call or a vCPU that runs
`watchdog_cycles` without progress stops its VM alone; the others go on.
Progress is a monitor call, a WAIT, or an ERET into guest user mode: a kernel
that spins, even with interrupts arriving, makes none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from disco_core.errors import CoreBug, DiscoError
from disco_core.machine import Cpu, CpuState, ExitReason, Machine, Ownership
from disco_core.mips import (
    CA_TI,
    EH_ASID,
    EXC_ADEL,
    EXC_ADES,
    EXC_CPU,
    EXC_DBE,
    EXC_IBE,
    EXC_INT,
    EXC_MOD,
    EXC_RI,
    EXC_SYS,
    EXC_TLBL,
    EXC_TLBS,
    LO_D,
    LO_G,
    LO_V,
    ST_CU0,
    TIMER_IP,
    Mode,
)
from disco_core.monitor import emulate
from disco_core.monitor.assist import Assists
from disco_core.monitor.contentshare import ContentShare
from disco_core.monitor.costs import DEFAULT, CostModel
from disco_core.monitor.diskcache import SHARING, DiskCache
from disco_core.monitor.emulate import GuestFault, NotEmulated
from disco_core.monitor.events import EventLog
from disco_core.monitor.l2tlb import GLOBAL
from disco_core.monitor.memmap import MemMap, OutOfMachineMemory
from disco_core.monitor.numa import DEFAULT_POLICY, NumaManager, NumaParams
from disco_core.monitor.pmap import CACHEABLE, NO_PAGE, PMap
from disco_core.monitor.pmap import PAGE as PAGE_SIZE
from disco_core.monitor.regpage import MAX_GUEST_PAGES, REGPAGE_VA, REGPAGE_VPN2_VA, machine_words
from disco_core.monitor.vcpu import RunState, TlbEntry, VCpu
from disco_core.monitor.vdisk import SECTOR_SIZE
from disco_core.monitor.vm import VM, VMSpec, VMState
from disco_core.monitor.vnet import MC_NET_FIRST, MC_NET_LAST, VNet

# Real Status while a CPU runs a guest: interrupts on, IM2 (the monitor's kick
# line) and IM7 (the timer) unmasked, CU0 clear so CP0 instructions trap.
_IM_KICK = 1 << 10
_IM_TIMER = 1 << 15
_REAL_BASE = 1 | _IM_KICK | _IM_TIMER
_REAL_SUPER = _REAL_BASE | (1 << 3)
_REAL_USER = _REAL_BASE | (2 << 3)
_KICK_LINE = 0  # hardware line 0 = Cause.IP2
_CAUSE_TI = 1 << 30

IDLE_PC = 0x80000000  # machine page 0, reached through the monitor's own kseg0
_IDLE_CODE = bytes.fromhex(
    "20000042"  # wait
    "feff0010"  # b . - 4 (back to wait)
    "00000000"  # nop
)
SSEG, SSEG_END = 0xC0000000, 0xE0000000
KUSEG_END = 0x80000000
_TIMER_PERIOD = 1 << 33  # cycles for Count to come round again
_EXIT_EXCEPTION, _EXIT_BUDGET = int(ExitReason.EXCEPTION), int(ExitReason.BUDGET)
_EXIT_WAIT, _EXIT_HALT = int(ExitReason.WAIT), int(ExitReason.HALT)
_EXIT_HOTPAGE = int(ExitReason.HOTPAGE)

# monitor-call numbers (docs/monitor-abi.md)
MC_PUTC, MC_GETC, MC_ZERO_PAGE, MC_PAGE_FREED, MC_YIELD, MC_IDLE = 0, 1, 2, 3, 4, 5
MC_PANIC, MC_EXIT, MC_INFO, MC_PUTS = 6, 7, 8, 9
# the devices: one trap per request, every argument in $a0-$a3
MC_DISK_INFO, MC_DISK_READ, MC_DISK_WRITE, MC_IPI, MC_IPI_ACK, MC_RTC = 10, 11, 12, 13, 14, 15
CONSOLE_LINE = 0  # console input raises the guest's Cause.IP2
IPI_LINE = 3      # inter-processor interrupts raise IP5
RTC_EPOCH = 1_000_000_000  # the VMs' wall clock starts here (seconds), as simulated time
# not a device: the guest set Status.IE in its register page and found an interrupt
# pending (Cause.IP & Status.IM); the call delivers it (16-31 stay for devices)
MC_INTR_PENDING = 32
_REGPAGE_VPN = REGPAGE_VA >> 12
_MACHINE_ASIDS = 256
# the guest's hints get their own statistics kinds (category monitor_call)
_CALL_KIND = {MC_ZERO_PAGE: "zero_page", MC_PAGE_FREED: "page_freed"}
_ERR = 0xFFFFFFFF


# exits only a debugger causes: Monitor.run returns them to its caller (see _debug_exit)
_DEBUG_EXITS = frozenset({ExitReason.BREAKPOINT, ExitReason.WATCHPOINT, ExitReason.STEP})


@dataclass(frozen=True)
class DebugStop:
    """Where Monitor.run stopped for a debugger: the reason it returned, the CPU, the
    vCPU running there (None in the monitor's idle loop), the pc, and for a
    watchpoint (va, is_write, value, pc of the access)."""

    reason: str
    cpu: int
    vcpu: VCpu | None
    pc: int
    watch: tuple[int, bool, int, int] | None = None


class _Stop(Exception):
    """Internal: stop the current VM after charging for the exit."""

    def __init__(self, reason: str, exit_code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code


class Monitor:
    """Disco on a Machine: VMs, vCPUs, the exit handlers and the scheduler."""

    def __init__(self, machine: Machine, costs: CostModel = DEFAULT,
                 slice_instructions: int = 100_000, watchdog_cycles: int = 100_000_000,
                 timeslice_cycles: int = 1_000_000, asid_remap: bool = False,
                 assists: bool = True, numa_policy: str = DEFAULT_POLICY,
                 numa_params: NumaParams | None = None, sharing: str = "disco") -> None:
        self.m = machine
        cfg = machine.config
        self.cpus: list[Cpu] = machine.cpus
        self.ncpus = cfg.cpus
        self.tlb_entries = cfg.tlb_entries
        self.costs = costs
        self.slice = slice_instructions
        self.watchdog_cycles = watchdog_cycles
        self.timeslice_cycles = timeslice_cycles
        self.memmap = MemMap(machine, cfg.ram_bytes, cfg.nodes)
        machine.write_phys(0, _IDLE_CODE)
        self.vms: list[VM] = []
        self.vcpus: dict[int, VCpu] = {}
        self.current: list[VCpu | None] = [None] * self.ncpus
        self.ready: list[VCpu] = []
        self.waiting: list[VCpu] = []
        self.reports: list[str] = []
        self.events = EventLog()  # what the monitor did, for the app and the statistics
        self.vnet = VNet(self)  # the virtual network between the VMs (vnet.py)
        self.numa = NumaManager(self, numa_policy, numa_params)  # placement, hot pages
        if sharing not in SHARING:
            raise DiscoError(f"no sharing mode {sharing!r}: choose one of {', '.join(SHARING)}")
        self.sharing = sharing
        self.diskcache = DiskCache(self) if sharing in ("disco", "both") else None
        self.contentshare = ContentShare(self) if sharing in ("content", "both") else None
        self.booted = False
        self.debug_stop: DebugStop | None = None  # the last breakpoint/watchpoint/step exit
        # the hot exits served in C (assist.py); None: every exit comes here. The C
        # assists tag hardware entries with the guest's ASID, so ASID remapping (an
        # option to compare, with the same simulated costs) serves every exit in Python.
        self.assist = Assists(machine, costs) if assists and not asid_remap else None
        self.hw_owner: list[int | None] = [None] * self.ncpus  # vCPU gid of the TLB contents
        self.real_status = [-1] * self.ncpus
        # ASID remapping (optional): guest ASIDs of different vCPUs get different
        # machine ASIDs, so their entries can share a hardware TLB. Per vCPU, not
        # per VM: a guest kernel may give one ASID to different processes on
        # different CPUs, and each vCPU has a virtual TLB of its own.
        self.asid_remap = asid_remap
        self._masid: dict[tuple[int, int], int] = {}  # (vCPU gid, guest ASID) → machine
        self._masid_owner: list[tuple[int, int] | None] = [None] * _MACHINE_ASIDS
        self._masid_free = list(range(_MACHINE_ASIDS - 1, -1, -1))  # pop() gives 0 first
        self.asid_recycles = 0  # times every machine ASID was in use (every TLB flushed)
        self.switch_flushes = 0  # hardware TLB flushes at vCPU switches
        self.exits = 0
        self.exits_in_c = 0  # of those, served by the C assists (assist.py)
        self._running_vms = 0
        self._scheduling = -1
        self._slice_left = slice_instructions
        c = costs
        self._kind_cost = {
            "mfc0": c.mfc0_mtc0, "mtc0": c.mfc0_mtc0, "tlbwi": c.tlb_write,
            "tlbwr": c.tlb_write, "tlbp": c.tlbp, "tlbr": c.tlbr, "eret": c.eret,
            "cache": c.other_privileged, "wait": c.other_privileged,
            "di": c.other_privileged, "ei": c.other_privileged, "rdhwr": c.other_privileged,
            "rdpgpr": c.other_privileged, "reflect": c.reflect, "interrupt": c.reflect,
            "l2tlb_refill": c.l2tlb_refill, "vtlb_refill": c.vtlb_refill,
            "kernel_tlb_fault": c.kernel_tlb_fault, "monitor_call": c.monitor_call,
            "page_freed": c.monitor_call, "zero_page": c.monitor_call,
            "intr_pending": c.monitor_call,
        }

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
        pmap.invalidate = lambda gpn, mpn, vm=vm: self._invalidate_page(vm, gpn, mpn)
        self.numa.attach(vm)
        pmap.on_unshare = lambda gpn, mpn, vm=vm: self.events.emit(
            "unshare", self._machine_cycles(), vm=vm.id, pa=gpn << 12, ma=mpn << 12,
            reason="copy on write")
        for v in vm.vcpus:
            # the register page: a machine page outside guest memory, on this vCPU's own
            # home node (where affinity runs it: every trap touches the page)
            home = vm.home_nodes
            mpn = self.memmap.alloc([home[v.index % len(home)]] + list(home))
            v.attach_regpage(mpn, machine_words(self.m, mpn))
            self.vcpus[v.gid] = v
            v.l2tlb.on_evict = (lambda vpn, asid, gpn, v=v:
                                v.vm.pmap.remove_backmap(gpn, v.gid, vpn, asid))
        if self.assist is not None:
            self.assist.add_vm(vm, _REAL_SUPER, _REAL_USER)
        self.vms.append(vm)
        return vm

    def start_vm(self, vm: VM) -> None:
        """Load the VM's image and make its vCPUs runnable at the entry point."""
        if vm.state == VMState.RUNNING:
            raise DiscoError(f"VM {vm.name!r} is already running")
        self.vnet.forget(vm)
        self.numa.exit_cpu = -1  # the image's pages are not touched by any CPU
        vm.pmap.release_all()
        vm.load_image()
        if self.diskcache is not None and vm.spec.text:
            self.diskcache.share_text(vm, vm.spec.text)
        vm.state = VMState.RUNNING
        self._running_vms += 1
        vm.stop_reason = None
        vm.exit_code = None
        vm.starts += 1
        self.events.emit("vm_start", self._machine_cycles(), vm=vm.id)
        for v in vm.vcpus:
            v.l2tlb.flush()
            v.reset(vm.spec.entry)
            if self.assist is not None:
                self.assist.reset_vcpu(v)
            self._make_ready(v)

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
        self.events.emit("vm_stop", self._machine_cycles(), vm=vm.id, reason=reason)
        gids = {v.gid for v in vm.vcpus}
        # out of the queues first, so the CPUs it leaves cannot pick its other vCPUs
        self.ready = [v for v in self.ready if v.gid not in gids]
        self.waiting = [v for v in self.waiting if v.gid not in gids]
        for v in vm.vcpus:
            if v.state == RunState.RUNNING and v.cpu is not None:
                ci = v.cpu
                self._switch_out(ci, RunState.STOPPED)
                self._schedule(ci)
            v.state = RunState.STOPPED
            v.l2tlb.flush()
        for ci in range(self.ncpus):
            if self.hw_owner[ci] in gids:
                self.hw_flush(ci)
                self.hw_owner[ci] = None
        if self.asid_remap:  # its machine ASIDs, and what they tag on every CPU, go
            for key, m in list(self._masid.items()):
                if key[0] in gids:
                    for ci in range(self.ncpus):
                        self._hw_remove_if(ci, lambda k, m=m: k[1] == m)
                    del self._masid[key]
                    self._masid_owner[m] = None
                    self._masid_free.append(m)

    # ---- the run loop -------------------------------------------------------------------

    def boot(self) -> None:
        """Put every CPU in MONITORED ownership and give each its first vCPU."""
        for ci, cpu in enumerate(self.cpus):
            if cpu.state == CpuState.PARKED:
                cpu.start(IDLE_PC)
            cpu.ownership = Ownership.MONITORED
            cpu.set_cp0(7, 0)  # HWREna: every RDHWR traps and is emulated
            cpu.set_cp0(6, 0)  # Wired
            self.hw_flush(ci)
            self._go_idle(ci)
        self.booted = True
        for ci in range(self.ncpus):
            self._schedule(ci)

    def run(self, max_instructions: int = 10**12) -> str:
        """Run until every VM has stopped ("stopped"), nothing can run ("idle"),
        the machine halts ("halt") or the budget is spent ("budget"); a debugger's
        breakpoint, watchpoint or step exit returns its name (see debug_stop)."""
        if not self.booted:
            self.boot()
        try:
            return self._run(max_instructions)
        finally:
            if self.assist is not None:  # what C served joins the statistics
                n = self.assist.fold(self.vms)
                self.exits += n
                self.exits_in_c += n

    def _run(self, left: int) -> str:
        run = self.m.run_cdata  # the C exit record itself: no Exit object per exit
        on_exception = self._on_exception
        while left > 0:
            if self._running_vms == 0:
                return "stopped"
            ex = run(min(self._slice_left, left))
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
                    return "idle"
            elif reason == _EXIT_HALT:
                return "halt"
            elif reason in _DEBUG_EXITS:  # app debugger: see _debug_exit
                return self._debug_exit(ex)
            else:
                raise CoreBug(f"the monitor got an unexpected exit {ExitReason(reason)!r}")
            if self._slice_left <= 0:  # a slice boundary, however many exits fell in it
                self._slice_left = self.slice
                self._slice_end()
        return "budget"

    def _debug_exit(self, ex: object) -> str:
        """A breakpoint, watchpoint or step exit (set by a debugger, never by the monitor):
        record where it happened and which vCPU was there, and let the caller decide.
        The CPU is left exactly as the exit left it, so calling run() again goes on
        (the core executes the instruction at a breakpoint instead of stopping again)."""
        ci = int(ex.cpu)  # type: ignore[attr-defined]
        reason = {ExitReason.BREAKPOINT: "breakpoint", ExitReason.WATCHPOINT: "watchpoint",
                  ExitReason.STEP: "step"}[ExitReason(ex.reason)]  # type: ignore[attr-defined]
        watch = None
        if reason == "watchpoint":
            w = ex.watch  # type: ignore[attr-defined]
            watch = (int(w.va), bool(w.is_write), int(w.value), int(w.pc))
        self.debug_stop = DebugStop(reason, ci, self.current[ci], int(self.cpus[ci].pc), watch)
        return reason

    def serve_exception(self, ci: int, e: object) -> None:
        """Serve an EXCEPTION exit of CPU ci as run() does: for a debugger that steps
        a vCPU with Machine.step instead of running the machine."""
        self.exits += 1
        self._on_exception(ci, e)

    # ---- exits ------------------------------------------------------------------------------

    def _on_exception(self, ci: int, e: object) -> None:
        v = self.current[ci]
        cpu = self.cpus[ci]
        if v is None:
            if e.code != EXC_INT:  # type: ignore[attr-defined]
                raise CoreBug(f"CPU {ci} faulted in the monitor's idle loop: {e}")
            cpu.set_irq(_KICK_LINE, False)
            self._schedule(ci)
            return
        vm = v.vm
        allocs = vm.pmap.allocations
        self.numa.exit_cpu = ci
        try:
            kind = self._handle(v, cpu, ci, e)
        except GuestFault as f:
            self._charge(cpu, vm, "reflect", self.costs.trap)
            self.stop_vm(vm, f"illegal operation at pc {e.pc:#010x}: {f}")  # type: ignore
            return
        except OutOfMachineMemory as f:
            self.stop_vm(vm, f"out of machine memory at pc {e.pc:#010x}: {f}")  # type: ignore
            return
        except _Stop as s:
            self._charge(cpu, vm, "monitor_call", self.costs.trap + self.costs.monitor_call)
            self.stop_vm(vm, s.reason, s.exit_code)
            return
        cost = self.costs.trap + self._kind_cost.get(kind, 0)
        vm.stats.add(kind, cost)
        if vm.pmap.allocations != allocs:  # the monitor zeroed pages for this exit
            for _ in range(vm.pmap.allocations - allocs):
                vm.stats.add("page_fault", self.costs.zero_page)
                cost += self.costs.zero_page
        if cost:
            cpu.charge(cost)

    def _charge(self, cpu: Cpu, vm: VM, kind: str, cycles: int) -> None:
        vm.stats.add(kind, cycles)
        if cycles:
            cpu.charge(cycles)

    def _handle(self, v: VCpu, cpu: Cpu, ci: int, e: object) -> str:
        code = e.code  # type: ignore[attr-defined]
        mode = e.mode  # type: ignore[attr-defined]
        if code == EXC_CPU and e.ce == 0 and (mode == 1 or v.cp0.status & ST_CU0):  # type: ignore
            try:
                kind = emulate.emulate_cop0(self, v, cpu, e.insn)  # type: ignore[attr-defined]
            except NotEmulated:
                return emulate.reflect(self, v, cpu, EXC_RI, e.pc, e.bd)  # type: ignore
            if kind == "eret":
                if v.cp0.mode == Mode.USER:
                    v.progressed = True
                self._deliver(v, cpu, None)
            elif kind == "wait":
                cpu.advance()
                v.progressed = True
                if not v.cp0.interrupt_wakes():
                    self._switch_out(ci, RunState.WAITING)
                    self._schedule(ci)
                else:  # already pending: taken right after the WAIT if enabled
                    self._deliver(v, cpu, None)
            else:
                cpu.advance()
                if kind in ("mtc0", "ei") and v.cp0.interrupt_deliverable():
                    self._deliver(v, cpu, None)
            return kind
        if code in (EXC_TLBL, EXC_TLBS, EXC_MOD):
            return self._tlb_fault(v, cpu, ci, e)
        if code == EXC_SYS and mode == 1:
            return self._monitor_call(v, cpu, ci)
        if code == EXC_INT:
            return self._interrupt(v, cpu, ci, e)
        if code in (EXC_ADEL, EXC_ADES) and mode == 1:
            va = e.badvaddr  # type: ignore[attr-defined]
            if KUSEG_END <= va < SSEG or va >= SSEG_END:
                what = "kseg3" if va >= SSEG_END else ("kseg1" if va >= 0xA0000000 else "kseg0")
                raise GuestFault(
                    f"the guest kernel reached {what} address {va:#010x}; a VM's kernel "
                    "runs in the relocated kseg0 at 0xC0000000 and reaches devices through "
                    "monitor calls")
        if code == EXC_RI and emulate.rdhwr(self, v, cpu, e.insn, mode == 1):  # type: ignore
            cpu.advance()
            return "rdhwr"
        return emulate.reflect(self, v, cpu, code, e.pc, e.bd, e.badvaddr,  # type: ignore
                               e.refill, e.ce)  # type: ignore[attr-defined]

    # ---- memory: TLB misses ---------------------------------------------------------------

    def _tlb_fault(self, v: VCpu, cpu: Cpu, ci: int, e: object) -> str:
        va = e.badvaddr  # type: ignore[attr-defined]
        code = e.code  # type: ignore[attr-defined]
        store = code != EXC_TLBL
        if va >= KUSEG_END:
            if SSEG <= va < SSEG_END:
                return self._kernel_tlb_fault(v, cpu, ci, e)
            raise CoreBug(f"TLB exception at unmapped address {va:#x}")
        asid = v.cp0.entryhi & EH_ASID
        vpn = va >> 12
        hit = v.l2tlb.lookup(vpn, asid)
        if hit is not None and (not store or hit[0] & LO_D):
            self._fill_pair(v, ci, vpn, hit[0])
            return "l2tlb_refill"
        ent = v.tlb_match(va)
        tcode = EXC_TLBS if store else EXC_TLBL
        if ent is None:
            return emulate.reflect(self, v, cpu, tcode, e.pc, e.bd, va, True)  # type: ignore
        glo, half = ent.lo_for(va)
        if not glo & LO_V:
            return emulate.reflect(self, v, cpu, tcode, e.pc, e.bd, va, False)  # type: ignore
        if store and not glo & LO_D:
            return emulate.reflect(self, v, cpu, EXC_MOD, e.pc, e.bd, va)  # type: ignore
        gpn = ((((glo >> 6) & 0xFFFFFF) << 12) & ~(half - 1) | (va & (half - 1))) >> 12
        if gpn >= v.vm.pmap.npages:
            fetch = va == e.pc  # type: ignore[attr-defined]
            return emulate.reflect(self, v, cpu, EXC_IBE if fetch else EXC_DBE,
                                   e.pc, e.bd)  # type: ignore[attr-defined]
        if store and gpn in v.vm.pmap.readonly:
            v.vm.pmap.break_sharing(gpn)
        lo = v.vm.pmap.entrylo(gpn, glo | (LO_G if ent.g else 0), self._node(ci))
        self._l2_insert(v, vpn, GLOBAL if ent.g else asid, lo, gpn)
        self._fill_pair(v, ci, vpn, lo)
        return "vtlb_refill"

    def _kernel_tlb_fault(self, v: VCpu, cpu: Cpu, ci: int, e: object) -> str:
        """A miss in the relocated kseg0: VA 0xC0000000 + x is guest-physical x."""
        va = e.badvaddr  # type: ignore[attr-defined]
        if va >> 12 == _REGPAGE_VPN:
            # the running vCPU's register page; the hardware TLB is flushed whenever the
            # CPU switches vCPUs, so no other vCPU ever sees this entry
            lo = (v.regpage_mpn << 6) | CACHEABLE | LO_D | LO_V | LO_G  # type: ignore[operator]
            self.hw_install(ci, REGPAGE_VPN2_VA, GLOBAL, LO_G, lo)
            return "kernel_tlb_fault"
        pm = v.vm.pmap
        gpn = (va - SSEG) >> 12
        if gpn >= pm.npages:
            fetch = va == e.pc  # type: ignore[attr-defined]
            return emulate.reflect(self, v, cpu, EXC_IBE if fetch else EXC_DBE,
                                   e.pc, e.bd)  # type: ignore[attr-defined]
        if e.code != EXC_TLBL and gpn in pm.readonly:  # type: ignore[attr-defined]
            pm.break_sharing(gpn)
        full = LO_V | LO_D | LO_G
        pm.entrylo(gpn, full)  # allocates the touched page; its partner only when touched
        even = gpn & ~1
        node = self._node(ci)
        lo0, lo1 = (pm.entrylo(g, full, node) if g < pm.npages and pm.mpn[g] != NO_PAGE else LO_G
                    for g in (even, even + 1))
        self.hw_install(ci, va & 0xFFFFE000, GLOBAL, lo0, lo1)
        if self.assist is not None:  # the next miss on this pair is served in C
            self.assist.kernel_pair(v.vm, gpn, lo0, lo1, node)
        return "kernel_tlb_fault"

    def _fill_pair(self, v: VCpu, ci: int, vpn: int, lo: int) -> None:
        """Write the hardware entry for vpn's pair: this half, and the other if the L2TLB has it."""
        g = lo & LO_G
        asid = v.cp0.entryhi & EH_ASID
        other = v.l2tlb.entries.get((vpn ^ 1, GLOBAL if g else asid))
        olo = other[0] if other is not None else g
        hw = GLOBAL if g else asid
        if self.asid_remap:  # never global in hardware: tagged with this vCPU's ASID
            hw = self._hw_asid(v, asid)
            lo &= ~LO_G
            olo &= ~LO_G
        if vpn & 1:
            self.hw_install(ci, (vpn << 12) & 0xFFFFE000, hw, olo, lo)
        else:
            self.hw_install(ci, vpn << 12, hw, lo, olo)

    def _l2_insert(self, v: VCpu, vpn: int, asid: int, lo: int, gpn: int) -> None:
        if v.l2tlb.size:
            v.l2tlb.insert(vpn, asid, lo, gpn)
            v.vm.pmap.add_backmap(gpn, v.gid, vpn, asid)

    # ---- memory: what guest TLB writes do (called from emulate.py) -------------------------------

    def install_virtual_entry(self, v: VCpu, cpu: Cpu, ent: TlbEntry,
                              kind: str = "tlbwr") -> None:
        """Translate a guest TLB entry and write it to the hardware TLB and the L2TLB.
        `kind` (tlbwr or tlbwi) names the guest's instruction in the event log."""
        if ent.hi >= KUSEG_END or ent.mask:
            return  # entries outside kuseg are never used; large pages fill on demand
        pm = v.vm.pmap
        asid = GLOBAL if ent.g else ent.hi & EH_ASID
        vpn0 = ent.hi >> 12 & ~1
        los = []
        node = self._node(cpu.index)
        for k, glo in enumerate((ent.lo0, ent.lo1)):
            gpn = (glo >> 6) & 0xFFFFFF
            if glo & LO_V and gpn < pm.npages:
                lo = pm.entrylo(gpn, glo | (LO_G if ent.g else 0), node)
                self._l2_insert(v, vpn0 + k, asid, lo, gpn)
            else:
                lo = LO_G if ent.g else 0  # invalid: a touch comes back to the monitor
            los.append(lo)
        if self.asid_remap:  # a guest-global entry is tagged with the current ASID
            asid = self._hw_asid(v, (v.cp0.entryhi if ent.g else ent.hi) & EH_ASID)
            los = [lo & ~LO_G for lo in los]
        self.hw_install(cpu.index, ent.hi & 0xFFFFE000, asid, los[0], los[1])
        if self.events.wants(kind):  # only while traced: TLB writes are frequent
            self._log_tlb_write(v, cpu, kind, vpn0, (ent.lo0, ent.lo1), los)

    def _log_tlb_write(self, v: VCpu, cpu: Cpu, kind: str, vpn0: int,
                       guest_los: tuple[int, int], los: list[int]) -> None:
        """One event per valid half: VA → guest-physical → machine address, and its node."""
        now = self.now(cpu)
        for k in (0, 1):
            if not los[k] & LO_V:
                continue
            mpn = (los[k] >> 6) & 0xFFFFFF
            self.events.emit(kind, now, vm=v.vm.id, cpu=cpu.index, va=(vpn0 + k) << 12,
                             pa=((guest_los[k] >> 6) & 0xFFFFFF) << 12, ma=mpn << 12,
                             node=self.memmap.node_of(mpn))

    def forget_virtual_entry(self, v: VCpu, cpu: Cpu, ent: TlbEntry) -> None:
        """The guest overwrote `ent` with TLBWI: nothing derived from it may survive."""
        if ent.hi >= KUSEG_END or not (ent.lo0 | ent.lo1) & LO_V:
            return
        if ent.mask:
            v.l2tlb.flush()
            self.hw_flush(cpu.index)
            return
        self.forget_page(v, cpu, ent.hi & 0xFFFFE000, GLOBAL if ent.g else ent.hi & EH_ASID)

    def forget_page(self, v: VCpu, cpu: Cpu, vpn2_va: int, asid: int) -> None:
        if vpn2_va >= KUSEG_END:
            return
        vpn = vpn2_va >> 12
        for a in (asid, GLOBAL):
            v.l2tlb.remove(vpn, a)
            v.l2tlb.remove(vpn + 1, a)
            if not self.asid_remap:
                self.hw_remove(cpu.index, vpn2_va, a)
        if self.asid_remap:  # under any of v's machine ASIDs (guest-global entries)
            owner = self._masid_owner
            self._hw_remove_if(cpu.index, lambda k: k[0] == vpn2_va and k[1] != GLOBAL
                               and owner[k[1]] is not None and owner[k[1]][0] == v.gid)

    def _invalidate_page(self, vm: VM, gpn: int, mpn: int) -> None:
        """pmap hook: the machine page behind gpn goes away; shoot down every mapping."""
        for gid, vpn, asid in list(vm.pmap.backmap.get(gpn, ())):
            self.vcpus[gid].l2tlb.remove(vpn, asid)
        vm.pmap.backmap.pop(gpn, None)
        if self.assist is not None:
            self.assist.forget_page(vm, gpn)
        self.m.hw_invalidate_mpn(mpn)

    def share_page(self, src: VM, src_gpn: int, dst: VM, dst_gpn: int) -> None:
        """Let dst's guest page dst_gpn share src's machine page read-only (copy-on-write
        for both), as the paper's copy-on-write disks and network remapping do."""
        dst.pmap.share_from(dst_gpn, src.pmap.make_readonly(src_gpn))

    # ---- the hardware TLB (the monitor's alone) ------------------------------------------------

    # The TLB itself is the record (core_c/hwtlb.c): entries keyed (VPN2, ASID or
    # GLOBAL), a round robin per CPU shared with the C assists.

    def hw_install(self, ci: int, vpn2_va: int, asid: int, lo0: int, lo1: int) -> None:
        self.cpus[ci].hw_install(vpn2_va, asid, lo0, lo1)

    def hw_remove(self, ci: int, vpn2_va: int, asid: int) -> None:
        self.cpus[ci].hw_remove(vpn2_va, asid)

    def hw_keys(self, ci: int) -> list[tuple[int, int]]:
        """The keys (vpn2_va, asid or GLOBAL) of CPU ci's installed entries, read from
        the TLB itself: an entry whose EntryHi lies in kseg0/kseg1 is empty."""
        cpu = self.cpus[ci]
        keys = []
        for i in range(self.tlb_entries):
            hi, lo0, lo1, _mask = cpu.tlb(i)
            if hi & 0xC0000000 != KUSEG_END:
                keys.append((hi & 0xFFFFE000, GLOBAL if lo0 & lo1 & LO_G else hi & EH_ASID))
        return keys

    def _hw_remove_if(self, ci: int, pred: object) -> None:
        """Remove the hardware entries of CPU ci whose key (vpn2_va, asid) pred accepts."""
        for vpn2_va, asid in [k for k in self.hw_keys(ci) if pred(k)]:  # type: ignore
            self.hw_remove(ci, vpn2_va, asid)

    def hw_flush(self, ci: int) -> None:
        self.cpus[ci].flush_tlb()

    # ---- real CPU state derived from the vCPU ----------------------------------------------------

    def _machine_cycles(self) -> int:
        return max(self.now(c) for c in self.cpus)

    def now(self, cpu: Cpu) -> int:
        return cpu.cycles

    def set_pc(self, cpu: Cpu, pc: int, clear_ll: bool = False) -> None:
        if clear_ll:
            r = cpu.context()  # one read-modify-write of pc, delay slot and LL bit
            r.pc = pc  # type: ignore[attr-defined]
            r.npc = (pc + 4) & 0xFFFFFFFF  # type: ignore[attr-defined]
            r.bd = 0  # type: ignore[attr-defined]
            r.llbit = 0  # type: ignore[attr-defined]
            cpu.set_context(r)
        else:
            cpu.pc = pc

    def sync_mode(self, v: VCpu, cpu: Cpu) -> None:
        """Guest kernel → real supervisor mode; guest supervisor/user → real user mode."""
        real = _REAL_SUPER if v.cp0.mode == Mode.KERNEL else _REAL_USER
        ci = cpu.index
        if cpu.cp0(12) != real:  # the C assists change it too
            cpu.set_cp0(12, real)
            self.real_status[ci] = real

    def sync_asid(self, v: VCpu, cpu: Cpu) -> None:
        cpu.set_cp0(10, self._hw_asid(v, v.cp0.entryhi & EH_ASID))

    # ---- ASID remapping ----------------------------------------------------------------------

    def _hw_asid(self, v: VCpu, guest_asid: int) -> int:
        """The ASID the hardware uses for a guest ASID of v: the same, or with
        remapping the machine ASID of (v, guest ASID), allocated on first use."""
        if not self.asid_remap:
            return guest_asid
        key = (v.gid, guest_asid)
        m = self._masid.get(key)
        if m is None:
            if not self._masid_free:
                self._recycle_asids()
                m = self._masid.get(key)  # a running vCPU's current one is back already
            if m is None:
                m = self._masid_free.pop()
                self._masid[key] = m
                self._masid_owner[m] = key
        return m

    def _recycle_asids(self) -> None:
        """Every machine ASID is taken: forget them all and flush every TLB, then
        give the running vCPUs their current ones again."""
        self.asid_recycles += 1
        self._masid.clear()
        self._masid_owner = [None] * _MACHINE_ASIDS
        self._masid_free = list(range(_MACHINE_ASIDS - 1, -1, -1))
        for ci in range(self.ncpus):
            self.hw_flush(ci)
            w = self.current[ci]
            self.hw_owner[ci] = w.gid if w is not None else None
            if w is not None:
                self.cpus[ci].set_cp0(10, self._hw_asid(w, w.cp0.entryhi & EH_ASID))

    def sync_timer(self, v: VCpu, cpu: Cpu, now: int) -> None:
        """Count/Compare changed: the real timer fires when the virtual one would."""
        v.deadline = v.cp0.timer_deadline(now)
        self._arm_real_timer(cpu, now, v.deadline)

    def _arm_real_timer(self, cpu: Cpu, now: int, deadline: int | None) -> None:
        if deadline is None:
            cpu.set_cp0(11, ((now >> 1) - 1) & 0xFFFFFFFF)  # as far away as it gets
        else:
            cpu.set_cp0(11, (deadline >> 1) & 0xFFFFFFFF)

    # ---- interrupts ---------------------------------------------------------------------------

    def _interrupt(self, v: VCpu, cpu: Cpu, ci: int, e: object) -> str:
        real_cause = cpu.cp0(13)
        if real_cause & (1 << 10):
            cpu.set_irq(_KICK_LINE, False)
        if real_cause & _CAUSE_TI:
            now = self.now(cpu)
            self._check_timer(v, now)
            self._arm_real_timer(cpu, now, v.deadline)
        if self.waiting:
            self._check_waiting(self.now(cpu))
        if v.cp0.interrupt_deliverable():
            return emulate.reflect(self, v, cpu, EXC_INT, e.pc, e.bd)  # type: ignore
        return "interrupt"

    def _check_timer(self, v: VCpu, now: int) -> None:
        d = v.deadline
        if d is not None and now >= d:
            v.cp0.cause |= CA_TI | (1 << (8 + TIMER_IP))
            while v.deadline <= now:  # type: ignore[operator]
                v.deadline += _TIMER_PERIOD  # type: ignore[operator]

    def _check_waiting(self, now: int) -> None:
        for w in list(self.waiting):
            self._check_timer(w, now)
            if w.cp0.interrupt_wakes():
                self.waiting.remove(w)
                self._make_ready(w)

    def post_interrupt(self, v: VCpu, line: int) -> None:
        """Raise the vCPU's virtual Cause.IP(2 + line) (virtual devices, IPIs)."""
        v.cp0.cause |= 1 << (10 + line)
        if v.state == RunState.RUNNING and v.cpu is not None:
            self.cpus[v.cpu].set_irq(_KICK_LINE, True)  # exit so the monitor delivers it
        elif v.state == RunState.WAITING and v.cp0.interrupt_wakes():
            self.waiting.remove(v)
            self._make_ready(v)

    def clear_interrupt(self, v: VCpu, line: int) -> None:
        v.cp0.cause &= ~(1 << (10 + line))

    def _deliver(self, v: VCpu, cpu: Cpu, at: tuple[int, bool] | None) -> bool:
        if not v.cp0.interrupt_deliverable():
            return False
        pc, bd = at if at is not None else (cpu.pc, False)
        emulate.reflect(self, v, cpu, EXC_INT, pc, bd)
        self._charge(cpu, v.vm, "interrupt", self.costs.reflect)
        return True

    # ---- monitor calls -------------------------------------------------------------------------

    def _monitor_call(self, v: VCpu, cpu: Cpu, ci: int) -> str:
        regs = cpu.regs()
        call = int(regs[2])
        a0, a1, a2, a3 = int(regs[4]), int(regs[5]), int(regs[6]), int(regs[7])
        vm = v.vm
        v.progressed = True
        result = 0
        if call == MC_PUTC:
            vm.console_out.append(a0 & 0xFF)
            vm.console_cycles = self.now(cpu)
        elif call == MC_GETC:
            result = vm.console_in.pop(0) if vm.console_in else _ERR
            if result != _ERR and vm.input_cycles is None:
                vm.input_cycles = self.now(cpu)  # when the guest took typed input
            if not vm.console_in:
                self.clear_interrupt(v, CONSOLE_LINE)  # drained: the input interrupt drops
        elif call in (MC_DISK_READ, MC_DISK_WRITE):
            result = self._disk_transfer(vm, a3, a0, a1, a2, call == MC_DISK_WRITE)
        elif call == MC_DISK_INFO:
            result = vm.disks[a0].sectors & _ERR if a0 < len(vm.disks) else _ERR
        elif call == MC_IPI:
            mask = a0 | (a1 << 32)
            for w in vm.vcpus:
                if mask >> w.index & 1:
                    self.post_interrupt(w, IPI_LINE)
        elif call == MC_IPI_ACK:
            self.clear_interrupt(v, IPI_LINE)
        elif call == MC_RTC:
            result = (RTC_EPOCH + self.now(cpu) // self.m.config.clock_hz) & _ERR
        elif call == MC_PUTS:
            data = self._guest_bytes(vm, a0, a1)
            if data is None:
                result = _ERR
            else:
                vm.console_out += data
                vm.console_cycles = self.now(cpu)
        elif call == MC_ZERO_PAGE:
            if a0 < vm.pmap.npages:
                vm.pmap.release(a0)
                vm.pmap.machine_page(a0)  # a fresh zeroed page, so the guest need not clear it
            else:
                result = _ERR
        elif call == MC_PAGE_FREED:
            if a0 < vm.pmap.npages:
                vm.pmap.release(a0)
            else:
                result = _ERR
        elif call == MC_INTR_PENDING:
            cpu.gpr[2] = 0
            cpu.advance()
            self._deliver(v, cpu, None)  # EPC = the instruction after the call
            return "intr_pending"
        elif call == MC_INFO:
            result = {0: vm.pmap.npages, 1: v.index, 2: len(vm.vcpus), 3: vm.id,
                      4: self.m.config.clock_hz}.get(a0, _ERR)
        elif call == MC_PANIC:
            data = self._guest_bytes(vm, a0, a1) or b""
            raise _Stop(f"guest panic: {data.decode('latin-1')}")
        elif call == MC_EXIT:
            raise _Stop(f"exit({a0})", a0)
        elif call in (MC_YIELD, MC_IDLE):
            cpu.gpr[2] = 0
            cpu.advance()
            if call == MC_IDLE and not v.cp0.interrupt_wakes():
                self._switch_out(ci, RunState.WAITING)
                self._schedule(ci)
            elif call == MC_IDLE:
                self._deliver(v, cpu, None)
            elif call == MC_YIELD and self._pick_for(ci) is not None:
                self._switch_out(ci, RunState.READY)
                self._schedule(ci)
            return "monitor_call"
        elif MC_NET_FIRST <= call <= MC_NET_LAST:
            result = self.vnet.call(v, cpu, call, a0, a1, a2, a3)
        else:
            result = _ERR
        cpu.gpr[2] = result
        cpu.advance()
        return _CALL_KIND.get(call, "monitor_call")

    def _disk_transfer(self, vm: VM, unit: int, sector: int, gpa: int, count: int,
                       write: bool) -> int:
        """DISK_READ/DISK_WRITE: whole sectors between the VM's disk and its
        guest-physical memory, done before the call returns (0, or −1)."""
        if unit >= len(vm.disks):
            return _ERR
        disk = vm.disks[unit]
        n = count * SECTOR_SIZE
        if SSEG <= gpa < SSEG_END:
            gpa -= SSEG
        if not disk.valid(sector, count) or gpa + n > vm.pmap.npages * PAGE_SIZE:
            return _ERR
        if write:
            disk.write(sector, vm.read_guest(gpa, n))
        else:
            data = disk.read(sector, count)
            if self.diskcache is not None and self.diskcache.transfer(vm, disk, sector, gpa, data):
                return 0  # mapped from the global disk cache: nothing to copy
            pmap = vm.pmap
            for gpn in range(gpa // PAGE_SIZE, (gpa + n - 1) // PAGE_SIZE + 1):
                if gpn in pmap.readonly:
                    pmap.break_sharing(gpn)  # the "DMA" is a store: copy a shared page first
            vm.write_guest(gpa, data)
        return 0

    def console_input(self, vm: VM, data: bytes) -> None:
        """Type into a VM's console: GETC returns the bytes, and vCPU 0 gets the
        console interrupt (Cause.IP2) until GETC has drained them."""
        if not data:
            return
        vm.console_in += data
        if vm.running:
            self.post_interrupt(vm.vcpus[0], CONSOLE_LINE)

    def _guest_bytes(self, vm: VM, addr: int, n: int) -> bytes | None:
        if SSEG <= addr < SSEG_END:
            addr -= SSEG
        n = min(n, 4096)
        if addr + n > vm.pmap.npages * 4096:
            return None
        return vm.read_guest(addr, n)

    # ---- scheduling ----------------------------------------------------------------------------

    def _node(self, ci: int) -> int:
        return self.m.node_of_cpu(ci)

    def _pick_for(self, ci: int) -> VCpu | None:
        """Affinity (paper §2.4: scheduling cooperates with page placement): the first
        ready vCPU whose own home node this is (vCPU i of a VM: home node i mod
        len(home)), else the first whose VM lives on this node, else the first ready
        one; never one whose last CPU is idle and was kicked to take it back."""
        node = self._node(ci)
        best, best_rank = None, 3
        for v in self.ready:
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

    def _make_ready(self, v: VCpu) -> None:
        v.state = RunState.READY
        self.ready.append(v)
        if not self.booted:
            return
        idle = [ci for ci in range(self.ncpus)
                if self.current[ci] is None and ci != self._scheduling]
        if not idle:
            return
        own = v.vm.home_nodes[v.index % len(v.vm.home_nodes)]
        home = ([ci for ci in idle if self._node(ci) == own]
                or [ci for ci in idle if self._node(ci) in v.vm.home_nodes])
        target = v.last_cpu if v.last_cpu in idle else (home or idle)[0]
        self.cpus[target].set_irq(_KICK_LINE, True)

    def _schedule(self, ci: int) -> None:
        """Give CPU ci its next vCPU, or the idle loop."""
        cpu = self.cpus[ci]
        if self.waiting:
            self._scheduling = ci  # a vCPU woken here is picked here: kick no one
            self._check_waiting(self.now(cpu))
            self._scheduling = -1
        v = self._pick_for(ci)
        if v is None:
            self._go_idle(ci)
            return
        self.ready.remove(v)
        self._switch_in(v, ci)

    def _go_idle(self, ci: int) -> None:
        cpu = self.cpus[ci]
        self.current[ci] = None
        deadlines = [w.deadline for w in self.waiting if w.deadline is not None]
        # kernel mode, waiting for a kick, and for the timer only if a vCPU needs it:
        # with nothing due the machine reports that every CPU waits (Monitor.run: "idle")
        status = (_REAL_BASE if deadlines else _REAL_BASE & ~_IM_TIMER)
        cpu.set_cp0(12, status)
        self.real_status[ci] = status
        cpu.pc = IDLE_PC
        self._arm_real_timer(cpu, self.now(cpu), min(deadlines) if deadlines else None)

    def _switch_in(self, v: VCpu, ci: int) -> None:
        cpu = self.cpus[ci]
        now = self.now(cpu)
        # the TLB still holds v's translations only if v ran here last: while it ran
        # elsewhere the guest may have invalidated entries on that CPU alone
        if self.asid_remap:
            if self.hw_owner[ci] != v.gid:
                # the global entries (relocated kseg0, register page) are the last
                # vCPU's: they go; the ASID-tagged entries of every vCPU stay
                self._hw_remove_if(ci, lambda k: k[1] == GLOBAL)
                self.hw_owner[ci] = v.gid
                self._charge(cpu, v.vm, "switch", self.costs.vcpu_switch)
            if v.last_cpu is not None and v.last_cpu != ci:
                # it ran elsewhere since it ran here: what it invalidated there may
                # still be here
                owner = self._masid_owner
                self._hw_remove_if(ci, lambda k: k[1] != GLOBAL and owner[k[1]] is not None
                                   and owner[k[1]][0] == v.gid)
        elif self.hw_owner[ci] != v.gid or v.last_cpu != ci:
            self.hw_flush(ci)
            self.switch_flushes += 1
            self.hw_owner[ci] = v.gid
            self._charge(cpu, v.vm, "switch", self.costs.vcpu_switch)
        r = cpu.context()
        ctx = v.ctx
        for i in range(32):
            r.gpr[i] = ctx.gpr[i]  # type: ignore[attr-defined]
        r.pc, r.npc, r.hi, r.lo = ctx.pc, ctx.npc, ctx.hi, ctx.lo  # type: ignore
        r.bd, r.llbit = ctx.bd, ctx.llbit  # type: ignore[attr-defined]
        cpu.set_context(r)
        self.current[ci] = v
        if self.assist is not None:
            self.assist.bind(ci, v)
        v.cpu = ci
        v.state = RunState.RUNNING
        v.cycles_mark = now
        v.slice_start = now
        self.sync_asid(v, cpu)
        self.sync_mode(v, cpu)
        self._check_timer(v, now)  # it may have come due while v was off a CPU
        self._arm_real_timer(cpu, now, v.deadline)
        self._deliver(v, cpu, (ctx.pc, bool(ctx.bd)))

    def _switch_out(self, ci: int, state: RunState) -> None:
        cpu = self.cpus[ci]
        v = self.current[ci]
        assert v is not None
        r = cpu.context()
        ctx = v.ctx
        ctx.gpr = [int(r.gpr[i]) for i in range(32)]  # type: ignore[attr-defined]
        ctx.pc, ctx.npc, ctx.hi, ctx.lo = r.pc, r.npc, r.hi, r.lo  # type: ignore
        ctx.bd, ctx.llbit = r.bd, r.llbit  # type: ignore[attr-defined]
        now = self.now(cpu)
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

    def _slice_end(self) -> None:
        """At each slice boundary: the NUMA manager's clock, the watchdog, then time-slicing."""
        self.numa.tick()
        for ci in range(self.ncpus):
            v = self.current[ci]
            if v is None:
                continue
            now = self.now(self.cpus[ci])
            v.ran_cycles += now - v.cycles_mark
            v.cycles_mark = now
            if self.assist is not None and self.assist.progressed(v):
                v.progressed = True  # an ERET into user mode that C served
            if v.progressed:
                v.progressed = False
                v.progress_at = v.ran_cycles
            elif v.ran_cycles - v.progress_at > self.watchdog_cycles:
                self.stop_vm(v.vm, f"watchdog: vCPU {v.index} ran {v.ran_cycles - v.progress_at}"
                             f" cycles without progress (pc {self.cpus[ci].pc:#010x})")
                continue
            if now - v.slice_start >= self.timeslice_cycles and self._pick_for(ci) is not None:
                self._switch_out(ci, RunState.READY)
                self._schedule(ci)
        if self.waiting:
            self._check_waiting(max(self.now(c) for c in self.cpus))
        if self.contentshare is not None:
            self.contentshare.tick()

    # ---- inspection ------------------------------------------------------------------------------

    def vm_by_name(self, name: str) -> VM:
        for vm in self.vms:
            if vm.name == name:
                return vm
        raise KeyError(name)

    def check_invariants(self) -> list[str]:
        """Memory isolation, read from the real hardware TLBs: every valid entry maps
        a machine page that the pmap of the VM owning that TLB assigns to a guest page."""
        problems = []
        for ci, cpu in enumerate(self.cpus):
            owner = self.hw_owner[ci]
            vm = self.vcpus[owner].vm if owner is not None else None
            regpages = {v.regpage_mpn: v.gid for v in self.vcpus.values()}
            owner_vm = vm
            for i in range(self.tlb_entries):
                hi, lo0, lo1, _mask = cpu.tlb(i)
                vm = owner_vm
                if self.asid_remap and not lo0 & lo1 & LO_G:  # tagged: its vCPU's VM
                    tag = self._masid_owner[hi & EH_ASID]
                    vm = self.vcpus[tag[0]].vm if tag is not None else None
                for k, lo in enumerate((lo0, lo1)):
                    if not lo & LO_V:
                        continue
                    mpn = (lo >> 6) & 0xFFFFFF
                    if mpn in regpages:
                        va = (hi & 0xFFFFE000) | (k << 12)
                        if regpages[mpn] != owner or va != REGPAGE_VA:
                            problems.append(f"CPU {ci} entry {i} maps the register page of "
                                            f"vCPU {regpages[mpn]} at {va:#x} (owner {owner})")
                        continue
                    if vm is None:
                        problems.append(f"CPU {ci} entry {i} maps {mpn:#x} with no vCPU")
                        continue
                    replica = self.memmap.master(mpn) != mpn
                    if lo & LO_D and replica:
                        problems.append(f"CPU {ci} entry {i} maps replica {mpn:#x} writable")
                    mpn = self.memmap.master(mpn)  # a replica stands for its master
                    users = self.memmap.entries.get(mpn)
                    if users is None or not any(u == vm.id for u, _ in users.users):
                        problems.append(f"CPU {ci} entry {i} maps machine page {mpn:#x}, "
                                        f"not VM {vm.name}'s")
                        continue
                    if not any(vm.pmap.mpn[g] == mpn for u, g in users.users if u == vm.id):
                        problems.append(f"CPU {ci} entry {i}: pmap does not map {mpn:#x}")
                    if lo & LO_D and users.shared_readonly:
                        problems.append(f"CPU {ci} entry {i} maps shared {mpn:#x} writable")
                    if lo & LO_D and users.replicas:
                        problems.append(f"CPU {ci} entry {i} maps replicated {mpn:#x} writable")
        for vm in self.vms:
            for mpn in vm.pmap.mpn:
                if mpn != NO_PAGE and self.memmap.owners(mpn) - {vm.id} and \
                        not self.memmap.entries[mpn].shared_readonly:
                    problems.append(f"machine page {mpn:#x} of VM {vm.name} is shared")
        return problems

    def sharing_stats(self) -> dict[str, int]:
        """Counts of the sharing mechanisms (diskcache.py, contentshare.py)."""
        out: dict[str, int] = {}
        for mech in (getattr(self, "diskcache", None), getattr(self, "contentshare", None)):
            if mech is not None:
                for k, n in mech.stats.items():
                    out[k] = out.get(k, 0) + n
        return out

    def stats_table(self) -> dict[str, dict[str, tuple[int, int]]]:
        return {vm.name: vm.stats.by_category() for vm in self.vms}


def run_vms(machine: Machine, specs: Iterable[VMSpec], max_instructions: int = 10**9,
            **kwargs: object) -> Monitor:
    """Create a monitor, start one VM per spec and run until they stop or idle."""
    mon = Monitor(machine, **kwargs)  # type: ignore[arg-type]
    for s in specs:
        mon.start_vm(mon.create_vm(s))
    mon.run(max_instructions)
    return mon
