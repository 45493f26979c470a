"""The main window: topology, heat map, consoles, plots and the debugger dock.

Snapshots arrive from the engine by signal and are only stored; a QTimer
renders the newest one at its own pace, so a burst of snapshots never piles
up work in the event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDockWidget,
    QFileDialog,
    QGroupBox,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from disco_core.machine import MachineConfig
from disco_core.mips import PAGE_SIZE, pfn_to_ram_index
from disco_core.record.replay import Recording
from disco_core.session import Event, FeedConsole, Session, SetTiming, Snapshot

from . import theme
from .engine import Engine
from .history import History
from .views.console_view import ConsoleView, show_vm_states
from .views.debugger import DebuggerDock
from .views.heatmap_view import HeatmapView
from .views.new_machine import plural
from .views.plots_view import PlotsView
from .views.timeline_view import TimelineView
from .views.topology_view import TopologyView
from .views.whowrote_dialog import Query

RENDER_INTERVAL_MS = 30  # one rendering stage per tick (see _stages)


def node_of_mpn(config: MachineConfig) -> Callable[[int], int]:
    """Machine page -> its home node, from the machine's shape (docs/machine-api.md:
    RAM continues at 0x20000000 above the device window; nodes own equal slices)."""
    per_node = config.ram_bytes // PAGE_SIZE // config.nodes

    def node_of(mpn: int) -> int:
        return pfn_to_ram_index(mpn) // per_node

    return node_of


FLUSH_WAIT = 10.0  # s a search waits for the engine to write the history out


def _panel(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(4, 8, 4, 4)
    layout.addWidget(widget)
    return box


class MainWindow(QMainWindow):
    # File > New session: the chosen kind and layout (app.views.new_machine.MachineChoice);
    # whoever made the window builds the session and opens a window on it.
    new_machine = Signal(object)
    # File > Open recording...: the file; whoever made the window opens it in a new one.
    open_recording = Signal(str)

    def __init__(self, session: Session, settings: QSettings | None = None,
                 start: bool = True, owns_session: bool = True, persist: bool = True,
                 record: bool = True, opened: Recording | None = None,
                 history_dir: str | Path | None = None) -> None:
        super().__init__()
        self.setObjectName("workbench")
        self.session = session
        self.owns_session = owns_session
        self.persist = persist  # restore and save the layout (not for screenshots)
        self.settings = settings if settings is not None else QSettings()
        self.setWindowTitle(f"Disco Workbench \u2014 {session.title}")
        # Every session records into a bounded history (app/history.py), unless told not
        # to; a recording opened from a file is replayed through the same machinery.
        self.history = History(session, history_dir, opened=opened) \
            if record or opened is not None else None
        self.engine = Engine(session, self, history=self.history)
        self.viewing_past = False
        self.latest: Snapshot | None = None
        self.rendered: Snapshot | None = None
        self.renders = 0  # heat map redraws; `rendered` is the snapshot they drew
        self._stage = 0
        self._drawn: dict[str, Snapshot] = {}
        self._at_prompt: set[str] = set()  # VMs whose console has shown a prompt
        # The heat map and the consoles every third tick (~11/s), the plots every
        # sixth, topology and the debugger every twelfth: a tick never does much, so
        # the event loop stays responsive and the worker rarely waits for the GIL.
        h, c, p = self._render_heatmap, self._render_consoles, self._render_plots
        self._stages = [h, c, p, h, c, self._render_topology, h, c, p, h, c,
                        self._render_debugger]

        self.topology = TopologyView()
        self.heatmap = HeatmapView()
        self.plots = PlotsView()
        if session.monitor is not None:
            self.plots.set_vms(tuple(g.name for g in session.guests))
        self.consoles: dict[str, ConsoleView] = {}
        self.console_tabs = QTabWidget()
        self.console_tabs.setObjectName("consoles")
        for guest in session.guests:
            view = ConsoleView(guest.name)
            view.line_editing = not guest.tty  # a tty (Linux) gets every key raw
            view.input_typed.connect(self._typed)
            view.commanded.connect(self.engine.send)
            self.consoles[guest.name] = view
            self.console_tabs.addTab(view, guest.name)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.setObjectName("top-split")
        top.addWidget(_panel("Machine topology", self.topology))
        # Short titles: a group box is at least as wide as its title, and the long one
        # made the window wider than a 1280-pixel screen; the tooltip says it whole.
        placement = _panel("Page placement: owner and misses" if session.monitor is not None
                           else "Page placement: misses by node", self.heatmap)
        placement.setToolTip(
            "machine pages per node, coloured by the VM that owns them, lit by recent misses"
            if session.monitor is not None else
            "misses per page, coloured by the node that missed")
        top.addWidget(placement)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.setObjectName("bottom-split")
        bottom.addWidget(_panel("Consoles", self.console_tabs))
        bottom.addWidget(_panel("Live", self.plots))
        main = QSplitter(Qt.Orientation.Vertical)
        main.setObjectName("main-split")
        main.addWidget(top)
        main.addWidget(bottom)
        top.setSizes([520, 520])
        bottom.setSizes([560, 480])
        main.setSizes([430, 330])
        self._splitters = [top, bottom, main]
        self.setCentralWidget(main)

        self.debugger = DebuggerDock(self)
        self.debugger.images = session.images()
        self.debugger.set_targets(tuple(session.targets))  # names, not the machine
        if session.monitor is not None:
            self.debugger.set_vms(tuple(g.name for g in session.guests),
                                  node_of_mpn(session.machine.config),
                                  tuple(session.target_vms))
        self.debugger.commanded.connect(self.engine.send)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.debugger)
        self._build_timeline()

        self._build_toolbar()
        self.state_label = QLabel()
        self.time_label = QLabel()
        self.speed_label = QLabel()
        for label in (self.state_label, self.time_label, self.speed_label):
            label.setStyleSheet("padding: 0 10px;")
            self.statusBar().addPermanentWidget(label)

        self.engine.snapshot_ready.connect(self._received)
        self.engine.events_ready.connect(self._events)
        self.engine.errored.connect(self._errored)
        self.engine.seeked.connect(self._seeked)
        self.engine.went_live.connect(self._went_live)
        self.engine.saved.connect(lambda path: self._say(f"recording saved to {path}", 8000))
        self.render_timer = QTimer(self)
        self.render_timer.setInterval(RENDER_INTERVAL_MS)
        self.render_timer.timeout.connect(self.render_step)
        self.render_timer.start()
        self.resize(1600, 1000)
        if persist:
            self._restore_settings()
            self.fit_to_screen()  # (screenshots keep their size, offscreen or not)
        self._fitted = False
        if start:
            self.engine.start()

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Run")
        bar.setObjectName("run-toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        d = self.debugger
        for act in d.controls.actions_in_order():
            bar.addAction(act)
        bar.addSeparator()
        for act in d.controls.reverse_actions():
            # icons only: with their texts the toolbar would not fit at 1280 pixels
            button = QToolButton()
            button.setDefaultAction(act)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
            bar.addWidget(button)
        bar.addSeparator()
        self.timing_box = QCheckBox("timing mode (caches + NUMA fabric)")
        self.timing_box.setObjectName("timing-mode")
        self.timing_box.setChecked(bool(self.session.machine.config.timing))
        self.timing_box.toggled.connect(lambda on: self.engine.send(SetTiming(on)))
        bar.addWidget(self.timing_box)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        config = self.session.machine.config
        heading = QLabel(f"<b>{self.session.title}</b> \u00b7 {plural(config.nodes, 'node')} "
                         f"\u00d7 {plural(config.cpus_per_node, 'CPU')} \u00b7 "
                         f"{config.memory_per_node >> 20} MiB per node")
        heading.setObjectName("heading")
        heading.setStyleSheet(f"color: {theme.ACCENT.name()}; padding-right: 12px;")
        bar.addWidget(heading)
        self._build_menus()

    # ---- menus: File / View / Run / Debug / Help, one method each ------------------

    def _build_menus(self) -> None:
        """The menu bar in the order users expect; each menu is kept (`file_menu`...)
        so other parts can add their entries."""
        bar = self.menuBar()
        self.file_menu = bar.addMenu("&File")
        self.view_menu = bar.addMenu("&View")
        self.run_menu = bar.addMenu("&Run")
        self.debug_menu = bar.addMenu("&Debug")
        self.help_menu = bar.addMenu("&Help")
        self._fill_file_menu()
        self._fill_view_menu()
        self._fill_run_menu()
        self._fill_debug_menu()
        self._fill_help_menu()

    def _action(self, text: str, slot: Callable[[], object],
                shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None
                ) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.triggered.connect(slot)
        self.addAction(act)  # its shortcut works while the menus are closed
        return act

    def _fill_file_menu(self) -> None:
        self.act_new_machine = self._action("New session…", self.choose_machine,
                                            QKeySequence.StandardKey.New)
        self.file_menu.addAction(self.act_new_machine)
        self.file_menu.addSeparator()
        self.act_open_recording = self._action("Open recording…", self.choose_recording,
                                               QKeySequence.StandardKey.Open)
        self.act_save_recording = self._action("Save recording…", self.choose_save_path,
                                               "Ctrl+Shift+S")
        self.file_menu.addAction(self.act_open_recording)
        self.file_menu.addAction(self.act_save_recording)
        self.file_menu.addSeparator()
        self.file_menu.addAction(self._action("Quit", self.close, QKeySequence.StandardKey.Quit))

    def _fill_view_menu(self) -> None:
        self.view_menu.addAction(self.debugger.toggleViewAction())

    def _fill_run_menu(self) -> None:
        for act in self.debugger.controls.actions_in_order():
            self.run_menu.addAction(act)
        self.run_menu.addSeparator()
        for act in self.debugger.controls.reverse_actions():
            self.run_menu.addAction(act)

    def _fill_debug_menu(self) -> None:
        d = self.debugger

        def focus(widget: QWidget, tab: QWidget | None = None) -> Callable[[], None]:
            def go() -> None:
                d.show()
                if tab is not None:
                    d.tabs.setCurrentWidget(tab)
                widget.setFocus()
            return go

        # Ctrl+Shift: a console takes plain Ctrl+letter for the guest (^B, ^T, ^M).
        self.debug_menu.addAction(self._action("Breakpoint at…", focus(d.bp_edit),
                                               "Ctrl+Shift+B"))
        self.debug_menu.addAction(self._action("Run to…", focus(d.run_to), "Ctrl+Shift+T"))
        self.debug_menu.addAction(self._action("Memory at…", focus(d.mem_addr, d.memory_view),
                                               "Ctrl+Shift+M"))
        self.debug_menu.addAction(self._action("Breakpoints", focus(d.breakpoints, d.bps)))
        self.debug_menu.addSeparator()
        self.act_gdb = QAction("Start GDB server…", self)  # docs/gdb.md
        self.act_gdb.setObjectName("start-gdb-server")
        self.act_gdb.triggered.connect(self.start_gdb_server)
        self.debug_menu.addAction(self.act_gdb)
        self.debug_menu.addSeparator()
        self.act_who_wrote = self._action("Who wrote this\u2026",
                                          d.memory_view.ask_who_wrote)
        self.act_compare = self._action("Compare\u2026", self.show_compare)
        self.debug_menu.addAction(self.act_who_wrote)
        self.debug_menu.addAction(self.act_compare)
        d.who_wrote_requested.connect(self.who_wrote)
        self.heatmap.who_wrote_requested.connect(self.who_wrote)

    def _fill_help_menu(self) -> None:
        self.act_shortcuts = self._action("Shortcuts", self.show_shortcuts)
        # F1 works from the dock and the dialogs too, like F5 and the other run keys
        # (the context first: Qt registers the shortcut with the context it has then)
        self.act_shortcuts.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.act_shortcuts.setShortcut(QKeySequence("F1"))
        self.act_guide = self._action("User guide", self.show_guide)
        self.act_paper = self._action("Paper reproduction", self.show_paper_report)
        self.act_about = self._action("About Disco Workbench", self.show_about)
        for act in (self.act_shortcuts, self.act_guide, self.act_paper, self.act_about):
            self.help_menu.addAction(act)

    def all_actions(self) -> list[QAction]:
        """Every action in the menus, in menu order (Help > Shortcuts lists them)."""
        found = []
        for menu in (self.file_menu, self.view_menu, self.run_menu, self.debug_menu,
                     self.help_menu):
            found += [a for a in menu.actions() if not a.isSeparator()]
        return found

    def _help(self, dialog: QDialog) -> QDialog:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def show_shortcuts(self) -> QDialog:
        from .views.help import shortcuts_dialog

        return self._help(shortcuts_dialog(self, self.all_actions()))

    def show_about(self) -> QDialog:
        from .views.help import about_dialog

        return self._help(about_dialog(self, self.session.images()))

    def show_guide(self) -> QDialog:
        from .views.help import guide_dialog

        return self._help(guide_dialog(self))

    def show_paper_report(self) -> QDialog:
        from .views.paper_report import paper_report_dialog

        return self._help(paper_report_dialog(self))

    # ---- the history: timeline, seeking, reverse, files ---------------------------

    def _build_timeline(self) -> None:
        """The timeline dock under the views (app/views/timeline_view.py)."""
        self.timeline = TimelineView(self.history)
        self.timeline.seek_requested.connect(self.seek_to)
        self.timeline.live_requested.connect(self.go_live)
        self.timeline_dock = QDockWidget("Timeline", self)
        self.timeline_dock.setObjectName("timeline-dock")
        self.timeline_dock.setWidget(self.timeline)
        self.timeline_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                       | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.timeline_dock)
        controls = self.debugger.controls
        controls.reverse_requested.connect(self.reverse)
        state = self.history.state() if self.history is not None else None
        controls.set_reverse_enabled(state is not None and state.enabled,
                                     state.reason if state is not None else "no history")

    def seek_to_point(self, op: int, offset: int) -> None:
        """Move every view exactly to a point of the history (`offset` machine
        instructions into operation `op`: where a search found a write)."""
        self.engine.request("seek_point", (int(op), int(offset)))

    def seek_to(self, cycle: int) -> None:
        """Move every view to `cycle` of the history (the worker seeks; this returns at
        once, and the views follow when the snapshot of that point arrives)."""
        self.engine.request("seek", int(cycle))

    def go_live(self) -> None:
        """Back to the present."""
        self.engine.request("live")

    def reverse(self, how: str, target: int) -> None:
        """Reverse continue / step / step over / step out of `target` (on the worker)."""
        self.engine.request("reverse", (how, int(target)))

    def recording_path(self) -> Path | None:
        """The history's file (or the opened recording's), for the who-wrote search."""
        return self.history.recording_path() if self.history is not None else None

    def flush_recording(self) -> None:
        """Everything the history recorded so far in its file: the engine's thread does
        it between slices; the caller (a search's worker thread, never the UI thread)
        waits for that, at most FLUSH_WAIT seconds."""
        if self.history is None:
            return
        done = threading.Event()
        self.engine.request("flush", done)
        done.wait(FLUSH_WAIT)

    def who_wrote(self, query: Query) -> QDialog:
        """Who wrote this...: the search runs on a worker thread; the dialog lists it."""
        from .views.whowrote_dialog import WhoWroteDialog

        return self._help(WhoWroteDialog(self, query, self))

    def show_compare(self) -> QDialog:
        """Debug > Compare...: one recording replayed under two configurations."""
        from .views.compare_dialog import CompareDialog

        path = self.recording_path()
        return self._help(CompareDialog(str(path) if path is not None else "", self,
                                        flush=self.flush_recording))

    def save_recording(self, path: str | Path) -> None:
        """Write the history so far as a complete recording (on the worker; `saved`)."""
        self.engine.request("save", str(path))

    def choose_save_path(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save recording", "session.rec",
                                              "Recordings (*.rec);;All files (*)")
        if path:
            self.save_recording(path)

    def choose_recording(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open recording", "",
                                              "Recordings (*.rec);;All files (*)")
        if path:
            self.open_recording.emit(path)

    def _seeked(self, cycle: int) -> None:
        self.viewing_past = True
        self.plots.show_past(cycle / self.session.machine.config.clock_hz)
        self._reset_views()
        self.timeline.refresh()

    def _went_live(self) -> None:
        self.viewing_past = False
        self.plots.show_past(None)
        self._reset_views()
        self.timeline.refresh()

    def _reset_views(self) -> None:
        """The views that accumulate (consoles' scrollback, the heat map's recent
        misses) start again from the next snapshot: the machine jumped in time."""
        self.latest = None  # drawn from the other side of the jump: not any more
        for view in self.consoles.values():
            view.clear()
            view.shown = 0
        self.heatmap._prev = None
        self._drawn.clear()

    # ---- snapshots -------------------------------------------------------------

    def _received(self, snap: Snapshot) -> None:
        self.latest = snap
        if not self.viewing_past:
            self.plots.record(snap)  # every point counts, even if this one is not drawn
        if not snap.running:
            # A stop, a step or a command while paused: rare, and the user waits
            # for it, so every view shows it at once.
            self.render_now()

    def render_now(self) -> None:
        """Bring every view up to the newest snapshot (tests and screenshots)."""
        for _ in range(len(self._stages)):
            self.render_step()

    def render_step(self) -> None:
        """One timer tick: one stage of the rendering, so no tick blocks the event loop
        for long; the heat map gets every other tick."""
        snap = self.latest
        if snap is None:
            return
        stage = self._stages[self._stage % len(self._stages)]
        self._stage += 1
        stage(snap)

    def _render_heatmap(self, snap: Snapshot) -> None:
        if snap is not self._drawn.get("heat"):
            self._drawn["heat"] = snap
            self.heatmap.update_snapshot(snap)
            self.rendered = snap
            self.renders += 1

    def _render_topology(self, snap: Snapshot) -> None:
        if snap is not self._drawn.get("topology"):
            self._drawn["topology"] = snap
            self.topology.update_snapshot(snap)

    def _render_consoles(self, snap: Snapshot) -> None:
        """Consoles and the status bar."""
        if snap is self._drawn.get("machine"):
            return
        self._drawn["machine"] = snap
        for c in snap.consoles:
            view = self.consoles.get(c.guest)
            if view is not None:
                view.update_console(c)
        show_vm_states(self.console_tabs, self.consoles, snap.vms)
        state = "halted" if snap.halted else ("running" if snap.running else "paused")
        if self.viewing_past:
            state = "viewing the past"
        color = {"running": theme.STATE_RUNNING, "paused": theme.STATE_PAUSED,
                 "halted": theme.STATE_STOPPED, "viewing the past": theme.STATE_WAITING}[state]
        booting = ""
        if snap.vms is not None and len(self._at_prompt) < len(snap.consoles):
            # Boot progress: a VM is up once its console has shown a shell prompt.
            self._at_prompt.update(c.guest for c in snap.consoles
                                   if c.tail.rstrip().endswith((b"$", b"#")))
            if len(self._at_prompt) < len(snap.consoles):
                booting = (f" \u00b7 booting: {len(self._at_prompt)} of "
                           f"{len(snap.consoles)} VMs at their prompt")
        self.state_label.setText(f"<b style='color:{color.name()}'>\u25cf {state}</b>"
                                 + booting)
        self.time_label.setText(f"simulated {snap.sim_seconds * 1000:,.1f} ms  \u00b7  "
                                f"{snap.instructions:,} instructions")
        self.speed_label.setText(f"{snap.guest_mips:.1f} MIPS")
        if self.timing_box.isChecked() != snap.timing and not self.timing_box.hasFocus():
            self.timing_box.blockSignals(True)
            self.timing_box.setChecked(snap.timing)
            self.timing_box.blockSignals(False)

    def _render_plots(self, snap: Snapshot) -> None:
        if snap is not self._drawn.get("plots"):
            self._drawn["plots"] = snap
            self.plots.update_snapshot(snap)

    def _render_debugger(self, snap: Snapshot) -> None:
        if snap is not self._drawn.get("debugger"):
            self._drawn["debugger"] = snap
            self.debugger.update_snapshot(snap)

    def _events(self, events: list[Event]) -> None:
        for e in events:
            if e.kind in ("breakpoint", "step", "halted", "error", "breakpoint-set", "resumed",
                          "vm-paused", "vm-resumed"):
                self._say(e.message, 8000, error=e.kind == "error")

    def _errored(self, message: str) -> None:
        self._say(message.splitlines()[0], 15000, error=True)

    def _say(self, message: str, timeout_ms: int, error: bool = False) -> None:
        """A stop, a step or an error: in the status bar and in the debugger, where
        the user is looking."""
        self.statusBar().showMessage(message, timeout_ms)
        self.debugger.show_message(message, error)

    def _typed(self, guest: str, data: bytes) -> None:
        self.engine.send(FeedConsole(guest, data))

    def choose_machine(self) -> None:
        """File > New session: ask for a kind and layout; `new_machine` carries it."""
        from .views.new_machine import NewMachineDialog

        dialog = NewMachineDialog(self)
        if dialog.exec() and dialog.choice is not None:
            self.new_machine.emit(dialog.choice)
        dialog.deleteLater()

    def start_gdb_server(self) -> None:
        """Debug > Start GDB server...: a VM and a port, then the command that attaches."""
        from disco_core.gdb.service import attach_command

        from .views.gdb_dialog import GdbDialog

        guests = self.session.guests

        def start(vm: int, port: int) -> str:
            server = self.engine.serve_gdb(vm, port)
            image = guests[vm].image
            return attach_command(image.name if image is not None else "KERNEL.elf",
                                  server.port)

        names = [g.name for g in guests] if self.session.monitor is not None else \
            ["the machine (its CPUs are the threads)"]
        dialog = GdbDialog(names, start, self)
        dialog.exec()
        dialog.deleteLater()

    # ---- settings and closing ----------------------------------------------------

    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = s.value("window/state")
        if state is not None:
            self.restoreState(state)
        for split in self._splitters:
            sizes = s.value(f"splitters/{split.objectName()}")
            if sizes is not None:
                split.restoreState(sizes)

    def fit_to_screen(self) -> None:
        """Keep the whole window, status bar included, on the screen it is on: a
        geometry saved on a larger screen (or the default 1600×1000 on 1280×800)
        is shrunk and moved inside the available area."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        area = screen.availableGeometry()
        frame = self.frameGeometry()
        extra_w = max(frame.width() - self.width(), 0)  # the window manager's frame
        extra_h = max(frame.height() - self.height(), 0)
        width = min(self.width(), area.width() - extra_w)
        height = min(self.height(), area.height() - extra_h)
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)
        frame = self.frameGeometry()
        x = min(max(frame.x(), area.x()), area.right() + 1 - frame.width())
        y = min(max(frame.y(), area.y()), area.bottom() + 1 - frame.height())
        if (x, y) != (frame.x(), frame.y()):
            self.move(x, y)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if not self._fitted:
            self._fitted = True
            if self.persist:
                # The window manager's frame is known once shown: fit again with it.
                QTimer.singleShot(0, self.fit_to_screen)
            if not (self.persist and self.settings.value("window/state") is not None):
                QTimer.singleShot(0, self.size_debugger)

    def size_debugger(self) -> None:
        """The debugger dock's first width: room for a disassembly line and its symbol
        where the window has it (520 px at 1600), a third of a narrower window (the
        views beside it keep theirs: 430 px at 1280), never under its minimum."""
        width = int(min(520, max(self.debugger.minimumSizeHint().width(),
                                 self.width() * 0.34)))
        self.resizeDocks([self.debugger], [width], Qt.Orientation.Horizontal)

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        for split in self._splitters:
            s.setValue(f"splitters/{split.objectName()}", split.saveState())
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.persist:
            self.save_settings()
        self.render_timer.stop()
        self.timeline.timer.stop()
        self.engine.stop()
        if self.history is not None and not self.engine.is_running:
            self.history.close()
        if self.owns_session:
            self.session.close()
        super().closeEvent(event)
