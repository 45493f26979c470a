"""The machine description: what a kernel needs to know about the machine it boots on.

MachineDescription is the host's account of the machine (nodes, their CPUs and
memory ranges, page size, clock). MachineDescriptionBlock publishes it, with the
device table, as a read-only block of little-endian words a kernel reads from
a fixed address (docs/devices.md, "Machine description block").
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from disco_core.devices.layout import DEFAULT_CLOCK_HZ, NO_LINE, PAGE
from disco_core.devices.state import StateReader, StateWriter
from disco_core.errors import ConfigError
from disco_core.machine import Machine, MiB

LOW_RAM_END = 0x1F000000  # RAM stops at the device window ...
HIGH_RAM_BASE = 0x20000000  # ... and continues above it
PHYS_LIMIT = 1 << 36  # what a MIPS32 EntryLo can name

MAX_NODES = 64
MAX_CPUS = 64
MAX_RANGES = 96
MAX_DEVICES = 32

MAGIC = int.from_bytes(b"DWMD", "little")
VERSION = 1

# header words
H_MAGIC = 0x000
H_VERSION = 0x004
H_NODES = 0x008
H_CPUS = 0x00C
H_CPUS_PER_NODE = 0x010
H_PAGE_SIZE = 0x014
H_CLOCK_HZ = 0x018
H_RANGES = 0x01C
H_DEVICES = 0x020
H_RAM_LO = 0x024
H_RAM_HI = 0x028
H_CPU_TABLE = 0x02C
H_NODE_TABLE = 0x030
H_RANGE_TABLE = 0x034
H_DEVICE_TABLE = 0x038

CPU_TABLE = 0x100  # u32 per CPU: its node
NODE_TABLE = 0x200  # 16 bytes per node: FIRST_CPU, NCPUS, FIRST_RANGE, NRANGES
RANGE_TABLE = 0x600  # 16 bytes per range: BASE_LO, BASE_HI, SIZE_LO, SIZE_HI
DEVICE_TABLE = 0xC00  # 32 bytes per device: TYPE, UNIT, BASE_LO, BASE_HI, SIZE, LINE, 0, 0
NODE_ENTRY = 16
RANGE_ENTRY = 16
DEVICE_ENTRY = 32


@dataclass(frozen=True)
class MemoryRange:
    base: int
    size: int

    @property
    def end(self) -> int:
        return self.base + self.size


def physical_ranges(offset: int, size: int) -> list[MemoryRange]:
    """Where the RAM bytes [offset, offset+size) sit in physical space.

    The first 496 MiB of RAM are at physical 0; the rest continues at
    0x20000000, above the device window.
    """
    out = []
    if offset < LOW_RAM_END:
        low = min(size, LOW_RAM_END - offset)
        out.append(MemoryRange(offset, low))
        offset, size = LOW_RAM_END, size - low
    if size > 0:
        out.append(MemoryRange(HIGH_RAM_BASE + offset - LOW_RAM_END, size))
    return out


@dataclass(frozen=True)
class MachineDescription:
    """Nodes of `cpus_per_node` CPUs each (CPU i is on node i // cpus_per_node).

    By default node k owns RAM bytes [k * memory_per_node, (k+1) * memory_per_node)
    laid out by physical_ranges(); `node_memory` gives each node's ranges
    explicitly instead (the fabric's placement).
    """

    nodes: int = 1
    cpus_per_node: int = 1
    memory_per_node: int = 64 * MiB
    clock_hz: int = DEFAULT_CLOCK_HZ
    page_size: int = 4096
    node_memory: tuple[tuple[MemoryRange, ...], ...] | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.nodes <= MAX_NODES:
            raise ConfigError(f"nodes = {self.nodes} is out of range: use 1 to {MAX_NODES}")
        if self.cpus_per_node < 1 or self.cpus > MAX_CPUS:
            raise ConfigError(f"{self.nodes} nodes x {self.cpus_per_node} CPUs is not allowed: "
                              f"each node needs a CPU and the machine has at most {MAX_CPUS}")
        if self.page_size < 4096 or self.page_size & (self.page_size - 1):
            raise ConfigError(f"page_size = {self.page_size} must be a power of two >= 4096")
        if not 1 <= self.clock_hz <= 0xFFFFFFFF:
            raise ConfigError(f"clock_hz = {self.clock_hz} is out of range: use 1 Hz to 4.29 GHz")
        if self.node_memory is None:
            if self.memory_per_node <= 0 or self.memory_per_node % self.page_size:
                raise ConfigError(f"memory_per_node = {self.memory_per_node} must be a positive "
                                  f"multiple of the page size ({self.page_size})")
        elif len(self.node_memory) != self.nodes:
            raise ConfigError(f"node_memory lists {len(self.node_memory)} nodes, "
                              f"the description has {self.nodes}")
        ranges = [r for node in range(self.nodes) for r in self.memory(node)]
        if len(ranges) > MAX_RANGES:
            raise ConfigError(f"{len(ranges)} memory ranges do not fit in the description "
                              f"block: at most {MAX_RANGES}")
        for r in ranges:
            if r.size <= 0 or r.base % self.page_size or r.size % self.page_size:
                raise ConfigError(f"memory range base={r.base:#x} size={r.size:#x} must be "
                                  f"non-empty and page-aligned ({self.page_size})")
            if r.end > PHYS_LIMIT:
                raise ConfigError(f"memory range {r.base:#x}..{r.end:#x} ends beyond the "
                                  f"36-bit physical address space")
            if r.base < HIGH_RAM_BASE and r.end > LOW_RAM_END:
                raise ConfigError(f"memory range {r.base:#x}..{r.end:#x} overlaps the device "
                                  f"window {LOW_RAM_END:#x}..{HIGH_RAM_BASE:#x}")
        ordered = sorted(ranges, key=lambda r: r.base)
        for a, b in zip(ordered, ordered[1:], strict=False):
            if a.end > b.base:
                raise ConfigError(f"memory ranges {a.base:#x}..{a.end:#x} and "
                                  f"{b.base:#x}..{b.end:#x} overlap")

    @classmethod
    def for_machine(cls, machine: Machine, nodes: int | None = None,
                    clock_hz: int | None = None) -> MachineDescription:
        """Split a machine's CPUs and RAM evenly over `nodes` nodes (default: the
        machine's own fabric nodes and clock, so the description matches its homes)."""
        cpus, ram = machine.config.cpus, machine.config.ram_bytes
        nodes = machine.config.nodes if nodes is None else nodes
        clock_hz = machine.config.clock_hz if clock_hz is None else clock_hz
        if cpus % nodes or ram % (nodes * 4096):
            raise ConfigError(f"{cpus} CPUs and {ram} bytes of RAM do not split evenly over "
                              f"{nodes} nodes (in whole 4 KiB pages)")
        return cls(nodes=nodes, cpus_per_node=cpus // nodes, memory_per_node=ram // nodes,
                   clock_hz=clock_hz)

    @property
    def cpus(self) -> int:
        return self.nodes * self.cpus_per_node

    def cpu_node(self, cpu: int) -> int:
        return cpu // self.cpus_per_node

    def memory(self, node: int) -> tuple[MemoryRange, ...]:
        if self.node_memory is not None:
            return tuple(self.node_memory[node])
        return tuple(physical_ranges(node * self.memory_per_node, self.memory_per_node))

    @property
    def ram_bytes(self) -> int:
        return sum(r.size for n in range(self.nodes) for r in self.memory(n))

    def check_machine(self, machine: Machine) -> None:
        """Refuse a description that does not fit the machine it describes."""
        if self.cpus != machine.config.cpus:
            raise ConfigError(f"the description has {self.cpus} CPUs ({self.nodes} nodes x "
                              f"{self.cpus_per_node}), the machine has {machine.config.cpus}")
        ram = machine.config.ram_bytes
        real = physical_ranges(0, ram)
        for node in range(self.nodes):
            for r in self.memory(node):
                if not any(p.base <= r.base and r.end <= p.end for p in real):
                    raise ConfigError(
                        f"node {node}'s memory {r.base:#x}..{r.end:#x} is not RAM of this "
                        f"machine ({ram // MiB} MiB)")


@dataclass(frozen=True)
class DeviceEntry:
    kind: str  # four characters, e.g. "DISK"
    unit: int
    base: int
    size: int
    line: int = NO_LINE


class MachineDescriptionBlock:
    """Read-only: every read returns bytes of the block, every write is an error."""

    name = "machdesc"

    def __init__(self, description: MachineDescription, devices: list[DeviceEntry]) -> None:
        if len(devices) > MAX_DEVICES:
            raise ConfigError(f"{len(devices)} devices do not fit in the description block: "
                              f"at most {MAX_DEVICES}")
        self.description = description
        self.devices = list(devices)
        self.errors = 0
        self.rom = self._build()

    def _build(self) -> bytes:
        d = self.description
        rom = bytearray(PAGE)
        ranges: list[MemoryRange] = []
        for node in range(d.nodes):
            mem = d.memory(node)
            struct.pack_into("<4I", rom, NODE_TABLE + node * NODE_ENTRY,
                             node * d.cpus_per_node, d.cpus_per_node, len(ranges), len(mem))
            ranges += mem
        for cpu in range(d.cpus):
            struct.pack_into("<I", rom, CPU_TABLE + 4 * cpu, d.cpu_node(cpu))
        for i, r in enumerate(ranges):
            struct.pack_into("<4I", rom, RANGE_TABLE + i * RANGE_ENTRY, r.base & 0xFFFFFFFF,
                             r.base >> 32, r.size & 0xFFFFFFFF, r.size >> 32)
        for i, dev in enumerate(self.devices):
            kind = dev.kind.encode("ascii").ljust(4)[:4]
            struct.pack_into("<4s7I", rom, DEVICE_TABLE + i * DEVICE_ENTRY, kind, dev.unit,
                             dev.base & 0xFFFFFFFF, dev.base >> 32, dev.size, dev.line, 0, 0)
        ram = d.ram_bytes
        struct.pack_into("<15I", rom, 0, MAGIC, VERSION, d.nodes, d.cpus, d.cpus_per_node,
                         d.page_size, d.clock_hz, len(ranges), len(self.devices),
                         ram & 0xFFFFFFFF, ram >> 32, CPU_TABLE, NODE_TABLE, RANGE_TABLE,
                         DEVICE_TABLE)
        return bytes(rom)

    def word(self, offset: int) -> int:
        return int.from_bytes(self.rom[offset : offset + 4], "little")

    def read(self, offset: int, size: int) -> int:
        if size not in (1, 2, 4) or offset % size or not 0 <= offset <= PAGE - size:
            self.errors += 1
            return 0
        return int.from_bytes(self.rom[offset : offset + size], "little")

    def write(self, offset: int, size: int, value: int) -> None:
        self.errors += 1

    def snapshot(self) -> bytes:
        digest = hashlib.sha256(self.rom).digest()
        return StateWriter(b"MDSC", 1).u64(self.errors).blob(digest).bytes()

    def restore(self, state: bytes) -> None:
        r = StateReader(state, b"MDSC", 1, "machine description block")
        (errors,) = r.u64()
        digest = r.blob(64)
        r.end()
        if digest != hashlib.sha256(self.rom).digest():
            raise r.fail("it belongs to a machine with another description")
        self.errors = errors
