"""The debugger dock and its views: run controls, breakpoints, registers, disassembly,
memory, the TLB tables and the monitor's event log (one module each; dock.py assembles)."""

from .dock import DebuggerDock

__all__ = ["DebuggerDock"]
