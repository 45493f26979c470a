"""The real-time clock: simulated time since a fixed epoch, never the host's clock.

Time is CPU 0's cycle counter divided by the CPU clock rate, so two runs of
the same machine read the same times at the same instructions.
"""

from __future__ import annotations

from collections.abc import Callable

from disco_core.devices.layout import DEFAULT_CLOCK_HZ, DEFAULT_EPOCH
from disco_core.devices.registers import RegisterDevice
from disco_core.devices.state import StateReader, StateWriter
from disco_core.errors import ConfigError
from disco_core.machine import Machine

SECONDS = 0x00
NANOSECONDS = 0x04
UPTIME_LO = 0x08
UPTIME_HI = 0x0C
CLOCK_HZ = 0x10
EPOCH = 0x14


class RealTimeClock(RegisterDevice):
    name = "rtc"

    def __init__(self, machine: Machine, clock_hz: int = DEFAULT_CLOCK_HZ,
                 epoch: int = DEFAULT_EPOCH, cycles: Callable[[], int] | None = None) -> None:
        super().__init__()
        if not 1 <= clock_hz <= 0xFFFFFFFF:
            raise ConfigError(f"clock_hz = {clock_hz} is out of range: use 1 Hz to 4.29 GHz")
        if not 0 <= epoch <= 0xFFFFFFFF:
            raise ConfigError(f"epoch = {epoch} is out of range: use 0 to 2**32 - 1 seconds")
        self.clock_hz = clock_hz
        self.epoch = epoch
        # The fabric may supply a global clock; until then CPU 0 keeps time.
        self.cycles = cycles if cycles is not None else (lambda: machine.cpus[0].cycles)
        self.latched_ns = 0
        self.latched_uptime_hi = 0

    def uptime_ns(self) -> int:
        return self.cycles() * 1_000_000_000 // self.clock_hz

    def now(self) -> tuple[int, int]:
        """(seconds since the Unix epoch, nanoseconds) of simulated time."""
        seconds, ns = divmod(self.uptime_ns(), 1_000_000_000)
        return self.epoch + seconds, ns

    def read_register(self, reg: int) -> int | None:
        # Reading the first word of a pair latches the second, so a 32-bit
        # guest reads a consistent 64-bit value with two loads.
        if reg == SECONDS:
            seconds, self.latched_ns = self.now()
            return seconds & 0xFFFFFFFF
        if reg == NANOSECONDS:
            return self.latched_ns
        if reg == UPTIME_LO:
            us = self.uptime_ns() // 1000
            self.latched_uptime_hi = (us >> 32) & 0xFFFFFFFF
            return us & 0xFFFFFFFF
        if reg == UPTIME_HI:
            return self.latched_uptime_hi
        if reg == CLOCK_HZ:
            return self.clock_hz
        if reg == EPOCH:
            return self.epoch
        return None

    def snapshot(self) -> bytes:
        w = StateWriter(b"RTC ", 1)
        w.u64(self.errors).u32(self.latched_ns, self.latched_uptime_hi)
        return w.bytes()

    def restore(self, state: bytes) -> None:
        r = StateReader(state, b"RTC ", 1, "RTC")
        (errors,) = r.u64()
        ns, hi = r.u32(2)
        r.end()
        self.errors, self.latched_ns, self.latched_uptime_hi = errors, ns, hi
