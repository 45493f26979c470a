"""Booting the guest kernel on a native machine (docs/guest-kernel.md), or its
disco flavour as virtual machines under the monitor (`boot_vms`, docs/monitor-abi.md).

    from disco_core.boot import boot
    r = boot("flash8", run=["ls", "echo hi"])
    print(r.output, r.exit_code, r.cycles)

`boot()` builds the kernel and (unless given one) a root file-system image,
creates a machine from a preset with the native devices, loads the kernel's
segments like firmware would, starts every CPU at the entry with $a0 = its
number, and runs the machine in slices. Each time the shell prompt (``$ ``)
appears it types the next command; after the last command's prompt it stops.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from disco_core.devices import DiskImage, attach_native_devices
from disco_core.elf import ElfImage, load_elf
from disco_core.errors import DiscoError
from disco_core.kernel import EXIT_KERNEL_TRAP, EXIT_PANIC, build_kernel
from disco_core.machine import ExitReason, Machine
from disco_core.presets import preset

if TYPE_CHECKING:
    from disco_core.monitor import VM, Monitor

PROMPT = b"$ "
SLICE = 100_000            # instructions per run() call between looks at the console
DEFAULT_BUDGET = 4_000_000_000


def physical(addr: int) -> int:
    """kseg0/kseg1 addresses name physical memory through their low 29 bits."""
    return addr & 0x1FFFFFFF if 0x80000000 <= addr < 0xC0000000 else addr


@dataclass
class BootResult:
    """What a boot did: the console text, why it stopped, and the machine's counters."""

    output: str
    reason: str                 # "done" (commands finished), "halt", "budget", "idle"
    exit_code: int | None       # the power device's code when the guest halted
    cycles: int                 # CPU 0's cycle counter (simulated time)
    instructions: int           # summed over all CPUs
    wall_seconds: float
    prompt_cycles: int | None   # CPU 0's cycles when the first prompt was sent
    prompt_wall_seconds: float | None
    # per command: CPU 0's cycles from typing it to the next prompt
    command_cycles: list[int] = field(default_factory=list)
    cpus: list[dict[str, object]] = field(default_factory=list)
    backtrace: list[str] = field(default_factory=list)  # symbolised panic backtrace

    @property
    def panicked(self) -> bool:
        return self.exit_code in (EXIT_PANIC, EXIT_KERNEL_TRAP)

    def to_json(self) -> dict[str, object]:
        return {
            "reason": self.reason, "exit_code": self.exit_code, "cycles": self.cycles,
            "instructions": self.instructions, "wall_seconds": round(self.wall_seconds, 3),
            "prompt_cycles": self.prompt_cycles, "command_cycles": self.command_cycles,
            "cpus": self.cpus, "backtrace": self.backtrace,
        }


def split_commands(run: str | Sequence[str] | None) -> list[str]:
    """Commands separated by ';' or newlines (a list is taken as it is)."""
    if run is None:
        return []
    if isinstance(run, str):
        parts = re.split(r"[;\n]", run)
    else:
        parts = list(run)
    return [p.strip() for p in parts if p.strip()]


def root_image(path: str | os.PathLike[str]) -> Path:
    """Build the default root file system (disco_core.fsimage, the userland's) at path."""
    from disco_core.fsimage import build_root_image

    return build_root_image(path)


def symbolise(image: ElfImage, text: str) -> list[str]:
    """The panic report's backtrace addresses with their symbols."""
    out = []
    in_bt = False
    for line in text.splitlines():
        if line.startswith("backtrace:"):
            in_bt = True
            continue
        m = re.fullmatch(r"\s+0x([0-9a-f]{8})", line)
        if in_bt and m:
            addr = int(m.group(1), 16)
            sym = image.symbol_at(addr - 8)  # the call site, not the return address
            name = f"{sym[0]}+0x{sym[1] + 8:x}" if sym else "?"
            where = image.line_for(addr - 8)
            loc = f" ({Path(where[0]).name}:{where[1]})" if where else ""
            out.append(f"0x{addr:08x} {name}{loc}")
        elif in_bt:
            in_bt = False
    return out


