"""The C core under AddressSanitizer and UndefinedBehaviorSanitizer.

Builds the `_dc_cffi_asan` variant of the extension and runs the core's
privileged, machine and fabric tests against it in a child process (Python
itself is not sanitized, so the runtime is preloaded). Any sanitizer report
fails the child.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Not the unicorn-based tests: unicorn's own native library aborts under the
# preloaded ASan runtime.
TESTS = ["tests/core/test_privileged.py", "tests/core/test_machine.py",
         "tests/core/test_fabric.py", "tests/core/test_assists.py"]


def _runtime(name: str) -> str:
    out = subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True, text=True)
    path = out.stdout.strip()
    if out.returncode != 0 or not os.path.isabs(path):
        pytest.skip(f"gcc has no {name}")
    return path


@pytest.mark.slow
def test_core_tests_pass_under_asan_and_ubsan() -> None:
    subprocess.run([sys.executable, "core_c/build.py", "--asan"], cwd=ROOT, check=True,
                   capture_output=True)
    env = dict(os.environ)
    env.update(
        DISCO_CORE_VARIANT="asan",
        LD_PRELOAD=f"{_runtime('libasan.so')} {_runtime('libubsan.so')}",
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1",
    )
    tests = [t for t in TESTS if (ROOT / t).exists()]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           *tests], cwd=ROOT, env=env, capture_output=True, text=True)
    report = proc.stdout[-4000:] + proc.stderr[-4000:]
    assert proc.returncode == 0, report
    assert "runtime error" not in report and "AddressSanitizer" not in report, report
