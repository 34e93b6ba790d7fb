"""Training throughput of the default BiLSTM-128 (embedding 128, attention pooling) on IMDB-length reviews.

    python bench/train_speed.py [--reviews 4096] [--threads 2 1] [--precision fp32 bf16]
    python bench/train_speed.py --lm [--reviews 4096] [--threads 2] [--precision fp32 bf16] [--heads 500,2500 2000]
    python bench/train_speed.py --lm --shares 1 0.5 0.25   # the softmax scoring a share of the predictions

`--lm` times language-model pretraining instead (`pretrain="lm"`, sentilstm.training.language_model): tokens/s,
useful GFLOP/s (the two LSTM directions and the adaptive softmax) against the matmul peak, and the share of a step
each part takes, timed apart on the same batches (encoder forward + backward; softmax forward + backward on states
of the same size; the rest: optimiser, clipping, collation). Saves bench/results/train_speed_lm.{json,md}.

Runs sentilstm's own training loop (length-bucketed batches, AdamW, clipping, schedule) for two epochs per
setting and prints the second epoch's reviews/s (the first also pays for building oneDNN primitives) and useful
LSTM GFLOP/s (real tokens only, forward + backward) beside the machine's float32 matmul peak measured in the same
run. Reads ../shared/data/imdb/train.csv.gz when present, else synthesises IMDB-like lengths. Saves
bench/results/train_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from sentilstm.config import ModelConfig, TextConfig, TrainConfig
from sentilstm.network.model import SentimentNet
from sentilstm.system.device import bf16_supported
from sentilstm.training.loop import EncodedSplit, fit

ROOT = Path(__file__).resolve().parents[1]
IMDB = ROOT.parent / "shared" / "data" / "imdb" / "train.csv.gz"


def matmul_peak(threads: int, size: int = 2048, repeats: int = 10) -> float:
    """Median fp32 GFLOP/s of a size x size matmul with `threads` threads."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * size**3 / float(np.median(times)) / 1e9


def load_reviews(count: int, max_length: int, seed: int) -> tuple[list[np.ndarray], np.ndarray, int, str]:
    """Token ids of `count` reviews (IMDB when available), their labels, the vocabulary size and the source."""
    rng = np.random.default_rng(seed)
    if IMDB.exists():
        from sentilstm.data.labels import LabelMap
        from sentilstm.data.tables import read_table
        from sentilstm.text.pipeline import TextPipeline

        table = read_table(IMDB)
        pick = rng.choice(len(table), size=min(count, len(table)), replace=False)
        texts = [table.texts[i] for i in pick]
        pipeline, ids = TextPipeline.fit(texts, TextConfig(max_length=max_length))
        labels = LabelMap.fit(table.labels).encode([table.labels[i] for i in pick])
        return ids, labels, pipeline.tokenizer.vocab_size, f"IMDB train ({IMDB})"
    lengths = np.clip(rng.lognormal(5.35, 0.6, size=count).astype(int), 10, max_length)
    ids = [rng.integers(2, 20_000, size=n) for n in lengths]
    return ids, rng.integers(0, 2, size=count), 20_000, "synthetic lognormal(5.35, 0.6) lengths"


