"""Bit-exact replay (console, cycles, every checkpoint's digests) of a session in which a
VM panics and is restarted while two VMs talk over the virtual network (issue 12).

The ordinary guest kernel cannot be made to panic from its shell (as a good kernel
should not), so this session runs the kernel built with KERNEL_DEBUG and a root image
holding `ktest` (tests/guest), whose `ktest kpanic` panics the kernel on purpose. The
replayer is handed a session of the same build (`Replayer(recording, session=...)`);
the recording's header names the default build, as the Replayer checks it."""

from __future__ import annotations

import pytest

from disco_core import fsimage
from disco_core.kernel import build_kernel
from disco_core.record import checkpoint as ck
from disco_core.record.format import build_identity
from disco_core.record.recorder import RecordConfig, Recorder
from disco_core.record.replay import Recording, Replayer
from disco_core.session import FeedConsole, RestartVm
from disco_core.session.factories import vms_session
from tests.guest.test_kernel import ktest_elf

SLICE = 1_000_000
COMMANDS = {"vm0": ["ls", "net send vm1 README", "ps"],
            "vm1": ["net recv got", "cat got", "ktest kpanic"]}
AFTER_RESTART = ["ls"]


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("panic")
    image = fsimage.build_root_image(tmp / "root.img", extra_files={"ktest": ktest_elf()})
    kernel = build_kernel("disco", defines={"KERNEL_DEBUG": None})
    return image, kernel


def _session(build):
    image, kernel = build
    return vms_session(vms=2, base_image=image, kernel=kernel)


def _observed(s) -> dict:
    return {"digest": ck.digest_parts(ck.capture(s)),
            "console": [bytes(g.console.output) for g in s.guests],
            "cycles": [c.cycles for c in s.machine.cpus]}


@pytest.fixture(scope="module")
def recorded(build, tmp_path_factory):
    path = tmp_path_factory.mktemp("panic-rec") / "panic.rec"
    s = _session(build)
    config = RecordConfig(vms=2)
    recorder = Recorder(s, path, config, build[0], build_identity(),
                        checkpoint_seconds=0.05, cost_share=1.0)
    pending = {k: list(v) for k, v in COMMANDS.items()}
    marks = {g.name: 0 for g in s.guests}
    restarted = False
    seen: dict[str, object] = {}
    vm1 = s.monitor.vms[1]
    for _ in range(900):
        s.step_slice(SLICE)
        if vm1.stop_reason and not restarted:
            seen["reason"] = vm1.stop_reason
            s.submit(RestartVm("vm1"))
            restarted = True
            marks["vm1"] = len(s.guests[1].console.output)
            pending["vm1"] = list(AFTER_RESTART)
            continue
        for g in s.guests:
            found = g.console.output.find(b"$ ", marks[g.name])
            if found >= 0 and pending[g.name]:
                marks[g.name] = found + 2
                s.submit(FeedConsole(g.name, pending[g.name].pop(0).encode() + b"\n"))
        if restarted and not any(pending.values()) and \
                s.guests[1].console.output.find(b"$ ", marks["vm1"]) >= 0:
            break
    recorder.close()
    seen.update(_observed(s))
    s.close()
    return path, seen


def test_the_session_panics_restarts_and_talks(recorded):
    _path, seen = recorded
    assert str(seen["reason"]).startswith("guest panic: kernel panic")
    vm0, vm1 = seen["console"]
    assert b"panic: sys_debug: deliberate panic" in vm1
    assert b"net: received" in vm1, "vm0's message crossed the virtual network"
    assert vm1.count(b"init: starting sh") >= 2, "vm1 booted again after its restart"


def test_its_replay_is_bit_exact(recorded, build):
    path, seen = recorded
    recording = Recording.open(path)
    assert {op[3]["type"] for op in recording.ops if op[0] == "c"} == {"FeedConsole",
                                                                      "RestartVm"}
    rp = Replayer(recording, session=_session(build), base_image=build[0])
    try:
        assert rp.verify() >= 5  # every checkpoint's digests, from the start
        assert _observed(rp.session) == {k: seen[k] for k in ("digest", "console", "cycles")}
        # and seeking back into the panic gives the same state as going straight there
        mid = recording.checkpoints[len(recording.checkpoints) // 2]
        rp.seek_op(mid.op + 3)
        there = _observed(rp.session)
        rp.seek_op(0)
        rp.seek_op(mid.op + 3)
        assert _observed(rp.session) == there
    finally:
        rp.close()
