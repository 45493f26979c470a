"""The simulated machine: the Python face of the C core.

This is the only module that imports the cffi extension. It maps C error
codes to the DiscoError hierarchy, C exit records to dataclasses, and routes
MMIO exits to device objects. See docs/machine-api.md.
"""

from __future__ import annotations

import enum
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, overload

import numpy as np

from disco_core import mips
from disco_core.errors import ConfigError, CoreBug, DiscoError, GuestMemoryError, SnapshotError
from disco_core.mips import PAGE_SIZE, ExcCode, Mode

if os.environ.get("DISCO_CORE_VARIANT") == "asan":
    from disco_core._dc_cffi_asan import ffi, lib  # type: ignore[import-not-found]
else:
    from disco_core._dc_cffi import ffi, lib  # type: ignore[import-not-found]

MiB = 1 << 20
NGPRS = len(mips.GPR_NAMES)


# ---- the C records cffi hands out, as the type checker sees them ----------------


class CWords(Protocol):
    """A cffi array of integers (`uint32_t[]`, `uint64_t[]`)."""

    def __getitem__(self, i: int, /) -> int: ...

    def __setitem__(self, i: int, value: int, /) -> None: ...


class RegsRecord(Protocol):
    """A `dc_regs` record (Cpu.context()): the register file as one block."""

    gpr: CWords
    pc: int
    npc: int
    hi: int
    lo: int
    bd: int
    llbit: int


class ExceptionRecord(Protocol):
    """A `dc_exit_exception`: the `exception` of an EXCEPTION exit record."""

    code: int
    pc: int
    epc: int
    badvaddr: int
    insn: int
    bd: int
    ce: int
    refill: int
    mode: int


class MmioRecord(Protocol):
    pa: int
    value: int
    size: int
    is_write: int
    device: int
    offset: int


class WatchRecord(Protocol):
    va: int
    size: int
    is_write: int
    pc: int
    value: int


class ExitRecord(Protocol):
    """A `dc_exit` record: what Machine.run_cdata() returns."""

    reason: int
    cpu: int
    executed: int
    pc: int
    halt_code: int
    mmio: MmioRecord
    exception: ExceptionRecord
    watch: WatchRecord


class CpuStatsRecord(Protocol):
    """A `dc_cpu_stats` record (Cpu.raw_stats())."""

    instructions: int
    cycles: int
    tlb_refills: int
    interrupts: int
    exceptions: CWords  # by ExcCode
    stall_cycles: int
    misses: CWords  # by MissClass
    miss_cycles: CWords
    ifetch_misses: int
    invalidations: int
    l2tlb_refills: int


class _RegView(Protocol):
    def __getitem__(self, i: int, /) -> int: ...


class ExitReason(enum.IntEnum):
    NONE = lib.DC_EXIT_NONE
    BUDGET = lib.DC_EXIT_BUDGET
    MMIO = lib.DC_EXIT_MMIO
    EXCEPTION = lib.DC_EXIT_EXCEPTION
    BREAKPOINT = lib.DC_EXIT_BREAKPOINT
    STEP = lib.DC_EXIT_STEP
    WAIT = lib.DC_EXIT_WAIT
    HALT = lib.DC_EXIT_HALT
    HOTPAGE = lib.DC_EXIT_HOTPAGE
    WATCHPOINT = lib.DC_EXIT_WATCHPOINT


class MissClass(enum.IntEnum):
    """How the timing model served an access that missed the L1 (docs/fabric.md)."""

    L2_HIT = lib.DC_MISS_L2_HIT
    LOCAL = lib.DC_MISS_LOCAL
    REMOTE = lib.DC_MISS_REMOTE
    DIRTY = lib.DC_MISS_DIRTY
    UPGRADE = lib.DC_MISS_UPGRADE
    UNCACHED = lib.DC_MISS_UNCACHED


class Ownership(enum.IntEnum):
    NATIVE = lib.DC_NATIVE
    MONITORED = lib.DC_MONITORED


class CpuState(enum.IntEnum):
    RUNNING = lib.DC_CPU_RUNNING
    WAITING = lib.DC_CPU_WAITING
    PARKED = lib.DC_CPU_PARKED


# CPU models (MachineConfig.cpu_model): the classic R10000-flavoured core, or the
# one an unmodified Linux kernel needs (honest Config1-3, UserLocal, rdhwr $29).
CPU_CLASSIC = lib.DC_CPU_CLASSIC
CPU_LINUX = lib.DC_CPU_LINUX

CLOCK_HZ = 200_000_000  # CPU clock; see docs/fabric.md for the choice


def ns_to_cycles(ns: float, clock_hz: int = CLOCK_HZ) -> int:
    return round(ns * clock_hz / 1e9)


