"""The token-by-token decoding loop shared by every backend (torch and llama.cpp).

Rows (alternative 0 alone, or alternatives 1.. in one batch) are sampled in lockstep: the model's
cache holds the same number of positions for every row. Each step applies the logits hooks (project
vocabulary, token healing, repetition and DRY penalties, tokens banned at this position), samples,
and then checks each row's text for a banned phrase (ml/constraints.py).

A banned phrase is often only recognisable several tokens after it began ("Sud" + "den" + "ly").
Then the row is rolled back: the cache is cut to the position of the token where the phrase
started, that token is banned at that position, and decoding resumes from the logits kept for it.
Other rows of the batch replay their own tokens over the cut positions (their choices stand), so
the batch stays in lockstep. After MAX_ROLLBACKS for one row, or a phrase too long to roll back,
the row simply ends before the phrase: a banned phrase is never shown either way.
"""

from __future__ import annotations

import bisect
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from cw_desktop.core.generation_settings import GenerationSettings
from cw_desktop.ml import junk
from cw_desktop.ml.constraints import BannedPhrases, DryPenalty, banned_phrases
from cw_desktop.ml.keystrokes import expected_typing_saved
from cw_desktop.ml.project_ngrams import MAX_ORDER
from cw_desktop.ml.sampling import apply_repetition_penalty, log_softmax, sample_next, stop_index

_BREAKS = re.compile("\r\n?|[\u2028\u2029\x0b\x0c\x85]")
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")

REPETITION_WINDOW = 64  # recent tokens the repetition penalty looks at
# Tokens each opening of the ghost text is decoded for before the best one is kept: about the
# first four words, which hold nearly all the typing a suggestion saves (bench/keystrokes.py).
BRANCH_LOOKAHEAD = 6
ROLLBACK_WINDOW = 32  # positions whose logits are kept: a banned phrase may span this many tokens
MAX_ROLLBACKS = 12  # per row and request; then the row ends before the phrase instead

TokenCallback = Callable[[int, str], None]
StopCheck = Callable[[], bool]


class DecodingEngine(Protocol):
    """What the loop needs from the engine (ml/generation.py Generator and its backends)."""

    vocabulary: Any
    last_stats: Any
    _end_ids: set[int]
    _junk_context: str
    filter_junk: bool  # off while ml/rewrite.py runs: it cleans an instructed answer itself
    _dry_breakers: dict[tuple[str, ...], dict[int, bool]]  # breakers -> {token: holds one}

    def _decode(self, ids: list[int]) -> str: ...
    def _heal_mask(self, heal_text: str) -> np.ndarray: ...
    def _step(self, cache: Any, next_ids: np.ndarray) -> tuple[Any, np.ndarray]: ...
    def _crop_cache(self, cache: Any, length: int) -> None: ...
    def _cache_length(self, cache: Any) -> int: ...
    def _keep_row(self, cache: Any, row: int) -> Any: ...


@dataclass
class RowResult:
    text: str
    tokens: int
    finish_reason: str  # "length" | "stop" | "eos" | "cancelled"
    score: float  # mean log-probability of its tokens
    ids: list[int] = field(default_factory=list)  # the tokens themselves (healed token first)


@dataclass
class _Row:
    generated: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)  # decoded length of generated[:i + 1]
    text: str = ""
    finished: str | None = None
    banned: dict[int, set[int]] = field(default_factory=dict)  # position -> tokens not allowed there
    rollbacks: int = 0
    shown: str = ""  # what was last streamed

    def cut(self, length: int) -> None:
        del self.generated[length:], self.logprobs[length:], self.ends[length:]
        for position in [p for p in self.banned if p > length]:
            del self.banned[position]


