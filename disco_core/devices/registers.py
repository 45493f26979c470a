"""The register-file behaviour every native device shares, and interrupt routing.

Registers are 32-bit little-endian words at 4-byte offsets. The guest may
also use 1- and 2-byte accesses (docs/devices.md, "Access rules"). Nothing a
guest writes can raise into the host: a bad access is counted in `errors`
and otherwise ignored, and reading something that is not there gives 0.
"""

from __future__ import annotations

from disco_core.machine import Machine

REGISTER_SPACE = 0x1000


class InterruptRouter:
    """The wired-OR of device interrupt outputs onto each CPU's hardware lines.

    Several devices may share a line on a CPU (all disks use one line): the
    line is high while any of its sources is high, so one device lowering its
    output cannot hide another's pending interrupt.
    """

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.ncpus = machine.config.cpus
        self._sources: dict[str, tuple[int, int, bool]] = {}

    def drive(self, source: str, cpu: int, line: int, level: bool) -> None:
        old = self._sources.get(source)
        self._sources[source] = (cpu, line, bool(level))
        targets = {(cpu, line)}
        if old is not None:
            targets.add((old[0], old[1]))
        # Always drive the CPU, even when the level looks unchanged: after a
        # machine restore the core's lines may differ from what we last set.
        for c, n in targets:
            self.machine.cpus[c].set_irq(n, self.level(c, n))

    def level(self, cpu: int, line: int) -> bool:
        return any(c == cpu and n == line and up for c, n, up in self._sources.values())


class RegisterDevice:
    """A page of 32-bit registers; subclasses implement read_register/write_register."""

    name = "device"

    def __init__(self) -> None:
        self.errors = 0

    def read_register(self, reg: int) -> int | None:
        """The value of the register at word offset `reg`, or None if there is none."""
        return None

    def write_register(self, reg: int, value: int) -> bool:
        """Apply a write; False if `reg` is unknown or read-only (counted as an error)."""
        return False

    def read(self, offset: int, size: int) -> int:
        if size not in (1, 2, 4) or offset % size or not 0 <= offset < REGISTER_SPACE:
            self.errors += 1
            return 0
        value = self.read_register(offset & ~3)
        if value is None:
            self.errors += 1
            return 0
        # A narrow read returns the addressed bytes of the register (little-endian).
        return (value >> (8 * (offset & 3))) & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        # A narrow write must start at a register and is zero-extended, so
        # `sb` to a data register works without a read-modify-write.
        if size not in (1, 2, 4) or offset % 4 or not 0 <= offset < REGISTER_SPACE:
            self.errors += 1
            return
        if not self.write_register(offset, value & ((1 << (8 * size)) - 1)):
            self.errors += 1


class InterruptingDevice(RegisterDevice):
    """A device with a STATUS of pending causes, an IRQ_ENABLE mask and a TARGET_CPU.

    The output is level-triggered: high while STATUS & IRQ_ENABLE is not zero.
    The guest acknowledges a cause by writing 1 to its STATUS bit.
    """

    def __init__(self, router: InterruptRouter, line: int, source: str, enable: int) -> None:
        super().__init__()
        self.router = router
        self.line = line
        self.source = source
        self.target_cpu = 0
        self.status = 0
        self.irq_enable = enable

    @property
    def irq_level(self) -> bool:
        return bool(self.status & self.irq_enable)

    def update_irq(self) -> None:
        self.router.drive(self.source, self.target_cpu, self.line, self.irq_level)

    def raise_cause(self, bits: int) -> None:
        self.status |= bits
        self.update_irq()

    def acknowledge(self, bits: int) -> None:
        self.status &= ~bits
        self.update_irq()

    def set_target_cpu(self, cpu: int) -> bool:
        if not 0 <= cpu < self.router.ncpus:
            return False
        self.target_cpu = cpu
        self.update_irq()
        return True
