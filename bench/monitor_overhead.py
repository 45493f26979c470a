"""Monitor overhead: simulated cycles under Disco relative to native, and the
monitor's wall-clock exit rate.

    python bench/monitor_overhead.py [--machine PRESET] [--rounds N] [--pages N] [--tlb N]
                                     [--repeat N] [--no-assists]

Part 1, the real workloads (bench/disco_kernel.py's): the guest kernel boots
natively and as one VM under the monitor on the same preset and runs pmake,
engineering, raytrace and database; per workload the simulated cycles from
typing the command to the next prompt, under the monitor relative to native
(native = 100: the paper's Figure 5, where Disco is 103-116). The VM has as
many vCPUs as the machine has CPUs (--vcpus), as in the paper. On flash8,
below 100 is possible: the monitor places a VM's memory on its home nodes
where the native kernel spreads pages round-robin over all nodes (Figure 5
itself is a uniprocessor experiment: `disco experiments run fig5`).

Part 2, a synthetic TLB- and trap-heavy guest: a user program touches --pages
pages per round with a --tlb entry TLB, so the TLB thrashes: natively the
guest's refill handler runs for every miss, under Disco the L2TLB absorbs
them; every round ends with a system call whose handler reads and writes CP0.

Part 3, the same workloads on a disco kernel built with -DDISCO_TRAPS_CP0:
it does not use the register page, so every CP0 access traps as an
unmodified kernel's would (the monitor's exit path under a dense load of
real exits).

Exits are traps into the monitor, whether a C assist served them inside the
core (L2TLB refills, relocated-kseg0 faults, CP0 on the register page:
assist.py) or Python did; both are charged the same simulated cycles. The exit
rate is exits per second of wall-clock time spent in Monitor.run (guest
execution included; process time too, as the host may be shared), best of
--repeat runs, split into those served in C and those served in Python.
`monitor_exits_per_s` is part 3's rate (dense exits: the monitor's own
throughput); the default kernel's rate, split, is printed below it.

Every run's workloads must print their recorded checksums
(tests/guest/checksums.py). The last line, `monitor_wall_overhead: X`, is the
configuration users run: the wall time of the four workloads (from the first
prompt to the last one) in one VM under the monitor, with the default disco
kernel (register page) and the C assists, over the same workloads run
natively on the same preset in the same process, alternately, best of
--repeat each (target: X <= 1.15).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.disco_kernel import WORKLOADS  # noqa: E402
from disco_core.boot import boot, boot_vms  # noqa: E402
from disco_core.guest import assemble  # noqa: E402
from disco_core.kernel import build_kernel  # noqa: E402
from disco_core.machine import ExitReason, Machine  # noqa: E402
from disco_core.monitor import Monitor, VMSpec  # noqa: E402
from disco_core.presets import preset  # noqa: E402
from tests.guest.checksums import expected_line  # noqa: E402

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


class ExitClock:
    """Wall time spent in Monitor.run and the exits (C and Python) it took."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu_seconds = 0.0  # process time: the host may be shared
        self.exits = 0
        self.served_in_c = 0
        real_run = Monitor.run
        clock = self

        def run(mon: Monitor, max_instructions: int = 10**12) -> str:
            before = mon.exits
            c_before = mon.exits_in_c
            t = time.perf_counter()
            p = time.process_time()
            try:
                return real_run(mon, max_instructions)
            finally:
                clock.seconds += time.perf_counter() - t
                clock.cpu_seconds += time.process_time() - p
                clock.exits += mon.exits - before
                clock.served_in_c += mon.exits_in_c - c_before

        Monitor.run = run  # type: ignore[method-assign]
        self._restore = lambda: setattr(Monitor, "run", real_run)

    def close(self) -> None:
        self._restore()

    def rate(self) -> float:
        return self.exits / self.seconds if self.seconds else 0.0

    def c_rate(self) -> float:
        return self.served_in_c / self.seconds if self.seconds else 0.0

    def python_rate(self) -> float:
        return self.rate() - self.c_rate()

    def summary(self) -> str:
        cpu = self.exits / self.cpu_seconds if self.cpu_seconds else 0.0
        return (f"exits: {self.exits} ({self.served_in_c} served in C, "
                f"{self.exits - self.served_in_c} in Python) in {self.seconds:.3f} s wall of "
                f"Monitor.run = {self.rate():.0f} exits/s ({cpu:.0f} per second of process time)")


