"""The translation tables: the CPU's hardware TLB; with VMs the vCPU's L2TLB and the pmap."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QTableView, QWidget

from disco_core.session import DebugDetail

from ...models.array_model import L2TlbModel, PmapModel
from ...models.tlb_model import TlbModel
from .common import model_table


class TlbTables:
    """Three lazy table views; the L2TLB and pmap only matter with VMs (`set_vms`), and
    wait hidden under `parent` until then."""

    def __init__(self, parent: QWidget) -> None:
        self.tlb_model = TlbModel()
        self.tlb: QTableView = model_table("tlb", self.tlb_model, row_numbers=True)
        self.l2tlb_model = L2TlbModel()
        self.l2tlb: QTableView = model_table("l2tlb", self.l2tlb_model, parent)
        self.pmap_model = PmapModel()
        self.pmap: QTableView = model_table("pmap", self.pmap_model, parent)
        for view in (self.l2tlb, self.pmap):
            view.hide()

    def set_vms(self, node_of: Callable[[int], int]) -> None:
        """`node_of(machine page)` names the node of each pmap entry's page."""
        self.pmap_model.node_of = node_of

    def update_detail(self, d: DebugDetail) -> None:
        self.tlb_model.set_tlb(d.tlb)
        if d.l2tlb is not None:
            self.l2tlb_model.set_rows(d.l2tlb)
        if d.pmap is not None:
            self.pmap_model.set_rows(d.pmap)
