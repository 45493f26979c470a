"""Determinism of the app's default session: four VMs under the monitor on flash8.

The session `disco-workbench` opens (`default_session()`: timing mode, the NUMA
manager's default policy, Disco's disk-cache sharing) is booted to its shells with
fixed slices, given a workload per VM, then run in slices. Running it in the
slices hypothesis chooses (as the app's adaptive budget does) must reach the
state that one run of the same total reaches, and two identical runs must be
identical: the whole machine (CPUs, RAM, caches and directory), the monitor's
every section, and what each VM printed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disco_core.session import Session
from disco_core.session.factories import default_session
from tests.guest.checksums import expected_line

BOOT_SLICE = 500_000
# One workload per VM; the budget below stops the run while they are all still busy.
WORK = ["engineering 1", "raytrace 16 64", "pmake 2", "echo hi"]
BUDGET = 4_000_000
FINISH = 80_000_000  # enough for all four to finish


def _booted() -> Session:
    s = default_session()
    assert s.machine.timing and s.monitor is not None
    assert s.monitor.numa.policy == "migrate_replicate" and s.monitor.sharing == "disco"
    while not all(bytes(g.console.output).endswith(b"$ ") for g in s.guests):
        s.step_slice(BOOT_SLICE)
    for g, command in zip(s.guests, WORK, strict=True):
        g.console.feed(command.encode() + b"\n")
    return s


def _fingerprint(s: Session) -> tuple[Any, ...]:
    assert s.monitor is not None
    section = s.monitor.state()
    for vm in section["vms"]:
        # The counts per kind, not the order the kinds were first counted in: that
        # order follows when the C assists' counts are folded in (at a slice's end).
        vm["stats"]["kinds"] = sorted(vm["stats"]["kinds"])
    # The disk cache names its image by path; each session has its own temporary one.
    state = re.sub(r"'[^']*disco-workbench-[^']*'", "'<root image>'", repr(section))
    return (s.machine.digest(), hashlib.sha256(state.encode()).hexdigest()[:16],
            [bytes(g.console.output) for g in s.guests], s.running, s.halted)


def _run(slices: list[int]) -> tuple[Any, ...]:
    s = _booted()
    try:
        for budget in slices:
            s.step_slice(budget)
        return _fingerprint(s)
    finally:
        s.close()


@pytest.fixture(scope="module")
def whole() -> Iterator[tuple[Any, ...]]:
    yield _run([BUDGET])


def test_two_identical_runs_are_identical(whole: tuple[Any, ...]) -> None:
    assert _run([BUDGET]) == whole


def test_the_workloads_finish_with_their_checksums_and_deterministically() -> None:
    a, b = _run([BUDGET, FINISH]), _run([BUDGET, FINISH])
    assert a == b
    for out, command in zip(a[2], WORK, strict=True):
        tail = out.decode().split(command + "\n", 1)[1]
        expected = "hi" if command == "echo hi" else expected_line(command)
        assert tail == expected + "\n$ ", (command, tail)


@settings(max_examples=8, deadline=None, derandomize=True)
@given(st.lists(st.integers(1, BUDGET // 2), min_size=1, max_size=6))
def test_slicing_the_run_does_not_change_the_state(whole: tuple[Any, ...],
                                                    cuts: list[int]) -> None:
    # Slices of hypothesis' sizes, the last one making up the same total.
    slices: list[int] = []
    for c in cuts:
        if sum(slices) + c >= BUDGET:
            break
        slices.append(c)
    slices.append(BUDGET - sum(slices))
    assert _run(slices) == whole
