"""The workbench's Linux session (what `./workbench --session linux` opens)."""

from __future__ import annotations

from disco_core.linux.fetch import LinuxFiles
from disco_core.linux.initramfs import PROMPT
from disco_core.session import SESSION_KINDS, FeedConsole


def test_linux_session_boots_to_the_shell_and_takes_typed_input(linux_files: LinuxFiles) -> None:
    s = SESSION_KINDS["linux"](preset_name="test")
    try:
        prompt = PROMPT.encode()
        for _ in range(400):
            s.step_slice(2_000_000)
            if prompt in s.snapshot().consoles[0].tail:
                break
        assert prompt in s.snapshot().consoles[0].tail
        s.submit(FeedConsole("linux", b"echo work$((2 + 3))bench\n"))
        for _ in range(200):
            s.step_slice(2_000_000)
            if b"work5bench" in s.snapshot().consoles[0].tail:
                break
        assert b"work5bench" in s.snapshot().consoles[0].tail
    finally:
        s.close()
