"""Nothing touches the network unless the writer asked for a download.

Child processes run the real entry points with the hub's offline variables removed from their
environment (cw_desktop must switch offline mode on by itself) and a socket guard
(network_guard/sitecustomize.py) that records and refuses every connection or name lookup that is
not to this machine. Covered: generate, scan, train, and the editor window starting; each with a
LoRA adapter whose base_model_name_or_path is a hub id, which peft used to fetch from the hub.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared_data import REPO

GUARD_DIR = Path(__file__).with_name("network_guard")
sys.path.insert(0, str(GUARD_DIR))
import sitecustomize as network_guard  # noqa: E402  (the guard module itself, for in-process use)

GUI_DRIVER = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from cw_desktop.gui import main_window
from cw_desktop.gui.application import run_gui

shown = main_window.MainWindow.show

def show(self):
    shown(self)
    def finish(*args):
        print("MODEL-EVENT", *args, flush=True)
        QTimer.singleShot(0, QApplication.instance().quit)
    self.model_ready.connect(lambda info: finish("ready"))
    self.model_failed.connect(lambda spec, message: finish("failed", message))

main_window.MainWindow.show = show
sys.exit(run_gui(sys.argv[1:]))
"""


@pytest.fixture
def no_network(monkeypatch):
    """In-process guard: the test fails if anything connects to another machine."""
    attempts: list[str] = []
    uninstall = network_guard.install(attempts.append)
    yield attempts
    uninstall()
    assert attempts == [], f"network used: {attempts}"


def make_adapter(tiny_model_dir: Path, folder: Path, base: str) -> Path:
    """A LoRA adapter folder (as peft saves it) whose adapter_config.json names `base`."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft_model = get_peft_model(model, LoraConfig(r=2, lora_alpha=4, target_modules=["c_attn"],
                                                  task_type="CAUSAL_LM"))
    peft_model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(folder)
    config_file = folder / "adapter_config.json"
    config = json.loads(config_file.read_text())
    config["base_model_name_or_path"] = base
    config_file.write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def hub_adapter(tiny_model_dir, tmp_path_factory) -> Path:
    adapter = make_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapter") / "lora-on-gpt2", "gpt2")
    # As some tools save it: the base's config beside the adapter (the old loader required one).
    shutil.copy(tiny_model_dir / "config.json", adapter / "config.json")
    return adapter


def guarded_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    log = tmp_path / "network.log"
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "CW_DESKTOP_USER_OFFLINE")}
    env.update({"PYTHONPATH": os.pathsep.join([str(GUARD_DIR), str(REPO)]), "NETWORK_GUARD_LOG": str(log),
                "HF_HOME": str(tmp_path / "hf-home"), "QT_QPA_PLATFORM": "offscreen",
                "TOKENIZERS_PARALLELISM": "false"})
    return env, log


def run(tmp_path: Path, *args: str, script: str | None = None, timeout: float = 240) -> tuple[subprocess.CompletedProcess, list[str]]:
    env, log = guarded_env(tmp_path)
    command = [sys.executable, "-c", script, *args] if script else [sys.executable, "-m", "cw_desktop", *args]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    attempts = log.read_text().splitlines() if log.is_file() else []
    log.unlink(missing_ok=True)
    return proc, attempts


def app_args(tmp_path: Path) -> list[str]:
    return ["--data", str(tmp_path / "data"), "--config", str(tmp_path / "config"), "--cache", str(tmp_path / "cache")]


def assert_missing_base_message(text: str, adapter: Path) -> None:
    assert "needs its base model 'gpt2'" in text and str(adapter) in text, text[-2000:]
    assert "not on this machine" in text and "cw-desktop models download gpt2" in text, text[-2000:]


def test_guard_records_a_real_connection_attempt(tmp_path) -> None:
    """The guard itself works: without it this test would need the network to mean anything."""
    code = "import socket\ntry:\n    socket.create_connection(('example.com', 80), timeout=2)\nexcept OSError:\n    pass\n"
    _, attempts = run(tmp_path, script=code)
    assert attempts and "example.com" in attempts[0]


def test_generate_with_an_adapter_on_a_hub_model_stays_offline(tmp_path, hub_adapter, tiny_model_dir) -> None:
    proc, attempts = run(tmp_path, *app_args(tmp_path), "generate", "--model", str(hub_adapter), "Once upon")
    assert attempts == []
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert_missing_base_message(proc.stderr, hub_adapter)
    proc, attempts = run(tmp_path, *app_args(tmp_path), "generate", "--model", str(tiny_model_dir),
                         "--max-new-tokens", "4", "--seed", "1", "Once upon")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert attempts == []


def test_scan_and_train_stay_offline(tmp_path, hub_adapter, tiny_model_dir) -> None:
    from manuscripts import write_manuscripts

    folder = write_manuscripts(tmp_path / "manuscripts")
    proc, attempts = run(tmp_path, *app_args(tmp_path), "scan", str(folder), "--model", str(hub_adapter))
    assert attempts == [] and "Traceback" not in proc.stderr
    proc, attempts = run(tmp_path, *app_args(tmp_path), "train", str(folder), "--base", str(hub_adapter),
                         "--max-steps", "2", "--json-progress")
    assert attempts == [] and proc.returncode == 1
    error = json.loads(proc.stdout.splitlines()[-1])
    assert error["event"] == "error"
    assert_missing_base_message(error["message"], hub_adapter)
    proc, attempts = run(tmp_path, *app_args(tmp_path), "train", str(folder), "--base", str(tiny_model_dir),
                         "--mode", "full", "--max-steps", "2", "--block-size", "32", "--no-samples",
                         "--output", str(tmp_path / "tuned"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert attempts == []


def test_editor_start_with_an_adapter_on_a_hub_model_stays_offline(tmp_path, hub_adapter) -> None:
    proc, attempts = run(tmp_path, *app_args(tmp_path), "--model", str(hub_adapter), script=GUI_DRIVER)
    assert attempts == []
    assert "MODEL-EVENT failed" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert_missing_base_message(proc.stdout, hub_adapter)


def test_adapter_in_process_fails_clearly_without_connecting(no_network, hub_adapter, app_paths) -> None:
    from cw_desktop.ml.loading import ModelLoadError, load_model

    with pytest.raises(ModelLoadError) as info:
        load_model(str(hub_adapter), app_paths)
    assert_missing_base_message(str(info.value), hub_adapter)


def test_adapter_on_a_local_base_folder_loads(no_network, tiny_model_dir, tmp_path, app_paths) -> None:
    from cw_desktop.ml.loading import load_model

    adapter = make_adapter(tiny_model_dir, tmp_path / "lora-local", str(tiny_model_dir))
    loaded = load_model(str(adapter), app_paths)
    assert not any("lora_" in name for name, _ in loaded.model.named_parameters())  # merged


def test_only_an_explicit_download_may_use_the_network(tmp_path) -> None:
    """`models download` lifts offline mode (and only it): the guard sees it try the hub."""
    proc, attempts = run(tmp_path, *app_args(tmp_path), "models", "download", "distilgpt2", timeout=120)
    assert proc.returncode != 0 and "Could not download" in proc.stderr, proc.stderr[-2000:]
    assert attempts, "the download did not even try the network: offline mode was not lifted"
