"""Reverse execution over a replay (disco_core/record/reverse.py, docs/reverse.md).

Two short recordings (two VMs of one vCPU each; one VM of eight vCPUs) with
console input, and two bare machines (one CPU, eight) running numademo kept in a
LiveRecording: reverse-continue lands on the last hit a plain forward scan of
the replay finds before the starting point, and reverse-step n then
forward-step n comes back to the same state.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disco_core.record.format import build_identity
from disco_core.record.recorder import RecordConfig, Recorder, new_session, point
from disco_core.record.replay import DEBUG_STOPS, Recording, Replayer
from disco_core.record.reverse import BreakSpec, LiveRecording, Reverse
from disco_core.session import AddBreakpoint, FeedConsole, baremetal_session

CONFIGS = {"2x1": RecordConfig(vms=2, vcpus=1), "1x8": RecordConfig(vms=1, vcpus=8)}
NATIVE = {"native1": "test", "native8": "flash8"}
SYMBOLS = {"vms": ("trap", "acquire", "release", "consoleintr", "syscall"),
           "native": ("stream_update", "emit", "printf", "scatter", "stream_read")}
# a function entered often, and one called (for step over and out)
OFTEN = {"vms": "trap", "native": "stream_update"}
CALLED = {"vms": "release", "native": "emit"}


def kind(rp: Replayer) -> str:
    return "vms" if rp.session.monitor is not None else "native"


def record(path, config: RecordConfig, slices: int = 6) -> None:
    session, base = new_session(config)
    recorder = Recorder(session, path, config, base, build_identity(), checkpoint_seconds=0.02)
    for i in range(slices):
        if i in (2, 4):
            for g in session.guests:
                session.submit(FeedConsole(g.name, b"ls\n"))
        session.step_slice(500_000)
    recorder.close()
    session.close()


@pytest.fixture(scope="module", params=sorted(CONFIGS) + sorted(NATIVE))
def replay(request, tmp_path_factory):
    if request.param in NATIVE:
        s = baremetal_session("numademo", NATIVE[request.param])
        live = LiveRecording(s, every=2)
        for _ in range(8):
            s.step_slice(200_000)
        rp = live.replayer()
    else:
        path = tmp_path_factory.mktemp("reverse") / f"{request.param}.rec"
        record(path, CONFIGS[request.param])
        rp = Replayer(Recording.open(path))
    yield rp
    rp.close()


def brute_hits(rp: Replayer, symbol: str, vm: str | None) -> list[tuple[int, int, int, int]]:
    """(instructions, cycles, pc, target) of every hit, by replaying every run with the breakpoint
    armed through the session and matching as the session does."""
    rp.seek_op(0)
    s = rp.session
    vm = s.target.scope(None, vm)
    s.submit(AddBreakpoint(symbol, None, vm))
    s.step_slice(0)
    address = s.resolve(symbol)
    out = []
    for op in rp.recording.ops:
        if op[0] != "r":
            rp.step()
            continue
        _tag, budget, executed, kind = op
        left = executed if kind in DEBUG_STOPS else budget
        while True:
            r = s.run_once(left)
            left -= r.executed
            if r.kind != "breakpoint":
                break
            if r.target >= 0 and r.pc == address and s.target.applies(None, vm, r.target):
                out.append((point(s)[0], s.machine.cpus[r.cpu].cycles, r.pc, r.target))
        rp.position += 1
    from disco_core.session import RemoveBreakpoint

    s.submit(RemoveBreakpoint(symbol, None, vm))
    s.step_slice(0)
    return out


@settings(max_examples=3, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, 4), where=st.floats(0.3, 1.0), own_vm=st.booleans())
def test_reverse_continue_finds_the_last_forward_hit(replay, which, where, own_vm):
    symbol = SYMBOLS[kind(replay)][which]
    vm = replay.session.guests[-1].name if own_vm else None
    hits = brute_hits(replay, symbol, vm)
    rv = Reverse(replay)
    rv.add_breakpoint(BreakSpec(symbol, None, vm))
    end = replay.end_cycles
    rv.run_back_to(int(end * where))
    here = point(rv.session)[0]
    before = [h for h in hits if h[0] < here]
    hit = rv.reverse_continue()
    if not before:
        assert hit is None and rv.point == rv.start
        return
    assert hit is not None
    assert (hit.instructions, hit.cycles, hit.pc, hit.target) == before[-1]
    assert point(rv.session)[0] == hit.instructions
    assert rv.session.machine.cpus[hit.cpu].cycles == hit.cycles
    assert int(rv.session.target.registers(hit.target).pc) == hit.pc
    if len(before) > 1:  # and once more
        again = rv.reverse_continue()
        assert again is not None
        assert (again.instructions, again.cycles, again.pc, again.target) == before[-2]
    rv.settle()


@pytest.mark.parametrize("n", [1, 5])
def test_reverse_step_then_forward_step_comes_back(replay, n):
    rv = Reverse(replay)
    rv.add_breakpoint(BreakSpec(OFTEN[kind(replay)]))
    rv.seek_point(rv.end)
    hit = rv.reverse_continue()
    assert hit is not None
    here = rv.point
    back = rv.reverse_step(hit.target, n)
    assert back < here
    assert rv.forward_step(hit.target, n) == here
    # reached by running there (a breakpoint's stop has also fetched its instruction)
    digest = rv.digest()
    assert rv.reverse_step(hit.target, n) == back
    assert rv.forward_step(hit.target, n) == here
    assert rv.digest() == digest
    rv.settle()


def test_reverse_step_over_and_out_go_back(replay):
    rv = Reverse(replay)
    rv.add_breakpoint(BreakSpec(CALLED[kind(replay)]))
    rv.seek_point(rv.end)
    hit = rv.reverse_continue()
    assert hit is not None
    here = rv.point
    assert rv.reverse_step_over(hit.target) < here
    ra = int(rv.session.target.registers(hit.target).gpr[31])
    rv.reverse_step_out(hit.target)
    assert rv.point < here
    pc = int(rv.session.target.registers(hit.target).pc)
    assert pc == (ra - 8) & 0xFFFFFFFF or rv.point == rv.start
    rv.settle()


def test_run_back_to_a_cycle(replay):
    rv = Reverse(replay)
    target = replay.end_cycles // 2
    rv.run_back_to(target)
    assert rv.cycles <= target
    assert target - rv.cycles < replay.end_cycles // 4
    rv.settle()
