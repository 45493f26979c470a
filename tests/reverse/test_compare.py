"""A/B replay (disco_core/record/compare.py, `disco compare`): identical configurations
give identical results; round robin against migrate+replicate on Engineering raises the
share of local misses (the paper's Figure 8)."""

from __future__ import annotations

import json

import pytest

from disco_core import cli
from disco_core.record.compare import compare, public
from disco_core.record.format import build_identity
from disco_core.record.recorder import RecordConfig, Recorder, new_session
from disco_core.session import FeedConsole


def record_typed(path, config: RecordConfig, command: bytes, slices: int = 400):  # type: ignore[no-untyped-def]
    """Record a session of `config` at `path`: `command` typed into the first VM at its
    prompt, run to the next prompt (at most `slices` slices of a million)."""
    s, base = new_session(config)
    recorder = Recorder(s, path, config, base, build_identity(), checkpoint_seconds=0.5)
    out = s.guests[0].console.output
    mark = -1
    for _ in range(slices):
        s.step_slice(1_000_000)
        if mark < 0 and out.find(b"$ ") >= 0:
            s.submit(FeedConsole(s.guests[0].name, command + b"\n"))
            mark = len(out)
        elif mark >= 0 and out.find(b"$ ", mark + 4) >= 0:
            break
    recorder.close()
    s.close()
    return path


@pytest.fixture(scope="module")
def engineering(tmp_path_factory):
    """One VM of eight vCPUs on flash8 running `engineering 4` to its next prompt."""
    return record_typed(tmp_path_factory.mktemp("compare") / "engineering.rec",
                        RecordConfig(vms=1, vcpus=8), b"engineering 4")


def test_identical_configurations_give_identical_results(engineering):
    same = {"numa-policy": "migrate_replicate"}
    r = public(compare(engineering, same, same))
    assert r["diverged"] == [] and r["a"] == r["b"]
    assert r["machine"]["a"] == r["machine"]["b"]
    for row in r["rows"]:
        assert row["a"] == row["b"] and row["workload"] == "engineering 4"


def test_migrate_replicate_raises_the_local_share(engineering, capsys, tmp_path):
    report = tmp_path / "report.html"
    assert cli.main(["compare", str(engineering), "--a", "numa-policy=round_robin",
                     "--b", "numa-policy=migrate_replicate", "--json",
                     "--html", str(report)]) == 0
    r = json.loads(capsys.readouterr().out)
    assert set(r) >= {"a", "b", "rows"}
    assert (r["a"]["numa_policy"], r["b"]["numa_policy"]) == ("round_robin",
                                                               "migrate_replicate")
    (row,) = r["rows"]
    assert row["b"]["local_miss_share"] > row["a"]["local_miss_share"] + 30
    assert r["machine"]["b"]["migrations"] + r["machine"]["b"]["replications"] > 0
    assert r["machine"]["a"]["migrations"] == r["machine"]["a"]["replications"] == 0
    text = report.read_text()
    assert text.count("data:image/png;base64,") == 3 and "b - a" in text


def test_bad_keys_are_one_line_errors(engineering, capsys):
    assert cli.main(["compare", str(engineering), "--a", "numa=x"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert cli.main(["compare", str(engineering), "--b", "sharing=lots"]) == 2
    assert "choose one of" in capsys.readouterr().err
