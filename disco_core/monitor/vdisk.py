"""A VM's disk (the paper's virtual disk, §4.2.3): what the DISK_* monitor calls reach.

Two kinds, both on `disco_core.devices.DiskImage`:

- **copy-on-write** over a shared base image: every VM opens the same file
  read-only (a shared lock); the sectors a VM writes are kept by the monitor
  for that VM alone and never reach the file, so other VMs keep seeing the
  base and the file is unchanged when the VMs are gone;
- **persistent**: the VM writes the file itself (an exclusive lock, so only one
  VM — or machine — can have it).

The guest names guest-physical buffers; the monitor moves whole sectors
between the disk and the VM's memory in the one trap of the call, so a request
is complete when the call returns (no completion interrupt is needed).
"""

from __future__ import annotations

import os

from disco_core.devices import DiskImage
from disco_core.devices.disk import MAX_COUNT, SECTOR_SIZE
from disco_core.errors import SnapshotError
from disco_core.monitor import sections
from disco_core.monitor.sections import Section

SECTION, VERSION = "vdisk", 1

__all__ = ["MAX_COUNT", "SECTOR_SIZE", "VirtualDisk"]


class VirtualDisk:
    """One VM's disk: a DiskImage, copy-on-write over a base or persistent."""

    def __init__(self, image: DiskImage) -> None:
        self.image = image
        self.reads = 0       # sectors read by the guest
        self.writes = 0      # sectors written by the guest

    @classmethod
    def copy_on_write(cls, base: str | os.PathLike[str]) -> VirtualDisk:
        """A disk over a shared, read-only base image; writes stay with this disk."""
        return cls(DiskImage.open(base, persistent=False))

    @classmethod
    def persistent(cls, path: str | os.PathLike[str]) -> VirtualDisk:
        """A disk whose writes go to the file, which no other VM may open."""
        return cls(DiskImage.open(path, persistent=True))

    @property
    def sectors(self) -> int:
        return self.image.sectors

    @property
    def copy_on_write_sectors(self) -> int:
        """How many sectors this VM has written over the base (0 when persistent)."""
        return len(self.image.dirty)

    def valid(self, sector: int, count: int) -> bool:
        return 0 < count <= MAX_COUNT and 0 <= sector and sector + count <= self.sectors

    def read(self, sector: int, count: int) -> bytes:
        self.reads += count
        return self.image.read(sector, count)

    def write(self, sector: int, data: bytes) -> None:
        self.writes += len(data) // SECTOR_SIZE
        self.image.write(sector, data)

    def close(self) -> None:
        self.image.close()

    def state(self) -> Section:
        """The guest's counts and, over a base image, the sectors this VM wrote (a
        persistent disk's writes are in its file)."""
        return sections.make(SECTION, VERSION, persistent=self.image.persistent,
                             sectors=self.sectors, reads=self.reads, writes=self.writes,
                             written=[[n, data] for n, data in sorted(self.image.dirty.items())])

    def load_state(self, section: Section) -> None:
        sec = sections.check(section, SECTION, VERSION, "persistent", "sectors", "reads",
                             "writes", "written")
        if (sec["persistent"], sec["sectors"]) != (self.image.persistent, self.sectors):
            raise SnapshotError(
                f"the vdisk section is of a disk of {sec['sectors']} sectors (persistent: "
                f"{sec['persistent']}); this one has {self.sectors} (persistent: "
                f"{self.image.persistent})")
        with sections.loading(SECTION):
            self.reads, self.writes = int(sec["reads"]), int(sec["writes"])
            written = {int(n): bytes(data) for n, data in sec["written"]}
            if any(len(d) != SECTOR_SIZE for d in written.values()):
                raise SnapshotError("the vdisk section holds a sector that is not "
                                             f"{SECTOR_SIZE} bytes")
            self.image.dirty = written
