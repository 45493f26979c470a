"""Derive the monitor's cost model (disco_core/monitor/costs.py) on the simulated machine.

    python bench/cost_derivation.py [--check]

The monitor is Python on the host, so its work is charged, not executed. Each
constant measured here is the cycles an equivalent MIPS sequence takes on the
simulated uniprocessor (the `test` preset, R10000-like: 32 KiB L1s, 1 MiB L2,
128-byte lines, 300 ns memory) in timing mode, from its first instruction to
its last, the code already in the caches (the monitor's handlers are hot) and
the data as stated per sequence. docs/costs.md lists each sequence and says
which constants are composed from these and which are the paper's figures.

Prints one line per measured sequence (`name: cycles (instructions, stall)`)
and then every CostModel field with its value and its derivation; with
`--check`, exits 1 if costs.DEFAULT differs from what is derived here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disco_core.machine import ExitReason, Machine  # noqa: E402
from disco_core.monitor.costs import DEFAULT, CostModel  # noqa: E402
from disco_core.presets import preset  # noqa: E402

# Addresses in kseg0 (cached, unmapped), apart modulo the caches' way size (16 KiB
# for the L1s, 512 KiB for the L2) so that code, stack and tables never evict each other.
CODE = 0x80101000
VECTOR = 0x80000180      # the general exception vector with EBase = 0x80000000
FRAME = 0x80208000       # the handler's save area
TABLE = 0x8030C000       # a monitor table (a jump table, then the L2TLB's slots)
PAGE_A = 0x80420000      # pages to zero, copy or hash
PAGE_B = 0x80530000
VCPU = TABLE + 0x400     # a vCPU's virtual CP0 registers, then their write masks
VTLB = TABLE + 0x800     # the virtual TLB: 64 entries of 16 bytes
L2TLB = TABLE + 0x1000   # the L2TLB's 1024 slots of 16 bytes
PMAP = 0x80640000        # a VM's pmap: one EntryLo word per guest page
BACKMAP = 0x80750000     # the pmap's back map (who maps a machine page)
VSAVE = 0x80760000       # two vCPUs' saved registers (a vCPU switch)
PAGE = 4096

# registers
ZERO, AT, V0, A0, A1, A2, A3 = 0, 1, 2, 4, 5, 6, 7
T = list(range(8, 16))   # t0..t7
K0, K1, SP = 26, 27, 29


# ---- a minimal MIPS32 encoder: only what the sequences below use ---------------------

def _r(rs: int, rt: int, rd: int, sa: int, funct: int, op: int = 0) -> int:
    return (op << 26) | (rs << 21) | (rt << 16) | (rd << 11) | (sa << 6) | funct


def _i(op: int, rs: int, rt: int, imm: int) -> int:
    return (op << 26) | (rs << 21) | (rt << 16) | (imm & 0xFFFF)


def addiu(rt: int, rs: int, imm: int) -> int:
    return _i(0x09, rs, rt, imm)


def andi(rt: int, rs: int, imm: int) -> int:
    return _i(0x0C, rs, rt, imm)


def lui(rt: int, imm: int) -> int:
    return _i(0x0F, 0, rt, imm)


def ori(rt: int, rs: int, imm: int) -> int:
    return _i(0x0D, rs, rt, imm)


def lw(rt: int, off: int, base: int) -> int:
    return _i(0x23, base, rt, off)


def sw(rt: int, off: int, base: int) -> int:
    return _i(0x2B, base, rt, off)


def addu(rd: int, rs: int, rt: int) -> int:
    return _r(rs, rt, rd, 0, 0x21)


def xor(rd: int, rs: int, rt: int) -> int:
    return _r(rs, rt, rd, 0, 0x26)


def sltiu(rt: int, rs: int, imm: int) -> int:
    return _i(0x0B, rs, rt, imm)


def and_(rd: int, rs: int, rt: int) -> int:
    return _r(rs, rt, rd, 0, 0x24)


def or_(rd: int, rs: int, rt: int) -> int:
    return _r(rs, rt, rd, 0, 0x25)


def sll(rd: int, rt: int, sa: int) -> int:
    return _r(0, rt, rd, sa, 0x00)


def srl(rd: int, rt: int, sa: int) -> int:
    return _r(0, rt, rd, sa, 0x02)


def jr(rs: int) -> int:
    return _r(rs, 0, 0, 0, 0x08)


def syscall() -> int:
    return 0x0000000C


def nop() -> int:
    return 0


def mfc0(rt: int, rd: int) -> int:
    return (0x10 << 26) | (0 << 21) | (rt << 16) | (rd << 11)


def mtc0(rt: int, rd: int) -> int:
    return (0x10 << 26) | (4 << 21) | (rt << 16) | (rd << 11)


def tlbwr() -> int:
    return 0x42000006


def tlbwi() -> int:
    return 0x42000002


def eret() -> int:
    return 0x42000018


def ehb() -> int:
    return 0x000000C0


def beq_fwd(rs: int, rt: int, skip: int) -> int:
    """A forward branch over the `skip` words after its delay slot."""
    return _i(0x04, rs, rt, skip)


def bne(rs: int, rt: int, back_to: int, at: int) -> int:
    """A branch at word index `at` back to word index `back_to`."""
    return _i(0x05, rs, rt, back_to - (at + 1))


def li32(rt: int, value: int) -> list[int]:
    return [lui(rt, value >> 16), ori(rt, rt, value & 0xFFFF)]


# ---- running a sequence ---------------------------------------------------------------

@dataclass(frozen=True)
class Measured:
    cycles: int
    instructions: int
    stall: int


class Bench:
    """One timed uniprocessor in kernel mode, running sequences placed at CODE."""

    def __init__(self, timing: bool = True) -> None:
        self.m = Machine(preset("test", timing=timing))
        self.cpu = self.m.cpus[0]
        self.cpu.set_cp0(12, 0)                   # kernel mode, BEV = 0, EXL = 0
        self.cpu.set_cp0(15, 0x80000000, sel=1)   # EBase: vectors at 0x80000000

    def close(self) -> None:
        self.m.close()

    def place(self, va: int, words: list[int]) -> int:
        self.m.write_phys(va & 0x1FFFFFFF, b"".join(w.to_bytes(4, "little") for w in words))
        return va + 4 * len(words)

    def cold(self, va: int, n: int) -> None:
        """Drop [va, va + n) from every cache: the next access misses to memory."""
        self.m.flush_caches(va & 0x1FFFFFFF, n)

    def run(self, words: list[int], regs: dict[int, int] | None = None,
            before: Callable[[], None] | None = None, warm: bool = True) -> Measured:
        end = self.place(CODE, words)
        self.m.add_breakpoint(end)
        runs = 2 if warm else 1   # the first run brings the code into the caches
        got = Measured(0, 0, 0)
        for _ in range(runs):
            for r, v in (regs or {}).items():
                self.cpu.gpr[r] = v
            if before is not None:
                before()
            self.cpu.pc = CODE
            s0 = self.m.cpu_stats_table()[0]
            ex = self.m.run(10_000_000)
            if ex.reason != ExitReason.BREAKPOINT or self.cpu.pc != end:
                raise RuntimeError(f"sequence stopped at {self.cpu.pc:#x}: {ex.reason.name}")
            s1 = self.m.cpu_stats_table()[0]
            got = Measured(int(s1["cycles"] - s0["cycles"]),
                           int(s1["instructions"] - s0["instructions"]),
                           int(s1["stall_cycles"] - s0["stall_cycles"]))
        self.m.remove_breakpoint(end)
        return got


# ---- the sequences ---------------------------------------------------------------------

def zero_page_code() -> list[int]:
    """a0 = page: one cache line (32 stores) per iteration."""
    w = [addiu(T[1], A0, PAGE)]
    top = len(w)
    w += [sw(ZERO, 4 * k, A0) for k in range(32)]
    w += [addiu(A0, A0, 128)]
    w += [bne(A0, T[1], top, len(w)), nop()]
    return w


def guest_memset_code() -> list[int]:
    """The guest kernel's own memset loop as its compiler emits it (string.c at -O2):
    sw, addiu, bne and an empty delay slot per word. For comparison only."""
    w = [addiu(T[1], A0, PAGE)]
    top = len(w)
    w += [sw(ZERO, 0, A0), addiu(A0, A0, 4)]
    w += [bne(A0, T[1], top, len(w)), nop()]
    return w


def copy_page_code() -> list[int]:
    """a0 = source, a1 = destination: eight words in registers at a time."""
    w = [addiu(T[1], A0, PAGE)]
    top = len(w)
    regs = [T[0], T[2], T[3], T[4], T[5], T[6], T[7], A2]
    for g in range(4):        # four groups of eight words: one 128-byte line
        w += [lw(r, 32 * g + 4 * k, A0) for k, r in enumerate(regs)]
        w += [sw(r, 32 * g + 4 * k, A1) for k, r in enumerate(regs)]
    w += [addiu(A0, A0, 128), addiu(A1, A1, 128)]
    w += [bne(A0, T[1], top, len(w)), nop()]
    return w


def hash_page_code() -> list[int]:
    """a0 = page: h = h * 33 ^ word over its 1024 words, unrolled by four."""
    w = [addiu(T[1], A0, PAGE), addiu(V0, ZERO, 5381)]
    top = len(w)
    for k in range(4):
        w += [lw(T[0], 4 * k, A0), sll(T[2], V0, 5), addu(V0, V0, T[2]), xor(V0, V0, T[0])]
    w += [addiu(A0, A0, 16)]
    w += [bne(A0, T[1], top, len(w)), nop()]
    return w


# The real ERET below returns to the measuring code, so a body's write of the real EPC
# goes to ErrorEPC instead: the same MTC0, without losing the way back.
EPC_STANDIN = 30

SAVED = 8   # registers a monitor exit handler saves and restores (its temporaries)


def trap_handler(body: list[int]) -> list[int]:
    """The general vector: save SAVED registers, decode Cause's ExcCode through a
    jump table, run `body`, step EPC past the trapping instruction, restore, ERET."""
    regs = [AT, V0, A0, A1, A2, A3, T[0], T[1]][:SAVED]
    w = li32(K1, FRAME)
    w += [sw(r, 4 * i, K1) for i, r in enumerate(regs)]
    w += [mfc0(K0, 13), andi(K0, K0, 0x7C)]      # Cause.ExcCode * 4
    w += li32(A0, TABLE)
    w += [addu(A0, A0, K0), lw(A0, 0, A0), jr(A0), nop()]
    # the jump table's entry for Sys lands here (its address is patched in below)
    w += body
    w += [mfc0(K0, 14), addiu(K0, K0, 4), mtc0(K0, 14)]
    w += [lw(r, 4 * i, K1) for i, r in enumerate(regs)]
    w += [eret()]
    return w


def measure_trap(b: Bench, body: list[int], data: tuple[int, int] | None = None) -> Measured:
    """A syscall from kernel code into trap_handler(body) and back; `data` (va, n)
    is the monitor data made cold before the trap (None: everything warm)."""
    handler = trap_handler(body)
    body_at = VECTOR + 4 * (len(li32(K1, 0)) + SAVED + 2 + 2 + 4)
    b.place(VECTOR, handler)
    b.m.write_phys((TABLE & 0x1FFFFFFF) + 8 * 4, body_at.to_bytes(4, "little"))  # ExcCode 8
    b.cpu.set_cp0(12, 0)

    def before() -> None:
        b.cpu.set_cp0(12, 0)
        if data is not None:
            b.cold(*data)

    return b.run([syscall(), nop()], before=before)


def measure_trap_cold(b: Bench, body: list[int], cold: Callable[[], None]) -> Measured:
    """measure_trap with several ranges made cold before the trap."""
    handler = trap_handler(body)
    body_at = VECTOR + 4 * (len(li32(K1, 0)) + SAVED + 2 + 2 + 4)
    b.place(VECTOR, handler)
    b.m.write_phys((TABLE & 0x1FFFFFFF) + 8 * 4, body_at.to_bytes(4, "little"))

    def before() -> None:
        b.cpu.set_cp0(12, 0)
        cold()

    return b.run([syscall(), nop()], before=before)


def lookup_body(slot_off: int) -> list[int]:
    """A hashed table lookup as the L2TLB's: hash BadVAddr's VPN2 with the ASID,
    load the slot's tag and compare, load the two EntryLo words."""
    return [mfc0(A1, 8), srl(A1, A1, 13), mfc0(A2, 10), andi(A2, A2, 0xFF),
            xor(A1, A1, A2), andi(A1, A1, 0x3FF), sll(A1, A1, 4),
            *li32(A3, TABLE + slot_off), addu(A3, A3, A1),
            lw(T[0], 0, A3), xor(T[0], T[0], A2), lw(T[0], 4, A3), lw(T[1], 8, A3)]


