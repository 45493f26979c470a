"""Fuzzed inputs: whatever a user hands the workbench, only its documented errors come out.

Each test mutates a valid input (bit flips, overwritten bytes, truncation,
garbage appended) or makes one from nothing, and feeds it to the part that
reads it: the ELF loader, the file-system image reader, the disk image opener,
Machine.restore, the machine presets and their overrides, and a VM's console.
Anything but the error the part documents (ElfError, FsImageError,
DiskImageError, SnapshotError, ConfigError) fails, and so does a hang
(pytest-timeout) or a crash of the host process. The suite runs a few dozen
examples per input; a longer run:

    DISCO_FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest -q -p no:cacheprovider tests/fuzz
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disco_core.devices import DiskImage
from disco_core.devices.disk import SECTOR_SIZE, DiskImageError
from disco_core.elf import load_elf
from disco_core.errors import ConfigError, DiscoError, ElfError, SnapshotError
from disco_core.fsimage import T_FILE, FsImage, FsImageError, build_root_image
from disco_core.guest import build_baremetal
from disco_core.machine import Machine, MachineConfig
from disco_core.presets import PRESETS, preset
from disco_core.testmachine import TestMachine

EXAMPLES = int(os.environ.get("DISCO_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="DISCO_FUZZ_EXAMPLES" not in
                os.environ, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.function_scoped_fixture])
pytestmark = pytest.mark.timeout(max(120, EXAMPLES))


@st.composite
def mutated(draw: st.DrawFn, valid: bytes, hot: int = 4096) -> bytes:
    """`valid` with a few changes, most of them in its first `hot` bytes (headers)."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "byte", "word", "truncate", "append"]))
        limit = min(len(data), hot) if draw(st.booleans()) else len(data)
        if not data:
            break
        at = draw(st.integers(0, max(limit - 1, 0)))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte":
            data[at] = draw(st.integers(0, 255))
        elif kind == "word":
            word = draw(st.sampled_from([0, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 1,
                                         draw(st.integers(0, 0xFFFFFFFF))]))
            data[at:at + 4] = word.to_bytes(4, "little")
        elif kind == "truncate":
            del data[at:]
        else:
            data += draw(st.binary(max_size=64))
    return bytes(data)


# ---- the ELF loader ---------------------------------------------------------------------

DEMO = Path(build_baremetal("demo")).read_bytes()


@FUZZ
@given(st.one_of(mutated(DEMO, hot=1024), st.binary(max_size=256)))
def test_elf_loader_raises_only_elf_error(data: bytes) -> None:
    try:
        image = load_elf(data)
    except ElfError:
        return
    # What parses must load into a machine, or be refused as documented.
    tm = TestMachine(cpus=1, ram_bytes=16 << 20)
    try:
        tm.load_elf(image)
    except DiscoError as e:  # e.g. a segment outside RAM (GuestMemoryError)
        assert str(e)


# ---- the file-system image reader -------------------------------------------------------

@pytest.fixture(scope="module")
def root_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return build_root_image(tmp_path_factory.mktemp("fuzz-fs") / "root.img").read_bytes()


@FUZZ
@given(data=st.data())
def test_fs_image_reader_raises_only_fs_image_error(root_bytes: bytes,
                                                    data: st.DataObject) -> None:
    # The superblock, bitmap and inodes live in the first blocks.
    image = data.draw(mutated(root_bytes, hot=64 * 1024))
    try:
        fs = FsImage(image)
        for path, inode in fs.walk("/"):
            if inode.type == T_FILE:
                fs.read_file(path)
    except FsImageError:
        pass


# ---- disk images -------------------------------------------------------------------------

@FUZZ
@given(size=st.integers(0, 3 * SECTOR_SIZE + 7), persistent=st.booleans())
def test_disk_image_open_raises_only_disk_image_error(tmp_path_factory: pytest.TempPathFactory,
                                                      size: int, persistent: bool) -> None:
    path = tmp_path_factory.mktemp("fuzz-disk") / "disk.img"
    path.write_bytes(b"\xa5" * size)
    try:
        disk = DiskImage.open(path, persistent=persistent)
    except DiskImageError:
        assert size == 0 or size % SECTOR_SIZE
        return
    try:
        assert disk.sectors == size // SECTOR_SIZE
    finally:
        disk.close()


# ---- machine snapshots -------------------------------------------------------------------

@pytest.fixture(scope="module")
def snapshot_machine() -> tuple[Machine, bytes]:
    m = Machine(MachineConfig(cpus=2, ram_bytes=4 << 20, nodes=2, timing=True))
    m.write_phys(0x1000, bytes(range(256)) * 16)
    return m, m.snapshot()


@FUZZ
@given(data=st.data())
def test_restore_raises_only_snapshot_error_and_keeps_the_machine(
        snapshot_machine: tuple[Machine, bytes], data: st.DataObject) -> None:
    m, blob = snapshot_machine
    m.restore(blob)
    before = m.snapshot()
    damaged = data.draw(mutated(blob, hot=16 * 1024))
    try:
        m.restore(damaged)
    except SnapshotError:
        assert m.snapshot() == before
        return
    # Accepted: it must have been the same snapshot (its checksum covers everything).
    assert m.snapshot() == blob


# ---- presets and configuration -----------------------------------------------------------

FIELDS = [f for f in MachineConfig.__dataclass_fields__ if f != "prid"]


@FUZZ
@given(name=st.one_of(st.sampled_from(sorted(PRESETS)), st.text(max_size=12)),
       overrides=st.dictionaries(st.sampled_from(FIELDS + ["bogus"]),
                                 st.one_of(st.integers(-2**40, 2**40), st.booleans(),
                                           st.text(max_size=4), st.none()),
                                 max_size=3))
def test_presets_and_overrides_raise_only_config_error(name: str, overrides: dict) -> None:
    try:
        config = preset(name, **overrides)
    except ConfigError as e:
        assert str(e)
        return
    config.check()


# ---- the console's input path ------------------------------------------------------------

@pytest.fixture(scope="module")
def vm_session():
    from disco_core.session.factories import vms_session

    s = vms_session(vms=2)
    while not all(bytes(g.console.output).endswith(b"$ ") for g in s.guests):
        s.step_slice(500_000)
    yield s
    s.close()


@settings(max_examples=max(EXAMPLES // 4, 8), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(typed=st.binary(max_size=300), vm=st.integers(0, 1))
def test_console_input_never_hurts_the_monitor(vm_session, typed: bytes, vm: int) -> None:
    # Control characters, NULs, bytes above 127 and long lines typed at a VM's shell:
    # the VMs keep running and the monitor's invariants hold.
    typed = typed.replace(b"poweroff", b"p")
    vm_session.guests[vm].console.feed(typed + b"\n")
    events = vm_session.step_slice(400_000)
    assert not [e for e in events if e.kind == "error"], events
    assert vm_session.monitor.check_invariants() == []
    assert all(v.running for v in vm_session.monitor.vms)