class _Decoder:
    def __init__(self, engine: DecodingEngine, prompt: Any, settings: GenerationSettings, first_index: int,
                 on_token: TokenCallback | None, started: float) -> None:
        self.engine = engine
        self.prompt = prompt
        self.settings = settings
        self.first_index = first_index
        self.on_token = on_token
        self.started = started
        self.weighing = False  # several openings of the ghost text are being weighed (decode_rows' branch)
        self.leader_shown = ""
        self.bans: BannedPhrases = banned_phrases(tuple(settings.banned_phrases))
        # The draft's end before the healed token: a phrase may start in the writer's text and be
        # completed by the suggestion ("all of a" + " sudden").
        context = engine._junk_context
        before_heal = context[:len(context) - prompt.heal_chars] if prompt.heal_chars else context
        self.draft_tail = before_heal[-self.bans.reach:] if self.bans else ""
        self.dry = None
        if settings.dry_multiplier > 0:
            self.dry = DryPenalty(settings.dry_multiplier, settings.dry_base, settings.dry_allowed_length,
                                  settings.dry_sequence_breakers, lambda t: engine._decode([t]),
                                  engine._dry_breakers.setdefault(tuple(settings.dry_sequence_breakers), {}))

    def scores(self, logits: np.ndarray, position: int, fed: list[list[int]], rows: list[_Row]) -> np.ndarray:
        """The logits hooks: what the sampler sees at `position` (B, V), float32."""
        engine, prompt, settings = self.engine, self.prompt, self.settings
        scores = logits.astype(np.float32, copy=False)
        if engine.vocabulary is not None:  # the writer's own names and phrases (project_ngrams.py)
            scores = engine.vocabulary.mix(scores, [prompt.ids[-MAX_ORDER:] + ids for ids in fed])
        shaper = getattr(engine, "form_shaper", None)
        if shaper is not None and not (position == 0 and prompt.heal_text):  # lines, stanzas, turns (form_shaping.py)
            scores = shaper.shape(scores, [state.text for state in rows])
        if position == 0 and prompt.heal_text:
            # No repetition penalties here: the healed token is the writer's own word, which may
            # well have appeared before.
            scores = np.where(engine._heal_mask(prompt.heal_text), scores, np.float32(-np.inf))
        else:
            recent = np.array([(prompt.ids[-REPETITION_WINDOW:] + ids)[-REPETITION_WINDOW:] for ids in fed],
                              dtype=np.int64)
            scores = apply_repetition_penalty(scores, recent, settings.repetition_penalty)
        banned = [(row, sorted(state.banned[position])) for row, state in enumerate(rows)
                  if position in state.banned]
        if (self.dry is not None and not (position == 0 and prompt.heal_text)) or banned:
            if np.may_share_memory(scores, logits):  # the logits are kept for rollbacks: never edit them
                scores = scores.copy()
            if self.dry is not None and not (position == 0 and prompt.heal_text):
                self.dry.apply(scores, [prompt.ids + ids for ids in fed])
            for row, tokens in banned:
                scores[row, tokens] = float("-inf")
                if bool(np.isneginf(scores[row]).all()):  # everything allowed here was banned: end the row
                    scores[row, next(iter(engine._end_ids))] = 0.0
        return scores

    def visible(self, state: _Row, full: str | None = None) -> tuple[str, str | None]:
        """The row's text as the writer would see it, and why it ends there (None: it may go on).
        `full`: the decoded tokens of the row, when already at hand."""
        full = self.engine._decode(state.generated) if full is None else full
        text = full[self.prompt.heal_chars:]
        # A trailing U+FFFD may be the first bytes of a character the next token completes: hold it
        # back. One inside the text is a byte sequence that can never be valid UTF-8 (a small model
        # can emit those): drop it rather than insert garbage.
        text = text.rstrip("\ufffd").replace("\ufffd", "")
        # An editor inserts "\r", U+2028/U+2029 as line or paragraph breaks of its own, so the text
        # accepted would differ from the text shown; other control characters are not prose.
        text = _CONTROL.sub("", _BREAKS.sub("\n", text))
        reason = None
        cut = stop_index(text, self.settings.stop)
        if cut is not None:
            text, reason = text[:cut], "stop"
        # Junk (digit runs, markup, quiz phrasing...) is never shown: the suggestion ends before it.
        text, was_junk = (junk.clean_suggestion(text, self.engine._junk_context)
                          if self.engine.filter_junk else (text, False))
        return text, "stop" if was_junk else reason

    def stream(self, row: int, state: _Row) -> None:
        if not self.weighing:  # while openings are weighed, stream_leader shows one text for all
            self._send(row, state)

    def _send(self, row: int, state: _Row) -> None:
        shown = state.text if state.finished else junk.streamable(state.text)
        if self.bans and not state.finished:
            held = self.bans.pending(self.draft_tail + shown)
            shown = shown[:max(0, len(shown) - held)]
        # A shorter text than before is sent too: what streamed before is withdrawn.
        if self.on_token is not None and (shown or state.shown):
            stats = self.engine.last_stats
            if stats.first_token_s is None:
                stats.first_token_s = time.perf_counter() - self.started
            self.on_token(self.first_index + row, shown)
            state.shown = shown

    def stream_leader(self, rows: list[_Row]) -> None:
        """Show the opening now expected to save the most typing, as row 0 (it may change until
        one is kept, BRANCH_LOOKAHEAD tokens in)."""
        leader = rows[self.best_row(rows)]
        leader.shown = self.leader_shown
        self._send(0, leader)
        self.leader_shown = leader.shown

    def best_row(self, rows: list[_Row]) -> int:
        """The row expected to save the writer the most typing (the first on a tie)."""
        heal = self.prompt.heal_chars
        # Under the model alone: weighing by the scores with the project vocabulary mixed in saved
        # no more (12.8% vs 12.95% on two writers, bench/keystrokes.py).
        expected = [expected_typing_saved(self.engine._decode(state.generated), state.ends, state.logprobs,
                                          skip=heal, shown=len(state.text)) for state in rows]
        return max(range(len(rows)), key=lambda row: (expected[row], -row))

    def banned_start(self, state: _Row, full: str) -> int | None:
        """The index of the token where a banned phrase in the row's text (decoded: `full`) starts."""
        if not self.bans:
            return None
        found = self.bans.find(self.draft_tail + full, len(self.draft_tail) + self.prompt.heal_chars)
        if found is None:
            return None
        # The token whose text covers the phrase's first character (0 if it began in the draft).
        return min(len(state.generated) - 1, bisect.bisect_right(state.ends, found - len(self.draft_tail)))


