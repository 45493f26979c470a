"""The hardware TLBs, the monitor's alone: installing, removing and flushing entries, and
ASID remapping.

The TLB itself is the record (core_c/hwtlb.c): entries keyed (VPN2, ASID or
GLOBAL), a round robin per CPU shared with the C assists. Which vCPU's
translations a CPU's TLB holds is `owner`. By default guest ASIDs go straight
to the hardware and the TLB is flushed when a CPU switches to another vCPU.
With ASID remapping the hardware sees machine ASIDs, one per (vCPU, guest
ASID), so a switch keeps the other vCPUs' entries and removes only the global
ones (relocated kseg0, register page). Per vCPU, not per VM: a guest kernel
may give one ASID to different processes on different CPUs, and each vCPU
has a virtual TLB of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from disco_core.errors import SnapshotError
from disco_core.mips import EH_ASID, EH_VPN2, ENTRYHI, KSEG0, KSSEG, LO_G
from disco_core.monitor import sections
from disco_core.monitor.context import MonitorContext
from disco_core.monitor.l2tlb import GLOBAL
from disco_core.monitor.sections import Section
from disco_core.monitor.vm import VMCpu

MACHINE_ASIDS = 256
SECTION, VERSION = "hwtlb", 1

Key = tuple[int, int]  # (vpn2_va, asid or GLOBAL)


class HwTlb:
    """Every CPU's hardware TLB as the monitor uses it."""

    def __init__(self, ctx: MonitorContext, asid_remap: bool = False) -> None:
        self.ctx = ctx
        self.cpus = ctx.cpus
        self.tlb_entries = ctx.machine.config.tlb_entries
        self.asid_remap = asid_remap
        self.owner: list[int | None] = [None] * ctx.ncpus  # vCPU gid of the TLB contents
        self.masid: dict[Key, int] = {}  # (vCPU gid, guest ASID) → machine ASID
        self.masid_owner: list[Key | None] = [None] * MACHINE_ASIDS
        self.masid_free = list(range(MACHINE_ASIDS - 1, -1, -1))  # pop() gives 0 first
        self.asid_recycles = 0  # times every machine ASID was in use (every TLB flushed)
        self.switch_flushes = 0  # hardware TLB flushes at vCPU switches

    # ---- entries ------------------------------------------------------------------------

    def install(self, ci: int, vpn2_va: int, asid: int, lo0: int, lo1: int) -> None:
        self.cpus[ci].hw_install(vpn2_va, asid, lo0, lo1)

    def remove(self, ci: int, vpn2_va: int, asid: int) -> None:
        self.cpus[ci].hw_remove(vpn2_va, asid)

    def keys(self, ci: int) -> list[Key]:
        """The keys (vpn2_va, asid or GLOBAL) of CPU ci's installed entries, read from
        the TLB itself: an entry whose EntryHi lies in kseg0/kseg1 is empty."""
        cpu = self.cpus[ci]
        keys = []
        for i in range(self.tlb_entries):
            hi, lo0, lo1, _mask = cpu.tlb(i)
            if hi & KSSEG != KSEG0:  # kseg0/kseg1 (0x80000000-0xBFFFFFFF): empty
                keys.append((hi & EH_VPN2, GLOBAL if lo0 & lo1 & LO_G else hi & EH_ASID))
        return keys

    def remove_if(self, ci: int, pred: Callable[[Key], bool]) -> None:
        """Remove the hardware entries of CPU ci whose key (vpn2_va, asid) pred accepts."""
        for vpn2_va, asid in [k for k in self.keys(ci) if pred(k)]:
            self.remove(ci, vpn2_va, asid)

    def flush(self, ci: int) -> None:
        self.cpus[ci].flush_tlb()

    def of_vcpu(self, gid: int) -> Callable[[Key], bool]:
        """A key predicate: tagged with one of vCPU gid's machine ASIDs (remapping)."""
        owner = self.masid_owner

        def pred(k: Key) -> bool:
            o = owner[k[1]] if k[1] != GLOBAL else None
            return o is not None and o[0] == gid
        return pred

    # ---- switching vCPUs ----------------------------------------------------------------

    def switch_in(self, v: VMCpu, ci: int) -> bool:
        """CPU ci takes vCPU v: make its TLB hold nothing v must not see. True when the
        switch cost a flush (or, remapping, the global entries): the caller charges it.

        The TLB still holds v's translations only if v ran here last: while it ran
        elsewhere the guest may have invalidated entries on that CPU alone."""
        switched = False
        if self.asid_remap:
            if self.owner[ci] != v.gid:
                # the global entries (relocated kseg0, register page) are the last
                # vCPU's: they go; the ASID-tagged entries of every vCPU stay
                self.remove_if(ci, lambda k: k[1] == GLOBAL)
                self.owner[ci] = v.gid
                switched = True
            if v.last_cpu is not None and v.last_cpu != ci:
                # it ran elsewhere since it ran here: what it invalidated there may
                # still be here
                self.remove_if(ci, self.of_vcpu(v.gid))
        elif self.owner[ci] != v.gid or v.last_cpu != ci:
            self.flush(ci)
            self.switch_flushes += 1
            self.owner[ci] = v.gid
            switched = True
        return switched

    def forget_vcpus(self, gids: set[int]) -> None:
        """These vCPUs stopped: nothing of theirs stays in any TLB, nor their machine ASIDs."""
        for ci in range(self.ctx.ncpus):
            if self.owner[ci] in gids:
                self.flush(ci)
                self.owner[ci] = None
        if self.asid_remap:  # its machine ASIDs, and what they tag on every CPU, go
            for key, m in list(self.masid.items()):
                if key[0] in gids:
                    for ci in range(self.ctx.ncpus):
                        self.remove_if(ci, _tagged(m))
                    del self.masid[key]
                    self.masid_owner[m] = None
                    self.masid_free.append(m)

    # ---- ASIDs --------------------------------------------------------------------------

    def sync_asid(self, v: VMCpu, ci: int) -> None:
        """The real EntryHi.ASID for v's current guest ASID."""
        self.cpus[ci].set_cp0(ENTRYHI, self.asid(v, v.cp0.entryhi & EH_ASID))

    def asid(self, v: VMCpu, guest_asid: int) -> int:
        """The ASID the hardware uses for a guest ASID of v: the same, or with
        remapping the machine ASID of (v, guest ASID), allocated on first use."""
        if not self.asid_remap:
            return guest_asid
        key = (v.gid, guest_asid)
        m = self.masid.get(key)
        if m is None:
            if not self.masid_free:
                self._recycle()
                m = self.masid.get(key)  # a running vCPU's current one is back already
            if m is None:
                m = self.masid_free.pop()
                self.masid[key] = m
                self.masid_owner[m] = key
        return m

    def _recycle(self) -> None:
        """Every machine ASID is taken: forget them all and flush every TLB, then
        give the running vCPUs their current ones again."""
        self.asid_recycles += 1
        self.masid.clear()
        self.masid_owner = [None] * MACHINE_ASIDS
        self.masid_free = list(range(MACHINE_ASIDS - 1, -1, -1))
        for ci in range(self.ctx.ncpus):
            self.flush(ci)
            w = self.ctx.current[ci]
            self.owner[ci] = w.gid if w is not None else None
            if w is not None:
                self.sync_asid(w, ci)

    # ---- state --------------------------------------------------------------------------

    def state(self) -> Section:
        """Who owns each TLB and the machine ASIDs (the entries are the machine's)."""
        return sections.make(SECTION, VERSION, asid_remap=self.asid_remap,
                             owner=list(self.owner),
                             masid=[[g, a, m] for (g, a), m in self.masid.items()],
                             masid_free=list(self.masid_free),
                             asid_recycles=self.asid_recycles,
                             switch_flushes=self.switch_flushes)

    def load_state(self, section: Section) -> None:
        sec = sections.check(section, SECTION, VERSION, "asid_remap", "owner", "masid",
                             "masid_free", "asid_recycles", "switch_flushes")
        if bool(sec["asid_remap"]) != self.asid_remap:
            raise SnapshotError(f"the hwtlb section was saved with asid_remap="
                                f"{sec['asid_remap']}; this monitor has {self.asid_remap}")
        with sections.loading(SECTION):
            owner = [None if g is None else int(g) for g in sec["owner"]]
            if len(owner) != self.ctx.ncpus:
                raise SnapshotError(f"the hwtlb section has {len(owner)} CPUs, not "
                                    f"{self.ctx.ncpus}")
            self.owner = owner
            self.masid = {(int(g), int(a)): int(m) for g, a, m in sec["masid"]}
            self.masid_owner = [None] * MACHINE_ASIDS
            for key, m in self.masid.items():
                self.masid_owner[m] = key
            self.masid_free = [int(m) for m in sec["masid_free"]]
            self.asid_recycles = int(sec["asid_recycles"])
            self.switch_flushes = int(sec["switch_flushes"])


def _tagged(masid: int) -> Callable[[Key], bool]:
    """A key predicate: tagged with machine ASID masid."""
    return lambda k: k[1] == masid
