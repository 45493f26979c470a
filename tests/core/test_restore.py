"""Machine.restore checks every section before the machine changes.

A snapshot whose core blob or any one device's section is bad is refused with
SnapshotError, and the machine, its RAM, CPUs, interrupt lines and every
device's state, is exactly what it was before the call.
"""

from __future__ import annotations

import pytest

from disco_core.devices import DiskImage, LoopbackLink
from disco_core.devices import disk as d
from disco_core.errors import SnapshotError
from disco_core.machine import Machine, _pack_snapshot, _unpack_snapshot
from disco_core.mips import CAUSE
from tests.devices.helpers import native


def _busy(tmp_path):
    path = DiskImage.create(tmp_path / "disk.img", 16, b"base" * 128)
    m, dev = native(cpus=2, disks=[DiskImage.open(path, persistent=False)],
                    links=[LoopbackLink()])
    dev.uart.feed(b"typed")
    dev.ipi.write(0x100, 4, 0b10)
    m.write_phys(0x1000, b"\x42" * 512)
    ctl = dev.disks[0]
    for reg, value in ((d.SECTOR, 2), (d.COUNT, 1), (d.DMA_ADDR, 0x1000), (d.COMMAND, 2)):
        ctl.write(reg, 4, value)
    return m, dev


def _devices(dev) -> list:
    return [dev.machdesc, dev.power, dev.uart, dev.rtc, dev.ipi, *dev.disks, *dev.nics]


def _everything(m: Machine, dev) -> tuple:
    return (m.snapshot(), [x.snapshot() for x in _devices(dev)],
            [c.cp0(CAUSE) for c in m.cpus], bytes(dev.uart.rx))


def _move_on(m: Machine, dev) -> None:
    """Change RAM, CPUs and devices after the snapshot was taken."""
    m.write_phys(0x2000, b"\x17" * 64)
    m.cpus[1].gpr[5] = 0x1234
    dev.uart.feed(b" more")
    dev.ipi.write(0x118, 4, 1)
    dev.disks[0].write(d.STATUS, 4, 3)


def _sections(m: Machine, blob: bytes) -> tuple[bytes, list[bytes | None]]:
    return _unpack_snapshot(blob, len(m.devices))


@pytest.mark.parametrize("damage", ["truncated", "foreign tag", "trailing byte"])
def test_a_bad_device_section_leaves_the_machine_untouched(tmp_path, damage: str) -> None:
    m, dev = _busy(tmp_path)
    blob = m.snapshot()
    core, states = _sections(m, blob)
    _move_on(m, dev)
    before = _everything(m, dev)
    stateful = [i for i, s in enumerate(states) if s is not None]
    assert len(stateful) >= 6
    for i in stateful:  # the first, the last and every one between
        bad = list(states)
        good = bad[i]
        assert good is not None
        bad[i] = {"truncated": good[:-1], "foreign tag": b"XXXX" + good[4:],
                  "trailing byte": good + b"\0"}[damage]
        with pytest.raises(SnapshotError):
            m.restore(_pack_snapshot(core, bad))
        assert _everything(m, dev) == before, (i, m.devices[i][0])
    # and the good snapshot still loads
    m.restore(blob)
    assert _everything(m, dev) != before and bytes(dev.uart.rx) == b"typed"


def test_a_bad_core_blob_leaves_the_devices_untouched(tmp_path) -> None:
    m, dev = _busy(tmp_path)
    core, states = _sections(m, m.snapshot())
    _move_on(m, dev)
    before = _everything(m, dev)
    damaged = core[:100] + bytes([core[100] ^ 1]) + core[101:]
    with pytest.raises(SnapshotError, match="unchanged"):
        m.restore(_pack_snapshot(damaged, states))
    assert _everything(m, dev) == before
