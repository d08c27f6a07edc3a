"""4. Start-up: launch -> window shown, and launch -> model ready (bundled model), cold and warm.

cold: an empty cache folder, so the bundled GGUF is converted on this launch (first use);
warm: the converted folder exists (every later launch). Each launch is the real `cw-desktop`
command in a fresh process, timed by the lines it writes to its status file (CW_DESKTOP_STATUS_FILE,
gui/status_trace.py); the clock starts in this process just before the launch, so interpreter
start-up and imports count. For scale, the same run measures an empty Qt window (the floor for "window shown")
and a bare `load_model("bundled")` script (the floor for "model ready").

    .venv/bin/python bench/startup.py [--quick] [--runs N] [--no-cold]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import common
from common import Section, median, table

WINDOW_TARGET_S = 2.0
WARM_READY_TARGET_S = 3.0

EMPTY_WINDOW = """
import json, os, sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([sys.argv[0]])
window = QMainWindow(); window.resize(900, 700); window.show()
def done():
    print(json.dumps({"window_shown": time.time() - float(os.environ["CW_BENCH_T0"])})); app.quit()
QTimer.singleShot(0, done)
app.exec()
"""

# What the editor's model process does for "model ready", without Qt: the engine the settings pick
# (llama.cpp when installed, which needs neither torch nor transformers) on the bundled model.
BARE_LOAD = """
import json, os, sys, time
from cw_desktop.core.paths import AppPaths
from cw_desktop.ml.backends import make_generator
from cw_desktop.ml.backends.selection import load_for_inference
loaded = load_for_inference("bundled", AppPaths.default(data={data!r}, cache={cache!r}))
make_generator(loaded)
print(json.dumps({{"model_ready": time.time() - float(os.environ["CW_BENCH_T0"]), "backend": loaded.backend,
                  "torch_imported": "torch" in sys.modules}}))
"""


def launch_gui(data: Path, cache: Path, timeout: float = 900) -> dict[str, Any]:
    """Launch the real `cw-desktop` command (the installed entry point, nothing wrapped) and time the
    lines it writes to its status file (gui/status_trace.py) on this process's clock."""
    status = data / "status.jsonl"
    data.mkdir(parents=True, exist_ok=True)
    status.unlink(missing_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HF_HUB_OFFLINE": "1", "CW_DESKTOP_STATUS_FILE": str(status)}
    started = time.time()
    process = subprocess.Popen([str(common.REPO / ".venv" / "bin" / "cw-desktop"), "--data", str(data), "--config",
                                str(data / "config"), "--cache", str(cache)], env=env, cwd=common.REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    marks: dict[str, Any] = {}
    try:
        while time.time() - started < timeout and process.poll() is None:
            lines = status.read_text(encoding="utf-8").splitlines() if status.is_file() else []
            for line in lines:
                try:
                    event = json.loads(line)
                except ValueError:  # a line being written
                    continue
                name = event["event"]
                if name in ("window_shown", "model_ready", "model_failed") and name not in marks:
                    marks[name] = time.time() - started
                    if name == "model_ready":
                        marks["load_seconds"] = event.get("load_seconds")
                        marks["backend"] = event.get("backend")
                    if name == "model_failed":
                        marks["error"] = event.get("message")
            if "model_ready" in marks or "error" in marks:
                break
            time.sleep(0.005)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    if "model_ready" not in marks and "error" not in marks:
        marks["error"] = f"no model_ready within {timeout:.0f} s: {(process.stderr.read() if process.stderr else '')[-500:]}"
    return marks


def timed_script(code: str) -> dict[str, Any]:
    return common.run_python(code, env={"QT_QPA_PLATFORM": "offscreen", "CW_BENCH_T0": repr(time.time())})


def run(quick: bool = False, runs: int | None = None, cold: bool = True) -> Section:
    common.header("startup")
    runs = runs or (2 if quick else 4)
    section = Section("4. Start-up", f".venv/bin/python bench/startup.py{' --quick' if quick else ''}")
    warm_cache = common.shared_paths().cache_dir
    common.load_bundled()  # the warm cache holds the converted model
    rows = []
    data: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="cw-bench-startup-") as tmp:
        root = Path(tmp)
        if cold:
            cold_cache = root / "cold-cache"
            cold_cache.mkdir()
            data["cold"] = launch_gui(root / "cold", cold_cache)
            shutil.rmtree(cold_cache, ignore_errors=True)  # ~540 MB of converted weights
        warm = [launch_gui(root / f"warm{i}", warm_cache) for i in range(runs)]
        data["warm"] = warm
        data["empty_window"] = [timed_script(EMPTY_WINDOW) for _ in range(runs)]
        data["bare_load"] = [timed_script(BARE_LOAD.format(data=str(root / "bare"), cache=str(warm_cache)))
                             for _ in range(max(1, runs // 2))]
    errors = [r["error"] for r in [data.get("cold", {})] + warm if "error" in r]

    def med(items: list[dict[str, Any]], key: str) -> float:
        values = [i[key] for i in items if key in i and i[key] is not None]
        return median(values) if values else float("nan")

    warm_shown, warm_ready = med(warm, "window_shown"), med(warm, "model_ready")
    rows.append(["empty Qt window (floor)", f"{med(data['empty_window'], 'window_shown'):.2f} s", "–", "–"])
    rows.append([f"cw-desktop, warm (median of {runs})", f"{warm_shown:.2f} s", f"{warm_ready:.2f} s",
                 f"{med(warm, 'load_seconds'):.2f} s"])
    if cold:
        c = data["cold"]
        rows.append(["cw-desktop, cold: converts the bundled GGUF", f"{c.get('window_shown', float('nan')):.2f} s",
                     f"{c.get('model_ready', float('nan')):.2f} s", f"{(c.get('load_seconds') or float('nan')):.2f} s"])
    rows.append(["bare script: import + load_for_inference + engine (floor)", "–",
                 f"{med(data['bare_load'], 'model_ready'):.2f} s", "–"])
    backends = sorted({str(r.get("backend")) for r in warm if r.get("backend")})
    section.add("Seconds from spawning the process. *model load* is LoadedModel.load_seconds (resolve, convert "
                "if needed, read weights), measured inside the app.\n\n" + table(
        ["launch", "window shown", "model ready", "model load"], rows)
        + f"\n\nSuggestion engine: {', '.join(backends) or 'unknown'}."
        + (f"\n\nErrors: {errors}" if errors else ""))
    section.data = data
    section.target("launch -> window shown (warm, median)", f"< {WINDOW_TARGET_S:.0f} s", f"{warm_shown:.2f} s",
                   warm_shown < WINDOW_TARGET_S if warm_shown == warm_shown else None)
    section.target("launch -> model ready (warm, median)", f"< {WARM_READY_TARGET_S:.0f} s", f"{warm_ready:.2f} s",
                   warm_ready < WARM_READY_TARGET_S if warm_ready == warm_ready else None)
    if cold and "window_shown" in data["cold"]:
        shown = data["cold"]["window_shown"]
        section.target("launch -> window shown (cold)", f"< {WINDOW_TARGET_S:.0f} s", f"{shown:.2f} s",
                       shown < WINDOW_TARGET_S)
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--no-cold", action="store_true")
    args = parser.parse_args()
    section = run(args.quick, args.runs, cold=not args.no_cold)
    print(section.markdown())
    section.save("startup")


if __name__ == "__main__":
    main()
