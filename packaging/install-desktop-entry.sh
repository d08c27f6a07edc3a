#!/bin/sh
# Add cw_desktop to the desktop's application menu for the current user (freedesktop.org layout).
# Run from the repository after `make setup`, or from the one-folder bundle (`make dist`:
# <bundle>/packaging/install-desktop-entry.sh); undo with --uninstall.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -x "$here/cw-desktop" ] && [ -d "$here/_internal" ]; then  # the bundle
    program="$here/cw-desktop"
    icons="$here/_internal/resources/icons"
else  # the repository
    program="$here/.venv/bin/cw-desktop"
    icons="$here/resources/icons"
fi
data="${XDG_DATA_HOME:-$HOME/.local/share}"
bin="$HOME/.local/bin"
if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$data/applications/cw-desktop.desktop" "$bin/cw-desktop"
    for size in 16 24 32 48 64 128 256 512; do rm -f "$data/icons/hicolor/${size}x${size}/apps/cw-desktop.png"; done
    rm -f "$data/icons/hicolor/scalable/apps/cw-desktop.svg"
    exit 0
fi
mkdir -p "$data/applications" "$bin" "$data/icons/hicolor/scalable/apps"
ln -sf "$program" "$bin/cw-desktop"
for size in 16 24 32 48 64 128 256 512; do
    mkdir -p "$data/icons/hicolor/${size}x${size}/apps"
    cp "$icons/cw_desktop-$size.png" "$data/icons/hicolor/${size}x${size}/apps/cw-desktop.png"
done
cp "$icons/cw_desktop.svg" "$data/icons/hicolor/scalable/apps/cw-desktop.svg"
sed "s|^Exec=cw-desktop|Exec=$bin/cw-desktop|" "$here/packaging/cw-desktop.desktop" > "$data/applications/cw-desktop.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$data/applications" || true
echo "Installed: $data/applications/cw-desktop.desktop"
