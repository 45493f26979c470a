"""The hardware TLB of one CPU as a lazy table model over a snapshot's array of
(EntryHi, EntryLo0, EntryLo1, PageMask) rows (array_model.ArrayTableModel)."""

from __future__ import annotations

import numpy as np

from disco_core.mips import EH_ASID, EH_VPN2, LO_V, lo_pfn

from .array_model import ArrayTableModel, lo_flags

ROWS_TO_LOAD = 32
COLUMNS = ("VPN2", "ASID", "PageMask", "PFN0", "flags0", "PFN1", "flags1")

__all__ = ["COLUMNS", "ROWS_TO_LOAD", "TlbModel", "lo_flags"]


def _cell(row: int, values: np.ndarray, column: int) -> str:
    hi, lo0, lo1, mask = (int(v) for v in values)
    if column == 0:
        return f"0x{hi & EH_VPN2:08x}"
    if column == 1:
        return str(hi & EH_ASID)
    if column == 2:
        return f"0x{mask:08x}"
    if column == 3:
        return f"0x{lo_pfn(lo0):05x}"
    if column == 4:
        return lo_flags(lo0)
    if column == 5:
        return f"0x{lo_pfn(lo1):05x}"
    return lo_flags(lo1)


class TlbModel(ArrayTableModel):
    """Valid entries (either half V) in full colour, the others dimmed."""

    def __init__(self) -> None:
        super().__init__(COLUMNS, _cell, live=lambda v: bool((int(v[1]) | int(v[2])) & LO_V),
                         batch=ROWS_TO_LOAD, row_numbers=True)

    def set_tlb(self, tlb: np.ndarray) -> None:
        """Show a new (entries, 4) array: EntryHi, EntryLo0, EntryLo1, PageMask."""
        self.set_rows(tlb)

    def entries(self) -> int:
        return self.total()
