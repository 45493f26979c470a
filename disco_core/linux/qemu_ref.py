"""The same Linux boot in QEMU: a reference for bench/linux_boot.py and tests/linux.

QEMU's `malta` board with a 24Kc (the PRId our Linux CPU model reports) runs
the very kernel image, initramfs and boot protocol the workbench uses: the
kernel's decompressed image, the initramfs and a device tree are placed in RAM
with QEMU's generic loader device, and a boot stub in the board's flash does
what our UHI loader does (a0 = -2, a1 = the tree's kseg0 address, a2 = a3 = 0,
then a jump to the kernel's entry). The tree describes the board as the kernel
should see it: 256 MiB of RAM from address 0, the CPU's interrupt controller,
and the board's FPGA UART (an ns16550a at 0x1F000900, registers 8 bytes apart,
polled: its interrupt goes through the south bridge, which the tree leaves out),
which QEMU connects to its third serial port.

Two facts of QEMU's malta the stub works around: on a little-endian CPU the
board swaps the bytes of each 32-bit word of its flash (so bi-endian firmware
reads the same), and it stores its board ID at flash offset 0x10, so the stub
branches over the first words.
"""

from __future__ import annotations

import os
import select
import shutil
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from disco_core.errors import DiscoError
from disco_core.guest import assemble
from disco_core.linux.boot import BOOTARGS
from disco_core.linux.dtb import Node, cells, string, to_dtb
from disco_core.linux.initramfs import PROMPT
from disco_core.linux.vmlinuz import KSEG0, KernelImage

QEMU = "qemu-system-mipsel"
RAM_BYTES = 256 << 20          # malta's low RAM, below its I/O window at 0x10000000
UART = 0x1F000900              # the FPGA's UART (QEMU's third serial port)
UART_CLOCK_HZ = 3_686_400      # QEMU gives it a 230400 baud base (x 16)
CPU_CLOCK_HZ = 320_000_000     # QEMU's malta CPU clock; Count runs at half of it
BOOT_VECTOR = 0xBFC00000
FLASH_BYTES = 4096             # the stub's image (QEMU pads the flash)


class QemuError(DiscoError):
    """QEMU is missing, failed, or did not reach the prompt."""


@dataclass(frozen=True)
class QemuBoot:
    output: str                # the console text up to the prompt (and the commands')
    prompt_wall_seconds: float  # from starting QEMU to the first prompt


def malta_tree(bootargs: str, initrd: tuple[int, int]) -> Node:
    """The device tree of QEMU's malta as the kernel gets it."""
    uart = f"serial@{UART:x}"
    root = Node("", {"#address-cells": cells(1), "#size-cells": cells(1),
                     "compatible": string("mti,malta"), "model": string("QEMU malta")})
    root.child("chosen", bootargs=string(bootargs), **{
        "stdout-path": string(f"/{uart}"), "linux,initrd-start": cells(initrd[0]),
        "linux,initrd-end": cells(initrd[1])})
    root.child("aliases", serial0=string(f"/{uart}"))
    cpus = root.child("cpus", **{"#address-cells": cells(1), "#size-cells": cells(0)})
    cpus.child("cpu@0", device_type=string("cpu"), compatible=string("mti,mips24Kc"),
               reg=cells(0), clocks=cells(1))
    root.child("cpu-clock", compatible=string("fixed-clock"), **{
        "#clock-cells": cells(0), "clock-frequency": cells(CPU_CLOCK_HZ),
        "clock-output-names": string("cpu"), "phandle": cells(1)})
    root.child("memory@0", device_type=string("memory"), reg=cells(0, RAM_BYTES))
    root.child("interrupt-controller", compatible=string("mti,cpu-interrupt-controller"), **{
        "interrupt-controller": b"", "#address-cells": cells(0),
        "#interrupt-cells": cells(1), "phandle": cells(2)})
    root.child(uart, compatible=string("ns16550a"), reg=cells(UART, 0x100), **{
        "reg-shift": cells(3), "clock-frequency": cells(UART_CLOCK_HZ),
        "current-speed": cells(115200), "no-loopback-test": b""})
    return root


