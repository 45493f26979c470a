"""The Debian packages, fetched once per test run when they are not cached (never skipped)."""

from __future__ import annotations

import pytest

from disco_core.linux.fetch import LinuxFiles, fetch


@pytest.fixture(scope="session")
def linux_files() -> LinuxFiles:
    return fetch()
