"""The suggestion engine: streaming, cancellable continuation of a draft with a reusable prefix cache.

One engine holds one loaded model and the key/value cache of the last context it read. A writer's
consecutive requests share almost all of their tokens (they typed a few characters), so each
request only runs the model over the tokens that changed:

    draft (text before the cursor)
      -> window: [doc start] + memory + lorebook + the last part of the draft that fits, with the
         author's note a few paragraphs before the cursor (ml/story_prompt.py)
      -> token healing: drop the last token, so "The sto" may continue as "storm" rather than
         being forced to start a new token after "sto"
      -> longest common prefix with the cached tokens; crop the cache there
      -> prefill only the new tokens, in chunks (cancellable), logits for the last position only
      -> decode token by token: streams text through on_token, checks should_stop every step

`Engine` is everything but the model calls, on numpy logits, and imports neither torch nor
transformers: the llama.cpp engine (ml/backends/llamacpp.py) runs in a process that never loads
them, which is what makes a warm start quick. The torch engine is `Generator` (ml/generation.py).
Everything here runs on a worker thread; nothing imports Qt.
"""

from __future__ import annotations

import bisect
import re
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from cw_desktop.core.generation_settings import PRESETS, GenerationSettings
from cw_desktop.core.story_context import StoryContext
from cw_desktop.core.training_manifest import learned_files
from cw_desktop.ml import forms
from cw_desktop.ml.decoding import decode_rows
from cw_desktop.ml.form_shaping import FormShaper, unfinished
from cw_desktop.ml.loading import LoadedModel
from cw_desktop.ml.memorisation import MemorisationIndex, load_index
from cw_desktop.ml.project_ngrams import ProjectFile, ProjectVocabulary
from cw_desktop.ml.rerank import rank_alternatives
from cw_desktop.ml.sampling import new_rng
from cw_desktop.ml.story_prompt import Prompt as _Prompt, TokenBudget, build_prompt
from cw_desktop.ml.suggestion import Suggestion

TokenCallback = Callable[[int, str], None]  # (alternative index, text of that alternative so far)
StopCheck = Callable[[], bool]

# "Write a piece" tries again (another seed) this often when junk ended a poem or dialogue too early.
WRITE_RETRIES = 2
# Prefill in chunks so a cancel lands within one chunk even on a long draft; the cache keeps what
# was computed, so the next request does not redo it.
PREFILL_CHUNK = 256
# When the draft outgrows the window, keep this share of the room, so the cut (and thus the cache)
# then survives many keystrokes instead of sliding one token per keystroke.
KEEP_AFTER_TRIM = 0.6


@dataclass
class _Stats:
    """What the last request cost; read by tests and benchmarks."""

    reused_tokens: int = 0
    prefilled_tokens: int = 0
    generated_tokens: int = 0
    first_token_s: float | None = None
    total_s: float = 0.0
    steps_after_stop: int = 0
    weighing: bool = False  # the ghost text's openings are still being weighed (ghost_choices > 1)


# -- the engine ------------------------------------------------------------------------------------


def reusable_prefix(cached: list[int], ids: list[int], keep: int) -> tuple[int, int]:
    """How many leading tokens of `ids` the cache already holds and may keep, and how many final
    positions to compute. At least `keep` tokens must run to produce logits for the last `keep`
    positions, so a request identical to the cache still recomputes its tail."""
    common = 0
    for a, b in zip(cached, ids):
        if a != b:
            break
        common += 1
    keep = max(1, min(keep, len(ids)))
    return min(common, len(ids) - keep), keep


@dataclass
class TokenTables:
    """What the engine looks up about a tokenizer's vocabulary, built once per tokenizer (~0.35 s
    for 49k tokens: a new engine on the same tokenizer, e.g. an adapter switch, reuses them, and the
    model process builds them while the window is still being drawn)."""

    strings: list[str]  # raw token strings by id ("Ġthe" for " the")
    doc_start_id: int
    special_ids: set[int]
    # The token strings in sorted order, and their ids: the tokens extending a prefix form one
    # contiguous run, found by bisection (token healing) instead of testing all 49k strings.
    sorted_strings: list[str]
    sorted_ids: np.ndarray
    special_mask: np.ndarray  # (V,) bool


_tables: "weakref.WeakKeyDictionary[Any, TokenTables]" = weakref.WeakKeyDictionary()
_tables_lock = threading.Lock()


