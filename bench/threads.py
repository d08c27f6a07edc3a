"""0. Thread wait policy: one decoding step of the bundled model (1,000-token context) under the
OpenMP settings that matter on a small shared CPU, each in a fresh process (libgomp reads its
environment once, when torch loads), measured alternately in the same run.

cw_desktop/__init__.py sets OMP_WAIT_POLICY=PASSIVE before torch is imported; this shows why.

    .venv/bin/python bench/threads.py [--quick]
"""

from __future__ import annotations


import common
from common import Section, median, ms, table

STEP = """
import json, os, sys, time
os.environ.pop("OMP_WAIT_POLICY", None) if {policy!r} == "spin (OpenMP default)" else None
import torch
torch.set_num_threads({threads})
from transformers import AutoModelForCausalLM, DynamicCache
from cw_desktop.ml.loading import bundled_folder
from cw_desktop.core.paths import AppPaths
model = AutoModelForCausalLM.from_pretrained(bundled_folder(AppPaths.default(data={data!r})), dtype=torch.float32).eval()
ids = torch.randint(100, 40000, (1, 1000), generator=torch.Generator().manual_seed(0))
times = []
with torch.inference_mode():
    cache = DynamicCache(config=model.config)
    model(input_ids=ids, cache=cache, use_cache=True, logits_to_keep=1)
    for _ in range(3 + {steps}):
        started = time.perf_counter()
        model(input_ids=ids[:, :1], cache=cache, use_cache=True)
        times.append(time.perf_counter() - started)
        cache.crop(-1)
print(json.dumps({{"steps": times[3:], "policy": os.environ.get("OMP_WAIT_POLICY"), "threads": torch.get_num_threads()}}))
"""

VARIANTS = [("spin (OpenMP default)", 2), ("PASSIVE (cw_desktop's setting)", 2), ("PASSIVE (cw_desktop's setting)", 1)]


def run(quick: bool = False) -> Section:
    common.header("threads")
    steps = 10 if quick else 20
    rounds = 1 if quick else 2
    section = Section("0. Thread wait policy", f".venv/bin/python bench/threads.py{' --quick' if quick else ''}")
    times: dict[tuple[str, int], list[float]] = {v: [] for v in VARIANTS}
    for _ in range(rounds):
        for policy, threads in VARIANTS:
            env = {"OMP_WAIT_POLICY": "PASSIVE"} if policy.startswith("PASSIVE") else {}
            code = "import cw_desktop\n" + STEP.format(policy=policy, threads=threads, steps=steps,
                                                       data=str(common.SHARED_DATA))
            times[(policy, threads)] += common.run_python(code, env=env)["steps"]
    base = median(times[VARIANTS[0]])
    rows = [[policy, threads, ms(median(t)), ms(max(t)), f"{base / median(t):.2f}x"]
            for (policy, threads), t in times.items()]
    section.add(f"One decoding step of SmolLM2-135M after 1,000 tokens; {steps * rounds} steps per variant, "
                f"variants alternated; load average at the start {common.load_average()}:\n\n"
                + table(["OpenMP wait policy", "torch threads", "step median", "max", "speed vs default"], rows))
    section.data = {f"{p} / {t}": v for (p, t), v in times.items()}
    return section


def main() -> None:
    common.bench_main(__doc__, "threads", lambda args: run(args.quick))


if __name__ == "__main__":
    main()
