"""Monitor calls (docs/monitor-abi.md): a SYSCALL from the guest kernel asks the monitor.

The call number is in $v0, up to four arguments in $a0-$a3, the result comes
back in $v0 and the guest goes on after the SYSCALL. The numbers are the
guest's `resources/guest/kernel/mcall.h` (a test checks they agree): the
console, the page hints, yield/idle, panic/exit, the devices (disk, IPIs, the
clock) and the virtual network (vnet.py). Disk transfers are done whole before
the call returns.
"""

from __future__ import annotations

import enum
from typing import Protocol

from disco_core.machine import Cpu
from disco_core.mips import KSEG3, KSSEG, REG_A0, REG_A1, REG_A2, REG_A3, REG_V0
from disco_core.monitor import vintr
from disco_core.monitor.context import MonitorContext
from disco_core.monitor.diskcache import DiskCache
from disco_core.monitor.memmap import PAGE
from disco_core.monitor.scheduler import Scheduler
from disco_core.monitor.stats import StatKind
from disco_core.monitor.vcpu import RunState
from disco_core.monitor.vdisk import SECTOR_SIZE
from disco_core.monitor.vm import VM, VMCpu

# the statistic kinds bound once: an enum member's attribute lookup is slow
# (Python 3.11) and these are used on every exit
_INTR_PENDING = StatKind.INTR_PENDING
_MONITOR_CALL = StatKind.MONITOR_CALL
_PAGE_FREED = StatKind.PAGE_FREED
_ZERO_PAGE = StatKind.ZERO_PAGE


class Call(enum.IntEnum):
    """The monitor-call numbers, as the guest kernel's mcall.h has them."""

    PUTC = 0
    GETC = 1
    ZERO_PAGE = 2
    PAGE_FREED = 3
    YIELD = 4
    IDLE = 5
    PANIC = 6
    EXIT = 7
    INFO = 8
    PUTS = 9
    # the devices: one trap per request, every argument in $a0-$a3
    DISK_INFO = 10
    DISK_READ = 11
    DISK_WRITE = 12
    IPI = 13
    IPI_ACK = 14
    RTC = 15
    # the virtual network (vnet.py)
    NET_SEND = 16
    NET_RECV = 17
    NET_PEEK = 18
    NET_ADDR = 19
    NET_ACK = 20
    # not a device: the guest set Status.IE in its register page and found an interrupt
    # pending (Cause.IP & Status.IM); the call delivers it (16-31 stay for devices)
    INTR_PENDING = 32


MC_PUTC, MC_GETC, MC_ZERO_PAGE, MC_PAGE_FREED = (Call.PUTC, Call.GETC, Call.ZERO_PAGE,
                                                 Call.PAGE_FREED)
MC_YIELD, MC_IDLE, MC_PANIC, MC_EXIT = Call.YIELD, Call.IDLE, Call.PANIC, Call.EXIT
MC_INFO, MC_PUTS, MC_DISK_INFO = Call.INFO, Call.PUTS, Call.DISK_INFO
MC_DISK_READ, MC_DISK_WRITE = Call.DISK_READ, Call.DISK_WRITE
MC_IPI, MC_IPI_ACK, MC_RTC, MC_INTR_PENDING = Call.IPI, Call.IPI_ACK, Call.RTC, Call.INTR_PENDING
MC_NET_FIRST, MC_NET_LAST = Call.NET_SEND, Call.NET_ACK

CONSOLE_LINE = 0  # console input raises the guest's Cause.IP2
IPI_LINE = 3      # inter-processor interrupts raise IP5
RTC_EPOCH = 1_000_000_000  # the VMs' wall clock starts here (seconds), as simulated time
ERR = 0xFFFFFFFF
# INFO's questions: memory pages, vCPU index, vCPU count, VM id, clock rate
INFO_PAGES, INFO_VCPU, INFO_VCPUS, INFO_VM, INFO_CLOCK = range(5)
# the guest's hints get their own statistics kinds (category monitor_call)
_CALL_KIND: dict[int, StatKind] = {Call.ZERO_PAGE: _ZERO_PAGE,
                                   Call.PAGE_FREED: _PAGE_FREED}


