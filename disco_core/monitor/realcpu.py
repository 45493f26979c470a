"""The real CPU's state while it runs a vCPU: Status (mode, masks), pc and timer.

A guest kernel runs in real supervisor mode and guest user code in real user
mode, always with interrupts on, the monitor's kick line (IP2) and the timer
(IP7) unmasked, and CU0 clear so that CP0 instructions trap. The real timer is
armed for the vCPU's virtual deadline, or as far away as it goes.
"""

from __future__ import annotations

from typing import Any

from disco_core.machine import Cpu
from disco_core.mips import COMPARE, ST_IE, ST_IM_SHIFT, ST_KSU_SHIFT, STATUS, TIMER_IP, Mode
from disco_core.monitor.vm import VMCpu

KICK_LINE = 0  # hardware line 0 = Cause.IP2: the monitor's kick between CPUs
IM_KICK = 1 << (ST_IM_SHIFT + 2 + KICK_LINE)
IM_TIMER = 1 << (ST_IM_SHIFT + TIMER_IP)
REAL_BASE = ST_IE | IM_KICK | IM_TIMER
REAL_SUPER = REAL_BASE | (Mode.SUPERVISOR << ST_KSU_SHIFT)
REAL_USER = REAL_BASE | (Mode.USER << ST_KSU_SHIFT)


def sync_mode(v: VMCpu, cpu: Cpu) -> None:
    """Guest kernel → real supervisor mode; guest supervisor/user → real user mode."""
    real = REAL_SUPER if v.cp0.mode == Mode.KERNEL else REAL_USER
    if cpu.cp0(STATUS) != real:  # the C assists change it too
        cpu.set_cp0(STATUS, real)


def set_pc(cpu: Cpu, pc: int, clear_ll: bool = False) -> None:
    if clear_ll:
        r: Any = cpu.context()  # one read-modify-write of pc, delay slot and LL bit (cffi)
        r.pc = pc
        r.npc = (pc + 4) & 0xFFFFFFFF
        r.bd = 0
        r.llbit = 0
        cpu.set_context(r)
    else:
        cpu.pc = pc


def arm_timer(cpu: Cpu, now: int, deadline: int | None) -> None:
    """Compare for a deadline in cycles (Count runs at half the clock), or none."""
    if deadline is None:
        cpu.set_cp0(COMPARE, ((now >> 1) - 1) & 0xFFFFFFFF)  # as far away as it gets
    else:
        cpu.set_cp0(COMPARE, (deadline >> 1) & 0xFFFFFFFF)
