"""`disco experiments list | run NAME... | report`: the command line of the experiments suite."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from disco_core.errors import DiscoError


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} must be at least 1")
    return n


def _executor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true",
                   help="the quick scale (small workloads, same shape; for tests)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--jobs", "-j", type=_positive, default=None,
                       help="local worker processes (default: one per host CPU)")
    where.add_argument("--inline", action="store_true",
                       help="simulate in this process, one run after the other")
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT", default=None,
                       help="send the runs to a running Dask distributed scheduler")
    where.add_argument("--dask-local", type=_positive, metavar="N", default=None,
                       help="start a Dask LocalCluster of N worker processes for the runs")
    p.add_argument("--no-cache", action="store_true",
                   help="simulate every run even when its result is cached")
    p.add_argument("--cache-dir", default=None,
                   help="where results are cached (default: the disco cache's experiments/)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    e = sub.add_parser("experiments", help="the paper's evaluation: run figures and tables, "
                                           "sweeps, the report (docs/experiments.md)")
    esub = e.add_subparsers(dest="experiments_command", required=True)
    ls = esub.add_parser("list", help="the experiments and their runs")
    ls.add_argument("--quick", action="store_true", help="count the quick scale's runs")
    ls.set_defaults(func=cmd_list)
    r = esub.add_parser("run", help="run experiments and print their figures")
    r.add_argument("names", nargs="+", metavar="NAME", help="fig5 table2 fig6 fig7 fig8 "
                                                            "table3, or all")
    r.add_argument("--json", action="store_true", help="print the results as JSON")
    r.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="run a parameter grid (costs.NAME, numa.NAME, overrides.NAME, "
                        "asid_remap, numa_policy, sharing; repeat for more axes)")
    _executor_options(r)
    r.set_defaults(func=cmd_run)
    rep = esub.add_parser("report", help="run every experiment (cached runs are not "
                                         "simulated again) and write the HTML report")
    rep.add_argument("--out", default=None,
                     help="the report's folder (default: the disco cache's report/)")
    _executor_options(rep)
    rep.set_defaults(func=cmd_report)


def _names(names: list[str]) -> list[str]:
    from disco_core.experiments.registry import EXPERIMENTS, get

    if "all" in names:
        return list(EXPERIMENTS)
    for n in names:
        get(n)
    return list(dict.fromkeys(names))


def _suite_args(args: argparse.Namespace) -> dict[str, Any]:
    from disco_core.experiments.cache import ResultCache
    from disco_core.experiments.runner import Executor, TerminalBar

    if args.scheduler is not None:
        ex = Executor("dask", scheduler=args.scheduler)
    elif args.dask_local is not None:
        ex = Executor("dask", dask_local=args.dask_local)
    elif args.inline:
        ex = Executor("inline")
    else:
        ex = Executor("local", jobs=args.jobs)
    cache = ResultCache(Path(args.cache_dir)) if args.cache_dir else ResultCache()
    return {"scale": "quick" if args.quick else "paper", "executor": ex, "cache": cache,
            "use_cache": not args.no_cache,
            "progress": None if args.no_progress else TerminalBar("runs")}


def cmd_list(args: argparse.Namespace) -> int:
    from disco_core.experiments.registry import EXPERIMENTS

    scale = "quick" if args.quick else "paper"
    for name, e in EXPERIMENTS.items():
        print(f"{name:8} {len(e.runs(scale)):>3} runs  {e.title}  ({e.paper_ref})")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from disco_core.experiments.suite import (
        format_summary,
        format_sweep,
        parse_sweep,
        run_experiments,
    )

    sweep = parse_sweep(args.sweep)
    res = run_experiments(_names(args.names), sweep=sweep, **_suite_args(args))
    if args.json:
        objs = [s.to_json() for s in res.summaries]
        for o in objs:
            o.update(identity=res.identity, simulated=res.ran, cached=res.cached)
        print(json.dumps(objs[0] if len(objs) == 1 else {"experiments": objs}, indent=1))
    else:
        for s in res.summaries:
            print(format_summary(s))
            print()
        if sweep:
            print(format_sweep(res.summaries))
            print()
        print(f"{res.ran} runs simulated, {res.cached} from the cache, on {res.executor}, "
              f"in {res.wall_seconds:.1f} s (build {res.identity})")
    return 1 if any(s.error for s in res.summaries) else 0


def cmd_report(args: argparse.Namespace) -> int:
    from disco_core.experiments.registry import EXPERIMENTS
    from disco_core.experiments.report import default_report_dir, write_report
    from disco_core.experiments.suite import run_experiments

    res = run_experiments(list(EXPERIMENTS), **_suite_args(args))
    out = Path(args.out) if args.out else default_report_dir()
    try:
        index = write_report(res, out)
    except OSError as e:
        raise DiscoError(f"cannot write the report to {out}: {e.strerror}") from None
    print(f"report: {index}  ({res.ran} runs simulated, {res.cached} from the cache, "
          f"{res.wall_seconds:.1f} s)")
    failed = [s.name for s in res.summaries if s.error]
    if failed:
        print(f"disco: experiments failed: {', '.join(failed)} (the report says why)",
              file=sys.stderr)
        return 1
    return 0
