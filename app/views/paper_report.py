"""Help › Paper reproduction: the last report `disco experiments report` wrote.

The report is plain HTML with PNG charts (disco_core/experiments/report.py), so a
QTextBrowser shows it as it is, charts included; "Open in browser" hands it to the
desktop's browser for the SVGs and the raw JSON. With no report yet, the dialog says
which command makes one.
"""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from disco_core.experiments.report import last_report

NO_REPORT = ("<h3>No report yet</h3><p>Run <code>disco experiments report</code> "
             "(or <code>disco experiments report --quick</code> for a small one) to "
             "reproduce the paper's figures; the last report written opens here.</p>")


def paper_report_dialog(parent: QWidget | None) -> QDialog:
    dialog = QDialog(parent)
    dialog.setObjectName("help-paper")
    dialog.setWindowTitle("Paper reproduction")
    layout = QVBoxLayout(dialog)
    browser = QTextBrowser()
    browser.setObjectName("paper-report")
    browser.setOpenExternalLinks(True)
    index = last_report()
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    if index is None:
        browser.setHtml(NO_REPORT)
    else:
        browser.setSource(QUrl.fromLocalFile(str(index)))
        open_button = QPushButton("Open in browser")
        open_button.setObjectName("open-report")
        open_button.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(index))))
        buttons.addButton(open_button, QDialogButtonBox.ButtonRole.ActionRole)
    buttons.rejected.connect(dialog.close)
    layout.addWidget(browser)
    layout.addWidget(buttons)
    dialog.resize(1000, 760)
    return dialog
