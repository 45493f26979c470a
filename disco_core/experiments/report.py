"""The HTML report: each figure and table beside the paper's numbers, with its runs.

`write_report(result, folder)` writes ``index.html``, one chart per figure as
PNG and SVG (matplotlib, drawn as the paper draws them: stacked bars for
Figures 5 and 7, grouped bars for Figure 8, virtual against machine for
Figure 6), and ``results.json`` (every summary and run, raw). The path of the
last report written is kept beside the cache (`last_report`), for the app's
Help › Paper reproduction.
"""

from __future__ import annotations

import html
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from disco_core.experiments.suite import SuiteResult, Summary

COLOURS = {"user": "#4c72b0", "kernel": "#dd8452", "disco": "#c44e52", "idle": "#b0b0b0",
           "exec": "#4c72b0", "local_stall": "#55a868", "remote_stall": "#dd8452"}
CHARTED = ("stacked", "grouped", "footprint")
# the breakdowns a table row shows under it: Disco's, then the ASID-remapping variant's
BREAKDOWNS = ("breakdown", "breakdown_asid_remap")


def default_report_dir() -> Path:
    from disco_core.guest import cache_dir

    return cache_dir() / "report"


def _pointer() -> Path:
    from disco_core.guest import cache_dir

    return cache_dir() / "experiments-last-report"


def last_report() -> Path | None:
    """The index.html of the last report written, if it is still there."""
    try:
        p = Path(_pointer().read_text().strip())
    except OSError:
        return None
    return p if p.is_file() else None


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")   # files only: never a window, never a display
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out: Path, name: str) -> list[str]:
    files = []
    for ext in ("png", "svg"):
        f = f"{name}.{ext}"
        # no dates in the SVG: the same results draw the same files
        fig.savefig(out / f, dpi=110, bbox_inches="tight",
                    metadata={"Date": None} if ext == "svg" else None)
        files.append(f)
    _pyplot().close(fig)
    return files


def _stacked(s: Summary, out: Path) -> list[str]:
    plt = _pyplot()
    rows = s.summary["rows"]
    parts = s.summary["parts"]
    bars: list[tuple[str, dict[str, float], Any]] = []
    for r in rows:
        if "native_breakdown" in r:      # Figure 5: native and Disco side by side
            bars.append((f"{r['workload']}\nnative", r["native_breakdown"], 100))
            bars.append((f"{r['workload']}\nDisco", r["breakdown"], r.get("paper")))
        else:
            bars.append((r["workload"], r["breakdown"], r.get("paper")))
        if "breakdown_asid_remap" in r:  # beyond the paper: beside Disco's bar
            bars.append((f"{r['workload']}\n+ASID remap\n{r['tlb_flushes']}→"
                         f"{r['tlb_flushes_asid_remap']} fl.", r["breakdown_asid_remap"], None))
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(bars)), 4))
    x = range(len(bars))
    bottom = [0.0] * len(bars)
    for p in parts:
        vals = [b[1].get(p, 0.0) for b in bars]
        ax.bar(x, vals, bottom=bottom, color=COLOURS.get(p), label=p.capitalize()
               if p != "disco" else "DISCO", width=0.7)
        bottom = [a + v for a, v in zip(bottom, vals, strict=True)]
    px = [i for i, b in enumerate(bars) if b[2] is not None]
    ax.scatter(px, [bars[i][2] for i in px], marker="_", s=600, color="black", zorder=3,
               label="paper (total)")
    ax.set_xticks(list(x), [b[0] for b in bars], fontsize=8)
    ax.set_ylabel("normalised execution time")
    ax.set_title(s.title, fontsize=10)
    if any("breakdown_asid_remap" in r for r in rows):
        ax.set_xlabel("+ASID remap: Disco with ASID remapping instead of TLB flushes on "
                      "vCPU switch; fl.: TLB flushes at vCPU switches, Disco → remapping",
                      fontsize=7)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, out, s.name)