def tlb_write_body() -> list[int]:
    return [mtc0(T[0], 2), mtc0(T[1], 3), ehb(), tlbwr()]


def decode_body() -> list[int]:
    """Fetch the trapping instruction at EPC and pull out its rt and rd fields."""
    return [mfc0(K0, 14), lw(A1, 0, K0), srl(A2, A1, 16), andi(A2, A2, 0x1F),
            srl(A3, A1, 11), andi(A3, A3, 0x1F)]


def cp0_move_body() -> list[int]:
    """MFC0/MTC0 emulated: decode, index the virtual CP0 array by rd, merge the
    field through its write mask, store the result in rt's save slot."""
    return [*decode_body(), sll(A3, A3, 2), *li32(T[0], VCPU), addu(T[0], T[0], A3),
            lw(T[1], 0, T[0]), lw(T[2], 0x100, T[0]), and_(T[1], T[1], T[2]),
            sll(A2, A2, 2), addu(A2, A2, K1), sw(T[1], 0, A2)]


def tlbr_body() -> list[int]:
    """TLBR emulated: the virtual Index picks a vTLB entry, four words copied to
    the virtual EntryHi, EntryLo0, EntryLo1 and PageMask."""
    w = [*li32(T[0], VCPU), lw(T[1], 0, T[0]), andi(T[1], T[1], 0x3F), sll(T[1], T[1], 4),
         *li32(T[2], VTLB), addu(T[2], T[2], T[1])]
    for k in range(4):
        w += [lw(T[3], 4 * k, T[2]), sw(T[3], 8 + 4 * k, T[0])]
    return w