def measure(ids, labels, vocab: int, threads: int, precision: str, batch_size: int) -> dict:
    torch.set_num_threads(threads)
    model_config = ModelConfig(
        embedding_rows=vocab, num_classes=2, embedding_dim=128, hidden_size=128, pooling="attention"
    )
    net = SentimentNet(model_config)
    validation = EncodedSplit(ids[:64], labels[:64])
    train = EncodedSplit(ids, labels)
    config = TrainConfig(
        epochs=2, patience=2, batch_size=batch_size, precision=precision, device="cpu", num_threads=threads
    )
    first, stats = fit(net, train, validation, config, labels=[0, 1]).epochs  # epoch 2: oneDNN primitives cached
    tokens = int(sum(len(x) for x in ids))
    flops_per_token = 2 * 4 * 128 * (128 + 128) * 3 * 2  # 2*4H(E+H) multiply-adds, x3 fwd+bwd, x2 directions
    return {
        "threads": threads,
        "precision": precision,
        "reviews_per_second": round(stats.samples_per_second, 1),
        "first_epoch_reviews_per_second": round(first.samples_per_second, 1),
        "seconds": round(stats.seconds, 2),
        "useful_lstm_gflops": round(flops_per_token * tokens / stats.seconds / 1e9, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=4096, help="reviews per timed epoch")
    parser.add_argument("--max-length", type=int, default=400, help="truncate reviews to this many tokens")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lm", action="store_true", help="time language-model pretraining (see above)")
    parser.add_argument(
        "--heads",
        nargs="+",
        default=None,
        help="--lm: adaptive-softmax cutoffs to compare, e.g. 500,2500 2000,10000 (default: the library's)",
    )
    parser.add_argument("--lm-out", type=Path, default=None, help="--lm: results path without suffix")
    parser.add_argument(
        "--shares",
        nargs="+",
        type=float,
        default=[1.0],
        help="--lm: pretrain_predict_share values to compare, e.g. 1 0.5 0.25 (the share of predictions scored)",
    )
    args = parser.parse_args()
    if "bf16" in args.precision and not bf16_supported(torch.device("cpu")):
        # sentilstm would train in fp32 instead (and PyTorch's oneDNN LSTM refuses bf16 here): no bf16 row to time
        print("bf16 skipped: this CPU has no native bf16 (AVX512-BF16 or AMX)")
        args.precision = [p for p in args.precision if p != "bf16"]
    ids, labels, vocab, source = load_reviews(args.reviews, args.max_length, args.seed)
    if args.lm:
        from language_model_speed import lm_main  # bench/language_model_speed.py

        lm_main(args, ids, vocab, source, matmul_peak)
        return
    lengths = np.array([len(x) for x in ids])
    print(f"data: {source}; {len(ids)} reviews, mean {lengths.mean():.0f} tokens, max {lengths.max()}")
    rows = []
    for threads in args.threads:
        peak = matmul_peak(threads)
        for precision in args.precision:
            row = measure(ids, labels, vocab, threads, precision, args.batch_size)
            row["matmul_fp32_gflops"] = round(peak, 1)
            row["fraction_of_matmul_peak"] = round(row["useful_lstm_gflops"] / peak, 3)
            rows.append(row)
            print(
                f"threads={threads} {precision}: {row['reviews_per_second']:.0f} reviews/s, "
                f"{row['useful_lstm_gflops']:.0f} useful LSTM GFLOP/s "
                f"({100 * row['fraction_of_matmul_peak']:.0f}% of the {peak:.0f} GFLOP/s fp32 matmul peak)",
                flush=True,
            )
    result = {
        "source": source,
        "reviews": len(ids),
        "mean_tokens": float(lengths.mean()),
        "batch_size": args.batch_size,
        "machine": (
            f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads max, "
            f"torch {torch.__version__}"
        ),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "rows": rows,
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_speed.json").write_text(json.dumps(result, indent=2))
    lines = [
        f"# Training speed: BiLSTM-128 + attention, {len(ids)} reviews ({source}), mean {lengths.mean():.0f} tokens",
        "",
        "| threads | precision | reviews/s (epoch 2) | reviews/s (epoch 1) | useful LSTM GFLOP/s | "
        "fp32 matmul peak GFLOP/s | fraction of peak |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['threads']} | {r['precision']} | {r['reviews_per_second']:.0f} | "
        f"{r['first_epoch_reviews_per_second']:.0f} | "
        f"{r['useful_lstm_gflops']:.0f} | "
        f"{r['matmul_fp32_gflops']:.0f} | {100 * r['fraction_of_matmul_peak']:.0f}% |"
        for r in rows
    ]
    (out / "train_speed.md").write_text("\n".join(lines) + "\n")
    print(f"saved {out / 'train_speed.md'}")


if __name__ == "__main__":
    main()
