"""Model ▸ Fine-tune on a folder…: a four-step dialog a writer can use without a terminal.

1. Folder: choose it; a background scan shows files used and skipped (with reasons), words, tokens,
   the time it would take here, or why training would be refused. Interrupted runs can be resumed.
2. Model: the base model, the mode, optionally the writer's accepted suggestions, and "Advanced"
   settings whose defaults are the trainer's own automatic plan.
3. Training: `cw-desktop train --json-progress` in a separate process (the editor survives
   anything that happens to it), with progress, ETA, tokens/s, a live loss chart and a log.
4. Results: held-out perplexity before/after and blind side-by-side samples to rate; the ratings are
   saved with the model; "Use this model" switches the editor to it.

One module per page (folder_page, model_page, training_page, results), the dialog that walks
through them (dialog), and a standalone launcher: python -m cw_desktop.dialogs.finetune --help.
"""

from cw_desktop.dialogs.finetune.dialog import FineTuneDialog
from cw_desktop.dialogs.finetune.results import ResultsView

__all__ = ["FineTuneDialog", "ResultsView"]
