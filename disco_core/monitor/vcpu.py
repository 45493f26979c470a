"""A virtual CPU: the state Disco keeps per vCPU (paper §2.2, like a process-table entry).

Saved general registers (while the vCPU is off its physical CPU), a full
virtual CP0 with the masks the hardware applies (core_c/cp0.c, MIPS32 PRA
ch. 8), and the virtual TLB: what the guest believes it wrote with
TLBWI/TLBWR, in guest-physical terms. The hardware TLB never holds these
entries as such: the monitor installs machine translations derived from them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from disco_core.errors import SnapshotError
from disco_core.mips import (
    BADVADDR,
    CA_DC,
    CA_IP_SHIFT,
    CA_TI,
    CA_WRITABLE,
    CAUSE,
    COMPARE,
    CONFIG,
    CONTEXT,
    CONTEXT_PTEBASE,
    COUNT,
    EBASE_WRITABLE,
    EH_ASID,
    EH_VPN2,
    ENTRYHI,
    ENTRYLO0,
    ENTRYLO1,
    EPC,
    ERROREPC,
    HWRENA,
    INDEX,
    INDEX_P,
    KSEG0,
    LLADDR,
    LO_WRITABLE,
    PAGEMASK,
    PAGEMASK_MASK,
    PRID,
    RANDOM,
    ST_ERL,
    ST_EXL,
    ST_IE,
    ST_IM,
    ST_KSU,
    ST_KSU_SHIFT,
    ST_WRITABLE,
    STATUS,
    TIMER_IP,
    USERLOCAL_SEL,
    WATCHHI,
    WATCHLO,
    WIRED,
    Mode,
)
from disco_core.monitor import regpage, sections
from disco_core.monitor.l2tlb import L2Tlb
from disco_core.monitor.sections import Section

SECTION, VERSION = "vcpu", 1
CP0_SECTION, CP0_VERSION = "virtual_cp0", 1
# the VirtualCP0 attributes kept outside the register page
_CP0_ATTRS = ("n", "wired", "hwrena", "count_bias", "compare", "prid", "config0", "lladdr",
              "watchlo", "watchhi", "random_step")


class RunState(enum.Enum):
    READY = "ready"  # may be scheduled
    RUNNING = "running"  # on a physical CPU
    WAITING = "waiting"  # executed WAIT (or the idle call): waits for a virtual interrupt
    STOPPED = "stopped"  # its VM is stopped


@dataclass
class TlbEntry:
    """One virtual TLB entry pair as the guest wrote it (guest-physical PFNs)."""

    hi: int = 0
    lo0: int = 0
    lo1: int = 0
    mask: int = 0
    g: int = 0

    def matches(self, va: int, asid: int) -> bool:
        vmask = ~(self.mask | 0x1FFF) & 0xFFFFFFFF
        return ((va ^ self.hi) & vmask) == 0 and bool(self.g or (self.hi & EH_ASID) == asid)

    def lo_for(self, va: int) -> tuple[int, int]:
        """(EntryLo, half size in bytes) of the half of this pair that covers va."""
        half = ((self.mask | 0x1FFF) + 1) >> 1
        return (self.lo1 if va & half else self.lo0), half


def _page_field(i: int) -> property:
    """A VirtualCP0 attribute kept in word i of the register page (regpage.py)."""

    def get(self: VirtualCP0) -> int:
        return self._w[i]

    def put(self: VirtualCP0, v: int) -> None:
        self._w[i] = v & 0xFFFFFFFF

    return property(get, put)


class VirtualCP0:
    """Every CP0 register the guest can reach, with the hardware's write masks.

    The registers without side effects live in the vCPU's register page
    (regpage.py; `words`), the one copy that MFC0/MTC0 emulation and the
    guest's own loads and stores share; the others are plain attributes.

    Count and Random depend on time; `now` is the cycle count of the physical
    CPU the vCPU runs on (Count = now / 2 + bias, as on the R4000 family).
    Random is deterministic but counts TLBWRs instead of cycles: the guest
    cannot tell, and replays do not depend on where monitor exits fell.
    """

    status = _page_field(regpage.STATUS)
    cause = _page_field(regpage.CAUSE)
    epc = _page_field(regpage.EPC)
    badvaddr = _page_field(regpage.BADVADDR)
    entryhi = _page_field(regpage.ENTRYHI)
    entrylo0 = _page_field(regpage.ENTRYLO0)
    entrylo1 = _page_field(regpage.ENTRYLO1)
    context = _page_field(regpage.CONTEXT)
    pagemask = _page_field(regpage.PAGEMASK)
    index = _page_field(regpage.INDEX)
    ebase = _page_field(regpage.EBASE)
    errorepc = _page_field(regpage.ERROREPC)
    userlocal = _page_field(regpage.USERLOCAL)

    def __init__(self, cpunum: int, tlb_entries: int, prid: int = 0x00000900,
                 words: memoryview | None = None) -> None:
        """Reset state; `words` is the register page (zeroed here), else a private one."""
        self._w = words if words is not None else regpage.private_words()
        self._w[:] = _ZERO_PAGE  # a reset zeroes the whole page, reserved words too
        self.n = tlb_entries
        self.index = 0
        self.entrylo0 = self.entrylo1 = 0
        self.context = 0
        self.pagemask = 0
        self.wired = 0
        self.hwrena = 0
        self.badvaddr = 0
        self.count_bias = 0
        self.entryhi = 0
        self.compare = 0
        self.status = 0  # kernel mode, BEV = 0, interrupts off (as dc_cpu_start)
        self.cause = 0
        self.epc = 0
        self.prid = prid
        self.ebase = KSEG0 | cpunum
        self.config0 = (1 << 31) | (1 << 10) | (1 << 7) | 3
        self.lladdr = 0
        self.watchlo = self.watchhi = 0
        self.errorepc = 0
        self.userlocal = 0
        self.random_step = 0

    # ---- state -------------------------------------------------------------------

    def state(self) -> Section:
        """The register page's words and the registers kept beside it."""
        return sections.make(CP0_SECTION, CP0_VERSION,
                             page=[int(w) for w in self._w[:regpage.WORDS]],
                             **{a: getattr(self, a) for a in _CP0_ATTRS})

    def load_state(self, section: Section) -> None:
        sec = sections.check(section, CP0_SECTION, CP0_VERSION, "page", *_CP0_ATTRS)
        with sections.loading(CP0_SECTION):
            page = [int(w) for w in sec["page"]]
            if len(page) != regpage.WORDS:
                raise SnapshotError(f"the virtual CP0 section has {len(page)} register-page "
                                    f"words, not {regpage.WORDS}")
            for i, w in enumerate(page):
                self._w[i] = w
            for a in _CP0_ATTRS:
                setattr(self, a, int(sec[a]))

    # ---- time-derived registers ----------------------------------------------

    def count(self, now: int) -> int:
        if self.cause & CA_DC:  # Count stands still; count_bias holds it (core_c/cp0.c)
            return self.count_bias
        return ((now >> 1) + self.count_bias) & 0xFFFFFFFF

    def random(self) -> int:
        n, w = self.n, self.wired
        if w >= n:
            return n - 1
        return n - 1 - self.random_step % (n - w)

    def timer_deadline(self, now: int) -> int | None:
        """The first cycle after `now` at which Count equals Compare (core_c/cp0.c);
        None while Cause.DC stops Count."""
        if self.cause & CA_DC:
            return None
        k = (self.compare - self.count(now)) & 0xFFFFFFFF
        if k == 0:
            k = 1 << 32
        return ((now >> 1) + k) << 1

    def config1(self) -> int:
        return ((1 << 31) | ((self.n - 1) << 25) | (2 << 22) | (5 << 19) | (1 << 16)
                | (3 << 13) | (4 << 10) | (1 << 7) | (1 << 3))

    # ---- MFC0 / MTC0 ------------------------------------------------------------

    def read(self, reg: int, sel: int, now: int) -> int:
        key = reg * 8 + sel
        if key == COUNT * 8:
            return self.count(now)
        if key == RANDOM * 8:
            return self.random()
        if key == CONFIG * 8 + 1:
            return self.config1()
        attr = _READ.get(key)
        if attr is None:
            return _CONST.get(key, 0)  # unimplemented registers read as zero
        return getattr(self, attr)

    def write(self, reg: int, sel: int, v: int, now: int) -> None:
        """MTC0 with the hardware's masks; read-only registers ignore writes."""
        v &= 0xFFFFFFFF
        key = reg * 8 + sel
        if key == INDEX * 8:
            self.index = (self.index & INDEX_P) | (v & 0x3F)
        elif key == ENTRYLO0 * 8:
            self.entrylo0 = v & LO_WRITABLE
        elif key == ENTRYLO1 * 8:
            self.entrylo1 = v & LO_WRITABLE
        elif key == CONTEXT * 8:
            self.context = (self.context & ~CONTEXT_PTEBASE) | (v & CONTEXT_PTEBASE)
        elif key == PAGEMASK * 8:
            self.pagemask = v & PAGEMASK_MASK
        elif key == WIRED * 8:
            self.wired = (v & 0x3F) if (v & 0x3F) < self.n else self.n - 1
            self.random_step = 0
        elif key == HWRENA * 8:
            self.hwrena = v & 0xF
        elif key == COUNT * 8:
            self.count_bias = v if self.cause & CA_DC else (v - (now >> 1)) & 0xFFFFFFFF
        elif key == ENTRYHI * 8:
            self.entryhi = v & (EH_VPN2 | EH_ASID)
        elif key == COMPARE * 8:
            self.compare = v
            self.cause &= ~(CA_TI | (1 << (CA_IP_SHIFT + TIMER_IP)))  # acknowledges the timer
        elif key == STATUS * 8:
            self.status = (self.status & ~ST_WRITABLE) | (v & ST_WRITABLE)
        elif key == CAUSE * 8:
            count, old = self.count(now), self.cause
            self.cause = (old & ~CA_WRITABLE) | (v & CA_WRITABLE)
            if (old ^ self.cause) & CA_DC:  # Count stops or restarts where it stands
                self.count_bias = count if self.cause & CA_DC else (
                    count - (now >> 1)) & 0xFFFFFFFF
        elif key == EPC * 8:
            self.epc = v
        elif key == PRID * 8 + 1:
            self.ebase = (self.ebase & ~EBASE_WRITABLE) | (v & EBASE_WRITABLE)
        elif key == CONFIG * 8:
            self.config0 = (self.config0 & ~7) | (v & 7)
        elif key == WATCHLO * 8:
            self.watchlo = v
        elif key == WATCHHI * 8:
            self.watchhi = (v & 0x40FF0FF8) | (self.watchhi & 7 & ~v)
        elif key == ERROREPC * 8:
            self.errorepc = v
        elif key == CONTEXT * 8 + USERLOCAL_SEL:
            self.userlocal = v

    # ---- derived state ------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        st = self.status
        if st & (ST_EXL | ST_ERL):
            return Mode.KERNEL
        ksu = (st & ST_KSU) >> ST_KSU_SHIFT
        return Mode.KERNEL if ksu == 0 else (Mode.SUPERVISOR if ksu == 1 else Mode.USER)

    def interrupt_wakes(self) -> bool:
        """A pending, unmasked interrupt (WAIT ends on this regardless of IE)."""
        return bool(self.cause & self.status & ST_IM)

    def interrupt_deliverable(self) -> bool:
        st = self.status
        return bool(st & ST_IE) and not st & (ST_EXL | ST_ERL) and bool(self.cause & st & ST_IM)


