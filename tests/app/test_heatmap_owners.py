"""The heat map's page owners (VmsInfo.page_owner): every page a VM uses is that VM's,
including replicas and register pages, and a page allocated since the last copy of the
pmaps is named by its first misses (it does not glow as "no VM's page")."""

from __future__ import annotations

import numpy as np

from disco_core.mips import pfn_to_ram_index
from disco_core.session import FeedConsole, vms_session


def test_every_missed_page_of_a_vm_has_its_owner() -> None:
    s = vms_session(vms=2)
    try:
        for _ in range(300):
            s.step_slice(500_000)
            if all(g.console.output.endswith(b"$ ") for g in s.guests):
                break
        for g in s.guests:
            s.submit(FeedConsole(g.name, b"engineering 100000\n"))
        mm = s.monitor.memmap
        prev = None
        checked = 0
        for _ in range(60):
            s.step_slice(300_000)
            snap = s.snapshot()
            assert snap.vms is not None
            misses = snap.miss_counters.astype(np.int64)
            if prev is not None:
                missed = np.flatnonzero(np.abs(misses - prev).sum(axis=1) > 0)
                own = snap.vms.page_owner
                for row in np.flatnonzero(own[missed] == -1):
                    # a page nobody owns must really be nobody's (free, or the monitor's)
                    page = int(missed[row])
                    entry = next((e for m, e in mm.entries.items()
                                  if pfn_to_ram_index(m) == page), None)
                    assert entry is None or not entry.users, (page, entry)
                checked += len(missed)
            prev = misses
        assert checked > 1000
        # replicas and register pages belong to their VM
        snap = s.snapshot()
        own = snap.vms.page_owner
        for vm in s.monitor.vms:
            for v in vm.vcpus:
                assert v.regpage_mpn is not None
                assert own[pfn_to_ram_index(v.regpage_mpn)] in (vm.id, -2)
        replicas = [(m, e.replica_of) for m, e in mm.entries.items() if e.replica_of >= 0]
        for mpn, master in replicas:
            assert own[pfn_to_ram_index(mpn)] == own[pfn_to_ram_index(master)] != -1
        # the snapshot's arrays are copies: a later snapshot does not change them
        kept = own.copy()
        for _ in range(5):
            s.step_slice(300_000)
            s.snapshot()
        assert np.array_equal(kept, own)
    finally:
        s.close()


def test_node_titles_do_not_run_into_each_other_at_1280x800(make_workbench, qtbot) -> None:
    from PySide6.QtWidgets import QApplication

    from disco_core.session import default_session

    window = make_workbench(default_session())
    window.resize(1280, 800)
    heat = window.heatmap
    qtbot.waitUntil(lambda: heat.redraws >= 2 and len(heat._origins) == 4, timeout=60_000)
    for _ in range(5):
        QApplication.processEvents()
    window.render_now()
    titles = [label for label in heat._labels if "no pages" not in label.textItem.toPlainText()]
    assert len(titles) == 4
    rects = sorted((label.sceneBoundingRect() for label in titles), key=lambda r: r.x())
    for a, b in zip(rects, rects[1:], strict=False):
        if abs(a.y() - b.y()) < 1:  # the same row of blocks
            assert a.right() <= b.left() + 1, (a, b)
