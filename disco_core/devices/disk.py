"""Disk images and the disk controller that moves their sectors by DMA.

A DiskImage is the backing store: either *persistent* (the guest writes the
file itself, each write durable before it completes, the file locked against
other writers) or *copy-on-write* (the file is a read-only base; written
sectors stay in memory and travel in snapshots). The DiskController is the
guest's view: sector, count and DMA address registers, a command register that
completes the transfer at once, and a completion interrupt.
"""

from __future__ import annotations

import fcntl
import os
import stat
import struct
from pathlib import Path

from disco_core.devices.layout import DISK_LINE
from disco_core.devices.registers import InterruptingDevice, InterruptRouter
from disco_core.devices.state import StateReader, StateWriter
from disco_core.errors import DiscoError, GuestMemoryError
from disco_core.machine import Machine

SECTOR_SIZE = 512
MAX_SECTORS = 0xFFFFFFFF  # CAPACITY is one 32-bit register (2 TiB)
MAX_COUNT = 2048  # sectors per command (1 MiB)


class DiskImageError(DiscoError):
    """A disk image that is missing, damaged or cannot be opened as asked."""


class DiskImageLockedError(DiskImageError):
    """Another machine holds the image (two writers would corrupt it)."""


class DiskImage:
    """The sectors behind a disk controller. Open with DiskImage.open()."""

    def __init__(self, path: Path, fd: int, sectors: int, persistent: bool) -> None:
        self.path = path
        self._fd: int | None = fd
        self.sectors = sectors
        self.persistent = persistent
        # copy-on-write mode: sector number -> its 512 bytes, written by the guest
        self.dirty: dict[int, bytes] = {}

    @classmethod
    def create(cls, path: str | os.PathLike[str], sectors: int,
               contents: bytes = b"") -> Path:
        """Write a new raw image of `sectors` sectors (zeros after `contents`)."""
        if not 1 <= sectors <= MAX_SECTORS:
            raise DiskImageError(f"sectors = {sectors} is out of range: use 1 to {MAX_SECTORS}")
        if len(contents) > sectors * SECTOR_SIZE:
            raise DiskImageError(f"{len(contents)} bytes of contents do not fit in "
                                 f"{sectors} sectors of {SECTOR_SIZE} bytes")
        path = Path(path)
        try:
            f = open(path, "xb")
        except FileExistsError:
            raise DiskImageError(f"disk image {path} already exists: open it instead, or "
                                 "remove it first") from None
        with f:
            f.write(contents)
            f.truncate(sectors * SECTOR_SIZE)
            f.flush()
            os.fsync(f.fileno())
        return path

    @classmethod
    def open(cls, path: str | os.PathLike[str], persistent: bool = True) -> DiskImage:
        """Open a raw image; persistent=False gives a copy-on-write disk over it."""
        path = Path(path)
        flags = (os.O_RDWR if persistent else os.O_RDONLY) | os.O_CLOEXEC
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            raise DiskImageError(f"disk image {path} does not exist: create it first "
                                 "(DiskImage.create(path, sectors))") from None
        except PermissionError:
            hint = " (open it copy-on-write to use it read-only)" if persistent else ""
            raise DiskImageError(f"disk image {path} cannot be opened: permission "
                                 f"denied{hint}") from None
        except IsADirectoryError:
            raise DiskImageError(f"disk image {path} is a directory, not a raw image") from None
        except OSError as e:
            raise DiskImageError(f"disk image {path} cannot be opened: {e.strerror}") from None
        try:
            sectors = cls._check(path, fd, persistent)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, sectors, persistent)

    @staticmethod
    def _check(path: Path, fd: int, persistent: bool) -> int:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DiskImageError(f"disk image {path} is not a regular file")
        # A persistent image has one writer; copy-on-write users only read the
        # base, so they share it with each other but never with a writer.
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if persistent else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            if persistent:
                raise DiskImageLockedError(
                    f"disk image {path} is in use by another machine (it holds a lock on the "
                    "file): stop that machine first, or open this image copy-on-write "
                    "(persistent=False) if the other user is also copy-on-write") from None
            raise DiskImageLockedError(
                f"disk image {path} is open for writing by another machine (a persistent "
                "disk holds its lock): stop that machine first") from None
        size = st.st_size
        if size == 0 or size % SECTOR_SIZE:
            raise DiskImageError(
                f"disk image {path} is {size} bytes, not a whole positive number of "
                f"{SECTOR_SIZE}-byte sectors: it is damaged or not a raw disk image")
        if size // SECTOR_SIZE > MAX_SECTORS:
            raise DiskImageError(f"disk image {path} has {size // SECTOR_SIZE} sectors: "
                                 f"the controller addresses at most {MAX_SECTORS}")
        return size // SECTOR_SIZE

    @property
    def closed(self) -> bool:
        return self._fd is None

    def _handle(self) -> int:
        if self._fd is None:
            raise DiskImageError(f"disk image {self.path} is closed")
        return self._fd

    def close(self) -> None:
        """Release the file and its lock (no data is pending: writes are durable)."""
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __del__(self) -> None:
        # an image dropped without close() still gives its lock back
        if getattr(self, "_fd", None) is not None:
            self.close()

    def __enter__(self) -> DiskImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, sector: int, count: int) -> bytes:
        fd = self._handle()
        want = count * SECTOR_SIZE
        data = bytearray()
        while len(data) < want:
            chunk = os.pread(fd, want - len(data), sector * SECTOR_SIZE + len(data))
            if not chunk:
                raise OSError(f"disk image {self.path} ended early (was it truncated?)")
            data += chunk
        if self.dirty:
            for n in range(sector, sector + count):
                written = self.dirty.get(n)
                if written is not None:
                    at = (n - sector) * SECTOR_SIZE
                    data[at : at + SECTOR_SIZE] = written
        return bytes(data)

    def write(self, sector: int, data: bytes) -> None:
        """Write whole sectors; in persistent mode they are durable when this returns.

        One pwrite of sector-aligned data: the host kernel copies it into the
        page cache a page at a time and a sector never straddles a page, so a
        process stopped mid-write leaves each sector wholly old or wholly new.
        fsync then makes the new contents survive a host crash too.
        """
        fd = self._handle()
        if not self.persistent:
            for i in range(0, len(data), SECTOR_SIZE):
                self.dirty[sector + i // SECTOR_SIZE] = bytes(data[i : i + SECTOR_SIZE])
            return
        view = memoryview(data)
        done = 0
        while done < len(data):
            done += os.pwrite(fd, view[done:], sector * SECTOR_SIZE + done)
        os.fsync(fd)

    def flush(self) -> None:
        if self.persistent:
            os.fsync(self._handle())

    # copy-on-write sectors are guest state; a persistent file is not saved
    # in snapshots (restoring one does not undo writes already made durable)
    def dirty_state(self) -> tuple[bytes, bytes]:
        numbers = sorted(self.dirty)
        return (struct.pack(f"<{len(numbers)}Q", *numbers),
                b"".join(self.dirty[n] for n in numbers))

    def set_dirty_state(self, numbers: bytes, data: bytes) -> None:
        self.dirty = {}
        count = len(numbers) // 8
        for i, n in enumerate(struct.unpack(f"<{count}Q", numbers)):
            self.dirty[n] = data[i * SECTOR_SIZE : (i + 1) * SECTOR_SIZE]


# registers
ID = 0x00
CAPACITY = 0x04
SECTOR_SIZE_REG = 0x08
FLAGS = 0x0C
MAX_COUNT_REG = 0x10
SECTOR = 0x14
COUNT = 0x18
DMA_ADDR = 0x1C
DMA_ADDR_HI = 0x20
COMMAND = 0x24
STATUS = 0x28
ERROR = 0x2C
IRQ_ENABLE = 0x30
TARGET_CPU = 0x34

DISK_ID = int.from_bytes(b"DISK", "little")
FLAG_PERSISTENT = 1 << 0
FLAG_COPY_ON_WRITE = 1 << 1

CMD_READ = 1  # disk -> memory
CMD_WRITE = 2  # memory -> disk
CMD_FLUSH = 3

DONE = 1 << 0
FAILED = 1 << 1
CAUSES = DONE | FAILED

ERR_NONE = 0
ERR_BAD_COMMAND = 1
ERR_BAD_RANGE = 2
ERR_BAD_ADDRESS = 3
ERR_IO = 4


class DiskController(InterruptingDevice):
    """A DMA disk controller. Transfers complete when COMMAND is written."""

    name = "disk"

    def __init__(self, machine: Machine, router: InterruptRouter, image: DiskImage,
                 unit: int = 0, line: int = DISK_LINE) -> None:
        super().__init__(router, line, f"disk{unit}", enable=DONE)
        self.machine = machine
        self.image = image
        self.unit = unit
        self.sector = self.count = self.dma_addr = self.dma_addr_hi = 0
        self.command = 0
        self.error = ERR_NONE
        self.sectors_read = self.sectors_written = 0

    @property
    def flags(self) -> int:
        return FLAG_PERSISTENT if self.image.persistent else FLAG_COPY_ON_WRITE

    def read_register(self, reg: int) -> int | None:
        return {
            ID: DISK_ID, CAPACITY: self.image.sectors, SECTOR_SIZE_REG: SECTOR_SIZE,
            FLAGS: self.flags, MAX_COUNT_REG: MAX_COUNT, SECTOR: self.sector,
            COUNT: self.count, DMA_ADDR: self.dma_addr, DMA_ADDR_HI: self.dma_addr_hi,
            COMMAND: self.command, STATUS: self.status, ERROR: self.error,
            IRQ_ENABLE: self.irq_enable, TARGET_CPU: self.target_cpu,
        }.get(reg)

    def write_register(self, reg: int, value: int) -> bool:
        if reg == SECTOR:
            self.sector = value
        elif reg == COUNT:
            self.count = value
        elif reg == DMA_ADDR:
            self.dma_addr = value
        elif reg == DMA_ADDR_HI:
            self.dma_addr_hi = value
        elif reg == COMMAND:
            self.command = value
            self.error = self._execute(value)
            # FAILED describes the latest command only; DONE is the interrupt cause.
            self.status = (self.status & ~FAILED) | DONE | (FAILED if self.error else 0)
            self.update_irq()
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

    def _execute(self, command: int) -> int:
        """Carry out one command; the result is the ERROR code (never an exception)."""
        if command not in (CMD_READ, CMD_WRITE, CMD_FLUSH):
            return ERR_BAD_COMMAND
        if self.image.closed:
            return ERR_IO
        try:
            if command == CMD_FLUSH:
                self.image.flush()
                return ERR_NONE
            if not 1 <= self.count <= MAX_COUNT or self.sector + self.count > self.image.sectors:
                return ERR_BAD_RANGE
            pa = self.dma_addr_hi << 32 | self.dma_addr
            if command == CMD_READ:
                data = self.image.read(self.sector, self.count)
                self.machine.write_phys(pa, data)  # checks the whole range before copying
                self.sectors_read += self.count
            else:
                data = self.machine.read_phys(pa, self.count * SECTOR_SIZE)
                self.image.write(self.sector, data)
                self.sectors_written += self.count
        except GuestMemoryError:
            return ERR_BAD_ADDRESS
        except (OSError, DiscoError):
            return ERR_IO
        return ERR_NONE

    def close(self) -> None:
        self.image.close()

    def snapshot(self) -> bytes:
        w = StateWriter(b"DISK", 1)
        w.u64(self.errors, self.sectors_read, self.sectors_written, self.image.sectors)
        w.u32(self.sector, self.count, self.dma_addr, self.dma_addr_hi, self.command,
              self.status, self.error, self.irq_enable, self.target_cpu,
              int(self.image.persistent))
        numbers, data = self.image.dirty_state()
        return w.blob(numbers).blob(data).bytes()

    def restore(self, state: bytes) -> None:
        r = StateReader(state, b"DISK", 1, f"disk controller {self.unit}")
        errors, nread, nwritten, sectors = r.u64(4)
        regs = r.u32(10)
        numbers, data = r.blob(), r.blob()
        r.end()
        if sectors != self.image.sectors:
            raise r.fail(f"it is for a disk of {sectors} sectors, this one has "
                         f"{self.image.sectors}")
        if regs[9] != int(self.image.persistent):
            raise r.fail("it is for a disk of the other mode (persistent / copy-on-write)")
        if regs[8] >= self.router.ncpus:
            raise r.fail(f"its target CPU {regs[8]} does not exist on this machine")
        count = len(numbers) // 8
        if len(numbers) % 8 or len(data) != count * SECTOR_SIZE or any(
                n >= sectors for n in struct.unpack(f"<{count}Q", numbers)):
            raise r.fail("its copy-on-write sectors are damaged")
        self.errors, self.sectors_read, self.sectors_written = errors, nread, nwritten
        (self.sector, self.count, self.dma_addr, self.dma_addr_hi, self.command,
         self.status, self.error, self.irq_enable, self.target_cpu, _) = regs
        self.image.set_dirty_state(numbers, data)
        self.update_irq()
