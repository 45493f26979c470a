"""The console UART: bytes out to the host, bytes in from the host with an interrupt."""

from __future__ import annotations

from typing import Protocol

from disco_core.devices.layout import UART_LINE
from disco_core.devices.registers import InterruptingDevice, InterruptRouter
from disco_core.devices.state import StateReader, StateWriter

DATA = 0x00
LINE_STATUS = 0x04
STATUS = 0x08
IRQ_ENABLE = 0x0C
TARGET_CPU = 0x10
RX_COUNT = 0x14
RX_OVERRUNS = 0x18

LS_RX_READY = 1 << 0
LS_TX_READY = 1 << 1

RX = 1 << 0  # input has arrived
TX = 1 << 1  # a byte has been sent
CAUSES = RX | TX

RX_CAPACITY = 1 << 16
EMPTY = 0xFFFFFFFF


class ByteSink(Protocol):
    """Where the UART copies what the guest sends: a binary stream, or anything that
    takes bytes the same way (a file, sys.stdout.buffer, a cycle-noting recorder)."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class Uart(InterruptingDevice):
    """Transmission is immediate; received bytes wait in a FIFO of RX_CAPACITY bytes."""

    name = "uart"

    def __init__(self, router: InterruptRouter, echo: ByteSink | None = None,
                 line: int = UART_LINE) -> None:
        super().__init__(router, line, "uart", enable=RX)
        self.echo = echo
        self.output = bytearray()
        self.rx = bytearray()
        self.overruns = 0

    # ---- host side ---------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes typed at the console; what does not fit in the FIFO is dropped."""
        room = RX_CAPACITY - len(self.rx)
        self.overruns += max(0, len(data) - room)
        self.rx += data[:room]
        if data:
            self.raise_cause(RX)

    def take_output(self) -> bytes:
        out = bytes(self.output)
        self.output.clear()
        return out

    # ---- guest side --------------------------------------------------------

    def read_register(self, reg: int) -> int | None:
        if reg == DATA:
            if not self.rx:
                return EMPTY
            byte = self.rx[0]
            del self.rx[0]
            return byte
        if reg == LINE_STATUS:
            return LS_TX_READY | (LS_RX_READY if self.rx else 0)
        return {
            STATUS: self.status,
            IRQ_ENABLE: self.irq_enable,
            TARGET_CPU: self.target_cpu,
            RX_COUNT: len(self.rx),
            RX_OVERRUNS: self.overruns,
        }.get(reg)

    def write_register(self, reg: int, value: int) -> bool:
        if reg == DATA:
            self.output.append(value & 0xFF)
            if self.echo is not None:
                self.echo.write(bytes([value & 0xFF]))
                self.echo.flush()
            self.raise_cause(TX)
            return True
        if reg == STATUS:
            self.status &= ~value
            # Input still waiting re-asserts RX, so draining before or after
            # the acknowledgement can never lose a byte's interrupt.
            if self.rx:
                self.status |= RX
            self.update_irq()
            return True
        if reg == IRQ_ENABLE:
            self.irq_enable = value & CAUSES
            self.update_irq()
            return True
        if reg == TARGET_CPU:
            return self.set_target_cpu(value)
        return False

    # ---- snapshots ---------------------------------------------------------

    def snapshot(self) -> bytes:
        w = StateWriter(b"UART", 1)
        w.u64(self.errors, self.overruns)
        w.u32(self.status, self.irq_enable, self.target_cpu)
        return w.blob(self.output).blob(self.rx).bytes()

    def restore(self, state: bytes) -> None:
        r = StateReader(state, b"UART", 1, "UART")
        errors, overruns = r.u64(2)
        status, enable, target = r.u32(3)
        output, rx = r.blob(), r.blob(RX_CAPACITY)
        r.end()
        if target >= self.router.ncpus:
            raise r.fail(f"its target CPU {target} does not exist on this machine")
        self.errors, self.overruns = errors, overruns
        self.status, self.irq_enable, self.target_cpu = status, enable, target
        self.output, self.rx = bytearray(output), bytearray(rx)
        self.update_irq()
