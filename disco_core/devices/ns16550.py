"""A National Semiconductor 16550A UART, as Linux's 8250 driver programs it.

The register file is the classic one (docs/devices.md, "ns16550a"): eight
byte registers, spaced 4 bytes apart here (the device tree says reg-shift = 2,
reg-io-width = 4). Divisor latch, line control, modem control and scratch
registers hold what is written; the baud rate changes nothing, because
transmission is immediate: a byte written to THR reaches `output` (and the echo
stream) at once and the transmitter is empty again before the store retires.

Receive: the host `feed()`s bytes into a line queue of RX_QUEUE bytes (the
wire, with flow control); they move into the 16-byte receive FIFO as the guest
drains it, so nothing typed is lost. The receive interrupt is pending while the
FIFO holds data (at or above the trigger level it is "data available",
below it the character-timeout kind, which a real chip raises four character
times later and this one at once).

Interrupts are level-triggered on one CPU line, high while IIR says one is
pending, in the 16550's priority order: line status, received data, THR empty,
modem status. THRE is set when the transmitter empties or ETBEI is enabled
while it is empty, and cleared by reading IIR while THRE is the reported cause
or by writing THR (which empties again at once).
"""

from __future__ import annotations

from disco_core.devices.registers import InterruptRouter, RegisterDevice
from disco_core.devices.state import StateReader, StateWriter
from disco_core.devices.uart import ByteSink

REG_SHIFT = 2  # register n is at offset n << REG_SHIFT

# Register numbers (offset = number << REG_SHIFT)
RBR_THR_DLL = 0
IER_DLM = 1
IIR_FCR = 2
LCR = 3
MCR = 4
LSR = 5
MSR = 6
SCR = 7

IER_RDI = 0x01   # received data available
IER_THRI = 0x02  # transmitter holding register empty
IER_RLSI = 0x04  # receiver line status
IER_MSI = 0x08   # modem status
IER_MASK = 0x0F

IIR_NO_INT = 0x01
IIR_MSI = 0x00
IIR_THRI = 0x02
IIR_RDI = 0x04
IIR_RLSI = 0x06
IIR_TIMEOUT = 0x0C
IIR_FIFOS = 0xC0  # both bits set while the FIFOs are enabled

FCR_ENABLE = 0x01
FCR_CLEAR_RX = 0x02
FCR_CLEAR_TX = 0x04
TRIGGER_LEVELS = (1, 4, 8, 14)  # by FCR bits 7:6

LCR_DLAB = 0x80

MCR_DTR = 0x01
MCR_RTS = 0x02
MCR_OUT1 = 0x04
MCR_OUT2 = 0x08
MCR_LOOP = 0x10
MCR_MASK = 0x1F

LSR_DR = 0x01
LSR_OE = 0x02
LSR_THRE = 0x20
LSR_TEMT = 0x40

MSR_CTS = 0x10
MSR_DSR = 0x20
MSR_RI = 0x40
MSR_DCD = 0x80

FIFO_SIZE = 16
RX_QUEUE = 1 << 16


