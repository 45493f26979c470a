"""The test machine's memory map on unicorn: a reference to check our core against.

Runs the same bare-metal ELFs as disco_core.testmachine (docs/test-machine.md),
on one CPU: RAM at physical 0, the console and the exit device at 0x1FD00000,
and a start block that reports one CPU. unicorn is a development dependency,
imported only when a machine is made.

Unicorn 2.1 translates kseg0/kseg1 itself (QEMU's MIPS MMU), so RAM and the
device page are mapped at their *physical* addresses (memory hooks see physical
addresses too); mapping the virtual 0x80010000 gives an unmapped fetch.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from disco_core.elf import ElfImage, load_elf

DEVICE_PAGE = 0x1FD00000
CONSOLE = 0x1FD00000
EXIT = 0x1FD00010
START_BLOCK = 0x1FD00020
KSEG0 = 0x80000000
MAX_LOW_RAM = 496 << 20


def physical(addr: int) -> int:
    """kseg0/kseg1 addresses lose their top three bits, as the test machine's loader does."""
    return addr & 0x1FFFFFFF if KSEG0 <= addr < 0xC0000000 else addr


@dataclass(frozen=True)
class UnicornResult:
    exit_code: int | None  # None when the program never wrote the exit device
    output: bytes
    reason: str  # "halt", "budget" or "error: <unicorn's message>"
    seconds: float  # time spent inside emu_start
    instructions: int | None  # counted only with count_instructions=True


class UnicornTestMachine:
    """One-CPU test machine on unicorn. Console input always reads as empty (-1).

    Unlike ours, unicorn's EBase.CPUNum reads 1023 (QEMU's unset cpu_index);
    crt0 hands main() the constant 0 for that reason.
    """

    def __init__(self, ram_bytes: int = 64 << 20) -> None:
        import unicorn

        if ram_bytes % 4096 or not 4096 <= ram_bytes <= MAX_LOW_RAM:
            raise ValueError(f"ram_bytes {ram_bytes} must be a multiple of 4 KiB up to 496 MiB")
        self._unicorn = unicorn
        self.ram_bytes = ram_bytes
        self.uc = unicorn.Uc(
            unicorn.UC_ARCH_MIPS, unicorn.UC_MODE_MIPS32 | unicorn.UC_MODE_LITTLE_ENDIAN
        )
        # The 4KEc is MIPS32r2 without MIPS16e or an FPU, like our core (the default
        # 74Kf would enter MIPS16 mode on a jump to an odd address).
        self.uc.ctl_set_cpu_model(unicorn.mips_const.UC_CPU_MIPS32_4KEC)
        self.uc.mem_map(0, ram_bytes)
        # The devices are an MMIO region, not RAM with a write hook: unicorn 2.1
        # re-runs the first instruction at a branch target when a hooked store sits
        # in the branch's delay slot (the delay-slot flags leak when the hook syncs
        # the pc; unicorn issue #2272), which garbles every printf loop.
        self.uc.mmio_map(DEVICE_PAGE, 0x1000, self._device_read, None, self._device_write, None)
        self._output = bytearray()
        self._exit_code: int | None = None
        self._entry: int | None = None

    def _device_read(self, uc, offset, size, user_data):  # type: ignore[no-untyped-def]
        if offset == CONSOLE + 4 - DEVICE_PAGE:
            return 0xFFFFFFFF  # no console input
        if offset == START_BLOCK + 12 - DEVICE_PAGE:
            return 1  # one CPU
        return 0

    def _device_write(self, uc, offset, size, value, user_data):  # type: ignore[no-untyped-def]
        if offset == CONSOLE - DEVICE_PAGE:
            self._output.append(value & 0xFF)
        elif offset == EXIT - DEVICE_PAGE:
            self._exit_code = value & 0xFFFFFFFF
            uc.emu_stop()

    def load_elf(self, source: str | os.PathLike[str] | bytes | ElfImage) -> ElfImage:
        image = source if isinstance(source, ElfImage) else load_elf(source)
        for seg in image.segments:
            pa = physical(seg.paddr)
            if pa + seg.memsz > self.ram_bytes:
                raise ValueError(f"segment at {seg.paddr:#010x} does not fit in RAM")
            self.uc.mem_write(pa, seg.data)
            if seg.memsz > len(seg.data):
                self.uc.mem_write(pa + len(seg.data), bytes(seg.memsz - len(seg.data)))
        self._entry = image.entry
        top = KSEG0 + min(self.ram_bytes, MAX_LOW_RAM) - 16
        self.uc.reg_write(self._unicorn.mips_const.UC_MIPS_REG_SP, top)
        return image

    def run(
        self, max_instructions: int | None = None, count_instructions: bool = False
    ) -> UnicornResult:
        """Run from the entry point until the exit device is written.

        ``max_instructions`` and ``count_instructions`` make unicorn much slower;
        leave them off for timing.
        """
        if self._entry is None:
            raise RuntimeError("load_elf() first")
        uc = self._unicorn
        counted = [0]
        hook = None
        if count_instructions:
            # A block hook is far cheaper than a per-instruction one; blocks end at
            # branches and their size includes the delay slot.
            def on_block(_uc, _address, size, _user_data):  # type: ignore[no-untyped-def]
                counted[0] += size // 4

            hook = self.uc.hook_add(uc.UC_HOOK_BLOCK, on_block)
        reason = "halt"
        start = time.perf_counter()
        try:
            # The stop address 0 is never executed. (An address in kseg2/kseg3 would
            # make unicorn fail with UC_ERR_READ_UNMAPPED: it translates it.)
            self.uc.emu_start(self._entry, 0, count=max_instructions or 0)
        except uc.UcError as e:
            reason = f"error: {e}"
        seconds = time.perf_counter() - start
        if hook is not None:
            self.uc.hook_del(hook)
        if reason == "halt" and self._exit_code is None:
            reason = "budget"
        return UnicornResult(
            exit_code=self._exit_code,
            output=bytes(self._output),
            reason=reason,
            seconds=seconds,
            instructions=counted[0] if count_instructions else None,
        )


def run_elf(
    source: str | os.PathLike[str] | bytes | ElfImage,
    ram_bytes: int = 64 << 20,
    count_instructions: bool = False,
) -> UnicornResult:
    """Load and run one program on a fresh unicorn test machine."""
    m = UnicornTestMachine(ram_bytes)
    m.load_elf(source)
    return m.run(count_instructions=count_instructions)
