"""1c. What the lorebook and the author's note cost in first-token latency while typing.

The same typing pauses as benchmark 1 (2-8 characters of the novel's next words, then a request),
on a 1,000-token draft, with the story context:
  - none (Memory empty, as benchmark 1);
  - 10 lorebook entries active (keyed on names in the last 2,000 characters, ~30 tokens each,
    so ~300 tokens of lore in front of the draft);
  - an author's note 3 paragraphs before the cursor;
  - both.
Plus the author's note's own cost: a pause right after the writer starts a new paragraph moves the
note, so the paragraphs after its old place run again (with no note, only the new text runs).
Each backend the editor can use is measured (llama.cpp when installed, and torch).

    .venv/bin/python bench/story_latency.py [--quick] [--backend torch|llamacpp|both]
"""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any

import common
from common import Section, median, ms, p90, table
from latency import typing_steps

DRAFT_TOKENS = 1000
MAX_NEW = 24
NOTE = "Style: formal, ironic; Regency dialogue"


def suggestion_settings() -> Any:
    from cw_desktop.ml.generation import GenerationSettings

    return GenerationSettings(max_new_tokens=MAX_NEW, stop="none", alternatives=1, seed=0)


def lore_entries(draft: str, count: int = 10) -> list[Any]:
    """`count` entries keyed on the capitalised words that occur most in the draft's last 2,000
    characters: all of them fire, as a writer's character and place entries would."""
    from cw_desktop.core.story_context import LoreEntry

    words = Counter(re.findall(r"\b[A-Z][a-z]{3,}\b", draft[-2000:]))
    names = [word for word, _ in words.most_common(count)]
    if len(names) < count:
        raise RuntimeError(f"only {len(names)} names in the draft's end to key lorebook entries on")
    return [LoreEntry(name=name, keys=[name], priority=index % 3,
                      text=f"{name}: someone or something the story keeps returning to, described in a sentence "
                           "or two so that the model knows who or what it is when it comes up.")
            for index, name in enumerate(names)]


def stories(draft: str) -> dict[str, Any]:
    from cw_desktop.core.story_context import StoryContext

    entries = lore_entries(draft)
    return {"none": StoryContext(), "10 lorebook entries": StoryContext(lorebook=entries),
            "author's note (depth 3)": StoryContext(authors_note=NOTE),
            "both": StoryContext(authors_note=NOTE, lorebook=entries)}


def engine(loaded: Any) -> Any:
    from cw_desktop.ml.backends import make_generator

    return make_generator(loaded)


def timed(generator: Any, draft: str, settings: Any, story: Any) -> float:
    first: list[float] = []

    def on_token(_index: int, _text: str) -> None:
        if not first:
            first.append(time.perf_counter())

    started = time.perf_counter()
    # Only the first token is timed: stop there (the engine drops generated tokens from its cache
    # anyway), so a pause costs one prefill and one step instead of a whole suggestion.
    generator.suggest(draft, settings, story=story, on_token=on_token, should_stop=lambda: bool(first))
    return (first[0] if first else time.perf_counter()) - started


def typing_run(loaded: Any, draft: str, steps: list[str], configurations: dict[str, Any]) -> dict[str, Any]:
    """First-token times and tokens run per pause for each story context, and the window budget of
    the opening request. The contexts take turns at every pause (one engine and cache each, the
    order rotating), so a load spike from the shared machine hits them all alike."""
    settings = suggestion_settings()
    engines = {name: engine(loaded) for name in configurations}
    results: dict[str, Any] = {}
    for name, story in configurations.items():
        engines[name].suggest(draft, settings, story=story)  # opening the document: the one full prefill
        results[name] = {"first": [], "prefilled": [], "budget": engines[name].budget(draft, settings, story)}
    names = list(configurations)
    for number, chunk in enumerate(steps):
        draft += chunk
        for name in names[number % len(names):] + names[:number % len(names)]:
            results[name]["first"].append(timed(engines[name], draft, settings, configurations[name]))
            results[name]["prefilled"].append(engines[name].last_stats.prefilled_tokens)
    return results