def _grouped(s: Summary, out: Path) -> list[str]:
    plt = _pyplot()
    rows = s.summary["rows"]
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    policies = list(dict.fromkeys(r["policy"] for r in rows))
    fig, axes = plt.subplots(1, len(workloads), figsize=(5 * len(workloads), 4), squeeze=False)
    width = 0.38
    for ax, w in zip(axes[0], workloads, strict=True):
        ours = [next(r for r in rows if r["workload"] == w and r["policy"] == p)
                for p in policies]
        xs = range(len(policies))
        bottom = [0.0] * len(policies)
        for part in s.summary["parts"]:
            vals = [r["breakdown"].get(part, 0.0) for r in ours]
            ax.bar([x - width / 2 for x in xs], vals, width, bottom=bottom,
                   color=COLOURS.get(part), label=part.replace("_", " "))
            bottom = [a + v for a, v in zip(bottom, vals, strict=True)]
        ax.bar([x + width / 2 for x in xs], [r["paper"] for r in ours], width,
               color="white", edgecolor="black", hatch="//", label="paper")
        for x, r in zip(xs, ours, strict=True):
            ax.annotate(f"{r['local_percent']:.0f}% local\n(paper {r['paper_local_percent']}%)",
                        (x, max(bottom[x], r["paper"]) + 2), ha="center", fontsize=7)
        ax.set_xticks(list(xs), [p.replace("_", "+\n") if p == "migrate_replicate" else p
                                 for p in policies], fontsize=8)
        ax.set_title(w, fontsize=10)
        ax.set_ylabel("normalised execution time")
        ax.set_ylim(0, max(max(bottom), 100) * 1.25)
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(s.title, fontsize=10)
    return _save(fig, out, s.name)


def _footprint(s: Summary, out: Path) -> list[str]:
    plt = _pyplot()
    rows = s.summary["rows"]
    sharing = s.summary["sharing"]
    fig, (ax, axp) = plt.subplots(1, 2, figsize=(10, 4))
    labels = [f"{r['vms']} VM" for r in rows]
    xs = range(len(rows))
    series = [("V (virtual)", "disco_V", "#b0b0b0")]
    series += [(f"M, {sh} sharing", f"{sh}_M", c)
               for sh, c in zip(sharing, ("#4c72b0", "#55a868", "#dd8452"), strict=False)]
    width = 0.8 / len(series)
    for i, (name, key, colour) in enumerate(series):
        ax.bar([x + (i - (len(series) - 1) / 2) * width for x in xs],
               [r[key] for r in rows], width, label=name, color=colour)
    ax.set_xticks(list(xs), labels)
    ax.set_ylabel("MB")
    ax.set_title("ours", fontsize=10)
    ax.legend(fontsize=7)
    for i, (name, key, colour) in enumerate((("V", "paper_V", "#b0b0b0"),
                                             ("M", "paper_M", "#4c72b0"))):
        axp.bar([x + (i - 0.5) * 0.4 for x in xs], [r[key] for r in rows], 0.4, label=name,
                color=colour)
    axp.set_xticks(list(xs), labels)
    axp.set_ylabel("MB")
    axp.set_title("paper (IRIX, 8 pmakes)", fontsize=10)
    axp.legend(fontsize=7)
    fig.suptitle(s.title, fontsize=10)
    return _save(fig, out, s.name)


