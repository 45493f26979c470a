"""`disco replay FILE --who-wrote-reg REG [--vm N] [--vcpu K] [--count N] [--json]`:
the last writes that changed a register of a vCPU over a recording (whowrote.py)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from disco_core.errors import DiscoError


def register_options(rep: Any) -> None:
    rep.add_argument("--who-wrote-reg", default=None, metavar="REG",
                     help="the last writes that changed register REG (a0, $4, hi, ...) of "
                          "--vm's vCPU --vcpu before the end of the recording")
    rep.add_argument("--vcpu", type=int, default=0, metavar="K",
                     help="--who-wrote-reg's vCPU of --vm (default 0), or CPU K natively")
    rep.add_argument("--count", type=int, default=1, metavar="N",
                     help="--who-wrote-reg: how many of the last writes (default 1)")


def target_of(session: Any, vm: str | None, vcpu: int) -> int:
    """The debug target for --vm and --vcpu: vCPU `vcpu` of VM `vm` (default the first)."""
    names = [g.name for g in session.guests]
    if session.monitor is None:
        session.target.check(vcpu)
        return vcpu
    chosen = vm if vm is not None else names[0]
    mine = [i for i in range(len(session.targets)) if session.target.vm_of(i) == chosen]
    if not 0 <= vcpu < len(mine):
        raise DiscoError(f"--vcpu {vcpu}: {chosen} has {len(mine)} vCPU"
                         f"{'s' if len(mine) != 1 else ''} (0 to {len(mine) - 1})")
    return mine[vcpu]


def cmd_who_wrote_register(args: argparse.Namespace, recording: Any) -> int:
    from disco_core.cli import _vm_name
    from disco_core.record.replay import Replayer
    from disco_core.record.whowrote import register_index, who_wrote_register

    if args.count < 1:
        raise DiscoError(f"--count {args.count}: ask for one write or more")
    try:
        register_index(args.who_wrote_reg)
    except ValueError as e:
        raise DiscoError(str(e)) from None
    replayer = Replayer(recording)
    try:
        target = target_of(replayer.session, _vm_name(replayer, args.vm), args.vcpu)
        try:
            writes = who_wrote_register(replayer, args.who_wrote_reg, target,
                                        count=args.count)
        except ValueError as e:
            raise DiscoError(str(e)) from None
        name = replayer.session.targets[target]
        if args.json:
            print(json.dumps({"register": args.who_wrote_reg, "target": name,
                              "writes": [w.to_json() for w in writes]}, indent=2))
            return 0
        print(f"the last {len(writes)} write{'s' if len(writes) != 1 else ''} changing "
              f"{args.who_wrote_reg} of {name}")
        for w in writes:
            by = f"by {w.symbol}" if w.cause == "instruction" else f"by {w.cause}"
            print(f"  cycle {w.cycles:>12}  0x{w.old:08x} -> 0x{w.new:08x}  {by}"
                  + (f"  {w.line}" if w.line and w.cause == "instruction" else ""))
        return 0
    finally:
        replayer.close()
