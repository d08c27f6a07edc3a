#!/bin/sh
# Smoke test of the one-folder bundle (`make dist-smoke`, after `make dist`):
#
#   sh scripts/dist-smoke.sh [BUNDLE_DIR] [--cold]
#
# Every bundle command runs with a clean environment: no virtualenv on PATH, no PYTHONPATH, HOME and
# the XDG folders in a fresh temporary folder (so nothing of the developer's cache or settings is
# seen), and - when `unshare -n` is allowed (root) - in a network namespace with no network at all.
# It checks, in this order:
#   1. the desktop entry installs from the bundle (packaging/install-desktop-entry.sh) and is valid;
#   2. `cw-desktop generate` works offline with the bundled model on llama.cpp and on torch (Llama
#      architecture), and on a tiny GPT-2 folder on both (GPT-2 architecture, GGUF export);
#   3. `cw-desktop train` fine-tunes that tiny GPT-2 for two steps inside the bundle;
#   4. the editor starts under Xvfb, loads the bundled model (the converted copy shipped in the
#      bundle, not a first-start conversion), and after typing a few words with xdotool shows ghost
#      text - read from the editor's status file (CW_DESKTOP_STATUS_FILE, gui/status_trace.py).
# --cold evicts the bundle's files from the page cache (posix_fadvise, this bundle only) before the
# first command and before the editor starts, so those start-up times are a first start's after a reboot.
set -eu
cd "$(dirname "$0")/.."
repo=$(pwd)
bundle=dist/cw-desktop
cold=""
for arg in "$@"; do
    case "$arg" in
        --cold) cold=1 ;;
        *) bundle=$arg ;;
    esac
done
[ -x "$bundle/cw-desktop" ] || { echo "no bundle at $bundle: run make dist first" >&2; exit 1; }
bundle=$(cd "$bundle" && pwd)
for tool in Xvfb xdotool; do
    command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install -y xvfb xdotool" >&2; exit 1; }
done

# No network: re-run this script in a new network namespace (only a loopback, and it is down).
if [ -z "${CW_SMOKE_NETNS:-}" ] && command -v unshare >/dev/null 2>&1 && unshare -n true 2>/dev/null; then
    exec env CW_SMOKE_NETNS=1 unshare -n sh "$0" "$@"
fi
if [ -n "${CW_SMOKE_NETNS:-}" ]; then network="none (network namespace)"; else network="not blocked (unshare -n not permitted)"; fi

