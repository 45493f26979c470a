"""Monitor exit rate and virtualisation overhead on a TLB- and trap-heavy guest.

    python bench/monitor_overhead.py [--rounds N] [--pages N] [--tlb N]

One guest program runs natively (kernel mode at kseg0, its own refill handler)
and under the monitor (supervisor mode at the relocated kseg0). The user
program touches --pages pages per round with a --tlb entry TLB, so the TLB
thrashes: natively the guest's refill handler runs for every miss, under
Disco the L2TLB absorbs them. Every round ends with a system call whose
handler reads and writes CP0 registers (emulated under Disco).

Prints the exits by kind, the wall-clock time per exit split into the
machine's run call (C plus building the Exit records) and the monitor's
Python handling, the simulated cycles natively and under Disco; the last
line is `monitor_exits_per_s: X`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disco_core.guest import assemble  # noqa: E402
from disco_core.machine import ExitReason, Machine  # noqa: E402
from disco_core.monitor import Monitor, VMSpec  # noqa: E402

GUEST = """
start:
    li $t0, 0x80002000
    mtc0 $t0, $15, 1
    mtc0 $zero, $5
    li $t0, 5
    mtc0 $t0, $10
    li $t0, 0x12
    mtc0 $t0, $12
    li $t0, 0x00400000
    mtc0 $t0, $14
    eret
    nop

    .org 0x1000             # refill: VA 0x00400000 + x -> physical 0x10000 + x
    mfc0 $k0, $8
    srl $k0, $k0, 13
    sll $k0, $k0, 13
    li $k1, 0x00400000 - 0x10000
    subu $k0, $k0, $k1
    srl $k0, $k0, 12
    sll $k0, $k0, 6
    ori $k0, $k0, (3 << 3) | 6
    mtc0 $k0, $2
    addiu $k0, $k0, 1 << 6
    mtc0 $k0, $3
    tlbwr
    eret
    nop

    .org 0x1180             # system calls: 1 = next round, 99 = done
    li $k0, 99
    beq $v0, $k0, 9f
    nop
    mfc0 $k0, $12
    mfc0 $k1, $13
    mtc0 $k0, $12
    mfc0 $k1, $14
    addiu $k1, $k1, 4
    mtc0 $k1, $14
    eret
    nop
9:  DONE

    .org 0xF000             # user code (physical 0x10000)
    li $s1, ROUNDS
1:  li $t0, 0x00402000
    li $t1, PAGES
2:  lw $t2, 0($t0)
    addu $t2, $t2, $t1
    sw $t2, 0($t0)
    addiu $t1, $t1, -1
    bnez $t1, 2b
    addiu $t0, $t0, 0x1000
    li $v0, 1
    syscall
    addiu $s1, $s1, -1
    bnez $s1, 1b
    nop
    li $v0, 99
    syscall
    nop
"""


def build(kb: int, rounds: int, pages: int) -> bytes:
    done = ("li $v0, 7\n move $a0, $zero\n syscall" if kb == 0xC0000000
            else "97: wait\n b 97b\n nop")
    text = (GUEST.replace("ROUNDS", str(rounds)).replace("PAGES", str(pages))
            .replace("DONE", done))
    return assemble(text, base=kb + 0x1000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--pages", type=int, default=48)
    ap.add_argument("--tlb", type=int, default=16)
    args = ap.parse_args()
    pages_needed = 0x10 + 2 + args.pages + 2

    native = Machine(cpus=1, ram_bytes=16 << 20, tlb_entries=args.tlb)
    native.write_phys(0x1000, build(0x80000000, args.rounds, args.pages))
    native.cpus[0].set_cp0(12, 0)
    native.cpus[0].pc = 0x80001000
    ex = native.run(10**10)
    assert ex.reason == ExitReason.WAIT, ex
    native_cycles = native.cpus[0].cycles
    native_refills = native.cpus[0].stats()["tlb_refills"]

    m = Machine(cpus=1, ram_bytes=16 << 20, tlb_entries=args.tlb)
    mon = Monitor(m)
    vm = mon.create_vm(VMSpec("bench", memory_pages=pages_needed,
                              image=[(0x1000, build(0xC0000000, args.rounds, args.pages))],
                              entry=0xC0001000))
    mon.start_vm(vm)

    # time the machine's run calls (C + Exit records) apart from the monitor's handling
    in_run = [0.0]
    real_run = m.run_raw

    def timed_run(budget: int):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return real_run(budget)
        finally:
            in_run[0] += time.perf_counter() - t

    m.run_raw = timed_run  # type: ignore[method-assign]
    per_kind: dict[str, float] = defaultdict(float)
    real_handle = mon._handle

    def timed_handle(v, cpu, ci, e):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        kind = real_handle(v, cpu, ci, e)
        per_kind[kind] += time.perf_counter() - t
        return kind

    mon._handle = timed_handle  # type: ignore[method-assign]
    start = time.perf_counter()
    reason = mon.run(10**10)
    wall = time.perf_counter() - start
    assert reason == "stopped" and vm.stop_reason == "exit(0)", (reason, vm.stop_reason)

    # the Exit dataclasses alone: convert the last C exit record again, many times
    n = 20000
    t = time.perf_counter()
    for _ in range(n):
        m._convert(m._exit)
    convert = (time.perf_counter() - t) / n

    exits = mon.exits
    disco_cycles = m.cpus[0].cycles
    print(f"guest: {args.rounds} rounds x {args.pages} pages, TLB {args.tlb} entries")
    print(f"native: {native_cycles} cycles, {native_refills} TLB refills by the guest")
    print(f"disco:  {disco_cycles} cycles ({disco_cycles / native_cycles:.2f}x native), "
          f"monitor charged {vm.stats.total_cycles} cycles")
    for cat, (count, cycles) in vm.stats.by_category().items():
        if count:
            print(f"  {cat:17s} {count:8d} exits {cycles:10d} cycles")
    us = 1e6 / max(exits, 1)
    print(f"exits: {exits} in {wall:.3f} s wall")
    print(f"per exit: {wall * us:.2f} us total = {in_run[0] * us:.2f} us in Machine.run_raw "
          f"(of which ~{convert * 1e6:.2f} us building each Exit record) + "
          f"{(wall - in_run[0]) * us:.2f} us monitor")
    for kind, secs in sorted(per_kind.items(), key=lambda kv: -kv[1]):
        cnt = vm.stats.count.get(kind, 0)
        if cnt:
            print(f"  handle {kind:16s} {cnt:8d} x {secs / cnt * 1e6:6.2f} us")
    print(f"monitor_exits_per_s: {exits / wall:.0f}")


if __name__ == "__main__":
    main()