class _OutputClock:
    """The UART's echo stream: notes CPU 0's cycle count at each byte the guest
    sends, so a prompt's time is exact rather than rounded to a run slice."""

    def __init__(self) -> None:
        self.machine: Machine | None = None
        self.count = 0
        self.last_cycles = 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        if self.machine is not None:
            self.last_cycles = self.machine.cpus[0].cycles
        return len(data)

    def flush(self) -> None:
        pass


class Booted:
    """A machine with the kernel loaded and every CPU started; drive it with step()."""

    def __init__(self, machine_preset: str = "test", *, disk: DiskImage,
                 kernel: Path | None = None, echo: Callable[[bytes], None] | None = None,
                 overrides: dict[str, object] | None = None) -> None:
        self.kernel_path = kernel or build_kernel("native")
        self.image = load_elf(self.kernel_path)
        self.machine = Machine(preset(machine_preset, **(overrides or {})))
        self.clock = _OutputClock()
        self.devices = attach_native_devices(self.machine, disks=[disk], uart_echo=self.clock)
        self.clock.machine = self.machine
        self.echo = echo
        self.instructions = 0
        self.seen = 0
        for seg in self.image.segments:
            data = seg.data + bytes(max(0, seg.memsz - len(seg.data)))
            self.machine.write_phys(physical(seg.paddr), data)
        for i, cpu in enumerate(self.machine.cpus):
            if i == 0:
                # CPU 0 comes out of reset running at the boot vector: put it in
                # the boot protocol's state (kernel mode, BEV = 0, Status = 0).
                cpu.set_cp0(12, 0)
                cpu.set_cp0(15, 0x80000000, sel=1)
                cpu.pc = self.image.entry
            else:
                cpu.start(self.image.entry)
            cpu.gpr[4] = i
            cpu.gpr[29] = 0

    @property
    def output(self) -> bytes:
        return bytes(self.devices.uart.output)

    def step(self, budget: int = SLICE) -> ExitReason:
        ex = self.machine.run(budget)
        self.instructions += ex.executed
        if ex.reason == ExitReason.HOTPAGE:
            self.machine.hot_pages()  # nobody migrates pages in the native kernel
        if self.echo is not None:
            out = self.devices.uart.output
            if len(out) > self.seen:
                self.echo(bytes(out[self.seen:]))
                self.seen = len(out)
        return ex.reason

    def type(self, text: bytes) -> None:
        self.devices.uart.feed(text)

    def close(self) -> None:
        self.devices.close()
        self.machine.close()


def boot(machine_preset: str = "test", native: bool = True,
         run: str | Sequence[str] | None = None, disk_image: str | os.PathLike[str] | None = None,
         *, persistent: bool = True, max_instructions: int = DEFAULT_BUDGET,
         echo: Callable[[bytes], None] | None = None, poweroff: bool = False,
         kernel: str | os.PathLike[str] | None = None, vms: int = 1) -> BootResult:
    """Boot the native kernel and type ``run``'s commands at the shell.

    ``disk_image``: the root image (written by the guest when ``persistent``);
    None builds a fresh default image in a temporary directory. Stops after
    the prompt that follows the last command (with ``poweroff``, types
    ``poweroff`` there and waits for the halt), when the guest halts, or when
    ``max_instructions`` are spent. ``kernel`` is a kernel ELF to use instead
    of ``build_kernel("native")`` (e.g. one built with KERNEL_DEBUG).

    ``native=False`` boots the disco flavour as ``vms`` virtual machines under
    the monitor instead: that is `boot_vms`, whose DiscoBootResult it returns
    (``disk_image`` is then the shared base image, never written).
    """
    if not native:
        if persistent and disk_image is not None:
            raise DiscoError("under the monitor every VM's root disk is copy-on-write over "
                             "the image: pass persistent=False (--scratch)")
        return boot_vms(machine_preset, vms, run, disk_image,  # type: ignore[return-value]
                        max_instructions=max_instructions, kernel=kernel,
                        echo=None if echo is None else (lambda name, data: echo(data)))
    commands = split_commands(run)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="disco-boot-") as tmp:
        if disk_image is None:
            disk = DiskImage.open(root_image(Path(tmp) / "root.img"), persistent=False)
        else:
            disk = DiskImage.open(disk_image, persistent=persistent)
        b = Booted(machine_preset, disk=disk, echo=echo,
                   kernel=Path(kernel) if kernel is not None else None)
        try:
            return _drive(b, commands, max_instructions, start, poweroff)
        finally:
            b.close()


