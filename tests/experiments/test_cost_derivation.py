"""The cost model's measured constants are what bench/cost_derivation.py measures on the
simulated machine, and page_traffic is the stall a cold page's loop really has."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from disco_core.machine import Machine
from disco_core.monitor.costs import page_traffic
from disco_core.presets import preset

ROOT = Path(__file__).resolve().parents[2]


def test_costs_match_their_derivation() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "cost_derivation.py"), "--check"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "page_traffic: matches the measured stall" in out.stdout
    # every field is listed with where its value comes from
    table = out.stdout.split("\n\n", 1)[1].splitlines()
    for name in ("trap", "l2tlb_refill", "zero_page", "net_copy_page"):
        line = next(x for x in table if x.startswith(name + " "))
        assert "measured" in line
    assert "paper Table 3" in next(x for x in table if x.startswith("numa_migrate "))


def test_page_traffic_follows_the_machine() -> None:
    timed = Machine(preset("test", timing=True))
    untimed = Machine(preset("test"))
    small_lines = Machine(preset("test", timing=True, line_bytes=64))
    try:
        assert page_traffic(untimed) == 0          # no caches simulated: no stall
        assert page_traffic(timed) == 32 * timed.config.lat_local   # 128-byte lines
        assert page_traffic(small_lines) == 2 * page_traffic(timed)
        assert page_traffic(timed, 2) == 2 * page_traffic(timed)
    finally:
        for m in (timed, untimed, small_lines):
            m.close()
