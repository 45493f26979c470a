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


def lookup_body(slot_off: int) -> list[int]:
    """A hashed table lookup as the L2TLB's: hash BadVAddr's VPN2 with the ASID,
    load the slot's tag and compare, load the two EntryLo words."""
    return [mfc0(A1, 8), srl(A1, A1, 13), mfc0(A2, 10), andi(A2, A2, 0xFF),
            xor(A1, A1, A2), andi(A1, A1, 0x3FF), sll(A1, A1, 4),
            *li32(A3, TABLE + slot_off), addu(A3, A3, A1),
            lw(T[0], 0, A3), xor(T[0], T[0], A2), lw(T[0], 4, A3), lw(T[1], 8, A3)]


def tlb_write_body() -> list[int]:
    return [mtc0(T[0], 2), mtc0(T[1], 3), ehb(), tlbwr()]


def run_all() -> dict[str, Measured]:
    out: dict[str, Measured] = {}
    b = Bench(timing=True)
    try:
        def cold_pages() -> None:
            b.cold(PAGE_A, PAGE)
            b.cold(PAGE_B, PAGE)

        out["zero_page (cold page)"] = b.run(zero_page_code(), {A0: PAGE_A}, cold_pages)
        out["copy_page (both cold)"] = b.run(copy_page_code(), {A0: PAGE_A, A1: PAGE_B},
                                             cold_pages)
        out["hash_page (cold page)"] = b.run(hash_page_code(), {A0: PAGE_A}, cold_pages)
        out["trap round trip"] = measure_trap(b, [])
        out["l2tlb lookup + tlbwr, table warm"] = measure_trap(
            b, lookup_body(0x1000) + tlb_write_body())
        out["l2tlb lookup + tlbwr, table cold"] = measure_trap(
            b, lookup_body(0x1000) + tlb_write_body(), (TABLE + 0x1000, 0x4000))
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
    measured = {
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
