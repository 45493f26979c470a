"""The `disco` command line.

    disco run-elf FILE [--machine PRESET] [--cpus N] [--timing|--fast]
                       [--max-instructions N] [--stats]
    disco demo [--cpus N]
    disco boot [--machine PRESET] [--native] [--disk IMG] [--run "CMDS"] [--json]
    disco boot [--machine PRESET] --vms N [--vcpus K] [--disk BASE] [--run "CMDS"] [--json]
    disco boot ... --gdb [HOST:]PORT [--gdb-wait] [--gdb-vm N]
    disco boot --guest linux [--native] [--machine PRESET] [--kernel F] [--initrd F] [--run "CMDS"]
    disco linux fetch [--force]
    disco gdb [--vm N] [--machine PRESET] [--vms N] [--vcpus K] [-- GDB-ARGS...]
    disco gdb --replay FILE [--vm N] [-- GDB-ARGS...]
    disco record FILE [--machine P] [--vms N] [--vcpus K] [--numa-policy P] [--sharing S]
                      [--run "CMDS"] [--seconds S]
    disco replay FILE [--verify] [--to CYCLE] [--json] [--info] [--partial]
    disco replay FILE --gdb [HOST:]PORT [--gdb-vm N] [--to CYCLE]
    disco replay FILE --break SYMBOL|ADDRESS [--vm N] --last [--json]
    disco replay FILE --who-wrote ADDRESS [--length N] [--vm N] [--space gva|gpa|ma] [--json]
    disco replay FILE --who-wrote-reg REG [--vm N] [--vcpu K] [--count N] [--json]
    disco compare FILE --a KEY=VALUE... --b KEY=VALUE... [--json] [--html OUT]

Exit codes: the guest's own exit code when it halts through the exit device;
2 for bad input (a malformed or non-MIPS ELF, an impossible configuration);
124 when --max-instructions ran out; 125 when every CPU waits forever;
1 when `disco replay --verify` finds the replay diverging (2 for a truncated,
corrupt, foreign-build or wrong-version recording).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from disco_core.errors import DiscoError
from disco_core.machine import ExitReason, MiB

EXIT_BAD_INPUT = 2
EXIT_BUDGET = 124
EXIT_IDLE = 125


def _positive(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be positive")
    return value


def _print_stats(tm: object, out: object) -> None:
    """Per-CPU, per-node and per-link statistics (schema in docs/fabric.md)."""
    from disco_core.testmachine import TestMachine

    assert isinstance(tm, TestMachine)
    w = out.write  # type: ignore[attr-defined]
    cfg = tm.config
    w(f"\n--- statistics: {cfg.cpus} CPUs on {cfg.nodes} nodes, "
      f"{'timing' if tm.timing else 'fast (functional)'} mode ---\n")
    w(f"{'cpu':>3} {'node':>4} {'instructions':>13} {'cycles':>13} {'stall':>12} "
      f"{'l2 hit':>9} {'local':>9} {'remote':>9} {'dirty':>8} {'upgrade':>8} {'tlb refill':>10}"
      "  exceptions\n")
    for row, cpu in zip(tm.cpu_stats_table(), tm.cpus, strict=True):
        counts = cpu.stats()["exceptions"]
        assert isinstance(counts, dict)
        exc = ", ".join(f"{k}={v}" for k, v in counts.items()) or "-"
        w(f"{row['cpu']:>3} {row['node']:>4} {row['instructions']:>13} {row['cycles']:>13} "
          f"{row['stall_cycles']:>12} {row['misses_l2_hit']:>9} {row['misses_local']:>9} "
          f"{row['misses_remote']:>9} {row['misses_dirty']:>8} {row['misses_upgrade']:>8} "
          f"{row['tlb_refills']:>10}  {exc}\n")
    nodes = tm.node_stats_table()
    w(f"{'node':>4} {'local served':>13} {'remote served':>14} {'writebacks':>11} "
      f"{'memory in use':>14}\n")
    for n in nodes:
        w(f"{n['node']:>4} {n['local_served']:>13} {n['remote_served']:>14} "
          f"{n['writebacks']:>11} {n['memory_in_use'] // 1024:>11} KiB\n")
    misses = sum(int(n["local_served"] + n["remote_served"]) for n in nodes)
    if misses:
        local = sum(int(r["misses_local"]) for r in tm.cpu_stats_table())
        w(f"local-miss share: {100.0 * local / misses:.1f} % of {misses} memory misses\n")
    links = tm.link_counters()
    if links.size and links.sum():
        w(f"link messages: {int(links.sum())} total, busiest link {int(links.max())}\n")


def _run_program(path: str, cpus: int | None, max_instructions: int, stats: bool,
                 ram_mib: int | None = None, machine: str = "test",
                 timing: bool | None = None) -> int:
    from disco_core.presets import preset
    from disco_core.testmachine import TestMachine

    out = sys.stdout
    fields: dict[str, object] = {}
    if cpus is not None:
        fields["cpus"] = cpus
    if ram_mib is not None:
        fields["ram_bytes"] = ram_mib * MiB
    if timing is not None:
        fields["timing"] = timing
    tm = TestMachine(config=preset(machine, **fields), echo=sys.stdout.buffer)
    tm.load_elf(path)
    result = tm.run_program(max_instructions)
    out.flush()
    if stats:
        _print_stats(tm, sys.stderr)
    if result.reason == ExitReason.HALT:
        assert result.exit_code is not None
        return result.exit_code & 0xFF
    if result.reason == ExitReason.BUDGET:
        print(f"disco: stopped after {result.instructions} instructions "
              "(raise --max-instructions to run longer)", file=sys.stderr)
        return EXIT_BUDGET
    if result.reason == ExitReason.WAIT:
        print("disco: every CPU is waiting and no interrupt can arrive; the program is stuck",
              file=sys.stderr)
        return EXIT_IDLE
    ex = result.exit
    print(f"disco: the machine stopped unexpectedly ({ex.reason.name} on cpu {ex.cpu} "
          f"at pc 0x{ex.pc:08x})", file=sys.stderr)
    return 1


def cmd_run_elf(args: argparse.Namespace) -> int:
    return _run_program(args.file, args.cpus, args.max_instructions, args.stats, args.ram,
                        args.machine, args.timing)


def cmd_demo(args: argparse.Namespace) -> int:
    from disco_core.guest import build_baremetal

    print(f"Building the bundled demo program and running it on the test machine "
          f"({args.cpus} CPUs)...", file=sys.stderr)
    elf = build_baremetal("demo")
    return _run_program(str(elf), args.cpus, args.max_instructions, True, 64)


def cmd_boot(args: argparse.Namespace) -> int:
    """Boot the guest kernel; type --run's commands at the shell, or attach the terminal."""
    import json

    from disco_core.boot import boot, interactive

    if args.guest == "linux":
        from disco_core.linux.cli import cmd_boot_linux

        return cmd_boot_linux(args)
    if args.kernel is not None or args.initrd is not None:
        raise DiscoError("--kernel and --initrd are for --guest linux")
    if args.gdb is not None:
        return _boot_gdb(args)
    if args.vms is not None:
        return _boot_vms(args)
    if args.numa_policy is not None or args.sharing is not None:
        raise DiscoError("--numa-policy and --sharing are the monitor's: use them with --vms "
                         "(the native kernel places pages round-robin, as IRIX did)")
    if args.run is None:
        print("Booting; Ctrl-] quits.", file=sys.stderr)
        return interactive(args.machine, args.disk, persistent=not args.scratch) & 0xFF

    def echo(data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    result = boot(args.machine, native=True, run=args.run, disk_image=args.disk,
                  persistent=not args.scratch, max_instructions=args.max_instructions,
                  echo=None if args.json else echo)
    if args.json:
        print(json.dumps({"output": result.output, **result.to_json()}, indent=2))
    else:
        print()
        if result.backtrace:
            print("symbolised backtrace:")
        for line in result.backtrace:
            print(f"  {line}")
    if result.reason == "halt":
        return (result.exit_code or 0) & 0xFF
    if result.reason == "budget":
        return EXIT_BUDGET
    if result.reason == "idle":
        return EXIT_IDLE
    return 0


def _boot_vms(args: argparse.Namespace) -> int:
    """--vms N: the disco kernel as N VMs under the monitor, each console's lines
    prefixed by its VM, then per VM the exits by the paper's categories."""
    import json

    from disco_core.boot import boot_vms, prefixed
    from disco_core.monitor.footprint import format_numa
    from disco_core.monitor.stats import CATEGORIES

    partial: dict[str, bytes] = {}

    def echo(name: str, data: bytes) -> None:
        # whole lines only, so the VMs' outputs interleave line by line
        text = partial.get(name, b"") + data
        *lines, partial[name] = text.split(b"\n")
        for line in lines:
            sys.stdout.write(prefixed(name, line.decode("utf-8", "replace")) or f"[{name}]\n")
        sys.stdout.flush()

    result = boot_vms(args.machine, args.vms, args.run or "", args.disk,
                      max_instructions=args.max_instructions, vcpus=args.vcpus,
                      echo=None if args.json else echo,
                      numa_policy=args.numa_policy or "migrate_replicate",
                      sharing=args.sharing or "disco")
    if args.json:
        print(json.dumps({"output": result.output, **result.to_json()}, indent=2))
    else:
        for name, rest in partial.items():
            if rest:
                sys.stdout.write(prefixed(name, rest.decode("utf-8", "replace")))
        print()
        print(f"{'VM':6} {'category':18} {'exits':>10} {'cycles':>14}")
        for v in result.vms:
            for cat in CATEGORIES:
                n, cy = v.stats.get(cat, (0, 0))
                print(f"{v.name:6} {cat:18} {n:>10} {cy:>14}")
        print()
        print(f"{'VM':6} {'exit kind':18} {'exits':>10} {'cycles':>14}")
        for v in result.vms:
            for kind, (n, cy) in v.exits.items():
                print(f"{v.name:6} {kind:18} {n:>10} {cy:>14}")
        print()
        print(format_numa(result.numa))
        for v in result.vms:
            if v.reason != "done":
                print(f"{v.name}: {v.reason}", file=sys.stderr)
    if result.reason == "budget":
        return EXIT_BUDGET
    if result.reason == "idle":
        return EXIT_IDLE
    return 0 if all(v.reason == "done" for v in result.vms) else 1


def _refuse_with_gdb(args: argparse.Namespace) -> None:
    given = [f"--{name.replace('_', '-')}" for name in ("disk", "numa_policy", "sharing", "json")
             if getattr(args, name, None) not in (None, False)]
    if given:
        raise DiscoError(f"{', '.join(given)} cannot be used with the GDB server yet")


def _boot_gdb(args: argparse.Namespace) -> int:
    """--gdb: boot, serve every VM (VM k on PORT + k) or the native machine, and run on."""
    from disco_core.gdb import launch

    _refuse_with_gdb(args)
    served = launch.serve_boot(args.machine, args.gdb, args.vms, args.vcpus, args.gdb_vm,
                               args.gdb_wait, args.run)
    try:
        for name, command in served.attach_commands():
            print(f"disco: GDB server for {name}; attach with:\n  {command}", file=sys.stderr)
        if args.gdb_wait:
            print("disco: held before the first instruction until GDB continues",
                  file=sys.stderr)
        def echo(text: str) -> None:
            sys.stdout.write(text)
            sys.stdout.flush()

        launch.run(served, echo=echo)
    finally:
        served.close()
    return 0


def cmd_gdb(args: argparse.Namespace) -> int:
    """disco gdb: boot held, serve, and run gdb-multiarch on it until it exits."""
    from disco_core.gdb import launch

    if args.replay is not None:
        from disco_core.gdb import replay_launch

        return replay_launch.launch(args.replay, args.vm, list(args.gdb_args)) & 0xFF
    served = launch.serve_boot(args.machine, "0", args.vms, args.vcpus, args.vm, True,
                               args.run)
    try:
        return launch.launch_gdb(served, list(args.gdb_args)) & 0xFF
    finally:
        served.close()


def _add_gdb_options(b: argparse.ArgumentParser) -> None:
    b.add_argument("--gdb", metavar="[HOST:]PORT", default=None,
                   help="serve the GDB remote protocol (loopback unless a host is given); "
                        "with --vms, VM k on PORT + k (docs/gdb.md)")
    b.add_argument("--gdb-wait", action="store_true",
                   help="with --gdb: hold before the first instruction until GDB continues")
    b.add_argument("--gdb-vm", type=int, default=None, metavar="N",
                   help="with --gdb and --vms: serve VM N only (0-based), on PORT")


def _add_gdb_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = sub.add_parser("gdb", help="boot the guest kernel held and debug it with gdb-multiarch",
                       description="Boot the guest kernel (the native one, or --vms N VMs), "
                                   "held before its first instruction, serve it and start "
                                   "gdb-multiarch attached to it (VM --vm N, default 0). "
                                   "Arguments after -- go to gdb (e.g. -batch -ex ...).")
    g.add_argument("--machine", default="test", help="machine preset (default test)")
    g.add_argument("--vms", type=_positive, default=None,
                   help="the disco kernel as N virtual machines under the monitor")
    g.add_argument("--vcpus", type=_positive, default=1, help="with --vms: vCPUs per VM")
    g.add_argument("--vm", type=int, default=None, help="with --vms: the VM to debug (0-based)")
    g.add_argument("--run", default=None,
                   help="commands to type at the shell, separated by ';' or newlines")
    g.add_argument("--replay", default=None, metavar="FILE",
                   help="instead: serve VM --vm of this recording (reverse-stepi, "
                        "reverse-continue)")
    g.add_argument("gdb_args", nargs="*", metavar="GDB-ARGS",
                   help="after --: arguments for gdb-multiarch")
    g.set_defaults(func=cmd_gdb)
def cmd_record(args: argparse.Namespace) -> int:
    """Record a session of VMs: type --run's commands into every VM, run --seconds of
    simulated time (less if every VM stops), write FILE."""
    from disco_core.boot import split_commands
    from disco_core.record.format import build_identity
    from disco_core.record.recorder import RecordConfig, Recorder, new_session
    from disco_core.session import FeedConsole
    from disco_core.session.factories import check_vms_request

    config = RecordConfig(preset=args.machine, vms=args.vms or 4, vcpus=args.vcpus,
                          numa_policy=args.numa_policy or "migrate_replicate",
                          sharing=args.sharing or "disco")
    check_vms_request(config.preset, config.vms, config.vcpus)
    session, base = new_session(config)
    try:
        recorder = Recorder(session, args.file, config, base, build_identity())
        commands = split_commands(args.run)
        clock = session.machine.config.clock_hz
        limit = int(args.seconds * clock)
        marks = [0] * len(session.guests)
        pending = [list(commands) for _ in session.guests]
        shown = [0] * len(session.guests)
        partial = [b""] * len(session.guests)
        cycles = 0
        while True:
            session.step_slice(1_000_000)
            for i, g in enumerate(session.guests):
                out = g.console.output
                if not args.quiet and len(out) > shown[i]:
                    # whole lines only, so the VMs' outputs interleave line by line
                    *lines, partial[i] = (partial[i] + bytes(out[shown[i]:])).split(b"\n")
                    for line in lines:
                        sys.stdout.write(f"[{g.name}] {line.decode('utf-8', 'replace')}\n")
                    shown[i] = len(out)
                found = out.find(b"$ ", marks[i])
                if found >= 0 and pending[i]:
                    marks[i] = found + 2
                    session.submit(FeedConsole(g.name, pending[i].pop(0).encode() + b"\n"))
            cycles = max(c.cycles for c in session.machine.cpus)
            if cycles >= limit or session.halted or not session.running:
                break  # the time is up, or nothing runs any more (every VM stopped)
        recorder.close()
        print(f"\nrecorded {cycles / clock:.2f} simulated seconds, {recorder.inputs} inputs, "
              f"{recorder.checkpoints} checkpoints, {recorder.size} bytes into {args.file}",
              file=sys.stderr)
    finally:
        session.close()
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay a recording (--info: say what it holds; --verify: check every digest)."""
    import json

    from disco_core.record.replay import Recording, Replayer

    if args.gdb is not None:  # serve the recording to GDB (docs/gdb.md)
        from disco_core.gdb import replay_launch

        replay_launch.check_options(args)
        return replay_launch.serve(args.file, args.gdb, args.gdb_vm, args.partial, args.to)
    recording = Recording.open(args.file, partial=args.partial)
    if recording.cut_at is not None:
        print(f"disco: {args.file}: cut short at byte {recording.cut_at}; replaying its "
              "complete chunks", file=sys.stderr)
    if args.info:
        info = recording.info()
        if args.json:
            print(json.dumps(info, indent=2))
        else:
            for key, value in info.items():
                print(f"{key:15} {value}")
        return 0
    if args.who_wrote_reg is not None:
        from disco_core.record.whowrote_cli import cmd_who_wrote_register

        return cmd_who_wrote_register(args, recording)
    if args.break_at is not None or args.who_wrote is not None:
        return cmd_replay_reverse(args, recording)
    replayer = Replayer(recording)
    try:
        checked = 0
        if args.verify:
            checked = replayer.verify()
        if args.to is not None:
            replayer.seek(args.to)
        else:
            replayer.play()
        s = replayer.session
        consoles = {g.name: bytes(g.console.output).decode("utf-8", "replace")
                    for g in s.guests}
        cycles = replayer.cycles
        if args.json:
            print(json.dumps({"cycles": cycles, "operations": replayer.position,
                              "checkpoints_verified": checked, "output": consoles}, indent=2))
        else:
            for name, text in consoles.items():
                for line in text.splitlines():
                    print(f"[{name}] {line}")
            print(f"\nreplayed to cycle {cycles}"
                  + (f", {checked} checkpoints verified" if args.verify else ""))
    finally:
        replayer.close()
    return 0


def _record_replay_parsers(sub: Any, policies: Sequence[str], sharing: Sequence[str]) -> None:
    rec = sub.add_parser("record", help="record a session of virtual machines into FILE")
    rec.add_argument("file")
    rec.add_argument("--machine", default="flash8", help="machine preset (default flash8)")
    rec.add_argument("--native", action="store_true",
                     help="refused: only sessions of VMs are recorded so far")
    rec.add_argument("--vms", type=_positive, default=4, help="VMs (default 4)")
    rec.add_argument("--vcpus", type=_positive, default=1, help="vCPUs per VM (default 1)")
    rec.add_argument("--numa-policy", default=None, choices=policies)
    rec.add_argument("--sharing", default=None, choices=sharing)
    rec.add_argument("--run", default=None, help="commands typed into every VM at its prompts")
    rec.add_argument("--seconds", type=float, default=2.0,
                     help="simulated seconds to record (default 2)")
    rec.add_argument("--quiet", action="store_true", help="do not print the consoles")
    rec.set_defaults(func=_native_refused)

    rep = sub.add_parser("replay", help="replay a recording")
    rep.add_argument("file")
    rep.add_argument("--verify", action="store_true",
                     help="check every checkpoint's digest; exit 1 on a divergence")
    rep.add_argument("--to", type=_positive, default=None, help="stop at this cycle")
    rep.add_argument("--json", action="store_true")
    rep.add_argument("--info", action="store_true", help="say what the recording holds")
    rep.add_argument("--partial", action="store_true",
                     help="replay a recording cut short up to its last complete chunk")
    _reverse_options(rep)
    rep.add_argument("--gdb", metavar="[HOST:]PORT", default=None,
                     help="serve a VM of the recording to GDB, forwards and backwards "
                          "(with --to: from that cycle; docs/gdb.md)")
    rep.add_argument("--gdb-vm", type=int, default=None, metavar="N",
                     help="with --gdb: the VM to serve (0-based, default 0)")
    rep.set_defaults(func=_replay_checked)


def _reverse_options(rep: Any) -> None:
    """disco replay's questions answered by going back (docs/reverse.md)."""
    rep.add_argument("--break", dest="break_at", default=None, metavar="SYMBOL|ADDRESS",
                     help="with --last: the last hit of this breakpoint in the recording")
    rep.add_argument("--last", action="store_true", help="see --break")
    rep.add_argument("--who-wrote", default=None, metavar="ADDRESS",
                     help="every write to ADDRESS (a number or a symbol) in the recording")
    rep.add_argument("--length", type=_positive, default=4,
                     help="bytes from --who-wrote's ADDRESS (default 4)")
    rep.add_argument("--space", default="gva", choices=("gva", "gpa", "ma"),
                     help="--who-wrote's address space: guest-virtual (default), "
                          "guest-physical or machine")
    rep.add_argument("--vm", default=None, metavar="N",
                     help="only this VM (its number or name) for --break and --who-wrote")
    from disco_core.record.whowrote_cli import register_options

    register_options(rep)


def _compare_parser(sub: Any) -> None:
    c = sub.add_parser("compare", help="replay a recording's inputs under two configurations")
    c.add_argument("file")
    c.add_argument("--a", nargs="+", default=[], metavar="KEY=VALUE",
                   help="configuration a: numa-policy=P, sharing=S (default: as recorded)")
    c.add_argument("--b", nargs="+", default=[], metavar="KEY=VALUE",
                   help="configuration b, the same keys")
    c.add_argument("--json", action="store_true", help="one object: a, b, rows")
    c.add_argument("--html", default=None, metavar="OUT",
                   help="also write a report with both heat maps and their difference")
    c.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    """A/B replay (docs/reverse.md): a table per VM and workload."""
    import json

    from disco_core.record.compare import (
        compare,
        format_table,
        parse_variant,
        public,
        write_html,
    )

    result = compare(args.file, parse_variant(args.a), parse_variant(args.b))
    if args.html:
        write_html(result, args.html)
    print(json.dumps(public(result), indent=2) if args.json else format_table(result))
    return 0


def _vm_name(replayer: Any, vm: str | None) -> str | None:
    """--vm as a VM's name: a number counts the VMs from 0."""
    if vm is None:
        return None
    names = [g.name for g in replayer.session.guests]
    if vm in names:
        return vm
    if vm.isdigit() and int(vm) < len(names):
        return names[int(vm)]
    raise DiscoError(f"--vm {vm}: there are {len(names)} VMs ({', '.join(names)})")


def cmd_replay_reverse(args: argparse.Namespace, recording: Any) -> int:
    """--break ... --last and --who-wrote: go back through the recording."""
    import json

    from disco_core.record.replay import Replayer
    from disco_core.record.reverse import BreakSpec, Reverse
    from disco_core.record.whowrote import who_wrote

    if args.break_at is not None and not args.last:
        raise DiscoError("--break needs --last (the last hit before the end of the "
                         "recording); the app and the Python API go back further")
    replayer = Replayer(recording)
    try:
        vm = _vm_name(replayer, args.vm)
        s = replayer.session
        try:
            if args.who_wrote is not None:
                address = s.resolve(args.who_wrote)
                writes = who_wrote(replayer, address, args.length, args.space, vm)
                _print_writes(args, address, writes)
                return 0
            rv = Reverse(replayer)
            rv.add_breakpoint(BreakSpec(args.break_at, None, vm))
            hit = rv.last_hit()
        except (KeyError, ValueError) as e:
            raise DiscoError(str(e).strip("'\"")) from None
        if hit is None:
            print(json.dumps({"hit": None}) if args.json else
                  f"no hit of {args.break_at} in the recording")
            return 0
        regs = s.target.registers(hit.target)
        row = {"cycle": hit.cycles, "instructions": hit.instructions,
               "target": s.targets[hit.target], "vcpu": hit.target, "cpu": hit.cpu,
               "pc": hit.pc, "symbol": s.describe(hit.pc),
               "registers": [int(r) for r in regs.gpr], "hi": regs.hi, "lo": regs.lo}
        if args.json:
            print(json.dumps({"hit": row}, indent=2))
        else:
            from disco_core.mips import GPR_NAMES

            print(f"last hit: cycle {hit.cycles}, {row['target']} on CPU {hit.cpu}, "
                  f"pc {row['symbol']}")
            for i in range(0, 32, 4):
                print("  " + "  ".join(f"{GPR_NAMES[j]:>4} {int(regs.gpr[j]):08x}"
                                       for j in range(i, i + 4)))
            print(f"    hi {regs.hi:08x}    lo {regs.lo:08x}")
        return 0
    finally:
        replayer.close()


def _print_writes(args: argparse.Namespace, address: int, writes: list[Any]) -> None:
    import json

    if args.json:
        print(json.dumps({"address": address, "length": args.length, "space": args.space,
                          "writes": [w.to_json() for w in writes]}, indent=2))
        return
    print(f"{len(writes)} write{'s' if len(writes) != 1 else ''} to {args.length} bytes "
          f"at 0x{address:08x} ({args.space})")
    for w in writes:
        print(f"  cycle {w.cycles:>12}  {w.target_name:14} 0x{w.value:08x} -> "
              f"0x{w.address:08x}  by {w.symbol}" + (f"  {w.line}" if w.line else ""))


def _native_refused(args: argparse.Namespace) -> int:
    if args.native:
        raise DiscoError("disco record records sessions of virtual machines (--vms N); "
                         "the native kernel cannot be recorded yet")
    return cmd_record(args)


def _replay_checked(args: argparse.Namespace) -> int:
    from disco_core.record.replay import Divergence

    try:
        return cmd_replay(args)
    except Divergence as e:
        print(f"disco: {e}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    from disco_core.linux.cli import add_boot_options as add_linux_boot_options
    from disco_core.linux.cli import add_linux_parser
    from disco_core.monitor.diskcache import SHARING
    from disco_core.monitor.numa import POLICIES

    p = argparse.ArgumentParser(prog="disco", description="Disco Workbench command line")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run-elf", help="run a bare-metal MIPS ELF on the test machine")
    r.add_argument("file", help="32-bit little-endian MIPS ELF executable")
    r.add_argument("--machine", default="test",
                   help="machine preset: test, flash8, flash16, flash32, uma8 (default test)")
    r.add_argument("--cpus", type=_positive, default=None,
                   help="number of CPUs (default: the preset's)")
    mode = r.add_mutually_exclusive_group()
    mode.add_argument("--timing", dest="timing", action="store_true", default=None,
                      help="simulate caches and the fabric")
    mode.add_argument("--fast", dest="timing", action="store_false",
                      help="functional simulation only")
    r.add_argument("--max-instructions", type=_positive, default=10_000_000_000,
                   help="stop after this many instructions (default 1e10)")
    r.add_argument("--ram", type=_positive, default=None, help="RAM in MiB (default: preset's)")
    r.add_argument("--stats", action="store_true", help="print per-CPU statistics at the end")
    r.set_defaults(func=cmd_run_elf)

    d = sub.add_parser("demo", help="build and run the bundled demo program")
    d.add_argument("--cpus", type=_positive, default=4)
    d.add_argument("--max-instructions", type=_positive, default=10_000_000_000)
    d.set_defaults(func=cmd_demo)

    b = sub.add_parser("boot", help="boot the guest kernel and its shell")
    b.add_argument("--machine", default="test",
                   help="machine preset: test, flash8, flash16, flash32, uma8 (default test)")
    b.add_argument("--native", action="store_true", default=True,
                   help="the native kernel on the bare machine (the default)")
    b.add_argument("--vms", type=_positive, default=None,
                   help="instead: the disco kernel as N virtual machines under the monitor, "
                        "each with a copy-on-write root disk over one base image (--disk)")
    b.add_argument("--vcpus", type=_positive, default=1,
                   help="with --vms: vCPUs per VM (default 1)")
    b.add_argument("--numa-policy", default=None, choices=POLICIES,
                   help="with --vms: the monitor's NUMA policy (default migrate_replicate; "
                        "docs/numa.md)")
    b.add_argument("--sharing", default=None, choices=SHARING,
                   help="with --vms: memory sharing across VMs: disco (global disk cache and "
                        "kernel text, the default), content (ESX-style), both, none")
    b.add_argument("--disk", default=None,
                   help="root file-system image (default: a fresh one, discarded afterwards)")
    b.add_argument("--scratch", action="store_true",
                   help="keep the guest's writes to --disk in memory (copy-on-write)")
    b.add_argument("--run", default=None,
                   help="commands to type at the shell, separated by ';' or newlines")
    b.add_argument("--json", action="store_true", help="print output and statistics as JSON")
    b.add_argument("--max-instructions", type=_positive, default=10_000_000_000)
    _add_gdb_options(b)
    add_linux_boot_options(b)
    b.set_defaults(func=cmd_boot)
    _add_gdb_command(sub)
    _record_replay_parsers(sub, POLICIES, SHARING)
    _compare_parser(sub)
    add_linux_parser(sub)
    from disco_core.experiments.cli import add_parser as add_experiments_parser

    add_experiments_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except DiscoError as e:
        print(f"disco: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:
        print(f"disco: {e.filename or ''}: {e.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
