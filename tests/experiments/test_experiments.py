"""The experiments suite: Figure 5's JSON, the cache, Dask against local processes, the
report in a real browser (docs/experiments.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from disco_core.cli import main
from disco_core.experiments import runner, simulate
from disco_core.experiments.cache import ResultCache
from disco_core.experiments.runner import Executor, run_all
from disco_core.experiments.suite import apply, grid, parse_sweep

# small runs: raytrace 8 on the timed uniprocessor (about a second each)
NATIVE = {"kind": "native", "machine": "test", "overrides": {"timing": True},
          "commands": ["raytrace 8"]}
DISCO = {**NATIVE, "kind": "disco", "numa_policy": "none"}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the module: the report reuses Figure 5's runs."""
    return tmp_path_factory.mktemp("experiments-cache")


def deterministic(result: dict[str, Any]) -> dict[str, Any]:
    """A result without host time (the only field that is not simulated)."""
    return {k: v for k, v in result.items() if k != "wall_seconds"}


def test_fig5_quick_json(cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["experiments", "run", "fig5", "--quick", "--json", "--jobs", "2",
               "--cache-dir", str(cache_dir), "--no-progress"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert out["experiment"] == "fig5"
    rows = out["rows"]
    assert [r["workload"] for r in rows] == ["pmake", "engineering", "raytrace", "database"]
    for row in rows:
        assert set(row["breakdown"]) == {"user", "kernel", "disco", "idle"}
        # the ratio comes from a native and a monitored run of the same workload ...
        native = [r for r in out["runs"] if r["config"]["kind"] == "native"
                  and r["config"]["commands"] == [row["command"]]]
        disco = [r for r in out["runs"] if r["config"]["kind"] == "disco"
                 and r["config"]["commands"] == [row["command"]]
                 and not r["config"]["asid_remap"]]
        assert len(native) == len(disco) == 1
        n, d = native[0], disco[0]
        # ... that printed the same checksum
        assert n["checksums"][row["command"]] == d["checksums"][row["command"]]
        assert n["checksums"][row["command"]].startswith("0x")
        assert row["relative"] == round(100.0 * d["cycles"] / n["cycles"], 2)
        # the stacked bar adds up to the ratio (the parts are shares of native time)
        assert sum(row["breakdown"].values()) == pytest.approx(row["relative"], abs=0.1)
        assert row["breakdown"]["disco"] > 0
        assert sum(row["native_breakdown"].values()) == pytest.approx(100.0, abs=0.1)
        assert row["native_breakdown"]["disco"] == 0
        # beyond the paper: the same monitored run with ASID remapping, beside Disco's
        remap = [r for r in out["runs"] if r["config"]["kind"] == "disco"
                 and r["config"]["commands"] == [row["command"]]
                 and r["config"]["asid_remap"]]
        assert len(remap) == 1
        assert remap[0]["checksums"] == d["checksums"]
        assert row["relative_asid_remap"] == round(100.0 * remap[0]["cycles"] / n["cycles"], 2)
        assert sum(row["breakdown_asid_remap"].values()) == pytest.approx(
            row["relative_asid_remap"], abs=0.1)
        # one vCPU on one CPU: no vCPU switch, so no flush to save, and the same cycles
        assert row["tlb_flushes"] == row["tlb_flushes_asid_remap"] == 0
        assert row["vcpu_switches"] == 0
        assert row["asid_remap_cycles"] == row["disco_cycles"]


def test_cached_rerun_does_no_simulation(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ResultCache(tmp_path)
    inline = Executor("inline")
    first = run_all([NATIVE, DISCO], inline, cache)
    assert (first.ran, first.cached) == (2, 0)

    calls: list[dict[str, Any]] = []
    real = simulate.run

    def counting(config: dict[str, Any]) -> dict[str, Any]:
        calls.append(dict(config))
        return real(config)

    monkeypatch.setattr(runner.simulate, "run", counting)
    again = run_all([NATIVE, DISCO], inline, cache)
    assert (again.ran, again.cached) == (0, 2)
    assert calls == []
    assert again.results == first.results

    # one configuration changed: only it runs again
    changed = {**DISCO, "costs": {"trap": 80}}
    third = run_all([NATIVE, changed], inline, cache)
    assert (third.ran, third.cached) == (1, 1)
    assert [c["costs"] for c in calls] == [{"trap": 80}]
    assert third.results[1]["cycles"] > first.results[1]["cycles"]


def test_dask_local_cluster_equals_local_processes(tmp_path: Path) -> None:
    sweep = parse_sweep(["costs.zero_page=1100,4000"])
    points = grid(sweep)
    assert len(points) == 2
    configs = [apply(DISCO, p) for p in points]
    assert [c["costs"] for c in configs] == [{"zero_page": 1100}, {"zero_page": 4000}]
    local = run_all(configs, Executor("local", jobs=2), ResultCache(tmp_path / "a"))
    dask = run_all(configs, Executor("dask", dask_local=2), ResultCache(tmp_path / "b"))
    assert local.ran == dask.ran == 2
    for a, b in zip(local.results, dask.results, strict=True):
        assert "error" not in a
        assert deterministic(a) == deterministic(b)
    # the two points differ: the sweep really changed the runs
    assert local.results[0]["cycles"] != local.results[1]["cycles"]


def test_sweep_table_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiments", "run", "nosuch", "--inline"]) == 2
    assert "no experiment 'nosuch'" in capsys.readouterr().err
    assert main(["experiments", "run", "fig5", "--sweep", "bogus=1,2", "--inline"]) == 2
    assert "sweep key 'bogus'" in capsys.readouterr().err
    assert main(["experiments", "list"]) == 0
    listing = capsys.readouterr().out
    for name in ("fig5", "table2", "fig6", "fig7", "fig8", "table3"):
        assert name in listing


def test_report_opens_in_chromium(cache_dir: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is missing: apt-get install chromium (scripts/debian-tools.sh)"
    out = tmp_path / "report"
    rc = main(["experiments", "report", "--quick", "--out", str(out), "--jobs", "2",
               "--cache-dir", str(cache_dir), "--no-progress"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    index = out / "index.html"
    assert index.is_file()
    results = json.loads((out / "results.json").read_text())
    names = [e["experiment"] for e in results["experiments"]]
    assert names == ["fig5", "table2", "fig6", "fig7", "fig8", "table3"]
    fig7 = results["experiments"][3]
    assert len(fig7["runs"]) == 9     # the SMP kernel, 1-8 VMs, and 1-8 VMs remapping
    for row in fig7["rows"][1:]:
        assert set(row["breakdown_asid_remap"]) == {"user", "kernel", "disco", "idle"}
        assert row["relative_asid_remap"] > 0
        assert {"tlb_flushes", "tlb_flushes_asid_remap", "vcpu_switches"} <= set(row)
    page = index.read_text()
    assert "relative_asid_remap" in page and "breakdown asid remap" in page
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
    dom = subprocess.run([*args, "--dump-dom", index.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    for chart in ("fig5", "fig6", "fig7", "fig8"):
        assert f"data-chart=\"{chart}\"" in dom
        assert (out / f"{chart}.png").stat().st_size > 5000
        assert (out / f"{chart}.svg").is_file()
    # every chart loaded in the browser, none reported missing
    assert dom.count('data-loaded="yes"') == 4, dom[-2000:]
    assert 'data-loaded="no"' not in dom
    shot = tmp_path / "report.png"
    subprocess.run([*args, f"--screenshot={shot}", "--window-size=1200,3000",
                    index.as_uri()], capture_output=True, timeout=120)
    assert shot.stat().st_size > 50_000


def test_cancel_stops_the_runs_and_keeps_the_finished_ones(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    counts: list[tuple[int, int, int]] = []

    def progress(done: int, total: int, cached: int) -> None:
        counts.append((done, total, cached))

    # inline: the cancel is looked at between runs; the first run finishes and is cached
    with pytest.raises(runner.Cancelled, match="cancelled"):
        run_all([NATIVE, DISCO], Executor("inline"), cache, progress,
                cancel=lambda: len(counts) >= 2)
    assert counts == [(0, 2, 0), (1, 2, 0)]
    again = run_all([NATIVE, DISCO], Executor("inline"), cache)
    assert (again.ran, again.cached) == (1, 1)


def test_asid_remap_saves_the_flushes_when_vcpus_share_a_cpu(tmp_path: Path) -> None:
    """The TLB columns of Figures 5 and 7 are measured, not zero by construction: two
    VMs on the one CPU switch vCPUs, and only the flushing monitor flushes."""
    two = {**DISCO, "vms": 2}
    out = run_all([two, {**two, "asid_remap": True}], Executor("inline"),
                  ResultCache(tmp_path))
    flushing, remapping = out.results
    assert flushing["tlb"]["switches"] > 0
    assert flushing["tlb"]["switch_flushes"] == flushing["tlb"]["switches"]
    assert remapping["tlb"]["switches"] == flushing["tlb"]["switches"]
    assert remapping["tlb"]["switch_flushes"] == 0
    assert remapping["checksums"] == flushing["checksums"]
    assert remapping["cycles"] != flushing["cycles"]
