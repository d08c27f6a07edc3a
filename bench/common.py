"""Shared pieces of the benchmarks: models, prose, timing statistics, tables, machine description.

Every benchmark prints its tables and returns a `Section` so bench/run_all.py can collect them into
docs/benchmarks.md. Figures are medians of several runs or ratios against a baseline measured in
the same run: the machine is shared and noisy, absolute numbers drift by tens of percent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/latency.py` runs with bench/ on the path, not the repo
    sys.path.insert(0, str(REPO))
import cw_desktop  # noqa: E402,F401 - first, as in the app: its process-wide settings precede torch
OUT = REPO / "bench" / "out"
WRITERS = Path(os.environ.get("CW_BENCH_WRITERS", REPO.parent / "shared" / "corpus" / "writers"))
SHARED_DATA = Path(os.environ.get("CW_BENCH_DATA", "/tmp/cwd-shared"))
PYTHON = REPO / ".venv" / "bin" / "python"

AUSTEN = WRITERS / "austen" / "Pride and Prejudice.txt"
HELD_OUT = [WRITERS / "austen" / "Persuasion.txt", WRITERS / "poe" / "The Fall of the House of Usher.txt"]


# -- statistics ------------------------------------------------------------------------------------

def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1): with a dozen samples, interpolation pretends precision."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.4999)))
    return ordered[rank - 1]


def p90(values: Sequence[float]) -> float:
    return percentile(values, 0.9)


def ms(seconds: float) -> str:
    return "–" if seconds != seconds else f"{seconds * 1000:.0f} ms"


def ratio(baseline: float, ours: float) -> str:
    """'12.3x' = ours is 12.3 times faster (or cheaper) than the baseline."""
    if not ours or ours != ours or baseline != baseline:
        return "–"
    return f"{baseline / ours:.1f}x"


class Stopwatch:
    """`with Stopwatch() as t: ...; t.seconds`"""

    def __enter__(self) -> "Stopwatch":
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


# -- tables and report sections --------------------------------------------------------------------

def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table that also reads well as plain text (columns padded)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


@dataclass
class Target:
    name: str
    goal: str
    measured: str
    met: bool | None  # None = could not be measured

    @property
    def verdict(self) -> str:
        return {True: "met", False: "**missed**", None: "not measured"}[self.met]


@dataclass
class Section:
    """One benchmark's contribution to docs/benchmarks.md."""

    title: str
    command: str
    body: list[str] = field(default_factory=list)  # markdown paragraphs and tables, in order
    targets: list[Target] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # raw figures, saved as JSON beside the doc

    def add(self, text: str) -> None:
        self.body.append(text)
        print(text, end="\n\n", flush=True)

    def target(self, name: str, goal: str, measured: str, met: bool | None) -> None:
        self.targets.append(Target(name, goal, measured, met))

    def markdown(self) -> str:
        parts = [f"## {self.title}", f"Command: `{self.command}`", *self.body]
        if self.targets:
            parts.append(table(["Target", "Goal", "Measured", "Verdict"],
                               [[t.name, t.goal, t.measured, t.verdict] for t in self.targets]))
        return "\n\n".join(parts)

    def save(self, name: str) -> None:
        OUT.mkdir(parents=True, exist_ok=True)
        payload = {"title": self.title, "command": self.command, "body": self.body,
                   "targets": [t.__dict__ for t in self.targets], "data": self.data}
        (OUT / f"{name}.json").write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")


