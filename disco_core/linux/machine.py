"""The Linux machine: a preset with the Linux CPU model, one ns16550a, and the
device tree that describes it to the kernel (docs/linux.md).

The machine keeps the preset's CPUs, nodes, memory and caches. Only CPU 0 runs
(SMP through the MIPS Coherent Processing System is a later step), so the
device tree lists CPU 0 alone; the other CPUs stay parked.
"""

from __future__ import annotations

from dataclasses import replace

from disco_core.devices.ns16550 import REG_SHIFT, Ns16550
from disco_core.devices.registers import InterruptRouter
from disco_core.devices.uart import ByteSink
from disco_core.errors import ConfigError
from disco_core.linux.dtb import Node, cells, string
from disco_core.machine import CPU_LINUX, Machine, MachineConfig
from disco_core.presets import preset

# PRId of a MIPS Technologies (company 1) 24Kc (implementation 0x93), revision 0: a
# MIPS32r2 core Linux knows, whose Config7 may say the caches do not alias.
LINUX_PRID = 0x00019300

UART_BASE = 0x1F005000   # the ns16550a's page (docs/devices.md, "Address layout")
UART_SIZE = 0x1000
UART_LINE = 0            # hardware line 0 = Cause.IP2 = the CPU controller's irq 2
UART_CLOCK_HZ = 1_843_200
DEVICE_WINDOW = (0x1F000000, 0x20000000)  # never RAM to the kernel

PHANDLE_CPU_CLOCK = 1
PHANDLE_CPU_INTC = 2


def linux_config(machine_preset: str = "test") -> MachineConfig:
    """The preset's shape with the Linux CPU model (docs/cpu.md, "CPU models")."""
    config = replace(preset(machine_preset), prid=LINUX_PRID, cpu_model=CPU_LINUX)
    sets = config.l1_bytes // config.line_bytes // config.l1_ways
    if config.line_bytes > 128 or not 32 <= sets <= 4096 or config.l1_ways > 8:
        raise ConfigError(
            f"preset {machine_preset!r}: an L1 of {config.l1_bytes} bytes, {config.l1_ways} "
            f"ways of {config.line_bytes}-byte lines cannot be described in Config1 (lines "
            "up to 128 bytes, 32 to 4096 sets, up to 8 ways): Linux would see wrong caches")
    return config


def memory_ranges(config: MachineConfig) -> list[tuple[int, int]]:
    """(base, size) of RAM per node, less the device window."""
    out = []
    lo, hi = DEVICE_WINDOW
    for node in range(config.nodes):
        base = node * config.memory_per_node
        end = base + config.memory_per_node
        for a, b in ((base, min(end, lo)), (max(base, hi), end)):
            if a < b:
                out.append((a, b - a))
    return out


def machine_tree(config: MachineConfig, bootargs: str, initrd: tuple[int, int] | None,
                 name: str = "test") -> Node:
    """The device tree of a Linux machine of this configuration.

    ``initrd``: the initramfs's physical (start, end), put in /chosen.
    """
    uart = f"serial@{UART_BASE:x}"
    root = Node("", {
        "#address-cells": cells(1), "#size-cells": cells(1),
        "compatible": string("disco,workbench"),
        "model": string(f"Disco Workbench ({name}, {config.nodes} node"
                        f"{'s' if config.nodes != 1 else ''})"),
    })
    chosen = root.child("chosen", bootargs=string(bootargs), **{"stdout-path": string(f"/{uart}")})
    if initrd is not None:
        chosen.props["linux,initrd-start"] = cells(initrd[0])
        chosen.props["linux,initrd-end"] = cells(initrd[1])
    root.child("aliases", serial0=string(f"/{uart}"))
    cpus = root.child("cpus", **{"#address-cells": cells(1), "#size-cells": cells(0)})
    cpus.child("cpu@0", device_type=string("cpu"), compatible=string("mti,mips24Kc"),
               reg=cells(0), clocks=cells(PHANDLE_CPU_CLOCK))
    # The CPU clock: Linux's generic platform reads the timer rate from it
    # (Count runs at half of it, as on every 24K).
    root.child("cpu-clock", compatible=string("fixed-clock"), **{
        "#clock-cells": cells(0), "clock-frequency": cells(config.clock_hz),
        "clock-output-names": string("cpu"), "phandle": cells(PHANDLE_CPU_CLOCK)})
    for base, size in memory_ranges(config):
        root.child(f"memory@{base:x}", device_type=string("memory"), reg=cells(base, size))
    root.child("interrupt-controller", compatible=string("mti,cpu-interrupt-controller"), **{
        "interrupt-controller": b"", "#address-cells": cells(0),
        "#interrupt-cells": cells(1), "phandle": cells(PHANDLE_CPU_INTC)})
    root.child(uart, compatible=string("ns16550a"), reg=cells(UART_BASE, UART_SIZE), **{
        "reg-shift": cells(REG_SHIFT), "reg-io-width": cells(4),
        "clock-frequency": cells(UART_CLOCK_HZ), "current-speed": cells(115200),
        "interrupt-parent": cells(PHANDLE_CPU_INTC), "interrupts": cells(UART_LINE + 2),
        "no-loopback-test": b""})
    return root


def attach_linux_devices(machine: Machine, echo: ByteSink | None = None) -> Ns16550:
    """Map the Linux machine's one device, the ns16550a console, and return it."""
    uart = Ns16550(InterruptRouter(machine), UART_LINE, echo=echo)
    machine.map_device(UART_BASE, UART_SIZE, uart, "ns16550")
    return uart
