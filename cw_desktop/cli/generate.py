"""`cw-desktop generate`: continue a prompt from the command line with the same engine as the editor."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cw_desktop.cli import ProgressBar, fail
from cw_desktop.core.paths import AppPaths


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("generate", help="continue a text with the model and print the continuation")
    parser.add_argument("prompt", help="the text to continue; '-' reads it from standard input")
    parser.add_argument("--model", default=None, help="bundled (default), a catalog/hub id, or a model folder")
    parser.add_argument("--preset", choices=["prose", "poetry", "dialogue"], default="prose")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="length of the continuation in tokens")
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--seed", type=int, default=None, help="fix the random choices for a repeatable result")
    parser.add_argument("--alternatives", type=int, default=1, help="print this many different continuations")
    parser.add_argument("--stop", choices=["none", "sentence", "line", "paragraph", "turn"], default=None,
                        help="where to end (default: the preset's rule for a suggestion; 'none' with --long)")
    parser.add_argument("--memory-file", type=Path, default=None,
                        help="style notes / characters put in front of the prompt (UTF-8 text file)")
    parser.add_argument("--long", action="store_true", help="write a longer passage (default 200 tokens) instead of a suggestion")
    parser.add_argument("--quantize", action="store_true", help="int8 dynamic quantisation (faster decoding on a CPU)")
    parser.add_argument("--backend", choices=["auto", "torch", "llamacpp"], default=None,
                        help="inference runtime (default: the settings' inference_backend, normally auto)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    memory = ""
    if args.memory_file is not None:
        try:
            memory = args.memory_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return fail(f"cannot read memory file {args.memory_file}: {exc}")

    from cw_desktop.core.generation_settings import preset  # not ml.generation: that imports torch
    from cw_desktop.core.settings import Settings
    from cw_desktop.ml.backends import make_generator
    from cw_desktop.ml.backends.selection import load_for_inference
    from cw_desktop.ml.loading import ModelLoadError

    model_settings = Settings.load(paths.settings_file).model
    spec = args.model or model_settings.spec
    bar = ProgressBar("model ")
    try:
        loaded = load_for_inference(spec, paths, on_progress=bar.update, quantize=args.quantize,
                                    backend=args.backend or model_settings.inference_backend)
    except ModelLoadError as exc:
        bar.close()
        return fail(str(exc))
    bar.close()

    overrides: dict[str, object] = {"alternatives": max(1, args.alternatives)}
    for name in ("max_new_tokens", "temperature", "top_p", "seed", "stop"):
        value = getattr(args, name)
        if value is not None:
            overrides[name] = value
    if args.long:
        overrides.setdefault("max_new_tokens", 200)
        overrides.setdefault("stop", "none")
    settings = preset(args.preset, **overrides)
    generator = make_generator(loaded)

    if settings.alternatives == 1:
        printed = [0]

        def stream(_index: int, text: str) -> None:
            # Print only the new characters: the engine reports the whole text so far.
            sys.stdout.write(text[printed[0]:])
            sys.stdout.flush()
            printed[0] = len(text)

        result = generator.suggest(prompt, settings, memory=memory, on_token=stream)[0]
        sys.stdout.write(result.text[printed[0]:] + "\n")
        return 0
    for suggestion in generator.suggest(prompt, settings, memory=memory):
        print(f"[{suggestion.index + 1}]{suggestion.text}")
    return 0
