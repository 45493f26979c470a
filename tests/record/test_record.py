"""Recording and replay (disco_core/record/, docs/recording-format.md).

One short recording of the default session (four VMs on flash8 in timing mode,
NUMA migration and replication, Disco's sharing) with console input typed at
several moments and a VM restarted is shared by the tests: it replays bit for
bit, seeks land where a straight run lands, and damaged, cut-short, foreign or
perturbed recordings are reported as documented.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disco_core import cli
from disco_core.errors import SnapshotError
from disco_core.record import checkpoint as ck
from disco_core.record.format import (
    CKPT,
    HEAD,
    OPS,
    ChunkWriter,
    RecordingError,
    build_identity,
    decode,
    encode,
    read_chunks,
)
from disco_core.record.recorder import RecordConfig, Recorder, new_session
from disco_core.record.replay import Divergence, Recording, Replayer
from disco_core.session import AddBreakpoint, FeedConsole, RemoveBreakpoint, RestartVm

SLICE = 1_000_000
# a workload in each VM, then a message from vm0 to vm1 over the virtual network
TYPED = {2: [b"ls\n", b"net recv got\n", b"pmake 1\n", b"ls src\n"],
         5: [b"net send vm1 README\n", b"", b"ps\n", b"ps\n"], 7: [b"ps\n", b"cat got\n"]}


def _drive(session, slices: int, start: int = 0) -> None:
    for i in range(start, start + slices):
        for g, text in zip(session.guests, TYPED.get(i, []), strict=False):
            if text:
                session.submit(FeedConsole(g.name, text))
        if i == 8:
            session.submit(RestartVm("vm3"))
        session.step_slice(SLICE)


def _observed(session) -> dict:
    c = ck.capture(session)
    return {"digest": ck.digest_parts(c),
            "console": [bytes(g.console.output) for g in session.guests],
            "cycles": [cpu.cycles for cpu in session.machine.cpus]}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    path = tmp_path_factory.mktemp("record") / "session.rec"
    session, base = new_session(RecordConfig())
    assert session.machine.timing
    recorder = Recorder(session, path, RecordConfig(), base, build_identity(),
                        checkpoint_seconds=0.05, cost_share=1.0)
    _drive(session, 12)
    recorder.close()
    seen = _observed(session)
    session.close()
    return path, seen


def _rewrite(src: Path, dst: Path, change) -> None:
    """Copy a recording chunk by chunk, `change(kind, payload, n)` giving each new payload."""
    found = read_chunks(src)
    w = ChunkWriter(dst)
    for n, c in enumerate(found.chunks):
        w.write(c.kind, change(c.kind, c.payload(), n), level=0 if c.kind == CKPT else 1)
    w.close()


# ---- checkpoints -----------------------------------------------------------------------------

def test_restore_and_continue_is_bit_identical_to_an_uninterrupted_run():
    a, _ = new_session(RecordConfig())
    b, _ = new_session(RecordConfig())
    try:
        _drive(a, 4)
        blob = ck.capture(a).to_bytes()
        ck.restore(b, ck.Checkpoint.from_bytes(blob))
        assert _observed(b) == _observed(a)
        _drive(a, 6, start=4)
        _drive(b, 6, start=4)
        assert _observed(b) == _observed(a)
        assert a.monitor is not None and a.monitor.numa.stats.replications > 0
    finally:
        a.close()
        b.close()


def test_a_bad_checkpoint_changes_nothing():
    s, _ = new_session(RecordConfig())
    try:
        _drive(s, 3)
        good = ck.capture(s)
        before = _observed(s)
        machine = s.machine
        bad_monitor = dict(good.monitor or {})
        bad_monitor["vms"] = bad_monitor["vms"][:2]
        with pytest.raises(SnapshotError):
            ck.restore(s, ck.Checkpoint(good.machine, bad_monitor, good.session))
        with pytest.raises(SnapshotError):
            ck.restore(s, ck.Checkpoint(good.machine[:-10], good.monitor, good.session))
        blob = bytearray(good.to_bytes())
        blob[len(blob) // 2] ^= 0xFF
        with pytest.raises(SnapshotError):
            ck.Checkpoint.from_bytes(bytes(blob))
        assert s.machine is machine and _observed(s) == before
    finally:
        s.close()


# ---- replay ----------------------------------------------------------------------------------

def test_replay_is_bit_exact_and_verifies(recorded):
    path, seen = recorded
    r = Replayer(Recording.open(path))
    try:
        assert r.verify() >= 3
        assert _observed(r.session) == seen
        assert any(b"pmake" in c for c in seen["console"])
        assert b"net: received" in seen["console"][1]  # vm0's message crossed the network
    finally:
        r.close()


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_seek_then_continue_equals_straight(recorded, data):
    path, _ = recorded
    rec = Recording.open(path)
    m = data.draw(st.integers(2, len(rec.ops)))
    n = data.draw(st.integers(0, m - 1))
    r = Replayer(rec)
    try:
        r.seek_op(m)
        straight = _observed(r.session)
        events = r.session.monitor.events.state()
        r.seek_op(n)
        r.seek_op(m)
        assert _observed(r.session) == straight
        assert r.session.monitor.events.state() == events  # the log, gathered incrementally
        r.seek(rec.checkpoints[1].cycles)
        assert r.cycles >= rec.checkpoints[1].cycles
    finally:
        r.close()


def test_a_breakpoint_in_a_replay_stops_and_going_on_stays_exact(recorded):
    """What reverse execution builds on: from a checkpoint, run forward with a
    breakpoint armed, stop at its hits, and the replay goes on bit for bit."""
    path, seen = recorded
    r = Replayer(Recording.open(path))
    try:
        r.seek_op(r.recording.checkpoints[1].op)
        r.submit(AddBreakpoint("sys_write"))
        address = r.session.resolve("sys_write")
        hits = 0
        while (hit := r.run_forward()) is not None and hits < 3:
            assert hit.kind == "breakpoint" and hit.pc == address
            hits += 1
        assert hits == 3
        r.submit(RemoveBreakpoint("sys_write"))
        assert r.run_forward() is None and r.at_end
        got = _observed(r.session)
        assert ck.differences(got["digest"], seen["digest"]) == []
        assert got == seen
    finally:
        r.close()


def test_a_replay_refuses_changes_unless_it_branches(recorded, tmp_path):
    path, _ = recorded
    r = Replayer(Recording.open(path))
    try:
        r.seek_op(len(r.recording.ops) // 2)
        with pytest.raises(RecordingError, match="read-only"):
            r.submit(FeedConsole("vm0", b"ls\n"))
        rec = r.branch(tmp_path / "future.rec")
        r.submit(FeedConsole("vm0", b"echo other\n"))
        for _ in range(3):
            r.session.step_slice(SLICE)
        rec.close()
        seen = _observed(r.session)
    finally:
        r.close()
    future = Recording.open(tmp_path / "future.rec")
    assert future.header["branched_from"]["file"] == path.name
    f = Replayer(future)
    try:
        f.verify()
        assert _observed(f.session) == seen
    finally:
        f.close()


# ---- damaged recordings ----------------------------------------------------------------------

def _replay_rc(path: Path, capsys, *extra: str) -> tuple[int, str]:
    rc = cli.main(["replay", str(path), "--info", *extra])
    err = capsys.readouterr().err.strip()
    return rc, err


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(cut=st.floats(0.0, 0.999), flip=st.floats(0.0, 0.999))
def test_truncated_or_flipped_recordings_get_one_line_and_exit_2(recorded, tmp_path_factory,
                                                                 capsys, cut, flip):
    path, _ = recorded
    data = path.read_bytes()
    d = tmp_path_factory.mktemp("bad")
    short = d / "short.rec"
    short.write_bytes(data[: int(cut * len(data))])
    rc, err = _replay_rc(short, capsys)
    assert rc == 2 and err.startswith("disco: ") and "\n" not in err
    flipped = bytearray(data)
    flipped[int(flip * len(data))] ^= 0x5A
    (d / "flip.rec").write_bytes(bytes(flipped))
    rc, err = _replay_rc(d / "flip.rec", capsys)
    assert rc == 2 and err.startswith("disco: ") and "\n" not in err


def test_wrong_version_or_build_is_refused(recorded, tmp_path, capsys):
    path, _ = recorded
    data = bytearray(path.read_bytes())
    data[8] = 9
    (tmp_path / "v.rec").write_bytes(bytes(data))
    rc, err = _replay_rc(tmp_path / "v.rec", capsys)
    assert rc == 2 and "version 9" in err

    def foreign(kind, payload, _n):
        if kind != HEAD:
            return payload
        head = decode(payload)
        head["build"]["core"] = "0" * 16
        return encode(head)

    _rewrite(path, tmp_path / "b.rec", foreign)
    assert cli.main(["replay", str(tmp_path / "b.rec")]) == 2
    assert "another build" in capsys.readouterr().err


def test_a_killed_writers_file_replays_to_its_last_complete_chunk(tmp_path, capsys):
    session, base = new_session(RecordConfig())
    try:
        rec = Recorder(session, tmp_path / "k.rec", RecordConfig(), base, build_identity(),
                       checkpoint_seconds=0.0, cost_share=1.0)
        _drive(session, 4)
        rec.abandon()  # no END chunk, as if killed
    finally:
        session.close()
    with (tmp_path / "k.rec").open("ab") as f:
        f.write(b"CKPT\xff\xff\x00\x00partial")  # a chunk cut short
    rc, err = _replay_rc(tmp_path / "k.rec", capsys)
    assert rc == 2 and "truncated" in err and "--partial" in err
    rec2 = Recording.open(tmp_path / "k.rec", partial=True)
    assert rec2.cut_at is not None and not rec2.complete
    r = Replayer(rec2)
    try:
        assert r.verify() >= 1
    finally:
        r.close()


def test_a_perturbed_input_is_reported_at_the_first_interval_after_it(recorded, tmp_path):
    path, _ = recorded
    rec = Recording.open(path)
    first = next(i for i, op in enumerate(rec.ops) if op[0] == "c")
    after = next(e for e in rec.checkpoints if e.op > first)
    before = [e for e in rec.checkpoints if e.op <= first][-1]
    seen = 0

    def perturb(kind, payload, _n):
        nonlocal seen
        if kind != OPS:
            return payload
        ops = decode(payload)
        for op in ops:
            if seen == first and op[0] == "c":
                op[3]["data"] = b"cat nothing\n"
            seen += 1
        return encode(ops)

    _rewrite(path, tmp_path / "p.rec", perturb)
    _diverges(tmp_path / "p.rec", f"between cycle {before.cycles} and {after.cycles}: .*vm0's")


def _diverges(path: Path, message: str) -> None:
    r = Replayer(Recording.open(path))
    try:
        with pytest.raises(Divergence, match=message):
            r.verify()
    finally:
        r.close()


def test_a_perturbed_checkpoint_is_reported_at_its_interval(recorded, tmp_path):
    path, _ = recorded
    rec = Recording.open(path)
    k = len(rec.checkpoints) // 2
    target = rec.checkpoints[k].chunk.offset

    def perturb(kind, payload, n):
        if kind != CKPT or read_chunks(path).chunks[n].offset != target:
            return payload
        parts = ck.unpack_sections(payload)
        data = bytearray(parts["pages"][1])
        data[100] ^= 1
        parts["pages"] = (1, bytes(data))
        return ck.pack_sections([(name, v, d) for name, (v, d) in parts.items()])

    _rewrite(path, tmp_path / "c.rec", perturb)
    _diverges(tmp_path / "c.rec", f"between cycle {rec.checkpoints[k - 1].cycles} and "
                                  f"{rec.checkpoints[k].cycles}: 1 page$")


def test_cli_record_then_replay_verify(tmp_path, capsys):
    f = tmp_path / "cli.rec"
    assert cli.main(["record", str(f), "--run", "ls", "--seconds", "1", "--quiet"]) == 0
    assert cli.main(["replay", str(f), "--verify"]) == 0
    out = capsys.readouterr().out
    assert "[vm0] $ ls" in out and "checkpoints verified" in out
    assert cli.main(["record", str(f), "--native"]) == 2
