#!/bin/sh
# Qt's platform plugins need a few system libraries that a minimal Linux may lack. Find what the
# xcb (real display) and offscreen (tests) plugins miss; install it with apt when we are root on
# Debian/Ubuntu, otherwise print the command. Never fails the set-up on other systems.
set -u
VENV_PY=".venv/bin/python"
plugins=$($VENV_PY -c 'import PySide6, pathlib; p = pathlib.Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms"; print(" ".join(str(p / n) for n in ("libqxcb.so", "libqoffscreen.so") if (p / n).exists()))' 2>/dev/null) || exit 0
[ -n "$plugins" ] || exit 0
command -v ldd >/dev/null 2>&1 || exit 0
missing=$(for plugin in $plugins; do ldd "$plugin" 2>/dev/null; done | awk '/not found/ {print $1}' | sort -u)
[ -n "$missing" ] || exit 0
echo "Qt needs these system libraries: $(echo $missing | tr '\n' ' ')"
packages="libxcb-cursor0 libxkbcommon-x11-0 libxkbcommon0 libegl1 libgl1 libfontconfig1 libdbus-1-3 \
libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 \
libxcb-xinerama0 libxcb-xkb1 libxcb-xfixes0 libx11-xcb1 libglib2.0-0"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null \
        || echo "warning: apt-get could not install: $packages"
else
    echo "Install them with: sudo apt-get install $packages"
fi
exit 0
