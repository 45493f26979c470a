"""Reverse execution, who-wrote and their costs on a long recording (docs/reverse.md).

    python bench/reverse.py [--seconds S] [--samples N]

Records S (default 60) simulated seconds of the default session (four VMs on
flash8, one vCPU each, migrate+replicate, Disco's sharing) with workloads
typed into the VMs at their prompts (one every 5 simulated seconds per VM at
most: ls, ps, ls src, pmake 1), with the recorder's own checkpoint spacing.
Then, on a replay of it: the wall time of reverse-continue to the previous hit
of a breakpoint (`sys_read`, any VM) from N points at random distances back
from the end (median and max), of a reverse step of the vCPU stopped there,
and of who-wrote for a page-sized guest-virtual range (the page of vm0's
`ticks`) over the whole recording. Last line: `reverse_continue_max_s: X`
(target: X <= 2.0).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disco_core.mips import PAGE_SIZE  # noqa: E402
from disco_core.record.format import build_identity  # noqa: E402
from disco_core.record.recorder import RecordConfig, Recorder, new_session  # noqa: E402
from disco_core.record.replay import Recording, Replayer  # noqa: E402
from disco_core.record.reverse import BreakSpec, Reverse  # noqa: E402
from disco_core.record.whowrote import who_wrote  # noqa: E402
from disco_core.session import FeedConsole  # noqa: E402

WORKLOADS = ["ls", "ps", "ls src", "pmake 1"]
EVERY = 5.0  # simulated seconds between two commands typed into one VM


def record(path: Path, seconds: float) -> tuple[float, int]:
    config = RecordConfig()
    s, base = new_session(config)
    recorder = Recorder(s, path, config, base, build_identity())
    limit = int(seconds * s.machine.config.clock_hz)
    marks = [0] * len(s.guests)
    typed = [0] * len(s.guests)
    last = [-EVERY] * len(s.guests)
    clock = s.machine.config.clock_hz
    t0 = time.perf_counter()
    try:
        while (now := max(c.cycles for c in s.machine.cpus)) < limit:
            for i, g in enumerate(s.guests):
                found = g.console.output.find(b"$ ", marks[i])
                if found >= 0 and now / clock - last[i] >= EVERY:
                    last[i] = now / clock
                    marks[i] = found + 2
                    text = WORKLOADS[(typed[i] + i) % len(WORKLOADS)]
                    s.submit(FeedConsole(g.name, text.encode() + b"\n"))
                    typed[i] += 1
            s.step_slice(1_000_000)
        recorder.close()
    finally:
        s.close()
    return time.perf_counter() - t0, recorder.checkpoints


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--samples", type=int, default=10)
    args = ap.parse_args()
    rng = random.Random(13)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "session.rec"
        wall, checkpoints = record(path, args.seconds)
        recording = Recording.open(path)
        end = recording.end["cycles"] if recording.end else 0
        clock = int(recording.header["clock_hz"])
        print(f"recorded {end / clock:.1f} simulated s in {wall:.1f} s wall: "
              f"{len(recording.ops)} operations, {checkpoints} checkpoints, "
              f"{path.stat().st_size / 2**20:.1f} MiB")
        rp = Replayer(recording)
        try:
            rv = Reverse(rp)
            rv.add_breakpoint(BreakSpec("sys_read"))
            rc: list[float] = []
            steps: list[float] = []
            for _ in range(args.samples):
                back = rng.random()
                rv.run_back_to(int(end * (1 - back)))
                t = time.perf_counter()
                hit = rv.reverse_continue()
                rc.append(time.perf_counter() - t)
                where = "the start" if hit is None else f"cycle {hit.cycles}"
                print(f"  from {back * 100:5.1f} % back: reverse-continue to {where} "
                      f"in {rc[-1]:.3f} s")
                if hit is not None:
                    t = time.perf_counter()
                    rv.reverse_step(hit.target)
                    steps.append(time.perf_counter() - t)
            rv.settle()
            rp.seek_op(0)
            ticks = rp.session.resolve("ticks") & ~(PAGE_SIZE - 1)
            t = time.perf_counter()
            writes = who_wrote(rp, ticks, PAGE_SIZE, "gva", rp.session.guests[0].name)
            ww = time.perf_counter() - t
        finally:
            rp.close()
    print(f"reverse_continue_median_s: {statistics.median(rc):.3f}")
    if steps:
        print(f"reverse_step_median_s: {statistics.median(steps):.3f}  "
              f"max: {max(steps):.3f}")
    print(f"who_wrote_page_s: {ww:.2f} ({len(writes)} writes over the whole recording)")
    print(f"reverse_continue_max_s: {max(rc):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
