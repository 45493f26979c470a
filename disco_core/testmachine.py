"""The test machine: RAM, a console, an exit device and a CPU-start block.

A fixed contract documented in docs/test-machine.md; tests, benchmarks and
`disco run-elf` run bare-metal programs on it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from disco_core.elf import ElfImage, load_elf
from disco_core.errors import ElfError
from disco_core.machine import Exit, ExitReason, Machine, MachineConfig, MiB
from disco_core.mips import DEVICE_WINDOW_PA as DEVICE_WINDOW
from disco_core.mips import KSEG0

CONSOLE_BASE = 0x1FD00000
EXIT_BASE = 0x1FD00010
START_BASE = 0x1FD00020


class Console:
    """Byte output at offset 0; input bytes (or -1) from offset 4."""

    def __init__(self, echo: BinaryIO | None = None) -> None:
        self.output = bytearray()
        self.input = bytearray()
        self.echo = echo

    def read(self, offset: int, size: int) -> int:
        if offset == 4:
            if self.input:
                return self.input.pop(0)
            return 0xFFFFFFFF
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == 0:
            self.output.append(value & 0xFF)
            if self.echo is not None:
                self.echo.write(bytes([value & 0xFF]))
                self.echo.flush()

    def feed(self, data: bytes) -> None:
        self.input += data

    def snapshot(self) -> bytes:
        return len(self.output).to_bytes(8, "little") + bytes(self.output) + bytes(self.input)

    def restore(self, state: bytes) -> None:
        n = int.from_bytes(state[:8], "little")
        self.output = bytearray(state[8 : 8 + n])
        self.input = bytearray(state[8 + n :])


class ExitDevice:
    """A 32-bit write stops the machine with that exit code."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == 0:
            self.machine.halt(value)


class StartBlock:
    """Releases parked CPUs: START_PC, START_SP, START_ARG, then START_CPU."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.pc = self.sp = self.arg = 0

    def read(self, offset: int, size: int) -> int:
        if offset == 12:
            return self.machine.config.cpus
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == 0:
            self.pc = value
        elif offset == 4:
            self.sp = value
        elif offset == 8:
            self.arg = value
        elif offset == 12 and value < self.machine.config.cpus:
            cpu = self.machine.cpus[value]
            try:
                cpu.start(self.pc)
            except Exception:  # already started: the write is ignored, as on hardware
                return
            cpu.gpr[29] = self.sp
            cpu.gpr[4] = self.arg

    def snapshot(self) -> bytes:
        return b"".join(v.to_bytes(4, "little") for v in (self.pc, self.sp, self.arg))

    def restore(self, state: bytes) -> None:
        self.pc, self.sp, self.arg = (int.from_bytes(state[i : i + 4], "little")
                                      for i in (0, 4, 8))


@dataclass(frozen=True)
class RunResult:
    reason: ExitReason
    exit_code: int | None
    output: bytes
    instructions: int
    exit: Exit


def physical(addr: int) -> int:
    """kseg0/kseg1 addresses name physical memory through their low 29 bits."""
    if 0x80000000 <= addr < 0xC0000000:
        return addr & 0x1FFFFFFF
    return addr


class TestMachine(Machine):
    """The bare machine for core tests and bare-metal programs."""

    __test__ = False  # not a pytest class

    def __init__(self, cpus: int = 1, ram_bytes: int = 64 * MiB, echo: BinaryIO | None = None,
                 config: MachineConfig | None = None, **fields: object) -> None:
        if config is None:
            config = MachineConfig(cpus=cpus, ram_bytes=ram_bytes, **fields)  # type: ignore[arg-type]
        super().__init__(config)
        self.console = Console(echo)
        self.map_device(CONSOLE_BASE, 16, self.console, "console")
        self.map_device(EXIT_BASE, 16, ExitDevice(self), "exit")
        self.map_device(START_BASE, 16, StartBlock(self), "start")
        self.image: ElfImage | None = None
        self.instructions = 0
        # CPU 0 starts in kernel mode with BEV = 0 and EBase = 0x80000000.
        boot = self.cpus[0]
        boot.set_cp0(12, 0)
        boot.set_cp0(15, KSEG0, sel=1)

    @property
    def stack_top(self) -> int:
        return KSEG0 + min(self.ram_bytes, DEVICE_WINDOW) - 16

    def load_elf(self, source: str | Path | bytes | ElfImage) -> ElfImage:
        """Load a program's segments and point CPU 0 at its entry."""
        image = source if isinstance(source, ElfImage) else load_elf(source)
        for seg in image.segments:
            pa = physical(seg.paddr)
            end = pa + max(seg.memsz, len(seg.data))
            if end > min(self.ram_bytes, DEVICE_WINDOW):
                raise ElfError(
                    f"segment at 0x{seg.vaddr:08x} (physical 0x{pa:08x}..0x{end:08x}) does not "
                    f"fit in the test machine's {self.ram_bytes // MiB} MiB of RAM"
                )
            self.write_phys(pa, seg.data + bytes(max(0, seg.memsz - len(seg.data))))
        self.image = image
        cpu = self.cpus[0]
        cpu.pc = image.entry
        cpu.gpr[29] = self.stack_top
        return image

    def run_program(self, max_instructions: int = 1_000_000_000, slice_size: int = 1 << 22
                    ) -> RunResult:
        """Run until the program exits, the budget is spent, or every CPU waits."""
        left = max_instructions
        while True:
            ex = self.run(min(left, slice_size))
            left -= ex.executed
            self.instructions += ex.executed
            if ex.reason == ExitReason.HOTPAGE:
                self.hot_pages()  # nobody here migrates pages: drop the reports
            if ex.reason in (ExitReason.BUDGET, ExitReason.HOTPAGE) and left > 0:
                continue
            code = ex.code if ex.reason == ExitReason.HALT else None
            return RunResult(ex.reason, code, bytes(self.console.output),
                             max_instructions - left, ex)


def run_elf(path: str | Path, cpus: int = 1, max_instructions: int = 1_000_000_000,
            echo: bool = False, ram_bytes: int = 64 * MiB,
            config: MachineConfig | None = None) -> tuple[TestMachine, RunResult]:
    tm = TestMachine(cpus=cpus, ram_bytes=ram_bytes, echo=sys.stdout.buffer if echo else None,
                     config=config)
    tm.load_elf(path)
    return tm, tm.run_program(max_instructions)
