"""Who wrote a register of a vCPU (whowrote.who_wrote_register, `disco replay
--who-wrote-reg`): agrees with a brute-force scan that steps the machine one instruction
at a time and reads the register after each."""

from __future__ import annotations

import json

import pytest

from disco_core import cli
from disco_core.record.recorder import RecordConfig
from disco_core.record.replay import Recording, Replayer
from disco_core.record.reverse import Point, Reverse
from disco_core.record.whowrote import register_index, who_wrote_register
from tests.reverse.test_reverse import record

WINDOW = 12_000  # machine instructions the brute force steps one by one


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("whowrote-reg") / "2x1.rec"
    record(path, RecordConfig(vms=2, vcpus=1), slices=3)
    return path


@pytest.fixture(scope="module")
def replay(recording):
    rp = Replayer(Recording.open(recording))
    yield rp
    rp.close()


def _vcpu(rp: Replayer, vm: str) -> int:
    s = rp.session
    return next(i for i in range(len(s.targets)) if s.target.vm_of(i) == vm)


def brute(rp: Replayer, target: int, index: int, frm: Point, to: Point):
    """(machine instructions after, pc, old, new) of every change of the register."""
    rv = Reverse(rp)
    rv.seek_point(frm)
    s = rp.session
    ops = rp.recording.ops

    def value() -> int:
        r = s.target.registers(target)
        return int(r.gpr[index]) if index < 32 else int(r.hi if index == 32 else r.lo)

    out = []
    old = value()
    while rv.point < to:
        pc = int(s.target.registers(target).pc)
        op = ops[rv.point.op]
        nxt = Point(rv.point.op, rv.point.offset + 1) if op[0] == "r" and \
            rv.point.offset + 1 < op[2] else Point(rv.point.op + 1)
        rv.seek_point(nxt)
        new = value()
        if new != old:
            out.append((sum(c.instructions for c in s.machine.cpus), pc, old, new))
            old = new
    rv.settle()
    return out


@pytest.mark.parametrize("reg", ["a0", "sp", "lo"])
def test_who_wrote_a_register_agrees_with_stepping_every_instruction(replay, reg):
    target = _vcpu(replay, "vm1")
    rv = Reverse(replay)
    to = rv.end
    frm = rv._back_by(to, WINDOW)
    writes = who_wrote_register(replay, reg, target, to=to, count=None, frm=frm)
    expected = brute(replay, target, register_index(reg), frm, to)
    assert [(w.instructions, w.pc, w.old, w.new) for w in writes] == expected
    if reg != "lo":
        assert expected, f"{reg} changes in {WINDOW} instructions of two busy VMs"
    assert all(w.vm == "vm1" and w.target_name == "vm1 vCPU 0" for w in writes)
    assert all(w.cause == "instruction" and w.symbol.startswith("0x") for w in writes)


def test_the_last_write_holds_the_value_found_at_the_end(replay):
    target = _vcpu(replay, "vm0")
    writes = who_wrote_register(replay, "$4", target, count=3)
    assert len(writes) == 3 and [w.register for w in writes] == ["a0"] * 3
    assert writes[0].point < writes[1].point < writes[2].point
    assert int(replay.session.target.registers(target).gpr[4]) == writes[-1].new
    assert writes[0].new == writes[1].old and writes[1].new == writes[2].old
    rv = Reverse(replay)
    rv.seek_point(writes[1].point)  # standing just after a write: the register holds it
    assert int(replay.session.target.registers(target).gpr[4]) == writes[1].new
    rv.settle()  # the next Reverse starts from an operation boundary
    assert "<" in writes[-1].symbol and writes[-1].line, "the kernel has symbols and lines"


def test_cli_who_wrote_reg(recording, replay, capsys):
    assert cli.main(["replay", str(recording), "--who-wrote-reg", "a0", "--vm", "1",
                     "--vcpu", "0", "--count", "2", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    api = who_wrote_register(replay, "a0", _vcpu(replay, "vm1"), count=2)
    assert [w["pc"] for w in found["writes"]] == [w.pc for w in api]
    assert [w["new"] for w in found["writes"]] == [w.new for w in api]
    assert found["target"] == "vm1 vCPU 0"
    assert cli.main(["replay", str(recording), "--who-wrote-reg", "a0", "--vm", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("the last 1 write changing a0 of vm1 vCPU 0") and " -> 0x" in out


def test_bad_register_questions_are_one_line_errors(recording, capsys):
    for args, words in [(["--who-wrote-reg", "a9"], "no register named 'a9'"),
                        (["--who-wrote-reg", "$40"], "numbered 0 to 31"),
                        (["--who-wrote-reg", "a0", "--vcpu", "3"], "vm0 has 1 vCPU"),
                        (["--who-wrote-reg", "a0", "--vm", "5"], "there are 2 VMs"),
                        (["--who-wrote-reg", "a0", "--count", "0"], "one write or more")]:
        assert cli.main(["replay", str(recording), *args]) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1, err
