"""An RGB image in a pyqtgraph view, drawn as it is: no levels, no lookup table.

pyqtgraph's ImageItem converts its array to a 32-bit QImage in Python at every
repaint after setImage (levels, lookup table, alpha). The heat map's pixels are
final 8-bit RGB already, so this item wraps the array's memory in a QImage
(Format_RGB888, no copy) and draws it, pixel (x, y) at [x, x+1) × [y, y+1) as
ImageItem does. The painting then runs in C++ with the GIL released, which
matters while the simulation's worker wants the GIL.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QStyleOptionGraphicsItem, QWidget


class RgbImageItem(pg.GraphicsObject):
    def __init__(self) -> None:
        super().__init__()
        self.image: np.ndarray | None = None  # (h, w, 3) uint8, row-major
        self._qimage: QImage | None = None

    def setImage(self, image: np.ndarray, autoLevels: bool = False) -> None:  # noqa: N802
        """Show an (h, w, 3) uint8 array; `autoLevels` is accepted for ImageItem's API."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"an RGB image is (h, w, 3) uint8, not {image.shape} "
                             f"{image.dtype}")
        image = np.ascontiguousarray(image).copy()  # ours: the caller reuses its buffer
        h, w = image.shape[:2]
        resized = self.image is None or self.image.shape != image.shape
        if resized:
            self.prepareGeometryChange()
        self.image = image
        self._qimage = QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        if resized:
            self.informViewBoundsChanged()
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        if self.image is None:
            return QRectF()
        h, w = self.image.shape[:2]
        return QRectF(0, 0, w, h)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if self._qimage is not None:
            painter.drawImage(self.boundingRect(), self._qimage)