def tlbp_body() -> list[int]:
    """TLBP emulated: the virtual EntryHi's VPN2 hashed into the vTLB's 64-bucket
    index (kept beside the vTLB), the one candidate entry compared, Index written."""
    return [*li32(T[0], VCPU), lw(T[1], 8, T[0]), srl(T[2], T[1], 13), andi(T[2], T[2], 0x3F),
            *li32(T[3], VTLB + 0x400), addu(T[3], T[3], T[2]), lw(T[4], 0, T[3]),
            sll(T[4], T[4], 4), *li32(T[5], VTLB), addu(T[5], T[5], T[4]), lw(T[6], 0, T[5]),
            xor(T[6], T[6], T[1]), sltiu(T[6], T[6], 1), sw(T[4], 0, T[0])]


def eret_body() -> list[int]:
    """ERET emulated: clear the virtual EXL, pick the real mode for the guest's
    virtual mode, load the virtual EPC into the real one."""
    return [*li32(T[0], VCPU), lw(T[1], 12, T[0]), addiu(T[2], ZERO, -3),
            and_(T[1], T[1], T[2]), sw(T[1], 12, T[0]), andi(T[3], T[1], 0x18),
            sltiu(T[3], T[3], 1), lw(T[4], 16, T[0]), mtc0(T[4], EPC_STANDIN), sw(T[3], 20, T[0])]


