"""The trainer: schedule, plan, optimizer groups, modes, resume equivalence, cancellation, and a
short end-to-end fine-tune on a slice of Austen whose held-out perplexity drops."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from shared_data import WRITERS, require_corpus
from cw_desktop.ml import dataset as ds
from cw_desktop.ml import plan
from cw_desktop.ml import training as tr
from cw_desktop.ml.loading import load_model


@dataclass
class Doc:
    path: str
    chapters: list[str]


def austen_chapters(chars: int = 60_000) -> list[str]:
    require_corpus()
    text = (WRITERS / "austen" / "Persuasion.txt").read_text(encoding="utf-8")
    start = text.index("Chapter 1")
    paragraphs = [" ".join(p.split()) for p in text[start:start + chars].replace("\r\n", "\n").split("\n\n")
                  if p.strip()]
    return ["\n\n".join(paragraphs[i:i + 25]) for i in range(0, len(paragraphs), 25)]


@pytest.fixture(scope="module")
def austen_split() -> ds.Split:
    return ds.split_units(ds.document_units([Doc("persuasion.txt", austen_chapters())]), eval_share=0.15)


def fresh(tiny_model_dir: Path, app_paths) -> object:
    return load_model(str(tiny_model_dir), app_paths)


def small_hp(**changes) -> plan.Hyperparameters:
    hp = plan.Hyperparameters(mode="full", block_size=64, batch_size=4, grad_accum=2, lr=3e-3, min_lr=3e-4,
                            warmup_steps=2, max_steps=12, eval_interval=4, checkpoint_interval=4, patience=10,
                            device="cpu")
    for key, value in changes.items():
        setattr(hp, key, value)
    return hp


def test_get_lr_warms_up_linearly_then_decays_by_cosine_to_the_floor() -> None:
    kwargs = dict(max_lr=1.0, min_lr=0.1, warmup_steps=10, total_steps=110)
    warmup = [tr.get_lr(s, **kwargs) for s in range(10)]
    assert warmup == sorted(warmup) and warmup[0] < 0.2 and warmup[-1] < 1.0
    assert tr.get_lr(10, **kwargs) == pytest.approx(1.0)
    assert tr.get_lr(60, **kwargs) == pytest.approx(0.55)  # half-way down the cosine
    decay = [tr.get_lr(s, **kwargs) for s in range(10, 111)]
    assert decay == sorted(decay, reverse=True)
    assert tr.get_lr(110, **kwargs) == pytest.approx(0.1)
    assert tr.get_lr(500, **kwargs) == pytest.approx(0.1)


def test_plan_scales_with_corpus_and_respects_overrides() -> None:
    info = plan.ModelInfo(parameters=135_000_000, layers=30, context_length=2048)
    big = plan.plan_training(1_400_000, info, "cpu")
    small = plan.plan_training(3_000, info, "cpu")
    assert big.block_size <= info.context_length and big.mode == plan.DEFAULT_CPU_MODE
    assert small.block_size < big.block_size  # a small folder still yields enough blocks
    assert small.tokens_per_step <= 3_000 // 4 and small.max_steps >= 10
    # A default CPU run stays within the time budget however large the folder.
    assert big.max_steps * big.tokens_per_step / plan.estimate_tokens_per_second(info, big.mode, "cpu") \
        <= plan.CPU_DEFAULT_BUDGET_S + 1
    custom = plan.plan_training(1_400_000, info, "cpu", {"mode": "full", "max_steps": 7, "lr": 2e-4,
                                                        "block_size": 128, "batch_size": 3, "grad_accum": None})
    assert (custom.mode, custom.max_steps, custom.lr, custom.block_size, custom.batch_size) == \
        ("full", 7, 2e-4, 128, 3)
    assert plan.plan_training(100_000, info, "cpu", {"epochs": 1.0}).epochs == pytest.approx(1.0, rel=0.1)
    tiny_window = plan.ModelInfo(parameters=1_000_000, layers=2, context_length=64)
    assert plan.plan_training(100_000, tiny_window, "cpu").block_size == 64
    with pytest.raises(ValueError, match="Unknown training mode"):
        plan.plan_training(10_000, info, "cpu", {"mode": "everything"})


def test_weight_decay_skips_biases_norms_and_embeddings(tiny_model_dir, app_paths) -> None:
    model = fresh(tiny_model_dir, app_paths).model
    decay, no_decay = tr.optimizer_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    assert decayed and all(n.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight")) for n in decayed)
    skipped = {names[id(p)] for p in no_decay["params"]}
    assert "transformer.wte.weight" in skipped and "transformer.ln_f.weight" in skipped
    assert any(n.endswith("bias") for n in skipped)


def test_modes_train_the_intended_parameters(tiny_model_dir, app_paths) -> None:
    top = tr.apply_mode(fresh(tiny_model_dir, app_paths).model, small_hp(mode="top", top_layers=1))
    trainable = {n for n, p in top.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("transformer.h.1.", "transformer.ln_f.")) for n in trainable)
    lora = tr.apply_mode(fresh(tiny_model_dir, app_paths).model, small_hp(mode="lora"))
    trainable = {n for n, p in lora.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    # Saving merges the adapters: a plain GPT-2 with the original parameter names.
    plain = tr.plain_model(lora)
    assert not any("lora_" in n for n, _ in plain.named_parameters())


def test_top_mode_trains_only_the_top_blocks_and_the_loss_falls(tiny_model_dir, app_paths, austen_split,
                                                                tmp_path) -> None:
    loaded = fresh(tiny_model_dir, app_paths)
    data = ds.prepare_data(austen_split, loaded.tokenizer, 64)
    hp = small_hp(mode="top", top_layers=1, max_steps=12, eval_interval=100)
    model = tr.apply_mode(loaded.model, hp)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    events: list[dict] = []
    tr.run_training(model, data, hp, tmp_path, on_event=events.append)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(n.startswith(("transformer.h.1.", "transformer.ln_f.")) for n in changed)
    assert any(n.startswith("transformer.h.1.") for n in changed)
    losses = [e["loss"] for e in events if e["event"] == "step"]
    assert sum(losses[-3:]) < sum(losses[:3])


def test_the_optimizer_is_the_fused_adamw_over_the_trainable_weights_only(tiny_model_dir, app_paths) -> None:
    model = tr.apply_mode(fresh(tiny_model_dir, app_paths).model, small_hp(mode="top", top_layers=1))
    optimizer = tr.make_optimizer(model, small_hp(mode="top"))
    # The kernel transformers' Trainer uses: ~5x faster optimizer steps on CPU than the default.
    assert optimizer.defaults["fused"] is True
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert in_optimizer == {id(p) for p in model.parameters() if p.requires_grad}


def test_the_trainer_uses_the_thread_budget_it_is_given(tiny_model_dir, app_paths, austen_split, tmp_path) -> None:
    data = ds.prepare_data(austen_split, fresh(tiny_model_dir, app_paths).tokenizer, 64)
    seen: list[int] = []
    before = torch.get_num_threads()
    try:
        loaded = fresh(tiny_model_dir, app_paths)
        tr.run_training(tr.apply_mode(loaded.model, small_hp()), data, small_hp(max_steps=2), tmp_path,
                        on_event=lambda event: seen.append(torch.get_num_threads()), threads=1)
    finally:
        torch.set_num_threads(before)
    assert seen and set(seen) == {1}


def _train(tiny_model_dir, app_paths, data, hp, run_dir, **kwargs) -> tuple[tr.LoopResult, object, list[dict]]:
    loaded = fresh(tiny_model_dir, app_paths)
    torch.manual_seed(hp.seed)
    model = tr.apply_mode(loaded.model, hp)
    events: list[dict] = []
    result = tr.run_training(model, data, hp, run_dir, on_event=events.append, **kwargs)
    return result, model, events


def test_resume_after_interruption_gives_the_same_result(tiny_model_dir, app_paths, austen_split, tmp_path) -> None:
    data = ds.prepare_data(austen_split, fresh(tiny_model_dir, app_paths).tokenizer, 64)
    hp = small_hp()
    straight, straight_model, straight_events = _train(tiny_model_dir, app_paths, data, hp, tmp_path / "a")

    # A crash at step 6: the last periodic checkpoint on disk is the one of step 4.
    class Killed(Exception):
        pass

    def crash_at_step_6(event: dict) -> None:
        if event["event"] == "step" and event["step"] == 6:
            raise Killed

    loaded = fresh(tiny_model_dir, app_paths)
    with pytest.raises(Killed):
        tr.run_training(tr.apply_mode(loaded.model, hp), data, hp, tmp_path / "b", on_event=crash_at_step_6)
    assert (tmp_path / "b" / tr.CHECKPOINT_FILE).is_file()
    resumed, resumed_model, resumed_events = _train(tiny_model_dir, app_paths, data, hp, tmp_path / "b", resume=True)
    assert resumed.status == "done" and resumed.state.step == hp.max_steps
    first_resumed_step = next(e["step"] for e in resumed_events if e["event"] == "step")
    assert first_resumed_step == 5  # continued from the step-4 checkpoint, not from scratch
    straight_losses = {e["step"]: e["loss"] for e in straight_events if e["event"] == "step"}
    for event in resumed_events:
        if event["event"] == "step":
            assert event["loss"] == pytest.approx(straight_losses[event["step"]], rel=1e-4)
    assert resumed.final_eval.loss == pytest.approx(straight.final_eval.loss, rel=1e-4)
    for (name, a), (_, b) in zip(straight_model.named_parameters(), resumed_model.named_parameters()):
        assert torch.allclose(a, b, atol=1e-5), name


def test_should_stop_cancels_between_steps_and_keeps_a_checkpoint(tiny_model_dir, app_paths, austen_split,
                                                                  tmp_path) -> None:
    data = ds.prepare_data(austen_split, fresh(tiny_model_dir, app_paths).tokenizer, 64)
    events: list[dict] = []

    def stop() -> bool:
        return sum(1 for e in events if e["event"] == "step") >= 3

    loaded = fresh(tiny_model_dir, app_paths)
    result = tr.run_training(tr.apply_mode(loaded.model, small_hp()), data, small_hp(), tmp_path,
                             on_event=events.append, should_stop=stop)
    assert result.status == "cancelled" and result.state.step == 3
    assert result.checkpoint == tmp_path / tr.CHECKPOINT_FILE and result.checkpoint.is_file()
    assert events[-1] == {"event": "checkpoint", "step": 3, "path": str(result.checkpoint)}


def test_early_stopping_keeps_the_best_weights(tiny_model_dir, app_paths, austen_split, tmp_path) -> None:
    data = ds.prepare_data(austen_split, fresh(tiny_model_dir, app_paths).tokenizer, 64)
    # A learning rate far too high makes held-out loss worse after the first evaluation.
    hp = small_hp(lr=0.5, min_lr=0.5, warmup_steps=0, max_steps=40, eval_interval=2, patience=2, grad_clip=0.0)
    result, _, events = _train(tiny_model_dir, app_paths, data, hp, tmp_path)
    evals = [e for e in events if e["event"] == "eval"]
    assert result.status == "early_stopped" and result.state.step < 40
    assert result.final_eval.loss == pytest.approx(min(e["eval_loss"] for e in evals))


def test_fine_tune_lowers_held_out_perplexity_and_writes_report(tiny_model_dir, app_paths, tmp_path,
                                                                  monkeypatch) -> None:
    """The whole pipeline on a folder holding a slice of Austen, with the tiny model."""
    corpus_module = pytest.importorskip("cw_desktop.ml.corpus")
    folder = tmp_path / "manuscripts"
    folder.mkdir()
    (folder / "persuasion.txt").write_text("\n\n".join(austen_chapters(30_000)), encoding="utf-8")
    (folder / ".DS_Store").write_bytes(b"\0\1junk")
    events: list[dict] = []
    config = tr.TrainConfig(folder=folder, paths=app_paths, base=str(tiny_model_dir), output=tmp_path / "out",
                            overrides={"mode": "full", "max_steps": 24, "lr": 3e-3, "block_size": 64},
                            samples=True)
    result = tr.train(config, on_event=events.append)
    assert result.status == "done"
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["perplexity_after"] < report["perplexity_before"] * 0.8
    for key in ("name", "base_model", "created", "perplexity_before", "perplexity_after", "train_tokens",
                "eval_tokens", "files_used", "files_skipped", "folder", "mode", "hyperparameters", "duration_s",
                "samples", "context_length"):
        assert key in report, key
    assert report["files_used"] == ["persuasion.txt"]
    assert report["hyperparameters"]["max_steps"] == 24 and report["mode"] == "full"
    assert {s["form"] for s in report["samples"]} >= {"poem", "dialogue", "story", "held-out opening"}
    assert all(s["before"] and s["after"] for s in report["samples"])
    assert "perplexity" in (tmp_path / "out" / "report.md").read_text()
    # Typing saved on the held-out chapters, base and tuned, as the results page shows it.
    saved = report["keystrokes_saved"]
    assert 0.0 <= saved["base"] <= 1.0 and 0.0 <= saved["tuned"] <= 1.0
    assert "of your typing on held-out chapters" in (tmp_path / "out" / "report.md").read_text()
    # A plain save_pretrained folder that load_model (and transformers) read, with provenance.
    tuned = load_model(str(tmp_path / "out"), app_paths)
    assert tuned.provenance["perplexity_after"] == report["perplexity_after"]
    assert not any(app_paths.runs_dir.iterdir())  # the run's checkpoints are cleaned up
    kinds = [e["event"] for e in events]
    assert kinds.index("scan") < kinds.index("plan") < kinds.index("baseline") < kinds.index("step") \
        < kinds.index("eval") < kinds.index("done")
    assert math.isclose(events[kinds.index("baseline")]["perplexity"], report["perplexity_before"], rel_tol=1e-3)


def test_include_accepted_reads_accepted_suggestions_from_the_log(app_paths) -> None:
    from cw_desktop.core.suggestion_log import SuggestionLog, make_event

    log = SuggestionLog(app_paths.suggestion_log)
    log.append(make_event(model="bundled", outcome="accepted", suggestion=" the sea was calm",
                          accepted_text=" the sea was calm", context="At dawn", after_text=" and grey."))
    log.append(make_event(model="bundled", outcome="rejected", suggestion=" a dragon appeared"))
    texts = tr.accepted_texts(app_paths)
    assert texts == ["At dawn the sea was calm and grey."]
