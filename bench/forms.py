"""10. Forms: does "Write a piece" give a poem in lines, a dialogue in turns, a story in prose?

For each form and 24 titles or first lines (none of them in the tests), the engine writes a piece
(Generator.write, the form's preset, one fixed seed per title) framed as a request in the model's
chat format when it has one ("chat", ml/forms.py), or as the start of a document ("document", how
a plain fine-tune is asked). Decoding shapes poems and dialogues (ml/form_shaping.py); --unshaped
measures without it (the levers' before). Each piece is checked by ml/forms.py's FORM_CHECKS (poem:
>= 4 lines, 90% under 70 characters; dialogue: >= 2 speakers, turns change hands >= 2 times;
story: sentences in prose-length lines). Target: >= 90% of poem and dialogue pieces pass.

    .venv/bin/python bench/forms.py [--quick] [--forms poem,dialogue] [--framings chat] [--unshaped]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import common
from common import Section, table

TITLES = ("Winter Orchard", "Salt and Iron", "The Miller's Daughter", "Night Train to Vienna", "What the River Said",
          "The Glass Harvest", "Rooks at Evening", "A Quarrel over Tea", "The Empty Chair", "Harbour Lights",
          "The Stranger at the Inn", "First Snow", "The Clockmaker's Apprentice", "Lanterns in the Fog",
          "After the Funeral", "The Widow's Garden", "Morning on the Moor", "A Debt Repaid", "The Letter Never Sent",
          "Two Sisters",
          "The bells of the old church rang out across the frozen fields,",
          "She had kept his letters in a tin box beneath the stairs.",
          "When the tide went out, the whole bay turned to silver.",
          "Nobody in the village remembered who had planted the yew.")
TOKENS = {"poem": 120, "dialogue": 160, "story": 160}
TARGET = 0.9  # share of poem and dialogue pieces that must look like their form (issue 10)


def run(quick: bool = False, seeds: int = 1, framings: tuple[str, ...] = ("chat",),
        only: tuple[str, ...] = ("poem", "dialogue"), shaped: bool = True, backend: str = "auto") -> Section:
    from cw_desktop.ml import form_shaping, forms
    from cw_desktop.ml.backends import make_generator
    from cw_desktop.ml.backends.selection import load_for_inference
    from cw_desktop.ml.forms import FORM_CHECKS
    from cw_desktop.ml.generation import form_prompt

    common.header("forms")
    loaded = load_for_inference("bundled", common.shared_paths(), backend=backend)
    engine = make_generator(loaded)
    if not shaped:  # the levers off: no form-aware decoding, no one-shot example
        form_shaping.FormShaper.shape = lambda self, scores, generated: scores  # type: ignore[method-assign]
        forms.EXAMPLES.clear()
    titles = TITLES[:8] if quick else TITLES
    section = Section("10. Forms of \"Write a piece\"", ".venv/bin/python bench/forms.py")
    rows, examples, data = [], [], {}
    for form, check in FORM_CHECKS.items():
        if only and form not in only:
            continue
        for framing in framings:
            # The document framing is how a model without a chat template (a plain fine-tune) is asked:
            # hide the bundled model's template, or write() would still send the chat request.
            template = engine.tokenizer.chat_template
            engine.tokenizer.chat_template = template if framing == "chat" else None
            passed = total = 0
            for index, title in enumerate(titles):
                for seed in range(seeds):
                    prompt, settings = form_prompt(form, title, chat=framing == "chat")
                    settings = replace(settings, max_new_tokens=TOKENS[form], seed=index * seeds + seed)
                    text = engine.write(prompt, settings, form=form).text
                    # The piece without its title line (a short line either way), with an opening
                    # the prompt gave (a quotation mark).
                    piece = prompt.split("\n\n", 1)[-1] + text
                    total += 1
                    passed += check(piece)
                    if seed == 0 and index in (0, len(titles) - 1):
                        examples.append(f"**{form}, {framing} framing, {title!r}** "
                                        f"({'passes' if check(piece) else 'fails'}):"
                                        f"\n\n```\n{(prompt + text).strip()[:600]}\n```")
            engine.tokenizer.chat_template = template
            rate = passed / total
            data[f"{form}/{framing}"] = rate
            rows.append([form, framing, f"{passed}/{total}", f"{rate * 100:.0f}%"])
            print(table(["form", "framing", "pass", "rate"], rows[-1:]), flush=True)
            if form in ("poem", "dialogue"):
                section.target(f"{form} pieces look like a {form} ({framing} framing{'' if shaped else ', unshaped'})",
                               f">= {TARGET:.0%}", f"{rate:.0%} ({passed}/{total})", rate >= TARGET)
    section.add(f"Model {loaded.display_name} on {loaded.backend}; {len(titles)} titles/first lines x {seeds} seed(s) "
                f"per form; {'shaped' if shaped else 'unshaped, no one-shot example'}; pieces of at most "
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
    parser.add_argument("--framings", default="chat", help="comma-separated: chat,document")
    parser.add_argument("--forms", default="poem,dialogue", help="comma-separated: poem,dialogue,story")
    parser.add_argument("--unshaped", action="store_true", help="without form-aware decoding and the example")
    parser.add_argument("--backend", default="auto", choices=("auto", "torch", "llamacpp"))
    args = parser.parse_args()
    section = run(args.quick, args.seeds, tuple(args.framings.split(",")), tuple(filter(None, args.forms.split(","))),
                  shaped=not args.unshaped, backend=args.backend)
    section.save("forms" if not args.unshaped and not args.quick else "forms_partial")


if __name__ == "__main__":
    main()
