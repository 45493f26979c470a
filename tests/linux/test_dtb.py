"""Device trees: the writer, the reader, and dtc agreeing with both."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from disco_core.linux.dtb import DtbError, Node, cells, from_dtb, string, to_dtb
from disco_core.linux.machine import UART_BASE, linux_config, machine_tree, memory_ranges
from disco_core.machine import CPU_LINUX
from disco_core.presets import preset


def flash8_tree() -> Node:
    return machine_tree(linux_config("flash8"), "console=ttyS0", (0x0C000000, 0x0C200000),
                        "flash8")


def test_round_trip_gives_the_same_tree_and_reservations() -> None:
    tree = flash8_tree()
    blob = to_dtb(tree, reserved=[(0x1000, 0x2000)])
    back, reserved = from_dtb(blob)
    assert back == tree
    assert reserved == [(0x1000, 0x2000)]
    assert to_dtb(back, reserved=reserved) == blob


def test_the_tree_describes_the_machine() -> None:
    config = linux_config("flash8")
    tree, _ = from_dtb(to_dtb(flash8_tree()))
    mems = [c for c in tree.children if c.name.startswith("memory@")]
    assert len(mems) == 8  # one per node
    assert sum(m.u32("reg", 1) for m in mems) == config.ram_bytes
    assert tree.find("/cpus/cpu@0") is not None and tree.find("/cpus/cpu@1") is None
    clock = tree.find("/cpu-clock")
    assert clock is not None and clock.u32("clock-frequency") == config.clock_hz
    uart = tree.find(f"/serial@{UART_BASE:x}")
    assert uart is not None and uart.text("compatible") == "ns16550a"
    assert uart.u32("reg") == UART_BASE and uart.u32("interrupts") == 2
    chosen = tree.find("/chosen")
    assert chosen is not None and chosen.text("bootargs") == "console=ttyS0"
    assert chosen.u32("linux,initrd-start") == 0x0C000000


def test_linux_config_keeps_the_preset_shape() -> None:
    config = linux_config("flash8")
    base = preset("flash8")
    assert config.cpu_model == CPU_LINUX and config.prid == 0x00019300
    assert (config.cpus, config.nodes, config.ram_bytes) == (base.cpus, base.nodes,
                                                             base.ram_bytes)


def test_memory_skips_the_device_window() -> None:
    ranges = memory_ranges(preset("flash16"))  # 512 MiB: crosses 0x1F000000
    assert all(not (b < 0x20000000 and b + s > 0x1F000000) for b, s in ranges)
    assert sum(s for _, s in ranges) == (512 - 16) << 20


def test_dtc_reads_our_blob(tmp_path) -> None:
    dtc = shutil.which("dtc")
    assert dtc, "dtc is missing: apt-get install device-tree-compiler (scripts/debian-tools.sh)"
    blob = tmp_path / "m.dtb"
    blob.write_bytes(to_dtb(flash8_tree()))
    dts = subprocess.run([dtc, "-I", "dtb", "-O", "dts", str(blob)], capture_output=True,
                         text=True, check=True).stdout
    assert 'compatible = "ns16550a";' in dts
    assert "mti,cpu-interrupt-controller" in dts
    assert 'bootargs = "console=ttyS0";' in dts
    # and what dtc compiles from its own source parses to the same tree
    again = subprocess.run([dtc, "-I", "dts", "-O", "dtb"], input=dts.encode(),
                           capture_output=True, check=True).stdout
    assert from_dtb(again)[0] == flash8_tree()


def test_cells_and_strings() -> None:
    assert cells(1, 0xFFFFFFFF) == b"\0\0\0\x01\xff\xff\xff\xff"
    assert string("a", "bc") == b"a\0bc\0"


@pytest.mark.parametrize("blob", [b"", b"\0" * 40, to_dtb(Node(""))[:30]])
def test_damaged_blobs_get_an_error(blob: bytes) -> None:
    with pytest.raises(DtbError):
        from_dtb(blob)
