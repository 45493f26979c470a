"""The workbench on its default session: four VMs under the monitor on flash8, offscreen."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor

from app import theme
from app.main_window import MainWindow
from disco_core.session import default_session
from tests.app.loop_gaps import LoopGaps

WAIT = 60_000  # ms: generous, the test machines are shared


def prompts(window: MainWindow) -> bool:
    return all(view.toPlainText().rstrip().endswith("$") for view in window.consoles.values())


@pytest.fixture
def booted(make_workbench, qtbot):  # type: ignore[no-untyped-def]
    """The default session's window with every VM at its shell prompt."""
    window = make_workbench(default_session())
    qtbot.waitUntil(lambda: prompts(window), timeout=WAIT)
    return window


def type_into(qtbot, window: MainWindow, vm: str, text: str) -> None:  # type: ignore[no-untyped-def]
    console = window.consoles[vm]
    qtbot.keyClicks(console, text)
    qtbot.keyClick(console, Qt.Key.Key_Return)


def test_default_session_boots_every_vm_to_its_prompt(make_workbench, qtbot) -> None:
    window = make_workbench(default_session())
    # the status bar counts the VMs at their prompt while they boot
    qtbot.waitUntil(lambda: "booting: 0 of 4 VMs" in window.state_label.text()
                    or prompts(window), timeout=WAIT)
    qtbot.waitUntil(lambda: prompts(window), timeout=WAIT)
    assert [window.console_tabs.tabText(i) for i in range(4)] == ["vm0", "vm1", "vm2", "vm3"]
    assert all("init: starting sh" in v.toPlainText() for v in window.consoles.values())
    snap = window.latest
    assert snap is not None and snap.nodes == 8 and snap.vms is not None
    assert window.debugger.cpu_box.count() == 4
    assert window.debugger.cpu_box.itemText(1) == "vm1 vCPU 0"
    window.render_now()
    assert "booting" not in window.state_label.text()


def test_a_command_typed_into_a_console_runs_in_that_vm_only(booted, qtbot) -> None:
    window = booted
    type_into(qtbot, window, "vm2", "echo hello from vm2")
    qtbot.waitUntil(lambda: "hello from vm2\n$" in window.consoles["vm2"].toPlainText(),
                    timeout=WAIT)
    for name in ("vm0", "vm1", "vm3"):
        assert "hello" not in window.consoles[name].toPlainText()


def test_breakpoint_on_a_kernel_symbol_stops_that_vm_and_step_is_one_instruction(
        booted, qtbot) -> None:
    window = booted
    dock = window.debugger
    kexec = window.session.resolve("kexec")
    dock.cpu_box.setCurrentIndex(1)  # vm1 vCPU 0
    dock.bp_scope.setCurrentText("this VM")
    qtbot.waitUntil(lambda: window.latest.debug.cpu == 1, timeout=WAIT)
    qtbot.keyClicks(dock.bp_edit, "kexec")
    qtbot.keyClick(dock.bp_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dock.breakpoints.count() == 1, timeout=WAIT)
    assert "(vm1)" in dock.breakpoints.item(0).text()
    # vm3 runs the same kernel code: it passes the breakpoint unseen
    type_into(qtbot, window, "vm3", "echo three")
    qtbot.waitUntil(lambda: "three\n$" in window.consoles["vm3"].toPlainText(), timeout=WAIT)
    assert window.latest.running
    with qtbot.waitSignal(window.engine.paused, timeout=WAIT):
        type_into(qtbot, window, "vm1", "echo one")
    qtbot.waitUntil(lambda: window.rendered is not None and not window.rendered.running,
                    timeout=WAIT)
    window.render_now()
    snap = window.rendered
    assert snap.debug.cpu == 1 and snap.debug.pc == kexec
    assert snap.vms.cpu_vcpu[snap.stopped_cpu] == 1  # the CPU runs vm1's vCPU
    assert dock.cpu_box.currentIndex() == 1
    assert "vm1 vCPU 0" in dock.status.text() and "<kexec>" in dock.status.text()
    current = [line for line in dock.disassembly.toPlainText().splitlines() if "\u25b6" in line]
    assert len(current) == 1 and f"{kexec:08x}" in current[0] and "\u25cf" in current[0]
    pc_cells = [dock.registers.item(r, c + 1).text()
                for r in range(dock.registers.rowCount()) for c in (0, 2)
                if dock.registers.item(r, c) and dock.registers.item(r, c).text() == "pc"]
    assert pc_cells == [f"0x{kexec:08x}"]
    # the virtual CP0 stands next to the real one
    assert dock.cp0.columnCount() == 4 and dock.cp0.item(0, 2).text().startswith("0x")
    assert dock.cp0.horizontalHeaderItem(3).text().startswith("fields")
    # F11: one guest instruction of vm1's vCPU, on its CPU only
    before = snap
    dock.act_step.trigger()
    qtbot.waitUntil(lambda: window.rendered.debug.pc != kexec, timeout=WAIT)
    after = window.rendered
    assert after.debug.pc == kexec + 4
    assert after.instructions - before.instructions == 1
    moved = np.flatnonzero(after.cpu_stats["instructions"] != before.cpu_stats["instructions"])
    assert list(moved) == [before.stopped_cpu]
    # the tables: the vCPU's L2TLB, its VM's pmap (lazy), the monitor's event log
    assert dock.pmap_model.total() == window.session.monitor.vms[1].pmap.npages
    assert 0 < dock.pmap_model.rowCount() < dock.pmap_model.total()
    allocated = np.flatnonzero(after.debug.pmap >= 0)
    assert allocated.size
    assert dock.pmap_model.data(dock.pmap_model.index(int(allocated[0]), 2)) == "1"  # home node
    assert dock.l2tlb_model.total() == len(after.debug.l2tlb)
    assert dock.pmap_model.rowCount(dock.pmap_model.index(0, 0)) == 0
    assert dock.l2tlb_model.rowCount(QModelIndex()) == min(dock.l2tlb_model.total(), 256)
    assert "VM started" in dock.event_log.toPlainText()


