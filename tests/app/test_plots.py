"""The live plots: a wall-clock "last N seconds" axis by default, simulated time in
SI units as an option, one VM highlighted among many, and a note in the title of a
figure that does not apply."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyqtgraph as pg

from app import theme
from app.views.plots_view import PlotsView

WAIT = 60_000


def _bottom_label(view: PlotsView) -> str:
    axis = list(view.plots.values())[-1].getAxis("bottom")
    return axis.labelString()


def test_wall_clock_axis_by_default_and_simulated_time_in_si_units(make_workbench,
                                                                  qtbot) -> None:
    window = make_workbench()
    plots = window.plots
    assert plots.window_box.currentText() == "last 60 s (wall clock)"
    qtbot.waitUntil(lambda: plots.points("mips") >= 5, timeout=WAIT)
    window.render_now()
    x = plots.x_values()
    assert x[-1] == 0 and x[0] < 0  # seconds before the newest point
    assert plots.x_range(x) == (-60.0, 0.0)
    assert "seconds ago (wall clock)" in _bottom_label(plots)
    view_range = plots.plots["mips"].viewRange()[0]
    assert view_range[0] == -60 and view_range[1] == 0
    # Points are spaced in wall time, so 5 minutes fit in the history.
    gaps = np.diff(np.fromiter(plots._x, float))
    assert gaps.min() >= 0.2 - 1e-9
    plots.window_box.setCurrentIndex(3)  # simulated time
    label = _bottom_label(plots)
    assert "simulated time" in label and "s)" in label  # (s), (ms), (µs)...
    sim = plots.x_values()
    assert sim[-1] > 0
    assert "e+" not in label
    plots.window_box.setCurrentIndex(0)


def test_a_figure_that_does_not_apply_says_so(make_workbench, qtbot) -> None:
    window = make_workbench()
    plots = window.plots
    qtbot.waitUntil(lambda: window.latest is not None, timeout=WAIT)
    snap = window.latest
    plots._applies(dataclasses.replace(snap, nodes=1, timing=True))
    assert plots.not_applicable == {"local": "does not apply: one node, every miss is local"}
    assert "does not apply" in plots.plots["local"].titleLabel.text
    plots._applies(dataclasses.replace(snap, nodes=8, timing=False))
    assert set(plots.not_applicable) == {"local", "stall"}
    assert "fast mode" in plots.plots["stall"].titleLabel.text
    plots._applies(dataclasses.replace(snap, nodes=8, timing=True))
    assert plots.not_applicable == {}
    assert "fast mode" not in plots.plots["stall"].titleLabel.text


def test_thirty_two_vms_stay_apart_with_a_highlighted_vm(qtbot) -> None:
    view = PlotsView()
    qtbot.addWidget(view)
    names = tuple(f"vm{i}" for i in range(32))
    view.set_vms(names)
    assert view.vm_box.count() == 33 and view.vm_box.itemText(0) == "all VMs"
    key = view.key.text()
    assert all(f"&nbsp;{n}" in key for n in names) and "colours repeat" in key
    assert view.key.wordWrap()  # wraps instead of being cut off
    assert len(view.vm_curves["mips"]) == 32
    view.vm_box.setCurrentIndex(1 + 17)
    curves = view.vm_curves["mips"]
    chosen = curves[17].opts["pen"]
    assert isinstance(chosen, pg.QtGui.QPen)
    assert chosen.color().name() == theme.vm_color(17).name() and chosen.widthF() == 2
    assert curves[17].zValue() > curves[5].zValue()
    assert {c.opts["pen"].color().name() for i, c in enumerate(curves) if i != 17} == {
        "#4a535c"}
    view.vm_box.setCurrentIndex(0)
    assert curves[5].opts["pen"].color().name() == theme.vm_color(5).name()
