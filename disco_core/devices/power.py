"""Power control: the guest turns the machine off with an exit code, or asks for a reset.

Both stop the run (machine.halt); the host reads `request` to tell them apart
and decides what a reset means (reload the kernel, restore a snapshot, ...).
"""

from __future__ import annotations

import enum

from disco_core.devices.registers import RegisterDevice
from disco_core.devices.state import StateReader, StateWriter
from disco_core.machine import Machine

POWER_OFF = 0x00
RESET = 0x04
REQUEST = 0x08
CODE = 0x0C


class PowerRequest(enum.IntEnum):
    NONE = 0
    OFF = 1
    RESET = 2


class PowerControl(RegisterDevice):
    name = "power"

    def __init__(self, machine: Machine) -> None:
        super().__init__()
        self.machine = machine
        self.request = PowerRequest.NONE
        self.code = 0

    @property
    def reset_requested(self) -> bool:
        return self.request == PowerRequest.RESET

    def clear(self) -> None:
        """The host has handled the request."""
        self.request = PowerRequest.NONE
        self.code = 0

    def read_register(self, reg: int) -> int | None:
        if reg == REQUEST:
            return int(self.request)
        if reg == CODE:
            return self.code
        if reg in (POWER_OFF, RESET):
            return 0
        return None

    def write_register(self, reg: int, value: int) -> bool:
        if reg == POWER_OFF:
            self.request = PowerRequest.OFF
        elif reg == RESET:
            self.request = PowerRequest.RESET
        else:
            return False
        self.code = value
        self.machine.halt(value)
        return True

    def snapshot(self) -> bytes:
        return StateWriter(b"POWR", 1).u64(self.errors).u32(self.request, self.code).bytes()

    def restore(self, state: bytes) -> None:
        r = StateReader(state, b"POWR", 1, "power control")
        (errors,) = r.u64()
        request, code = r.u32(2)
        r.end()
        if request not in PowerRequest._value2member_map_:
            raise r.fail(f"its request {request} is not a power request")
        self.errors, self.request, self.code = errors, PowerRequest(request), code
