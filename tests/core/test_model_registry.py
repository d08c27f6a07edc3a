"""The model registry: listing with provenance, ratings and acceptance; rename/delete/export; runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cw_desktop.core import model_registry as registry
from cw_desktop.core.ratings import new_ratings, save_ratings
from cw_desktop.core.suggestion_log import SuggestionLog, make_event


def make_model(paths, name: str, *, report: dict | None = None, weights: int = 1000) -> Path:
    folder = paths.models_dir / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"]}))
    (folder / "model.safetensors").write_bytes(b"\0" * weights)
    if report is not None:
        (folder / "report.json").write_text(json.dumps(report))
    return folder


REPORT = {"name": "poe-voice", "base_model": "bundled", "created": "2026-11-20T10:00:00+00:00",
          "folder": "/home/w/poe", "files_used": ["a.txt", "b.txt"], "train_tokens": 12345, "duration_s": 640.0,
          "perplexity_before": 30.0, "perplexity_after": 21.5, "mode": "lora",
          "samples": [{"form": "poem", "prompt": "p", "before": "b", "after": "a"}]}


def test_lists_base_and_fine_tuned_models_with_their_provenance(app_paths):
    folder = make_model(app_paths, "poe-voice", report=REPORT, weights=5000)
    make_model(app_paths, "older", report=dict(REPORT, name="Older", created="2026-01-01T00:00:00+00:00"))
    (app_paths.models_dir / ".staging-xyz").mkdir()  # an interrupted save is never listed
    models = registry.list_models(app_paths)
    assert models[0].spec == "bundled" and models[0].kind == "base"
    tuned = [m for m in models if m.is_fine_tuned]
    assert [m.name for m in tuned] == ["poe-voice", "Older"]  # newest first
    info = tuned[0]
    assert info.spec == str(folder) and info.base_model == "bundled" and info.data_folder == "/home/w/poe"
    assert (info.files, info.train_tokens, info.duration_s) == (2, 12345, 640.0)
    assert (info.perplexity_before, info.perplexity_after) == (30.0, 21.5)
    assert info.size_bytes >= 5000 and info.rating is None and info.acceptance is None


def test_rating_summary_and_acceptance_rate_are_attached(app_paths):
    folder = make_model(app_paths, "poe-voice", report=REPORT)
    ratings = new_ratings(REPORT["samples"], seed=1)
    pair = ratings.pairs[0]
    full = {"creativity": 4, "coherence": 4, "originality": 4}
    ratings.rate(0, preferred_column=pair.column_of("tuned"), scores_by_column={"left": full, "right": full})
    save_ratings(folder, ratings)
    log = SuggestionLog(app_paths.suggestion_log)
    for outcome in ("accepted", "partial", "rejected", "typed_over"):
        log.append(make_event(model=str(folder), outcome=outcome, suggestion="x"))
    log.append(make_event(model="bundled", outcome="rejected", suggestion="y"))
    models = {m.spec: m for m in registry.list_models(app_paths)}
    tuned = models[str(folder)]
    assert tuned.rating.tuned_preferred == 1
    assert tuned.acceptance["shown"] == 4 and tuned.acceptance["rate"] == pytest.approx(0.5)
    assert registry.acceptance_text(tuned.acceptance) == "50% of 4"
    assert models["bundled"].acceptance["rate"] == 0.0


def test_a_broken_report_still_lists_the_model_with_the_problem(app_paths):
    folder = make_model(app_paths, "broken")
    (folder / "report.json").write_text("{")
    [info] = [m for m in registry.list_models(app_paths) if m.is_fine_tuned]
    assert info.name == "broken" and "report.json is unreadable" in info.problem


def test_rename_changes_the_display_name_not_the_folder(app_paths):
    folder = make_model(app_paths, "poe-voice", report=REPORT)
    registry.rename_model(folder, "  Poe,   darker  ", app_paths)
    assert json.loads((folder / "report.json").read_text())["name"] == "Poe, darker"
    assert json.loads((folder / "report.json").read_text())["perplexity_after"] == 21.5
    with pytest.raises(registry.RegistryError, match="cannot be empty"):
        registry.rename_model(folder, "   ", app_paths)


def test_delete_and_rename_refuse_anything_outside_the_models_folder(app_paths, tmp_path):
    outside = tmp_path / "manuscripts"
    outside.mkdir()
    (outside / "config.json").write_text("{}")
    for action in (lambda: registry.delete_model(outside, app_paths),
                   lambda: registry.rename_model(outside, "x", app_paths)):
        with pytest.raises(registry.RegistryError, match="only those can be"):
            action()
    assert (outside / "config.json").exists()
    folder = make_model(app_paths, "poe-voice", report=REPORT)
    registry.delete_model(folder, app_paths)
    assert not folder.exists() and not list(app_paths.models_dir.iterdir())


def test_export_copies_the_whole_folder_and_never_leaves_a_partial_copy(app_paths, tmp_path):
    folder = make_model(app_paths, "poe-voice", report=REPORT, weights=3 * registry.COPY_CHUNK + 7)
    target = tmp_path / "usb"
    target.mkdir()
    seen: list[tuple[int, int]] = []
    copy = registry.export_model(folder, target, on_progress=lambda d, t: seen.append((d, t)))
    assert copy == target / "poe-voice"
    assert (copy / "model.safetensors").stat().st_size == 3 * registry.COPY_CHUNK + 7
    assert seen[-1][0] == seen[-1][1] and len(seen) > 3
    with pytest.raises(registry.RegistryError, match="already exists"):
        registry.export_model(folder, target)
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(registry.RegistryError, match="cancelled"):
        registry.export_model(folder, other, should_stop=lambda: True)
    assert list(other.iterdir()) == []


def test_interrupted_runs_are_listed_until_their_model_exists(app_paths):
    run = app_paths.runs_dir / "poe-bundled"
    run.mkdir(parents=True)
    output = app_paths.models_dir / "poe-bundled"
    (run / "run.json").write_text(json.dumps({"name": "poe-bundled", "folder": "/w/poe", "base": "bundled",
                                              "output": str(output), "created": "2026-11-27T08:00:00+00:00",
                                              "hyperparameters": {"mode": "lora", "max_steps": 90}}))
    assert registry.list_interrupted_runs(app_paths) == []  # no checkpoint yet: nothing to resume
    (run / "checkpoint.pt").write_bytes(b"x")
    [found] = registry.list_interrupted_runs(app_paths)
    assert (found.folder, found.base, found.max_steps, found.mode) == ("/w/poe", "bundled", 90, "lora")
    assert (found.eval_share, found.include_accepted) == (None, False)  # the trainer's defaults
    registry.save_run_options(run, eval_share=0.2, include_accepted=True)
    [found] = registry.list_interrupted_runs(app_paths)
    assert (found.eval_share, found.include_accepted) == (0.2, True)
    make_model(app_paths, "poe-bundled", report=REPORT)
    assert registry.list_interrupted_runs(app_paths) == []
    registry.discard_run(run, app_paths)
    assert not run.exists()


def test_run_file_names_match_the_trainer():
    training = pytest.importorskip("cw_desktop.ml.training")
    assert (registry.RUN_FILE, registry.CHECKPOINT_FILE) == (training.RUN_FILE, training.CHECKPOINT_FILE)
