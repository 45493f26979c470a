"""The network interface: frames sent and received by DMA through descriptor registers.

One transmit descriptor (address, length) sends a frame when TX_CMD is written,
at once. One receive descriptor (address, buffer size) is armed by RX_CMD; the
next frame is copied into it, the descriptor disarms and RX_DONE is raised.
Frames that arrive while no descriptor is armed wait in a queue of
RX_QUEUE_FRAMES frames inside the interface.
"""

from __future__ import annotations

from collections import deque

from disco_core.devices.layout import NIC_LINE
from disco_core.devices.link import Link
from disco_core.devices.registers import InterruptingDevice, InterruptRouter
from disco_core.devices.state import StateReader, StateWriter
from disco_core.errors import ConfigError, GuestMemoryError
from disco_core.machine import Machine

MAX_FRAME = 1 << 16  # 64 KiB
RX_QUEUE_FRAMES = 64

ID = 0x00
MAC_LO = 0x04
MAC_HI = 0x08
MAX_FRAME_REG = 0x0C
LINK = 0x10
STATUS = 0x14
IRQ_ENABLE = 0x18
TARGET_CPU = 0x1C
TX_ADDR = 0x20
TX_ADDR_HI = 0x24
TX_LEN = 0x28
TX_CMD = 0x2C
TX_ERROR = 0x30
RX_ADDR = 0x34
RX_ADDR_HI = 0x38
RX_SIZE = 0x3C
RX_CMD = 0x40
RX_LEN = 0x44
RX_ERROR = 0x48
RX_QUEUED = 0x4C
TX_FRAMES = 0x50
RX_FRAMES = 0x54
RX_DROPPED = 0x58

NIC_ID = int.from_bytes(b"NIC ", "little")

TX_DONE = 1 << 0
RX_DONE = 1 << 1
TX_FAILED = 1 << 2
RX_FAILED = 1 << 3
CAUSES = TX_DONE | RX_DONE | TX_FAILED | RX_FAILED

CMD_SEND = 1
CMD_DISARM = 0
CMD_ARM = 1

ERR_NONE = 0
ERR_BAD_LENGTH = 1  # TX: length 0 or above MAX_FRAME
ERR_BAD_ADDRESS = 2  # the DMA range is not RAM
ERR_NO_LINK = 3  # TX: no cable
ERR_TOO_SMALL = 4  # RX: the frame is longer than the armed buffer (it is dropped)


def default_mac(unit: int) -> bytes:
    return bytes([0x02, 0x00, 0x00, 0x00, 0x00, unit & 0xFF])


