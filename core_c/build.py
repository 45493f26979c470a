"""Build script of the C core: cffi out-of-line API mode.

`pip install .` runs it through setup.py (cffi_modules). Run it directly to
rebuild the extension in place during development:

    python core_c/build.py            # disco_core/_dc_cffi*.so
    python core_c/build.py --asan     # disco_core/_dc_cffi_asan*.so (ASan + UBSan)

The cdef is generated from the public headers, include/dc.h then
include/dc_assist.h (HEADERS, a fixed order: the second uses the first's
types), concatenated as pygit2 does with its decl/*.h: comments are stripped
and enum values become "...", so the compiler, not this file, supplies every
number. The extension's preamble includes the same headers in the same order.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The public headers, in the order the cdef and the preamble take them.
HEADERS = ("dc.h", "dc_assist.h")

WARNINGS = ["-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter"]
# gnu11: C11 plus computed goto (labels as values) for threaded dispatch.
COMMON = ["-std=gnu11", "-D_GNU_SOURCE", "-fvisibility=hidden", *WARNINGS]
RELEASE = ["-O2", "-fno-plt", "-fno-semantic-interposition"]
SANITIZE = ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
            "-fno-sanitize-recover=undefined"]


def cdef_from_header(text: str) -> str:
    """Turn a public header into cffi cdef text: no comments, enum values left to
    the compiler."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)

    def enum_body(match: re.Match[str]) -> str:
        body = re.sub(r"=\s*[^,}]+", "= ...", match.group(2))
        return match.group(1) + body + match.group(3)

    return re.sub(r"(typedef enum \w+ \{)(.*?)(\})", enum_body, text, flags=re.S)


def cdef() -> str:
    """The cdef of the whole public API: every header of HEADERS, in order."""
    return "\n".join(cdef_from_header((HERE / "include" / h).read_text()) for h in HEADERS)


def preamble() -> str:
    """The C the extension starts with: the headers' prerequisites, then the headers."""
    return "#include <stdint.h>\n#include <stddef.h>\n" + "".join(
        f'#include "{h}"\n' for h in HEADERS)


def _path(p: Path, absolute: bool) -> str:
    # setuptools wants paths relative to the project root; cffi's compile()
    # changes directory into its tmpdir, so in-place builds need absolute ones.
    return str(p) if absolute else os.path.relpath(p, ROOT)


def make_builder(variant: str = "", absolute: bool = False) -> FFI:
    builder = FFI()
    builder.cdef(cdef())
    flags = COMMON + (SANITIZE if variant == "asan" else RELEASE)
    builder.set_source(
        "disco_core._dc_cffi" + ("_" + variant if variant else ""),
        preamble(),
        sources=sorted(_path(p, absolute) for p in HERE.glob("*.c")),
        include_dirs=[_path(HERE / "include", absolute), _path(HERE, absolute)],
        extra_compile_args=flags,
        extra_link_args=["-fsanitize=address,undefined"] if variant == "asan" else [],
    )
    return builder


ffibuilder = make_builder(os.environ.get("DISCO_CORE_VARIANT", ""))


def build_inplace(variant: str = "") -> Path:
    """Compile the extension into disco_core/ and return its path."""
    builder = make_builder(variant, absolute=True)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    name = "_dc_cffi" + ("_" + variant if variant else "")
    with tempfile.TemporaryDirectory(prefix="dc-build-") as tmp:
        built = Path(builder.compile(tmpdir=tmp, verbose=False))
        target = ROOT / "disco_core" / (name + suffix)
        shutil.copyfile(built, target.with_suffix(".tmp"))
        os.replace(target.with_suffix(".tmp"), target)
    return target


if __name__ == "__main__":
    print(build_inplace("asan" if "--asan" in sys.argv[1:] else ""))
