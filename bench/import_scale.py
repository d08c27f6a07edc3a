"""6. Import scale: scan + extract + clean + deduplicate the whole shared writers corpus (62 MB of raw
Project Gutenberg files) with cw_desktop.ml.corpus.load_corpus, the function the CLI `scan` and the
fine-tune dialog call.

Baseline in the same run: just reading and decoding every file (the I/O floor). Each measurement
runs in a fresh process (median of several runs), which also gives the peak memory (max RSS).

    .venv/bin/python bench/import_scale.py [--quick] [--runs N] [--profile]
"""

from __future__ import annotations

import argparse
import json

import common
from common import Section, median, table

TARGET_S = 60.0

LOAD = """
import json, resource, time
from pathlib import Path
from cw_desktop.ml.corpus import load_corpus
started = time.perf_counter()
corpus = load_corpus(Path({folder!r}))
seconds = time.perf_counter() - started
used = [f for f in corpus.files if f.status == "used"]
print(json.dumps({{"seconds": seconds, "files": len(corpus.files), "used": len(used),
                  "skipped": len(corpus.files) - len(used), "words": corpus.words,
                  "documents": len(corpus.documents),
                  "rss_mb": {peak}}}))
"""

READ = """
import json, os, resource, time
started = time.perf_counter()
size = 0
for root, _dirs, files in os.walk({folder!r}):
    for name in files:
        data = open(os.path.join(root, name), "rb").read()
        size += len(data)
        data.decode("utf-8", errors="replace")
print(json.dumps({{"seconds": time.perf_counter() - started, "bytes": size,
                  "rss_mb": {peak}}}))
"""


def run(quick: bool = False, runs: int | None = None, profile: bool | None = None) -> Section:
    common.header("import scale")
    runs = runs or (1 if quick else 2)
    folder = str(common.WRITERS)
    section = Section("6. Import scale", f".venv/bin/python bench/import_scale.py{' --quick' if quick else ''}")
    reads = [common.run_python(READ.format(folder=folder, peak=common.PEAK_RSS_MB)) for _ in range(runs)]
    loads = [common.run_python(LOAD.format(folder=folder, peak=common.PEAK_RSS_MB)) for _ in range(runs)]
    megabytes = reads[0]["bytes"] / 1e6
    seconds = median([r["seconds"] for r in loads])
    floor = median([r["seconds"] for r in reads])
    last = loads[-1]
    section.add(f"`load_corpus({common.WRITERS})`: {last['files']} files ({megabytes:.1f} MB), "
                f"{last['used']} used, {last['skipped']} skipped, {last['words']:,} words after cleaning; "
                f"median of {runs} fresh-process runs:\n\n" + table(
        ["", "seconds", "MB/s", "peak RSS"],
        [["read + decode only (I/O floor)", f"{floor:.2f}", f"{megabytes / floor:.0f}",
          f"{median([r['rss_mb'] for r in reads]):.0f} MB"],
         ["load_corpus: scan + extract + clean + dedupe", f"{seconds:.1f}", f"{megabytes / seconds:.1f}",
          f"{median([r['rss_mb'] for r in loads]):.0f} MB"]]))
    section.data.update({"reads": reads, "loads": loads, "megabytes": megabytes})
    section.target("scan + clean of the writers corpus", f"< {TARGET_S:.0f} s",
                   f"{seconds:.1f} s ({megabytes / seconds:.1f} MB/s)", seconds < TARGET_S)
    if profile or (profile is None and seconds >= TARGET_S):
        summary = common.profile_python(LOAD.format(folder=folder, peak=common.PEAK_RSS_MB))
        if summary:
            section.add("Profile of one `load_corpus` run (corpus engineer's code; measured, not changed "
                        "here):\n\n" + summary)
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--profile", action="store_true", default=None)
    args = parser.parse_args()
    section = run(args.quick, args.runs, args.profile)
    print(section.markdown())
    section.save("import_scale")


if __name__ == "__main__":
    main()
