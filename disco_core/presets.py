"""Machine presets: named MachineConfigs for the paper's configurations.

| preset  | shape                                   | use |
|---------|-----------------------------------------|-----|
| test    | 1 CPU, 64 MiB, functional (fast) mode   | the core's test machine |
| flash8  | 8 nodes x 1 CPU x 32 MiB, timing        | the paper's memory and scalability runs |
| flash16 | 16 nodes x 1 CPU x 32 MiB, timing       | the Raytrace NUMA run |
| flash32 | 32 nodes x 1 CPU x 32 MiB, timing       | many VMs |
| uma8    | flash8 with every miss at local latency | the paper's UMA comparison |

The Disco paper's FLASH: 300 ns local and 900 ns remote miss latency on an idle
machine, 32 KiB split L1, 1 MiB L2, one CPU per node (PAPER.md section 1).
"""

from __future__ import annotations

from dataclasses import replace

from disco_core.errors import ConfigError
from disco_core.machine import MachineConfig, MiB

PRESETS: dict[str, MachineConfig] = {
    "test": MachineConfig(cpus=1, ram_bytes=64 * MiB),
    "flash8": MachineConfig(cpus=8, nodes=8, ram_bytes=8 * 32 * MiB, timing=True),
    "flash16": MachineConfig(cpus=16, nodes=16, ram_bytes=16 * 32 * MiB, timing=True),
    "flash32": MachineConfig(cpus=32, nodes=32, ram_bytes=32 * 32 * MiB, timing=True),
}
PRESETS["uma8"] = replace(PRESETS["flash8"], lat_remote=PRESETS["flash8"].lat_local,
                          lat_hop=0, lat_dirty=0)


def preset(name: str, **overrides: object) -> MachineConfig:
    """The named preset, with fields overridden; the result is checked."""
    try:
        config = PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"no machine preset {name!r}: choose one of {', '.join(PRESETS)}"
        ) from None
    for field, value in overrides.items():
        # Every field is a number (timing a bool, which is one too); check() compares.
        if field in MachineConfig.__dataclass_fields__ and not isinstance(value, int):
            raise ConfigError(f"preset {name!r}: {field} = {value!r} is not a number")
    try:
        config = replace(config, **overrides)  # type: ignore[arg-type]
    except TypeError as e:
        raise ConfigError(f"preset {name!r}: {e}") from None
    config.check()
    return config
