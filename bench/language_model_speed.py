"""The `--lm` part of bench/train_speed.py: how fast language-model pretraining runs, and where a step's time goes.

    python bench/train_speed.py --lm [--reviews 4096] [--threads 2] [--precision fp32 bf16]

For each setting, one untimed pass builds oneDNN's primitives, then the same batches are timed three ways:
the whole pretraining step (`pretrain_language_model`'s: loss, backward, clipping, AdamW), and the same step with a
stand-in loss in place of the adaptive softmax (embeddings and both LSTM directions, forward and backward, clipping,
AdamW): the softmax's share is the time the step saves without it. Useful GFLOP/s count real tokens only.
"""

from __future__ import annotations

import itertools
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sentilstm.config import ModelConfig
from sentilstm.network.model import SentimentNet, length_mask
from sentilstm.system.device import autocast
from sentilstm.training import language_model
from sentilstm.training.batching import bucketed_batches, collate
from sentilstm.training.language_model import LanguageModelHead, frequency_ranks, language_model_loss

RESULTS = Path(__file__).resolve().parent / "results"
HIDDEN = EMBEDDING = 128


def _timed(batches: list[np.ndarray], step: Any) -> float:
    started = time.perf_counter()
    for batch in batches:
        step(batch)
    return time.perf_counter() - started


def measure(
    ids: list[np.ndarray], vocab: int, threads: int, precision: str, batch_size: int, share: float = 1.0
) -> dict[str, Any]:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = SentimentNet(ModelConfig(embedding_rows=vocab, num_classes=2, embedding_dim=EMBEDDING, hidden_size=HIDDEN))
    head = LanguageModelHead(HIDDEN, frequency_ranks(ids, vocab))
    parameters = [*net.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=1e-3)
    lengths = np.array([len(x) for x in ids])
    batches = bucketed_batches(lengths, batch_size, 50, np.random.default_rng(0))
    device = torch.device("cpu")
    net.train()

    def whole(batch: np.ndarray) -> None:
        x, n = collate(ids, batch, device)
        with autocast(device, precision):
            total, count = language_model_loss(net, head, x, n, share)
        optimizer.zero_grad(set_to_none=True)
        (total.float() / count).backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()

    def encoder(batch: np.ndarray) -> None:  # the same step with a stand-in loss: what the softmax costs is the gap
        x, n = collate(ids, batch, device)
        with autocast(device, precision):
            forward, backward = net.language_model_states(x, n)
        assert backward is not None
        mask = length_mask(n, x.shape[1])[..., None]
        optimizer.zero_grad(set_to_none=True)
        ((forward.float() * mask).mean() + (backward.float() * mask).mean()).backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()

    _timed(batches, whole)  # builds oneDNN's primitives for every shape
    seconds = {name: _timed(batches, step) for name, step in (("step", whole), ("encoder", encoder))}
    tokens = int(lengths.sum())
    predictions = 2 * int((lengths - 1).sum())
    lstm_flops = 2 * 4 * HIDDEN * (EMBEDDING + HIDDEN) * 3 * 2 * tokens  # multiply-adds x2, fwd+bwd x3, 2 directions
    cutoff = head.cutoffs[0] if head.cutoffs else vocab
    softmax_flops = 2 * HIDDEN * (cutoff + len(head.cutoffs)) * 3 * predictions * share  # the head's, scored ones
    return {
        "threads": threads,
        "precision": precision,
        "predict_share": share,
        "tokens_per_second": round(tokens / seconds["step"]),
        "predictions_per_second": round(predictions / seconds["step"]),
        "step_seconds": round(seconds["step"], 2),
        "encoder_share": round(min(1.0, seconds["encoder"] / seconds["step"]), 3),
        "softmax_share": round(max(0.0, 1 - seconds["encoder"] / seconds["step"]), 3),
        "useful_gflops": round((lstm_flops + softmax_flops) / seconds["step"] / 1e9, 1),
        "cutoffs": head.cutoffs,
    }


def lm_main(args: Any, ids: list[np.ndarray], vocab: int, source: str, matmul_peak: Any) -> None:
    lengths = np.array([len(x) for x in ids])
    print(f"data: {source}; {len(ids)} texts, mean {lengths.mean():.0f} tokens, vocabulary {vocab:,}")
    rows = []
    heads = [tuple(int(c) for c in h.split(",")) for h in args.heads] if args.heads else [language_model.HEAD_WORDS]
    for threads, precision, head, share in itertools.product(args.threads, args.precision, heads, args.shares):
        peak = matmul_peak(threads)
        language_model.HEAD_WORDS = head  # the cutoffs LanguageModelHead takes (kept only where they fit)
        row = measure(ids, vocab, threads, precision, args.batch_size, share)
        row["matmul_fp32_gflops"] = round(peak, 1)
        row["fraction_of_matmul_peak"] = round(row["useful_gflops"] / peak, 3)
        rows.append(row)
        print(
            f"threads={threads} {precision} cutoffs {row['cutoffs']} share {share:g}: "
            f"{row['tokens_per_second']:,} tokens/s, "
            f"{row['useful_gflops']:.0f} useful GFLOP/s ({100 * row['fraction_of_matmul_peak']:.0f}% of {peak:.0f}); "
            f"step: encoder {100 * row['encoder_share']:.0f}%, softmax {100 * row['softmax_share']:.0f}%",
            flush=True,
        )
    result = {
        "source": source,
        "texts": len(ids),
        "mean_tokens": float(lengths.mean()),
        "vocabulary": vocab,
        "batch_size": args.batch_size,
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "rows": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = args.lm_out or RESULTS / "train_speed_lm"
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    lines = [
        f"# Language-model pretraining speed: BiLSTM-128 encoder + adaptive softmax, {len(ids)} texts ({source}), "
        f"mean {lengths.mean():.0f} tokens, vocabulary {vocab:,}",
        "",
        f"Produced by `python bench/train_speed.py {' '.join(sys.argv[1:])}`. "
        "Shares of a step on the same batches: encoder = the step "
        "with a stand-in loss (embeddings, both LSTM directions, clipping, AdamW, collation); softmax = what the "
        "adaptive softmax adds.",
        "",
        "| threads | precision | softmax cutoffs | predictions scored | tokens/s | useful GFLOP/s | fp32 matmul peak "
        "| of peak | encoder | softmax |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['threads']} | {r['precision']} | {r['cutoffs']} | {r.get('predict_share', 1.0):g} "
        f"| {r['tokens_per_second']:,} | "
        f"{r['useful_gflops']:.0f} | "
        f"{r['matmul_fp32_gflops']:.0f} | {100 * r['fraction_of_matmul_peak']:.0f}% | "
        f"{100 * r['encoder_share']:.0f}% | {100 * r['softmax_share']:.0f}% |"
        for r in rows
    ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"saved {out.with_suffix('.md')}")