def privileged_body() -> list[int]:
    """DI/EI/CACHE/WAIT emulated: a read-modify-write of the virtual Status."""
    return [*li32(T[0], VCPU), lw(T[1], 12, T[0]), ori(T[1], T[1], 1), sw(T[1], 12, T[0])]


def reflect_body() -> list[int]:
    """An exception reflected to the guest: virtual EPC, Cause, BadVAddr, Context,
    EntryHi and Status written, the guest's vector computed from its EBase."""
    w = [*li32(T[0], VCPU), mfc0(T[1], 14), mfc0(T[2], 13), mfc0(T[3], 8)]
    w += [sw(T[1], 16, T[0]), sw(T[2], 24, T[0]), sw(T[3], 28, T[0]), sw(T[3], 32, T[0]),
          sw(T[3], 36, T[0]), lw(T[4], 12, T[0]), ori(T[4], T[4], 2), sw(T[4], 12, T[0]),
          lw(T[5], 40, T[0]), addiu(T[5], T[5], 0x180), mtc0(T[5], EPC_STANDIN)]
    return w


def pmap_body(cold_line: int) -> list[int]:
    """A pmap lookup: the guest page number of a guest EntryLo indexes the VM's
    pmap; the machine PFN merged with the guest's protection bits."""
    return [*li32(T[0], PMAP + cold_line), lw(T[1], 0, T[0]), andi(T[2], T[1], 0x3F),
            srl(T[1], T[1], 6), sll(T[1], T[1], 6), or_(T[1], T[1], T[2])]