class VMStop(Exception):
    """The guest asked to stop its VM (panic or exit): the monitor stops it after
    charging for the call."""

    def __init__(self, reason: str, exit_code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code


class Network(Protocol):
    """The virtual network's calls (vnet.VNet)."""

    def call(self, v: VMCpu, cpu: Cpu | None, call: int, a0: int, a1: int, a2: int,
             a3: int) -> int: ...


class MonitorCalls:
    """Serves the guest kernel's monitor calls."""

    def __init__(self, ctx: MonitorContext, sched: Scheduler, network: Network,
                 diskcache: DiskCache | None) -> None:
        self.ctx = ctx
        self.sched = sched
        self.network = network
        self.diskcache = diskcache
        self.clock_hz = ctx.machine.config.clock_hz

    def post_interrupt(self, v: VMCpu, line: int) -> None:
        vintr.post(self.ctx, self.sched, v, line)

    def serve(self, v: VMCpu, cpu: Cpu, ci: int) -> StatKind:
        regs = cpu.regs()
        call = int(regs[REG_V0])
        a0, a1, a2, a3 = int(regs[REG_A0]), int(regs[REG_A1]), int(regs[REG_A2]), int(regs[REG_A3])
        vm = v.vm
        v.progressed = True
        result = 0
        if call == MC_PUTC:
            vm.console_out.append(a0 & 0xFF)
            vm.console_cycles = cpu.cycles
        elif call == MC_GETC:
            result = vm.console_in.pop(0) if vm.console_in else ERR
            if result != ERR and vm.input_cycles is None:
                vm.input_cycles = cpu.cycles  # when the guest took typed input
            if not vm.console_in:
                vintr.clear(v, CONSOLE_LINE)  # drained: the input interrupt drops
        elif call in (MC_DISK_READ, MC_DISK_WRITE):
            result = self.disk_transfer(vm, a3, a0, a1, a2, call == MC_DISK_WRITE)
        elif call == MC_DISK_INFO:
            result = vm.disks[a0].sectors & ERR if a0 < len(vm.disks) else ERR
        elif call == MC_IPI:
            mask = a0 | (a1 << 32)
            for w in vm.vcpus:
                if mask >> w.index & 1:
                    self.post_interrupt(w, IPI_LINE)
        elif call == MC_IPI_ACK:
            vintr.clear(v, IPI_LINE)
        elif call == MC_RTC:
            result = (RTC_EPOCH + cpu.cycles // self.clock_hz) & ERR
        elif call == MC_PUTS:
            data = guest_bytes(vm, a0, a1)
            if data is None:
                result = ERR
            else:
                vm.console_out += data
                vm.console_cycles = cpu.cycles
        elif call == MC_ZERO_PAGE:
            if a0 < vm.pmap.npages:
                vm.pmap.release(a0)
                vm.pmap.machine_page(a0)  # a fresh zeroed page, so the guest need not clear it
            else:
                result = ERR
        elif call == MC_PAGE_FREED:
            if a0 < vm.pmap.npages:
                vm.pmap.release(a0)
            else:
                result = ERR
        elif call == MC_INTR_PENDING:
            cpu.gpr[REG_V0] = 0
            cpu.advance()
            vintr.deliver(self.ctx, v, cpu, None)  # EPC = the instruction after the call
            return _INTR_PENDING
        elif call == MC_INFO:
            result = {INFO_PAGES: vm.pmap.npages, INFO_VCPU: v.index,
                      INFO_VCPUS: len(vm.vcpus), INFO_VM: vm.id,
                      INFO_CLOCK: self.clock_hz}.get(a0, ERR)
        elif call == MC_PANIC:
            data = guest_bytes(vm, a0, a1) or b""
            raise VMStop(f"guest panic: {data.decode('latin-1')}")
        elif call == MC_EXIT:
            raise VMStop(f"exit({a0})", a0)
        elif call in (MC_YIELD, MC_IDLE):
            cpu.gpr[REG_V0] = 0
            cpu.advance()
            if call == MC_IDLE and not v.cp0.interrupt_wakes():
                self.sched.yield_cpu(ci, RunState.WAITING)
            elif call == MC_IDLE:
                vintr.deliver(self.ctx, v, cpu, None)
            elif call == MC_YIELD and self.sched.pick_for(ci) is not None:
                self.sched.yield_cpu(ci, RunState.READY)
            return _MONITOR_CALL
        elif MC_NET_FIRST <= call <= MC_NET_LAST:
            result = self.network.call(v, cpu, call, a0, a1, a2, a3)
        else:
            result = ERR
        cpu.gpr[REG_V0] = result
        cpu.advance()
        return _CALL_KIND.get(call, _MONITOR_CALL)

    def disk_transfer(self, vm: VM, unit: int, sector: int, gpa: int, count: int,
                      write: bool) -> int:
        """DISK_READ/DISK_WRITE: whole sectors between the VM's disk and its
        guest-physical memory, done before the call returns (0, or −1)."""
        if unit >= len(vm.disks):
            return ERR
        disk = vm.disks[unit]
        n = count * SECTOR_SIZE
        if KSSEG <= gpa < KSEG3:
            gpa -= KSSEG
        if not disk.valid(sector, count) or gpa + n > vm.pmap.npages * PAGE:
            return ERR
        if write:
            disk.write(sector, vm.read_guest(gpa, n))
        else:
            data = disk.read(sector, count)
            if self.diskcache is not None and self.diskcache.transfer(vm, disk, sector, gpa,
                                                                      data):
                return 0  # mapped from the global disk cache: nothing to copy
            pmap = vm.pmap
            for gpn in range(gpa // PAGE, (gpa + n - 1) // PAGE + 1):
                if gpn in pmap.readonly:
                    pmap.break_sharing(gpn)  # the "DMA" is a store: copy a shared page first
            vm.write_guest(gpa, data)
        return 0


def guest_bytes(vm: VM, addr: int, n: int) -> bytes | None:
    """Up to a page of the guest's memory at a guest-physical or relocated-kseg0
    address, or None when it is outside the VM."""
    if KSSEG <= addr < KSEG3:
        addr -= KSSEG
    n = min(n, PAGE)
    if addr + n > vm.pmap.npages * PAGE:
        return None
    return vm.read_guest(addr, n)
