"""Disco Workbench: the desktop application (PySide6 + pyqtgraph). See docs/app.md."""
