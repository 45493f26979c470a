"""What a session copies for its viewers: immutable snapshots of the machine and the VMs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from disco_core.monitor.events import Event as MonitorEvent
    from disco_core.session.callstack import Frame


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
    hits: int = 0  # how many times it stopped a target (its condition held)
    condition: str = ""  # stop only when this holds (session/condition.py); "" always


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
    monitor_events: tuple[MonitorEvent, ...] = ()  # the monitor's newest events
    # The call stack (session/callstack.py), innermost first; walked only while stopped.
    frames: tuple[Frame, ...] = ()


@dataclass(frozen=True)
class VmsInfo:
    """What the views show of the virtual machines (copies). Cumulative counters
    are per VM in `names` order; viewers take differences between snapshots."""

    names: tuple[str, ...]
    vcpu_names: tuple[str, ...]  # per vCPU (monitor-wide id order): "vm1 vCPU 0"
    vcpu_vm: tuple[int, ...]  # per vCPU: its VM
    vcpu_state: tuple[str, ...]  # per vCPU: ready, running, waiting, stopped, paused (its VM)
    cpu_vcpu: np.ndarray  # (cpus,) int: the vCPU on each CPU, or -1 (the monitor's idle loop)
    vm_state: tuple[str, ...]  # running, paused (PauseVm), stopped (with the reason)
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
