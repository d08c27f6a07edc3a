"""11. Memorisation guard: index build time and size per million training words, and the lookup cost
per finished suggestion, on a real writer's folder (Austen), against a one-chapter index in the same run.

    .venv/bin/python bench/memorisation.py [--quick]
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

import common
from common import Section, median, percentile, table

from cw_desktop.ml import dataset as ds
from cw_desktop.ml.corpus import load_corpus
from cw_desktop.ml.memorisation import INDEX_FILE, SOURCES_FILE, MemorisationIndex

FOLDER = common.WRITERS / "austen"
TARGET_US = 5000.0


def _queries(units: list[ds.Unit], count: int, seed: int) -> list[tuple[str, str]]:
    """(draft end, suggestion) pairs cut from `units`: ~600 characters of draft, then 8-30 words."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        words = rng.choice(units).text.split()
        if len(words) < 200:
            continue
        at = rng.randrange(120, len(words) - 40)
        pairs.append((" ".join(words[at - 110:at]), " " + " ".join(words[at:at + rng.randint(8, 30)])))
    return pairs


def _time_lookups(index: MemorisationIndex, pairs: list[tuple[str, str]]) -> tuple[list[float], list[float], int]:
    """Wall-clock and CPU microseconds per lookup (on a shared 2-core machine the wall-clock tail is
    mostly time the thread waited for a core), and how many were flagged."""
    times, cpu, flagged = [], [], 0
    for draft, suggestion in pairs:
        started, started_cpu = time.perf_counter(), time.thread_time()
        match = index.find_copy(suggestion, draft)
        times.append((time.perf_counter() - started) * 1e6)
        cpu.append((time.thread_time() - started_cpu) * 1e6)
        flagged += match is not None
    return times, cpu, flagged


def run(quick: bool = False) -> Section:
    common.header("memorisation")
    section = Section("11. Memorisation guard", f".venv/bin/python bench/memorisation.py{' --quick' if quick else ''}")
    corpus = load_corpus(FOLDER)
    split = ds.split_units(ds.document_units(corpus.documents), source=str(FOLDER))
    builds = []
    for _ in range(1 if quick else 3):
        started = time.perf_counter()
        index = MemorisationIndex.build(split.train)
        builds.append(time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as tmp:
        index.save(Path(tmp))
        disk = sum((Path(tmp) / name).stat().st_size for name in (INDEX_FILE, SOURCES_FILE))
        started = time.perf_counter()
        MemorisationIndex.load(Path(tmp))
        load_s = time.perf_counter() - started
    millions = index.words / 1e6
    section.add(f"`{FOLDER.name}`: {len(split.train)} training chapters, {index.words:,} training words, "
                f"{index.hashes.size:,} distinct 12-word runs, {len(index.names)} sources.\n\n" + table(
                    ["build (median)", "build per M words", "in memory", "on disk", "disk per M words", "load"],
                    [[f"{median(builds):.2f} s", f"{median(builds) / millions:.2f} s",
                      f"{index.size_bytes / 2**20:.1f} MiB", f"{disk / 2**20:.1f} MiB",
                      f"{disk / 2**20 / millions:.1f} MiB", f"{load_s * 1000:.0f} ms"]]))
    count = 300 if quick else 2000
    small = MemorisationIndex.build(split.train[:1])
    novel = _queries(split.eval, count, 1)  # held-out text: what an original suggestion looks like
    copied = _queries(split.train, count, 2)  # verbatim training text
    rows, data = [], {}
    for name, idx, pairs in (("one-chapter index (baseline)", small, novel),
                             ("whole folder, held-out text", index, novel),
                             ("whole folder, copied text", index, copied)):
        _time_lookups(idx, pairs[:50])  # warm the word-hash cache as the editor's first minutes do
        times, cpu, flagged = _time_lookups(idx, pairs)
        data[name] = {"median_us": median(times), "p99_us": percentile(times, 0.99), "max_us": max(times),
                      "cpu_median_us": median(cpu), "cpu_max_us": max(cpu), "flagged": flagged, "queries": len(pairs)}
        rows.append([name, len(pairs), f"{median(times):.0f} µs", f"{percentile(times, 0.99):.0f} µs",
                     f"{max(times):.0f} µs", f"{median(cpu):.0f} / {max(cpu):.0f} µs", f"{flagged}/{len(pairs)}"])
    section.add("Lookup per finished suggestion (draft end of ~110 words + a suggestion of 8-30 words), "
                "`MemorisationIndex.find_copy`:\n\n"
                + table(["index, queries", "n", "median", "p99", "max", "CPU median / max", "flagged as copies"], rows)
                + f"\n\nLoad average at the start: {common.load_average()}.")
    full, base = data["whole folder, held-out text"], data["one-chapter index (baseline)"]
    # The verdict is on CPU time: the wall-clock tail is the shared machine (the one-chapter index,
    # which does almost nothing, has the same tail in the same run).
    section.target("lookup per suggestion", "< 5 ms", f"{full['median_us']:.0f} µs median, "
                   f"{full['cpu_max_us']:.0f} µs max CPU; wall p99 {full['p99_us']:.0f} µs (baseline's {base['p99_us']:.0f} µs)",
                   full["cpu_max_us"] < TARGET_US)
    copied_share = data["whole folder, copied text"]["flagged"] / max(1, data["whole folder, copied text"]["queries"])
    section.target("verbatim training text flagged", "100%", f"{copied_share:.1%}", copied_share == 1.0)
    false = full["flagged"]
    section.target("held-out text flagged (false positives)", "0", f"{false}/{full['queries']}", false == 0)
    section.data = {"build_s": builds, "words": index.words, "disk_bytes": disk, "lookups": data}
    return section


def main() -> None:
    common.bench_main(__doc__, "memorisation", lambda args: run(args.quick))


if __name__ == "__main__":
    main()
