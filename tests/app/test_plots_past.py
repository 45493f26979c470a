"""The plots follow a seek into the past (app/views/plots_view.py): the curves stop at
the seeked point, a line marks it, the span to the present is greyed; Live draws the
present's curves whole again."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from app.main_window import MainWindow
from disco_core.record.recorder import shared_root_image
from disco_core.session import Pause, vms_session
from tests.app.test_timeline import prompts

WAIT = 90_000  # ms: the test machines are shared


def drawn_x(window: MainWindow, key: str) -> np.ndarray:
    x, _y = window.plots.vm_curves[key][0].getData()
    return np.asarray(x if x is not None else [], float)


def test_after_a_seek_the_plots_show_the_seeked_point_then_live(make_workbench, qtbot,
                                                                 tmp_path) -> None:
    window = make_workbench(vms_session(vms=2, base_image=shared_root_image()))
    plots = window.plots
    qtbot.waitUntil(lambda: prompts(window), timeout=WAIT)
    qtbot.waitUntil(lambda: plots.points("mips") >= 12, timeout=WAIT)
    with qtbot.waitSignal(window.engine.paused, timeout=WAIT):
        window.engine.send(Pause())
    qtbot.waitUntil(lambda: window.latest is not None and not window.latest.running,
                    timeout=WAIT)
    window.render_now()
    plots.redraw_all()
    sim = np.fromiter(plots._sim, float)
    live_points = len(drawn_x(window, "mips"))
    assert live_points >= 12
    for key in plots.past_marks:
        line, future = plots.past_marks[key]
        assert not line.isVisible() and not future.isVisible()
    first, _last = window.history.range()
    clock = window.session.machine.config.clock_hz
    target = max(int(sim[len(sim) // 2] * clock), first)  # half way along the plots

    with qtbot.waitSignal(window.engine.seeked, timeout=WAIT):
        window.seek_to(target)
    qtbot.waitUntil(lambda: window.latest is not None and
                    window.latest.sim_cycles < sim[-1] * clock, timeout=WAIT)
    window.render_now()
    plots.redraw_all()
    at = window.latest.sim_seconds
    assert plots.past_at == at and at < sim[-1]
    x = plots.x_values()  # seconds before the present (wall clock)
    where = float(np.interp(at, sim, x))
    for key in plots.vm_curves:
        shown = drawn_x(window, key)
        assert 0 < len(shown) < live_points, "the curve stops at the seeked point"
        assert shown.max() <= where + 1e-9
        line, future = plots.past_marks[key]
        assert line.isVisible() and future.isVisible()
        assert abs(line.value() - where) < 1e-9
        lo, hi = future.getRegion()
        assert abs(lo - where) < 1e-9 and hi == 0.0  # greyed up to the present
    plots.grab().save(str(tmp_path / "plots-past.png"))
    # in simulated time the line stands at the point's simulated seconds
    plots.window_box.setCurrentIndex(3)
    plots.redraw_all()
    assert abs(plots.past_marks["mips"][0].value() - at) < 1e-12
    assert drawn_x(window, "mips").max() <= at
    plots.window_box.setCurrentIndex(0)

    with qtbot.waitSignal(window.engine.went_live, timeout=WAIT):
        qtbot.mouseClick(window.timeline.live, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: plots.past_at is None, timeout=WAIT)
    qtbot.waitUntil(lambda: window.latest is not None, timeout=WAIT)
    window.render_now()
    plots.redraw_all()
    assert len(drawn_x(window, "mips")) >= live_points
    for line, future in plots.past_marks.values():
        assert not line.isVisible() and not future.isVisible()
