"""What a suggestion request answers with: plain data without torch.

The editor may run the engine in another process (workers/inference_process.py); these objects
travel back to the window pickled, and unpickling them there must not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Suggestion:
    index: int
    text: str
    tokens: int
    finish_reason: str  # "length" | "stop" | "eos" | "cancelled"
    score: float = 0.0  # mean log-probability of its tokens under the model (ranks alternatives)
    copies: str | None = None  # "copies your Emma.txt, chapter 3": repeats fine-tuning text (ml/memorisation.py)
