"""Sharing memory across VMs, Disco's way (paper §2.8): a global disk cache and
shared kernel text.

**Global disk cache.** A DISK_READ from a copy-on-write disk whose buffer is
whole, aligned guest pages, of sectors the VM has not written itself, is not
copied: the first VM to read a page's worth of sectors keeps its page, which
becomes the cache's page for (base image, first sector) and read-only; every
later read of the same sectors by any VM maps that machine page read-only into
the VM instead (pmap.share_from). A store to it breaks the share
(copy-on-write, pmap.break_sharing) and the writer gets its own copy. The
guest's buffer cache reads whole aligned pages for this (kernel bio.c).

**Kernel text.** Every VM boots the same kernel image: the pages of its
executable segment are shared by all VMs read-only (the first VM's copy), and
with the replicating NUMA policy replicated to every node a VM using them
lives on (paper §2.4: Disco's own 72 KB code is replicated on every node).

Each share is charged `costs.share_page`, counted ("shares", "inserts") and
emitted as a "share" event. A cache entry lives as long as its machine page:
when every user has released or written it the memmap entry goes (or loses
its tag) and the next read makes a new one.
"""

from __future__ import annotations

import hashlib
from typing import Any

from disco_core.monitor import sections
from disco_core.monitor.context import MonitorContext
from disco_core.monitor.events import EventKind
from disco_core.monitor.memmap import PAGE
from disco_core.monitor.numa import NumaManager
from disco_core.monitor.sections import Section
from disco_core.monitor.stats import StatKind
from disco_core.monitor.vdisk import SECTOR_SIZE, VirtualDisk
from disco_core.monitor.vm import VM

SECTORS_PER_PAGE = PAGE // SECTOR_SIZE
# page sharing across VMs: Disco's (global disk cache, kernel text), ESX's (by content)
SHARING = ("disco", "content", "both", "none")
SECTION, VERSION = "diskcache", 1


class DiskCache:
    """The monitor-wide cache: (what, key) → machine page holding it read-only."""

    def __init__(self, ctx: MonitorContext, numa: NumaManager) -> None:
        self.ctx = ctx
        self.numa = numa  # kernel text is replicated when the NUMA policy replicates
        self.pages: dict[tuple[Any, ...], int] = {}
        self.stats = {"shares": 0, "inserts": 0, "text_shares": 0, "text_replicas": 0}

    def _lookup(self, key: tuple[Any, ...]) -> int | None:
        mpn = self.pages.get(key)
        if mpn is None:
            return None
        e = self.ctx.memmap.entries.get(mpn)
        if e is None or e.tag != key:  # freed, or written by its last user
            del self.pages[key]
            return None
        return mpn

    def moved(self, tag: Any, mpn: int) -> None:
        """The NUMA manager migrated the page cached under tag to mpn."""
        if tag in self.pages:
            self.pages[tag] = mpn

    def _map(self, vm: VM, gpn: int, key: tuple[Any, ...], data: bytes | None,
             reason: str) -> bool:
        """Map the cache's page for key at gpn (True), or make gpn's page the cache's
        page for key after writing data into it (False: it was not there)."""
        pm = vm.pmap
        mpn = self._lookup(key)
        if mpn is not None:
            if pm.mpn[gpn] != mpn:
                pm.share_from(gpn, mpn)
                self._charge(vm, gpn, mpn, reason)
            return True
        if gpn in pm.readonly:
            pm.break_sharing(gpn)
        if data is not None:
            pm.write(gpn * PAGE, data)
        mpn = pm.make_readonly(gpn)  # writable mappings of it go
        e = self.ctx.memmap.entries[mpn]
        e.shared_readonly = True
        e.tag = key
        if e.replicas:
            pm.replicated.add(gpn)
        self.pages[key] = mpn
        self.stats["inserts"] += 1
        return False

    def _charge(self, vm: VM, gpn: int, mpn: int, reason: str) -> None:
        self.stats["shares"] += 1
        ctx = self.ctx
        cost = ctx.costs.share_page
        vm.stats.add(StatKind.SHARE, cost)
        ci = ctx.exit_cpu
        if ci >= 0 and cost:
            ctx.cpus[ci].charge(cost)
        ctx.events.emit(EventKind.SHARE, ctx.cycles_at(ci), vm=vm.id,
                        cpu=ci if ci >= 0 else None, pa=gpn << 12, ma=mpn << 12, reason=reason)

    # ---- disk reads ------------------------------------------------------------------

    def transfer(self, vm: VM, disk: VirtualDisk, sector: int, gpa: int, data: bytes) -> bool:
        """A DISK_READ of data (from sector) to guest-physical gpa: True when it was
        done by sharing whole pages, False when the caller must copy it."""
        img = disk.image
        if img.persistent or gpa % PAGE or len(data) % PAGE:
            return False
        if img.dirty and any(s in img.dirty for s in range(sector, sector + len(data) // 512)):
            return False  # this VM's own writes are no one else's
        base = str(img.path)
        for k in range(len(data) // PAGE):
            key = ("disk", base, sector + k * SECTORS_PER_PAGE)
            self._map(vm, gpa // PAGE + k, key, data[k * PAGE:(k + 1) * PAGE], "disk cache")
        return True

    # ---- kernel text --------------------------------------------------------------------

    def share_text(self, vm: VM, ranges: list[tuple[int, int]]) -> None:
        """After loading vm's image: share its whole text pages with other VMs', and
        replicate them to vm's home nodes when the NUMA policy replicates."""
        pm = vm.pmap
        numa = self.numa
        for start, length in ranges:
            first = -(-start // PAGE)
            for gpn in range(first, (start + length) // PAGE):
                digest = hashlib.blake2b(pm.read(gpn * PAGE, PAGE), digest_size=16).digest()
                key = ("text", gpn, digest)
                if self._map(vm, gpn, key, None, "kernel text"):
                    self.stats["text_shares"] += 1
                if numa.replicating:
                    mpn = pm.mpn[gpn]
                    self.stats["text_replicas"] += numa.replicate_all(
                        mpn, list(vm.home_nodes), "kernel text")

    # ---- state ----------------------------------------------------------------------------

    def state(self) -> Section:
        return sections.make(SECTION, VERSION, stats=dict(self.stats),
                             pages=[[sections.listed(k), mpn] for k, mpn in self.pages.items()])

    def load_state(self, section: Section) -> None:
        sec = sections.check(section, SECTION, VERSION, "stats", "pages")
        with sections.loading(SECTION):
            self.pages = {sections.tupled(k): int(mpn) for k, mpn in sec["pages"]}
            self.stats = {k: int(n) for k, n in sec["stats"].items()}
