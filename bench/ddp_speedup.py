"""Data-parallel training speed-up on this machine: 2 processes x 1 thread (DDP, gloo) vs 1 process x 2 threads.

    python bench/ddp_speedup.py [--datasets imdb igbo] [--imdb-reviews 4096] [--epochs 2] [--repeats 1]

Runs the real `sentilstm train` command end to end for both settings, with the same data, seed, options and
global batch size (--batch-size 64: the two processes take 32 texts of each batch). Reports the training
reviews/s of the last epoch (the train loop only, as EpochStats.samples_per_second: the first epoch also builds
oneDNN primitives), the epoch wall time, and the whole command's wall time (start-up, tokenizer, validation,
saving). The machine is shared: the 1-minute load average before and after each run is recorded. Data: an IMDB
train subset (BiLSTM-128 on ~230-token reviews) and AfriSenti Igbo train/dev (short tweets), from
../shared/data. Saves bench/results/ddp_speedup.{json,md}.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SETTINGS = {  # name -> (extra CLI options, OMP_NUM_THREADS); both use the same 2 cores
    "1 process x 2 threads": (["--threads", "2"], "2"),
    "2 processes x 1 thread": (["--nproc-per-node", "2"], "1"),
}


def imdb_subset(count: int, seed: int, folder: Path) -> tuple[list[str], str]:
    """A random `count`-review subset of IMDB train written as CSV; (DATA arguments, description)."""
    import csv

    with gzip.open(DATA / "imdb" / "train.csv.gz", "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    pick = np.random.default_rng(seed).choice(len(rows), size=min(count, len(rows)), replace=False)
    path = folder / "imdb_subset.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows((rows[i]["text"], rows[i]["label"]) for i in pick)
    return [str(path)], f"IMDB train, {len(pick)} random reviews (90% train, 10% validation hold-out)"


def igbo() -> tuple[list[str], str]:
    folder = DATA / "afrisenti"
    return [
        str(folder / "ig_train.tsv"),
        "--validation",
        str(folder / "ig_dev.tsv"),
    ], "AfriSenti Igbo train (10,192 tweets), dev as validation"


def run(data_args: list[str], extra: list[str], threads: str, epochs: int, batch_size: int, folder: Path) -> dict:
    """One `sentilstm train` run; its last epoch's speed from the saved model's history, plus wall time and load."""
    from sentilstm import load_model

    out = folder / "model.sentilstm"
    out.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "sentilstm",
        "train",
        *data_args,
        "--epochs",
        str(epochs),
        "--patience",
        str(epochs),
        "--batch-size",
        str(batch_size),
        "--blend",
        "none",
        "--no-report",
        "--device",
        "cpu",
        "--precision",
        "fp32",
        "--seed",
        "0",
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": threads}
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=folder)
    wall = time.perf_counter() - started
    load_after = os.getloadavg()[0]
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    history = load_model(out).history_
    last = history.epochs[-1]
    return {
        "reviews_per_second": round(last.samples_per_second, 1),
        "epoch_seconds": round(last.seconds, 2),
        "first_epoch_reviews_per_second": round(history.epochs[0].samples_per_second, 1),
        "steps_per_epoch": last.steps,
        "val_macro_f1": round(last.val_macro_f1, 4),
        "command_seconds": round(wall, 1),
        "load_before": round(load_before, 2),
        "load_after": round(load_after, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["imdb", "igbo"], choices=["imdb", "igbo"])
    parser.add_argument("--imdb-reviews", type=int, default=4096, help="IMDB reviews in the subset")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch size, the same for both settings")
    parser.add_argument("--repeats", type=int, default=1, help="runs per setting, alternating; medians are reported")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for name in args.datasets:
            data_args, source = imdb_subset(args.imdb_reviews, 0, folder) if name == "imdb" else igbo()
            runs: dict[str, list[dict]] = {setting: [] for setting in SETTINGS}
            for _ in range(args.repeats):
                for setting, (extra, threads) in SETTINGS.items():
                    row = run(data_args, extra, threads, args.epochs, args.batch_size, folder)
                    runs[setting].append(row)
                    print(
                        f"{name}, {setting}: {row['reviews_per_second']:.0f} reviews/s, "
                        f"epoch {row['epoch_seconds']:.1f} s, command {row['command_seconds']:.0f} s, "
                        f"load {row['load_before']:.2f} -> {row['load_after']:.2f}",
                        flush=True,
                    )
            summary = {
                setting: {key: float(np.median([r[key] for r in rows])) for key in rows[0]}
                for setting, rows in runs.items()
            }
            one, two = (summary[s]["reviews_per_second"] for s in SETTINGS)
            results.append(
                {"dataset": name, "source": source, "runs": runs, "median": summary, "speedup": round(two / one, 3)}
            )
            print(f"{name}: 2 processes x 1 thread / 1 process x 2 threads = {two / one:.2f}x", flush=True)
    result = {
        "command": "python bench/ddp_speedup.py " + " ".join(sys.argv[1:]),
        "conditions": f"{args.epochs} epochs, global batch {args.batch_size}, BiLSTM-128 + attention (defaults), fp32, "
        f"seed 0, --blend none; last epoch's training reviews/s; median of {args.repeats} run(s) per "
        "setting; machine shared with other users (1-min load average recorded per run)",
        "machine": f"{platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores, "
        f"torch {torch.__version__}, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "results": results,
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ddp_speedup.json").write_text(json.dumps(result, indent=2))
    lines = [
        "# DDP speed-up: 2 processes x 1 thread vs 1 process x 2 threads, same 2 cores",
        "",
        f"`{result['command']}`; {result['conditions']}.",
        f"Machine: {result['machine']}; {result['date']}.",
        "",
        "| data | setting | reviews/s (last epoch) | epoch s | reviews/s (epoch 1) | steps/epoch | val macro-F1 | "
        "command s | load avg before -> after | speed-up |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for item in results:
        for setting, m in item["median"].items():
            speedup = f"**{item['speedup']:.2f}x**" if setting.startswith("2") else "1.00x"
            lines.append(
                f"| {item['dataset']} | {setting} | {m['reviews_per_second']:.0f} | {m['epoch_seconds']:.1f} | "
                f"{m['first_epoch_reviews_per_second']:.0f} | {m['steps_per_epoch']:.0f} | {m['val_macro_f1']:.4f} | "
                f"{m['command_seconds']:.0f} | {m['load_before']:.2f} -> {m['load_after']:.2f} | {speedup} |"
            )
    lines += ["", *(f"- {item['dataset']}: {item['source']}" for item in results)]
    (out / "ddp_speedup.md").write_text("\n".join(lines) + "\n")
    print(f"saved {out / 'ddp_speedup.md'}")


if __name__ == "__main__":
    main()