_READ = {
    INDEX * 8: "index", ENTRYLO0 * 8: "entrylo0", ENTRYLO1 * 8: "entrylo1",
    CONTEXT * 8: "context", PAGEMASK * 8: "pagemask", WIRED * 8: "wired",
    HWRENA * 8: "hwrena", BADVADDR * 8: "badvaddr", ENTRYHI * 8: "entryhi",
    COMPARE * 8: "compare", STATUS * 8: "status", CAUSE * 8: "cause", EPC * 8: "epc",
    PRID * 8: "prid", PRID * 8 + 1: "ebase", CONFIG * 8: "config0", LLADDR * 8: "lladdr",
    WATCHLO * 8: "watchlo", WATCHHI * 8: "watchhi", ERROREPC * 8: "errorepc",
    CONTEXT * 8 + USERLOCAL_SEL: "userlocal",
}
_ZERO_PAGE = memoryview(bytes(regpage.PAGE_BYTES)).cast("I")
_CONST = {
    STATUS * 8 + 1: TIMER_IP << 29,  # IntCtl.IPTI
    STATUS * 8 + 2: 0,  # SRSCtl: one register set
    CONFIG * 8 + 2: 1 << 31,  # Config2.M: Config3 follows
    CONFIG * 8 + 3: 0,
}


