"""A/B replay: one recording's inputs run under two configurations, and what differs.

A different NUMA policy or sharing mode changes timing, so the guests cannot
be driven cycle for cycle: each recorded input is delivered at the same point
of its VM's own progress instead. The rule (docs/reverse.md): the k-th input of
a VM is delivered once that VM has printed at least as many console bytes as it
had when the k-th input entered the recorded run, and after its (k-1)-th; an
input for the whole machine (timing, the monitor's trace) waits for every VM's
count. A VM that goes idle short of its count (its output differs) gets the
input anyway, and that VM is reported as diverging. Each run then goes on until
every VM has printed what it printed in the recording, or went idle, or three
times the recorded length in cycles has passed. A debugger's single steps are
not replayed (they are not the workload).

The guest-visible behaviour of a VM is its console output: when the two runs'
outputs differ, the result says so.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from disco_core.errors import DiscoError
from disco_core.monitor.footprint import footprints, local_percent
from disco_core.monitor.stats import StatKind
from disco_core.record.recorder import RecordConfig, command_from_json, shared_root_image
from disco_core.record.replay import Recording, Replayer
from disco_core.session import FeedConsole, RestartVm, Session, Step, StopVm

KEYS = ("numa-policy", "sharing", "asid-remap", "costs")
SLICE = 1_000_000
MAX_LENGTH = 3  # times the recorded cycles a run may take


@dataclass(frozen=True)
class Delivery:
    """A recorded input and when its VM's progress lets it in."""

    command: Any
    vm: str | None  # None: the whole machine
    printed: int  # console bytes the VM (every VM, for None) had printed


def parse_variant(pairs: list[str]) -> dict[str, str]:
    """KEY=VALUE pairs (the keys of `disco boot`'s options) as a dict, checked: a
    numa-policy and a sharing mode by name, asid-remap on or off, costs a cost table
    file (disco_core/monitor/costfile.py) or `default`."""
    from disco_core.monitor.costfile import read_cost_table
    from disco_core.monitor.diskcache import SHARING
    from disco_core.monitor.numa import POLICIES

    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in KEYS:
            raise DiscoError(f"{pair!r}: give KEY=VALUE with KEY one of {', '.join(KEYS)}")
        if key in out:
            raise DiscoError(f"{key} is given twice in one configuration")
        if key == "numa-policy" and value not in POLICIES:
            raise DiscoError(f"numa-policy={value}: choose one of {', '.join(POLICIES)}")
        if key == "sharing" and value not in SHARING:
            raise DiscoError(f"sharing={value}: choose one of {', '.join(SHARING)}")
        if key == "asid-remap" and value.lower() not in ON_OFF:
            raise DiscoError(f"asid-remap={value}: choose on or off")
        if key == "costs" and value != "default":
            read_cost_table(value)  # a bad file is refused before anything runs
        out[key] = value
    return out


ON_OFF = {"on": True, "yes": True, "true": True, "1": True,
          "off": False, "no": False, "false": False, "0": False}


def configured(base: RecordConfig, variant: dict[str, str]) -> RecordConfig:
    """The recorded configuration with a variant's keys applied (what is not given
    stays as recorded)."""
    from disco_core.monitor.costfile import read_cost_table

    costs = base.costs
    if "costs" in variant:
        file = variant["costs"]
        costs = None if file == "default" else read_cost_table(file) or None
    remap = variant.get("asid-remap")
    return dataclasses.replace(
        base, numa_policy=variant.get("numa-policy", base.numa_policy),
        sharing=variant.get("sharing", base.sharing),
        asid_remap=base.asid_remap if remap is None else ON_OFF[remap.lower()],
        costs=costs)


def schedule(recording: Recording) -> tuple[list[Delivery], dict[str, bytes]]:
    """Replay the recording exactly once: each input with its VM's progress when it
    entered, and every VM's output at the end."""
    rp = Replayer(recording)
    try:
        s = rp.session
        out: list[Delivery] = []
        for op in recording.ops:
            if op[0] == "c":
                c = command_from_json(op[3])
                if not isinstance(c, Step):
                    vm = c.guest if isinstance(c, FeedConsole) else \
                        c.vm if isinstance(c, StopVm | RestartVm) else None
                    out.append(Delivery(c, vm, _printed(s, vm)))
            rp.step()
        return out, {g.name: bytes(g.console.output) for g in s.guests}
    finally:
        rp.close()


def _printed(s: Session, vm: str | None) -> int:
    return sum(len(g.console.output) for g in s.guests if vm is None or g.name == vm)


