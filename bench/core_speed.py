"""Our CPU core versus unicorn: guest MIPS on the same ELF in the same run.

    python bench/core_speed.py [--scale N] [--repeat N] [--kernels a,b]

Each benchmark kernel (resources/bench) is built once, then run on the test
machine (disco_core.testmachine) and on unicorn with the same memory map
(disco_core.unicorn_testmachine), best of --repeat runs per side. Only the
run itself is timed, not building, machine creation or loading. Both sides
execute the same instructions, so the count measured on our core serves for
both. Prints per kernel the instructions, each side's MIPS and our/unicorn;
the last line is `core_speed_vs_unicorn: X`, the geometric mean of the ratios.
Exits 1 if the two sides printed different output (the speeds are then
meaningless).
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
from disco_core.testmachine import TestMachine  # noqa: E402
from disco_core.unicorn_testmachine import UnicornTestMachine  # noqa: E402

KERNELS = ["intkernel", "memstream", "callheavy"]
MAX_INSTRUCTIONS = 20_000_000_000


def run_ours(elf: Path) -> tuple[int, float, bytes]:
    tm = TestMachine(cpus=1)
    tm.load_elf(elf)
    start = time.perf_counter()
    result = tm.run_program(MAX_INSTRUCTIONS)
    seconds = time.perf_counter() - start
    if result.reason != ExitReason.HALT or result.exit_code != 0:
        raise SystemExit(
            f"{elf.name}: our core did not finish cleanly ({result.reason.name}, "
            f"exit code {result.exit_code})"
        )
    return result.instructions, seconds, result.output


def run_unicorn(elf: Path) -> tuple[float, bytes]:
    uc = UnicornTestMachine()
    uc.load_elf(elf)
    result = uc.run()  # times emu_start alone
    if result.reason != "halt" or result.exit_code != 0:
        raise SystemExit(
            f"{elf.name}: unicorn did not finish cleanly ({result.reason}, "
            f"exit code {result.exit_code})"
        )
    return result.seconds, result.output


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=None,
                    help="kernel SCALE (default: the kernels' own, 50-300 M instructions)")
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs per side (default 3)")
    ap.add_argument("--kernels", default=",".join(KERNELS),
                    help=f"comma-separated kernels (default {','.join(KERNELS)})")
    args = ap.parse_args()
    kernels = [k for k in args.kernels.split(",") if k]
    defines = {"SCALE": args.scale} if args.scale is not None else None

    # Build everything first so no compile time lands inside a measurement.
    elfs = {name: build_baremetal(f"bench/{name}", defines=defines) for name in kernels}

    ratios = []
    mismatched = []
    print(f"{'kernel':<10} {'instructions':>13} {'our MIPS':>9} {'unicorn MIPS':>13} "
          f"{'ratio':>6}  output")
    for name, elf in elfs.items():
        ours = [run_ours(elf) for _ in range(args.repeat)]
        counts = {n for n, _, _ in ours}
        if len(counts) != 1:
            raise SystemExit(f"{name}: our core ran {sorted(counts)} instructions in "
                             "different runs of the same program (nondeterminism)")
        instructions = counts.pop()
        our_seconds = min(s for _, s, _ in ours)
        our_output = ours[0][2]

        theirs = [run_unicorn(elf) for _ in range(args.repeat)]
        uc_seconds = min(s for s, _ in theirs)
        uc_output = theirs[0][1]

        same = our_output == uc_output
        if not same:
            mismatched.append(name)
        our_mips = instructions / our_seconds / 1e6
        uc_mips = instructions / uc_seconds / 1e6
        ratios.append(our_mips / uc_mips)
        print(f"{name:<10} {instructions:>13,} {our_mips:>9.1f} {uc_mips:>13.1f} "
              f"{ratios[-1]:>6.2f}  {'same' if same else 'DIFFERENT'}: "
              f"{our_output.decode(errors='replace').strip()}")

    if mismatched:
        print(f"our core and unicorn printed different output for {', '.join(mismatched)}: "
              "a core bug; the speeds above are meaningless", file=sys.stderr)
    else:
        print("console output: identical on both sides for every kernel")
    geomean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print(f"core_speed_vs_unicorn: {geomean:.2f}")
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
