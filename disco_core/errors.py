"""The exception hierarchy of Disco Workbench.

Every error a user can cause derives from DiscoError, and its message names the
offending value, the limit it broke and how to fix it.
"""


class DiscoError(Exception):
    """Base class of every error raised by disco_core."""


class ConfigError(DiscoError, ValueError):
    """An impossible machine or VM configuration."""


class GuestMemoryError(DiscoError):
    """A host-side access outside the guest's memory."""


class SnapshotError(DiscoError):
    """A snapshot or recording that is damaged or belongs to another machine."""


class ElfError(DiscoError):
    """A file that is not a loadable 32-bit little-endian MIPS ELF."""


class ToolchainError(DiscoError):
    """The guest compiler failed or is missing."""


class CoreBug(DiscoError):
    """The C core reported an internal inconsistency: a bug in Disco Workbench."""