work=$(mktemp -d /tmp/cw-dist-smoke.XXXXXX)
xvfb_pid="" app_pid=""
cleanup() {
    [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
    [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
home="$work/home"
mkdir -p "$home" "$work/run"
chmod 700 "$work/run"
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }
# The bundle's environment: nothing inherited but the display.
clean() {
    env -i PATH=/usr/bin:/bin HOME="$home" XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share" \
        XDG_CACHE_HOME="$home/.cache" XDG_RUNTIME_DIR="$work/run" LANG=C.UTF-8 \
        "$@"
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# Drop the bundle's files from the page cache (only them): the next start reads them from disk.
evict() {
    [ -n "$cold" ] || return 0
    step "evicting the bundle's files from the page cache"
    python3 - "$bundle" <<'EOF'
import os, sys
for root, _dirs, files in os.walk(sys.argv[1]):
    for name in files:
        path = os.path.join(root, name)
        if os.path.isfile(path) and not os.path.islink(path):
            fd = os.open(path, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
EOF
}
evict

step "bundle $bundle ($(du -sh "$bundle" | cut -f1)), network: $network"
started=$(now)
version=$(clean "$bundle/cw-desktop" --version) || fail "cw-desktop --version"
echo "$version, first command in $(elapsed "$started" "$(now)") s"

step "1. desktop entry"
clean sh "$bundle/packaging/install-desktop-entry.sh" || fail "install-desktop-entry.sh"
entry="$home/.local/share/applications/cw-desktop.desktop"
[ -f "$entry" ] || fail "no $entry"
grep -qx "Exec=$home/.local/bin/cw-desktop %F" "$entry" || fail "Exec line in $entry: $(grep ^Exec "$entry")"
[ -f "$home/.local/share/icons/hicolor/256x256/apps/cw-desktop.png" ] || fail "icon not installed"
if command -v desktop-file-validate >/dev/null; then desktop-file-validate "$entry" || fail "desktop-file-validate"; fi
cli="$home/.local/bin/cw-desktop"  # the installed link into the bundle: the rest runs through it
clean "$cli" models list | grep -E "^bundled .* ready" || fail "the bundled model is not listed as ready"

step "2. generate, offline"
for backend in llamacpp torch; do
    started=$(now)
    text=$(clean "$cli" generate --backend "$backend" --seed 1 --max-new-tokens 16 "Once upon a time") \
        || fail "generate --backend $backend"
    [ -n "$(echo "$text" | tr -d '[:space:]')" ] || fail "generate --backend $backend printed nothing"
    echo "bundled on $backend ($(elapsed "$started" "$(now)") s): Once upon a time$text"
done
# A tiny GPT-2 (the tests' recipe), made with the build's virtualenv: the bundle must load a second
# architecture from a plain folder, and convert it for llama.cpp.
"$repo/.venv/bin/python" - "$work/tiny-gpt2" "$work/corpus" <<'EOF' || fail "building the tiny GPT-2"
import sys
from pathlib import Path
from cw_desktop.ml.tiny import build_tiny_gpt2
text = ("The lamp burned all night above the harbour. The keeper climbed the stairs and trimmed the wick. "
        "Ships passed in the dark and the sea answered the wind. ") * 40
build_tiny_gpt2(Path(sys.argv[1]), [text], vocab_size=400, n_layer=2, n_head=2, n_embd=64, n_positions=256)
# Six chapters of different sentences: the scan skips duplicates, and the trainer needs several
# chapters to hold one out.
import random
words = "lamp keeper harbour stairs wick ships dark sea wind night light door rope tide storm".split()
corpus = Path(sys.argv[2])
corpus.mkdir()
for number in range(1, 7):
    pick = random.Random(number)
    paragraphs = [" ".join(f"The {pick.choice(words)} {pick.choice(('saw', 'held', 'lost', 'found'))} the "
                           f"{pick.choice(words)}." for _ in range(12)) for _ in range(12)]
    (corpus / f"chapter-{number}.txt").write_text(f"Chapter {number}\n\n" + "\n\n".join(paragraphs),
                                                  encoding="utf-8")
EOF
for backend in torch llamacpp; do
    text=$(clean "$cli" generate --model "$work/tiny-gpt2" --backend "$backend" --seed 1 --max-new-tokens 8 \
        "The lamp") || fail "tiny GPT-2 on $backend"
    [ -n "$(echo "$text" | tr -d '[:space:]')" ] || fail "tiny GPT-2 on $backend printed nothing"
    echo "tiny GPT-2 on $backend: The lamp$text"
done

step "3. train (two steps, tiny GPT-2)"
clean "$cli" train "$work/corpus" --base "$work/tiny-gpt2" --max-steps 2 --block-size 64 --no-samples \
    --output "$work/tuned" > "$work/train.log" 2>&1 || { tail -n 20 "$work/train.log"; fail "train"; }
[ -f "$work/tuned/report.json" ] || fail "train wrote no report.json"
clean "$cli" generate --model "$work/tuned" --backend torch --seed 1 --max-new-tokens 4 "The lamp" >/dev/null \
    || fail "the tuned model does not load"
echo "trained: $work/tuned"

step "4. editor under Xvfb"
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$work/display" 2>"$work/xvfb.log" &
xvfb_pid=$!
for _ in $(seq 50); do [ -s "$work/display" ] && break; sleep 0.1; done
[ -s "$work/display" ] || fail "Xvfb did not start: $(cat "$work/xvfb.log")"
DISPLAY=":$(cat "$work/display")"
export DISPLAY
evict
printf 'The Keeper\n\nThe storm came in from the sea, and Mara climbed the stairs to the lamp.' > "$work/story.txt"
status="$work/status.jsonl"
launched=$(now)
# exec: $! is then the editor itself (the bundle's program does not fork), so it can be watched.
( exec env -i PATH=/usr/bin:/bin HOME="$home" XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share" \
    XDG_CACHE_HOME="$home/.cache" XDG_RUNTIME_DIR="$work/run" LANG=C.UTF-8 DISPLAY="$DISPLAY" \
    CW_DESKTOP_STATUS_FILE="$status" "$cli" "$work/story.txt" ) > "$work/app.log" 2>&1 &
app_pid=$!
# wait_for EVENT SECONDS: the first status line of that event, or fail
wait_for() {
    deadline=$(( $(date +%s) + $2 ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        kill -0 "$app_pid" 2>/dev/null || { cat "$work/app.log" >&2; fail "the editor exited while waiting for $1"; }
        line=$(grep "\"event\": \"$1\"" "$status" 2>/dev/null | grep -v '"text": ""' | head -n 1 || true)
        [ -n "$line" ] && { echo "$line"; return 0; }
        sleep 0.1
    done
    cat "$work/app.log" >&2
    fail "no $1 within $2 s"
}
shown=$(wait_for window_shown 120)
echo "window on screen after $(elapsed "$launched" "$(now)") s (launch to first paint)"
ready=$(wait_for model_ready 300)
echo "model ready after $(elapsed "$launched" "$(now)") s: $ready"
echo "$ready" | grep -q "\"folder\": \"$bundle/_internal/models/bundled-" \
    || fail "the editor did not use the converted model shipped in the bundle"
window=$(xdotool search --sync --onlyvisible --name "story.txt.* cw_desktop" | head -n 1)
xdotool windowfocus --sync "$window"
xdotool mousemove --window "$window" 300 300 click 1
xdotool key --window "$window" ctrl+End
xdotool type --delay 60 " She lit the wick and"
typed=$(now)
ghost=$(wait_for ghost 60)
echo "ghost text $(elapsed "$typed" "$(now)") s after typing: $ghost"
grep -q '"event": "model_failed"' "$status" && fail "a model failed to load: $(grep model_failed "$status")"
echo "PASS: the bundle works offline (status lines: $(wc -l < "$status"))"