class PromptClock:
    """When the first shell prompt appeared (wall clock), from the boot's echo."""

    def __init__(self) -> None:
        self.seen = b""
        self.at: float | None = None

    def native(self, data: bytes) -> None:
        self.vm("", data)

    def vm(self, name: str, data: bytes) -> None:
        if self.at is None:
            self.seen += data
            if b"$ " in self.seen:
                self.at = time.perf_counter()


def _timed(run: Callable[[PromptClock], Any]) -> tuple[Any, float]:
    """`run`'s result and the wall seconds from its first prompt to its end (the
    workloads, not the boot)."""
    clock = PromptClock()
    result = run(clock)
    end = time.perf_counter()
    assert clock.at is not None, "no prompt"
    return result, end - clock.at


def _check_results(name: str, output: str) -> None:
    wrong = [w for w in WORKLOADS if expected_line(w) not in output]
    if wrong:
        raise SystemExit(f"{name}: not the recorded results for {', '.join(wrong)}")


class Workloads:
    """Part 1 (or 3): the workloads natively and in one VM, alternately, best of N."""

    def __init__(self, preset: str, repeat: int, assists: bool, vcpus: int,
                 trapping: bool = False) -> None:
        self.kernel = (build_kernel("disco", defines={"DISCO_TRAPS_CP0": None})
                       if trapping else None)
        self.native_wall = self.disco_wall = float("inf")
        self.clock: ExitClock | None = None
        # The same simulations each round, native then disco, on the same machine in the
        # same process: keep each one's fastest (least disturbed) wall time.
        for _ in range(repeat):
            self.native, wall = _timed(lambda c: boot(preset, run=WORKLOADS, echo=c.native))
            self.native_wall = min(self.native_wall, wall)
            clock = ExitClock()
            try:
                self.disco, wall = _timed(lambda c: boot_vms(
                    preset, 1, WORKLOADS, assists=assists, kernel=self.kernel, vcpus=vcpus,
                    echo=c.vm))
            finally:
                clock.close()
            if self.clock is None or clock.seconds < self.clock.seconds:
                self.clock = clock
            self.disco_wall = min(self.disco_wall, wall)
            if self.native.reason != "done" or self.disco.reason != "done":
                raise SystemExit(f"a boot did not finish: native {self.native.reason}, "
                                 f"disco {self.disco.reason}")
            _check_results("native", self.native.output)
            _check_results("disco", self.disco.vms[0].output)

    def report(self, preset: str, vcpus: int, trapping: bool) -> None:
        vm0 = self.disco.vms[0]
        if trapping:
            print(f"part 3: the workloads on {preset} as one VM with {vcpus} vCPUs whose "
                  "kernel traps on every CP0 access (-DDISCO_TRAPS_CP0)")
        else:
            print(f"part 1: the guest kernel's workloads on {preset}, natively and as one VM "
                  f"with {vcpus} vCPUs (the default disco kernel: register page, C assists)")
        print(f"{'workload':16} {'native cycles':>14} {'disco cycles':>14} "
              f"{'disco (native = 100)':>21}")
        for w, n, d in zip(WORKLOADS, self.native.command_cycles, vm0.command_cycles,
                           strict=True):
            print(f"{w:16} {n:>14} {d:>14} {100 * d / n:>21.1f}")
        print(f"{'category':18} {'exits':>10} {'cycles':>14}   (VM 0, boot and workloads)")
        for cat, (count, cycles) in vm0.stats.items():
            print(f"{cat:18} {count:>10} {cycles:>14}")
        assert self.clock is not None
        print(self.clock.summary())
        print(f"wall, first prompt to the last workload's prompt (best of each): native "
              f"{self.native_wall:.3f} s, disco {self.disco_wall:.3f} s")
        print()


