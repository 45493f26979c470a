# Sourced by ./workbench after env.sh: makes sure the system libraries Qt's xcb
# platform plugin loads are installed (scripts/qt_system_libs.py finds the missing
# ones with ldd), installing them with apt-get when we are root and otherwise
# printing the exact command. Skipped when another Qt platform is asked for.
case "${QT_QPA_PLATFORM:-xcb}" in
  xcb*)
    _disco_qt_missing="$("$venv/bin/python" "$root/scripts/qt_system_libs.py" | tr '\n' ' ')"
    _disco_qt_missing="${_disco_qt_missing% }"
    if [ -n "$_disco_qt_missing" ]; then
      _disco_qt_cmd="apt-get install -y --no-install-recommends $_disco_qt_missing"
      if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "disco: installing the libraries Qt's xcb plugin needs: $_disco_qt_missing" >&2
        (apt-get update -qq && $_disco_qt_cmd -qq) >/dev/null 2>&1 ||
          echo "disco: could not install them; try: $_disco_qt_cmd" >&2
      else
        echo "disco: Qt's xcb platform plugin needs system libraries that are missing." >&2
        echo "disco: install them with:  sudo $_disco_qt_cmd" >&2
        echo "disco: (or run without a display: QT_QPA_PLATFORM=offscreen ./workbench ...)" >&2
      fi
      unset _disco_qt_cmd
    fi
    unset _disco_qt_missing
    ;;
esac
