"""The commands a session takes between slices, and the events it reports."""

from __future__ import annotations

from dataclasses import dataclass


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
    `vm` names the one VM it applies to (None: every VM). `condition` (session/condition.py,
    e.g. "a0 == 0x1000", "*0x80012340 != 0") is evaluated at each hit: the target stops,
    and the hit counts, only when it holds. Adding the same breakpoint again replaces
    its condition (None: none)."""

    target: int | str
    cpu: int | None = None
    vm: str | None = None
    condition: str | None = None


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


# The address spaces a memory view reads with virtual machines (Focus.space).
MEMORY_SPACES = ("virtual", "physical", "machine")

@dataclass(frozen=True)
class StopVm:
    """Stop a VM (its vCPUs leave their CPUs) as if it had exited."""

    vm: str
    reason: str = "stopped by the user"


@dataclass(frozen=True)
class RestartVm:
    """Boot a VM again from its image (stopping it first if it runs)."""

    vm: str


@dataclass(frozen=True)
class PauseVm:
    """Stop scheduling one VM's vCPUs while the others run on (ResumeVm goes on). An
    input like typing: it changes when the VM runs, so a recording keeps it."""

    vm: str


@dataclass(frozen=True)
class ResumeVm:
    vm: str


Command = (Pause | Resume | Step | StepOver | StepOut | RunTo | AddBreakpoint
           | RemoveBreakpoint | AddWatchpoint | RemoveWatchpoint | SetTiming | Focus
           | FeedConsole | TraceMonitor | StopVm | RestartVm | PauseVm | ResumeVm)


@dataclass(frozen=True)
class Event:
    """Something the session reports: `kind` is paused, resumed, breakpoint, step,
    halted, idle or error."""

    kind: str
    message: str
    cpu: int = -1
    pc: int = 0