def run_variant(config: RecordConfig, plan: list[Delivery], final: dict[str, bytes],
                limit: int, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Boot `config`, deliver `plan` by the progress rule, measure; `progress` hears
    the cycles run after every slice (the app's progress bars)."""
    s = config.session(shared_root_image())
    try:
        pending = list(plan)
        forced: set[str] = set()
        # The NUMA manager clears the miss counters as it goes: the heat map sums them
        # as they stand at the end of every slice.
        seen = np.zeros(s.machine.miss_counters().shape, np.uint64)
        while True:
            while pending:
                d = pending[0]
                if _printed(s, d.vm) < d.printed and not s.idle:
                    break
                if _printed(s, d.vm) < d.printed:
                    forced.add(d.vm or "the machine")
                s.submit(d.command)
                pending.pop(0)
                s.idle = False
            s.step_slice(SLICE)
            seen += s.machine.miss_counters()
            cycles = max(c.cycles for c in s.machine.cpus)
            if progress is not None:
                progress(cycles)
            done = not pending and all(len(g.console.output) >= len(final.get(g.name, b""))
                                       for g in s.guests)
            if done or (not pending and s.idle) or cycles > limit or s.halted:
                break
        return measure(s, plan, forced, seen)
    finally:
        s.close()


def measure(s: Session, plan: list[Delivery], forced: set[str],
            misses: np.ndarray) -> dict[str, Any]:
    """Per VM (and the machine): what the table shows, the output and the miss map."""
    mon = s.monitor
    assert mon is not None, "compare runs sessions of virtual machines"
    tab = s.machine.cpu_stats_table()
    view = s.target.vms_view()
    fp = footprints(mon)
    rows = []
    for i, (g, vm) in enumerate(zip(s.guests, mon.vms, strict=True)):
        cpus = list(g.cpus)
        c = {k: int(tab[k][cpus].sum()) for k in ("misses_local", "misses_remote",
                                                  "misses_dirty")}
        work = "; ".join(d.command.data.decode("utf-8", "replace").strip()
                         for d in plan if isinstance(d.command, FeedConsole)
                         and d.vm == g.name)
        rows.append({
            "vm": g.name, "workload": work or "-",
            "cycles": int(view.cycles[i]) if view is not None else 0,
            "local_miss_share": round(local_percent(c), 2),
            "remote_misses": c["misses_remote"] + c["misses_dirty"],
            # the NUMA manager charges a move to the (first) VM using the page
            "migrations": vm.stats.count.get(StatKind.MIGRATE, 0),
            "replications": vm.stats.count.get(StatKind.REPLICATE, 0),
            "collapses": vm.stats.count.get(StatKind.COLLAPSE, 0),
            "machine_pages": fp["vms"][g.name]["machine_pages"],
            "exits": {k: n for k, (n, _cy) in vm.stats.by_category().items()},
        })
    st = mon.numa.stats
    whole = {k: int(tab[k].sum()) for k in ("misses_local", "misses_remote", "misses_dirty")}
    machine = {"cycles": int(tab["cycles"].max()),
               "local_miss_share": round(local_percent(whole), 2),
               "remote_misses": whole["misses_remote"] + whole["misses_dirty"],
               "migrations": st.migrations, "replications": st.replications,
               "collapses": st.collapses, "machine_pages": fp["machine_pages"],
               # what ASID remapping saves: the hardware TLB flushes at vCPU switches
               "switch_flushes": mon.hw.switch_flushes, "asid_recycles": mon.asid_recycles}
    return {"rows": rows, "machine": machine, "forced": sorted(forced),
            "output": {g.name: bytes(g.console.output) for g in s.guests},
            "misses": misses}


@dataclass(frozen=True)
class Plan:
    """What both runs of a comparison share: the recording, its inputs by the progress
    rule, every VM's recorded output, its length and a run's limit (cycles)."""

    path: Path
    config: RecordConfig
    deliveries: list[Delivery]
    final: dict[str, bytes]
    recorded: int
    limit: int


def prepare(path: str | Path, partial: bool = False) -> Plan:
    """Read and check the recording and replay it once (`schedule`)."""
    recording = Recording.open(path, partial=partial)
    recording.check_build()
    plan, final = schedule(recording)
    recorded = int(recording.end["cycles"]) if recording.end else recording.checkpoints[-1].cycles
    return Plan(Path(path), recording.config, plan, final, recorded,
                MAX_LENGTH * max(recorded, SLICE))


def compare(path: str | Path, a: dict[str, str], b: dict[str, str]) -> dict[str, Any]:
    """Run the recording's inputs under `a` and under `b`; one result."""
    p = prepare(path)
    ra = run_variant(configured(p.config, a), p.deliveries, p.final, p.limit)
    rb = run_variant(configured(p.config, b), p.deliveries, p.final, p.limit)
    return combine(path, p.config, a, b, ra, rb)


def combine(path: str | Path, base: RecordConfig, a: dict[str, str], b: dict[str, str],
            ra: dict[str, Any], rb: dict[str, Any]) -> dict[str, Any]:
    """The two runs' measures (`run_variant`) as one result, row by row."""
    rows = [{"vm": x["vm"], "workload": x["workload"], "a": _plain(x), "b": _plain(y),
             "output_differs": ra["output"][x["vm"]] != rb["output"][x["vm"]]}
            for x, y in zip(ra["rows"], rb["rows"], strict=True)]
    return {"file": str(path), "a": configured(base, a).to_json(),
            "b": configured(base, b).to_json(), "rows": rows,
            "machine": {"a": ra["machine"], "b": rb["machine"]},
            "diverged": [r["vm"] for r in rows if r["output_differs"]],
            "forced": {"a": ra["forced"], "b": rb["forced"]},
            "_misses": (ra["misses"], rb["misses"])}


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("vm", "workload")}


def public(result: dict[str, Any]) -> dict[str, Any]:
    """The result without its arrays (what --json prints)."""
    return {k: v for k, v in result.items() if not k.startswith("_")}


# ---- the table and the report ------------------------------------------------------------

COLUMNS = (("cycles", "cycles"), ("local %", "local_miss_share"),
           ("remote", "remote_misses"), ("migr", "migrations"), ("repl", "replications"),
           ("coll", "collapses"), ("pages", "machine_pages"))
WIDTH = {"cycles": 14, "remote_misses": 11}  # the other columns: 8


def format_table(result: dict[str, Any]) -> str:
    lines = [f"a: {_config_text(result['a'])}", f"b: {_config_text(result['b'])}", ""]
    head = f"{'VM':6} {'workload':24} {'':2}" + "".join(f"{t:>{WIDTH.get(k, 8)}}"
                                                         for t, k in COLUMNS)
    lines.append(head + "  exits by category")
    for r in result["rows"]:
        for side in ("a", "b"):
            x = r[side]
            exits = ", ".join(f"{k} {n}" for k, n in x["exits"].items() if n)
            lines.append(f"{r['vm']:6} {r['workload'][:24]:24} {side:2}"
                         + "".join(f"{x[k]:>{WIDTH.get(k, 8)}}" for _t, k in COLUMNS)
                         + f"  {exits}")
    for side in ("a", "b"):
        m = result["machine"][side]
        lines.append(f"machine {side}: {m['cycles']} cycles, local {m['local_miss_share']} %, "
                     f"remote {m['remote_misses']}, migrations {m['migrations']}, "
                     f"replications {m['replications']}, collapses {m['collapses']}, "
                     f"{m['machine_pages']} machine pages, {m['switch_flushes']} TLB flushes "
                     f"at vCPU switches, {m['asid_recycles']} ASID recycles")
    if result["diverged"]:
        lines.append("guest-visible behaviour differs: the console output of "
                     + ", ".join(result["diverged"]) + " is not the same under a and b")
    else:
        lines.append("guest-visible behaviour is the same (every VM's console output)")
    return "\n".join(lines)


def _config_text(c: dict[str, Any]) -> str:
    costs = c.get("costs")
    table = ("default" if not costs else
             "default but " + ", ".join(f"{k} {v}" for k, v in costs.items()))
    return (f"numa-policy={c['numa_policy']} sharing={c['sharing']} "
            f"asid-remap={'on' if c.get('asid_remap') else 'off'} costs={table}")


def png(rgb: np.ndarray) -> bytes:
    """An (h, w, 3) uint8 image as a PNG file."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def heat(misses: np.ndarray, rows: int = 256) -> np.ndarray:
    """Pages (grouped into `rows`) by nodes: misses, log-scaled."""
    pages, nodes = misses.shape
    group = max(1, -(-pages // rows))
    if pages == 0:
        return np.zeros((rows, nodes))
    padded = np.zeros((group * rows, nodes), np.float64)
    padded[:pages] = misses
    m = padded.reshape(rows, group, nodes).sum(axis=1)
    return np.log1p(m)


def _image(values: np.ndarray, scale: float, signed: bool, cell: int = 12) -> bytes:
    v = values / scale if scale > 0 else values * 0
    if signed:  # blue (fewer in b) - white - red (more in b)
        r = np.where(v > 0, 1.0, 1.0 + v)
        g = 1.0 - np.abs(v)
        b = np.where(v < 0, 1.0, 1.0 - v)
    else:  # white to dark red
        r = 1.0 - 0.4 * v
        g = b = 1.0 - v
    rgb = (np.stack([r, g, b], axis=2).clip(0, 1) * 255).astype(np.uint8)
    return png(np.repeat(np.repeat(rgb, 2, axis=0), cell, axis=1))


def heat_maps(result: dict[str, Any]) -> tuple[int, list[tuple[str, str, bytes]]]:
    """The pages missed in a or b, and the three heat maps as PNG files (name, caption,
    data): a, b on one log scale, and b - a."""
    ma, mb = result["_misses"]
    used = np.flatnonzero((ma.sum(axis=1) + mb.sum(axis=1)) > 0)  # pages missed in a or b
    ha, hb = heat(ma[used]), heat(mb[used])
    top = max(float(ha.max()), float(hb.max()), 1e-9)
    diff = hb - ha
    span = max(float(np.abs(diff).max()), 1e-9)
    return len(used), [
        ("a", _config_text(result["a"]), _image(ha, top, False)),
        ("b", _config_text(result["b"]), _image(hb, top, False)),
        ("b - a", "red: more misses under b, blue: fewer", _image(diff, span, True))]


def write_html(result: dict[str, Any], out: str | Path) -> None:
    """The report: the configurations, the table per VM and workload as an HTML table,
    the machine's totals, and the two heat maps (RAM pages down, nodes across) side by
    side with their difference."""
    n_used, pics = heat_maps(result)
    figures = "".join(
        f'<figure id="heat-{name.replace(" ", "")}"><img alt="{name}" '
        f'src="data:image/png;base64,{base64.b64encode(data).decode()}">'
        f"<figcaption><b>{name}</b><br>{html.escape(text)}</figcaption></figure>"
        for name, text, data in pics)
    esc = html.escape
    Path(out).write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>disco compare</title>"
        "<style>body{font-family:sans-serif;margin:2em}figure{display:inline-block;"
        "vertical-align:top;margin:0 2em 0 0;text-align:center;max-width:20em}"
        "img{border:1px solid #888;image-rendering:pixelated}table{border-collapse:"
        "collapse;font-size:13px}td,th{border:1px solid #bbb;padding:2px 6px;text-align:"
        "right}td.t,th.t{text-align:left}.warn{color:#a00}</style></head><body>"
        f"<h1>disco compare: {esc(Path(result['file']).name)}</h1>"
        f"<p>a: {esc(_config_text(result['a']))}<br>b: {esc(_config_text(result['b']))}</p>"
        f"{_html_rows(result)}{_html_machine(result)}{_html_behaviour(result)}"
        "<h2>Cache misses per page (down) and node (across)</h2>"
        f"<p>The {n_used} RAM pages with misses under a or b, in address order, "
        "grouped into 256 rows; the counts as they stood at the end of every slice, "
        "summed (the NUMA manager clears them as it goes), on a log scale (white: none, "
        "dark red: the most of either run).</p>"
        f'<div class="maps">{figures}</div></body></html>', encoding="utf-8")


def _html_rows(result: dict[str, Any]) -> str:
    from disco_core.monitor.stats import CATEGORIES

    esc = html.escape
    head = ("<tr><th class=t>VM</th><th class=t>workload</th><th></th>"
            + "".join(f"<th>{esc(t)}</th>" for t, _k in COLUMNS)
            + "".join(f"<th>{esc(c)}</th>" for c in CATEGORIES) + "</tr>")
    body = []
    for r in result["rows"]:
        for side in ("a", "b"):
            x = r[side]
            body.append(f"<tr><td class=t>{esc(r['vm'])}</td><td class=t>"
                        f"{esc(r['workload'])}</td><td class=t>{side}</td>"
                        + "".join(f"<td>{x[k]}</td>" for _t, k in COLUMNS)
                        + "".join(f"<td>{x['exits'].get(c, 0)}</td>" for c in CATEGORIES)
                        + "</tr>")
    return ('<h2>Per VM and workload</h2><table id="rows"><caption>exits by the paper\'s '
            f"categories on the right</caption>{head}{''.join(body)}</table>")


MACHINE = (("cycles", "cycles"), ("local %", "local_miss_share"),
           ("remote misses", "remote_misses"), ("migrations", "migrations"),
           ("replications", "replications"), ("collapses", "collapses"),
           ("machine pages", "machine_pages"), ("TLB flushes at vCPU switches",
                                                "switch_flushes"),
           ("ASID recycles", "asid_recycles"))


def _html_machine(result: dict[str, Any]) -> str:
    m = result["machine"]
    rows = "".join(f"<tr><td class=t>{t}</td><td>{m['a'][k]}</td><td>{m['b'][k]}</td></tr>"
                   for t, k in MACHINE)
    return ('<h2>The machine</h2><table id="machine"><tr><th></th><th>a</th><th>b</th>'
            f"</tr>{rows}</table>")


def _html_behaviour(result: dict[str, Any]) -> str:
    if result["diverged"]:
        return ("<p class=warn>Guest-visible behaviour differs: the console output of "
                f"{html.escape(', '.join(result['diverged']))} is not the same under a and "
                "b.</p>")
    return "<p>Guest-visible behaviour is the same (every VM's console output).</p>"
