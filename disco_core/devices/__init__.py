"""The devices of the native machine, and attach_native_devices() to map them all.

Each device is a Python object on one 4 KiB page of the device window; the
register maps, interrupt lines and address layout are in docs/devices.md.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from disco_core.devices import layout
from disco_core.devices.disk import DiskController, DiskImage, DiskImageError, DiskImageLockedError
from disco_core.devices.ipi import InterProcessorInterrupts
from disco_core.devices.layout import DEFAULT_EPOCH, PAGE
from disco_core.devices.link import HostLink, Link, LoopbackLink, PairLink, link_pair
from disco_core.devices.machdesc import (
    DeviceEntry,
    MachineDescription,
    MachineDescriptionBlock,
    MemoryRange,
)
from disco_core.devices.nic import NetworkInterface
from disco_core.devices.power import PowerControl, PowerRequest
from disco_core.devices.registers import InterruptRouter
from disco_core.devices.rtc import RealTimeClock
from disco_core.devices.uart import ByteSink, Uart
from disco_core.errors import ConfigError
from disco_core.machine import Machine

__all__ = [
    "DiskController", "DiskImage", "DiskImageError", "DiskImageLockedError", "HostLink",
    "InterProcessorInterrupts", "InterruptRouter", "Link", "LoopbackLink",
    "MachineDescription", "MachineDescriptionBlock", "MemoryRange", "NativeDevices",
    "NetworkInterface", "PairLink", "PowerControl", "PowerRequest", "RealTimeClock", "Uart",
    "attach_native_devices", "link_pair",
]

DiskSpec = DiskImage | str | os.PathLike[str]


@dataclass
class NativeDevices:
    """Handles on the devices attach_native_devices() mapped."""

    machine: Machine
    description: MachineDescription
    router: InterruptRouter
    machdesc: MachineDescriptionBlock
    power: PowerControl
    uart: Uart
    rtc: RealTimeClock
    ipi: InterProcessorInterrupts
    disks: list[DiskController] = field(default_factory=list)
    nics: list[NetworkInterface] = field(default_factory=list)

    def close(self) -> None:
        """Release the disk images (their files and locks) and unplug the links."""
        for disk in self.disks:
            disk.close()
        for nic in self.nics:
            nic.plug(None)

    def __enter__(self) -> NativeDevices:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def attach_native_devices(
    machine: Machine,
    description: MachineDescription | None = None,
    disks: Sequence[DiskSpec] = (),
    links: Sequence[Link | None] = (),
    *,
    uart_echo: ByteSink | None = None,
    epoch: int = DEFAULT_EPOCH,
    macs: Sequence[bytes] | None = None,
) -> NativeDevices:
    """Map the native devices at their documented addresses (docs/devices.md).

    `description` defaults to one node holding all CPUs and RAM. A disk given
    as a path is opened persistent; pass DiskImage.open(path, persistent=False)
    for copy-on-write. Each entry of `links` gives one network interface (None:
    an interface with no cable).
    """
    if description is None:
        description = MachineDescription.for_machine(machine)
    description.check_machine(machine)
    if len(disks) > layout.MAX_DISKS:
        raise ConfigError(f"{len(disks)} disks: the native machine has at most "
                          f"{layout.MAX_DISKS} disk controllers")
    if len(links) > layout.MAX_NICS:
        raise ConfigError(f"{len(links)} network interfaces: the native machine has at most "
                          f"{layout.MAX_NICS}")
    if macs is not None and len(macs) != len(links):
        raise ConfigError(f"{len(macs)} MAC addresses for {len(links)} network interfaces")

    router = InterruptRouter(machine)
    images: list[DiskImage] = []
    try:
        for spec in disks:
            images.append(spec if isinstance(spec, DiskImage) else DiskImage.open(spec))
        return _attach(machine, description, router, images, links, macs, uart_echo, epoch)
    except BaseException:
        for image, spec in zip(images, disks, strict=False):
            if not isinstance(spec, DiskImage):
                image.close()  # opened here, so released here
        raise


def _attach(machine: Machine, description: MachineDescription, router: InterruptRouter,
            images: list[DiskImage], links: Sequence[Link | None],
            macs: Sequence[bytes] | None, uart_echo: ByteSink | None,
            epoch: int) -> NativeDevices:
    power = PowerControl(machine)
    uart = Uart(router, echo=uart_echo)
    rtc = RealTimeClock(machine, clock_hz=description.clock_hz, epoch=epoch)
    ipi = InterProcessorInterrupts(router)
    controllers = [DiskController(machine, router, image, unit=i)
                   for i, image in enumerate(images)]
    nics = [NetworkInterface(machine, router, link, unit=i,
                             mac=None if macs is None else macs[i])
            for i, link in enumerate(links)]

    entries = [
        DeviceEntry("MDSC", 0, layout.MACHDESC_BASE, PAGE),
        DeviceEntry("POWR", 0, layout.POWER_BASE, PAGE),
        DeviceEntry("UART", 0, layout.UART_BASE, PAGE, uart.line),
        DeviceEntry("RTC ", 0, layout.RTC_BASE, PAGE),
        DeviceEntry("IPI ", 0, layout.IPI_BASE, PAGE, ipi.line),
        *(DeviceEntry("DISK", i, layout.disk_base(i), PAGE, d.line)
          for i, d in enumerate(controllers)),
        *(DeviceEntry("NIC ", i, layout.nic_base(i), PAGE, n.line) for i, n in enumerate(nics)),
    ]
    machdesc = MachineDescriptionBlock(description, entries)

    machine.map_device(layout.MACHDESC_BASE, PAGE, machdesc, "machdesc")
    machine.map_device(layout.POWER_BASE, PAGE, power, "power")
    machine.map_device(layout.UART_BASE, PAGE, uart, "uart")
    machine.map_device(layout.RTC_BASE, PAGE, rtc, "rtc")
    machine.map_device(layout.IPI_BASE, PAGE, ipi, "ipi")
    for i, disk in enumerate(controllers):
        machine.map_device(layout.disk_base(i), PAGE, disk, f"disk{i}")
    for i, nic in enumerate(nics):
        machine.map_device(layout.nic_base(i), PAGE, nic, f"nic{i}")
    return NativeDevices(machine, description, router, machdesc, power, uart, rtc, ipi,
                         controllers, nics)
