#!/bin/sh
# Editor screenshots (light and dark) with a real bundled-model suggestion, in a real window on a
# virtual X screen. Needs Debian's xvfb (`apt-get install xvfb`). The fine-tuning dialog's
# screenshots take a real training run: scripts/screenshots_finetune.py (see its docstring).
set -eu
cd "$(dirname "$0")/.."
command -v xvfb-run >/dev/null || { echo "xvfb-run not found: apt-get install xvfb" >&2; exit 1; }
cache=$(.venv/bin/cw-desktop paths | sed -n 's/^cache: *//p')
.venv/bin/cw-desktop --cache "$cache" models prepare bundled
for theme in light dark; do
    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python docs/screenshots/take_screenshots.py \
        --cache "$cache" --theme "$theme"
done
# Project dock, lorebook, retry history, rewrite preview, banned phrases (one run of the app).
xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python docs/screenshots/take_cowriting_screenshots.py --cache "$cache"
