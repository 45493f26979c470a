"""The monitor's cost model: simulated cycles charged for each monitor action.

The monitor runs as Python on the host, so its own work takes no simulated
time unless it is charged: every exit handler adds the cycles below to the
CPU with `Cpu.charge`, once per exit, so monitor overhead shows up in the
CPUs' cycle counts the way the paper measured it (Figure 5, Table 2).

Each constant's derivation is in docs/costs.md: measured on the simulated
machine by bench/cost_derivation.py (which `--check`s this table), a figure of
the paper, or an estimate from the handler's instruction count. Work on whole
pages (zeroing, copying, hashing) is charged as its instructions plus its
memory traffic, `page_traffic`: one miss per cache line, in timing mode only,
as the guest's own loop would stall.

The table (200 MHz clock, 5 ns per cycle; "measured" means bench/cost_derivation.py
ran the equivalent MIPS sequence in timing mode, the code in the caches, the
per-VM tables cold where it says so; the trap's own 32 cycles are charged
apart and not counted in the others):

- trap, 32 (measured): exception entry, save 8 registers, decode ExcCode
  through a jump table, step EPC, restore, ERET.
- mfc0_mtc0, 16 (measured): decode the instruction, a virtual CP0 field through
  its write mask into rt's save slot.
- mtc0_side_effects, 40 (estimate; not charged yet: MTC0 is charged mfc0_mtc0).
- tlb_write, 319 (measured): decode, virtual TLB update, pmap lookups for both
  pages, TLBWR, L2TLB insert, back map; pmap, back map and L2TLB cold. Table
  2's "TLB-write emulation" is the largest monitor cost of the fast refill.
- tlbp, 17 (measured): a hashed probe of the virtual TLB. tlbr, 16
  (measured): copy four fields. eret, 11 (measured): clear the virtual EXL,
  set the real mode and EPC. other_privileged, 5 (measured): CACHE, DI, EI,
  WAIT, RDHWR as a read-modify-write of the virtual Status.
- l2tlb_refill, 78 (measured): a hashed lookup and a hardware TLB write without
  entering the guest, the slot's line cold (Table 2's UTLB_MISS costs 0.035 µs,
  7 cycles, natively).
- vtlb_refill, 259 (measured): an L2TLB miss that the guest's own TLB serves:
  the failed lookup, the vTLB probe, pmap lookups, TLBWR, L2TLB insert.
- kernel_tlb_fault, 94 (measured): a relocated-kseg0 miss: the page's pmap
  pair (cold), TLBWR.
- reflect, 16 (measured): write the virtual EPC/Cause/BadVAddr/Context/EntryHi/
  Status and compute the guest's vector.
- monitor_call, 13 (measured): call number, bounds check, jump table, arguments
  and result; a call's own work on pages or transfers is charged apart.
- zero_page, 1121 (measured) + page_traffic: 1024 word stores, a line per
  iteration, to clear 4 KiB (charged per machine page the monitor hands out,
  as "page_fault").
- vcpu_switch, 975 (measured): 35 registers and 8 CP0 registers out and in
  (the two save areas cold), the 64 hardware TLB entries invalidated.
- net_copy_page, 2177 (measured) + page_traffic of two pages: the virtual
  network copying 4 KiB (charged pro rata per byte, at the send into the
  monitor's queue and again at the receive into the guest's buffer).
- net_pin_page, 100 and net_remap_page, 200 (estimates): sending a whole page by
  remapping (a memmap reference, the sender's page made read-only) and
  receiving it (pmap and memmap entries repointed, the old page freed).
- numa_hot_page, 300 (estimate): the hot-page interrupt: the page's row of
  miss counters, its memmap entry, the decision (numa.py).
- numa_migrate, 13400 and numa_replicate, 11400: the paper's measured averages
  (Table 3, Engineering: 67 µs per migration, 57 µs per replication at 200
  MHz), which include the page copy, the TLB shootdown on every CPU that maps
  the page and the pmap/memmap updates.
- numa_collapse, 4000 (estimate): a shootdown of the page's mappings on every
  CPU (an IPI each, ~500 cycles, for up to 8 nodes); no page is copied.
- share_page, 300 (estimate): map a page of the global disk cache (or a page
  found by content) instead of copying it: memmap and pmap updates and the
  shootdown of the VM's old mappings.
- content_scan, 1200 (estimate): hash one 4 KiB page while scanning for
  identical content (an add per word, cached). A measured multiply-xor hash of
  a cold page costs 4866 + page_traffic, which the scanner's default rate (256
  pages per 500 000 cycles, contentshare.py) could not afford: kept until that
  rate is revisited.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

PAGE = 4096


@dataclass(frozen=True)
class CostModel:
    trap: int = 32
    mfc0_mtc0: int = 16
    mtc0_side_effects: int = 40
    tlb_write: int = 319
    tlbp: int = 17
    tlbr: int = 16
    eret: int = 11
    other_privileged: int = 5
    l2tlb_refill: int = 78
    vtlb_refill: int = 259
    kernel_tlb_fault: int = 94
    reflect: int = 16
    monitor_call: int = 13
    zero_page: int = 1121
    vcpu_switch: int = 975
    net_copy_page: int = 2177
    net_pin_page: int = 100
    net_remap_page: int = 200
    numa_hot_page: int = 300
    numa_migrate: int = 13400
    numa_replicate: int = 11400
    numa_collapse: int = 4000
    share_page: int = 300
    content_scan: int = 1200

    @classmethod
    def zero(cls) -> CostModel:
        """Charge nothing (to measure what the monitor adds)."""
        return cls(**{f.name: 0 for f in fields(cls)})


DEFAULT = CostModel()


def page_traffic(machine: Any, pages: float = 1.0) -> int:
    """The memory stall of the monitor streaming `pages` 4 KiB pages through the
    caches: one miss to local memory per line (bench/cost_derivation.py measures
    a cold page's zeroing as exactly its instructions plus this), nothing when
    the machine is not simulating caches. The monitor allocates and copies on
    the CPU's own node, so a miss costs the local latency."""
    if not machine.timing:
        return 0
    cfg = machine.config
    return round(pages * (PAGE // cfg.line_bytes) * cfg.lat_local)
