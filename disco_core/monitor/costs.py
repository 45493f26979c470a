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

Rationale (200 MHz clock, 5 ns per cycle; paper §2 and Table 2):

- trap, 32 (measured): exception entry, save 8 registers, decode ExcCode
  through a jump table, step EPC, restore, ERET: 32 instructions, all hits.
- mfc0_mtc0, 15: load/store of a virtual CP0 field plus its mask.
- mtc0_side_effects, 40 (not yet separate: MTC0 is charged mfc0_mtc0):
  Status/Cause/Compare/EntryHi re-derive mode, timer, ASID, interrupts.
- tlb_write, 150: virtual TLB update, pmap lookup and protection merge,
  hardware TLB write, L2TLB insert, backmap. Table 2's "TLB-write
  emulation" is the largest monitor cost of the fast refill (1.22 of 1.35).
- tlbp, 70: a software probe of the 64-entry virtual TLB, L2TLB purge.
- tlbr, 20: copy four fields. eret, 25: restore the real mode and pc.
- other_privileged, 15: CACHE, DI, EI, WAIT, RDHWR.
- l2tlb_refill, 78 (measured): a hashed lookup and a hardware TLB write without
  entering the guest, 18 instructions and one miss on the table's slot (the
  monitor's table is not in the guest's caches); Table 2's UTLB_MISS costs
  0.035 µs, 7 cycles, natively.
- vtlb_refill, 90: an L2TLB miss that the guest's own TLB serves: virtual
  TLB search, pmap lookup, hardware and L2TLB writes.
- kernel_tlb_fault, 60: a relocated-kseg0 miss: pmap lookup, TLB write.
- reflect, 50: write the virtual EPC/Cause/BadVAddr/Context/EntryHi/Status
  and jump to the guest's vector.
- monitor_call, 80: decode the call number, dispatch, return a value.
- zero_page, 1121 (measured) + page_traffic: 1024 word stores, a line per
  iteration, to clear 4 KiB (charged per machine page the monitor hands out,
  as "page_fault").
- vcpu_switch, 400: save/restore 35 registers and the CP0 state the
  hardware needs, flush the hardware TLB.
- net_copy_page, 2177 (measured) + page_traffic of two pages: the virtual
  network copying 4 KiB (a load and a store per word; charged pro rata per byte, at the send into
  the monitor's queue and again at the receive into the guest's buffer).
- net_pin_page, 100: sending a whole page by remapping: a memmap reference,
  the sender's page made read-only (its writable TLB entries shot down).
- net_remap_page, 200: receiving it: the receiver's pmap and memmap entries
  point at the sent machine page, its old page is freed and shot down. Both
  together cost about a seventh of copying the page twice (vnet.py).
- numa_hot_page, 300: the hot-page interrupt: read the page's row of
  miss counters, look up the memmap entry, decide (numa.py).
- numa_migrate, 13400 and numa_replicate, 11400: the paper's measured
  averages (Table 3, Engineering: 67 µs per migration, 57 µs per
  replication at 200 MHz), which include the page copy, the TLB shootdown
  on every CPU that maps the page and the pmap/memmap updates.
- numa_collapse, 4000: not measured in the paper; a shootdown of the page's
  mappings on every CPU (an IPI each, ~500 cycles, for up to 8 nodes) plus
  freeing the copies; no page is copied.
- share_page, 300: map a page of the global disk cache (or a page found by
  content) into a VM instead of copying it: a memmap and pmap update and the
  shootdown of the VM's old mappings of that guest page.
- content_scan, 1200 (estimate): hash one 4 KiB page while scanning for
  identical content (ESX's background scan; an add per word over 1024 words,
  cached). A measured multiply-xor hash of a cold page costs 4866 + page_traffic
  (bench/cost_derivation.py), which the scanner's default rate (256 pages per
  500 000 cycles, contentshare.py) could not afford: kept until that rate is
  revisited.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

PAGE = 4096


@dataclass(frozen=True)
class CostModel:
    trap: int = 32
    mfc0_mtc0: int = 15
    mtc0_side_effects: int = 40
    tlb_write: int = 150
    tlbp: int = 70
    tlbr: int = 20
    eret: int = 25
    other_privileged: int = 15
    l2tlb_refill: int = 78
    vtlb_refill: int = 90
    kernel_tlb_fault: int = 60
    reflect: int = 50
    monitor_call: int = 80
    zero_page: int = 1121
    vcpu_switch: int = 400
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
