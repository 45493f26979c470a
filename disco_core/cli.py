"""The `disco` command line.

    disco run-elf FILE [--cpus N] [--max-instructions N] [--stats]
    disco demo [--cpus N]

Exit codes: the guest's own exit code when it halts through the exit device;
2 for bad input (a malformed or non-MIPS ELF, an impossible configuration);
124 when --max-instructions ran out; 125 when every CPU waits forever.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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
    from disco_core.testmachine import TestMachine

    assert isinstance(tm, TestMachine)
    w = out.write  # type: ignore[attr-defined]
    w("\n--- statistics ---\n")
    w(f"{'cpu':>3} {'instructions':>14} {'cycles':>14} {'tlb refills':>11}  exceptions\n")
    for cpu in tm.cpus:
        s = cpu.stats()
        exc = ", ".join(f"{k}={v}" for k, v in s["exceptions"].items()) or "-"  # type: ignore[union-attr]
        w(f"{cpu.index:>3} {s['instructions']:>14} {s['cycles']:>14} {s['tlb_refills']:>11}  "
          f"{exc}\n")


def _run_program(path: str, cpus: int, max_instructions: int, stats: bool,
                 ram_mib: int = 64) -> int:
    from disco_core.testmachine import TestMachine

    out = sys.stdout
    tm = TestMachine(cpus=cpus, ram_bytes=ram_mib * MiB, echo=sys.stdout.buffer)
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
    return _run_program(args.file, args.cpus, args.max_instructions, args.stats, args.ram)


def cmd_demo(args: argparse.Namespace) -> int:
    from disco_core.guest import build_baremetal

    print(f"Building the bundled demo program and running it on the test machine "
          f"({args.cpus} CPUs)...", file=sys.stderr)
    elf = build_baremetal("demo")
    return _run_program(str(elf), args.cpus, args.max_instructions, True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="disco", description="Disco Workbench command line")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run-elf", help="run a bare-metal MIPS ELF on the test machine")
    r.add_argument("file", help="32-bit little-endian MIPS ELF executable")
    r.add_argument("--cpus", type=_positive, default=1, help="number of CPUs (default 1)")
    r.add_argument("--max-instructions", type=_positive, default=10_000_000_000,
                   help="stop after this many instructions (default 1e10)")
    r.add_argument("--ram", type=_positive, default=64, help="RAM in MiB (default 64)")
    r.add_argument("--stats", action="store_true", help="print per-CPU statistics at the end")
    r.set_defaults(func=cmd_run_elf)

    d = sub.add_parser("demo", help="build and run the bundled demo program")
    d.add_argument("--cpus", type=_positive, default=4)
    d.add_argument("--max-instructions", type=_positive, default=10_000_000_000)
    d.set_defaults(func=cmd_demo)
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
