"""Stopping one VM while the others run: a paused VM's vCPUs are not scheduled, the
other VMs' consoles keep printing, the paused one goes on when resumed, and pausing is
an input the recorder keeps (the replay is bit-exact)."""

from __future__ import annotations

import pytest

from disco_core.record import checkpoint as ck
from disco_core.record.format import build_identity
from disco_core.record.recorder import RecordConfig, Recorder, shared_root_image
from disco_core.record.replay import Recording, Replayer
from disco_core.session import (
    FeedConsole,
    PauseVm,
    ResumeVm,
    Session,
    Step,
    StopVm,
    baremetal_session,
    vms_session,
)
from tests.guest.checksums import expected_line

SLICE = 500_000
WORKLOAD = "engineering 4"


def boot(s: Session) -> None:
    for _ in range(300):
        s.step_slice(SLICE)
        if all(g.console.output.endswith(b"$ ") for g in s.guests):
            return
    raise AssertionError("the VMs did not reach their prompts")


def _observed(s: Session) -> dict:  # type: ignore[type-arg]
    return {"digest": ck.digest_parts(ck.capture(s)),
            "console": [bytes(g.console.output) for g in s.guests],
            "cycles": [c.cycles for c in s.machine.cpus]}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):  # type: ignore[no-untyped-def]
    image = shared_root_image()
    path = tmp_path_factory.mktemp("pause-rec") / "pause.rec"
    s = vms_session(vms=2, base_image=image)
    recorder = Recorder(s, path, RecordConfig(vms=2), image, build_identity(),
                        checkpoint_seconds=0.05, cost_share=1.0)
    seen: dict[str, object] = {}
    vm0, vm1 = s.guests
    boot(s)
    s.submit(FeedConsole("vm0", WORKLOAD.encode() + b"\n"))
    for _ in range(30):
        s.step_slice(SLICE)
    assert b"checksum" not in vm0.console.output, "the workload ended before the pause"
    s.submit(PauseVm("vm0"))
    events = s.step_slice(0)
    seen["paused_event"] = [e.message for e in events]
    snap = s.snapshot()
    assert snap.vms is not None
    seen["vm_state"] = snap.vms.vm_state
    seen["vcpu_state"] = snap.vms.vcpu_state
    ins0, out0 = int(snap.vms.instructions[0]), len(vm0.console.output)
    ins1 = int(snap.vms.instructions[1])
    gid0 = s.monitor.vms[0].vcpus[0].gid if s.monitor else -1
    # the other VM runs on and prints while vm0 is paused
    mark = len(vm1.console.output)
    s.submit(FeedConsole("vm1", b"echo one; echo two; ls\n"))
    on_a_cpu = False
    for _ in range(400):
        s.step_slice(SLICE)
        on_a_cpu |= gid0 in s.snapshot().vms.cpu_vcpu.tolist()  # type: ignore[union-attr]
        if vm1.console.output.endswith(b"$ ") and b"two\n" in vm1.console.output[mark:]:
            break
    for _ in range(20):  # and time passes for vm0 meanwhile
        s.step_slice(SLICE)
    # a step of the paused VM's vCPU is refused, saying why
    s.submit(Step(0))
    seen["step_error"] = [e.message for e in s.step_slice(0) if e.kind == "error"]
    snap = s.snapshot()
    assert snap.vms is not None
    seen["while_paused"] = {
        "vm0_instructions": int(snap.vms.instructions[0]) - ins0,
        "vm0_printed": len(vm0.console.output) - out0,
        "vm1_instructions": int(snap.vms.instructions[1]) - ins1,
        "vm1_output": bytes(vm1.console.output[mark:]),
        "on_a_cpu": on_a_cpu,
    }
    s.submit(ResumeVm("vm0"))
    seen["resumed_event"] = [e.message for e in s.step_slice(0)]
    for _ in range(2000):
        s.step_slice(SLICE)
        if b"checksum" in vm0.console.output and vm0.console.output.endswith(b"$ "):
            break
    seen["vm_state_after"] = s.snapshot().vms.vm_state  # type: ignore[union-attr]
    recorder.close()
    seen.update(_observed(s))
    s.close()
    return path, image, seen