class NetworkInterface(InterruptingDevice):
    name = "nic"

    def __init__(self, machine: Machine, router: InterruptRouter, link: Link | None = None,
                 unit: int = 0, mac: bytes | None = None, line: int = NIC_LINE) -> None:
        super().__init__(router, line, f"nic{unit}", enable=TX_DONE | RX_DONE)
        self.machine = machine
        self.unit = unit
        self.mac = default_mac(unit) if mac is None else bytes(mac)
        if len(self.mac) != 6:
            raise ConfigError(f"mac = {self.mac.hex(':')} is not a 6-byte MAC address")
        self.link: Link | None = None
        self.tx_addr = self.tx_addr_hi = self.tx_len = self.tx_error = 0
        self.rx_addr = self.rx_addr_hi = self.rx_size = self.rx_len = self.rx_error = 0
        self.rx_armed = False
        self.rx_queue: deque[bytes] = deque()
        self.tx_frames = self.rx_frames = self.rx_dropped = 0
        if link is not None:
            self.plug(link)

    # ---- host side ---------------------------------------------------------

    def plug(self, link: Link | None) -> None:
        """Connect a link (None unplugs)."""
        if self.link is not None:
            self.link.attach(None)
        self.link = link
        if link is not None:
            link.attach(self.poll)
            self.poll()

    def poll(self) -> None:
        """Take frames waiting on the link, and hand one to an armed descriptor."""
        if self.link is not None:
            while self.link.incoming:
                frame = self.link.incoming.popleft()
                if len(frame) > MAX_FRAME or len(self.rx_queue) >= RX_QUEUE_FRAMES:
                    self.rx_dropped += 1
                else:
                    self.rx_queue.append(frame)
        if self.rx_armed and self.rx_queue:
            self._receive(self.rx_queue.popleft())

    def _receive(self, frame: bytes) -> None:
        self.rx_armed = False
        self.rx_len = len(frame)
        self.rx_error = ERR_NONE
        if len(frame) > self.rx_size:
            self.rx_error = ERR_TOO_SMALL
        else:
            try:
                self.machine.write_phys(self.rx_addr_hi << 32 | self.rx_addr, frame)
            except GuestMemoryError:
                self.rx_error = ERR_BAD_ADDRESS
        if self.rx_error:
            self.rx_dropped += 1
        else:
            self.rx_frames += 1
        self.status = (self.status & ~RX_FAILED) | RX_DONE | (RX_FAILED if self.rx_error else 0)
        self.update_irq()

    def _transmit(self) -> None:
        self.tx_error = ERR_NONE
        if not 1 <= self.tx_len <= MAX_FRAME:
            self.tx_error = ERR_BAD_LENGTH
        else:
            try:
                frame = self.machine.read_phys(self.tx_addr_hi << 32 | self.tx_addr, self.tx_len)
            except GuestMemoryError:
                self.tx_error = ERR_BAD_ADDRESS
            else:
                if self.link is None:
                    self.tx_error = ERR_NO_LINK
                else:
                    self.tx_frames += 1
                    self.link.send(frame)
        self.status = (self.status & ~TX_FAILED) | TX_DONE | (TX_FAILED if self.tx_error else 0)
        self.update_irq()

    # ---- guest side --------------------------------------------------------

    def read_register(self, reg: int) -> int | None:
        return {
            ID: NIC_ID,
            MAC_LO: int.from_bytes(self.mac[:4], "little"),
            MAC_HI: int.from_bytes(self.mac[4:], "little"),
            MAX_FRAME_REG: MAX_FRAME, LINK: int(self.link is not None),
            STATUS: self.status, IRQ_ENABLE: self.irq_enable, TARGET_CPU: self.target_cpu,
            TX_ADDR: self.tx_addr, TX_ADDR_HI: self.tx_addr_hi, TX_LEN: self.tx_len,
            TX_CMD: 0, TX_ERROR: self.tx_error,
            RX_ADDR: self.rx_addr, RX_ADDR_HI: self.rx_addr_hi, RX_SIZE: self.rx_size,
            RX_CMD: int(self.rx_armed), RX_LEN: self.rx_len, RX_ERROR: self.rx_error,
            RX_QUEUED: len(self.rx_queue), TX_FRAMES: self.tx_frames,
            RX_FRAMES: self.rx_frames, RX_DROPPED: self.rx_dropped,
        }.get(reg)

    _PLAIN = {TX_ADDR: "tx_addr", TX_ADDR_HI: "tx_addr_hi", TX_LEN: "tx_len",
              RX_ADDR: "rx_addr", RX_ADDR_HI: "rx_addr_hi", RX_SIZE: "rx_size"}

    def write_register(self, reg: int, value: int) -> bool:
        if reg in self._PLAIN:
            setattr(self, self._PLAIN[reg], value)
        elif reg == TX_CMD:
            if value != CMD_SEND:
                return False
            self._transmit()
        elif reg == RX_CMD:
            if value not in (CMD_ARM, CMD_DISARM):
                return False
            self.rx_armed = value == CMD_ARM
            self.poll()
        elif reg == STATUS:
            self.acknowledge(value & CAUSES)
        elif reg == IRQ_ENABLE:
            self.irq_enable = value & CAUSES
            self.update_irq()
        elif reg == TARGET_CPU:
            return self.set_target_cpu(value)
        else:
            return False
        return True

    # ---- snapshots ---------------------------------------------------------
    # Frames still on the link (not yet taken by the interface) are the
    # host's, not the machine's; the interface takes them as they arrive.

    def snapshot(self) -> bytes:
        w = StateWriter(b"NIC ", 1)
        w.u64(self.errors, self.tx_frames, self.rx_frames, self.rx_dropped)
        w.u32(self.status, self.irq_enable, self.target_cpu, self.tx_addr, self.tx_addr_hi,
              self.tx_len, self.tx_error, self.rx_addr, self.rx_addr_hi, self.rx_size,
              self.rx_len, self.rx_error, int(self.rx_armed))
        return w.blobs(list(self.rx_queue)).bytes()

    def restore(self, state: bytes) -> None:
        r = StateReader(state, b"NIC ", 1, f"network interface {self.unit}")
        counters = r.u64(4)
        regs = r.u32(13)
        queue = r.blobs(MAX_FRAME)
        r.end()
        if regs[2] >= self.router.ncpus:
            raise r.fail(f"its target CPU {regs[2]} does not exist on this machine")
        if len(queue) > RX_QUEUE_FRAMES:
            raise r.fail(f"it queues {len(queue)} frames, more than {RX_QUEUE_FRAMES}")
        self.errors, self.tx_frames, self.rx_frames, self.rx_dropped = counters
        (self.status, self.irq_enable, self.target_cpu, self.tx_addr, self.tx_addr_hi,
         self.tx_len, self.tx_error, self.rx_addr, self.rx_addr_hi, self.rx_size,
         self.rx_len, self.rx_error, armed) = regs
        self.rx_armed = bool(armed)
        self.rx_queue = deque(queue)
        self.update_irq()
