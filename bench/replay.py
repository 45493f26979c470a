"""Record/replay costs on the default session (docs/recording-format.md).

Prints: record_overhead (throughput recording / not recording, target >= 0.9),
the seek times to 20 random points of a recording of >= 60 simulated seconds of
the default four-VM session with typed workloads (median, max), bytes per
simulated minute, the peak memory of the history; last line
`replay_seek_max_s: X` (target <= 1.0).
"""

from __future__ import annotations

import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disco_core.record.format import build_identity  # noqa: E402
from disco_core.record.recorder import RecordConfig, Recorder, new_session  # noqa: E402
from disco_core.record.replay import Recording, Replayer  # noqa: E402
from disco_core.session import FeedConsole  # noqa: E402

SLICE = 1_000_000
WORKLOADS = [b"pmake 2\n", b"ls src\n", b"ps\n", b"cat README\n"]
SECONDS = 60


def drive(session, seconds: float) -> float:
    """Run until `seconds` simulated seconds, typing workloads at prompts; wall seconds."""
    clock = session.machine.config.clock_hz
    marks = [0] * len(session.guests)
    t = time.perf_counter()
    while max(c.cycles for c in session.machine.cpus) < seconds * clock:
        session.step_slice(SLICE)
        for i, g in enumerate(session.guests):
            found = g.console.output.find(b"$ ", marks[i])
            if found >= 0:
                marks[i] = found + 2
                session.submit(FeedConsole(g.name, WORKLOADS[(i + marks[i]) % 4]))
    return time.perf_counter() - t


def main() -> None:
    config = RecordConfig()
    tmp = Path(tempfile.mkdtemp(prefix="disco-bench-replay-"))
    plain, _ = new_session(config)
    try:
        wall_plain = drive(plain, SECONDS)
        ins_plain = sum(c.instructions for c in plain.machine.cpus)
    finally:
        plain.close()
    session, base = new_session(config)
    try:
        rec = Recorder(session, tmp / "bench.rec", config, base, build_identity())
        wall_rec = drive(session, SECONDS)
        ins_rec = sum(c.instructions for c in session.machine.cpus)
        rec.close()
    finally:
        session.close()
    overhead = (ins_rec / wall_rec) / (ins_plain / wall_plain)
    recording = Recording.open(tmp / "bench.rec")
    info = recording.info()
    print(f"recorded {info['seconds']:.1f} simulated s, {info['inputs']} inputs, "
          f"{info['checkpoints']} checkpoints, {info['size']} bytes")
    print(f"record_overhead: {overhead:.3f}  (plain {ins_plain / wall_plain / 1e6:.2f} M/s, "
          f"recording {ins_rec / wall_rec / 1e6:.2f} M/s)")
    print(f"bytes_per_sim_minute: {info['size'] / info['seconds'] * 60:.0f}")
    replayer = Replayer(recording)
    rng = random.Random(12)
    end = replayer.end_cycles
    times = []
    held = 0
    try:
        for _ in range(20):
            target = rng.randrange(end)
            t = time.perf_counter()
            replayer.seek(target)
            times.append(time.perf_counter() - t)
            held = max(held, recording.held_bytes())
    finally:
        replayer.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"history_peak_bytes: {held} (the recording's chunks and the decompressed "
          f"keyframe held by the replayer); process peak RSS {rss}")
    print(f"replay_seek_median_s: {statistics.median(times):.3f}")
    print(f"replay_seek_max_s: {max(times):.3f}")


if __name__ == "__main__":
    main()
