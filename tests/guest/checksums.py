"""The workloads' expected output lines: a pure function of the size argument.

Recorded from the user-mode reference (tests/guest/uemu.py); the same lines
must come out of the guest kernel on any number of CPUs (test_workloads.py).
A change to a workload's source changes its checksums: re-record them with
``python -m tests.guest.checksums``.
"""

from __future__ import annotations

# (command, expected checksum); the small ones run under the kernel too.
SMALL = {
    "pmake 4": 0x2FB1F4C4,
    "engineering 1": 0x648C18C2,
    "raytrace 8": 0x3293B9AF,
    "database 1": 0xE4515BA1,
}
LARGER = {
    "pmake 16": 0x5BFEBCA8,
    "engineering 2": 0x5293A5BE,
    "raytrace 24": 0x4140F0A5,
    "database 4": 0xFCF75114,
}
# Paper-like sizes: a 2 MiB table (double-indirect blocks), 64 compiles, a
# 64x64 image; tests marked slow run them.
LARGE = {
    "pmake 64": 0x6A33FD61,
    "engineering 4": 0x089C49D9,
    "raytrace 64": 0x0ACAEEF8,
    "database 64": 0x45CED63C,
}


# The other sizes the tests and benchmarks run (raytrace's second argument is
# its texture size; the line names the image size only).
OTHER = {
    "pmake 1": 0xBE8D9B25,
    "pmake 2": 0x8E02B342,
    "pmake 8": 0x94C26ECF,
    "raytrace 16": 0x6BD14036,
    "raytrace 16 64": 0x6BD14036,
    "raytrace 32": 0x5DA38E11,
    "raytrace 96 512": 0x92919FA0,
    "database 2": 0x4E835D95,
    "database 16": 0x20C50E65,
}
CHECKSUMS = {**SMALL, **LARGER, **LARGE, **OTHER}


def expected_line(command: str) -> str:
    """The line `command` prints: its name and first argument, and its checksum."""
    name, size = command.split()[:2]
    return f"{name} {size}: checksum 0x{CHECKSUMS[command]:08x}"


if __name__ == "__main__":
    import tempfile
    from pathlib import Path

    from disco_core.fsimage import build_root_image, read_image
    from tests.guest.uemu import UserEmu

    with tempfile.TemporaryDirectory() as tmp:
        fs = read_image(build_root_image(Path(tmp) / "root.img"))
    for command in CHECKSUMS:
        print(UserEmu.from_image(fs, nprocs=1).run(["/sh", "-c", command]).text.strip())
