"""A GDB remote serial protocol server for the machine and its VMs (docs/gdb.md)."""

from disco_core.gdb.server import GdbServer, parse_address
from disco_core.gdb.target import PointKind, Resume, StopEvent, StopKind, Target, TargetError

__all__ = ["GdbServer", "PointKind", "Resume", "StopEvent", "StopKind", "Target", "TargetError",
           "parse_address"]
