"""The machine description: built from a MachineDescription, read back word by word."""

from __future__ import annotations

import pytest

from disco_core.devices import MachineDescription, MemoryRange, attach_native_devices
from disco_core.devices import machdesc as md
from disco_core.devices.layout import DEFAULT_CLOCK_HZ, NO_LINE
from disco_core.errors import ConfigError
from disco_core.machine import Machine, MiB


def words(block: md.MachineDescriptionBlock, offset: int, n: int) -> list[int]:
    return [block.read(offset + 4 * k, 4) for k in range(n)]


def test_block_reports_what_it_was_built_from() -> None:
    m = Machine(cpus=4, ram_bytes=32 * MiB)
    desc = MachineDescription(nodes=2, cpus_per_node=2, memory_per_node=16 * MiB,
                              clock_hz=150_000_000)
    dev = attach_native_devices(m, desc, links=[None])
    b = dev.machdesc
    assert words(b, 0, 15) == [
        int.from_bytes(b"DWMD", "little"), md.VERSION, 2, 4, 2, 4096, 150_000_000,
        2, 6, 32 * MiB, 0, md.CPU_TABLE, md.NODE_TABLE, md.RANGE_TABLE, md.DEVICE_TABLE]
    assert words(b, md.CPU_TABLE, 4) == [0, 0, 1, 1]
    assert words(b, md.NODE_TABLE, 8) == [0, 2, 0, 1, 2, 2, 1, 1]
    assert words(b, md.RANGE_TABLE, 8) == [0, 0, 16 * MiB, 0, 16 * MiB, 0, 16 * MiB, 0]
    table = [words(b, md.DEVICE_TABLE + k * md.DEVICE_ENTRY, 6) for k in range(6)]
    assert [t[0].to_bytes(4, "little") for t in table] == [
        b"MDSC", b"POWR", b"UART", b"RTC ", b"IPI ", b"NIC "]
    assert table[0][2] == 0x1F000000 and table[0][5] == NO_LINE
    assert table[2][2:6] == [0x1F002000, 0, 0x1000, 0]
    assert table[5][1:6] == [0, 0x1F020000, 0, 0x1000, 2]
    assert b.read(md.DEVICE_TABLE + 6 * md.DEVICE_ENTRY, 4) == 0
    assert dev.rtc.clock_hz == 150_000_000
    # narrow reads see the same little-endian bytes; writes are refused
    assert b.read(1, 1) == ord("W") and b.read(2, 2) == int.from_bytes(b"MD", "little")
    b.write(0, 4, 0)
    assert b.read(0, 4) == int.from_bytes(b"DWMD", "little") and b.errors == 1
    b.read(3, 2)
    b.read(0x1000, 4)
    assert b.errors == 3


def test_memory_above_the_device_window_continues_at_512_mib() -> None:
    m = Machine(cpus=2, ram_bytes=600 * MiB)
    dev = attach_native_devices(m, MachineDescription.for_machine(m, nodes=2))
    b = dev.machdesc
    assert words(b, md.NODE_TABLE, 8) == [0, 1, 0, 1, 1, 1, 1, 2]
    assert words(b, md.RANGE_TABLE, 12) == [
        0, 0, 300 * MiB, 0,
        300 * MiB, 0, 196 * MiB, 0,  # node 1 runs up to the device window ...
        0x20000000, 0, 104 * MiB, 0,  # ... and goes on above it
    ]
    assert b.read(md.H_RAM_LO, 4) == 600 * MiB


def test_explicit_node_memory_for_the_fabric() -> None:
    m = Machine(cpus=2, ram_bytes=8 * MiB)
    desc = MachineDescription(nodes=2, cpus_per_node=1, node_memory=(
        (MemoryRange(4 * MiB, 4 * MiB),), (MemoryRange(0, 4 * MiB),)))
    b = attach_native_devices(m, desc).machdesc
    assert words(b, md.RANGE_TABLE, 8) == [4 * MiB, 0, 4 * MiB, 0, 0, 0, 4 * MiB, 0]
    assert desc.ram_bytes == 8 * MiB and desc.cpu_node(1) == 1


def test_wrong_descriptions_are_refused() -> None:
    m = Machine(cpus=2, ram_bytes=8 * MiB)
    with pytest.raises(ConfigError, match="3 CPUs"):
        attach_native_devices(m, MachineDescription(nodes=3, memory_per_node=2 * MiB))
    with pytest.raises(ConfigError, match="not RAM of this machine"):
        attach_native_devices(m, MachineDescription(nodes=2, memory_per_node=8 * MiB))
    with pytest.raises(ConfigError, match="nodes = 65"):
        MachineDescription(nodes=65)
    with pytest.raises(ConfigError, match="page size"):
        MachineDescription(memory_per_node=5000)
    with pytest.raises(ConfigError, match="device window"):
        MachineDescription(node_memory=((MemoryRange(0x1E000000, 0x2000000),),))
    with pytest.raises(ConfigError, match="overlap"):
        MachineDescription(nodes=2, node_memory=((MemoryRange(0, 8192),),
                                                 (MemoryRange(4096, 8192),)))
    with pytest.raises(ConfigError, match="split evenly"):
        MachineDescription.for_machine(m, nodes=3)
    assert MachineDescription().clock_hz == DEFAULT_CLOCK_HZ


def test_description_follows_the_fabric_by_default() -> None:
    from disco_core.devices.machdesc import MachineDescription
    from disco_core.machine import Machine
    from disco_core.presets import preset

    m = Machine(preset("flash8"))
    d = MachineDescription.for_machine(m)
    assert (d.nodes, d.cpus_per_node) == (8, 1)
    for node in range(8):
        for r in d.memory(node):
            assert m.home_node(r.base) == node and m.home_node(r.base + r.size - 1) == node