def _drive(b: Booted, commands: list[str], budget: int, start: float,
           poweroff: bool) -> BootResult:
    cpu0 = b.machine.cpus[0]
    prompt_cycles: int | None = None
    prompt_wall: float | None = None
    command_cycles: list[int] = []
    pending = list(commands)
    mark = 0                  # output offset after which the next prompt counts
    typed_at = 0
    reason = "budget"
    exit_code = None
    while b.instructions < budget:
        r = b.step(min(SLICE, budget - b.instructions))
        if r == ExitReason.HALT:
            reason = "halt"
            exit_code = b.machine.halt_code
            break
        if r == ExitReason.WAIT:
            reason = "idle"
            break
        out = b.devices.uart.output
        found = out.find(PROMPT, mark) if len(out) > mark else -1
        if found >= 0:
            # A prompt whose last byte was the last one sent has an exact time;
            # a background job may have printed after it, then CPU 0's now.
            shown = b.clock.last_cycles if out.endswith(PROMPT) else cpu0.cycles
            if prompt_cycles is None:
                prompt_cycles = shown
                prompt_wall = time.perf_counter() - start
            else:
                command_cycles.append(shown - typed_at)
            mark = found + len(PROMPT)
            if pending:
                b.type(pending.pop(0).encode() + b"\n")
                typed_at = cpu0.cycles
            elif poweroff:
                b.type(b"poweroff\n")
                poweroff = False
            else:
                reason = "done"
                break
    text = b.output.decode("utf-8", "replace")
    result = BootResult(
        output=text, reason=reason, exit_code=exit_code, cycles=cpu0.cycles,
        instructions=b.instructions, wall_seconds=time.perf_counter() - start,
        prompt_cycles=prompt_cycles, prompt_wall_seconds=prompt_wall,
        command_cycles=command_cycles,
        cpus=[{"cpu": i, "instructions": c.instructions, "cycles": c.cycles}
              for i, c in enumerate(b.machine.cpus)],
    )
    if result.panicked:
        result.backtrace = symbolise(b.image, text)
    return result


def interactive(machine_preset: str = "test", disk_image: str | os.PathLike[str] | None = None,
                persistent: bool = True) -> int:
    """Attach the terminal to the console: raw stdin to the UART, output to stdout.

    Ctrl-] quits. Returns the guest's exit code, or 0 when the user quit.
    """
    import select
    import termios
    import tty

    def echo(data: bytes) -> None:
        sys.stdout.buffer.write(data.replace(b"\n", b"\r\n"))
        sys.stdout.buffer.flush()

    fd = sys.stdin.fileno()
    with tempfile.TemporaryDirectory(prefix="disco-boot-") as tmp:
        if disk_image is None:
            disk = DiskImage.open(root_image(Path(tmp) / "root.img"), persistent=False)
        else:
            disk = DiskImage.open(disk_image, persistent=persistent)
        b = Booted(machine_preset, disk=disk, echo=echo)
        old = termios.tcgetattr(fd) if os.isatty(fd) else None
        try:
            if old is not None:
                tty.setraw(fd)
            while True:
                before = b.seen
                r = b.step()
                if r == ExitReason.HALT:
                    return b.machine.halt_code
                # A quiet guest is probably idle: give the host CPU a rest.
                ready, _, _ = select.select([fd], [], [], 0 if b.seen != before else 0.01)
                if ready:
                    data = os.read(fd, 1024)
                    if not data or b"\x1d" in data:
                        return 0
                    b.type(data)
        finally:
            if old is not None:
                termios.tcsetattr(fd, termios.TCSADRAIN, old)
            b.close()


