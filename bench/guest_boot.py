"""The native guest kernel: simulated cycles and wall time to the shell prompt,
and for each workload, on a preset machine (default flash8).

    python bench/guest_boot.py [--machine flash8] [--repeat N] [--no-workloads]

The kernel and the root image are built first (not timed). Boot time is the
best of --repeat boots, from creating the machine to the first "$ " prompt
(measured at the granularity of disco_core.boot's run slices). Each workload
then runs once, typed at the shell, on its own boot. The last line is
`boot_to_prompt_wall_s: X`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disco_core.boot import boot  # noqa: E402
from disco_core.kernel import build_kernel  # noqa: E402

WORKLOADS = ["pmake 16", "engineering 2", "raytrace 32", "database 2"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--machine", default="flash8")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-workloads", action="store_true")
    args = ap.parse_args()

    from disco_core.fsimage import build_root_image

    build_kernel()
    with tempfile.TemporaryDirectory(prefix="guest-boot-") as tmp:
        image = build_root_image(Path(tmp) / "root.img")
        best = None
        for _ in range(args.repeat):
            r = boot(args.machine, run=[], disk_image=image, persistent=False)
            assert r.reason == "done", r.output
            if best is None or (r.prompt_wall_seconds or 0) < (best.prompt_wall_seconds or 0):
                best = r
        assert best is not None and best.prompt_wall_seconds is not None
        print(f"{args.machine}: boot to prompt: {best.prompt_cycles} cycles "
              f"({(best.prompt_cycles or 0) / 200e6 * 1e3:.2f} ms simulated at 200 MHz), "
              f"{best.prompt_wall_seconds:.3f} s wall")
        if not args.no_workloads:
            print(f"{'workload':<16} {'cycles':>12} {'instructions':>13} {'wall s':>8} "
                  f"{'MIPS':>7}  result")
            for cmd in WORKLOADS:
                t = time.perf_counter()
                r = boot(args.machine, run=[cmd], disk_image=image, persistent=False)
                wall = time.perf_counter() - t
                lines = [ln for ln in r.output.splitlines() if "checksum" in ln]
                print(f"{cmd:<16} {r.command_cycles[0] if r.command_cycles else -1:>12} "
                      f"{r.instructions:>13} {wall:>8.2f} {r.instructions / wall / 1e6:>7.1f}  "
                      f"{lines[-1] if lines else r.reason}")
        print(f"boot_to_prompt_wall_s: {best.prompt_wall_seconds:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