def test_a_paused_vm_stops_while_the_other_prints(recorded) -> None:  # type: ignore[no-untyped-def]
    _path, _image, seen = recorded
    assert seen["paused_event"] == ["vm0 paused: the other VMs run on"]
    assert seen["vm_state"] == ("paused", "running")
    assert seen["vcpu_state"][0] == "paused"
    w = seen["while_paused"]
    assert w["vm0_instructions"] == 0 and w["vm0_printed"] == 0 and not w["on_a_cpu"]
    assert w["vm1_instructions"] > 0
    assert b"one\ntwo\n" in w["vm1_output"] and b"README" in w["vm1_output"]
    assert "paused" in seen["step_error"][0]
    assert seen["resumed_event"] == ["vm0 runs again"]
    assert seen["vm_state_after"] == ("running", "running")
    # resumed, it went on to the workload's right answer
    vm0 = seen["console"][0].decode()
    assert expected_line(WORKLOAD) in vm0


def test_pausing_is_recorded_and_the_replay_is_bit_exact(recorded) -> None:  # type: ignore[no-untyped-def]
    path, image, seen = recorded
    recording = Recording.open(path)
    kinds = [op[3]["type"] for op in recording.ops if op[0] == "c"]
    assert "PauseVm" in kinds and "ResumeVm" in kinds
    rp = Replayer(recording, session=vms_session(vms=2, base_image=image), base_image=image)
    try:
        assert rp.verify() >= 3  # every checkpoint's digests, from the start
        assert _observed(rp.session) == {k: seen[k] for k in ("digest", "console", "cycles")}
    finally:
        rp.close()


def test_bad_pauses_are_one_line_errors() -> None:
    s = baremetal_session()
    try:
        s.submit(PauseVm("vm0"))
        events = s.step_slice(0)
        assert [e.kind for e in events] == ["error"] and "only VMs pause" in events[0].message
    finally:
        s.close()
    s = vms_session(vms=1)
    try:
        s.submit(PauseVm("vm7"))
        s.submit(StopVm("vm0"))
        s.submit(PauseVm("vm0"))
        messages = [e.message for e in s.step_slice(0) if e.kind == "error"]
        assert "no VM named 'vm7': there are vm0" in messages[0]
        assert "vm0 is stopped" in messages[1]
    finally:
        s.close()


def test_pause_one_vm_from_the_debugger_and_resume_from_its_console(
        make_workbench, qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    wait = 60_000
    s = vms_session(vms=2)
    boot(s)
    window = make_workbench(s)
    dock = window.debugger
    qtbot.waitUntil(lambda: window.latest is not None and window.latest.vms is not None,
                    timeout=wait)
    window.render_now()
    button = dock.controls.pause_vm
    assert button.isVisible() and button.text() == "Pause vm0"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.latest.vms.vm_state[0] == "paused", timeout=wait)
    window.render_now()
    assert window.console_tabs.tabText(0) == "vm0 (paused)"
    assert button.isChecked() and button.text() == "Resume vm0"
    before = int(window.latest.vms.instructions[0])
    # the other VM's console keeps printing
    console = window.consoles["vm1"]
    qtbot.keyClicks(console, "echo still here")
    qtbot.keyClick(console, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "still here\n$" in console.toPlainText(), timeout=wait)
    assert int(window.latest.vms.instructions[0]) == before
    assert window.latest.running  # the session runs: only vm0 is held
    # the paused VM's console offers Resume in its context menu
    menu = window.consoles["vm0"].context_menu()
    act = next(a for a in menu.actions() if a.objectName() == "pause-vm")
    assert act.text() == "Resume vm0"
    act.trigger()
    menu.deleteLater()
    qtbot.waitUntil(lambda: window.latest.vms.vm_state[0] == "running", timeout=wait)
    window.render_now()
    assert window.console_tabs.tabText(0) == "vm0"
    console0 = window.consoles["vm0"]
    qtbot.keyClicks(console0, "echo back")
    qtbot.keyClick(console0, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "back\n$" in console0.toPlainText(), timeout=wait)
