"""The sessions the workbench and the command line open: bare metal, the native kernel, VMs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from disco_core.elf import ElfImage
from disco_core.machine import Machine
from disco_core.mips import PAGE_SIZE
from disco_core.monitor import Monitor, VMSpec
from disco_core.session.session import Core, Guest, MonitorConsole, Session
from disco_core.session.vms import MonitorOptions


def baremetal_session(program: str | Path = "numademo", preset_name: str = "flash8",
                      progress: Callable[[str], None] | None = None,
                      **overrides: object) -> Session:
    """A bare-metal program (default: resources/baremetal/numademo.c) on the test machine."""
    from disco_core.guest import build_baremetal
    from disco_core.presets import preset
    from disco_core.testmachine import TestMachine

    config = preset(preset_name, **overrides)
    defines = {"NODE_BYTES": config.memory_per_node}
    _say(progress, f"building {program}")
    elf = build_baremetal(program, defines=defines)
    machine = TestMachine(config=config)
    image = machine.load_elf(elf)
    name = Path(str(program)).stem
    guest = Guest("native", tuple(range(config.cpus)), machine.console, image)
    return Session(machine, [guest], title=f"{name} on {preset_name}")


def kernel_session(program: str | None = None, preset_name: str = "flash8",
                   progress: Callable[[str], None] | None = None) -> Session:
    """The native guest kernel (resources/guest/) booted on a fresh copy-on-write root
    image; it reaches its shell prompt within a second of simulated time.
    `program` is ignored (the kernel runs what is typed at its console)."""
    import shutil
    import tempfile

    from disco_core.boot import Booted, root_image
    from disco_core.devices import DiskImage

    tmp = Path(tempfile.mkdtemp(prefix="disco-workbench-"))
    try:
        _say(progress, "building the guest kernel and its root file system image")
        disk = DiskImage.open(root_image(tmp / "root.img"), persistent=False)
        booted = Booted(preset_name, disk=disk)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    cpus = tuple(range(booted.machine.config.cpus))
    guest = Guest("native", cpus, booted.devices.uart, booted.image)
    session = Session(booted.machine, [guest], title=f"native kernel on {preset_name}")
    session.on_close.append(booted.devices.close)
    session.on_close.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
    return session


def check_vms_request(preset_name: str = "flash8", vms: int = 4, vcpus: int = 1,
                      memory_mib: int | None = None) -> int | None:
    """Refuse a VM layout the machine cannot hold, with a message that says why
    (DiscoError, or ConfigError for an unknown preset); the pages per VM otherwise
    (None: split the machine's memory evenly, as vm_specs does)."""
    from disco_core.boot import VM_PAGES_MAX, VM_PAGES_MIN
    from disco_core.errors import DiscoError
    from disco_core.presets import preset

    config = preset(preset_name)
    ram_pages = config.ram_bytes // PAGE_SIZE - 64  # the monitor keeps some for itself
    if vms < 1:
        raise DiscoError(f"{vms} VMs: a machine needs at least one")
    if not 1 <= vcpus <= config.cpus:
        raise DiscoError(f"{vcpus} vCPUs per VM: {preset_name} has {config.cpus} CPUs, so a "
                         f"VM can have 1 to {config.cpus}")
    if memory_mib is None:
        if ram_pages // vms < VM_PAGES_MIN:
            # The monitor's own pages come off the top: say so, or 64 x 4 MiB = 256 MiB
            # reads as if it fitted.
            raise DiscoError(f"{vms} VMs do not fit in {preset_name}'s "
                             f"{config.ram_bytes >> 20} MiB: each needs at least "
                             f"{VM_PAGES_MIN * PAGE_SIZE >> 20} MiB and the monitor keeps "
                             f"{(config.ram_bytes // PAGE_SIZE - ram_pages) * PAGE_SIZE >> 10}"
                             f" KiB, so at most {ram_pages // VM_PAGES_MIN} fit")
        return None
    pages = (memory_mib << 20) // PAGE_SIZE
    if not VM_PAGES_MIN <= pages <= VM_PAGES_MAX:
        raise DiscoError(f"{memory_mib} MiB per VM: the guest kernel needs "
                         f"{VM_PAGES_MIN * PAGE_SIZE >> 20} to "
                         f"{VM_PAGES_MAX * PAGE_SIZE >> 20} MiB")
    if pages * vms > ram_pages:
        raise DiscoError(f"{vms} VMs of {memory_mib} MiB need {vms * memory_mib} MiB: "
                         f"{preset_name} has {config.ram_bytes >> 20} MiB "
                         f"(at most {ram_pages // pages} such VMs fit)")
    return pages


def _say(progress: Callable[[str], None] | None, text: str) -> None:
    if progress is not None:
        progress(text)


def vms_session(program: str | None = None, preset_name: str = "flash8",
                vms: int = 4, vcpus: int = 1, memory_mib: int | None = None,
                progress: Callable[[str], None] | None = None,
                numa_policy: str = "migrate_replicate", sharing: str = "disco",
                base_image: str | Path | None = None,
                options: MonitorOptions | None = None,
                kernel: str | Path | None = None) -> Session:
    """The guest kernel's disco flavour as `vms` virtual machines under the monitor,
    each with a copy-on-write root disk over one shared image and its own console.
    `program` is ignored (each VM runs what is typed at its console). `progress`
    hears what is being built (the kernel and the root image take a while the
    first time). `numa_policy` and `sharing` are the monitor's (docs/numa.md);
    `base_image` is the root image the disks copy on write (default: a fresh one);
    `options` the monitor's other options (ASID remapping, the cost model);
    `kernel` a disco-flavour kernel ELF to run instead of the default build."""
    import shutil
    import tempfile

    from disco_core.boot import root_image
    from disco_core.elf import load_elf
    from disco_core.kernel import build_kernel

    pages = check_vms_request(preset_name, vms, vcpus, memory_mib)
    tmp = Path(tempfile.mkdtemp(prefix="disco-workbench-"))
    try:
        _say(progress, "building the guest kernel (disco flavour)")
        image = load_elf(Path(kernel) if kernel is not None else build_kernel("disco"))
        # Parse the DWARF line table now, on the building thread: done lazily, the
        # debugger's first source-line lookup would stall the UI for most of a second.
        image.line_for(image.entry)
        _say(progress, "building the root file system image")
        base = Path(base_image) if base_image is not None else root_image(tmp / "root.img")
        _say(progress, f"creating {vms} virtual machines on {preset_name}")
        spec = VmsCoreSpec(image, base, preset_name, vms, vcpus, pages, numa_policy, sharing,
                           options or MonitorOptions())
        core = spec.build(start=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    machine, monitor = core.machine, core.monitor
    assert monitor is not None
    guests = []
    for vm in monitor.vms:
        home = set(vm.home_nodes)
        cpus = tuple(c for c in range(machine.config.cpus) if machine.node_of_cpu(c) in home)
        guests.append(Guest(vm.name, cpus, MonitorConsole(monitor, vm), image))
    session = Session(machine, guests, monitor=monitor,
                      title=f"{vms} virtual machine{'s' if vms > 1 else ''} on {preset_name}")
    session.adopt_core(core, spec.build)
    session.on_close.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
    return session


@dataclass(frozen=True)
class VmsCoreSpec:
    """How a VMs session's machine and monitor are built, so that a fresh pair can be
    built again to load a checkpoint into (disco_core/record/checkpoint.py)."""

    image: ElfImage
    base: Path
    preset_name: str
    vms: int
    vcpus: int
    pages: int | None
    numa_policy: str
    sharing: str
    options: MonitorOptions = MonitorOptions()

    def build(self, start: bool = False) -> Core:
        """A machine and monitor with the VMs created (and started with `start`)."""
        from disco_core.boot import vm_specs
        from disco_core.monitor.numa import MOVING, NumaParams, check_policy
        from disco_core.monitor.vdisk import VirtualDisk
        from disco_core.presets import preset

        disks: list[VirtualDisk] = []
        machine: Machine | None = None
        try:
            disks = [VirtualDisk.copy_on_write(self.base) for _ in range(self.vms)]
            params = NumaParams()
            overrides: dict[str, object] = {}
            if check_policy(self.numa_policy) in MOVING:  # FLASH reports hot pages (numa.md)
                overrides["hot_threshold"] = params.hot_threshold
            machine = Machine(preset(self.preset_name, **overrides))
            monitor = Monitor(machine, numa_policy=self.numa_policy, numa_params=params,
                              sharing=self.sharing, asid_remap=self.options.asid_remap,
                              costs=self.options.costs)
            # boot.vm_specs is typed list[object]: its items are VMSpecs
            vmlist = [monitor.create_vm(cast(VMSpec, spec)) for spec in
                      vm_specs(machine, self.image, self.vms, disks, self.pages, self.vcpus)]
            if start:
                for vm in vmlist:
                    monitor.start_vm(vm)
        except BaseException:
            for d in disks:
                d.close()
            if machine is not None:
                machine.close()
            raise
        return Core(machine, monitor, [d.close for d in disks])


def linux_session(program: str | None = None, preset_name: str = "flash8",
                  progress: Callable[[str], None] | None = None) -> Session:
    """Debian's unmodified Linux kernel natively (disco_core.linux.session)."""
    from disco_core.linux.session import linux_session as build

    return build(program, preset_name, progress)


SESSION_KINDS: dict[str, Callable[..., Session]] = {
    "baremetal": baremetal_session,
    "kernel": kernel_session,
    "linux": linux_session,
    "vms": vms_session,
}


DEFAULT_SESSION = "vms"


def default_session() -> Session:
    """What `disco-workbench` opens: four VMs under the monitor on flash8."""
    return SESSION_KINDS[DEFAULT_SESSION]()