# ---- the disco flavour: the kernel as virtual machines under the monitor ------------------

VM_PAGES_MAX = 8192            # 32 MiB of guest-physical memory per VM at most
VM_PAGES_MIN = 1024            # 4 MiB: the kernel (~1.5 MiB with its stacks) and a shell


@dataclass
class VMResult:
    """One VM of a disco boot: its console, why it stopped, its statistics."""

    name: str
    output: str
    reason: str                 # "done", the monitor's stop reason, or "budget"
    exit_code: int | None
    prompt_cycles: int | None   # the machine's cycles when its first prompt appeared
    command_cycles: list[int] = field(default_factory=list)  # from reading each to the next prompt
    stats: dict[str, tuple[int, int]] = field(default_factory=dict)  # category → (count, cycles)
    exits: dict[str, tuple[int, int]] = field(default_factory=dict)  # exit kind → (count, cycles)
    disk_writes: int = 0        # sectors written (kept by the monitor when copy-on-write)
    backtrace: list[str] = field(default_factory=list)  # symbolised, after a guest panic

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name, "reason": self.reason, "exit_code": self.exit_code,
            "prompt_cycles": self.prompt_cycles, "command_cycles": self.command_cycles,
            "stats": {k: list(v) for k, v in self.stats.items()},
            "exits": {k: list(v) for k, v in self.exits.items()},
            "disk_writes": self.disk_writes, "backtrace": self.backtrace,
        }


@dataclass
class DiscoBootResult:
    """What a disco boot did: one VMResult per VM and the machine's counters."""

    vms: list[VMResult]
    reason: str                 # "done" when every VM finished its commands
    cycles: int                 # the largest CPU cycle counter (simulated time)
    instructions: int
    wall_seconds: float
    reports: list[str] = field(default_factory=list)
    invariant_problems: list[str] = field(default_factory=list)  # Monitor.check_invariants()
    # the NUMA manager and page sharing (docs/numa.md): misses by class, moves and
    # footprints; "workload" counts from the first command typed to the end
    numa: dict[str, object] = field(default_factory=dict)

    @property
    def output(self) -> str:
        """Every VM's console, each line prefixed by its VM (``[vm0] ...``)."""
        return "".join(prefixed(v.name, v.output) for v in self.vms)

    def to_json(self) -> dict[str, object]:
        return {
            "reason": self.reason, "cycles": self.cycles, "instructions": self.instructions,
            "wall_seconds": round(self.wall_seconds, 3), "reports": self.reports,
            "invariant_problems": self.invariant_problems, "numa": self.numa,
            "vms": [v.to_json() for v in self.vms],
        }


def prefixed(name: str, text: str) -> str:
    lines = text.splitlines()
    return "".join(f"[{name}] {line}\n" for line in lines)


