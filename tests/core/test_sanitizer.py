"""The C core under AddressSanitizer and UndefinedBehaviorSanitizer.

Builds the `_dc_cffi_asan` variant of the extension (only when its sources
changed since the last sanitized build) and runs, in a child process against
it, the tests that drive the C core hardest: the core's own privileged,
machine, fabric, assist and bulk-read tests, the native kernel, every monitor
test (the main user of cp0assist.c, l2tlb.c and ktab.c: kernel boots with the
workloads under the monitor, NUMA migration and replication, state sections)
and the device and snapshot tests. Python itself is not sanitized, so the
runtime is preloaded. Any sanitizer report fails the child. About 2 minutes
on 2 cores.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Not the unicorn- or capstone-based tests: those libraries abort when loaded
# under the preloaded ASan runtime.
TESTS = ["tests/core/test_privileged.py", "tests/core/test_machine.py",
         "tests/core/test_fabric.py", "tests/core/test_assists.py",
         "tests/core/test_bulk_reads.py", "tests/guest/test_kernel.py",
         "tests/monitor", "tests/devices"]
STAMP = ROOT / "build" / "core-asan.stamp"
# The longest monitor test (a flash16 raytrace, 3 boots: 20 s sanitized) adds
# nothing the flash8 workload boots do not reach; left to the normal run.
LEFT_OUT = "test_raytrace_on_flash16_replication_makes_misses_local"


def _runtime(name: str) -> str:
    out = subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True, text=True)
    path = out.stdout.strip()
    # A failure, not a skip: CI's compiler always ships the sanitizer runtimes.
    assert out.returncode == 0 and os.path.isabs(path), f"gcc has no {name}"
    return path


def _sources_hash() -> str:
    core = ROOT / "core_c"
    files = sorted([*core.glob("*.c"), *core.glob("*.h"), *core.glob("include/*.h"),
                    core / "build.py"])
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:16]


def _build_asan() -> None:
    want = _sources_hash()
    built = list((ROOT / "disco_core").glob("_dc_cffi_asan.*.so"))
    if built and STAMP.exists() and STAMP.read_text().strip() == want:
        return
    subprocess.run([sys.executable, "core_c/build.py", "--asan"], cwd=ROOT, check=True,
                   capture_output=True)
    STAMP.parent.mkdir(exist_ok=True)
    STAMP.write_text(want + "\n")


def _sanitized_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DISCO_CORE_VARIANT="asan",
        LD_PRELOAD=f"{_runtime('libasan.so')} {_runtime('libubsan.so')}",
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1",
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1",
    )
    return env


@pytest.mark.slow
def test_core_tests_pass_under_asan_and_ubsan() -> None:
    _build_asan()
    env = _sanitized_env()
    # The child really runs the sanitized extension (not a silent fall-back).
    probe = subprocess.run(
        [sys.executable, "-c",
         "import sys, disco_core.machine; print('_dc_cffi_asan' in str(sys.modules))"],
        cwd=ROOT, env=env, capture_output=True, text=True)
    assert probe.stdout.strip() == "True", probe.stdout + probe.stderr
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           "-m", "not slow", "-k", f"not {LEFT_OUT}", *TESTS], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    report = proc.stdout[-4000:] + proc.stderr[-4000:]
    assert proc.returncode == 0, report
    assert "runtime error" not in report and "AddressSanitizer" not in report, report
    assert " passed" in proc.stdout and " skipped" not in proc.stdout, report