@dataclass(frozen=True)
class MachineConfig:
    """A machine's shape. Fabric defaults are FLASH's as the Disco paper gives them."""

    cpus: int = 1
    ram_bytes: int = 64 * MiB
    tlb_entries: int = 64
    quantum: int = 10_000
    prid: int = 0x00000900  # the R10000's implementation number
    nodes: int = 1
    timing: bool = False
    clock_hz: int = CLOCK_HZ
    l1_bytes: int = 32 * 1024  # 32 KiB split I/D (R10000)
    l2_bytes: int = 1 * MiB
    line_bytes: int = 128
    l1_ways: int = 2
    l2_ways: int = 2
    lat_l2: int = 10  # cycles
    lat_local: int = ns_to_cycles(300)  # 300 ns local miss
    lat_remote: int = ns_to_cycles(900)  # 900 ns remote miss
    lat_hop: int = 0  # extra per hop beyond the first: FLASH's figure is flat
    lat_dirty: int = ns_to_cycles(300)  # extra for a three-hop miss (our choice)
    hot_threshold: int = 0  # 0: no hot-page reports
    cpu_model: int = 0  # CPU_CLASSIC or CPU_LINUX (docs/cpu.md, "CPU models")

    @property
    def cpus_per_node(self) -> int:
        return self.cpus // self.nodes

    @property
    def memory_per_node(self) -> int:
        return self.ram_bytes // self.nodes

    def check(self) -> None:
        """Refuse impossible values with a message naming field, value and range."""
        if not 1 <= self.cpus <= 64:
            raise ConfigError(f"cpus = {self.cpus} is out of range: a machine has 1 to 64 CPUs")
        if not 4 <= self.tlb_entries <= 64:
            raise ConfigError(
                f"tlb_entries = {self.tlb_entries} is out of range: use 4 to 64 entry pairs"
            )
        if self.ram_bytes % PAGE_SIZE or not PAGE_SIZE <= self.ram_bytes <= 16 << 30:
            raise ConfigError(
                f"ram_bytes = {self.ram_bytes} is not allowed: use a multiple of {PAGE_SIZE} "
                "from 4 KiB to 16 GiB"
            )
        if not 1 <= self.quantum <= 1_000_000:
            raise ConfigError(
                f"quantum = {self.quantum} is out of range: use 1 to 1000000 cycles"
            )
        if not 1 <= self.nodes <= 64 or self.cpus % self.nodes:
            raise ConfigError(
                f"nodes = {self.nodes} does not fit {self.cpus} CPUs: use 1 to 64 nodes "
                "that divide the CPUs evenly"
            )
        if self.ram_bytes % (self.nodes * PAGE_SIZE):
            raise ConfigError(
                f"ram_bytes = {self.ram_bytes} does not split into {self.nodes} nodes of "
                "whole 4 KiB pages"
            )
        if self.line_bytes not in {1 << k for k in range(5, 13)}:
            raise ConfigError(
                f"line_bytes = {self.line_bytes} is not allowed: use a power of two "
                "from 32 to 4096"
            )
        for name in ("l1_ways", "l2_ways"):
            ways = getattr(self, name)
            if not 1 <= ways <= 16:
                raise ConfigError(f"{name} = {ways} is out of range: use 1 to 16")
        for name, ways in (("l1_bytes", self.l1_ways), ("l2_bytes", self.l2_ways)):
            size = getattr(self, name)
            if not self.line_bytes * ways <= size <= 64 * MiB:
                raise ConfigError(
                    f"{name} = {size} is out of range: use {self.line_bytes * ways} "
                    "(one line per way) to 64 MiB"
                )
        for name, ways in (("l1_bytes", self.l1_ways), ("l2_bytes", self.l2_ways)):
            sets = getattr(self, name) // self.line_bytes // ways
            if sets & (sets - 1):
                raise ConfigError(
                    f"{name} = {getattr(self, name)} with {ways} ways of {self.line_bytes}-byte "
                    f"lines gives {sets} sets: the number of sets must be a power of two"
                )
        for name in ("lat_l2", "lat_local", "lat_remote", "lat_hop", "lat_dirty"):
            value = getattr(self, name)
            if not 0 <= value <= 1_000_000:
                raise ConfigError(
                    f"{name} = {value} is out of range: latencies are 0 to 1000000 cycles"
                )
        if not 0 <= self.hot_threshold < 1 << 32:
            raise ConfigError(
                f"hot_threshold = {self.hot_threshold} is out of range: use 0 (off) to 2**32-1"
            )
        if self.cpu_model not in (CPU_CLASSIC, CPU_LINUX):
            raise ConfigError(f"cpu_model = {self.cpu_model} is not a CPU model: use "
                              f"{CPU_CLASSIC} (classic) or {CPU_LINUX} (linux)")
        if self.clock_hz <= 0:
            raise ConfigError(f"clock_hz = {self.clock_hz} must be positive")


@dataclass(frozen=True)
class ExceptionInfo:
    code: int
    pc: int
    epc: int
    badvaddr: int
    insn: int
    bd: bool
    ce: int
    refill: bool
    mode: Mode

    @property
    def name(self) -> str:
        try:
            return ExcCode(self.code).name
        except ValueError:
            return f"exc{self.code}"


@dataclass(frozen=True)
class MmioInfo:
    pa: int
    size: int
    is_write: bool
    value: int
    device: int
    offset: int


@dataclass(frozen=True)
class WatchInfo:
    va: int
    size: int
    is_write: bool
    value: int
    pc: int  # the accessing instruction (it has completed)


@dataclass(frozen=True)
class Exit:
    reason: ExitReason
    cpu: int
    executed: int
    pc: int = 0
    code: int = 0
    exception: ExceptionInfo | None = None
    mmio: MmioInfo | None = None
    watch: WatchInfo | None = None


class Device(Protocol):
    def read(self, offset: int, size: int) -> int: ...

    def write(self, offset: int, size: int, value: int) -> None: ...


@dataclass
class _Mapping:
    base: int
    size: int
    device: Device
    name: str


_CLASSES = [c.name.lower() for c in MissClass]
CPU_STATS_DTYPE = np.dtype(
    [("cpu", "u4"), ("node", "u4"), ("instructions", "u8"), ("cycles", "u8"),
     ("stall_cycles", "u8"), ("tlb_refills", "u8"), ("interrupts", "u8")]
    + [(f"misses_{c}", "u8") for c in _CLASSES]
    + [(f"cycles_{c}", "u8") for c in _CLASSES]
    + [("ifetch_misses", "u8"), ("invalidations", "u8")]
)
NODE_STATS_DTYPE = np.dtype(
    [("node", "u4"), ("local_served", "u8"), ("remote_served", "u8"), ("writebacks", "u8"),
     ("memory_in_use", "u8")]
)

_ERRORS: dict[int, type[DiscoError]] = {
    lib.DC_ERR_CONFIG: ConfigError,
    lib.DC_ERR_RANGE: GuestMemoryError,
    lib.DC_ERR_SNAPSHOT: SnapshotError,
    lib.DC_ERR_BUG: CoreBug,
}


