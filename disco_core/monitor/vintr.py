"""Virtual interrupts and the virtual timer: posting, clearing, delivering, and waking waiters.

A vCPU's interrupt lines are bits of its virtual Cause (IP2.. IP7); the timer is
its own `deadline` in cycles, checked against the real CPU's clock when the
real timer fires, when the vCPU is switched in and while it waits. A posted
interrupt kicks the CPU a running vCPU is on (hardware line 0), so it exits and
the monitor delivers it; a vCPU waiting in WAIT (or the idle call) is made
ready when an unmasked interrupt is pending.
"""

from __future__ import annotations

from typing import Protocol

from disco_core.machine import Cpu
from disco_core.mips import CA_IP_SHIFT, CA_TI, CAUSE, EXC_INT, TIMER_IP
from disco_core.monitor import emulate
from disco_core.monitor.context import MonitorContext
from disco_core.monitor.realcpu import KICK_LINE, arm_timer
from disco_core.monitor.stats import StatKind
from disco_core.monitor.vcpu import RunState
from disco_core.monitor.vm import VMCpu

# the statistic kinds bound once: an enum member's attribute lookup is slow
# (Python 3.11) and these are used on every exit
_INTERRUPT = StatKind.INTERRUPT

TIMER_PERIOD = 1 << 33  # cycles for Count to come round again
_IP2 = CA_IP_SHIFT + 2  # Cause.IP2, the first hardware line's bit
_CAUSE_KICK = 1 << (_IP2 + KICK_LINE)
_TIMER_PENDING = CA_TI | (1 << (CA_IP_SHIFT + TIMER_IP))


class Waiters(Protocol):
    """The scheduler's side of waking: the waiting vCPUs and how one becomes ready."""

    waiting: list[VMCpu]

    def make_ready(self, v: VMCpu) -> None: ...


def check_timer(v: VMCpu, now: int) -> None:
    """Raise v's timer interrupt if its deadline has passed, and move the deadline on."""
    d = v.deadline
    if d is not None and now >= d:
        v.cp0.cause |= _TIMER_PENDING
        while d <= now:
            d += TIMER_PERIOD
        v.deadline = d


def sync_timer(v: VMCpu, cpu: Cpu, now: int) -> None:
    """Count/Compare changed: the real timer fires when the virtual one would."""
    v.deadline = v.cp0.timer_deadline(now)
    arm_timer(cpu, now, v.deadline)


def check_waiting(waiters: Waiters, now: int) -> None:
    """Wake every waiting vCPU whose timer came due or that has an interrupt pending."""
    for w in list(waiters.waiting):
        check_timer(w, now)
        if w.cp0.interrupt_wakes():
            waiters.waiting.remove(w)
            waiters.make_ready(w)


def post(ctx: MonitorContext, waiters: Waiters, v: VMCpu, line: int) -> None:
    """Raise the vCPU's virtual Cause.IP(2 + line) (virtual devices, IPIs)."""
    v.cp0.cause |= 1 << (_IP2 + line)
    if v.state == RunState.RUNNING and v.cpu is not None:
        ctx.cpus[v.cpu].set_irq(KICK_LINE, True)  # exit so the monitor delivers it
    elif v.state == RunState.WAITING and v.cp0.interrupt_wakes():
        waiters.waiting.remove(v)
        waiters.make_ready(v)


def clear(v: VMCpu, line: int) -> None:
    """Drop the vCPU's virtual Cause.IP(2 + line) (the device was answered)."""
    v.cp0.cause &= ~(1 << (_IP2 + line))


def deliver(ctx: MonitorContext, v: VMCpu, cpu: Cpu, at: tuple[int, bool] | None) -> bool:
    """Enter the guest's interrupt vector if an interrupt is deliverable; `at` is the
    (pc, in delay slot) it interrupts, else the CPU's pc."""
    if not v.cp0.interrupt_deliverable():
        return False
    pc, bd = at if at is not None else (cpu.pc, False)
    emulate.reflect(v, cpu, EXC_INT, pc, bd)
    ctx.charge(cpu, v.vm, _INTERRUPT, ctx.costs.reflect)
    return True


def real_interrupt(ctx: MonitorContext, waiters: Waiters, v: VMCpu, cpu: Cpu, pc: int,
                   bd: bool) -> StatKind:
    """A real interrupt while v ran: the kick (a posted interrupt) or its timer."""
    real_cause = cpu.cp0(CAUSE)
    if real_cause & _CAUSE_KICK:
        cpu.set_irq(KICK_LINE, False)
    if real_cause & CA_TI:
        now = cpu.cycles
        check_timer(v, now)
        arm_timer(cpu, now, v.deadline)
    if waiters.waiting:
        check_waiting(waiters, cpu.cycles)
    if v.cp0.interrupt_deliverable():
        return emulate.reflect(v, cpu, EXC_INT, pc, bd)
    return _INTERRUPT
