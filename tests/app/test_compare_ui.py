"""Compare… in the app (app/views/compare_dialog.py): the rows are the API's rows, the
heat maps are shown, the UI thread keeps turning, bad choices get a one-line message."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.views.compare_dialog import CompareDialog, table_rows
from disco_core.record.compare import compare, public
from disco_core.record.recorder import RecordConfig
from tests.app.loop_gaps import LoopGaps
from tests.reverse.test_compare import record_typed

WAIT = 300_000  # ms: the test machines are shared


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """Two VMs on flash8; `database 2` typed into vm0 at its prompt, run to the next."""
    return record_typed(tmp_path_factory.mktemp("compare-ui") / "2vms.rec",
                        RecordConfig(vms=2, vcpus=1), b"database 2", slices=300)


def test_the_dialog_shows_the_apis_rows_and_heat_maps(qtbot, recording, tmp_path) -> None:
    dialog = CompareDialog(str(recording))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.a.policy.setCurrentText("round_robin")
    dialog.b.policy.setCurrentText("migrate_replicate")
    assert dialog.a.pairs() == ["numa-policy=round_robin"]
    loop = LoopGaps(10)
    gaps = loop.gaps
    with qtbot.waitSignal(dialog.compared, timeout=WAIT):
        dialog.run_button.click()
        assert dialog.running and not dialog.run_button.isEnabled()
    loop.stop()
    dialog.wait()
    assert dialog.error == "" and dialog.outcome is not None
    assert len(gaps) >= 10 and max(gaps) < 0.5, f"the event loop stalled {max(gaps):.2f} s"
    assert dialog.bars["a"].value() == dialog.bars["b"].value() == 1000

    expected = compare(recording, {"numa-policy": "round_robin"},
                       {"numa-policy": "migrate_replicate"})
    got = public(dialog.outcome)
    assert got["rows"] == public(expected)["rows"]
    assert got["machine"] == public(expected)["machine"]
    rows = table_rows(expected)
    t = dialog.table
    assert t.rowCount() == len(rows) == 4  # two VMs, a and b
    assert [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(len(rows))] \
        == rows
    assert t.item(0, 1).text() == "database 2" and t.item(2, 1).text() == "-"
    machine = dialog.machine.toPlainText()
    assert "round_robin" in machine and "machine b:" in machine
    assert "guest-visible behaviour" in dialog.status.text()
    pixmaps = dialog.heat_pixmaps()
    assert len(pixmaps) == 3 and all(not p.isNull() and p.width() > 0 for p in pixmaps)
    assert "b - a" in dialog.captions[2].text()
    qtbot.wait(50)  # one turn of the event loop: the layout takes the pictures' sizes
    dialog.grab().save(str(tmp_path / "compare.png"))
    assert (tmp_path / "compare.png").stat().st_size > 0


def test_bad_choices_get_one_line(qtbot, tmp_path) -> None:
    dialog = CompareDialog("")
    qtbot.addWidget(dialog)
    dialog.run()
    assert dialog.error == "choose a recording first"
    dialog.path.setText(str(tmp_path / "missing.rec"))
    dialog.run()
    assert "no such file" in dialog.error
    bad = tmp_path / "bad.rec"
    bad.write_bytes(b"junk")
    dialog.path.setText(str(bad))
    dialog.a.costs.setText(str(tmp_path / "no-costs.txt"))
    dialog.run()
    assert dialog.error and "\n" not in dialog.error and not dialog.running
    dialog.a.costs.setText("")
    with qtbot.waitSignal(dialog.compared, timeout=WAIT):
        dialog.run()
    dialog.wait()
    assert dialog.error and "\n" not in dialog.error and "Traceback" not in dialog.error
    assert dialog.run_button.isEnabled()


def test_debug_compare_on_the_windows_own_history(make_workbench, qtbot) -> None:
    """Debug > Compare... starts on the session's history (a file still being written):
    a and b alike give alike rows."""
    from app.main_window import MainWindow
    from disco_core.record.recorder import shared_root_image
    from disco_core.session import Pause, vms_session
    from tests.app.test_timeline import prompts

    window: MainWindow = make_workbench(vms_session(vms=2, base_image=shared_root_image()))
    qtbot.waitUntil(lambda: prompts(window), timeout=WAIT)
    with qtbot.waitSignal(window.engine.paused, timeout=WAIT):
        window.engine.send(Pause())
    assert window.act_compare in window.debug_menu.actions()
    window.act_compare.trigger()
    (dialog,) = window.findChildren(CompareDialog)
    assert dialog.path.text() == str(window.history.recording_path())
    with qtbot.waitSignal(dialog.compared, timeout=WAIT):
        dialog.run()
    dialog.wait()
    assert dialog.error == "" and dialog.outcome is not None
    rows = dialog.outcome["rows"]
    assert [r["vm"] for r in rows] == ["vm0", "vm1"]
    assert all(r["a"] == r["b"] and not r["output_differs"] for r in rows)
    assert dialog.table.rowCount() == 4
    dialog.close()
