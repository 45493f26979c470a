# Sourced by ./run-tests (and so by .ci/run): installs the Debian tools the tests
# drive for real when one is missing and we are root. The tests never skip for a
# missing tool; they fail and name the package.
#   gdb-multiarch        the GDB server's client (tests/gdb)
#   desktop-file-utils   desktop-file-validate (tests/packaging)
#   appstream            appstreamcli validate (tests/packaging)
#   device-tree-compiler dtc reads our device trees back (tests/linux)
#   chromium             opens the experiments report headless (tests/experiments)
#   qemu-system-mips     qemu-system-mipsel: the reference Linux boot (tests/linux);
#                        the co-simulation reference (tests/core/qemu_cosim.py)
_disco_missing=()
command -v gdb-multiarch >/dev/null 2>&1 || _disco_missing+=(gdb-multiarch)
command -v desktop-file-validate >/dev/null 2>&1 || _disco_missing+=(desktop-file-utils)
command -v appstreamcli >/dev/null 2>&1 || _disco_missing+=(appstream)
command -v dtc >/dev/null 2>&1 || _disco_missing+=(device-tree-compiler)
command -v chromium >/dev/null 2>&1 || _disco_missing+=(chromium)
command -v qemu-system-mipsel >/dev/null 2>&1 || _disco_missing+=(qemu-system-mips)
if [ "${#_disco_missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "disco: installing ${_disco_missing[*]} (Debian packages the tests use)..." >&2
    (apt-get update -qq && apt-get install -y -qq --no-install-recommends "${_disco_missing[@]}") \
      >/dev/null 2>&1 || echo "disco: could not install ${_disco_missing[*]}" >&2
  else
    echo "disco: missing ${_disco_missing[*]} (apt-get install them; the tests that use them fail)" >&2
  fi
fi
unset _disco_missing
