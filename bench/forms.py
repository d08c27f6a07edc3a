"""10. Forms: does "Write a piece" give a poem in lines, a dialogue in turns, a story in prose?

For each form and a few titles, the engine writes a piece (Generator.write, the form's preset,
fixed seeds) framed two ways: as the start of a document (the plain framing, before) and, for a
model with a chat template, as a request in its instruction format (ml/forms.py). Each piece is
checked by ml/forms.py's FORM_CHECKS (poem: >= 4 lines, 90% under 70 characters; dialogue: >= 2
speakers, turns change hands >= 2 times; story: sentences in prose-length lines).

    .venv/bin/python bench/forms.py [--quick] [--seeds N]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import common
from common import Section, table

TITLES = ("The Lighthouse", "A Letter from Bath", "Winter Orchard", "The Last Coach to Dover")
TOKENS = {"poem": 120, "dialogue": 160, "story": 160}


def run(quick: bool = False, seeds: int = 1, framings: tuple[str, ...] = ("document", "chat"),
        only: tuple[str, ...] = ()) -> Section:
    from cw_desktop.ml.forms import FORM_CHECKS
    from cw_desktop.ml.generation import Generator, form_prompt

    common.header("forms")
    loaded = common.load_bundled()
    engine = Generator(loaded)
    titles = TITLES[:2] if quick else TITLES
    section = Section("10. Forms of \"Write a piece\"", ".venv/bin/python bench/forms.py")
    rows, examples, data = [], [], {}
    for form, check in FORM_CHECKS.items():
        if only and form not in only:
            continue
        for framing in framings:
            passed = total = 0
            for title in titles:
                for seed in range(seeds):
                    prompt, settings = form_prompt(form, title, chat=framing == "chat")
                    settings = replace(settings, max_new_tokens=TOKENS[form], seed=seed)
                    text = engine.write(prompt, settings, form=form if framing == "chat" else None).text
                    # The piece without its title line (a short line either way), with an opening
                    # the prompt gave (a quotation mark, a speaker label).
                    piece = prompt.split("\n\n", 1)[-1] + text
                    total += 1
                    passed += check(piece)
                    if seed == 0 and title == titles[0]:
                        examples.append(f"**{form}, {framing} framing** ({'passes' if check(piece) else 'fails'}):"
                                        f"\n\n```\n{(prompt + text).strip()[:600]}\n```")
            data[f"{form}/{framing}"] = passed / total
            rows.append([form, framing, f"{passed}/{total}", f"{passed / total * 100:.0f}%"])
            print(table(["form", "framing", "pass", "rate"], rows[-1:]), flush=True)
    section.add(f"Model {loaded.display_name}; {len(titles)} titles x {seeds} seed(s) per form; pieces of "
                + ", ".join(f"{form} {tokens}" for form, tokens in TOKENS.items()) + " tokens.")
    section.add(table(["form", "framing", "pass", "rate"], rows))
    for example in examples:
        section.add(example)
    section.data = data
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--framings", default="document,chat")
    parser.add_argument("--forms", default="", help="comma-separated: poem,dialogue,story (default all)")
    args = parser.parse_args()
    section = run(args.quick, args.seeds, tuple(args.framings.split(",")), tuple(filter(None, args.forms.split(","))))
    section.save("forms" if not args.forms else "forms_partial")


if __name__ == "__main__":
    main()