def build(kb: int, rounds: int, pages: int) -> bytes:
    done = ("li $v0, 7\n move $a0, $zero\n syscall" if kb == 0xC0000000
            else "97: wait\n b 97b\n nop")
    text = (GUEST.replace("ROUNDS", str(rounds)).replace("PAGES", str(pages))
            .replace("DONE", done))
    return assemble(text, base=kb + 0x1000)


def synthetic(rounds: int, pages: int, tlb: int, assists: bool) -> None:
    pages_needed = 0x10 + 2 + pages + 2
    native = Machine(cpus=1, ram_bytes=16 << 20, tlb_entries=tlb)
    native.write_phys(0x1000, build(0x80000000, rounds, pages))
    native.cpus[0].set_cp0(12, 0)
    native.cpus[0].pc = 0x80001000
    ex = native.run(10**10)
    assert ex.reason == ExitReason.WAIT, ex
    native_cycles = native.cpus[0].cycles

    m = Machine(cpus=1, ram_bytes=16 << 20, tlb_entries=tlb)
    mon = Monitor(m, assists=assists)
    vm = mon.create_vm(VMSpec("bench", memory_pages=pages_needed,
                              image=[(0x1000, build(0xC0000000, rounds, pages))],
                              entry=0xC0001000))
    mon.start_vm(vm)
    clock = ExitClock()
    try:
        reason = mon.run(10**10)
    finally:
        clock.close()
    assert reason == "stopped" and vm.stop_reason == "exit(0)", (reason, vm.stop_reason)
    disco_cycles = m.cpus[0].cycles
    print(f"part 2: synthetic guest, {rounds} rounds x {pages} pages, TLB {tlb} entries")
    print(f"native {native_cycles} cycles, disco {disco_cycles} cycles "
          f"(native = 100: {100 * disco_cycles / native_cycles:.1f})")
    for cat, (count, cycles) in vm.stats.by_category().items():
        if count:
            print(f"  {cat:17s} {count:8d} exits {cycles:10d} cycles")
    print(clock.summary())
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--machine", default="flash8")
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--pages", type=int, default=48)
    ap.add_argument("--tlb", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3,
                    help="run part 1 under the monitor this often; the fastest run counts")
    ap.add_argument("--vcpus", type=int, default=None,
                    help="vCPUs of the VM (default: the preset's CPUs, like for like)")
    ap.add_argument("--no-assists", action="store_true",
                    help="serve every exit in Python (Monitor(assists=False)), for comparison")
    args = ap.parse_args()
    synthetic(args.rounds, args.pages, args.tlb, not args.no_assists)
    repeat = max(args.repeat, 1)
    vcpus = args.vcpus or preset(args.machine).cpus
    default = Workloads(args.machine, repeat, not args.no_assists, vcpus)
    default.report(args.machine, vcpus, False)
    trapping = Workloads(args.machine, repeat, not args.no_assists, vcpus, trapping=True)
    trapping.report(args.machine, vcpus, True)
    assert default.clock is not None and trapping.clock is not None
    c = default.clock
    print(f"monitor_exits_per_s (trapping kernel, part 3): {trapping.clock.rate():.0f}")
    print(f"exits/s on the default kernel (part 1): {c.rate():.0f}, of which served in "
          f"Python {c.python_rate():.0f}, in C {c.c_rate():.0f}")
    print(f"monitor_wall_overhead: {default.disco_wall / default.native_wall:.3f}  (wall time "
          f"of {', '.join(WORKLOADS)} in one VM on {args.machine} over native, same run, "
          f"best of {repeat} each)")

if __name__ == "__main__":
    main()