def new_paragraph_run(loaded: Any, draft: str, pauses: int, story: Any) -> tuple[list[float], list[int]]:
    """Pauses right after Enter and a first word: each one moves the author's note."""
    settings = suggestion_settings()
    generator = engine(loaded)
    firsts, prefilled = [], []
    for number in range(pauses):
        draft += f" The end of paragraph {number}."
        generator.suggest(draft, settings, story=story)  # the writer paused at the paragraph's end
        draft += "\n\nThen"
        firsts.append(timed(generator, draft, settings, story))
        prefilled.append(generator.last_stats.prefilled_tokens)
    return firsts, prefilled


def measure(backend: str, pauses: int, section: Section) -> dict[str, Any]:
    from cw_desktop.ml.backends.selection import load_for_inference

    loaded = load_for_inference("bundled", common.shared_paths(), backend=backend)
    if backend == "llamacpp" and loaded.backend != "llamacpp":
        section.add(f"llama.cpp skipped: {loaded.backend_note}")
        return {}
    text = common.prose()
    draft = common.text_with_tokens(loaded.tokenizer, text, DRAFT_TOKENS)
    steps = typing_steps(text[len(draft):], pauses, seed=DRAFT_TOKENS)
    rows, raw = [], {}
    results = typing_run(loaded, draft, steps, stories(draft))
    baseline = median(results["none"]["first"])
    for name, result in results.items():
        firsts, prefilled, budget = result["first"], result["prefilled"], result["budget"]
        raw[name] = {"first": firsts, "prefilled": prefilled}
        rows.append([name, budget.lorebook, budget.authors_note, ms(median(firsts)), ms(p90(firsts)),
                     f"{median(firsts) / baseline - 1:+.0%}", f"{median(prefilled):.0f}"])
        print(f"  {backend} {name}: first {ms(median(firsts))} (p90 {ms(p90(firsts))})", flush=True)
    for name in ("none", "author's note (depth 3)"):
        story = stories(draft)[name]
        firsts, prefilled = new_paragraph_run(loaded, draft, max(3, pauses // 2), story)
        raw[f"new paragraph, {name}"] = {"first": firsts, "prefilled": prefilled}
        rows.append([f"after Enter, {name}", "", "", ms(median(firsts)), ms(p90(firsts)),
                     f"{median(firsts) / baseline - 1:+.0%}", f"{median(prefilled):.0f}"])
        print(f"  {backend} after Enter, {name}: first {ms(median(firsts))}", flush=True)
    section.add(f"**{backend}** ({loaded.display_name}), {DRAFT_TOKENS}-token draft, {len(steps)} pauses, "
                f"{MAX_NEW} new tokens, alternatives=1:\n\n" + table(
        ["story context", "lorebook tokens", "note tokens", "first token median", "p90", "vs none",
         "tokens run per pause"], rows))
    return raw


def run(quick: bool = False, backends: str = "both") -> Section:
    common.header("story latency")
    pauses = 6 if quick else 12
    section = Section("1c. Lorebook and author's note: first-token latency",
                      f".venv/bin/python bench/story_latency.py{' --quick' if quick else ''}")
    section.add("Benchmark 1's typing pauses on a 1,000-token draft of Pride and Prejudice, with and without the "
                "story context. *vs none*: change of the median first-token time against no story context. "
                "*after Enter*: the pause right after a new paragraph starts, when the author's note moves.")
    chosen = ["llamacpp", "torch"] if backends == "both" else [backends]
    for backend in chosen:
        raw = measure(backend, pauses, section)
        section.data[backend] = raw
        if raw:
            none, both = median(raw["none"]["first"]), median(raw["both"]["first"])
            section.target(f"first token, 10 entries + note ({backend})", "<= 150 ms", ms(both), both <= 0.150)
            section.target(f"first token, 10 entries + note vs none ({backend})", "<= +10%",
                           f"{both / none - 1:+.0%}", both <= none * 1.10)
    return section


def main() -> None:
    common.bench_main(__doc__, "story_latency", lambda args: run(args.quick, args.backend),
                      lambda parser: parser.add_argument("--backend", choices=["torch", "llamacpp", "both"],
                                                         default="both"))


if __name__ == "__main__":
    main()
