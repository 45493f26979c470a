"""Linux boot: wall time from creating the machine to the busybox prompt, the
workbench's core against QEMU booting the same files in the same run.

    python bench/linux_boot.py [--machine test] [--repeat 3]

Both boot Debian's unmodified mips32r2el kernel (fetched by `disco linux
fetch`) with the same initramfs and the same command line through the same UHI
hand-over. The kernel is decompressed once beforehand (not timed; QEMU gets the
decompressed image too). Ours: from creating the Machine (placing the kernel,
the initramfs and the tree in RAM included) to the first prompt on its
ns16550a, on --machine (timing mode as the preset says). QEMU's: from starting
`qemu-system-mipsel -M malta -cpu 24Kc` (disco_core/linux/qemu_ref.py) to the
prompt on its serial port, its process start included. Each is booted
--repeat times, alternately; the figures are the median and range.

Linux under the monitor is not built yet (issue 15, docs/linux.md), so the
one- and four-VM boots on flash8 are reported as not measured.

The last line is `linux_boot_vs_qemu: X` (our median wall / QEMU's; target X <= 1.0).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disco_core.linux.boot import boot_linux  # noqa: E402
from disco_core.linux.fetch import fetch  # noqa: E402
from disco_core.linux.initramfs import build_initramfs  # noqa: E402
from disco_core.linux.qemu_ref import boot_qemu  # noqa: E402
from disco_core.linux.vmlinuz import load_kernel  # noqa: E402


def figure(values: list[float]) -> str:
    return (f"median {statistics.median(values):.3f} s "
            f"(range {min(values):.3f}-{max(values):.3f}, n={len(values)})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--machine", default="test", help="the preset ours boots on (default test)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    files = fetch(log=False)
    t = time.perf_counter()
    image = load_kernel(files.kernel)
    decompress = time.perf_counter() - t
    initrd = build_initramfs(files.busybox)
    print(f"kernel {Path(files.kernel).name}: {image.kind}, {len(image.chunks[0][1]) >> 20} MiB "
          f"decompressed in {decompress:.2f} s (not timed below); initramfs "
          f"{len(initrd) >> 10} KiB")

    ours: list[float] = []
    qemu: list[float] = []
    instructions = 0
    for _ in range(args.repeat):
        r = boot_linux(args.machine, [], kernel=image, initrd=initrd)
        if r.prompt_wall_seconds is None:
            raise SystemExit(f"ours did not reach the prompt ({r.reason}): {r.output[-500:]}")
        ours.append(r.prompt_wall_seconds)
        instructions = r.instructions
        q = boot_qemu(image, initrd)
        qemu.append(q.prompt_wall_seconds)
    print(f"ours ({args.machine}, {instructions / 1e6:.0f} M instructions to the prompt): "
          f"{figure(ours)}")
    print(f"qemu-system-mipsel -M malta -cpu 24Kc: {figure(qemu)}")
    print("one and four Linux VMs under the monitor on flash8: not measured "
          "(Linux under the monitor is not built yet)")
    print(f"linux_boot_vs_qemu: {statistics.median(ours) / statistics.median(qemu):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
