"""What the GDB server drives: a debug target's threads, registers, memory and run control.

The server (server.py) speaks the protocol; a `Target` is the machine seen as one
GDB process: the bare machine's CPUs (bare.py) or one VM's vCPUs (the session's
vCPU target). Every method is called on the thread that owns the machine, between
run slices (docs/gdb.md, "Threads"), so a target needs no locking of its own.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from disco_core import mips
from disco_core.errors import DiscoError

# GDB's register numbers for 32-bit MIPS (gdb/mips-tdep.h); the `g` packet and the
# target description (features.py) use the same order.
GPR_COUNT = 32
REG_STATUS, REG_LO, REG_HI, REG_BADVADDR, REG_CAUSE, REG_PC = 32, 33, 34, 35, 36, 37
REG_F0 = 38  # f0..f31 are 38..69
REG_FCSR, REG_FIR = 70, 71
# CP0 registers beyond GDB's three, as extra registers of the cp0 feature:
# (gdb name, CP0 register, select), numbered from 72 on.
EXTRA_CP0: tuple[tuple[str, int, int], ...] = (
    ("index", mips.INDEX, 0),
    ("entrylo0", mips.ENTRYLO0, 0),
    ("entrylo1", mips.ENTRYLO1, 0),
    ("context", mips.CONTEXT, 0),
    ("pagemask", mips.PAGEMASK, 0),
    ("wired", mips.WIRED, 0),
    ("count", mips.COUNT, 0),
    ("entryhi", mips.ENTRYHI, 0),
    ("compare", mips.COMPARE, 0),
    ("epc", mips.EPC, 0),
    ("prid", mips.PRID, 0),
    ("ebase", mips.PRID, mips.EBASE_SEL),
    ("config", mips.CONFIG, 0),
    ("errorepc", mips.ERROREPC, 0),
)
REG_EXTRA = 72
REGISTER_COUNT = REG_EXTRA + len(EXTRA_CP0)
# The CP0 register and select behind each CP0 register number GDB knows.
CP0_OF_REG: dict[int, tuple[int, int]] = {
    REG_STATUS: (mips.STATUS, 0),
    REG_BADVADDR: (mips.BADVADDR, 0),
    REG_CAUSE: (mips.CAUSE, 0),
    **{REG_EXTRA + i: (reg, sel) for i, (_, reg, sel) in enumerate(EXTRA_CP0)},
}
SIGINT, SIGTRAP = 2, 5


class TargetError(DiscoError):
    """A request the target refuses (no such thread, an unmapped address, ...):
    the server answers it with an error reply; the machine is untouched."""


class PointKind(enum.IntEnum):
    """Breakpoints and watchpoints, numbered as the Z/z packets number them."""

    SOFTWARE = 0
    HARDWARE = 1
    WRITE = 2
    READ = 3
    ACCESS = 4

    @property
    def is_watch(self) -> bool:
        return self >= PointKind.WRITE


class StopKind(enum.Enum):
    BREAKPOINT = "breakpoint"  # about to execute an instruction at a breakpoint
    STEP = "step"  # a requested single step finished
    WATCH = "watch"  # a write to a watched range (it has completed)
    READ_WATCH = "rwatch"
    ACCESS_WATCH = "awatch"
    INTERRUPT = "interrupt"  # Ctrl-C or interrupt()
    REPLAY_BEGIN = "replaylog-begin"  # a reverse run reached the start of the recording
    REPLAY_END = "replaylog-end"  # a forward run of a replay reached its end
    EXITED = "exited"  # the program (the machine, or the VM) is gone


@dataclass(frozen=True)
class StopEvent:
    """A thread stopped; `address` is the watched data address for watch kinds, else
    unused; `code` is the exit code for EXITED."""

    thread: int
    kind: StopKind
    address: int = 0
    code: int = 0


class Resume(enum.Enum):
    CONTINUE = "continue"
    STEP = "step"
    STOP = "stop"  # stays stopped (vCont `t`, or not named by any action)


class Target(Protocol):
    """A debug target as the GDB server sees it. Thread ids are positive integers."""

    @property
    def pid(self) -> int:
        """The process id GDB sees (multiprocess form `p<pid>.<tid>`)."""
        ...

    @property
    def can_reverse(self) -> bool:
        """True while the target replays a recording (bc/bs allowed)."""
        ...

    def threads(self) -> Sequence[int]: ...

    def thread_info(self, thread: int) -> str:
        """One line for `info threads`, e.g. "cpu1, running" or "vm1 vcpu0 on cpu3"."""
        ...

    def read_registers(self, thread: int) -> Sequence[int]:
        """REGISTER_COUNT values in GDB's order (floating point registers read as 0)."""
        ...

    def read_register(self, thread: int, number: int) -> int:
        """One register (GDB's number): what a stop reply and `p` need, cheaper than all."""
        ...

    def write_register(self, thread: int, number: int, value: int) -> None: ...

    def read_memory(self, thread: int, address: int, length: int) -> bytes:
        """Guest-virtual memory through the thread's current translation;
        TargetError if any byte is unmapped."""
        ...

    def write_memory(self, thread: int, address: int, data: bytes) -> None: ...

    def insert_point(self, kind: PointKind, address: int, length: int) -> None:
        """A breakpoint (length: the instruction size) or watchpoint (the watched bytes).
        It applies to this target's threads only (a VM's vCPUs, not other VMs')."""
        ...

    def remove_point(self, kind: PointKind, address: int, length: int) -> None: ...

    def resume(self, actions: Mapping[int, Resume]) -> None:
        """Let the threads go as asked; returns at once. The machine's owner runs
        the machine afterwards and the target reports stops through poll_stops()."""
        ...

    def reverse(self, thread: int, step: bool) -> None:
        """Run backwards (reverse-stepi or reverse-continue); only if can_reverse.
        `thread` is the one GDB selected (Hc, else the current one): a reverse step
        takes back one instruction of it; a reverse continue names it if the history
        runs out (`replaylog:begin`)."""
        ...

    def interrupt(self) -> None:
        """Stop as soon as possible; a StopEvent(INTERRUPT) follows."""
        ...

    def poll_stops(self) -> list[StopEvent]:
        """Stops since the last call, oldest first; several threads may stop in one
        slice and each is reported."""
        ...

    def monitor(self, command: str) -> str:
        """The answer to `monitor COMMAND` (qRcmd) as text."""
        ...

    def detach(self) -> None:
        """Remove every point the client set and let the machine run on freely."""
        ...

    def kill(self) -> None: ...
