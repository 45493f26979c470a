"""The topology: a fixed, logarithmic scale for link traffic in a legend, a paused
machine's CPUs named paused (not waiting), and node titles readable from flash8 to
flash32."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from app import theme
from app.views.topology_view import READABLE_PT, TopologyView
from disco_core.machine import CpuState
from disco_core.session import baremetal_session


def test_link_scale_is_fixed_and_logarithmic() -> None:
    assert theme.link_fraction(0) == 0 and theme.link_fraction(0.5) == 0
    assert theme.link_fraction(1e3) == pytest.approx(0.5)
    assert theme.link_fraction(1e6) == 1 and theme.link_fraction(1e9) == 1
    assert theme.heat(theme.link_fraction(3)) != theme.heat(1.0)  # a trickle is not hot
    legend = TopologyView.legend_text()
    assert "log scale" in legend and "10<sup>6</sup>" in legend and "messages/s" in legend
    for state in ("running", "paused", "waiting", "parked", "stopped here"):
        assert state in legend


def test_a_paused_machine_is_paused_not_waiting() -> None:
    waiting, parked = int(CpuState.WAITING), int(CpuState.PARKED)
    assert theme.cpu_state(waiting, True, False) == "waiting"
    assert theme.cpu_state(waiting, False, False) == "paused"
    assert theme.cpu_state(parked, False, False) == "parked"
    assert theme.cpu_state(waiting, False, True) == "stopped here"
    assert theme.cpu_state_color(waiting, False, False) == theme.STATE_PAUSED


@pytest.mark.parametrize("preset", ["flash8", "flash16", "flash32"])
def test_node_titles_readable_on_every_preset(qtbot, preset: str) -> None:
    session = baremetal_session(preset_name=preset)
    try:
        snap = session.snapshot()
    finally:
        session.close()
    view = TopologyView()
    qtbot.addWidget(view)
    view.resize(434, 370)  # the panel's size at 1280x800
    view.show()
    view.update_snapshot(snap)
    QApplication.processEvents()
    scale = view.scale_factor()
    for node in view._nodes:
        assert node.title.font().pointSizeF() * scale >= READABLE_PT - 1.5, preset
        # the smaller texts either read well or give way (tooltips keep them)
        if node.stall.isVisible():
            assert scale >= 0.6
    # idle links are grey: the scale is absolute, not relative to the busiest link
    view.update_snapshot(dataclasses.replace(snap, seq=snap.seq + 1,
                                             wall_time=snap.wall_time + 1.0,
                                             link_counters=snap.link_counters + np.uint64(2)))
    assert all(line.pen().color() == theme.LINK_IDLE or line.pen().widthF() < 4
               for _n, _d, line in view._links)
    assert view.legend.isVisible() and view.legend.geometry().bottom() <= view.height()