def bench_main(doc: str, name: str, run: Callable[[argparse.Namespace], Section],
               options: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    """The `main()` of every bench script: `--quick` (and the script's own `options`), run, print the
    section, save it as bench/out/<name>.json for run_all.py and docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    if options is not None:
        options(parser)
    section = run(parser.parse_args())
    print(section.markdown())
    section.save(name)


def load_section(name: str) -> Section | None:
    path = OUT / f"{name}.json"
    if not path.is_file():
        return None
    payload = json.loads(path.read_text(encoding="utf-8"))
    section = Section(payload["title"], payload["command"], payload["body"], data=payload.get("data", {}))
    section.targets = [Target(**t) for t in payload["targets"]]
    return section


# -- machine ---------------------------------------------------------------------------------------

def machine() -> dict[str, str]:
    import torch
    import transformers

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "cpu": cpu, "nproc": str(os.cpu_count()), "ram": ram, "python": platform.python_version(),
        "os": platform.platform(), "torch": torch.__version__, "transformers": transformers.__version__,
        "torch threads": str(torch.get_num_threads()), "load average": load_average(),
    }


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


# -- text ------------------------------------------------------------------------------------------

def clean_text(path: Path) -> str:
    """A Project Gutenberg file as a writer's draft would look: header/footer gone, paragraphs unwrapped."""
    raw = path.read_text(encoding="utf-8-sig", errors="replace")
    from cw_desktop.ml.cleaning import clean

    return clean(raw)


def prose(path: Path = AUSTEN, skip_chars: int = 20_000) -> str:
    """Clean prose from the middle of a novel (past the title page and contents)."""
    return clean_text(path)[skip_chars:]


def text_with_tokens(tokenizer: Any, text: str, n_tokens: int) -> str:
    """The longest prefix of `text` (cut at a word end) that encodes to about `n_tokens` tokens."""
    ids = tokenizer.encode(text[: n_tokens * 8], add_special_tokens=False)[:n_tokens]
    prefix = tokenizer.decode(ids)
    return prefix[: prefix.rstrip().rfind(" ")] if " " in prefix else prefix


# -- models ----------------------------------------------------------------------------------------

def shared_paths() -> Any:
    from cw_desktop.core.paths import AppPaths

    return AppPaths.default(data=SHARED_DATA)


def load_bundled(**kwargs: Any) -> Any:
    """SmolLM2-135M, converted once into /tmp/cwd-shared (a conversion costs ~25 s)."""
    from cw_desktop.ml.loading import load_model

    return load_model("bundled", shared_paths(), **kwargs)


GPT2_SHAPE = dict(n_layer=12, n_head=12, n_embd=768, n_positions=1024)


def gpt2_124m_folder() -> Path:
    """A GPT-2-124M-shaped model with random weights and the bundled model's 49k-token tokenizer.

    Random weights are fine for speed; a 49,152-token vocabulary is close to GPT-2's 50,257, so the
    output projection costs the same. Built once and kept under bench/out/ (git-ignored).
    """
    folder = OUT / "gpt2-124m"
    if (folder / "config.json").is_file() and any(folder.glob("*.safetensors")):
        return folder
    from transformers import AutoTokenizer

    from cw_desktop.ml.loading import bundled_folder
    from cw_desktop.ml.tiny import build_gpt2

    load_bundled()  # make sure the conversion exists
    tokenizer = AutoTokenizer.from_pretrained(bundled_folder(shared_paths()), local_files_only=True)
    # GPT-2's own end-of-text convention, so the engine's document-start token is the eos.
    tokenizer.eos_token = "<|endoftext|>"
    tokenizer.bos_token = "<|endoftext|>"
    return build_gpt2(folder, tokenizer, **GPT2_SHAPE)


def load_gpt2_124m(**kwargs: Any) -> Any:
    from cw_desktop.ml.loading import load_model

    return load_model(str(gpt2_124m_folder()), shared_paths(), **kwargs)


MODELS: dict[str, Callable[..., Any]] = {"SmolLM2-135M (bundled)": load_bundled, "GPT-2-124M shape (random)": load_gpt2_124m}


# -- subprocesses ----------------------------------------------------------------------------------

def run_python(code: str, *, env: dict[str, str] | None = None, timeout: float = 1800) -> dict[str, Any]:
    """Run `code` in a fresh interpreter; it prints one JSON object as its last stdout line."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    done = subprocess.run([str(PYTHON), "-c", code], capture_output=True, text=True, env=full_env,
                          timeout=timeout, cwd=REPO)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark subprocess failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def header(title: str) -> None:
    print(f"\n=== {title} === (load average {load_average()})", flush=True)


# -- profiling (py-spy: a bench-only tool, `.venv/bin/pip install py-spy`) ----------------------

PY_SPY = REPO / ".venv" / "bin" / "py-spy"


def profile_python(code: str, *, top: int = 12, env: dict[str, str] | None = None,
                   timeout: float = 1800) -> str:
    """Run `code` in a fresh interpreter under py-spy; return a markdown summary of where time went
    (self time by function, and the project's own functions by inclusive time). "" without py-spy."""
    if not PY_SPY.exists():
        return ""
    import collections
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "profile.txt"
        script = Path(tmp) / "profiled.py"  # a file, not -c: the raw format puts the command line in frames
        script.write_text(code, encoding="utf-8")
        full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        subprocess.run([str(PY_SPY), "record", "--rate", "100", "--format", "raw", "--output", str(raw),
                        "--", str(PYTHON), str(script)],
                       capture_output=True, text=True, env=full_env, timeout=timeout, cwd=REPO)
        if not raw.is_file():
            return ""
        own: collections.Counter[str] = collections.Counter()
        inclusive: collections.Counter[str] = collections.Counter()
        total = 0
        for line in raw.read_text().splitlines():
            if not line.strip():
                continue
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            samples = int(count)
            total += samples
            frames = [f for f in stack.split(";") if f]
            if frames:
                own[_short_frame(frames[-1])] += samples
            for frame in {_short_frame(f) for f in frames if "cw_desktop/" in f}:
                inclusive[frame] += samples
    if not total:
        return ""
    rows = [[f"{n / total * 100:.1f}%", name] for name, n in own.most_common(top)]
    ours = [[f"{n / total * 100:.1f}%", name] for name, n in inclusive.most_common(top)]
    return (f"py-spy, {total} samples at 100 Hz. Self time (where the CPU was):\n\n"
            + table(["share", "function (file:line)"], rows)
            + "\n\nProject functions, inclusive time:\n\n" + table(["share", "function (file:line)"], ours))


def _short_frame(frame: str) -> str:
    """'func (/long/path/site-packages/pkg/mod.py:12)' -> 'func (pkg/mod.py:12)'."""
    for marker in ("site-packages/", "/work/main/", str(REPO) + "/"):
        if marker in frame:
            head, _, tail = frame.partition("(")
            return f"{head}({tail.split(marker, 1)[1]}" if marker in tail else frame
    return frame


# Peak memory of a benchmark subprocess. Not resource.getrusage(RUSAGE_SELF).ru_maxrss: Linux folds
# the forking parent's high-water mark into the child's across exec, so a child of a 1 GB
# benchmark driver "peaks" at 1 GB whatever it does. VmHWM belongs to the child's own address space.
PEAK_RSS_MB = ("(lambda: int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) / 1024)()")
