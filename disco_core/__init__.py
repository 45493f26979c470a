"""Disco Workbench: a Disco-style VMM on a simulated ccNUMA MIPS multiprocessor."""

__version__ = "0.1.0"