class Machine:
    """A MIPS32 multiprocessor: CPUs, RAM and device ranges."""

    def __init__(self, config: MachineConfig | None = None, **kwargs: Any) -> None:
        if config is None:
            config = MachineConfig(**kwargs)
        elif kwargs:
            raise TypeError("pass either a MachineConfig or keyword fields, not both")
        config.check()
        self.config = config
        cfg = ffi.new("dc_config *")
        cfg.ncpus = config.cpus
        cfg.tlb_entries = config.tlb_entries
        cfg.ram_bytes = config.ram_bytes
        cfg.quantum = config.quantum
        cfg.prid = config.prid
        for name in ("nodes", "l1_bytes", "l2_bytes", "line_bytes", "l1_ways", "l2_ways",
                     "lat_l2", "lat_local", "lat_remote", "lat_hop", "lat_dirty",
                     "hot_threshold", "cpu_model"):
            setattr(cfg, name, getattr(config, name))
        cfg.timing = int(config.timing)
        out = ffi.new("dc_machine **")
        err = lib.dc_machine_new(cfg, out)
        if err != lib.DC_OK:
            msg = ffi.string(lib.dc_config_error()).decode()
            raise _ERRORS.get(err, DiscoError)(msg or ffi.string(lib.dc_strerror(err)).decode())
        self._raw = out[0]
        self._m = ffi.gc(self._raw, lib.dc_machine_free)
        self._exit = ffi.new("dc_exit *")
        self._regs = ffi.new("dc_regs *")
        self._cpu_regs = ffi.new("dc_cpu_regs *")
        self._tlb_buf = ffi.new("uint32_t[4]")
        self._cycles_buf = ffi.new("uint64_t *")
        self._cp0_buf = ffi.new("uint64_t[8]")
        self._cycles_buf32 = ffi.new("uint32_t *")
        self._devices: list[_Mapping] = []
        self._owner = threading.get_ident()
        self.cpus = [Cpu(self, i) for i in range(config.cpus)]

    # ---- lifecycle -------------------------------------------------------

    def close(self) -> None:
        if self._m is not None:
            for cpu in self.cpus:
                cpu._regview = _CLOSED  # the views pointed into the machine
            ffi.gc(self._m, None)  # detach the collector's free, then free now
            self._m = None
            lib.dc_machine_free(self._raw)
            self._raw = None

    def __enter__(self) -> Machine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, err: int) -> None:
        if err != lib.DC_OK:
            msg = ffi.string(lib.dc_last_error(self._m)).decode()
            raise _ERRORS.get(err, DiscoError)(msg or ffi.string(lib.dc_strerror(err)).decode())

    @property
    def handle(self) -> object:
        if self._m is None:
            raise DiscoError("the machine is closed")
        return self._m

    # ---- memory ------------------------------------------------------------

    @property
    def ram_bytes(self) -> int:
        return self.config.ram_bytes

    def write_phys(self, pa: int, data: bytes | bytearray | memoryview) -> None:
        data = bytes(data)
        self._check(lib.dc_mem_write(self.handle, pa, data, len(data)))

    def read_phys(self, pa: int, n: int) -> bytes:
        buf = ffi.new("uint8_t[]", n)
        self._check(lib.dc_mem_read(self.handle, pa, buf, n))
        return bytes(ffi.buffer(buf, n))

    def phys_view(self, pa: int, n: int) -> np.ndarray:
        """A zero-copy uint8 view of RAM (valid while the machine lives)."""
        out = ffi.new("uint8_t **")
        self._check(lib.dc_mem_view(self.handle, pa, n, out))
        return np.frombuffer(ffi.buffer(out[0], n), dtype=np.uint8)

    def read_virt(self, cpu: int, va: int, n: int) -> bytes:
        buf = ffi.new("uint8_t[]", n)
        self._check(lib.dc_virt_read(self.handle, cpu, va & 0xFFFFFFFF, buf, n))
        return bytes(ffi.buffer(buf, n))

    def translate(self, cpu: int, va: int, write: bool = False) -> int:
        out = ffi.new("uint64_t *")
        self._check(lib.dc_translate(self.handle, cpu, va & 0xFFFFFFFF, int(write), out))
        return int(out[0])

    # ---- devices -----------------------------------------------------------

    def map_device(self, base: int, size: int, device: Device, name: str = "") -> None:
        """Route physical [base, base+size) to `device` (read/write methods)."""
        self._check(lib.dc_mmio_map(self.handle, base, size, len(self._devices)))
        self._devices.append(_Mapping(base, size, device, name or type(device).__name__))

    @property
    def devices(self) -> list[tuple[str, int, int, Device]]:
        return [(d.name, d.base, d.size, d.device) for d in self._devices]

    def halt(self, code: int = 0) -> None:
        """Stop the machine; the current run() returns a HALT exit."""
        lib.dc_halt(self.handle, code & 0xFFFFFFFF)

    def clear_halt(self) -> None:
        """Let a halted machine run again (its state is as the halt left it)."""
        lib.dc_halt_clear(self.handle)

    @property
    def halted(self) -> bool:
        return bool(lib.dc_halted(self.handle))

    # ---- running -----------------------------------------------------------

    def _convert(self, ex: ExitRecord) -> Exit:
        reason = ExitReason(ex.reason)
        exc: ExceptionInfo | None = None
        mmio: MmioInfo | None = None
        watch: WatchInfo | None = None
        if reason == ExitReason.EXCEPTION:
            e = ex.exception
            exc = ExceptionInfo(e.code, e.pc, e.epc, e.badvaddr, e.insn, bool(e.bd), e.ce,
                                bool(e.refill), Mode(e.mode))
        elif reason == ExitReason.MMIO:
            i = ex.mmio
            mmio = MmioInfo(i.pa, i.size, bool(i.is_write), i.value, i.device, i.offset)
        elif reason == ExitReason.WATCHPOINT:
            w = ex.watch
            watch = WatchInfo(w.va, w.size, bool(w.is_write), w.value, w.pc)
        return Exit(reason, ex.cpu, ex.executed, ex.pc, ex.halt_code, exc, mmio, watch)

    def run_raw(self, budget: int) -> Exit:
        """Run up to `budget` instructions; every exit, MMIO included, returns."""
        if budget < 0:
            raise ValueError(f"budget = {budget} must not be negative")
        self._check(lib.dc_run(self.handle, budget, self._exit))
        return self._convert(self._exit)

    def run_cdata(self, budget: int) -> ExitRecord:
        """The monitor's hot loop: like run(), but returns the machine's reused C
        exit record (a `dc_exit *`: read `.reason`, `.cpu`, `.executed`,
        `.exception.code`, ...) instead of building an Exit. Device accesses are
        served inside, as by run(). The record is overwritten by the next call.
        """
        ex: ExitRecord = self._exit
        m = self._m
        err = lib.dc_run(m, budget, ex)
        if err:
            self._check(err)
        if ex.reason != lib.DC_EXIT_MMIO:
            return ex
        done = 0  # .executed covers every run of this call
        while True:
            budget -= ex.executed
            done += ex.executed
            mmio = ex.mmio
            dev = self._devices[mmio.device].device
            if mmio.is_write:
                dev.write(mmio.offset, mmio.size, mmio.value)
            else:
                lib.dc_mmio_complete(m, ex.cpu, dev.read(mmio.offset, mmio.size) & 0xFFFFFFFF)
            if lib.dc_halted(m) or budget == 0:
                lib.dc_run(m, 0, ex)  # a HALT or BUDGET record for the caller
            else:
                err = lib.dc_run(m, budget, ex)
                if err:
                    self._check(err)
                if ex.reason == lib.DC_EXIT_MMIO:
                    continue
            ex.executed += done
            return ex

    def serve_mmio(self, ex: Exit) -> None:
        """Serve an MMIO exit from run_raw() with the registered device."""
        self._dispatch_mmio(ex)

    def _dispatch_mmio(self, ex: Exit) -> None:
        assert ex.mmio is not None
        dev = self._devices[ex.mmio.device].device
        if ex.mmio.is_write:
            dev.write(ex.mmio.offset, ex.mmio.size, ex.mmio.value)
        else:
            value = dev.read(ex.mmio.offset, ex.mmio.size)
            self._check(lib.dc_mmio_complete(self.handle, ex.cpu, value & 0xFFFFFFFF))

    def run(self, budget: int) -> Exit:
        """Run up to `budget` instructions, serving device accesses on the way."""
        if budget < 0:
            raise ValueError(f"budget = {budget} must not be negative")
        # Device accesses are served straight from the C exit record: a native
        # Linux boot makes some 20 k of them (its UART), and building an Exit for
        # each cost about a sixth of the boot's wall time.
        ex: ExitRecord = self._exit
        m = self.handle
        left = budget
        while True:
            err = lib.dc_run(m, left, ex)
            if err:
                self._check(err)
            left -= ex.executed
            if ex.reason != lib.DC_EXIT_MMIO:
                out = self._convert(ex)
                return Exit(out.reason, out.cpu, budget - left, out.pc, out.code, out.exception,
                            None, out.watch)
            mmio = ex.mmio
            dev = self._devices[mmio.device].device
            if mmio.is_write:
                dev.write(mmio.offset, mmio.size, mmio.value)
            else:
                err = lib.dc_mmio_complete(m, ex.cpu, dev.read(mmio.offset, mmio.size)
                                           & 0xFFFFFFFF)
                if err:
                    self._check(err)
            if lib.dc_halted(m):
                return Exit(ExitReason.HALT, ex.cpu, budget - left, ex.pc, self.halt_code)
            if left == 0:
                return Exit(ExitReason.BUDGET, -1, budget, ex.pc)

    @property
    def halt_code(self) -> int:
        return int(lib.dc_halt_code(self.handle))

    def step(self, cpu: int = 0) -> Exit:
        """Execute exactly one instruction on `cpu` (device accesses served)."""
        while True:
            self._check(lib.dc_step(self.handle, cpu, self._exit))
            ex = self._convert(self._exit)
            if ex.reason != ExitReason.MMIO:
                return ex
            self._dispatch_mmio(ex)
            if ex.mmio is not None and ex.mmio.is_write:
                return Exit(ExitReason.STEP, cpu, 1, self.cpus[cpu].pc)

    # ---- the ccNUMA fabric -------------------------------------------------

    @property
    def timing(self) -> bool:
        """True while caches and the fabric are simulated (timing mode)."""
        return bool(lib.dc_timing(self.handle))

    @timing.setter
    def timing(self, on: bool) -> None:
        self._check(lib.dc_set_timing(self.handle, int(on)))

    def hops(self, a: int, b: int) -> int:
        return int(lib.dc_hops(self.handle, a, b))

    def home_node(self, pa: int) -> int:
        node = int(lib.dc_home_node(self.handle, pa))
        if node == 0xFFFFFFFF:
            raise GuestMemoryError(f"physical address 0x{pa:x} is not RAM")
        return node

    def node_of_cpu(self, cpu: int) -> int:
        return cpu // self.config.cpus_per_node

    # ---- the monitor's C assists (core_c/hwtlb.c, l2tlb.c, ktab.c; machine-api.md) ----

    def hw_invalidate_mpn(self, mpn: int) -> None:
        """Drop, on every CPU, each monitor TLB entry with a half mapping machine page mpn."""
        self._check(lib.dc_hw_invalidate_mpn(self.handle, mpn))

    def l2tlb_new(self, cost: int, entries: int = 1024) -> int:
        """A new (empty) L2TLB assist table for a monitor L2TLB of up to `entries`
        entries, charging `cost` cycles per refill; its handle."""
        out = ffi.new("uint32_t *")
        self._check(lib.dc_l2tlb_new(self.handle, cost, entries, out))
        return int(out[0])

    def l2tlb_free(self, handle: int) -> None:
        self._check(lib.dc_l2tlb_free(self.handle, handle))

    def l2tlb_put(self, handle: int, vpn2: int, asid: int, present: int, lo0: int,
                  lo1: int) -> None:
        """Set pair (vpn2, asid; 256 = global): present bit 0/1 = even/odd half known
        with that EntryLo; present 0 forgets the pair."""
        err = lib.dc_l2tlb_put(self._m, handle, vpn2, asid, present, lo0, lo1)
        if err:
            self._check(err)

    def l2tlb_clear(self, handle: int) -> None:
        self._check(lib.dc_l2tlb_clear(self.handle, handle))

    def l2tlb_dump(self, handle: int) -> list[tuple[int, int, int | None, int | None]]:
        """Every pair in the table: (vpn2, asid, lo0 or None, lo1 or None)."""
        n = ffi.new("uint32_t *")
        self._check(lib.dc_l2tlb_dump(self.handle, handle, ffi.NULL, 0, n))
        buf = ffi.new("uint32_t[]", 4 * max(int(n[0]), 1))
        self._check(lib.dc_l2tlb_dump(self.handle, handle, buf, n[0], n))
        out = []
        for k in range(int(n[0])):
            w = [int(buf[4 * k + i]) for i in range(4)]
            los = [lo & 0x7FFFFFFF if lo >> 31 else None for lo in w[2:]]
            out.append((w[0], w[1], los[0], los[1]))
        return out

    def l2tlb_take(self, handle: int) -> dict[str, int]:
        """Since the last take (the counts restart): refills the table served, and the
        L2TLB hits and misses of the reflections it served."""
        out = ffi.new("uint64_t[3]")
        self._check(lib.dc_l2tlb_take(self.handle, handle, out))
        return {"refills": int(out[0]), "hits": int(out[1]), "misses": int(out[2])}

    def vtlb_reset(self, handle: int, n: int) -> None:
        """The table's vCPU has a virtual TLB of n entries, all zero (TlbEntry())."""
        self._check(lib.dc_vtlb_reset(self.handle, handle, n))

    def vtlb_set(self, handle: int, i: int, hi: int, lo0: int, lo1: int, mask: int,
                 g: int) -> None:
        """Virtual TLB entry i is now (hi, lo0, lo1, mask, g), as vcpu.TlbEntry holds it."""
        err = lib.dc_vtlb_set(self._m, handle, i, hi, lo0, lo1, mask, g)
        if err:
            self._check(err)

    CP0_KINDS = ("mfc0", "mtc0", "di", "ei", "eret", "reflect", "tlbp", "tlbr")

    def cp0_assist(self, handle: int, regpage_pa: int, costs: dict[str, int], real_super: int,
                   real_user: int) -> None:
        """Serve the privileged exits of the vCPU whose table is `handle` from its
        register page at physical `regpage_pa` (core_c/cp0assist.c), charging
        costs[kind] for each of CP0_KINDS; real_super/real_user: the real Status
        in guest kernel mode / the other modes."""
        self._check(lib.dc_cp0_assist(self.handle, handle, regpage_pa,
                                      [costs[k] for k in self.CP0_KINDS], real_super,
                                      real_user))

    def cp0_take(self, handle: int) -> dict[str, int]:
        """Privileged exits served since the last take, by kind (the counts restart)."""
        out = self._cp0_buf
        self._check(lib.dc_cp0_take(self.handle, handle, out))
        return {k: int(out[i]) for i, k in enumerate(self.CP0_KINDS)}

    def vcpu_progressed(self, handle: int) -> bool:
        """An ERET served in C entered guest user mode since the last call."""
        out = self._cycles_buf32
        self._check(lib.dc_vcpu_progressed(self.handle, handle, out))
        return bool(out[0])

    def ktab_new(self, npages: int, nodes: int, cost: int) -> int:
        """A new relocated-kseg0 table for a VM of `npages` pages, `nodes` rows; its handle."""
        out = ffi.new("uint32_t *")
        self._check(lib.dc_ktab_new(self.handle, npages, nodes, cost, out))
        return int(out[0])

    def ktab_set(self, handle: int, node: int, gpn: int, lo0: int, lo1: int) -> None:
        """Known: VA KSSEG + gpn's pair (the relocated kseg0) maps to (lo0, lo1) on `node`."""
        err = lib.dc_ktab_set(self._m, handle, node, gpn, lo0, lo1)
        if err:
            self._check(err)

    def ktab_forget(self, handle: int, gpn: int) -> None:
        """gpn's pair is unknown again, on every node."""
        err = lib.dc_ktab_forget(self._m, handle, gpn)
        if err:
            self._check(err)

    def ktab_clear(self, handle: int) -> None:
        """Every pair unknown again, on every node (the table is rebuilt from the monitor's
        state)."""
        self._check(lib.dc_ktab_clear(self.handle, handle))

    def ktab_get(self, handle: int, node: int, gpn: int) -> tuple[int, int]:
        out = ffi.new("uint32_t[2]")
        self._check(lib.dc_ktab_get(self.handle, handle, node, gpn, out))
        return int(out[0]), int(out[1])

    def ktab_take(self, handle: int) -> int:
        out = ffi.new("uint64_t *")
        self._check(lib.dc_ktab_take(self.handle, handle, out))
        return int(out[0])

    def miss_counters(self) -> np.ndarray:
        """Cache misses per RAM page per node: a zero-copy (pages, nodes) uint32 view.

        Valid while the machine lives; it changes as the machine runs, so take a
        copy for anything that must not move under you.
        """
        p = ffi.new("uint32_t **")
        pages = ffi.new("uint64_t *")
        nodes = ffi.new("uint32_t *")
        self._check(lib.dc_miss_counters(self.handle, p, pages, nodes))
        flat = np.frombuffer(ffi.buffer(p[0], pages[0] * nodes[0] * 4), dtype=np.uint32)
        return flat.reshape(int(pages[0]), int(nodes[0]))

    def reset_miss_counters(self) -> None:
        lib.dc_miss_counters_reset(self.handle)

    def flush_caches(self, pa: int, n: int) -> None:
        """Drop physical [pa, pa + n) from every CPU's caches and the directory, with no
        writeback: memory there was changed behind the caches (the monitor's page copies)."""
        self._check(lib.dc_cache_flush_phys(self.handle, pa, n))

    def dirty_lines(self, pa: int, n: int) -> int:
        """How many lines of physical [pa, pa + n) some cache holds modified (the
        directory's view of memory being written)."""
        out = ffi.new("uint32_t *")
        self._check(lib.dc_dirty_lines(self.handle, pa, n, out))
        return int(out[0])

    def link_counters(self) -> np.ndarray:
        """Messages per hypercube link: a zero-copy (nodes, dimensions) uint64 view.

        Row n, column d counts messages sent from node n to node n ^ (1 << d).
        """
        p = ffi.new("uint64_t **")
        nodes = ffi.new("uint32_t *")
        dims = ffi.new("uint32_t *")
        self._check(lib.dc_link_counters(self.handle, p, nodes, dims))
        d = max(int(dims[0]), 1)
        flat = np.frombuffer(ffi.buffer(p[0], nodes[0] * d * 8), dtype=np.uint64)
        return flat.reshape(int(nodes[0]), d)[: self.config.nodes]

    def node_stats(self, node: int) -> dict[str, int]:
        s = ffi.new("dc_node_stats *")
        self._check(lib.dc_node_stats_get(self.handle, node, s))
        return {"local_served": int(s.local_served), "remote_served": int(s.remote_served),
                "writebacks": int(s.writebacks),
                "memory_in_use": int(s.pages_touched) * PAGE_SIZE}

    def hot_pages(self) -> list[tuple[int, int, int]]:
        """Drain the hot-page reports: (RAM page, node, count) in the order they came."""
        buf = ffi.new("dc_hot_page[256]")
        out: list[tuple[int, int, int]] = []
        while True:
            n = lib.dc_hot_pages(self.handle, buf, 256)
            out += [(int(buf[i].page), int(buf[i].node), int(buf[i].count)) for i in range(n)]
            if n < 256:
                return out

    def cpu_stats_table(self) -> np.ndarray:
        """Per-CPU statistics as one structured array (schema in docs/fabric.md)."""
        rows = []
        for cpu in self.cpus:
            s = cpu.raw_stats()
            rows.append((cpu.index, self.node_of_cpu(cpu.index), s.instructions, s.cycles,
                         s.stall_cycles, s.tlb_refills, s.interrupts,
                         *[s.misses[i] for i in range(6)],
                         *[s.miss_cycles[i] for i in range(6)],
                         s.ifetch_misses, s.invalidations))
        return np.array(rows, dtype=CPU_STATS_DTYPE)

    def node_stats_table(self) -> np.ndarray:
        rows = []
        for n in range(self.config.nodes):
            s = self.node_stats(n)
            rows.append((n, s["local_served"], s["remote_served"], s["writebacks"],
                         s["memory_in_use"]))
        return np.array(rows, dtype=NODE_STATS_DTYPE)

    # ---- breakpoints -------------------------------------------------------

    def add_breakpoint(self, va: int, cpu: int | None = None) -> None:
        self._check(lib.dc_break_add(self.handle, -1 if cpu is None else cpu, va & 0xFFFFFFFF))

    def remove_breakpoint(self, va: int, cpu: int | None = None) -> None:
        self._check(
            lib.dc_break_remove(self.handle, -1 if cpu is None else cpu, va & 0xFFFFFFFF)
        )

    def add_watchpoint(self, va: int, length: int = 4, *, read: bool = False,
                       write: bool = True, cpu: int | None = None) -> None:
        """Stop after any instruction that reads/writes [va, va+length)."""
        self._check(lib.dc_watch_add(self.handle, -1 if cpu is None else cpu,
                                     va & 0xFFFFFFFF, length, int(read) | int(write) << 1))

    def remove_watchpoint(self, va: int, length: int = 4, *, read: bool = False,
                          write: bool = True, cpu: int | None = None) -> None:
        self._check(lib.dc_watch_remove(self.handle, -1 if cpu is None else cpu,
                                        va & 0xFFFFFFFF, length, int(read) | int(write) << 1))

    # ---- snapshots -----------------------------------------------------------

    def snapshot(self) -> bytes:
        """The whole machine (CPUs, TLBs, touched RAM, scheduler, device state)."""
        n = lib.dc_snapshot_size(self.handle)
        buf = ffi.new("uint8_t[]", n)
        written = ffi.new("size_t *")
        self._check(lib.dc_snapshot_save(self.handle, buf, n, written))
        core = bytes(ffi.buffer(buf, written[0]))
        states = [_device_state(m.device) for m in self._devices]
        return _pack_snapshot(core, states)

    def restore(self, blob: bytes) -> None:
        """Load a snapshot(). Every section is checked before the core changes, and a
        bad one (the core's or any device's) raises SnapshotError and leaves the whole
        machine, core and devices, as it was."""
        core, states = _unpack_snapshot(blob, len(self._devices))
        loads: list[tuple[Any, bytes]] = [
            (m.device, s) for m, s in zip(self._devices, states, strict=True)
            if s is not None and hasattr(m.device, "restore")]
        # A device checks its section as it loads it, so each one is tried first with
        # its own current state kept: if any refuses, those already loaded get their
        # state back, and the core (which checks its whole blob before loading) is not
        # touched.
        kept: list[tuple[Any, bytes | None]] = []
        try:
            for dev, state in loads:
                kept.append((dev, _device_state(dev)))
                dev.restore(state)
            self._check(lib.dc_snapshot_load(self.handle, core, len(core)))
        except BaseException:
            for dev, old in reversed(kept):
                if old is not None:
                    dev.restore(old)
            raise
        # Loaded again over the loaded core, in the old order (core, then devices), so
        # the lines the devices drive are what their restored state says.
        for dev, state in loads:
            dev.restore(state)

    def digest(self) -> str:
        """A short hash of the whole machine state, for determinism checks."""
        import hashlib

        return hashlib.sha256(self.snapshot()).hexdigest()[:16]


