"""What the monitor's subsystems share: the machine, its clock, the VMs and the charging rules.

The scheduler, the TLB paths, the NUMA manager, the sharing mechanisms and the
virtual network depend on this narrow context instead of on the Monitor, and
on each other only where one is handed to another explicitly (monitor.py
builds them in order). The context holds no policy of its own; what it holds
as state (which vCPU runs on which CPU, the CPU whose exit is being served) is
saved by the monitor's own section.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from disco_core.machine import Cpu, Machine
from disco_core.monitor.costs import CostModel
from disco_core.monitor.events import EventLog
from disco_core.monitor.memmap import MemMap
from disco_core.monitor.stats import StatKind
from disco_core.monitor.vm import VM, VMCpu


class Trap(Protocol):
    """An EXCEPTION exit's details as the core reports them (machine.ExceptionInfo, or
    the core's own record on the run loop's fast path)."""

    @property
    def code(self) -> int: ...

    @property
    def mode(self) -> int: ...

    @property
    def pc(self) -> int: ...

    @property
    def bd(self) -> bool: ...

    @property
    def badvaddr(self) -> int: ...

    @property
    def insn(self) -> int: ...

    @property
    def refill(self) -> bool: ...

    @property
    def ce(self) -> int: ...


def _no_interrupts(v: VMCpu, line: int) -> None:
    raise RuntimeError("the monitor has not connected interrupt posting yet")


@dataclass(eq=False)
class MonitorContext:
    """The machine and the monitor-wide tables every mechanism may read."""

    machine: Machine
    costs: CostModel
    memmap: MemMap
    events: EventLog
    vms: list[VM] = field(default_factory=list)
    vcpus: dict[int, VMCpu] = field(default_factory=dict)  # by gid
    # the vCPU on each physical CPU (None: the monitor's idle loop); the scheduler's
    current: list[VMCpu | None] = field(default_factory=list)
    # the CPU whose exit the monitor is serving (-1: none): first-touch placement
    # and charging of work done for that exit
    exit_cpu: int = -1
    # raise a virtual interrupt line of a vCPU (vintr.py, connected by the monitor)
    post_interrupt: Callable[[VMCpu, int], None] = _no_interrupts

    def __post_init__(self) -> None:
        self.cpus: list[Cpu] = self.machine.cpus
        if not self.current:
            self.current = [None] * len(self.cpus)

    @property
    def ncpus(self) -> int:
        return len(self.cpus)

    def node(self, ci: int) -> int:
        """The node physical CPU ci sits on."""
        return self.machine.node_of_cpu(ci)

    def machine_cycles(self) -> int:
        """The machine's time: the furthest any CPU has got."""
        return max(c.cycles for c in self.cpus)

    def cycles_at(self, ci: int) -> int:
        """The time on CPU ci, or the machine's time for ci < 0."""
        return self.cpus[ci].cycles if ci >= 0 else self.machine_cycles()

    def charge(self, cpu: Cpu, vm: VM, kind: StatKind, cycles: int) -> None:
        """Monitor work for vm done on cpu: counted in vm's statistics, time on the CPU."""
        vm.stats.add(kind, cycles)
        if cycles:
            cpu.charge(cycles)