def decode_rows(engine: DecodingEngine, logits: np.ndarray, cache: Any, prompt: Any, settings: GenerationSettings,
                first_index: int, on_token: TokenCallback | None, should_stop: StopCheck | None,
                rng: np.random.Generator | None, started: float,
                ahead: np.ndarray | None = None, branch: bool = False) -> list[RowResult]:
    """Sample up to max_new_tokens for each row of `logits` (B, V), extending `cache` in place.

    The cache holds len(prompt.ids) positions (plus prompt.heal_id when `ahead` is given). `ahead`
    (1, V): the model's prediction after the healed token; if the first sample is that same token
    (the draft ended with a whole word), the next step needs no model call.
    `branch`: the rows (all given the same logits) start with the B best first tokens, one each,
    instead of sampling them, so they are B different openings of the ghost text. After
    BRANCH_LOOKAHEAD tokens only the row expected to save the most typing decodes on, and one row
    comes back. Until then the current leader streams, as row 0.
    """
    decoder = _Decoder(engine, prompt, settings, first_index, on_token, started)
    count = logits.shape[0]
    decoder.weighing = engine.last_stats.weighing = branch and count > 1  # the leader streams as row 0
    rows = [_Row() for _ in range(count)]
    fed: list[list[int]] = [[] for _ in range(count)]  # tokens in the cache after the prompt, per row
    prompt_length = len(prompt.ids)
    history: dict[int, np.ndarray] = {0: logits}  # position -> the logits sampled there
    position = 0
    # Rollbacks cost extra steps; this bound keeps a pathological ban list from decoding forever.
    for _attempt in range(4 * settings.max_new_tokens + 4 * ROLLBACK_WINDOW):
        if should_stop is not None and should_stop():
            for state in rows:
                state.finished = state.finished or "cancelled"
            break
        scores = decoder.scores(logits, position, fed, rows)
        if branch and position == 0 and not rows[0].generated and count > 1:
            next_ids = best_first_tokens(scores[0], count)
        else:
            next_ids = sample_next(scores, settings, rng)  # (B,)
        for row, state in enumerate(rows):
            if not state.finished and len(state.generated) > position:  # replaying after another row's rollback
                next_ids[row] = state.generated[position]
        chosen = np.take_along_axis(log_softmax(logits.astype(np.float32, copy=False)), next_ids[:, None], axis=1)[:, 0]
        rollback_to: int | None = None
        for row, state in enumerate(rows):
            if state.finished or len(state.generated) > position:  # replayed: its text is settled
                continue
            token = int(next_ids[row])
            if token in engine._end_ids:
                state.finished = "eos"
                continue
            state.generated.append(token)
            state.logprobs.append(float(chosen[row]))
            full = engine._decode(state.generated)
            state.ends.append(len(full))
            start = decoder.banned_start(state, full)
            if start is not None:
                if state.rollbacks >= MAX_ROLLBACKS or start not in history:
                    state.cut(start)  # give up on this row: end it before the phrase
                    state.text, _reason = decoder.visible(state)
                    state.finished = "stop"
                else:
                    state.banned.setdefault(start, set()).add(state.generated[start])
                    state.cut(start)
                    state.rollbacks += 1
                    state.text, _reason = decoder.visible(state)
                    rollback_to = start if rollback_to is None else min(rollback_to, start)
                decoder.stream(row, state)
                continue
            state.text, state.finished = decoder.visible(state, full)
            if not state.finished and len(state.generated) >= settings.max_new_tokens:
                state.finished = "length"
            decoder.stream(row, state)
        engine.last_stats.generated_tokens += count
        if rollback_to is not None:
            # Cut the cache back to the position where the phrase began, and sample there again.
            engine._crop_cache(cache, prompt_length + rollback_to)
            for ids in fed:
                del ids[rollback_to:]
            for old in [p for p in history if p > rollback_to]:
                del history[old]
            position, logits, ahead = rollback_to, history[rollback_to], None
            continue
        if branch and count > 1 and (position + 1 >= BRANCH_LOOKAHEAD or all(state.finished for state in rows)):
            # Keep only the opening expected to save the most typing; it alone decodes on.
            keep = decoder.best_row(rows)
            rows, fed, count = [rows[keep]], [fed[keep]], 1
            next_ids = next_ids[keep:keep + 1]
            history = {p: kept[keep:keep + 1] for p, kept in history.items()}
            cache = engine._keep_row(cache, keep)
            decoder.weighing = engine.last_stats.weighing = False
            decoder.stream(0, rows[0])
        elif decoder.weighing and on_token is not None:
            decoder.stream_leader(rows)
        if all(state.finished for state in rows):
            break
        for row, ids in enumerate(fed):
            ids.append(int(next_ids[row]))
        if position == 0 and ahead is not None:
            if int(next_ids[0]) == prompt.heal_id:
                position, logits, ahead = 1, ahead, None
                history[1] = logits
                continue
            engine._crop_cache(cache, engine._cache_length(cache) - 1)
        ahead = None
        cache, logits = engine._step(cache, next_ids)
        position += 1
        history[position] = logits
        history.pop(position - ROLLBACK_WINDOW, None)
    if len(rows) > 1 and decoder.weighing:  # cancelled while the openings were weighed
        rows = [rows[decoder.best_row(rows)]]
        engine.last_stats.weighing = False
    results = []
    for state in rows:
        text = state.text
        if decoder.bans:  # never reached (every token is checked above); kept as the last word on it
            found = decoder.bans.find(decoder.draft_tail + text, len(decoder.draft_tail))
            text = text if found is None else text[:max(0, found - len(decoder.draft_tail))]
        results.append(RowResult(text=text, tokens=len(state.generated), finish_reason=state.finished or "length",
                                 score=sum(state.logprobs) / max(1, len(state.generated)), ids=state.generated))
    return results


def best_first_tokens(scores: np.ndarray, count: int) -> np.ndarray:
    """The `count` highest-scoring tokens of `scores` (V,), best first; the best repeats where
    fewer are allowed (such a row equals the first one and loses the tie to it)."""
    top = np.argpartition(-scores, min(count, scores.shape[0] - 1))[:count]
    top = top[np.argsort(-scores[top], kind="stable")]
    allowed = top[np.isfinite(scores[top])]
    if allowed.size == 0:
        allowed = top[:1]
    return np.concatenate([allowed, np.repeat(allowed[:1], count - allowed.size)]).astype(np.int64)