def _opt_int(x: Any) -> int | None:
    return None if x is None else int(x)


@dataclass
class SavedContext:
    """The user-visible registers of a vCPU while it is not on a physical CPU."""

    gpr: list[int] = field(default_factory=lambda: [0] * 32)
    pc: int = 0
    npc: int = 4
    hi: int = 0
    lo: int = 0
    bd: int = 0
    llbit: int = 0


VMT = TypeVar("VMT")


class VCpu(Generic[VMT]):
    """One virtual CPU of a VM (vm.VM; `vm.VMCpu` names the vCPU of a VM)."""

    def __init__(self, vm: VMT, index: int, tlb_entries: int, gid: int,
                 l2tlb: L2Tlb | None = None) -> None:
        self.vm = vm  # the owning VM
        self.index = index  # within its VM: EBase.CPUNum
        self.gid = gid  # monitor-wide id (backmaps, stats)
        self.regpage_mpn: int | None = None  # machine page of the register page, once attached
        # called as on_tlb_write(i, entry) after a guest TLB write (the C assists' mirror)
        self.on_tlb_write: Callable[[int, TlbEntry], None] | None = None
        self._regwords: memoryview | None = None
        self.cp0 = VirtualCP0(index, tlb_entries)
        self.tlb = [TlbEntry() for _ in range(tlb_entries)]
        self.ctx = SavedContext()
        self.state = RunState.READY
        self.cpu: int | None = None  # physical CPU while RUNNING
        self.last_cpu: int | None = None
        self.l2tlb = l2tlb if l2tlb is not None else L2Tlb(0, gid=gid)
        self.wi_written: set[int] = set()  # TLBWI indexes since the last full flush
        # watchdog bookkeeping (simulated cycles this vCPU ran, and at last progress)
        self.ran_cycles = 0
        self.cycles_mark = 0
        self.progress_at = 0
        self.progressed = False
        self.slice_start = 0
        self.deadline: int | None = None  # cycle at which the virtual timer fires

    def attach_regpage(self, mpn: int, words: memoryview) -> None:
        """Keep the virtual CP0 in machine page `mpn` from now on (reset state)."""
        self.regpage_mpn = mpn
        self._regwords = words
        self.cp0 = VirtualCP0(self.index, len(self.tlb), words=words)

    def reset(self, pc: int) -> None:
        n = len(self.tlb)
        self.cp0 = VirtualCP0(self.index, n, words=self._regwords)
        self.tlb = [TlbEntry() for _ in range(n)]
        self.ctx = SavedContext(pc=pc, npc=pc + 4)
        self.state = RunState.READY
        self.cpu = self.last_cpu = None
        self.wi_written = set()
        self.ran_cycles = self.cycles_mark = self.progress_at = 0
        self.progressed = False
        self.deadline = None

    def save_state(self) -> Section:
        """Saved registers, virtual CP0, virtual TLB, run state, timer and watchdog."""
        c = self.ctx
        return sections.make(
            SECTION, VERSION, gid=self.gid, index=self.index, regpage_mpn=self.regpage_mpn,
            cp0=self.cp0.state(), tlb=[[e.hi, e.lo0, e.lo1, e.mask, e.g] for e in self.tlb],
            ctx={"gpr": [int(r) for r in c.gpr], "pc": int(c.pc), "npc": int(c.npc),
                 "hi": int(c.hi), "lo": int(c.lo), "bd": int(c.bd), "llbit": int(c.llbit)},
            run_state=self.state.value, cpu=self.cpu, last_cpu=self.last_cpu,
            wi_written=sorted(self.wi_written), ran_cycles=self.ran_cycles,
            cycles_mark=self.cycles_mark, progress_at=self.progress_at,
            progressed=self.progressed, slice_start=self.slice_start, deadline=self.deadline,
            l2tlb=self.l2tlb.state())

    def load_state(self, section: Section) -> None:
        sec = sections.check(section, SECTION, VERSION, "gid", "index", "regpage_mpn", "cp0",
                             "tlb", "ctx", "run_state", "cpu", "last_cpu", "wi_written",
                             "ran_cycles", "cycles_mark", "progress_at", "progressed",
                             "slice_start", "deadline", "l2tlb")
        ident = (sec["gid"], sec["index"], sec["regpage_mpn"])
        if ident != (self.gid, self.index, self.regpage_mpn):
            raise SnapshotError(f"the vCPU section is of vCPU {ident[0]} (index {ident[1]}, "
                                f"register page {ident[2]}); this is vCPU {self.gid} (index "
                                f"{self.index}, register page {self.regpage_mpn})")
        with sections.loading(SECTION):
            tlb = [TlbEntry(*(int(x) for x in e)) for e in sec["tlb"]]
            if len(tlb) != len(self.tlb):
                raise SnapshotError(f"the vCPU section has a {len(tlb)}-entry TLB, not "
                                    f"{len(self.tlb)}")
            self.cp0.load_state(sec["cp0"])
            self.tlb = tlb
            c = sec["ctx"]
            self.ctx = SavedContext(gpr=[int(r) for r in c["gpr"]], pc=int(c["pc"]),
                                    npc=int(c["npc"]), hi=int(c["hi"]), lo=int(c["lo"]),
                                    bd=int(c["bd"]), llbit=int(c["llbit"]))
            self.state = RunState(sec["run_state"])
            self.cpu = _opt_int(sec["cpu"])
            self.last_cpu = _opt_int(sec["last_cpu"])
            self.wi_written = {int(i) for i in sec["wi_written"]}
            self.ran_cycles = int(sec["ran_cycles"])
            self.cycles_mark = int(sec["cycles_mark"])
            self.progress_at = int(sec["progress_at"])
            self.progressed = bool(sec["progressed"])
            self.slice_start = int(sec["slice_start"])
            self.deadline = _opt_int(sec["deadline"])
            self.l2tlb.load_state(sec["l2tlb"])

    def tlb_match(self, va: int) -> TlbEntry | None:
        asid = self.cp0.entryhi & EH_ASID
        for e in self.tlb:  # TlbEntry.matches, inlined: this runs on every virtual-TLB refill
            hi = e.hi
            if not (va ^ hi) & ~(e.mask | 0x1FFF) & 0xFFFFFFFF and (e.g or hi & EH_ASID == asid):
                return e
        return None

    def __repr__(self) -> str:
        return f"<VCpu {getattr(self.vm, 'name', '?')}.{self.index} {self.state.value}>"

    # ---- the debugger's view: translation without side effects (disco_core.session) ----

    def guest_physical(self, va: int) -> int | None:
        """The guest-physical address the guest's own mappings give virtual `va`: the
        relocated kseg0 (KSSEG + guest PA), else the virtual TLB, else the L2TLB (its
        entries outlive what the guest's TLB still holds); None where nothing valid maps
        it. Counts no L2TLB hit or miss and allocates nothing."""
        from disco_core.mips import KSEG3, KSSEG, KUSEG_END, LO_V, PAGE_SHIFT, lo_pfn
        from disco_core.monitor.l2tlb import GLOBAL, L2Tlb

        va &= 0xFFFFFFFF
        if KSSEG <= va < KSEG3:
            return va - KSSEG
        if va >= KUSEG_END:
            return None
        ent = self.tlb_match(va)
        if ent is not None:
            lo, half = ent.lo_for(va)
            if not lo & LO_V:
                return None
            return ((lo_pfn(lo) << PAGE_SHIFT) & ~(half - 1)) | (va & (half - 1))
        l2 = self.l2tlb
        assert isinstance(l2, L2Tlb), "the VM gives every vCPU its L2TLB"
        vpn = va >> PAGE_SHIFT
        hit = l2.entries.get((vpn, self.cp0.entryhi & EH_ASID)) or l2.entries.get((vpn, GLOBAL))
        return None if hit is None else (hit[1] << PAGE_SHIFT) | (va & 0xFFF)

    def machine_address(self, address: int, space: str, pmap_mpn: list[int]) -> int | None:
        """The machine address behind `address` read in `space` ("virtual": as the guest
        maps it, "physical": guest-physical, "machine"), through the VM's pmap (`pmap_mpn`:
        guest page -> machine page, -1 where none yet). -1 for a guest page the monitor
        has not allocated yet (it reads as zeros); None where nothing maps it."""
        from disco_core.mips import PAGE_SHIFT

        address &= 0xFFFFFFFF
        if space == "machine":
            return address
        gpa = self.guest_physical(address) if space == "virtual" else address
        if gpa is None or gpa >> PAGE_SHIFT >= len(pmap_mpn):
            return None
        mpn = pmap_mpn[gpa >> PAGE_SHIFT]
        return -1 if mpn < 0 else (mpn << PAGE_SHIFT) | (gpa & 0xFFF)

    def l2tlb_rows(self) -> list[tuple[int, int, int, int]]:
        """The L2TLB's entries as (virtual page, ASID or GLOBAL, machine EntryLo, guest
        page), oldest first: a copy for viewers."""
        from disco_core.monitor.l2tlb import L2Tlb

        l2 = self.l2tlb
        assert isinstance(l2, L2Tlb), "the VM gives every vCPU its L2TLB"
        return [(vpn, asid, lo, gpn) for (vpn, asid), (lo, gpn) in l2.entries.items()]
