"""The guest kernel natively and as one VM under the monitor: the paper's
virtualisation overhead (§5.2) on the four small workloads.

    python bench/disco_kernel.py [--machine PRESET] [--vms N] [--asid-remap]

Boots the native kernel and then the disco flavour (N VMs, every one running
the same commands) on the same preset, types each workload at the shell and
prints, per workload, the simulated cycles from typing it to the next prompt
natively and in VM 0, their ratio, and VM 0's monitor exits by the paper's
categories. The last line is `disco_overhead_geomean: X` (cycles under Disco
over cycles natively, geometric mean over the workloads). Before it, totals
over all VMs: vCPU switches, TLB refills the monitor served, and simulated
cycles; `--asid-remap` runs the monitor with ASID remapping, to compare.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disco_core.boot import boot, boot_vms  # noqa: E402
from tests.guest.checksums import expected_line  # noqa: E402

WORKLOADS = ["pmake 4", "engineering 1", "raytrace 8", "database 1"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--machine", default="flash8")
    ap.add_argument("--vms", type=int, default=1)
    ap.add_argument("--asid-remap", action="store_true",
                    help="machine ASIDs per (vCPU, guest ASID) instead of a flush per switch")
    args = ap.parse_args()

    t = time.perf_counter()
    native = boot(args.machine, run=WORKLOADS)
    t_native = time.perf_counter() - t
    t = time.perf_counter()
    disco = boot_vms(args.machine, args.vms, WORKLOADS,
                     monitor_options={"asid_remap": args.asid_remap})
    t_disco = time.perf_counter() - t
    if native.reason != "done" or disco.reason != "done":
        print(f"a boot did not finish: native {native.reason}, disco {disco.reason}")
        return 1
    for name, out in [("native", native.output)] + [(v.name, v.output) for v in disco.vms]:
        wrong = [w for w in WORKLOADS if expected_line(w) not in out]
        if wrong:
            print(f"{name}: not the recorded results for {', '.join(wrong)}")
            return 1
    vm0 = disco.vms[0]
    print(f"{'workload':16} {'native cycles':>14} {'disco cycles':>14} {'ratio':>7}")
    ratios = []
    for w, n, d in zip(WORKLOADS, native.command_cycles, vm0.command_cycles, strict=True):
        ratios.append(d / n)
        print(f"{w:16} {n:>14} {d:>14} {d / n:>7.2f}")
    print()
    print(f"{'category':18} {'exits':>10} {'cycles':>14}   (VM 0, boot and workloads)")
    for cat, (count, cycles) in vm0.stats.items():
        print(f"{cat:18} {count:>10} {cycles:>14}")
    print()
    def total(*kinds: str) -> int:
        return sum(v.exits.get(k, (0, 0))[0] for v in disco.vms for k in kinds)

    print(f"all VMs: switches {total('switch')}, refills {total('l2tlb_refill', 'vtlb_refill')}, "
          f"cycles {disco.cycles} (asid_remap={args.asid_remap})")
    print(f"wall: native {t_native:.1f} s, disco ({args.vms} VMs) {t_disco:.1f} s")
    geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print(f"disco_overhead_geomean: {geo:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