def l2tlb_insert_body() -> list[int]:
    """Insert into the L2TLB slot the hash picks: tag, EntryLo0, EntryLo1."""
    return [mfc0(A1, 10), srl(A2, A1, 13), andi(A2, A2, 0x3FF), sll(A2, A2, 4),
            *li32(A3, L2TLB + 0x800), addu(A3, A3, A2), sw(A1, 0, A3), sw(T[0], 4, A3),
            sw(T[1], 8, A3)]


def backmap_body() -> list[int]:
    """Record the mapping in the back map: append (vCPU, vTLB index) to the page's list."""
    return [*li32(T[0], BACKMAP), lw(T[1], 0, T[0]), sll(T[2], T[1], 3), addu(T[2], T[2], T[0]),
            sw(A1, 4, T[2]), sw(A2, 8, T[2]), addiu(T[1], T[1], 1), sw(T[1], 0, T[0])]


def vtlb_update_body() -> list[int]:
    """The virtual TLB entry written: four words at the virtual Index."""
    w = [*li32(T[0], VCPU), lw(T[1], 0, T[0]), andi(T[1], T[1], 0x3F), sll(T[1], T[1], 4),
         *li32(T[2], VTLB), addu(T[2], T[2], T[1])]
    w += [lw(T[3], 8 + 4 * k, T[0]) for k in range(4)]
    w += [sw(T[3], 4 * k, T[2]) for k in range(4)]
    return w


def tlb_write_emulation() -> list[int]:
    """TLBWI/TLBWR emulated: decode, vTLB update, two pmap lookups (even and odd
    page), hardware TLB write, L2TLB insert, back map."""
    return [*decode_body(), *vtlb_update_body(), *pmap_body(0x0), *pmap_body(0x4),
            *tlb_write_body(), *l2tlb_insert_body(), *backmap_body()]


def vtlb_refill_emulation() -> list[int]:
    """An L2TLB miss the guest's TLB serves: the failed L2TLB lookup, a probe of the
    virtual TLB, the pmap lookups, the hardware write and the L2TLB insert."""
    return [*lookup_body(0x1000), *tlbp_body(), *pmap_body(0x0), *pmap_body(0x4),
            *tlb_write_body(), *l2tlb_insert_body()]


def kernel_fault_emulation() -> list[int]:
    """A relocated-kseg0 miss: the guest page from BadVAddr, its pmap entry (both
    halves of the pair), a hardware TLB write."""
    return [mfc0(A1, 8), srl(A1, A1, 12), sll(A1, A1, 2), *li32(T[0], PMAP),
            addu(T[0], T[0], A1), lw(T[1], 0, T[0]), lw(T[2], 4, T[0]),
            srl(T[1], T[1], 6), sll(T[1], T[1], 6), *tlb_write_body()]


def monitor_call_body() -> list[int]:
    """A monitor call: the call number from the saved v0, a bounds check, a jump
    table dispatch (to the next instruction: the call's own work is charged apart
    where it is a page or a transfer), the result stored in the saved v0."""
    return [lw(A1, 4, K1), sltiu(A2, A1, 64), andi(A1, A1, 0x3F), sll(A1, A1, 2),
            *li32(A3, TABLE + 0x200), addu(A3, A3, A1), lw(A3, 0, A3), lw(T[0], 8, K1),
            lw(T[1], 12, K1), lw(T[2], 16, K1), addu(T[0], T[0], T[1]), sw(T[0], 4, K1)]


