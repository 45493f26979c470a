"""The disk controller and disk images, driven through their registers from Python."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from disco_core.devices import DiskImage, DiskImageError, DiskImageLockedError
from disco_core.devices import disk as d
from disco_core.devices.layout import DISK_LINE
from tests.devices.helpers import native

SECTORS = [bytes([i]) * 512 for i in range(32)]


def make_image(tmp_path, name: str = "disk.img"):
    return DiskImage.create(tmp_path / name, 32, b"".join(SECTORS))


def command(ctl: d.DiskController, cmd: int, sector: int, count: int, pa: int) -> int:
    ctl.write(d.SECTOR, 4, sector)
    ctl.write(d.COUNT, 4, count)
    ctl.write(d.DMA_ADDR, 4, pa)
    ctl.write(d.COMMAND, 4, cmd)
    return ctl.read(d.ERROR, 4)


def test_identification_registers(tmp_path) -> None:
    m, dev = native(disks=[make_image(tmp_path)])
    ctl = dev.disks[0]
    assert ctl.read(d.ID, 4) == int.from_bytes(b"DISK", "little")
    assert ctl.read(d.CAPACITY, 4) == 32
    assert ctl.read(d.SECTOR_SIZE_REG, 4) == 512
    assert ctl.read(d.FLAGS, 4) == d.FLAG_PERSISTENT
    assert ctl.read(d.MAX_COUNT_REG, 4) == d.MAX_COUNT
    dev.close()


def test_write_is_durable_across_close_and_reopen(tmp_path) -> None:
    path = make_image(tmp_path)
    m, dev = native(disks=[path])
    m.write_phys(0x8000, b"\xab" * 1024)
    assert command(dev.disks[0], d.CMD_WRITE, 7, 2, 0x8000) == d.ERR_NONE
    dev.close()
    raw = path.read_bytes()
    assert raw[7 * 512 : 9 * 512] == b"\xab" * 1024
    assert raw[6 * 512 : 7 * 512] == SECTORS[6] and raw[9 * 512 :] == b"".join(SECTORS[9:])

    m2, dev2 = native(disks=[path])
    assert command(dev2.disks[0], d.CMD_READ, 6, 3, 0x10000) == d.ERR_NONE
    assert m2.read_phys(0x10000, 1536) == SECTORS[6] + b"\xab" * 1024
    dev2.close()


def test_completion_interrupt_is_level_until_acknowledged(tmp_path) -> None:
    m, dev = native(cpus=2, disks=[make_image(tmp_path)])
    ctl = dev.disks[0]
    ip = 1 << (10 + DISK_LINE)
    ctl.write(d.TARGET_CPU, 4, 1)
    command(ctl, d.CMD_READ, 0, 1, 0x4000)
    assert ctl.read(d.STATUS, 4) == d.DONE
    assert m.cpus[1].cp0(13) & ip and not m.cpus[0].cp0(13) & ip
    ctl.write(d.STATUS, 4, d.DONE)
    assert ctl.read(d.STATUS, 4) == 0 and not m.cpus[1].cp0(13) & ip
    ctl.write(d.IRQ_ENABLE, 4, 0)  # polled use: no interrupt
    command(ctl, d.CMD_READ, 0, 1, 0x4000)
    assert ctl.read(d.STATUS, 4) == d.DONE and not m.cpus[1].cp0(13) & ip
    ctl.write(d.TARGET_CPU, 4, 5)  # there is no CPU 5
    assert ctl.target_cpu == 1 and ctl.errors == 1
    dev.close()


def test_bad_commands_report_errors_not_exceptions(tmp_path) -> None:
    m, dev = native(disks=[make_image(tmp_path)])
    ctl = dev.disks[0]
    assert command(ctl, 9, 0, 1, 0) == d.ERR_BAD_COMMAND
    assert command(ctl, d.CMD_READ, 31, 2, 0) == d.ERR_BAD_RANGE  # past the end
    assert command(ctl, d.CMD_READ, 0, 0, 0) == d.ERR_BAD_RANGE
    assert command(ctl, d.CMD_READ, 0, d.MAX_COUNT + 1, 0) == d.ERR_BAD_RANGE
    assert command(ctl, d.CMD_READ, 0xFFFFFFFF, 1, 0) == d.ERR_BAD_RANGE
    assert command(ctl, d.CMD_READ, 0, 1, 16 << 20) == d.ERR_BAD_ADDRESS  # just past RAM
    assert command(ctl, d.CMD_WRITE, 0, 2, (16 << 20) - 512) == d.ERR_BAD_ADDRESS
    ctl.write(d.DMA_ADDR_HI, 4, 1)
    assert command(ctl, d.CMD_READ, 0, 1, 0) == d.ERR_BAD_ADDRESS
    assert ctl.read(d.STATUS, 4) == d.DONE | d.FAILED
    ctl.write(d.DMA_ADDR_HI, 4, 0)
    assert command(ctl, d.CMD_FLUSH, 0, 0, 0) == d.ERR_NONE
    assert ctl.read(d.STATUS, 4) == d.DONE  # FAILED describes the latest command only
    dev.close()
    assert command(ctl, d.CMD_READ, 0, 1, 0) == d.ERR_IO  # the image is closed


def test_copy_on_write_leaves_the_base_untouched(tmp_path) -> None:
    path = make_image(tmp_path)
    before = path.read_bytes()
    image = DiskImage.open(path, persistent=False)
    m, dev = native(disks=[image])
    ctl = dev.disks[0]
    assert ctl.read(d.FLAGS, 4) == d.FLAG_COPY_ON_WRITE
    m.write_phys(0x8000, b"\x77" * 512)
    assert command(ctl, d.CMD_WRITE, 4, 1, 0x8000) == d.ERR_NONE
    assert command(ctl, d.CMD_READ, 3, 3, 0x9000) == d.ERR_NONE
    assert m.read_phys(0x9000, 1536) == SECTORS[3] + b"\x77" * 512 + SECTORS[5]
    assert path.read_bytes() == before
    # the written sectors are guest state: they travel in the snapshot
    state = ctl.snapshot()
    dev.close()
    with DiskImage.open(path, persistent=False) as again:
        m2, dev2 = native(disks=[again])
        dev2.disks[0].restore(state)
        assert command(dev2.disks[0], d.CMD_READ, 4, 1, 0x9000) == d.ERR_NONE
        assert m2.read_phys(0x9000, 512) == b"\x77" * 512
    assert path.read_bytes() == before


def test_corrupt_or_missing_images_are_refused(tmp_path) -> None:
    odd = tmp_path / "odd.img"
    odd.write_bytes(b"x" * 1000)
    with pytest.raises(DiskImageError, match="1000 bytes.*512-byte sectors"):
        DiskImage.open(odd)
    empty = tmp_path / "empty.img"
    empty.write_bytes(b"")
    with pytest.raises(DiskImageError, match="0 bytes"):
        DiskImage.open(empty, persistent=False)
    with pytest.raises(DiskImageError, match="does not exist"):
        DiskImage.open(tmp_path / "missing.img")
    with pytest.raises(DiskImageError, match="directory"):
        DiskImage.open(tmp_path)
    with pytest.raises(DiskImageError, match="already exists"):
        DiskImage.create(odd, 4)
    with pytest.raises(DiskImageError, match="1000 bytes"):
        native(disks=[odd])


def test_a_persistent_image_is_locked_against_other_machines(tmp_path) -> None:
    path = make_image(tmp_path)
    first = DiskImage.open(path)
    with pytest.raises(DiskImageLockedError, match="in use by another machine"):
        DiskImage.open(path)
    with pytest.raises(DiskImageLockedError, match="open for writing by another machine"):
        DiskImage.open(path, persistent=False)
    first.close()
    # copy-on-write users share the base, but keep a writer out
    a, b = DiskImage.open(path, persistent=False), DiskImage.open(path, persistent=False)
    with pytest.raises(DiskImageLockedError):
        DiskImage.open(path)
    a.close()
    b.close()
    DiskImage.open(path).close()


def test_a_failed_attach_releases_the_images_it_opened(tmp_path) -> None:
    good = make_image(tmp_path, "good.img")
    (tmp_path / "bad.img").write_bytes(b"x" * 3)
    with pytest.raises(DiskImageError):
        native(disks=[good, tmp_path / "bad.img"])
    DiskImage.open(good).close()  # not left locked


WRITER = textwrap.dedent("""
    import sys
    from disco_core.devices import DiskImage
    image = DiskImage.open(sys.argv[1])
    print("ready", flush=True)
    k = 1
    while True:
        image.write(0, bytes([k]) * (64 * 512))
        k = k % 255 + 1
""")


def test_killing_a_writer_leaves_every_sector_old_or_new(tmp_path) -> None:
    path = DiskImage.create(tmp_path / "disk.img", 64)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for delay in (0.05, 0.13):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], env=env,
                                stdout=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(delay)
        proc.kill()
        proc.wait()
        data = path.read_bytes()
        assert len(data) == 64 * 512
        for s in range(64):
            sector = data[s * 512 : (s + 1) * 512]
            assert sector == sector[:1] * 512, f"sector {s} is torn"
        DiskImage.open(path).close()  # the dead writer's lock is gone
