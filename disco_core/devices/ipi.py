"""Inter-processor interrupts: CPU i raises the IPI line of the CPUs in a mask.

The MMIO path does not say which CPU made an access, so every CPU has its own
slot of registers and uses the one numbered by its EBase.CPUNum; the slot it
writes names the sender.
"""

from __future__ import annotations

from disco_core.devices.layout import IPI_LINE
from disco_core.devices.registers import InterruptRouter, RegisterDevice
from disco_core.devices.state import StateReader, StateWriter

NCPUS = 0x000
LINE = 0x004
SLOTS = 0x100
SLOT_SIZE = 0x10
SEND_LO = 0x0
SEND_HI = 0x4
PENDING_LO = 0x8
PENDING_HI = 0xC

MAX_CPUS = 64


def slot(cpu: int) -> int:
    """Offset of CPU `cpu`'s register slot."""
    return SLOTS + cpu * SLOT_SIZE


class InterProcessorInterrupts(RegisterDevice):
    name = "ipi"

    def __init__(self, router: InterruptRouter, line: int = IPI_LINE) -> None:
        super().__init__()
        self.router = router
        self.line = line
        self.ncpus = router.ncpus
        # pending[i] bit j: CPU j sent CPU i an IPI that i has not acknowledged
        self.pending = [0] * self.ncpus
        self.sent = 0

    def send(self, sender: int, targets: int) -> None:
        """Raise the IPI line of every CPU in the `targets` mask (bit i = CPU i)."""
        for cpu in range(self.ncpus):
            if targets >> cpu & 1:
                self.pending[cpu] |= 1 << sender
                self.sent += 1
                self._drive(cpu)

    def acknowledge(self, cpu: int, senders: int) -> None:
        self.pending[cpu] &= ~senders
        self._drive(cpu)

    def _drive(self, cpu: int) -> None:
        self.router.drive(f"ipi{cpu}", cpu, self.line, self.pending[cpu] != 0)

    def _slot(self, reg: int) -> tuple[int, int] | None:
        if reg < SLOTS:
            return None
        cpu, field = divmod(reg - SLOTS, SLOT_SIZE)
        return (cpu, field) if cpu < self.ncpus else None

    def read_register(self, reg: int) -> int | None:
        if reg == NCPUS:
            return self.ncpus
        if reg == LINE:
            return self.line
        where = self._slot(reg)
        if where is None:
            return None
        cpu, field = where
        if field == PENDING_LO:
            return self.pending[cpu] & 0xFFFFFFFF
        if field == PENDING_HI:
            return self.pending[cpu] >> 32
        return 0  # the SEND registers are write-only

    def write_register(self, reg: int, value: int) -> bool:
        where = self._slot(reg)
        if where is None:
            return False
        cpu, field = where
        shift = 32 if field in (SEND_HI, PENDING_HI) else 0
        mask = value << shift
        if field in (SEND_LO, SEND_HI):
            self.send(cpu, mask)
        else:
            self.acknowledge(cpu, mask)
        # Bits naming CPUs this machine does not have are a guest mistake.
        return mask >> self.ncpus == 0

    def snapshot(self) -> bytes:
        w = StateWriter(b"IPI ", 1).u64(self.errors, self.sent, self.ncpus)
        return w.u64(*self.pending).bytes()

    def restore(self, state: bytes) -> None:
        r = StateReader(state, b"IPI ", 1, "IPI block")
        errors, sent, ncpus = r.u64(3)
        if ncpus != self.ncpus:
            raise r.fail(f"it is for {ncpus} CPUs, this machine has {self.ncpus}")
        pending = list(r.u64(ncpus))
        r.end()
        if any(p >> ncpus for p in pending):
            raise r.fail("it names senders this machine does not have")
        self.errors, self.sent, self.pending = errors, sent, pending
        for cpu in range(self.ncpus):
            self._drive(cpu)