def vcpu_switch_code() -> list[int]:
    """Out with one vCPU, in with another: 35 registers (32 GPRs, HI, LO, pc) and 8
    CP0 registers saved and loaded, and the 64-entry hardware TLB invalidated."""
    w = [*li32(A0, VSAVE), *li32(A1, VSAVE + 0x400)]
    w += [sw(r, 4 * r, A0) for r in range(1, 32) if r not in (A0, A1)]
    w += [sw(ZERO, 4 * (32 + k), A0) for k in range(4)]
    for k, reg in enumerate((12, 14, 10, 4, 5, 6, 9, 11)):
        w += [mfc0(T[0], reg), sw(T[0], 0x100 + 4 * k, A0)]
    for k, reg in enumerate((12, 14, 10, 4, 5, 6, 9, 11)):
        w += [lw(T[0], 0x100 + 4 * k, A1), mtc0(T[0], reg)]
    w += [lw(r, 4 * r, A1) for r in range(8, 26)]
    w += [lw(T[0], 4 * k, A1) for k in range(32, 36)]
    w += [lw(r, 4 * r, A1) for r in (2, 3, 28, 29, 30, 31)]
    # the TLB flush: an entry that can never match into each of the 64
    w += [mtc0(ZERO, 2), mtc0(ZERO, 3), addiu(T[1], ZERO, 0), addiu(T[2], ZERO, 64),
          *li32(T[3], 0x80000000)]
    top = len(w)
    w += [mtc0(T[1], 0), mtc0(T[3], 10), ehb(), tlbwi(), addiu(T[3], T[3], 0x2000),
          addiu(T[1], T[1], 1)]
    w += [bne(T[1], T[2], top, len(w)), nop()]
    return w


def run_all() -> dict[str, Measured]:
    out: dict[str, Measured] = {}
    b = Bench(timing=True)
    try:
        def cold_pages() -> None:
            b.cold(PAGE_A, PAGE)
            b.cold(PAGE_B, PAGE)

        out["zero_page (cold page)"] = b.run(zero_page_code(), {A0: PAGE_A}, cold_pages)
        out["guest memset (cold page)"] = b.run(guest_memset_code(), {A0: PAGE_A}, cold_pages)
        out["copy_page (both cold)"] = b.run(copy_page_code(), {A0: PAGE_A, A1: PAGE_B},
                                             cold_pages)
        out["hash_page (cold page)"] = b.run(hash_page_code(), {A0: PAGE_A}, cold_pages)
        out["trap round trip"] = measure_trap(b, [])
        out["l2tlb lookup + tlbwr, table warm"] = measure_trap(
            b, lookup_body(0x1000) + tlb_write_body())
        out["l2tlb lookup + tlbwr, table cold"] = measure_trap(
            b, lookup_body(0x1000) + tlb_write_body(), (L2TLB, 0x4000))
        out["mfc0/mtc0 emulation"] = measure_trap(b, cp0_move_body())
        out["tlbr emulation"] = measure_trap(b, tlbr_body())
        out["tlbp emulation"] = measure_trap(b, tlbp_body())
        out["eret emulation"] = measure_trap(b, eret_body())
        out["di/ei/cache/wait emulation"] = measure_trap(b, privileged_body())
        out["reflect to the guest"] = measure_trap(b, reflect_body())
        # the per-VM tables (pmap, back map, L2TLB) are cold: the guest ran since
        tables = [(PMAP, 0x1000), (BACKMAP, 0x1000), (L2TLB, 0x4000)]

        def cold_tables() -> None:
            for t in tables:
                b.cold(*t)

        out["tlbwi/tlbwr emulation"] = measure_trap_cold(b, tlb_write_emulation(), cold_tables)
        out["vtlb refill"] = measure_trap_cold(b, vtlb_refill_emulation(), cold_tables)
        out["kernel tlb fault"] = measure_trap_cold(b, kernel_fault_emulation(), cold_tables)
        out["monitor call"] = measure_trap(b, monitor_call_body())
        out["vcpu switch (save areas cold)"] = b.run(
            vcpu_switch_code(), before=lambda: b.cold(VSAVE, 0x800))
    finally:
        b.close()
    b = Bench(timing=False)
    try:
        out["zero_page (no timing)"] = b.run(zero_page_code(), {A0: PAGE_A})
    finally:
        b.close()
    return out


# The constants not measured here: the paper's figures, and estimates (the
# instruction count of the handler costs.py describes, its data assumed in the
# caches). docs/costs.md gives each one's reasoning.
PAPER = {
    "numa_migrate": "paper Table 3: 67 us per migration (Engineering) at 200 MHz",
    "numa_replicate": "paper Table 3: 57 us per replication (Engineering) at 200 MHz",
}