def vm_specs(machine: Machine, image: ElfImage, vms: int, disks: Sequence[object],
             memory_pages: int | None = None, vcpus: int = 1) -> list[object]:
    """One VMSpec per VM: the kernel's segments at their guest-physical
    addresses, memory split evenly (at most VM_PAGES_MAX pages), home nodes
    spread round-robin over the machine's nodes (a VM with k vCPUs gets k
    consecutive nodes, one per vCPU)."""
    from disco_core.monitor import VMSpec

    cfg = machine.config
    if memory_pages is None:
        # Machine page 0 is the monitor's idle loop; leave the monitor some slack.
        memory_pages = min(VM_PAGES_MAX, (cfg.ram_bytes // 4096 - 64) // vms)
        if memory_pages < VM_PAGES_MIN:
            raise DiscoError(
                f"{vms} VMs do not fit in the machine's {cfg.ram_bytes >> 20} MiB: each needs "
                f"at least {VM_PAGES_MIN * 4096 >> 20} MiB")
    segs = [(seg.paddr - 0xC0000000, seg.data) for seg in image.segments if seg.data]
    text = [(seg.paddr - 0xC0000000, len(seg.data)) for seg in image.segments
            if seg.data and seg.executable and not seg.flags & 2]  # PF_W: not text
    return [VMSpec(f"vm{i}", memory_pages=memory_pages, vcpus=vcpus,
                   home_nodes=list(dict.fromkeys((i * vcpus + j) % cfg.nodes
                                                 for j in range(vcpus))),
                   image=segs, text=text, entry=image.entry,
                   disks=[disks[i]])  # type: ignore[list-item]
            for i in range(vms)]


def boot_vms(machine_preset: str = "test", vms: int = 1,
             run: str | Sequence[str] | None = None,
             base_image: str | os.PathLike[str] | None = None, *,
             max_instructions: int = DEFAULT_BUDGET, memory_pages: int | None = None,
             vcpus: int = 1, kernel: str | os.PathLike[str] | None = None,
             echo: Callable[[str, bytes], None] | None = None,
             vm_run: Sequence[str | Sequence[str]] | None = None,
             vm_disks: Sequence[str | os.PathLike[str]] | None = None,
             monitor_options: dict[str, object] | None = None,
             assists: bool = True,
             numa_policy: str = "migrate_replicate", sharing: str = "disco",
             numa_params: object | None = None,
             machine_overrides: dict[str, object] | None = None) -> DiscoBootResult:
    """Boot the disco flavour of the kernel as ``vms`` VMs under the monitor.

    Each VM gets a copy-on-write root disk over one shared base image (built
    by fsimage.build_root_image unless ``base_image`` names one; it is never
    written). ``run``'s commands are typed into every VM's console at each of
    its prompts; the boot stops when every VM has shown the prompt after its
    last command, every VM has stopped, or ``max_instructions`` are spent.
    ``echo(vm_name, bytes)`` sees console output as it appears. ``vm_run``
    gives each VM its own commands instead (VM i types ``vm_run[i]``).
    ``vm_disks`` gives each VM a persistent root disk of its own instead
    (VM i writes the file ``vm_disks[i]``, which nobody else may open).
    ``monitor_options`` are keyword arguments for the Monitor (e.g. ``asid_remap``).
    ``assists=False`` serves every exit in Python (the monitor's C assists off).
    ``numa_policy`` and ``sharing`` choose the monitor's NUMA policy and page
    sharing (docs/numa.md); ``machine_overrides`` changes preset fields.
    """
    from disco_core.monitor import Monitor
    from disco_core.monitor.vdisk import VirtualDisk

    if vms < 1:
        raise DiscoError(f"vms = {vms}: at least one VM")
    if vm_run is not None and len(vm_run) != vms:
        raise DiscoError(f"vm_run has {len(vm_run)} command lists for {vms} VMs")
    if vm_disks is not None and len(vm_disks) != vms:
        raise DiscoError(f"vm_disks has {len(vm_disks)} images for {vms} VMs")
    per_vm = [split_commands(vm_run[i] if vm_run is not None else run) for i in range(vms)]
    start = time.perf_counter()
    kpath = Path(kernel) if kernel is not None else build_kernel("disco")
    image = load_elf(kpath)
    with tempfile.TemporaryDirectory(prefix="disco-boot-") as tmp:
        disks: list[VirtualDisk] = []
        try:
            if vm_disks is not None:
                for p in vm_disks:
                    disks.append(VirtualDisk.persistent(p))
            else:
                base = (Path(base_image) if base_image is not None
                        else root_image(Path(tmp) / "root.img"))
                disks = [VirtualDisk.copy_on_write(base) for _ in range(vms)]
        except BaseException:
            for d in disks:
                d.close()
            raise
        from disco_core.monitor.numa import MOVING, NumaParams, check_policy

        params = numa_params if isinstance(numa_params, NumaParams) else NumaParams()
        overrides = dict(machine_overrides or {})
        if check_policy(numa_policy) in MOVING:  # FLASH reports hot pages to the manager
            overrides.setdefault("hot_threshold", params.hot_threshold)
        machine = Machine(preset(machine_preset, **overrides))
        try:
            options = {"assists": assists, **(monitor_options or {})}
            mon = Monitor(machine, numa_policy=numa_policy, numa_params=params,
                          sharing=sharing, **options)  # type: ignore[arg-type]
            vmlist = [mon.create_vm(s) for s in vm_specs(machine, image, vms, disks,  # type: ignore
                                                          memory_pages, vcpus)]
            for vm in vmlist:
                mon.start_vm(vm)
            result = _drive_vms(mon, vmlist, per_vm, max_instructions, start, echo)
            for v in result.vms:
                if v.reason.startswith("guest panic"):
                    v.backtrace = symbolise(image, v.output)
            return result
        finally:
            for d in disks:
                d.close()
            machine.close()


def _drive_vms(mon: Monitor, vms: list[VM], commands: list[list[str]], budget: int,
               start: float, echo: Callable[[str, bytes], None] | None) -> DiscoBootResult:
    machine = mon.m

    def now() -> int:
        return max(c.cycles for c in machine.cpus)

    pending = {vm.name: list(cmds) for vm, cmds in zip(vms, commands, strict=True)}
    marks = dict.fromkeys(pending, 0)
    seen = dict.fromkeys(pending, 0)
    prompt_at: dict[str, int | None] = dict.fromkeys(pending)
    typed_at = dict.fromkeys(pending, 0)
    command_cycles: dict[str, list[int]] = {vm.name: [] for vm in vms}
    done: set[str] = set()
    executed = 0
    reason = "budget"
    from disco_core.monitor.footprint import numa_counters, numa_report

    mark: dict[str, int] | None = None  # the counters when the first command was typed
    while executed < budget:
        before = sum(c.instructions for c in machine.cpus)
        r = mon.run(min(SLICE, budget - executed))
        executed += sum(c.instructions for c in machine.cpus) - before
        for vm in vms:
            out = vm.console_out
            if echo is not None and len(out) > seen[vm.name]:
                echo(vm.name, bytes(out[seen[vm.name]:]))
                seen[vm.name] = len(out)
            if vm.name in done or not vm.running:
                continue
            found = out.find(PROMPT, marks[vm.name])
            if found < 0:
                continue
            marks[vm.name] = found + len(PROMPT)
            # A prompt that was the last output has an exact time (the cycles of
            # the CPU that printed it), not one rounded to a run slice.
            vm_now = machine.cpus[vm.vcpus[0].last_cpu or 0].cycles
            shown = vm.console_cycles if out.endswith(PROMPT) else vm_now
            if prompt_at[vm.name] is None:
                prompt_at[vm.name] = shown
            else:
                # from the guest's first read of the command (exact, on the CPU that
                # read it; typing happens while every CPU idles, at a timer tick)
                began = vm.input_cycles if vm.input_cycles is not None else typed_at[vm.name]
                command_cycles[vm.name].append(shown - began)
            if pending[vm.name]:
                if mark is None:
                    mark = numa_counters(mon)
                vm.input_cycles = None
                mon.console_input(vm, pending[vm.name].pop(0).encode() + b"\n")
                typed_at[vm.name] = vm_now
            else:
                done.add(vm.name)
        if all(vm.name in done or not vm.running for vm in vms):
            reason = "done" if len(done) == len(vms) else "stopped"
            break
        if r in ("stopped", "halt", "idle"):
            reason = r
            break
    results = []
    for vm in vms:
        name = vm.name
        why = "done" if name in done else (vm.stop_reason or reason)
        results.append(VMResult(
            name=name, output=vm.console_text, reason=why, exit_code=vm.exit_code,
            prompt_cycles=prompt_at[name], command_cycles=command_cycles[name],
            stats=vm.stats.by_category(), exits=_exit_kinds(vm),
            disk_writes=sum(d.writes for d in vm.disks)))
    return DiscoBootResult(vms=results, reason=reason, cycles=now(), instructions=executed,
                           wall_seconds=time.perf_counter() - start, reports=list(mon.reports),
                           invariant_problems=mon.check_invariants(),
                           numa=numa_report(mon, mark))


def _exit_kinds(vm: object) -> dict[str, tuple[int, int]]:
    stats = vm.stats  # type: ignore[attr-defined]
    return {k: (stats.count[k], stats.cycles[k]) for k in sorted(stats.count)}
