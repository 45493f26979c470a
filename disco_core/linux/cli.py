"""The command line's Linux parts: `disco linux fetch` and `disco boot --guest linux`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from disco_core.errors import DiscoError

EXIT_BUDGET = 124
EXIT_IDLE = 125
EXIT_PANIC = 3


def add_boot_options(b: argparse.ArgumentParser) -> None:
    b.add_argument("--guest", default="unix", choices=("unix", "linux"),
                   help="unix: the bundled kernel (the default); linux: Debian's unmodified "
                        "mipsel kernel with a busybox initramfs (docs/linux.md)")
    b.add_argument("--kernel", default=None, metavar="FILE",
                   help="with --guest linux: a vmlinuz or vmlinux to boot instead of the "
                        "fetched one")
    b.add_argument("--initrd", default=None, metavar="FILE",
                   help="with --guest linux: an initramfs (newc cpio) instead of the built one")


def add_linux_parser(sub: Any) -> None:
    p = sub.add_parser("linux", help="Debian's mipsel Linux kernel and busybox (docs/linux.md)")
    lsub = p.add_subparsers(dest="linux_command", required=True)
    f = lsub.add_parser("fetch", help="download and unpack the kernel and busybox packages "
                                      "(once; apt-get download)")
    f.add_argument("--force", action="store_true", help="download again even when cached")
    f.set_defaults(func=cmd_fetch)


def cmd_fetch(args: argparse.Namespace) -> int:
    from disco_core.linux.fetch import cache_dir, fetch

    files = fetch(force=args.force)
    print(f"kernel:  {files.kernel}")
    print(f"busybox: {files.busybox}")
    print(f"cache:   {cache_dir()}")
    return 0


def cmd_boot_linux(args: argparse.Namespace) -> int:
    from disco_core.linux.boot import boot_linux

    if args.vms is not None or args.gdb is not None:
        raise DiscoError("--guest linux boots natively on one CPU for now: --vms and --gdb "
                         "are for the bundled kernel")
    if args.disk is not None:
        raise DiscoError("--guest linux runs from an initramfs: use --initrd, not --disk")
    if args.run is None:
        return _interactive(args)

    def echo(data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    result = boot_linux(args.machine, args.run, kernel=args.kernel, initrd=args.initrd,
                        max_instructions=args.max_instructions,
                        echo=None if args.json else echo)
    if args.json:
        print(json.dumps({"output": result.output, **result.to_json()}, indent=2))
    else:
        print()
    if result.reason == "panic":
        print("disco: the Linux kernel panicked", file=sys.stderr)
        return EXIT_PANIC
    if result.reason == "budget":
        print(f"disco: stopped after {result.instructions} instructions "
              "(raise --max-instructions to run longer)", file=sys.stderr)
        return EXIT_BUDGET
    if result.reason == "idle":
        return EXIT_IDLE
    return 0


def _interactive(args: argparse.Namespace) -> int:
    """The terminal attached to the ns16550a: raw stdin in, output out; Ctrl-] quits."""
    import select
    import termios
    import tty
    from pathlib import Path

    from disco_core.linux.boot import LinuxBooted
    from disco_core.linux.fetch import fetch
    from disco_core.linux.initramfs import build_initramfs
    from disco_core.machine import ExitReason

    def echo(data: bytes) -> None:
        sys.stdout.buffer.write(data.replace(b"\n", b"\r\n"))
        sys.stdout.buffer.flush()

    kernel, initrd = args.kernel, args.initrd
    if kernel is None or initrd is None:
        files = fetch()
        kernel = kernel or files.kernel
        archive = Path(initrd).read_bytes() if initrd else build_initramfs(files.busybox)
    else:
        archive = Path(initrd).read_bytes()
    print("Booting Linux; Ctrl-] quits.", file=sys.stderr)
    b = LinuxBooted(args.machine, kernel=kernel, initrd=archive, echo=echo)
    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd) if os.isatty(fd) else None
    try:
        if old is not None:
            tty.setraw(fd)
        while True:
            before = b.seen
            if b.step() == ExitReason.HALT:
                return b.machine.halt_code & 0xFF
            ready, _, _ = select.select([fd], [], [], 0 if b.seen != before else 0.01)
            if ready:
                data = os.read(fd, 1024)
                if not data or b"\x1d" in data:
                    return 0
                b.type(data.replace(b"\n", b"\r") if old is None else data)
    finally:
        if old is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)
        b.close()
