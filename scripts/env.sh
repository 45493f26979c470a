# Sourced by ./workbench and ./run-tests: makes .venv with the project and its
# dependencies on first use, and rebuilds the C core when its sources change.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  echo "disco: creating $venv (first run)..." >&2
  "$python" -m venv "$venv"
fi
want="$(cat "$root/pyproject.toml" "$root/setup.py" | sha256sum | cut -c1-16)"
stamp="$venv/.disco-installed"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "disco: installing dependencies into .venv (first run, a few minutes)..." >&2
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
  "$venv/bin/python" -m pip install -q -e "$root[dev]" >&2
  echo "$want" > "$stamp"
fi
core_hash="$(cat "$root"/core_c/*.c "$root"/core_c/*.h "$root"/core_c/include/*.h \
  "$root"/core_c/build.py | sha256sum | cut -c1-16)"
core_stamp="$root/build/core.stamp"
if [ "$(cat "$core_stamp" 2>/dev/null)" != "$core_hash" ] || \
   ! ls "$root"/disco_core/_dc_cffi.*.so >/dev/null 2>&1; then
  echo "disco: building the C core..." >&2
  "$venv/bin/python" "$root/core_c/build.py" >/dev/null
  mkdir -p "$root/build"
  echo "$core_hash" > "$core_stamp"
fi
export PATH="$venv/bin:$PATH"
