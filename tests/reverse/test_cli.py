"""`disco replay FILE --break ... --last` and `--who-wrote` (docs/reverse.md)."""

from __future__ import annotations

import json

import pytest

from disco_core import cli
from disco_core.record.recorder import RecordConfig
from disco_core.record.replay import Recording, Replayer
from disco_core.record.reverse import BreakSpec, Reverse
from tests.reverse.test_reverse import record


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "2x1.rec"
    record(path, RecordConfig(vms=2, vcpus=1), slices=3)
    return path


def test_break_last_prints_the_last_hit(recording, capsys):
    assert cli.main(["replay", str(recording), "--break", "trap", "--vm", "1", "--last",
                     "--json"]) == 0
    hit = json.loads(capsys.readouterr().out)["hit"]
    rp = Replayer(Recording.open(recording))
    try:
        rv = Reverse(rp)
        rv.add_breakpoint(BreakSpec("trap", None, "vm1"))
        last = rv.scan(rv.start, rv.end)[-1]
    finally:
        rp.close()
    assert (hit["cycle"], hit["pc"], hit["target"]) == (last.cycles, last.pc, "vm1 vCPU 0")
    assert "<trap>" in hit["symbol"] and len(hit["registers"]) == 32
    assert cli.main(["replay", str(recording), "--break", "trap", "--last"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("last hit: cycle ") and "<trap>" in out and " ra " in out


def test_who_wrote_lists_the_writes(recording, capsys):
    assert cli.main(["replay", str(recording), "--who-wrote", "ticks", "--vm", "0",
                     "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    writes = found["writes"]
    assert writes and all(w["vm"] == "vm0" and "<devintr" in w["symbol"] for w in writes)
    assert [w["value"] for w in writes] == list(range(1, len(writes) + 1))
    assert cli.main(["replay", str(recording), "--who-wrote", "ticks", "--vm", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{len(writes)} writes to 4 bytes at ") and "trap.c:" in out


def test_bad_questions_are_one_line_errors(recording, capsys):
    assert cli.main(["replay", str(recording), "--break", "trap"]) == 2
    assert "--break needs --last" in capsys.readouterr().err
    assert cli.main(["replay", str(recording), "--break", "nosuch", "--last"]) == 2
    assert "no symbol named 'nosuch'" in capsys.readouterr().err
    assert cli.main(["replay", str(recording), "--who-wrote", "ticks", "--vm", "7"]) == 2
    assert "there are 2 VMs" in capsys.readouterr().err
