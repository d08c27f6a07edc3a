"""15. Per-project LoRA adapters: disk size against a full copy of the model, the time to load one
beside its base, to switch between two, to change the strength, and to merge two, for the tiny test
GPT-2 and the bundled model (SmolLM2-135M), with the trainer's LoRA set-up (r=16, alpha=32, every
linear layer; random weights cost and weigh what trained ones do).

    .venv/bin/python bench/adapters.py [--quick]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import common
from common import Section, median, percentile, table


def make_adapters(base_spec: str, paths, folder: Path, count: int = 2) -> list[Path]:
    import torch
    from peft import LoraConfig, get_peft_model

    from cw_desktop.ml.adapters import save_adapter
    from cw_desktop.ml.loading import load_model

    made = []
    for index in range(count):
        torch.manual_seed(index)
        loaded = load_model(base_spec, paths)
        config = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear",
                            task_type="CAUSAL_LM", init_lora_weights=False)
        out = folder / f"adapter-{index}"
        save_adapter(get_peft_model(loaded.model, config), loaded.tokenizer, out, base_spec)
        made.append(out)
    return made


def measure(label: str, base_spec: str, base_folder: Path, paths, tmp: Path, switches: int) -> tuple[list, dict]:
    from cw_desktop.core.model_registry import folder_size
    from cw_desktop.ml.adapters import AdapterEngine, adapter_name, merge_adapters
    from cw_desktop.ml.loading import load_model

    adapters = make_adapters(base_spec, paths, tmp)
    weights = sum(p.stat().st_size for p in base_folder.iterdir() if p.name in ("model.safetensors",))
    adapter_weights = (adapters[0] / "adapter_model.safetensors").stat().st_size
    started = time.perf_counter()
    engine = AdapterEngine(load_model(base_spec, paths))
    base_load = time.perf_counter() - started
    loads = []
    for folder in adapters:
        started = time.perf_counter()
        engine.load(folder)
        loads.append(time.perf_counter() - started)
    names = [adapter_name(f) for f in adapters]
    switch = [engine.activate(names[i % 2], 1.0) for i in range(switches)]
    strength = []
    for i in range(switches):
        started = time.perf_counter()
        engine.set_strength(0.5 + (i % 3) * 0.4)
        strength.append(time.perf_counter() - started)
    started = time.perf_counter()
    merged = merge_adapters(paths, adapters, [0.5, 0.5], f"{label} blend", output=tmp / "blend")
    merge_s = time.perf_counter() - started
    row = [label, f"{weights / 2**20:.1f} MiB", f"{adapter_weights / 2**20:.2f} MiB",
           f"{adapter_weights / weights:.1%}", f"{folder_size(adapters[0]) / 2**20:.2f} MiB",
           f"{base_load:.2f} s", f"{median(loads) * 1000:.0f} ms",
           f"{median(switch) * 1000:.2f} ms (p90 {percentile(switch, 0.9) * 1000:.2f})",
           f"{median(strength) * 1000:.2f} ms", f"{merge_s:.1f} s ({folder_size(merged) / 2**20:.1f} MiB)"]
    data = {"full_weights_bytes": weights, "adapter_weights_bytes": adapter_weights,
            "adapter_folder_bytes": folder_size(adapters[0]), "base_load_s": base_load, "adapter_load_s": loads,
            "switch_s": switch, "strength_s": strength, "merge_s": merge_s}
    return row, data


def run(quick: bool = False) -> Section:
    import torch

    from cw_desktop.core.paths import AppPaths
    from cw_desktop.ml.loading import resolve_folder
    from cw_desktop.ml.tiny import build_tiny_gpt2

    common.header("adapters")
    torch.set_num_threads(2)
    section = Section("15. Per-project adapters", f".venv/bin/python bench/adapters.py{' --quick' if quick else ''}")
    load_before = common.load_average()
    rows, data = [], {}
    switches = 20 if quick else 100
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        paths = AppPaths.default(data=tmp / "data", cache=AppPaths.default().cache_dir)
        tiny = build_tiny_gpt2(tmp / "tiny", ["The storm broke over the harbour and the boats strained."] * 50,
                               vocab_size=512, n_layer=2, n_head=2, n_embd=64, n_positions=256)
        (tmp / "tiny-adapters").mkdir()
        row, data["tiny"] = measure("tiny GPT-2 (2 layers, 64 wide)", str(tiny), tiny, paths, tmp / "tiny-adapters",
                                    switches)
        rows.append(row)
        bundled, _entry = resolve_folder("bundled", paths)
        (tmp / "bundled-adapters").mkdir()
        row, data["bundled"] = measure("bundled SmolLM2-135M", "bundled", bundled, paths, tmp / "bundled-adapters",
                                       switches)
        rows.append(row)
    section.add("One base in memory, adapters loaded beside it with peft (`ml/adapters.py` AdapterEngine); a switch "
                "points each LoRA layer at the adapter and sets its scaling (peft's own `set_adapter` walks every "
                "module and took ~300 ms for SmolLM2-135M), a strength change only the scaling. "
                f"Sizes are float32 safetensors. 2 torch threads; the machine is shared (load average {load_before} "
                f"at the start, {common.load_average()} at the end): the load and merge times are noisy.\n\n"
                + table(["model", "full copy (weights)", "adapter (weights)", "adapter / full", "adapter folder",
                         "load the base", "load an adapter", f"switch (median of {switches})", "change strength",
                         "merge two (0.5/0.5)"], rows))
    bundled_switch = median(data["bundled"]["switch_s"])
    section.target("switch adapters (bundled model)", "instant (< 50 ms)", f"{bundled_switch * 1000:.2f} ms",
                   bundled_switch < 0.05)
    share = data["bundled"]["adapter_weights_bytes"] / data["bundled"]["full_weights_bytes"]
    section.target("adapter size vs a full copy (bundled)", "small (< 10%)", f"{share:.1%}", share < 0.10)
    section.data = data
    return section


def main() -> None:
    common.bench_main(__doc__, "adapters", lambda args: run(args.quick))


if __name__ == "__main__":
    main()