def _device_state(dev: Device) -> bytes | None:
    snap = getattr(dev, "snapshot", None)
    return snap() if callable(snap) else None


_SNAP_MAGIC = b"DWSNAP01"


def _pack_snapshot(core: bytes, states: list[bytes | None]) -> bytes:
    parts = [_SNAP_MAGIC, len(core).to_bytes(8, "little"), core,
             len(states).to_bytes(4, "little")]
    for s in states:
        if s is None:
            parts.append((0xFFFFFFFF).to_bytes(4, "little"))
        else:
            parts += [len(s).to_bytes(4, "little"), s]
    return b"".join(parts)


def _unpack_snapshot(blob: bytes, ndevices: int) -> tuple[bytes, list[bytes | None]]:
    def fail(why: str) -> SnapshotError:
        return SnapshotError(f"snapshot refused: {why}; the machine is unchanged")

    if not isinstance(blob, bytes | bytearray | memoryview):
        raise fail(f"expected bytes, got {type(blob).__name__}")
    blob = bytes(blob)
    if blob[:8] != _SNAP_MAGIC:
        raise fail("it does not start with the workbench snapshot magic DWSNAP01")
    try:
        n = int.from_bytes(blob[8:16], "little")
        core = blob[16 : 16 + n]
        pos = 16 + n
        if len(core) != n:
            raise ValueError
        count = int.from_bytes(blob[pos : pos + 4], "little")
        pos += 4
        if count != ndevices:
            raise fail(f"it holds {count} devices, this machine has {ndevices}")
        states: list[bytes | None] = []
        for _ in range(count):
            size = int.from_bytes(blob[pos : pos + 4], "little")
            pos += 4
            if size == 0xFFFFFFFF:
                states.append(None)
                continue
            states.append(blob[pos : pos + size])
            pos += size
        if pos != len(blob):
            raise ValueError
    except (ValueError, IndexError):
        raise fail("it is truncated or damaged") from None
    return core, states


