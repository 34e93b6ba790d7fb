"""Training and prediction speed with 1 thread, 2 threads and the automatic choice, on a quiet machine and beside
CPU burners (other processes using the cores, as on a laptop or a shared server).

    python bench/threads.py [--burners 0 2] [--settings two one auto] [--workloads train predict] [--seconds 40]

Each cell runs in a fresh process (OpenMP reads its environment when torch is imported): sentilstm's own training
loop on AfriSenti Igbo tweets (the default BiLSTM-128 + attention, batch 64), then `predict_proba`-style
prediction of the same tweets. Settings:
- `two`: torch's default before issue 14 (2 intra-op threads, OpenMP's default spinning barriers);
- `one`: `--threads 1`;
- `auto`: sentilstm's default now (threads from the CPUs this process may use and that others leave free,
  re-measured while it runs; see `sentilstm.system.threads`);
- `two-passive`: 2 threads with OMP_WAIT_POLICY=PASSIVE (threads sleep at barriers instead of spinning).
A burner is a process spinning on one core for the length of the cell (bounded: killed when the cell ends).
Reads ../shared/data/afrisenti/ig_train.tsv (else synthetic tweet-length texts). Saves bench/results/threads.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
IGBO = ROOT.parent / "shared" / "data" / "afrisenti" / "ig_train.tsv"
SETTINGS: dict[str, dict[str, Any]] = {
    "two": {"threads": 2, "env": {}},
    "one": {"threads": 1, "env": {}},
    "auto": {"threads": None, "env": {}},
    "two-passive": {"threads": 2, "env": {"OMP_WAIT_POLICY": "PASSIVE"}},
}
BURNER = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


# ----- one cell, in its own process ------------------------------------------------------------------------------
def texts_and_labels(limit: int) -> tuple[list[str], list[str], str]:
    if IGBO.exists():
        from sentilstm.data.tables import read_table

        table = read_table(IGBO)
        return table.texts[:limit], [str(x) for x in table.labels[:limit]], f"AfriSenti Igbo train ({IGBO.name})"
    import numpy as np

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(3000)]
    texts = [" ".join(rng.choice(words, size=int(rng.integers(5, 30)))) for _ in range(limit)]
    return texts, [str(int(rng.integers(0, 3))) for _ in texts], "synthetic tweet-length texts"


def run_cell(workload: str, threads: int | None, seconds: float) -> dict[str, Any]:
    """Texts/s of `workload` for about `seconds` of work with `threads` (None: automatic)."""
    import logging

    import numpy as np
    import torch

    from sentilstm.config import ModelConfig, TextConfig, TrainConfig
    from sentilstm.data.labels import LabelMap
    from sentilstm.estimators.inference import predict_probabilities
    from sentilstm.network.model import SentimentNet
    from sentilstm.system.threads import thread_governor
    from sentilstm.text.pipeline import TextPipeline
    from sentilstm.training.loop import EncodedSplit, epoch_batches, run_epoch
    from sentilstm.training.optim import make_optimizer

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    texts, labels, source = texts_and_labels(20_000)
    pipeline, ids = TextPipeline.fit(texts, TextConfig())
    targets = LabelMap.fit(labels).encode(labels)
    torch.manual_seed(0)
    net = SentimentNet(ModelConfig(embedding_rows=pipeline.tokenizer.vocab_size, num_classes=3))
    governor = thread_governor(threads, what=workload)
    done, choices = 0, []
    if workload == "train":
        config = TrainConfig(device="cpu", num_threads=threads)
        data = EncodedSplit(ids, targets)
        lengths = np.array([len(x) for x in ids])
        optimizer = make_optimizer(net, config)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        loss_fn = torch.nn.CrossEntropyLoss()
        rng = np.random.default_rng(0)
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            for batch in epoch_batches(targets, lengths, config, rng):
                run_epoch(
                    net,
                    optimizer,
                    scheduler,
                    loss_fn,
                    data,
                    [batch],
                    config,
                    torch.device("cpu"),
                    "fp32",
                    lambda step, loss: None,
                    governor=governor,
                )
                done += len(batch)
                choices.append(torch.get_num_threads())
                if time.perf_counter() - started >= seconds:
                    break
    else:
        net.eval()
        chunk = 2048
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            for i in range(0, len(ids), chunk):
                predict_probabilities(net, ids[i : i + chunk], device=torch.device("cpu"), governor=governor)
                done += len(ids[i : i + chunk])
                choices.append(torch.get_num_threads())
                if time.perf_counter() - started >= seconds:
                    break
    elapsed = time.perf_counter() - started
    return {
        "texts_per_second": round(done / elapsed, 1),
        "seconds": round(elapsed, 1),
        "texts": done,
        "source": source,
        "threads_used": {str(n): choices.count(n) for n in sorted(set(choices))},
        "switches": [list(s) for s in governor.switches] if governor is not None else [],
    }


# ----- the driver ------------------------------------------------------------------------------------------------
def measure(workload: str, setting: str, burners: int, seconds: float) -> dict[str, Any]:
    """One cell in a fresh process, beside `burners` spinning processes."""
    spec = SETTINGS[setting]
    env = {**os.environ, **spec["env"]}
    env.pop("OMP_NUM_THREADS", None)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    burn = [subprocess.Popen([sys.executable, "-c", BURNER.format(seconds=seconds * 3 + 120)]) for _ in range(burners)]
    try:
        cell = json.dumps({"workload": workload, "threads": spec["threads"], "seconds": seconds})
        done = subprocess.run(
            [sys.executable, __file__, "--cell", cell],
            env=env,
            capture_output=True,
            text=True,
            timeout=seconds * 3 + 120,
        )
    finally:
        for process in burn:
            process.kill()
            process.wait()
    if done.returncode != 0:
        raise RuntimeError(f"cell {workload}/{setting}/{burners} failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    chosen = [line for line in done.stderr.splitlines() if "thread" in line]
    return {"workload": workload, "setting": setting, "burners": burners, **result, "log": chosen[:6]}


def markdown(rows: list[dict[str, Any]], machine: str) -> str:
    lines = [
        f"# Threads on a quiet and a busy machine ({rows[0]['source']})",
        "",
        f"Machine: {machine}",
        "",
        "texts/s; `burners` = other processes spinning on the cores during the cell.",
        "",
        "| workload | burners | " + " | ".join(dict.fromkeys(r["setting"] for r in rows)) + " | auto / two |",
        "|---|---|" + "---|" * (len(dict.fromkeys(r["setting"] for r in rows)) + 1),
    ]
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    for workload in dict.fromkeys(r["workload"] for r in rows):
        for burners in dict.fromkeys(r["burners"] for r in rows):
            cells = {r["setting"]: r for r in rows if r["workload"] == workload and r["burners"] == burners}
            if not cells:
                continue
            values = [f"{cells[s]['texts_per_second']:.0f}" if s in cells else "" for s in settings]
            ratio = (
                f"{cells['auto']['texts_per_second'] / cells['two']['texts_per_second']:.2f}x"
                if "auto" in cells and "two" in cells
                else ""
            )
            lines.append(f"| {workload} | {burners} | " + " | ".join(values) + f" | {ratio} |")
    lines += ["", "Threads the automatic setting used (steps per thread count) and its switches:", ""]
    for r in rows:
        if r["setting"] == "auto":
            lines.append(f"- {r['workload']}, {r['burners']} burners: {r['threads_used']}; switches {r['switches']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", help=argparse.SUPPRESS)
    parser.add_argument("--burners", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--settings", nargs="+", default=["two", "one", "auto"], choices=list(SETTINGS))
    parser.add_argument("--workloads", nargs="+", default=["train", "predict"], choices=["train", "predict"])
    parser.add_argument("--seconds", type=float, default=40.0, help="work per cell")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "threads.json")
    args = parser.parse_args(argv)
    if args.cell:
        cell = json.loads(args.cell)
        print(json.dumps(run_cell(cell["workload"], cell["threads"], cell["seconds"])))
        return 0
    rows = []
    for workload in args.workloads:
        for burners in args.burners:
            for setting in args.settings:  # interleaved, so slow drifts of the host hit every setting alike
                row = measure(workload, setting, burners, args.seconds)
                rows.append(row)
                print(
                    f"{workload:8s} burners={burners} {setting:12s} {row['texts_per_second']:8.0f} texts/s "
                    f"threads {row['threads_used']} {row['switches'] or ''}",
                    flush=True,
                )
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(
        json.dumps({"machine": machine, "date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}, indent=2)
    )
    args.results.with_suffix(".md").write_text(markdown(rows, machine))
    print(f"saved {args.results.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
