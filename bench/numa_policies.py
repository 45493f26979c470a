"""NUMA policies compared: the paper's Figure 8 analogue (PAPER.md §3, docs/numa.md).

    python bench/numa_policies.py [--quick]

Boots the disco kernel as one VM with a vCPU per CPU and runs Engineering on
`flash8` (`engineering 4`: four simulated cycles, past the initialisation) and Raytrace on
`flash16` (`raytrace 96 512`, the NUMA-sensitive texture, with the paper's
256 KiB L2) under each NUMA policy, then on the same machine with every miss at the local
latency (`uma8`, and flash16 made uniform the same way). Prints, per workload,
the workload's simulated time normalised to round-robin placement (= 100), the
share of L2 misses served by local memory, and the manager's moves. The last
line is `migrate_replicate_vs_roundrobin: X` for Engineering (the paper: 67).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disco_core.boot import boot_vms  # noqa: E402
from tests.guest.checksums import expected_line  # noqa: E402

POLICIES = ["round_robin", "first_touch", "migrate", "migrate_replicate", "none"]
UMA = {"lat_remote": 60, "lat_hop": 0, "lat_dirty": 0}  # flash16 at the local latency
# (name, preset, uma preset or overrides, vcpus, command, machine overrides)
WORKLOADS = [
    ("engineering", "flash8", ("uma8", {}), 8, "engineering 4", {}),
    ("raytrace", "flash16", ("flash16", UMA), 16, "raytrace 96 512", {"l2_bytes": 256 * 1024}),
]


def run(preset: str, vcpus: int, command: str, policy: str,
        overrides: dict[str, object]) -> dict[str, object]:
    r = boot_vms(preset, 1, [command], vcpus=vcpus, numa_policy=policy,
                 machine_overrides=overrides)
    if r.reason != "done" or r.invariant_problems:
        raise SystemExit(f"{preset} {command} {policy}: {r.reason} {r.invariant_problems[:3]}")
    if expected_line(command) not in r.vms[0].output:
        raise SystemExit(f"{preset} {command} {policy}: not the recorded result "
                         f"{expected_line(command)!r}")
    w = r.numa["workload"]
    return {**w, "cycles": r.vms[0].command_cycles[0]}  # type: ignore[dict-item]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="Engineering only")
    args = ap.parse_args()
    t0 = time.perf_counter()
    x = None
    for name, preset, (uma, uma_over), vcpus, command, over in WORKLOADS:
        if args.quick and name != "engineering":
            continue
        rows = [(p, run(preset, vcpus, command, p, over)) for p in POLICIES]
        rows.append((f"UMA ({uma})", run(uma, vcpus, command, "round_robin",
                                         {**over, **uma_over})))
        base = rows[0][1]["cycles"]
        print(f"{name}: `{command}` on {preset}, 1 VM x {vcpus} vCPUs")
        print(f"  {'policy':22} {'time':>6} {'local %':>8} {'migr':>6} {'repl':>6} "
              f"{'coll':>6} {'cycles':>12}")
        for p, w in rows:
            norm = 100 * w["cycles"] / base  # type: ignore[operator]
            print(f"  {p:22} {norm:>6.1f} {w['local_percent']:>8.1f} {w['migrations']:>6} "
                  f"{w['replications']:>6} {w['collapses']:>6} {w['cycles']:>12}")
            if name == "engineering" and p == "migrate_replicate":
                x = norm
        print()
    print(f"wall: {time.perf_counter() - t0:.0f} s")
    print(f"migrate_replicate_vs_roundrobin: {x:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
