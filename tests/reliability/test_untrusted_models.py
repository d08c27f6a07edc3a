"""Model folders that ship Python code (config.json "auto_map") are refused, never run, never asked about.

transformers runs such code when trust_remote_code is True, and when it is left unset it asks on
stdin ("Do you wish to run the custom code? [y/N]"). cw_desktop passes trust_remote_code=False
everywhere and refuses these folders up front with its own message; the tests answer "y" on stdin
to prove nobody is asking.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from manuscripts import write_manuscripts
from shared_data import REPO
from cw_desktop.ml.loading import CustomCodeError, ModelLoadError, auto_config, auto_tokenizer, load_model

EVIL_MODULE = """
from pathlib import Path
Path({marker!r}).write_text("custom code ran")
from transformers import GPT2Config, GPT2LMHeadModel

class EvilConfig(GPT2Config):
    model_type = "evil-gpt2"

class EvilModel(GPT2LMHeadModel):
    config_class = EvilConfig
"""


def evil_copy(tiny_model_dir: Path, folder: Path, *, in_tokenizer: bool = False) -> tuple[Path, Path]:
    """The tiny model with an unknown model_type and auto_map pointing at code that writes a marker."""
    marker = folder.parent / f"{folder.name}-marker"
    shutil.copytree(tiny_model_dir, folder)
    for name in ("configuration_evil.py", "modeling_evil.py", "tokenization_evil.py"):
        (folder / name).write_text(EVIL_MODULE.format(marker=str(marker)))
    if in_tokenizer:
        file = folder / "tokenizer_config.json"
        config = json.loads(file.read_text())
        config["auto_map"] = {"AutoTokenizer": ["tokenization_evil.EvilTokenizer", None]}
    else:
        file = folder / "config.json"
        config = json.loads(file.read_text())
        config.update(model_type="evil-gpt2", architectures=["EvilGPT2ForCausalLM"],
                      auto_map={"AutoConfig": "configuration_evil.EvilConfig",
                                "AutoModelForCausalLM": "modeling_evil.EvilModel"})
    file.write_text(json.dumps(config))
    return folder, marker


def test_a_model_with_custom_code_is_refused_with_a_clear_message(tiny_model_dir, tmp_path, app_paths) -> None:
    folder, marker = evil_copy(tiny_model_dir, tmp_path / "evil")
    with pytest.raises(CustomCodeError) as info:
        load_model(str(folder), app_paths)
    message = str(info.value)
    assert str(folder) in message and "needs custom code" in message and "never runs" in message
    assert "modeling_evil" in message or "configuration_evil" in message
    assert "corrupt" not in message
    assert not marker.exists()


def test_custom_code_in_the_tokenizer_config_is_refused_too(tiny_model_dir, tmp_path, app_paths) -> None:
    folder, marker = evil_copy(tiny_model_dir, tmp_path / "evil-tokenizer", in_tokenizer=True)
    for load in (lambda: load_model(str(folder), app_paths), lambda: auto_tokenizer(folder)):
        with pytest.raises(CustomCodeError, match="tokenizer_config.json"):
            load()
    assert not marker.exists()


def test_the_scan_tokenizer_and_config_paths_refuse_it(tiny_model_dir, tmp_path) -> None:
    folder, marker = evil_copy(tiny_model_dir, tmp_path / "evil")
    for load in (auto_tokenizer, auto_config):
        with pytest.raises(CustomCodeError):
            load(folder)
    assert not marker.exists()


def test_a_lora_adapter_on_a_custom_code_base_is_refused(tiny_model_dir, tmp_path, app_paths) -> None:
    from test_no_network import make_adapter

    base, marker = evil_copy(tiny_model_dir, tmp_path / "evil-base")
    adapter = make_adapter(tiny_model_dir, tmp_path / "adapter", str(base))
    with pytest.raises(ModelLoadError, match="needs custom code"):
        load_model(str(adapter), app_paths)
    assert not marker.exists()


@pytest.mark.parametrize("command", ["generate", "scan", "train"])
def test_the_cli_never_asks_on_stdin_and_never_runs_it(tiny_model_dir, tmp_path, command) -> None:
    """With "y" waiting on stdin the old loader ran the code; now the answer is never read."""
    folder, marker = evil_copy(tiny_model_dir, tmp_path / "evil")
    manuscripts = write_manuscripts(tmp_path / "books")
    args = {"generate": ["generate", "--model", str(folder), "Once upon a time"],
            "scan": ["scan", str(manuscripts), "--model", str(folder)],
            "train": ["train", str(manuscripts), "--base", str(folder), "--max-steps", "1"]}[command]
    env = {**os.environ, "PYTHONPATH": str(REPO), "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, "-m", "cw_desktop", "--data", str(tmp_path / "data"), *args],
                          input="y\ny\ny\n", capture_output=True, text=True, env=env, timeout=240)
    assert not marker.exists(), "the model's own Python code was run"
    output = proc.stdout + proc.stderr
    assert "needs custom code" in output and "never runs" in output, output[-2000:]
    assert "Do you wish to run the custom code" not in output and "Traceback" not in output
    if command != "scan":  # scan reports the tokenizer as unavailable and still lists the files
        assert proc.returncode == 1
