"""Running a session without a window: for benchmarks and scripts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from disco_core.session.session import Session


@dataclass
class Throughput:
    """Guest instructions over wall time, for benchmarks."""

    instructions: int = 0
    seconds: float = 0.0
    samples: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.instructions / self.seconds if self.seconds else 0.0


def run_headless(session: Session, seconds: float, budget: int = 1_000_000,
                 snapshot_every: float = 0.0) -> Throughput:
    """Run slices for `seconds` of wall time on this thread (optionally taking snapshots)."""
    result = Throughput()
    start = time.monotonic()
    last_snap = start
    first = session.snapshot().instructions
    while True:
        now = time.monotonic()
        if now - start >= seconds:
            break
        session.step_slice(budget)
        if snapshot_every and now - last_snap >= snapshot_every:
            session.snapshot()
            last_snap = now
    end = session.snapshot()
    result.instructions = end.instructions - first
    result.seconds = time.monotonic() - start
    return result