def test_heatmap_and_plots_follow_a_workload(booted, qtbot) -> None:
    window = booted
    heat = window.heatmap
    assert heat.mode.currentText().endswith("owning VM")
    qtbot.waitUntil(lambda: heat.redraws >= 2, timeout=WAIT)
    first = np.array(heat.image.image, copy=True)
    # vm1's guest pages with a machine page (full resolution: the heat map groups pages)
    def vm1_pages() -> int:
        return int((window.latest.vms.pmap_rows[1] >= 0).sum())

    owned = vm1_pages()
    type_into(qtbot, window, "vm1", "database 64")
    qtbot.waitUntil(lambda: vm1_pages() > owned + 20, timeout=WAIT)
    count = heat.redraws
    qtbot.waitUntil(lambda: heat.redraws >= count + 3 and heat.last_delta_total > 0,
                    timeout=WAIT)
    assert not np.array_equal(first, heat.image.image)
    # a page of vm1 is coloured by vm1, and hovering it names the VM and its guest page
    snap = window.rendered
    rows1 = snap.vms.pmap_rows[1]
    row = int(rows1[rows1 >= 0][0])  # a page vm1's pmap maps (its register page has no PA)
    assert snap.vms.page_owner[row] == 1
    assert row // (snap.miss_counters.shape[0] // 8) == 1  # on vm1's home node
    text = heat.describe(row)
    assert "vm1 PA 0x" in text and "home node 1" in text
    # the per-VM view: guest pages of vm1, each in the colour of its node
    heat.mode.setCurrentIndex(2 + 1)
    gpn = int(np.flatnonzero(snap.vms.pmap_rows[1] >= 0)[0])
    assert heat.describe_guest_page(1, gpn).startswith(f"vm1 guest PA 0x{gpn << 12:08x} \u2192")
    assert heat.image.image.shape[:2] == ((len(snap.vms.pmap_rows[1]) + 63) // 64, 64)
    heat.mode.setCurrentIndex(0)
    qtbot.waitUntil(lambda: window.plots.points("mips") >= 5, timeout=WAIT)
    assert len(window.plots.vm_curves["exits"]) == 4


def test_up_arrow_recalls_the_last_command_in_the_guest_shell(booted, qtbot) -> None:
    window = booted
    type_into(qtbot, window, "vm3", "echo recalled")
    console = window.consoles["vm3"]
    qtbot.waitUntil(lambda: "recalled\n$" in console.toPlainText(), timeout=WAIT)
    qtbot.keyClick(console, Qt.Key.Key_Up)
    qtbot.keyClick(console, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: console.toPlainText().count("recalled\n$") == 2, timeout=WAIT)
    assert "command not found" not in console.toPlainText()


def test_heatmap_packs_used_pages_with_a_legend_and_a_fast_mode_note(booted, qtbot) -> None:
    window = booted
    heat = window.heatmap
    qtbot.waitUntil(lambda: heat.redraws >= 2, timeout=WAIT)
    window.render_now()
    # Only the pages in use are drawn, and at the default size each is >= 4 px wide.
    assert heat.packed.isChecked()
    assert 0 < len(heat._shown) == int(heat._used.sum()) < heat._shape[0] // 8
    assert heat.page_pixels() >= 4, heat.page_pixels()
    # Nodes without a VM are named, not drawn; node labels are neutral (hue = VM).
    assert set(heat._origins) == {0, 1, 2, 3}
    assert any("nodes 4, 5, 6, 7: no pages in use" in label.textItem.toPlainText()
               for label in heat._labels)
    legend = heat.legend.text()
    for part in ("vm0", "vm1", "vm2", "vm3", "shared by several VMs", "free (no VM owns it)",
                 "no VM's page", "reddening", "migrated or replicated", "gap between nodes"):
        assert part in legend, part
    for vm in range(4):
        assert theme.vm_color(vm).name() in legend
    # Every page drawn when unticked: the whole of every node.
    heat.packed.setChecked(False)
    assert len(heat._shown) == heat._shape[0]
    heat.packed.setChecked(True)
    # Fast mode: the miss counters stop, and the map says so.
    window.timing_box.setChecked(False)
    qtbot.waitUntil(lambda: window.latest is not None and not window.latest.timing,
                    timeout=WAIT)
    window.render_now()
    assert heat.note.isVisible() and "not collected" in heat.note.text()
    window.timing_box.setChecked(True)
    qtbot.waitUntil(lambda: window.latest.timing, timeout=WAIT)
    window.render_now()
    assert heat.note.isHidden()


def test_vm_colours_stay_apart_from_node_colours() -> None:
    def lab(c: QColor) -> np.ndarray:
        lin = [((u + 0.055) / 1.055) ** 2.4 if u > 0.04045 else u / 12.92
               for u in (c.redF(), c.greenF(), c.blueF())]
        xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                        [0.0193, 0.1192, 0.9505]]) @ np.array(lin)
        xyz /= (0.95047, 1.0, 1.08883)
        f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
        return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])

    for vm in range(8):
        for other in [theme.node_color(n) for n in range(8)] + [theme.REMOTE, theme.SHARED]:
            distance = float(np.linalg.norm(lab(theme.vm_color(vm)) - lab(other)))
            assert distance >= 29, (vm, other.name(), distance)


