"""Booting an unmodified Linux kernel natively (docs/linux.md).

    from disco_core.linux.boot import boot_linux
    r = boot_linux("test", run=["uname -a"])

The loader does what a UHI boot loader does (the MIPS Unified Hosting
Interface's boot protocol, as Linux's generic platform reads it): the kernel's
image at its load address, the initramfs and the device tree near the top of
low memory, then CPU 0 at the kernel's entry in kernel mode with
a0 = -2 (a device tree follows), a1 = the tree's kseg0 address, a2 = a3 = 0.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from disco_core.boot import BootResult, split_commands
from disco_core.errors import ConfigError
from disco_core.linux.dtb import to_dtb
from disco_core.linux.initramfs import PROMPT, build_initramfs
from disco_core.linux.machine import attach_linux_devices, linux_config, machine_tree, memory_ranges
from disco_core.linux.vmlinuz import KSEG0, KernelImage, load_kernel
from disco_core.machine import ExitReason, Machine

SLICE = 200_000
DEFAULT_BUDGET = 3_000_000_000
PAGE = 0x1000
UHI_DTB = 0xFFFFFFFE  # a0 = -2: a1 holds the device tree's address
# nokaslr: the kernel stays where the loader put it, so the initramfs and the
# tree above it stay intact (a relocated kernel may land on them).
# cryptomgr.notests: skip the crypto self-tests (about 1.4 G instructions of
# RSA and ECC arithmetic at boot).
BOOTARGS = "console=ttyS0,115200 earlycon rdinit=/init nokaslr cryptomgr.notests"
PANIC = b"Kernel panic - not syncing"


def _align_down(value: int, align: int) -> int:
    return value & ~(align - 1)


class _Clock:
    """The UART's echo stream: CPU 0's cycles at the latest byte the guest sent."""

    def __init__(self) -> None:
        self.machine: Machine | None = None
        self.last_cycles = 0

    def write(self, data: bytes) -> int:
        if self.machine is not None:
            self.last_cycles = self.machine.cpus[0].cycles
        return len(data)

    def flush(self) -> None:
        pass


class LinuxBooted:
    """A Linux machine with kernel, initramfs and device tree loaded, CPU 0 at the entry."""

    def __init__(self, machine_preset: str = "test", *,
                 kernel: str | os.PathLike[str] | KernelImage, initrd: bytes,
                 bootargs: str = BOOTARGS,
                 echo: Callable[[bytes], None] | None = None) -> None:
        config = linux_config(machine_preset)
        # a KernelImage: already decompressed (a bench times the boot alone)
        self.image = kernel if isinstance(kernel, KernelImage) else load_kernel(kernel)
        low_end = 0
        for base, size in memory_ranges(config):  # the RAM contiguous from address 0
            if base == low_end:
                low_end += size
        # The tree and the initramfs go at the top of low memory, the kernel's
        # bss (cleared by the kernel, not in its image) stays below them.
        initrd_start = _align_down(low_end - 0x10000 - len(initrd), PAGE)
        if initrd_start < self.image.end + (4 << 20):
            raise ConfigError(f"preset {machine_preset!r}: {low_end >> 20} MiB of low memory "
                              "do not hold the kernel, its bss and the initramfs")
        tree = machine_tree(config, bootargs, (initrd_start, initrd_start + len(initrd)),
                            machine_preset)
        dtb_pa = _align_down(low_end - 0x10000, PAGE)
        self.dtb = to_dtb(tree)
        if len(self.dtb) > 0x10000:
            raise ConfigError(f"the device tree ({len(self.dtb)} bytes) is too large")
        self.machine = Machine(config)
        self.clock = _Clock()
        self.uart = attach_linux_devices(self.machine, echo=self.clock)
        self.clock.machine = self.machine
        for pa, data in self.image.chunks:
            self.machine.write_phys(pa, data)
        self.machine.write_phys(initrd_start, initrd)
        self.machine.write_phys(dtb_pa, self.dtb)
        cpu = self.machine.cpus[0]
        # CPU 0 comes out of reset at the boot vector: put it in the UHI boot
        # state (kernel mode, BEV = 0, Status = 0) at the kernel's entry.
        cpu.set_cp0(12, 0)
        cpu.set_cp0(15, KSEG0, sel=1)
        cpu.pc = self.image.entry
        cpu.gpr[4] = UHI_DTB
        cpu.gpr[5] = KSEG0 | dtb_pa
        cpu.gpr[6] = 0
        cpu.gpr[7] = 0
        self.echo = echo
        self.instructions = 0
        self.seen = 0

    @property
    def output(self) -> bytes:
        return bytes(self.uart.output)

    def step(self, budget: int = SLICE) -> ExitReason:
        ex = self.machine.run(budget)
        self.instructions += ex.executed
        if ex.reason == ExitReason.HOTPAGE:
            self.machine.hot_pages()  # nobody migrates pages on a native Linux
        if self.echo is not None and len(self.uart.output) > self.seen:
            self.echo(bytes(self.uart.output[self.seen:]))
            self.seen = len(self.uart.output)
        return ex.reason

    def type(self, text: bytes) -> None:
        self.uart.feed(text)

    def close(self) -> None:
        self.machine.close()


def boot_linux(machine_preset: str = "test", run: str | Sequence[str] | None = None, *,
               kernel: str | os.PathLike[str] | KernelImage | None = None,
               initrd: str | os.PathLike[str] | bytes | None = None,
               max_instructions: int = DEFAULT_BUDGET,
               echo: Callable[[bytes], None] | None = None) -> BootResult:
    """Boot Linux to the busybox shell and type ``run``'s commands, one per prompt.

    ``kernel``/``initrd``: local files instead of the fetched Debian kernel and
    an initramfs built around the fetched busybox (or a loaded KernelImage and
    the archive's bytes). Stops at the prompt after
    the last command, at a kernel panic ("panic"), when the machine idles, or
    when ``max_instructions`` are spent.
    """
    from disco_core.linux.fetch import fetch

    start = time.perf_counter()
    commands = split_commands(run)
    archive = b""
    if isinstance(initrd, bytes):
        archive = initrd
    elif initrd is not None:
        try:
            archive = Path(initrd).read_bytes()
        except OSError as e:
            raise ConfigError(f"cannot read the initramfs {initrd}: {e.strerror or e}") from None
    if kernel is None or initrd is None:
        files = fetch()
        kernel = kernel or files.kernel
        if initrd is None:
            archive = build_initramfs(files.busybox)
    b = LinuxBooted(machine_preset, kernel=kernel, initrd=archive, echo=echo)
    try:
        return _drive(b, commands, max_instructions, start)
    finally:
        b.close()


def _drive(b: LinuxBooted, commands: list[str], budget: int, start: float) -> BootResult:
    cpu0 = b.machine.cpus[0]
    prompt = PROMPT.encode()
    prompt_cycles: int | None = None
    prompt_wall: float | None = None
    command_cycles: list[int] = []
    pending = list(commands)
    mark = 0
    typed_at = 0
    reason = "budget"
    while b.instructions < budget:
        r = b.step(min(SLICE, budget - b.instructions))
        if r == ExitReason.HALT:
            reason = "halt"
            break
        if r == ExitReason.WAIT:
            reason = "idle"
            break
        out = b.uart.output
        if out.find(PANIC, max(0, mark - len(PANIC))) >= 0:
            reason = "panic"
            b.step(20 * SLICE)  # the panic report's last lines
            break
        found = out.find(prompt, mark)
        if found < 0:
            continue
        shown = b.clock.last_cycles if out.endswith(prompt) else cpu0.cycles
        if prompt_cycles is None:
            prompt_cycles = shown
            prompt_wall = time.perf_counter() - start
        else:
            command_cycles.append(shown - typed_at)
        mark = found + len(prompt)
        if not pending:
            reason = "done"
            break
        b.type(pending.pop(0).encode() + b"\n")
        typed_at = cpu0.cycles
    return BootResult(
        output=b.output.decode("utf-8", "replace"), reason=reason,
        exit_code=b.machine.halt_code if reason == "halt" else None, cycles=cpu0.cycles,
        instructions=b.instructions, wall_seconds=time.perf_counter() - start,
        prompt_cycles=prompt_cycles, prompt_wall_seconds=prompt_wall,
        command_cycles=command_cycles,
        cpus=[{"cpu": i, "instructions": c.instructions, "cycles": c.cycles}
              for i, c in enumerate(b.machine.cpus)])