def token_tables(tokenizer: Any) -> TokenTables:
    with _tables_lock:
        try:
            return _tables[tokenizer]
        except (KeyError, TypeError):
            pass
    # One get_vocab() call instead of 49k convert_ids_to_tokens lookups (0.15 vs 0.26 s).
    vocab = tokenizer.get_vocab()
    strings = [""] * len(tokenizer)
    for token, index in vocab.items():
        if 0 <= index < len(strings):
            strings[index] = token
    special_ids = set(tokenizer.all_special_ids)
    order = sorted(range(len(strings)), key=strings.__getitem__)
    special_mask = np.zeros(len(strings), dtype=bool)
    special_mask[[i for i in special_ids if i < len(strings)]] = True
    tables = TokenTables(strings, _doc_start(tokenizer, vocab), special_ids, [strings[i] for i in order],
                         np.array(order, dtype=np.int64), special_mask)
    with _tables_lock:
        try:
            _tables[tokenizer] = tables
        except TypeError:  # not weak-referenceable: built again for the next engine
            pass
    return tables


def _doc_start(tokenizer: Any, vocab: dict[str, int]) -> int:
    """The token that starts a fresh document in pretraining (GPT-2 and SmolLM2: <|endoftext|>)."""
    for token in ("<|endoftext|>", "</s>"):
        if token in vocab:
            return int(vocab[token])
    for candidate in (tokenizer.eos_token_id, tokenizer.bos_token_id):
        if candidate is not None:
            return int(candidate)
    return 0