def test_ui_stays_responsive_while_the_vms_run(booted, qtbot) -> None:
    window = booted
    for vm in window.consoles:
        type_into(qtbot, window, vm, "database 16")
    qtbot.waitUntil(lambda: window.renders >= 5, timeout=WAIT)
    start = window.renders
    loop = LoopGaps(10)
    gaps = loop.gaps
    qtbot.waitUntil(lambda: len(gaps) >= 200, timeout=WAIT)
    loop.stop()
    assert window.renders > start and window.rendered.running
    assert max(gaps) < 0.100, f"event loop stalled for {max(gaps) * 1000:.0f} ms"


def test_new_machine_dialog_refuses_impossible_layouts(qtbot) -> None:
    from app.views.new_machine import NewMachineDialog

    dialog = NewMachineDialog()
    qtbot.addWidget(dialog)
    dialog.vms.setValue(64)  # 64 VMs of at least 4 MiB do not fit in flash8's 256 MiB
    dialog.accept()
    assert dialog.choice is None and "do not fit" in dialog.error.text()
    dialog.vms.setValue(16)
    dialog.memory.setValue(32)
    dialog.accept()
    assert dialog.choice is None and "need 512 MiB" in dialog.error.text()
    dialog.vms.setValue(4)
    dialog.memory.setValue(2)
    dialog.accept()
    assert "4 to 32 MiB" in dialog.error.text()
    dialog.memory.setValue(0)
    dialog.vcpus.setValue(9)
    dialog.accept()
    assert "flash8 has 8 CPUs" in dialog.error.text()
    dialog.vcpus.setValue(2)
    dialog.preset.setCurrentIndex(dialog.preset.findData("flash16"))
    dialog.accept()
    assert dialog.result() == dialog.DialogCode.Accepted.value
    assert dialog.choice is not None and dialog.choice.preset == "flash16"
    assert (dialog.choice.vms, dialog.choice.vcpus, dialog.choice.memory_mib) == (4, 2, None)