def derive(m: dict[str, Measured]) -> dict[str, tuple[int, str]]:
    """Every CostModel field: (value, how it is derived)."""
    trap = m["trap round trip"].cycles
    refill = m["l2tlb lookup + tlbwr, table cold"].cycles
    def inside(name: str) -> int:
        return m[name].cycles - trap

    measured = {
        "mfc0_mtc0": (inside("mfc0/mtc0 emulation"), "measured: decode the instruction, "
                      "a virtual CP0 field through its mask into rt's slot, minus the trap"),
        "tlbr": (inside("tlbr emulation"), "measured: four vTLB words into the virtual "
                 "registers, minus the trap"),
        "tlbp": (inside("tlbp emulation"), "measured: a hashed probe of the vTLB (one "
                 "candidate compared), minus the trap"),
        "eret": (inside("eret emulation"), "measured: virtual EXL cleared, real mode and "
                 "EPC set, minus the trap"),
        "other_privileged": (inside("di/ei/cache/wait emulation"), "measured: a "
                             "read-modify-write of the virtual Status, minus the trap"),
        "reflect": (inside("reflect to the guest"), "measured: six virtual CP0 registers "
                    "written, the guest's vector from its EBase, minus the trap"),
        "tlb_write": (inside("tlbwi/tlbwr emulation"), "measured: decode, vTLB update, "
                      "two pmap lookups, TLBWR, L2TLB insert, back map; tables cold; "
                      "minus the trap"),
        "vtlb_refill": (inside("vtlb refill"), "measured: failed L2TLB lookup, hashed vTLB probe, "
                        "two pmap lookups, TLBWR, L2TLB insert; tables cold; minus the trap"),
        "kernel_tlb_fault": (inside("kernel tlb fault"), "measured: the pmap pair of the "
                             "kseg0 page (cold) and a TLBWR, minus the trap"),
        "monitor_call": (inside("monitor call"), "measured: call number, bounds check, "
                         "jump table, arguments and result in the frame, minus the trap"),
        "vcpu_switch": (m["vcpu switch (save areas cold)"].cycles, "measured: 35 registers "
                        "and 8 CP0 registers out and in (save areas cold), 64 TLB entries "
                        "invalidated"),
        "trap": (trap, "measured: trap round trip (syscall, save 8 registers, decode "
                       "through a jump table, step EPC, restore, ERET)"),
        "l2tlb_refill": (refill - trap, "measured: hashed L2TLB lookup and TLBWR inside the "
                                        "trap, the slot's line cold, minus the trap"),
        "zero_page": (m["zero_page (no timing)"].cycles,
                      "measured: the zeroing loop's instructions; its misses are charged "
                      "by costs.page_traffic (one local miss per line)"),
        "net_copy_page": (m["copy_page (both cold)"].instructions,
                          "measured: the copy loop's instructions; plus page_traffic of "
                          "two pages"),
    }
    out: dict[str, tuple[int, str]] = {}
    for f in fields(CostModel):
        if f.name in measured:
            out[f.name] = measured[f.name]
        elif f.name in PAPER:
            out[f.name] = (getattr(DEFAULT, f.name), PAPER[f.name])
        else:
            out[f.name] = (getattr(DEFAULT, f.name), "estimate: instruction count of the "
                                                     "handler (docs/costs.md)")
    return out


def check_traffic(m: dict[str, Measured]) -> str | None:
    """page_traffic is what the cold page's loop stalled, or the model is wrong."""
    from disco_core.monitor.costs import page_traffic

    b = Bench(timing=True)
    try:
        one = page_traffic(b.m)
    finally:
        b.close()
    checks = {"zero_page (cold page)": 1, "copy_page (both cold)": 2, "hash_page (cold page)": 1}
    for name, pages in checks.items():
        if m[name].stall != pages * one:
            return f"{name}: stalled {m[name].stall}, page_traffic says {pages * one}"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if costs.DEFAULT differs from the derivation")
    args = ap.parse_args()
    m = run_all()
    for name, r in m.items():
        print(f"{name:36} {r.cycles:>7} cycles ({r.instructions} instructions, "
              f"{r.stall} stall)")
    print()
    bad = []
    for name, (value, how) in derive(m).items():
        now = getattr(DEFAULT, name)
        mark = "" if now == value else f"   (costs.py has {now})"
        if now != value:
            bad.append(name)
        print(f"{name:18} {value:>7}  {how}{mark}")
    wrong = check_traffic(m)
    if wrong:
        print(f"page_traffic does not match the measured stall: {wrong}")
        return 1
    print("page_traffic: matches the measured stall of the three page loops")
    if args.check and bad:
        print(f"costs.py differs from the derivation: {', '.join(bad)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