class Engine:
    """Holds one model and the KV cache of the last context; used from one worker thread.

    Abstract: the model calls (the backend seam below) belong to a runtime's subclass."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.window = int(loaded.context_length)
        tables = token_tables(self.tokenizer)
        self._token_strings = tables.strings
        self._doc_start_id = tables.doc_start_id
        self._end_ids = self._pick_end_ids()
        self._special_ids = tables.special_ids
        self._sorted_strings = tables.sorted_strings
        self._sorted_ids = tables.sorted_ids
        self._special_mask = tables.special_mask
        self._heal_masks: dict[str, np.ndarray] = {}
        self._cache: Any = None
        self._cache_ids: list[int] = []
        self._anchor: tuple[int, str] | None = None  # (draft char offset of the window start, text there)
        self.last_stats = _Stats()
        self._junk_context = ""  # the draft's end, for the junk filter's quote and script checks
        self._dry_breakers: dict[tuple[str, ...], dict[int, bool]] = {}  # DRY: which tokens end a repeat
        self.filter_junk = True  # off while ml/rewrite.py runs: it cleans an instructed answer itself
        self.vocabulary: ProjectVocabulary | None = ProjectVocabulary()
        self.form_shaper: FormShaper | None = None  # set while write() makes a poem or a dialogue
        # A fine-tune's index of its training text: finished suggestions that repeat it get marked.
        self.memorisation: MemorisationIndex | None = load_index(getattr(loaded, "folder", None))

    # -- setup helpers ---------------------------------------------------------------------------
    def _pick_end_ids(self) -> set[int]:
        ends = {self._doc_start_id}
        if self.tokenizer.eos_token_id is not None:
            ends.add(int(self.tokenizer.eos_token_id))
        config_eos = getattr(self.model.config, "eos_token_id", None)
        for value in config_eos if isinstance(config_eos, list) else [config_eos]:
            if isinstance(value, int):
                ends.add(value)
        return ends

    def set_project_texts(self, texts: list[str]) -> None:
        """Index the writer's other texts (the document's folder) for the project vocabulary.
        Seconds for a novel-sized folder: call it from the worker thread when a project opens."""
        if self.vocabulary is not None:
            self.vocabulary.set_folder_ids([self._encode(text) for text in texts if text.strip()])

    def set_project_files(self, files: list[ProjectFile]) -> int:
        """set_project_texts for the folder's files, less those this model was fine-tuned on: it
        has learned their names and phrases, and counting them twice cost typing (a full fine-tune
        of Austen saved 13.2% with only the draft's n-grams, 12.1% with her folder's too,
        bench/keystrokes.py). Returns how many files were indexed."""
        learned = learned_files(getattr(self.loaded, "folder", None))
        kept = [file.text for file in files if file.sha256 not in learned]
        self.set_project_texts(kept)
        return len(kept)

    def reset(self) -> None:
        self._cache = None
        self._cache_ids = []
        self._anchor = None

    # -- tokens ----------------------------------------------------------------------------------
    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False)) if text else []

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def _heal_mask(self, heal_text: str) -> np.ndarray:
        """Boolean mask (V,) of tokens whose raw string extends `heal_text` (cached per prefix)."""
        mask = self._heal_masks.get(heal_text)
        if mask is None:
            first = bisect.bisect_left(self._sorted_strings, heal_text)
            # Every string starting with heal_text sorts below heal_text + the highest code point.
            end = bisect.bisect_left(self._sorted_strings, heal_text + "\U0010ffff", first)
            mask = np.zeros(len(self._token_strings), dtype=bool)
            mask[self._sorted_ids[first:end]] = True
            mask &= ~self._special_mask
            if len(self._heal_masks) > 256:
                self._heal_masks.clear()
            self._heal_masks[heal_text] = mask
        return mask

    def _trim_draft(self, draft: str, room: int) -> tuple[str, int, list[int] | None]:
        """The part of the draft that fits in `room` tokens, cut at a paragraph/sentence boundary,
        with its tokens when they were computed on the way (None otherwise).

        The cut point is remembered and reused while the text there is unchanged and still fits,
        so the cached prefix stays valid across keystrokes.
        """
        # Tokenising a whole novel on each keystroke is wasted work: no token is ever shorter than a
        # character, so `room * 8` characters is more than the window can hold for real prose.
        horizon = max(0, len(draft) - room * 8)
        if self._anchor is not None:
            offset, text = self._anchor
            if offset >= horizon and draft[offset:offset + len(text)] == text:
                tail = draft[offset:]
                ids = self._encode(tail)
                if len(ids) <= room:
                    return tail, offset, ids
        tail = draft[horizon:]
        ids = self._encode(tail)
        if len(ids) <= room and horizon == 0:
            self._anchor = None
            return draft, 0, ids
        # Keep the last KEEP_AFTER_TRIM share of the room, then move forward to a boundary.
        keep = int(room * KEEP_AFTER_TRIM)
        rough = horizon + len(self._decode(ids[:max(0, len(ids) - keep)]))
        offset = _next_boundary(draft, rough)
        self._anchor = (offset, draft[offset:offset + 64])
        return draft[offset:], offset, None

    def _build_prompt(self, context: str, settings: GenerationSettings, memory: StoryContext | str) -> _Prompt:
        return build_prompt(self, context, settings, memory)  # memory, lorebook, author's note: ml/story_prompt.py

    def budget(self, context: str, settings: GenerationSettings, memory: StoryContext | str = "") -> TokenBudget:
        return self._build_prompt(context, settings.validated(), memory).budget

    # -- the backend seam ------------------------------------------------------------------------
    # Every model call goes through these methods: a runtime (torch in ml/generation.py, llama.cpp
    # in ml/backends/llamacpp.py) overrides them and keeps the sampling, healing, stop rules and
    # logits hooks of this class. Logits are numpy float32 arrays.
    def _prefill(self, ids: list[int], should_stop: StopCheck | None, keep: int = 1) -> np.ndarray | None:
        """Bring the cache up to `ids`; return the logits of the last `keep` positions (1, keep, V),
        or None if cancelled."""
        raise NotImplementedError

    def _step(self, cache: Any, next_ids: np.ndarray) -> tuple[Any, np.ndarray]:
        """Feed one token per row (B,); return the grown cache and the next logits (B, V)."""
        raise NotImplementedError

    def _crop_cache(self, cache: Any, length: int) -> None:
        raise NotImplementedError

    def _cache_length(self, cache: Any) -> int:
        raise NotImplementedError

    def _keep_row(self, cache: Any, row: int) -> Any:
        """`cache` with only batch row `row` left (the ghost text's opening that was kept)."""
        raise NotImplementedError

    def _fork_cache(self) -> Any:
        """A copy of the prompt cache for the alternatives, taken before alternative 0 grows it."""
        raise NotImplementedError

    def _repeat_rows(self, spare: Any, length: int, rows: int) -> Any:
        """`spare` cut to the prompt's `length` and repeated for `rows` alternatives."""
        raise NotImplementedError

    def _decode_loop(self, logits: np.ndarray, cache: Any, prompt: _Prompt, settings: GenerationSettings,
                     first_index: int, on_token: TokenCallback | None, should_stop: StopCheck | None,
                     rng: np.random.Generator | None, started: float,
                     ahead: np.ndarray | None = None, branch: bool = False) -> list[Suggestion]:
        """Sample up to max_new_tokens for each row of `logits` (B, V), extending `cache` in place:
        the loop, with banned phrases and the DRY penalty, is ml/decoding.py."""
        rows = decode_rows(self, logits, cache, prompt, settings, first_index, on_token, should_stop, rng,
                           started, ahead, branch=branch)
        return [Suggestion(index=first_index + row, text=_tidy(result.text), tokens=result.tokens,
                           finish_reason=result.finish_reason, score=result.score) for row, result in enumerate(rows)]

    def suggest(self, context: str, settings: GenerationSettings, *, memory: str = "",
                story: StoryContext | None = None, on_token: TokenCallback | None = None,
                should_stop: StopCheck | None = None) -> list[Suggestion]:
        """Continue `context` (the draft before the cursor) under `story` (Memory, lorebook, author's
        note), or just `memory`; alternative 0 streams first."""
        settings = settings.validated()
        started = time.perf_counter()
        self.last_stats = _Stats()
        self._junk_context = context[-2000:]
        prompt = self._build_prompt(context, settings, story if story is not None else memory)
        if self.vocabulary is not None:
            self.vocabulary.set_draft_ids(prompt.ids)
        rng = new_rng(settings.seed)
        # Run the healed-away last token too (it costs next to nothing in the same forward pass):
        # its logits are ready if the first sample turns out to be that very token.
        speculative = prompt.heal_id is not None
        ids = prompt.ids + [prompt.heal_id] if speculative else prompt.ids
        kept = self._prefill(ids, should_stop, keep=2 if speculative else 1)
        if kept is None:
            self.last_stats.total_s = time.perf_counter() - started
            return [Suggestion(index=0, text="", tokens=0, finish_reason="cancelled")]
        ahead = kept[:, -1, :] if speculative and kept.shape[1] == 2 else None
        logits = kept[:, 0, :] if ahead is not None else kept[:, -1, :]  # (1, V)
        if speculative and ahead is None:  # a one-token prompt: no prediction to heal from
            self._crop_cache(self._cache, len(prompt.ids))
            self._cache_ids = self._cache_ids[:len(prompt.ids)]
        prompt_length = len(prompt.ids)
        # Alternatives 1.. sample in one batch from a copy of the prompt cache: on 2 idle cores a
        # step for 2 rows costs ~1.5x one row (SmolLM2, 500-token context: 83 vs 123 ms), cheaper
        # than decoding them one after another. Alternative 0 decodes alone first so its first
        # token reaches the writer as early as possible.
        spare = self._fork_cache() if settings.alternatives > 1 else None
        # Ghost text: greedy and unpenalised (bench/keystrokes.py: sampling at 0.8 saved 6.7% of the
        # typing, greedy 10.0%; a 1.15 repetition penalty on greedy cost 0.8 points).
        first = replace(settings, temperature=0.0, repetition_penalty=1.0) if settings.greedy_first else settings
        if settings.greedy_first and settings.ghost_choices > 1:
            results = self._choose_ghost(logits, prompt, first, on_token, should_stop, started)
        else:
            results = self._decode_loop(logits, self._cache, prompt, first, 0, on_token, should_stop, rng,
                                        started, ahead=ahead)
        # Forget generated tokens (the next context may not contain them), and the speculative
        # healed token, whose slot may now hold a different sampled token.
        self._crop_cache(self._cache, prompt_length)
        self._cache_ids = self._cache_ids[:prompt_length]
        if spare is not None and results[0].finish_reason != "cancelled":
            extra = settings.alternatives - 1
            spare = self._repeat_rows(spare, prompt_length, extra)
            rows = np.broadcast_to(logits, (extra, logits.shape[-1]))
            results += self._decode_loop(rows, spare, prompt, settings, 1, on_token, should_stop, rng, started)
            # The final list replaces what streamed (the GUI's set_alternatives), so reordering is safe.
            results = rank_alternatives(results)
        if self.memorisation is not None:  # once per finished suggestion, off the per-token path
            for result in results:
                result.copies = self.memorisation.copies(result.text, context)
        self.last_stats.total_s = time.perf_counter() - started
        return results

    def _choose_ghost(self, logits: np.ndarray, prompt: _Prompt, settings: GenerationSettings,
                      on_token: TokenCallback | None, should_stop: StopCheck | None,
                      started: float) -> list[Suggestion]:
        """The ghost text among greedy continuations of the `ghost_choices` best first tokens,
        decoded as one batch: the one expected to save the most typing (a likely long word beats a
        slightly likelier short one)."""
        count = settings.ghost_choices
        cache = self._repeat_rows(self._fork_cache(), len(prompt.ids), count)
        return self._decode_loop(np.broadcast_to(logits, (count, logits.shape[-1])), cache, prompt, settings, 0,
                                 on_token, should_stop, None, started, branch=True)

    @property
    def has_chat_template(self) -> bool:
        """Whether "Write a piece" asks this model for its form in its chat format (ml/forms.py)."""
        return bool(getattr(self.tokenizer, "chat_template", None))

    def write(self, prompt: str, settings: GenerationSettings, *, memory: str = "",
              on_token: TokenCallback | None = None, should_stop: StopCheck | None = None,
              form: str | None = None) -> Suggestion:
        """Long-form output (a poem, a scene, a story draft), streamed as one growing text.

        Runs in windows: when prompt + text reach the model's limit, the oldest part is dropped
        at a boundary and generation goes on from the rest. With a `form` and a model that has a
        chat template, the form is asked for in its instruction format (ml/forms.py), and decoding
        nudges it into lines and stanzas or speaker turns (ml/form_shaping.py).
        """
        # Long-form output samples: greedy decoding of hundreds of tokens loops.
        settings = replace(settings.validated(), alternatives=1, greedy_first=False)
        request = forms.chat_preamble(self.tokenizer, form, prompt.strip().strip("“\""), memory) if form else None
        memory = request if request is not None else memory
        self.form_shaper = FormShaper(form, self.tokenizer, self._end_ids, prompt) if form else None
        try:
            result = self._write_windows(prompt, settings, memory, on_token, should_stop)
            for attempt in range(1, WRITE_RETRIES + 1):  # junk at the start ended it: write it again
                shaper = self.form_shaper
                if not (shaper and result.finish_reason == "stop"
                        and unfinished(shaper.form, (prompt + result.text)[len(shaper.title):])):
                    break
                seed = None if settings.seed is None else settings.seed + attempt
                result = self._write_windows(prompt, replace(settings, seed=seed), memory, on_token, should_stop)
            return result
        finally:
            self.form_shaper = None  # ghost text is never shaped

    def _write_windows(self, prompt: str, settings: GenerationSettings, memory: str,
                       on_token: TokenCallback | None, should_stop: StopCheck | None) -> Suggestion:
        written = ""
        tokens = 0
        remaining = settings.max_new_tokens
        reason = "length"
        copies: str | None = None
        while remaining > 0:
            chunk_tokens = min(remaining, max(16, self.window // 4))
            step = replace(settings, max_new_tokens=chunk_tokens)
            base = prompt + written
            if self.form_shaper is not None:
                self.form_shaper.before = base

            def stream(_index: int, text: str, base_text: str = written) -> None:
                if on_token is not None:
                    on_token(0, base_text + text)

            result = self.suggest(base, step, memory=memory, on_token=stream, should_stop=should_stop)[0]
            written += result.text
            tokens += result.tokens
            copies = copies or result.copies
            remaining -= max(1, result.tokens)
            if result.finish_reason != "length":
                reason = result.finish_reason
                break
        return Suggestion(index=0, text=written, tokens=tokens, finish_reason=reason, copies=copies)


def _next_boundary(text: str, position: int) -> int:
    """The first paragraph start at or after `position`, else the first sentence start, else `position`."""
    window = text[position:position + 4000]
    paragraph = window.find("\n")
    if paragraph >= 0:
        return position + paragraph + 1
    sentence = re.search(r"[.!?…][\"'”’)]*\s+", window)
    if sentence:
        return position + sentence.end()
    return position


def _tidy(text: str) -> str:
    """Drop a trailing half-character and trailing spaces that would dangle after the cursor."""
    return text.rstrip("\ufffd").rstrip(" \t")


# -- creative output -------------------------------------------------------------------------------

FORMS: dict[str, tuple[str, str, int]] = {
    # form: (template, preset, max new tokens). Written as the start of a document of that kind, which
    # is how a base model (or a lightly tuned one) is best steered without chat instructions.
    "poem": ("{title}\n\n", "poetry", 160),
    "dialogue": ("{title}\n\n", "dialogue", 320),
    "story": ("{title}\n\n", "prose", 480),
}


def form_prompt(form: str, title_or_first_line: str, *, chat: bool = False) -> tuple[str, GenerationSettings]:
    """The prompt and settings for writing a new piece of `form` from a title or first line.

    chat: the piece will be asked for in the model's chat format (Generator.write with a form, for a
    model with a chat template), so the prompt is the plain title, not a document-style opening."""
    if form not in FORMS:
        raise ValueError(f"Unknown form {form!r}; choose one of {', '.join(FORMS)}")
    template, preset_name, length = FORMS[form]
    seed_text = title_or_first_line.strip()
    is_first_line = len(seed_text.split()) > 6 or seed_text.endswith((",", ".", ";", ":", "—"))
    if is_first_line:
        prompt = seed_text + ("\n" if form == "poem" else " ")
    else:
        heading = seed_text.upper() if form == "dialogue" and not chat else seed_text
        prompt = template.format(title=heading)
    settings = replace(PRESETS[preset_name], max_new_tokens=length, stop="none")
    if form == "dialogue" and not is_first_line and not chat:
        prompt += "“"  # a document-framed dialogue starts with a speech
    return prompt, settings


