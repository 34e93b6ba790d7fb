"""What scoring only a share of the language model's predictions buys: validation perplexity against pretraining time.

    python bench/lm_predict_share.py                                  # 4,000 IMDB training + 4,000 unlabelled reviews
    python bench/lm_predict_share.py --runs 1:1 0.25:1 0.25:2 0.5:2   # share:epochs pairs

Each run pretrains the default BiLSTM-128 encoder (`pretrain_language_model`, sentilstm's tokenizer and vocabulary
fitted on the corpus) from the same initial weights on the same corpus, with `pretrain_predict_share` = share for
that many epochs, and reports the validation perplexity (every prediction scored; 500 held-out training reviews)
and the pretraining seconds. Runs alternate on a shared machine: read the times as ratios within one table.
Writes bench/results/lm_predict_share.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sentilstm import load_dataset
from sentilstm.config import ModelConfig, TextConfig, TrainConfig
from sentilstm.network.model import SentimentNet
from sentilstm.text.pipeline import TextPipeline
from sentilstm.training.language_model import pretrain_language_model

RESULTS = Path(__file__).parent / "results"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb"


def corpus(reviews: int, unlabeled: int) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    """Encoded training + unlabelled reviews, 500 held-out training reviews, and the vocabulary's size."""
    splits = load_dataset("imdb", path=DATA if DATA.exists() else None)
    rng = np.random.default_rng(0)
    train = [splits.train.texts[i] for i in rng.permutation(len(splits.train.texts))[: reviews + 500]]
    extra = list(splits.unlabeled or [])[:unlabeled]
    pipeline, ids = TextPipeline.fit(train[500:] + extra, TextConfig())
    return ids, pipeline.encode(train[:500]), pipeline.tokenizer.vocab_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviews", type=int, default=4000, help="IMDB training reviews in the corpus")
    parser.add_argument("--unlabeled", type=int, default=4000, help="IMDB unlabelled reviews in the corpus")
    parser.add_argument("--runs", nargs="+", default=["1:1", "0.5:1", "0.25:1", "0.5:2", "0.25:2"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "lm_predict_share")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    texts, validation, rows = corpus(args.reviews, args.unlabeled)
    torch.manual_seed(0)
    start = SentimentNet(ModelConfig(embedding_rows=rows, num_classes=2)).state_dict()
    results = []
    for run in args.runs:
        share, epochs = float(run.split(":")[0]), int(run.split(":")[1])
        net = SentimentNet(ModelConfig(embedding_rows=rows, num_classes=2))
        net.load_state_dict(start)
        config = TrainConfig(
            pretrain="lm", pretrain_epochs=epochs, pretrain_predict_share=share, num_threads=args.threads
        )
        started = time.perf_counter()
        record = pretrain_language_model(net, texts, validation, config)
        seconds = time.perf_counter() - started
        last = record.epochs[-1].to_dict()
        results.append(
            {
                "share": share,
                "epochs": epochs,
                "seconds": seconds,
                "validation_perplexity": last["validation_perplexity"],
                "tokens_per_second": sum(e.read for e in record.epochs) / sum(e.seconds for e in record.epochs),
            }
        )
        print(
            f"share {share:g}, {epochs} epochs: perplexity {last['validation_perplexity']:.1f}, {seconds:.0f} s",
            flush=True,
        )
    lines = [
        "# Language-model pretraining: scoring a share of the predictions",
        "",
        f"Command: `python bench/lm_predict_share.py {' '.join(argv if argv is not None else sys.argv[1:])}`".rstrip(),
        "",
        f"Corpus: {args.reviews:,} IMDB training + {args.unlabeled:,} unlabelled reviews ({len(texts):,} texts), "
        f"vocabulary {rows:,}; validation perplexity on 500 held-out training reviews, every prediction scored. "
        f"BiLSTM-128 encoder, same initial weights, {args.threads} thread(s), shared machine (read time ratios).",
        "",
        "| predict share | epochs | validation perplexity | seconds | tokens/s |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['share']:g} | {r['epochs']} | {r['validation_perplexity']:.1f} | {r['seconds']:.0f} "
        f"| {r['tokens_per_second']:,.0f} |"
        for r in results
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1))
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
