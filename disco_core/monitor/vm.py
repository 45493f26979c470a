"""A virtual machine: its vCPUs, guest-physical memory (pmap), home nodes, state.

A VM is created stopped with a boot image (guest-physical loads and an entry
point); the monitor starts it, and stops it alone when it exits, panics, does
something illegal or stops making progress. A stopped VM can be restarted:
its memory is given back and the image loaded afresh.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TypeAlias

from disco_core.errors import SnapshotError
from disco_core.mips import KSSEG
from disco_core.monitor import sections
from disco_core.monitor.l2tlb import DEFAULT_SIZE, L2Tlb
from disco_core.monitor.pmap import PMap
from disco_core.monitor.sections import Section
from disco_core.monitor.stats import Stats
from disco_core.monitor.vcpu import VCpu
from disco_core.monitor.vdisk import VirtualDisk

RELOCATED_KSEG0 = KSSEG  # the guest kernel's kseg0, moved into the supervisor segment
SECTION, VERSION = "vm", 1


class VMState(enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    STOPPED = "stopped"


@dataclass
class VMSpec:
    """What a VM is made of; `Monitor.create_vm` builds the VM from it."""

    name: str
    memory_pages: int
    vcpus: int = 1
    home_nodes: list[int] = field(default_factory=lambda: [0])
    image: list[tuple[int, bytes]] = field(default_factory=list)  # (guest-physical, bytes)
    entry: int = RELOCATED_KSEG0  # virtual address where every vCPU starts (kernel mode)
    l2tlb_size: int = DEFAULT_SIZE
    disks: list[VirtualDisk] = field(default_factory=list)  # unit n = disks[n]
    # guest-physical (start, length) of read-only kernel text, shared across VMs
    text: list[tuple[int, int]] = field(default_factory=list)


class VM:
    def __init__(self, vm_id: int, spec: VMSpec, pmap: PMap, tlb_entries: int,
                 first_gid: int) -> None:
        self.id = vm_id
        self.spec = spec
        self.name = spec.name
        self.pmap = pmap
        self.home_nodes = list(spec.home_nodes)
        self.vcpus: list[VMCpu] = [
            VCpu(self, i, tlb_entries, first_gid + i,
                 L2Tlb(spec.l2tlb_size, pmap, first_gid + i)) for i in range(spec.vcpus)]
        self.state = VMState.CREATED
        self.stop_reason: str | None = None
        self.exit_code: int | None = None
        self.stats = Stats()
        self.console_out = bytearray()
        self.console_in = bytearray()
        self.console_cycles = 0  # the CPU's cycle count at the last console output
        self.input_cycles: int | None = None  # the CPU's cycles at the first GETC since reset
        self.starts = 0
        self.disks = spec.disks

    @property
    def memory_pages(self) -> int:
        return self.pmap.npages

    @property
    def running(self) -> bool:
        return self.state == VMState.RUNNING

    def load_image(self) -> None:
        for gpa, data in self.spec.image:
            self.pmap.write(gpa, data)

    def read_guest(self, gpa: int, n: int) -> bytes:
        return self.pmap.read(gpa, n)

    def write_guest(self, gpa: int, data: bytes) -> None:
        self.pmap.write(gpa, data)

    @property
    def console_text(self) -> str:
        return self.console_out.decode("latin-1")

    def __repr__(self) -> str:
        why = f" ({self.stop_reason})" if self.stop_reason else ""
        return f"<VM {self.id} {self.name!r} {self.state.value}{why}>"

    # ---- state ----

    def save_state(self) -> Section:
        """Run state, console buffers and pending input, and each disk's copy-on-write
        sectors (its pmap, vCPUs and statistics are sections of their own)."""
        return sections.make(
            SECTION, VERSION, id=self.id, name=self.name, state=self.state.value,
            stop_reason=self.stop_reason, exit_code=self.exit_code,
            console_out=bytes(self.console_out), console_in=bytes(self.console_in),
            console_cycles=self.console_cycles, input_cycles=self.input_cycles,
            starts=self.starts, disks=[d.state() for d in self.disks])

    def load_state(self, section: Section) -> None:
        sec = sections.check(section, SECTION, VERSION, "id", "name", "state", "stop_reason",
                             "exit_code", "console_out", "console_in", "console_cycles",
                             "input_cycles", "starts", "disks")
        if (sec["id"], sec["name"]) != (self.id, self.name):
            raise SnapshotError(f"the VM section is VM {sec['id']} {sec['name']!r}'s; this is "
                                f"VM {self.id} {self.name!r}")
        if len(sec["disks"]) != len(self.disks):
            raise SnapshotError(f"the VM section of {self.name!r} has {len(sec['disks'])} "
                                f"disks; the VM has {len(self.disks)}")
        with sections.loading(SECTION):
            self.state = VMState(sec["state"])
            self.stop_reason = sec["stop_reason"]
            self.exit_code = sec["exit_code"]
            self.console_out = bytearray(sec["console_out"])
            self.console_in = bytearray(sec["console_in"])
            self.console_cycles = int(sec["console_cycles"])
            self.input_cycles = sec["input_cycles"]
            self.starts = int(sec["starts"])
            for d, ds in zip(self.disks, sec["disks"], strict=True):
                d.load_state(ds)


# the vCPU of a VM (vcpu.VCpu is generic in its owner, which imports it)
VMCpu: TypeAlias = VCpu[VM]
