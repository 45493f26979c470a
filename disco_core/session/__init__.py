"""A Session: one machine, what runs on it, and a Qt-free run loop in slices (docs/app.md).

The workbench's worker thread drives a Session; tests and benchmarks drive it
directly. The package, by what each module is:

- commands.py: the commands a session takes between slices, and its events;
- snapshot.py: the immutable copies a viewer gets (`Snapshot`, `DebugDetail`, `VmsInfo`);
- session.py: `Session` (the command queue, breakpoints, the run loop, snapshots);
- targets.py: what the debugger works on, a strategy: the machine's CPUs or the vCPUs;
- callstack.py: a stopped target's call stack, walked with DWARF call-frame information;
- vms.py: what the viewers see of the virtual machines (counters, copied pmaps);
- factories.py: the sessions the workbench opens (bare metal, native kernel, VMs);
- runner.py: running a session headless, for benchmarks.
"""

from disco_core.session.callstack import Frame
from disco_core.session.commands import (
    MEMORY_SPACES,
    AddBreakpoint,
    AddWatchpoint,
    Command,
    Event,
    FeedConsole,
    Focus,
    Pause,
    PauseVm,
    RemoveBreakpoint,
    RemoveWatchpoint,
    RestartVm,
    Resume,
    ResumeVm,
    RunTo,
    SetTiming,
    Step,
    StepOut,
    StepOver,
    StopVm,
    TraceMonitor,
)
from disco_core.session.factories import (
    DEFAULT_SESSION,
    SESSION_KINDS,
    VmsCoreSpec,
    baremetal_session,
    check_vms_request,
    default_session,
    kernel_session,
    vms_session,
)
from disco_core.session.runner import Throughput, run_headless
from disco_core.session.session import GUEST_COMMANDS, Console, Core, Guest, Observer, Session
from disco_core.session.snapshot import (
    Breakpoint,
    ConsoleSnapshot,
    DebugDetail,
    Snapshot,
    VmsInfo,
    Watchpoint,
)
from disco_core.session.targets import (
    CP0_REGISTERS,
    CpuTargets,
    Registers,
    RunResult,
    StepResult,
    Targets,
    VCpuTargets,
    WatchHit,
)

__all__ = [
    "CP0_REGISTERS", "DEFAULT_SESSION", "GUEST_COMMANDS", "Core", "Observer", "RestartVm",
    "StopVm", "VmsCoreSpec", "MEMORY_SPACES", "SESSION_KINDS", "AddBreakpoint",
    "AddWatchpoint", "Breakpoint", "Command", "Console", "ConsoleSnapshot", "CpuTargets",
    "DebugDetail", "Event", "FeedConsole", "Focus", "Frame", "Guest", "Pause", "PauseVm",
    "Registers", "ResumeVm",
    "RemoveBreakpoint", "RemoveWatchpoint", "Resume", "RunResult", "RunTo", "Session",
    "SetTiming", "Snapshot", "Step", "StepOut", "StepOver", "StepResult", "Targets",
    "Throughput", "TraceMonitor", "VCpuTargets", "VmsInfo", "WatchHit", "Watchpoint",
    "baremetal_session", "check_vms_request", "default_session", "kernel_session",
    "run_headless", "vms_session",
]