class Ns16550(RegisterDevice):
    """An ns16550a on interrupt line `line` of CPU `cpu`."""

    name = "ns16550"

    def __init__(self, router: InterruptRouter, line: int, echo: ByteSink | None = None,
                 cpu: int = 0, source: str = "ns16550") -> None:
        super().__init__()
        self.router = router
        self.line = line
        self.cpu = cpu
        self.source = source
        self.echo = echo
        self.output = bytearray()
        self.queue = bytearray()     # the line: fed by the host, not yet in the FIFO
        self.fifo = bytearray()      # the receive FIFO (1 byte deep while FIFOs are off)
        self.dropped = 0             # host bytes that did not fit in the line queue
        self.ier = 0
        self.lcr = 0
        self.mcr = 0
        self.fcr = 0
        self.scr = 0
        self.dll = 0
        self.dlm = 0
        self.lsr_errors = 0          # OE, latched until LSR is read
        self.thre = False            # THR-empty interrupt pending
        self.msr_delta = 0           # MSR bits 3:0 (changes since the last MSR read)

    # ---- host side ---------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes typed at the console; what does not fit in the line queue is dropped."""
        room = RX_QUEUE - len(self.queue)
        self.dropped += max(0, len(data) - room)
        self.queue += data[:room]
        self._refill()
        self.update_irq()

    def take_output(self) -> bytes:
        out = bytes(self.output)
        self.output.clear()
        return out

    # ---- state -------------------------------------------------------------

    @property
    def fifo_enabled(self) -> bool:
        return bool(self.fcr & FCR_ENABLE)

    @property
    def depth(self) -> int:
        return FIFO_SIZE if self.fifo_enabled else 1

    def _refill(self) -> None:
        take = self.depth - len(self.fifo)
        if take > 0 and self.queue:
            self.fifo += self.queue[:take]
            del self.queue[:take]

    def pending(self) -> int:
        """The IIR interrupt identification (bits 3:0) of the highest pending cause."""
        if self.ier & IER_RLSI and self.lsr_errors:
            return IIR_RLSI
        if self.ier & IER_RDI and self.fifo:
            level = TRIGGER_LEVELS[self.fcr >> 6] if self.fifo_enabled else 1
            return IIR_RDI if len(self.fifo) >= level else IIR_TIMEOUT
        if self.ier & IER_THRI and self.thre:
            return IIR_THRI
        if self.ier & IER_MSI and self.msr_delta:
            return IIR_MSI
        return IIR_NO_INT

    @property
    def irq_level(self) -> bool:
        return self.pending() != IIR_NO_INT

    def update_irq(self) -> None:
        self.router.drive(self.source, self.cpu, self.line, self.irq_level)

    def _msr(self) -> int:
        if self.mcr & MCR_LOOP:
            m = self.mcr
            return ((MSR_CTS if m & MCR_RTS else 0) | (MSR_DSR if m & MCR_DTR else 0)
                    | (MSR_RI if m & MCR_OUT1 else 0) | (MSR_DCD if m & MCR_OUT2 else 0))
        return MSR_CTS | MSR_DSR | MSR_DCD  # a terminal is always attached

    def _transmit(self, byte: int) -> None:
        if self.mcr & MCR_LOOP:
            # Loopback: the byte comes back to the receiver (a full FIFO overruns).
            if len(self.fifo) < self.depth:
                self.fifo.append(byte)
            else:
                self.lsr_errors |= LSR_OE
            return
        self.output.append(byte)
        if self.echo is not None:
            self.echo.write(bytes([byte]))
            self.echo.flush()

    # ---- guest side --------------------------------------------------------

    def read(self, offset: int, size: int) -> int:
        value = super().read(offset, size)
        self.update_irq()
        return value

    def write(self, offset: int, size: int, value: int) -> None:
        super().write(offset, size, value)
        self.update_irq()

    def read_register(self, reg: int) -> int | None:
        if reg & ((1 << REG_SHIFT) - 1) or reg >> REG_SHIFT > SCR:
            return None
        n = reg >> REG_SHIFT
        dlab = self.lcr & LCR_DLAB
        if n == RBR_THR_DLL:
            if dlab:
                return self.dll
            if not self.fifo:
                return 0
            byte = self.fifo[0]
            del self.fifo[0]
            self._refill()
            return byte
        if n == IER_DLM:
            return self.dlm if dlab else self.ier
        if n == IIR_FCR:
            ident = self.pending()
            if ident == IIR_THRI:
                self.thre = False  # reading IIR acknowledges THRE
            return ident | (IIR_FIFOS if self.fifo_enabled else 0)
        if n == LCR:
            return self.lcr
        if n == MCR:
            return self.mcr
        if n == LSR:
            lsr = LSR_THRE | LSR_TEMT | self.lsr_errors | (LSR_DR if self.fifo else 0)
            self.lsr_errors = 0
            return lsr
        if n == MSR:
            msr = self._msr() | self.msr_delta
            self.msr_delta = 0
            return msr
        return self.scr

    def write_register(self, reg: int, value: int) -> bool:
        if reg & ((1 << REG_SHIFT) - 1) or reg >> REG_SHIFT > SCR:
            return False
        n = reg >> REG_SHIFT
        value &= 0xFF
        dlab = self.lcr & LCR_DLAB
        if n == RBR_THR_DLL:
            if dlab:
                self.dll = value
            else:
                self._transmit(value)
                self.thre = True  # the transmitter is empty again at once
        elif n == IER_DLM:
            if dlab:
                self.dlm = value
            else:
                was = self.ier
                self.ier = value & IER_MASK
                if self.ier & IER_THRI and not was & IER_THRI:
                    self.thre = True  # enabling ETBEI with THR empty interrupts
        elif n == IIR_FCR:
            if value & FCR_CLEAR_RX:
                self.fifo.clear()
            if (value ^ self.fcr) & FCR_ENABLE:
                self.fifo.clear()  # changing the FIFO mode empties both FIFOs
            self.fcr = value & 0xC1
            self._refill()
        elif n == LCR:
            self.lcr = value
        elif n == MCR:
            old = self._msr()
            self.mcr = value & MCR_MASK
            new = self._msr()
            # delta bits: DCTS, DDSR, TERI (RI falling), DDCD
            changed = old ^ new
            self.msr_delta |= (((changed >> 4) & 0x3) | ((changed >> 4) & 0x8)
                               | (0x4 if old & MSR_RI and not new & MSR_RI else 0))
            self._refill()
        elif n == LSR or n == MSR:
            return False  # read-only
        else:
            self.scr = value
        return True

    # ---- snapshots ---------------------------------------------------------

    def snapshot(self) -> bytes:
        w = StateWriter(b"N550", 1)
        w.u64(self.errors, self.dropped)
        w.u32(self.ier, self.lcr, self.mcr, self.fcr, self.scr, self.dll, self.dlm,
              self.lsr_errors, int(self.thre), self.msr_delta)
        return w.blob(self.output).blob(self.queue).blob(self.fifo).bytes()

    def restore(self, state: bytes) -> None:
        r = StateReader(state, b"N550", 1, "ns16550")
        errors, dropped = r.u64(2)
        ier, lcr, mcr, fcr, scr, dll, dlm, lsr_errors, thre, delta = r.u32(10)
        output, queue, fifo = r.blob(), r.blob(RX_QUEUE), r.blob(FIFO_SIZE)
        r.end()
        self.errors, self.dropped = errors, dropped
        self.ier, self.lcr, self.mcr, self.fcr, self.scr = ier, lcr, mcr, fcr, scr
        self.dll, self.dlm, self.lsr_errors, self.thre = dll, dlm, lsr_errors, bool(thre)
        self.msr_delta = delta
        self.output, self.queue, self.fifo = bytearray(output), bytearray(queue), bytearray(fifo)
        self.update_irq()
