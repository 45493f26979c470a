"""Content-based page sharing, VMware ESX's way (Waldspurger, OSDI 2002; PAPER.md §6).

The monitor scans guest pages in the background, in a fixed round-robin order
over every VM's backed pages (ESX scans at random; a fixed order keeps runs
deterministic). Each scanned page's 64-bit hash is looked up in one global
table:

- a **shared** frame with that hash: compare the bytes in full and, if equal,
  map the shared frame copy-on-write into the VM and free the VM's page;
- a **hint** (an unshared page seen before with that hash): re-hash the hint
  page (it may have changed since), compare, and if equal make it the shared
  frame (read-only) and map it into the VM as well;
- nothing: the page becomes the hint for its hash.

A store to a shared frame breaks the share (pmap.break_sharing), as with
Disco's sharing. Pages that are already shared or replicated are skipped.
`scan_pages` pages are scanned every `scan_cycles` of simulated time; each
costs `costs.content_scan` cycles and each share `costs.share_page`, charged
to the first idle CPU (else CPU 0), as background work.
"""

from __future__ import annotations

import hashlib
from typing import Any

from disco_core.monitor import sections
from disco_core.monitor.context import MonitorContext
from disco_core.monitor.events import EventKind
from disco_core.monitor.memmap import PAGE
from disco_core.monitor.pmap import NO_PAGE
from disco_core.monitor.sections import Section
from disco_core.monitor.stats import StatKind
from disco_core.monitor.vm import VM

SECTION, VERSION = "contentshare", 1


def page_hash(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


class ContentShare:
    def __init__(self, ctx: MonitorContext, scan_pages: int = 256,
                 scan_cycles: int = 500_000) -> None:
        self.ctx = ctx
        self.scan_pages = scan_pages
        self.scan_cycles = scan_cycles
        self.shared: dict[int, int] = {}  # hash → machine page shared read-only
        self.hints: dict[int, tuple[int, int, int]] = {}  # hash → (VM id, gpn, mpn)
        self.cursor = (0, 0)  # (VM index, guest page) the next scan starts at
        self._next = scan_cycles
        self.stats = {"scanned": 0, "content_shares": 0, "content_frames": 0}

    def moved(self, tag: Any, mpn: int) -> None:
        """The NUMA manager migrated a shared frame (tagged ("content", hash)) to mpn."""
        if isinstance(tag, tuple) and tag[0] == "content" and tag[1] in self.shared:
            self.shared[tag[1]] = mpn

    def tick(self) -> None:
        now = self.ctx.machine_cycles()
        if now < self._next:
            return
        self._next = now + self.scan_cycles
        self.scan(self.scan_pages)

    def scan(self, n: int) -> None:
        """Scan the next n backed pages."""
        vms = [vm for vm in self.ctx.vms if vm.running]
        if not vms:
            return
        vi, gpn = self.cursor
        scanned = tried = 0
        total = sum(vm.pmap.npages for vm in vms)
        while scanned < n and tried < total:
            vi %= len(vms)
            vm = vms[vi]
            if gpn >= vm.pmap.npages:
                vi, gpn = vi + 1, 0
                continue
            tried += 1
            if vm.pmap.mpn[gpn] != NO_PAGE:
                self._scan_page(vm, gpn)
                scanned += 1
            gpn += 1
        self.cursor = (vi, gpn)
        self.stats["scanned"] += scanned
        self._charge(None, scanned * self.ctx.costs.content_scan, StatKind.CONTENT_SCAN)

    def _scan_page(self, vm: VM, gpn: int) -> None:
        pm = vm.pmap
        mm = self.ctx.memmap
        mpn = pm.mpn[gpn]
        e = mm.entries[mpn]
        if e.shared_readonly or e.replicas or gpn in pm.readonly:
            return
        data = mm.machine.read_phys(mpn << 12, PAGE)
        h = page_hash(data)
        frame = self.shared.get(h)
        if frame is not None:
            fe = mm.entries.get(frame)
            if fe is None or fe.tag != ("content", h):
                del self.shared[h]
                frame = None
        if frame is not None:
            if mm.machine.read_phys(frame << 12, PAGE) == data:
                self._share(vm, gpn, frame)
            return
        hint = self.hints.get(h)
        if hint is not None:
            hvm_id, hgpn, hmpn = hint
            hvm = self.ctx.vms[hvm_id]
            he = mm.entries.get(hmpn)
            if ((hvm_id, hgpn) != (vm.id, gpn) and hvm.pmap.mpn[hgpn] == hmpn
                    and he is not None and not he.shared_readonly and not he.replicas
                    and hgpn not in hvm.pmap.readonly
                    and mm.machine.read_phys(hmpn << 12, PAGE) == data):
                hvm.pmap.make_readonly(hgpn)  # the hint becomes a read-only shared frame
                he.shared_readonly = True
                he.tag = ("content", h)
                self.shared[h] = hmpn
                del self.hints[h]
                self.stats["content_frames"] += 1
                self._share(vm, gpn, hmpn)
                return
        self.hints[h] = (vm.id, gpn, mpn)

    def _share(self, vm: VM, gpn: int, frame: int) -> None:
        vm.pmap.share_from(gpn, frame)  # frees the VM's own copy
        self.stats["content_shares"] += 1
        self._charge(vm, self.ctx.costs.share_page, StatKind.SHARE)
        self.ctx.events.emit(EventKind.SHARE, self.ctx.machine_cycles(), vm=vm.id,
                             pa=gpn << 12, ma=frame << 12, reason="same content")

    def _charge(self, vm: VM | None, cycles: int, kind: StatKind) -> None:
        ctx = self.ctx
        if vm is not None:
            vm.stats.add(kind, cycles)
        if cycles:
            idle = [ci for ci in range(ctx.ncpus) if ctx.current[ci] is None]
            ctx.cpus[idle[0] if idle else 0].charge(cycles)

    # ---- state ----------------------------------------------------------------------------

    def state(self) -> Section:
        return sections.make(SECTION, VERSION, scan_pages=self.scan_pages,
                             scan_cycles=self.scan_cycles, cursor=list(self.cursor),
                             next=self._next, stats=dict(self.stats),
                             shared=[[h, mpn] for h, mpn in self.shared.items()],
                             hints=[[h, *hint] for h, hint in self.hints.items()])

    def load_state(self, section: Section) -> None:
        sec = sections.check(section, SECTION, VERSION, "scan_pages", "scan_cycles", "cursor",
                             "next", "stats", "shared", "hints")
        with sections.loading(SECTION):
            self.scan_pages = int(sec["scan_pages"])
            self.scan_cycles = int(sec["scan_cycles"])
            vi, gpn = sec["cursor"]
            self.cursor = (int(vi), int(gpn))
            self._next = int(sec["next"])
            self.stats = {k: int(n) for k, n in sec["stats"].items()}
            self.shared = {int(h): int(mpn) for h, mpn in sec["shared"]}
            self.hints = {int(h): (int(a), int(b), int(c)) for h, a, b, c in sec["hints"]}
