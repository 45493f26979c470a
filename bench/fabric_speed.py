"""Timing mode versus fast mode: guest MIPS on the same ELF in the same run.

    python bench/fabric_speed.py [--scale N] [--repeat N]

Each benchmark kernel (resources/bench) runs on flash8's CPU 0 in fast
(functional) mode and in timing mode (caches + fabric). Prints per kernel the
instructions, MIPS in each mode, the ratio and the timing run's stall share;
the last line is `timing_vs_fast: X`, the geometric mean of timing/fast MIPS.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disco_core.guest import build_baremetal  # noqa: E402
from disco_core.machine import ExitReason  # noqa: E402
from disco_core.presets import preset  # noqa: E402
from disco_core.testmachine import TestMachine  # noqa: E402

KERNELS = ["intkernel", "memstream", "callheavy"]


def run_once(elf: Path, timing: bool) -> tuple[int, float, int, bytes]:
    tm = TestMachine(config=preset("flash8", timing=timing))
    tm.load_elf(elf)
    start = time.perf_counter()
    result = tm.run_program(20_000_000_000)
    seconds = time.perf_counter() - start
    if result.reason != ExitReason.HALT or result.exit_code != 0:
        raise SystemExit(f"{elf.name}: did not finish cleanly ({result.reason.name})")
    stall = tm.cpus[0].stats()["stall_cycles"]
    return result.instructions, seconds, int(stall), result.output  # type: ignore[arg-type]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=16, help="kernel SCALE (default 16)")
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs per mode")
    args = ap.parse_args()
    ratios = []
    print(f"{'kernel':<10} {'instructions':>13} {'fast MIPS':>10} {'timing MIPS':>12} "
          f"{'ratio':>6} {'stall share':>11}")
    for name in KERNELS:
        elf = build_baremetal(f"bench/{name}", defines={"SCALE": args.scale})
        best = {}
        for timing in (False, True):
            runs = [run_once(elf, timing) for _ in range(args.repeat)]
            n, seconds, stall, out = min(runs, key=lambda r: r[1])
            best[timing] = (n, seconds, stall, out)
        if best[False][3] != best[True][3]:
            raise SystemExit(f"{name}: fast and timing runs printed different output")
        fast = best[False][0] / best[False][1] / 1e6
        slow = best[True][0] / best[True][1] / 1e6
        n, _, stall, _ = best[True]
        ratio = slow / fast
        ratios.append(ratio)
        print(f"{name:<10} {n:>13} {fast:>10.1f} {slow:>12.1f} {ratio:>6.2f} "
              f"{stall / (n + stall):>10.1%}")
    geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print(f"timing_vs_fast: {geo:.2f}")


if __name__ == "__main__":
    main()
