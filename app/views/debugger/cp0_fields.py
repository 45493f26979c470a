"""CP0 values decoded into their fields (Status, Cause, EntryHi, EntryLo0/1), for the
CP0 tab: what a MIPS programmer reads off the bits, with the numbers from mips.py."""

from __future__ import annotations

from disco_core.mips import (
    CA_BD,
    CA_CE,
    CA_CE_SHIFT,
    CA_EXCCODE,
    CA_EXCCODE_SHIFT,
    CA_IP_SHIFT,
    CA_IV,
    CA_TI,
    CA_WP,
    EH_ASID,
    EH_VPN2,
    LO_C_SHIFT,
    LO_D,
    LO_G,
    LO_V,
    ST_BEV,
    ST_CU0,
    ST_ERL,
    ST_EXL,
    ST_IE,
    ST_IM,
    ST_IM_SHIFT,
    ST_KSU,
    ST_KSU_SHIFT,
    ExcCode,
    Mode,
    lo_pfn,
    status_mode,
)


def _bits(value: int, names: list[tuple[int, str]]) -> list[str]:
    return [name for bit, name in names if value & bit]


def _lines(mask: int) -> str:
    """An interrupt mask/pending byte as line numbers: "IM 2,7", or "-"."""
    return ",".join(str(i) for i in range(8) if mask >> i & 1) or "-"


def status_fields(value: int) -> str:
    flags = _bits(value, [(ST_CU0, "CU0"), (ST_BEV, "BEV"), (ST_ERL, "ERL"), (ST_EXL, "EXL"),
                          (ST_IE, "IE")])
    ksu = (value & ST_KSU) >> ST_KSU_SHIFT
    known = ksu in {int(m) for m in Mode}
    field = Mode(ksu).name.lower() if known else str(ksu)
    runs = status_mode(value).name.lower() if known else "?"
    return (f"KSU={field} IM={_lines((value & ST_IM) >> ST_IM_SHIFT)} "
            + (" ".join(flags) if flags else "IE=0") + f" (runs in {runs} mode)")


def cause_fields(value: int) -> str:
    code = (value & CA_EXCCODE) >> CA_EXCCODE_SHIFT
    try:
        name = ExcCode(code).name
    except ValueError:
        name = f"#{code}"
    flags = _bits(value, [(CA_BD, "BD"), (CA_TI, "TI"), (CA_IV, "IV"), (CA_WP, "WP")])
    ce = (value & CA_CE) >> CA_CE_SHIFT
    return (f"ExcCode={name} IP={_lines((value >> CA_IP_SHIFT) & 0xFF)}"
            + (f" CE={ce}" if ce else "") + (" " + " ".join(flags) if flags else ""))


def entryhi_fields(value: int) -> str:
    return f"VPN2=0x{value & EH_VPN2:08x} ASID={value & EH_ASID}"


def entrylo_fields(value: int) -> str:
    flags = "".join(c if value & bit else "-" for bit, c in ((LO_D, "D"), (LO_V, "V"),
                                                             (LO_G, "G")))
    return f"PFN=0x{lo_pfn(value):05x} C={(value >> LO_C_SHIFT) & 7} {flags}"


DECODERS = {"Status": status_fields, "Cause": cause_fields, "EntryHi": entryhi_fields,
            "EntryLo0": entrylo_fields, "EntryLo1": entrylo_fields}


def decode(name: str, value: int) -> str:
    """The fields of a CP0 register the debugger decodes, or "" for the others."""
    decoder = DECODERS.get(name)
    return decoder(value) if decoder is not None else ""
