"""Every device's state round-trips through snapshots, and garbage never hurts the host."""

from __future__ import annotations

import random

import pytest

from disco_core.devices import DiskImage, HostLink, LoopbackLink
from disco_core.devices import disk as d
from disco_core.devices import nic as n
from disco_core.devices.layout import PAGE
from disco_core.errors import SnapshotError
from tests.devices.helpers import native


def busy_machine(tmp_path, cpus: int = 2):
    """A machine whose devices all hold some state."""
    path = DiskImage.create(tmp_path / "disk.img", 16, b"base" * 128)
    m, dev = native(cpus=cpus, disks=[DiskImage.open(path, persistent=False)],
                    links=[LoopbackLink(), HostLink()])
    dev.uart.feed(b"typed")
    dev.uart.write(0, 1, ord("o"))
    dev.uart.write(0x10, 4, 1)
    dev.rtc.read(0, 4)
    dev.ipi.write(0x100, 4, 0b10)
    m.write_phys(0x1000, b"\x42" * 512)
    ctl = dev.disks[0]
    for reg, value in ((d.SECTOR, 2), (d.COUNT, 1), (d.DMA_ADDR, 0x1000), (d.COMMAND, 2)):
        ctl.write(reg, 4, value)
    dev.nics[1].link.deliver(b"queued frame")
    for reg, value in ((n.TX_ADDR, 0x1000), (n.TX_LEN, 64), (n.TX_CMD, 1)):
        dev.nics[0].write(reg, 4, value)
    dev.machdesc.write(0, 4, 1)
    return m, dev, path


def devices_of(dev):
    return [dev.machdesc, dev.power, dev.uart, dev.rtc, dev.ipi, *dev.disks, *dev.nics]


def test_each_device_state_round_trips_bit_exactly(tmp_path) -> None:
    m, dev, _ = busy_machine(tmp_path)
    for device in devices_of(dev):
        before = device.snapshot()
        # change it: a garbage write bumps `errors`, and some real state moves
        device.write(0xFFC, 4, 1)
        if device is dev.uart:
            dev.uart.feed(b"more")
        device.restore(before)
        assert device.snapshot() == before, device.name


def test_machine_snapshot_restores_device_state_and_lines(tmp_path) -> None:
    m, dev, _ = busy_machine(tmp_path)
    blob = m.snapshot()
    states = [x.snapshot() for x in devices_of(dev)]
    cause = [c.cp0(13) for c in m.cpus]
    dev.uart.read(0, 4)
    dev.uart.write(8, 4, 3)
    dev.ipi.write(0x118, 4, 1)
    dev.disks[0].write(d.STATUS, 4, 3)
    dev.nics[1].write(n.RX_SIZE, 4, 64)
    dev.nics[1].write(n.RX_CMD, 4, 1)
    dev.nics[0].write(n.STATUS, 4, 15)
    assert [c.cp0(13) for c in m.cpus] != cause
    m.restore(blob)
    assert [x.snapshot() for x in devices_of(dev)] == states
    assert [c.cp0(13) for c in m.cpus] == cause
    assert dev.uart.rx == b"typed" and dev.nics[1].rx_queue[0] == b"queued frame"


def test_damaged_or_foreign_device_state_is_refused(tmp_path) -> None:
    m, dev, _ = busy_machine(tmp_path)
    for device in devices_of(dev):
        good = device.snapshot()
        with pytest.raises(SnapshotError):
            device.restore(good[:-1])
        with pytest.raises(SnapshotError):
            device.restore(good + b"\0")
        with pytest.raises(SnapshotError):
            device.restore(b"XXXX" + good[4:])
        assert device.snapshot() == good
    m1, one = native(cpus=1)
    with pytest.raises(SnapshotError, match="2 CPUs"):
        one.ipi.restore(dev.ipi.snapshot())
    with pytest.raises(SnapshotError, match="another description"):
        one.machdesc.restore(dev.machdesc.snapshot())


def test_garbage_register_traffic_is_counted_and_harmless(tmp_path) -> None:
    m, dev, path = busy_machine(tmp_path)
    base = path.read_bytes()
    rng = random.Random(1997)
    for device in devices_of(dev):
        errors = device.errors
        device.write(0xFF0, 4, 0xDEADBEEF)  # no register there
        device.write(0x1000, 4, 1)  # outside the page
        device.write(2, 4, 1)  # misaligned
        device.write(0, 3, 1)  # impossible size
        assert device.read(0xFF0, 4) == 0 and device.read(0, 8) == 0
        # every byte of the description block is readable (unused ones read 0)
        assert device.errors == errors + (5 if device is dev.machdesc else 6), device.name
        # then random traffic everywhere: it may do things, but never raise
        for _ in range(3000):
            size = rng.choice((1, 2, 4, 3, 8))
            offset = rng.randrange(PAGE + 8)
            if rng.random() < 0.5:
                device.write(offset, size, rng.getrandbits(32))
            else:
                assert 0 <= device.read(offset, size) <= 0xFFFFFFFF
    assert path.read_bytes() == base  # copy-on-write: the base image is never written
    assert m.cpus[0].pc is not None  # the machine is still usable
