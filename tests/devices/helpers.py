"""Shared set-up for the device tests: a machine with the native devices, guest code."""

from __future__ import annotations

from disco_core.devices import NativeDevices, attach_native_devices
from disco_core.guest import assemble
from disco_core.machine import Exit, ExitReason, Machine, MiB

MAIN = 0x80001000
GENERAL = 0x80000180  # EBase 0x80000000, Cause.IV = 0: every interrupt comes here

# kseg1 addresses of the device pages
MACHDESC = 0xBF000000
POWER = 0xBF001000
UART = 0xBF002000
RTC = 0xBF003000
IPI = 0xBF004000
DISK0 = 0xBF010000
NIC0 = 0xBF020000

# power off with $v0 as the exit code
POWER_OFF = f"""
    li $k1, {POWER:#x}
    sw $v0, 0($k1)
99: b 99b
    nop
"""

REG = {"v0": 2, "v1": 3, "a0": 4, "a1": 5, "a2": 6, "a3": 7, "t0": 8, "t1": 9,
       "s0": 16, "s1": 17, "s2": 18, "s3": 19, "s4": 20, "s5": 21, "s6": 22, "s7": 23}


def native(cpus: int = 1, ram: int = 16 * MiB, **kwargs: object) -> tuple[Machine, NativeDevices]:
    m = Machine(cpus=cpus, ram_bytes=ram, quantum=100)
    return m, attach_native_devices(m, **kwargs)  # type: ignore[arg-type]


def load(m: Machine, src: str, base: int = MAIN) -> None:
    m.write_phys(base & 0x1FFFFFFF, assemble(".set noreorder\n" + src, base=base))


def boot(m: Machine, main: str, handler: str | None = None) -> None:
    """CPU 0 in kernel mode (BEV = 0) at MAIN; `handler` at the general vector."""
    load(m, main)
    if handler is not None:
        load(m, handler, GENERAL)
    m.cpus[0].set_cp0(12, 0)
    m.cpus[0].pc = MAIN


def run_to_halt(m: Machine, budget: int = 100_000) -> Exit:
    ex = m.run(budget)
    assert ex.reason == ExitReason.HALT, ex
    return ex


def reg(m: Machine, name: str, cpu: int = 0) -> int:
    return m.cpus[cpu].gpr[REG[name]]