def _table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "<p>(no rows)</p>"
    # every row's columns (Figure 7's SMP row has no ASID-remapping column)
    keys = list(dict.fromkeys(k for r in rows for k, v in r.items()
                              if not isinstance(v, dict | list)))
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = []
    for r in rows:
        cells = "".join(f"<td>{html.escape(_fmt(r.get(k)))}</td>" for k in keys)
        body.append(f"<tr>{cells}</tr>")
        for name in BREAKDOWNS:
            b = r.get(name)
            if isinstance(b, dict):
                text = ", ".join(f"{k} {_fmt(v)}" for k, v in b.items())
                body.append(f"<tr class='sub'><td colspan='{len(keys)}'>"
                            f"{html.escape(name.replace('_', ' '))}: "
                            f"{html.escape(text)}</td></tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def _runs_table(runs: Sequence[dict[str, Any]]) -> str:
    rows = []
    for r in runs:
        c = r.get("config") or {}
        shown = {k: v for k, v in c.items() if v not in ({}, [], None)}
        rows.append(f"<tr><td><code>{html.escape(json.dumps(shown, sort_keys=True))}</code>"
                    f"</td><td>{_fmt(r.get('cycles'))}</td><td>{_fmt(r.get('wall_seconds'))}"
                    f"</td><td><code>{html.escape(str(r.get('key')))}</code></td></tr>")
    return ("<details><summary>runs (configuration, simulated cycles, wall seconds, cache "
            "key)</summary><table><tr><th>configuration</th><th>cycles</th><th>wall s</th>"
            f"<th>key</th></tr>{''.join(rows)}</table></details>")


STYLE = """body{font-family:sans-serif;max-width:1100px;margin:1em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
tr.sub td{text-align:left;color:#555;font-size:12px}
img.chart{max-width:100%;border:1px solid #eee}
.error{color:#b00}"""
# Marks each chart once the browser has it (data-loaded="yes"), and says so in the page
# when one is missing: a report copied without its PNGs shows it at once.
CHECK = """<script>window.addEventListener('load',function(){
document.querySelectorAll('img.chart').forEach(function(i){
if(i.complete&&i.naturalWidth>0){i.dataset.loaded='yes';}else{i.dataset.loaded='no';
var p=document.createElement('p');p.className='error';p.textContent='chart missing: '+i.src;
i.parentNode.appendChild(p);}});});</script>"""


def write_report(res: SuiteResult, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    sections = []
    for s in res.summaries:
        parts = [f"<section id='{s.name}'><h2>{html.escape(s.title)}</h2>"
                 f"<p>Paper: {html.escape(s.paper_ref)}; scale: {s.scale}.</p>"]
        if s.error:
            parts.append(f"<p class='error'>failed: {html.escape(s.error)}</p>")
        else:
            if s.chart in CHARTED:
                draw = {"stacked": _stacked, "grouped": _grouped,
                        "footprint": _footprint}[s.chart]
                png, svg = draw(s, out)
                parts.append(f"<p><a href='{svg}'><img class='chart' src='{png}' "
                             f"alt='{html.escape(s.title)}' data-chart='{s.name}'></a></p>")
            parts.append(_table(s.summary.get("rows", [])))
            extra = {k: v for k, v in s.summary.items() if k not in ("rows",)}
            if extra:
                parts.append(f"<p><small>{html.escape(json.dumps(extra))}</small></p>")
        parts.append(_runs_table(s.runs))
        parts.append("</section>")
        sections.append("".join(parts))
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Disco Workbench: the "
            f"paper's evaluation</title><style>{STYLE}</style></head><body>"
            f"<h1>The paper's evaluation, reproduced</h1>"
            f"<p>Build identity <code>{res.identity}</code>; {res.ran} runs simulated, "
            f"{res.cached} from the cache, on {html.escape(res.executor)}, in "
            f"{res.wall_seconds:.1f} s of wall time; written {stamp}. Times are simulated "
            f"cycles; the paper's numbers are drawn beside ours. Raw results: "
            f"<a href='results.json'>results.json</a>.</p>"
            + "".join(sections) + CHECK + "</body></html>")
    (out / "results.json").write_text(json.dumps(
        {"identity": res.identity, "wall_seconds": round(res.wall_seconds, 3),
         "executor": res.executor, "experiments": [s.to_json() for s in res.summaries]},
        indent=1, sort_keys=True))
    index = out / "index.html"
    # the page last, whole or not at all: a reader (the app) never sees half of it
    part = out / "index.html.part"
    part.write_text(page)
    os.replace(part, index)
    try:
        _pointer().parent.mkdir(parents=True, exist_ok=True)
        _pointer().write_text(str(index.resolve()))
    except OSError:
        pass   # the report stands; only the app's shortcut to it is lost
    return index
