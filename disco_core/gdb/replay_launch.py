"""`disco replay FILE --gdb` and `disco gdb --replay FILE`: serve a recording (docs/gdb.md).

One VM of the recording is served (`--gdb-vm N` / `--vm N`, default 0): the
replay is one timeline for the whole machine, moved by that one client.
"""

from __future__ import annotations

import argparse
import sys

from disco_core.errors import DiscoError
from disco_core.gdb import replayvm
from disco_core.gdb.launch import GDB, start_gdb

# disco replay's other questions, which a served replay does not answer
_NOT_WITH_GDB = ("verify", "info", "json", "break_at", "who_wrote", "who_wrote_reg")


def check_options(args: argparse.Namespace) -> None:
    """A one-line error for an option of `disco replay` that --gdb cannot go with."""
    given = [f"--{name.replace('_at', '').replace('_', '-')}" for name in _NOT_WITH_GDB
             if getattr(args, name, None) not in (None, False)]
    if given:
        raise DiscoError(f"{', '.join(given)} cannot be used with --gdb")


def serve(file: str, address: str, vm: int | None, partial: bool = False,
          at_cycle: int | None = None) -> int:
    """`disco replay FILE --gdb [HOST:]PORT`: serve until the client kills it or Ctrl-C."""
    served = replayvm.serve_replay(file, address, 0 if vm is None else vm, partial, at_cycle)
    try:
        name = served.target.vm.name
        print(f"disco: GDB server for {name} of the replay of {file} (it can run "
              f"backwards); attach with:\n  {served.attach_command()}", file=sys.stderr)
        try:
            replayvm.run(served)
        except KeyboardInterrupt:
            pass
    finally:
        served.close()
    return 0


def launch(file: str, vm: int | None, gdb_args: list[str], partial: bool = False) -> int:
    """`disco gdb --replay FILE`: serve the replay and start gdb-multiarch on it; gdb's
    exit code once it exits."""
    served = replayvm.serve_replay(file, "127.0.0.1:0", 0 if vm is None else vm, partial)
    try:
        gdb = start_gdb(served.kernel, served.port, gdb_args)
        print(f"disco: serving {served.target.vm.name} of the replay of {file} on port "
              f"{served.port} to {GDB}", file=sys.stderr)
        try:
            # on until gdb exits by itself: a kill must not end the loop and have gdb
            # terminated on its way out (gdb-multiarch 13 then crashes)
            replayvm.run(served, until=lambda: gdb.poll() is not None, end_on_kill=False)
        finally:
            if gdb.poll() is None:
                gdb.terminate()
            code = gdb.wait()
    finally:
        served.close()
    return code