def boot_stub(entry: int, dtb_pa: int) -> bytes:
    """The flash image: the UHI hand-over, each word byte-swapped as malta reads it."""
    code = assemble(f"""
        b 1f
        nop
        .space 0x100            # past the board ID QEMU stores at offset 0x10
    1:  li $a0, -2
        li $a1, {KSEG0 | dtb_pa:#x}
        move $a2, $zero
        move $a3, $zero
        li $t9, {entry:#x}
        jr $t9
        nop
    """, base=BOOT_VECTOR).ljust(FLASH_BYTES, b"\0")
    words = struct.unpack(f"<{len(code) // 4}I", code)
    return struct.pack(f">{len(words)}I", *words)


def qemu_command(image: KernelImage, initrd: bytes, directory: Path,
                 bootargs: str = BOOTARGS) -> list[str]:
    """Write the files QEMU loads into `directory` and return its command line."""
    initrd_pa = (RAM_BYTES - 0x10000 - len(initrd)) & ~0xFFF
    dtb_pa = RAM_BYTES - 0x10000
    if initrd_pa < image.end + (4 << 20):
        raise QemuError("the kernel, its bss and the initramfs do not fit in malta's 256 MiB")
    files = {"initrd": (initrd_pa, initrd),
             "dtb": (dtb_pa, to_dtb(malta_tree(bootargs, (initrd_pa, initrd_pa + len(initrd)))))}
    for i, (pa, data) in enumerate(image.chunks):
        files[f"kernel{i}"] = (pa, data)
    (directory / "flash").write_bytes(boot_stub(image.entry, dtb_pa))
    cmd = [QEMU, "-M", "malta", "-cpu", "24Kc", "-m", f"{RAM_BYTES >> 20}M",
           "-bios", str(directory / "flash"), "-nodefaults", "-display", "none",
           "-monitor", "none", "-serial", "null", "-serial", "null", "-serial", "stdio"]
    for name, (pa, data) in files.items():
        (directory / name).write_bytes(data)
        cmd += ["-device", f"loader,file={directory / name},addr={pa:#x},force-raw=on"]
    return cmd


def boot_qemu(image: KernelImage, initrd: bytes, commands: list[str] | None = None,
              timeout: float = 120.0) -> QemuBoot:
    """Boot in QEMU to the busybox prompt, type `commands` one per prompt, stop QEMU."""
    if shutil.which(QEMU) is None:
        raise QemuError(f"{QEMU} is not installed (Debian package qemu-system-mips; "
                        "scripts/debian-tools.sh installs it)")
    pending = list(commands or [])
    prompt = PROMPT.encode()
    with tempfile.TemporaryDirectory(prefix="disco-qemu-") as tmp:
        cmd = qemu_command(image, initrd, Path(tmp))
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        assert proc.stdin is not None and proc.stdout is not None
        out = bytearray()
        mark = 0
        prompt_wall: float | None = None
        try:
            while True:
                left = timeout - (time.perf_counter() - start)
                if left <= 0:
                    raise QemuError(f"QEMU did not reach the prompt in {timeout:.0f} s: "
                                    f"{bytes(out[-300:]).decode(errors='replace')!r}")
                ready, _, _ = select.select([proc.stdout], [], [], min(left, 1.0))
                if not ready:
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    raise QemuError(f"QEMU exited ({proc.wait()}): "
                                    f"{bytes(out[-300:]).decode(errors='replace')!r}")
                out += chunk
                found = out.find(prompt, mark)
                if found < 0:
                    continue
                if prompt_wall is None:
                    prompt_wall = time.perf_counter() - start
                mark = found + len(prompt)
                if not pending:
                    break
                proc.stdin.write(pending.pop(0).encode() + b"\n")
                proc.stdin.flush()
        finally:
            proc.kill()
            proc.wait()
    return QemuBoot(out.decode("utf-8", "replace"), prompt_wall)
