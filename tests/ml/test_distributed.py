"""Several training processes, checked inside one: the held-out blocks are shared out so that every
block is measured exactly once, and a run is resumed only with as many processes as it ran with."""

from __future__ import annotations

import math

import pytest
import torch

from cw_desktop.ml import dataset as ds
from cw_desktop.ml import training as tr
from cw_desktop.ml.checkpoint import read_checkpoint, write_checkpoint
from cw_desktop.ml.distributed import World, launched_processes, launched_rank
from cw_desktop.ml.evaluation import evaluate
from cw_desktop.ml.loading import load_model
from cw_desktop.ml.plan import Hyperparameters


class OneOfTwo(World):
    """Process `index` of two, without the other process: sums are recorded, not exchanged."""

    count = 2

    def __init__(self, index: int) -> None:
        self.index = index
        self.sums: list[list[float]] = []

    def sum(self, values):
        self.sums.append([float(v) for v in values])
        return [float(v) for v in values]


def test_each_process_measures_its_share_and_the_sums_make_the_whole_split(tiny_loaded) -> None:
    vocab = tiny_loaded.model.config.vocab_size
    ids = torch.randint(0, vocab, (1000,), generator=torch.Generator().manual_seed(0))  # 15 full blocks + a tail
    whole = evaluate(tiny_loaded.model, ids, 64, batch_size=2)
    shares = [OneOfTwo(0), OneOfTwo(1)]
    for world in shares:
        evaluate(tiny_loaded.model, ids, 64, batch_size=2, world=world)
    (loss0, tokens0), (loss1, tokens1) = shares[0].sums[0], shares[1].sums[0]
    assert tokens0 > 0 and tokens1 > 0
    assert tokens0 + tokens1 == whole.tokens == 15 * 63 + 39  # every block once, the short tail included
    assert (loss0 + loss1) / (tokens0 + tokens1) == pytest.approx(whole.loss, rel=1e-6)
    assert math.exp((loss0 + loss1) / (tokens0 + tokens1)) == pytest.approx(whole.perplexity, rel=1e-6)


def test_a_run_is_resumed_only_with_as_many_processes_as_it_ran_with(tiny_model_dir, app_paths, tmp_path) -> None:
    loaded = load_model(str(tiny_model_dir), app_paths)
    text = " ".join(f"word{i % 50}" for i in range(4000))
    data = ds.PackedData(block_size=32, train_ids=torch.tensor(loaded.tokenizer(text)["input_ids"]),
                         eval_ids=torch.tensor(loaded.tokenizer(text[:2000])["input_ids"]),
                         split=ds.Split([], []))
    hp = Hyperparameters(mode="full", block_size=32, batch_size=2, grad_accum=1, max_steps=4, eval_interval=2,
                         checkpoint_interval=2, device="cpu")
    steps: list[int] = []
    result = tr.run_training(tr.apply_mode(loaded.model, hp), data, hp, tmp_path, threads=1,
                             on_event=lambda e: steps.append(e["step"]) if e["event"] == "step" else None,
                             should_stop=lambda: len(steps) >= 1)
    assert result.status == "cancelled" and result.state.processes == 1
    payload = read_checkpoint(tmp_path / tr.CHECKPOINT_FILE)
    payload["state"]["processes"] = 2  # as a two-process run would have saved it
    payload.pop("format")
    write_checkpoint(tmp_path / tr.CHECKPOINT_FILE, payload)
    with pytest.raises(ValueError) as refused:
        tr.run_training(tr.apply_mode(load_model(str(tiny_model_dir), app_paths).model, hp), data, hp, tmp_path,
                        resume=True, threads=1)
    assert "trained with 2 process(es) and is resumed with 1" in str(refused.value)
    assert "accelerate launch --num_processes 2" in str(refused.value)


def test_a_plain_run_is_one_main_process(monkeypatch) -> None:
    for name in ("WORLD_SIZE", "RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert (launched_processes(), launched_rank()) == (1, 0)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")  # what torchrun / accelerate launch set in the second process
    assert (launched_processes(), launched_rank()) == (2, 1)