def core_build_id() -> str:
    """A hash of the C core's shared object: a recording replays only on the build
    that made it (disco_core/record/)."""
    import hashlib
    import sys

    module = sys.modules[lib.__name__.rpartition(".")[0]]  # the extension lib came from
    assert module.__file__ is not None, "the C core is a built extension"
    with open(module.__file__, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


PAGE_RECORD_BYTES = 8 + 4096  # a snapshot's RAM page record: its index, then the page


def snapshot_pages(blob: bytes) -> tuple[int, int]:
    """Where a snapshot's RAM page records are: (offset of the first, how many).

    For incremental checkpoints (disco_core/record/): the bytes before and after
    the records, and the records themselves, are stored apart. The core blob's
    header is the C `snap_header` (docs/snapshot-format.md)."""
    core = 16  # after the outer magic and the core blob's length
    arch = int.from_bytes(blob[core + 12 : core + 16], "little")
    ncpus = int.from_bytes(blob[core + 16 : core + 20], "little")
    header = 16 + ffi.sizeof("dc_config") + 16  # magic, version, arch size; config; 4 words
    header = (header + 7) // 8 * 8 + 8  # then the 8-byte round end
    at = core + header + ncpus * arch
    count = int.from_bytes(blob[at : at + 8], "little")
    if blob[core : core + 8] != b"DCSNAP01" or at + 8 + count * PAGE_RECORD_BYTES > len(blob):
        raise SnapshotError("not a snapshot of this core (its page records do not fit)")
    return at + 8, count


# words of the live register view (dc_regs_view)
_PC, _NPC, _BD = lib.DC_REG_PC, lib.DC_REG_NPC, lib.DC_REG_BD
_HI, _LO, _LLBIT = lib.DC_REG_HI, lib.DC_REG_LO, lib.DC_REG_LLBIT
_GPR = lib.DC_REG_GPR


class _Closed:
    """What a Cpu's register view becomes when its machine is closed."""

    def __getitem__(self, i: int, /) -> int:
        raise DiscoError("the machine is closed")


_CLOSED = _Closed()


class _Gpr:
    """Cpu.gpr[n]: indexable general-purpose registers."""

    def __init__(self, cpu: Cpu) -> None:
        self._cpu = cpu

    def __getitem__(self, n: int) -> int:
        if not 0 <= n < NGPRS:
            raise IndexError(f"register {n} does not exist: use 0..{NGPRS - 1}")
        return int(self._cpu._regview[_GPR + n])

    def __setitem__(self, n: int, value: int) -> None:
        if not 0 <= n < NGPRS:
            raise IndexError(f"register {n} does not exist: use 0..{NGPRS - 1}")
        self._cpu._set_reg(_GPR + n, value)

    def __iter__(self) -> Iterator[int]:
        return iter(self._cpu.regs().tolist())

    def __len__(self) -> int:
        return NGPRS


# The CP0 registers CpuRegisters carries: (name, register, select, dc_cpu_regs field).
CP0_VIEW: tuple[tuple[str, int, int, str], ...] = (
    ("Index", mips.INDEX, 0, "index"), ("Random", mips.RANDOM, 0, "random"),
    ("EntryLo0", mips.ENTRYLO0, 0, "entrylo0"), ("EntryLo1", mips.ENTRYLO1, 0, "entrylo1"),
    ("Context", mips.CONTEXT, 0, "context"),
    ("UserLocal", mips.CONTEXT, mips.USERLOCAL_SEL, "userlocal"),
    ("PageMask", mips.PAGEMASK, 0, "pagemask"), ("Wired", mips.WIRED, 0, "wired"),
    ("HWREna", mips.HWRENA, 0, "hwrena"), ("BadVAddr", mips.BADVADDR, 0, "badvaddr"),
    ("Count", mips.COUNT, 0, "count"), ("EntryHi", mips.ENTRYHI, 0, "entryhi"),
    ("Compare", mips.COMPARE, 0, "compare"), ("Status", mips.STATUS, 0, "status"),
    ("Cause", mips.CAUSE, 0, "cause"), ("EPC", mips.EPC, 0, "epc"),
    ("PRId", mips.PRID, 0, "prid"), ("EBase", mips.PRID, mips.EBASE_SEL, "ebase"),
    ("Config", mips.CONFIG, 0, "config"), ("LLAddr", mips.LLADDR, 0, "lladdr"),
    ("WatchLo", mips.WATCHLO, 0, "watchlo"), ("WatchHi", mips.WATCHHI, 0, "watchhi"),
    ("ErrorEPC", mips.ERROREPC, 0, "errorepc"),
)


# dc_cpu_regs as uint32 words: where each part sits
_REGS_AT = {name: ffi.offsetof("dc_cpu_regs", "regs") // 4 + ffi.offsetof("dc_regs", name) // 4
            for name in ("gpr", "pc", "npc", "hi", "lo", "bd", "llbit")}
_CP0_KEYS = tuple((reg, sel) for _, reg, sel, _ in CP0_VIEW)
_CP0_AT = tuple(ffi.offsetof("dc_cpu_regs", name) // 4 for *_, name in CP0_VIEW)


@dataclass(frozen=True)
class CpuRegisters:
    """Every register of one CPU at one moment, read in one call (Cpu.registers())."""

    gpr: np.ndarray  # 32 uint32
    pc: int
    npc: int  # the branch target while pc is a delay slot
    hi: int
    lo: int
    in_delay_slot: bool
    llbit: bool
    cp0: dict[tuple[int, int], int]  # (register, select) -> value, for each of CP0_VIEW

    def cp0_named(self) -> tuple[tuple[str, int], ...]:
        """(name, value) for each register of CP0_VIEW, in its order."""
        return tuple((name, self.cp0[reg, sel]) for name, reg, sel, _ in CP0_VIEW)


@dataclass
class Cpu:
    """A view of one CPU of a Machine.

    Single registers (pc, hi, lo, gpr[n], ...) read the CPU's live register view
    (dc_regs_view): no call into the core. regs(), registers() and tlb() are the
    bulk reads, one call each.
    """

    machine: Machine
    index: int
    gpr: _Gpr = field(init=False, repr=False, compare=False)
    _regview: _RegView = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.gpr = _Gpr(self)
        out = ffi.new("const uint32_t **")
        self.machine._check(lib.dc_regs_view(self.machine.handle, self.index, out))
        self._regview = out[0]

    def _get(self) -> RegsRecord:
        m = self.machine
        r: RegsRecord = m._regs
        err = lib.dc_regs_get(m.handle, self.index, r)
        if err:
            m._check(err)
        return r

    def _set_reg(self, word: int, value: int) -> None:
        m = self.machine
        err = lib.dc_reg_set(m.handle, self.index, word, value & 0xFFFFFFFF)
        if err:
            m._check(err)

    def context(self) -> RegsRecord:
        """The register file as the machine's reused `dc_regs` record (gpr[32], pc,
        npc, hi, lo, bd, llbit): read or modify it, then set_context(). It is
        overwritten by the next context() on this machine; copy what you keep."""
        return self._get()

    def set_context(self, regs: RegsRecord) -> None:
        self.machine._check(lib.dc_regs_set(self.machine.handle, self.index, regs))

    def regs(self) -> np.ndarray:
        """A copy of the 32 general-purpose registers (uint32)."""
        if self.machine._m is None:
            raise DiscoError("the machine is closed")
        return np.frombuffer(ffi.buffer(self._regview, 4 * NGPRS), dtype=np.uint32).copy()

    def registers(self) -> CpuRegisters:
        """Every register a register view or a snapshot shows, CP0 included, in one call."""
        m = self.machine
        buf = m._cpu_regs
        m._check(lib.dc_cpu_regs_get(m.handle, self.index, buf))
        words = np.frombuffer(ffi.buffer(buf), dtype=np.uint32)
        w = words.tolist()
        at = _REGS_AT
        return CpuRegisters(
            gpr=words[at["gpr"]:at["gpr"] + NGPRS].copy(),
            pc=w[at["pc"]], npc=w[at["npc"]], hi=w[at["hi"]], lo=w[at["lo"]],
            in_delay_slot=bool(w[at["bd"]]), llbit=bool(w[at["llbit"]]),
            cp0=dict(zip(_CP0_KEYS, [w[i] for i in _CP0_AT], strict=True)))

    @property
    def pc(self) -> int:
        return self._regview[_PC]

    @pc.setter
    def pc(self, value: int) -> None:
        self.machine._check(lib.dc_set_pc(self.machine.handle, self.index, value & 0xFFFFFFFF))

    @property
    def npc(self) -> int:
        return self._regview[_NPC]

    @property
    def in_delay_slot(self) -> bool:
        return bool(self._regview[_BD])

    @property
    def hi(self) -> int:
        return self._regview[_HI]

    @hi.setter
    def hi(self, value: int) -> None:
        self._set_reg(_HI, value)

    @property
    def lo(self) -> int:
        return self._regview[_LO]

    @lo.setter
    def lo(self, value: int) -> None:
        self._set_reg(_LO, value)

    @property
    def llbit(self) -> bool:
        return bool(self._regview[_LLBIT])

    def cp0(self, reg: int, sel: int = 0) -> int:
        m = self.machine
        out = m._cycles_buf32
        err = lib.dc_cp0_read(m.handle, self.index, reg, sel, out)
        if err:
            m._check(err)
        return int(out[0])

    def set_cp0(self, reg: int, value: int, sel: int = 0) -> None:
        self.machine._check(
            lib.dc_cp0_write(self.machine.handle, self.index, reg, sel, value & 0xFFFFFFFF)
        )

    @property
    def state(self) -> CpuState:
        out = ffi.new("uint32_t *")
        self.machine._check(lib.dc_cpu_state_get(self.machine.handle, self.index, out))
        return CpuState(out[0])

    @property
    def ownership(self) -> Ownership:
        out = ffi.new("uint32_t *")
        self.machine._check(lib.dc_get_ownership(self.machine.handle, self.index, out))
        return Ownership(out[0])

    @ownership.setter
    def ownership(self, value: Ownership) -> None:
        self.machine._check(lib.dc_set_ownership(self.machine.handle, self.index, int(value)))

    def start(self, pc: int) -> None:
        """Release a parked CPU at `pc` in kernel mode."""
        self.machine._check(lib.dc_cpu_start(self.machine.handle, self.index, pc & 0xFFFFFFFF))

    def advance(self) -> None:
        """Continue after the instruction at pc (the monitor emulated it)."""
        err = lib.dc_cpu_advance(self.machine.handle, self.index)
        if err:
            self.machine._check(err)

    # ---- the monitor's C assists (core_c/hwtlb.c, l2tlb.c, ktab.c) ----

    def hw_install(self, vpn2_va: int, asid: int, lo0: int, lo1: int) -> None:
        """Install the monitor's TLB entry keyed (vpn2_va, asid; 256 = global): over
        the entry with that key, else at the next round-robin index after dropping
        every entry that could match the same address."""
        err = lib.dc_hw_install(self.machine.handle, self.index, vpn2_va, asid,
                                lo0 & 0xFFFFFFFF, lo1 & 0xFFFFFFFF)
        if err:
            self.machine._check(err)

    def hw_remove(self, vpn2_va: int, asid: int) -> None:
        """Drop the monitor's TLB entry keyed (vpn2_va, asid), if there is one."""
        self.machine._check(lib.dc_hw_remove(self.machine.handle, self.index, vpn2_va, asid))

    def l2tlb_bind(self, handle: int) -> None:
        """Serve this (MONITORED) CPU's kuseg refills from L2TLB table `handle` (0: none)."""
        self.machine._check(lib.dc_l2tlb_bind(self.machine.handle, self.index, handle))

    def ktab_bind(self, handle: int) -> None:
        """Serve this CPU's relocated-kseg0 refills from kseg table `handle` (0: none)."""
        self.machine._check(lib.dc_ktab_bind(self.machine.handle, self.index, handle))

    def charge(self, cycles: int) -> None:
        """Add simulated cycles to this CPU (the monitor's own work, costs.py)."""
        err = lib.dc_cpu_charge(self.machine.handle, self.index, cycles)
        if err:
            self.machine._check(err)

    def set_irq(self, line: int, level: bool) -> None:
        self.machine._check(lib.dc_set_irq(self.machine.handle, self.index, line, int(level)))

    def raw_stats(self) -> CpuStatsRecord:
        s: CpuStatsRecord = ffi.new("dc_cpu_stats *")
        self.machine._check(lib.dc_cpu_stats_get(self.machine.handle, self.index, s))
        return s

    def stats(self) -> dict[str, object]:
        s = self.raw_stats()
        return {
            "instructions": int(s.instructions),
            "cycles": int(s.cycles),
            "tlb_refills": int(s.tlb_refills),
            "interrupts": int(s.interrupts),
            "exceptions": {ExcCode(i).name if i in ExcCode._value2member_map_ else f"exc{i}":
                           int(s.exceptions[i]) for i in range(32) if s.exceptions[i]},
            "stall_cycles": int(s.stall_cycles),
            "misses": {c.name.lower(): int(s.misses[c]) for c in MissClass},
            "miss_cycles": {c.name.lower(): int(s.miss_cycles[c]) for c in MissClass},
            "ifetch_misses": int(s.ifetch_misses),
            "invalidations": int(s.invalidations),
            "l2tlb_refills": int(s.l2tlb_refills),
        }

    @property
    def cycles(self) -> int:
        m = self.machine
        out = m._cycles_buf
        err = lib.dc_cpu_cycles(m.handle, self.index, out)
        if err:
            m._check(err)
        return int(out[0])

    @property
    def instructions(self) -> int:
        return int(self.raw_stats().instructions)

    def write_tlb(self, index: int, hi: int, lo0: int, lo1: int, pagemask: int = 0) -> None:
        """Write hardware TLB entry `index` directly, as TLBWI would, CP0 untouched."""
        entry = self.machine._tlb_buf
        entry[0], entry[1] = hi & 0xFFFFFFFF, lo0 & 0xFFFFFFFF
        entry[2], entry[3] = lo1 & 0xFFFFFFFF, pagemask & 0xFFFFFFFF
        self.machine._check(lib.dc_tlb_write(self.machine.handle, self.index, index, entry))

    def flush_tlb(self) -> None:
        """Invalidate every hardware TLB entry of this CPU."""
        self.machine._check(lib.dc_tlb_flush(self.machine.handle, self.index))

    @overload
    def tlb(self, index: int) -> tuple[int, int, int, int]: ...

    @overload
    def tlb(self, index: None = None) -> np.ndarray: ...

    def tlb(self, index: int | None = None) -> tuple[int, int, int, int] | np.ndarray:
        """TLB entry `index` as (EntryHi, EntryLo0, EntryLo1, PageMask); without an
        index, the whole TLB in one call: a (tlb_entries, 4) uint32 array of those rows."""
        m = self.machine
        if index is None:
            n = m.config.tlb_entries
            table = np.empty((n, 4), dtype=np.uint32)
            count = ffi.new("uint32_t *")
            m._check(lib.dc_tlb_dump(m.handle, self.index,
                                     ffi.from_buffer("uint32_t[]", table, require_writable=True),
                                     n, count))
            return table
        out = m._tlb_buf
        m._check(lib.dc_tlb_read(m.handle, self.index, index, out))
        return int(out[0]), int(out[1]), int(out[2]), int(out[3])
