"""What subword (character n-gram) embeddings and ensembles cost: parameters and memory of the n-gram table,
training speed, prediction speed (PyTorch and ONNX Runtime int8) and model file size, against one word-vector network.

    python bench/subword_cost.py                          # AfriSenti Igbo tweets and 2,000 IMDB reviews
    python bench/subword_cost.py --buckets 20000 100000   # other table sizes
    python bench/subword_cost.py --buckets 100000 --ensemble 3 --out bench/results/ensemble_cost   # + ensembles of 3

Each configuration trains one epoch of the default network (BiLSTM-128 + attention, blend off) on the same texts
with the same seed and 2 threads, then predicts the development texts. Speeds come from one run each on a shared
machine: read the ratios to the word-only row of the same table, measured in the same run.
Writes bench/results/subword_cost.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from blend_dev import development_split  # bench/ is scripts, not a package
from sentilstm import SentimentClassifier
from sentilstm.network.ensemble import members
from sentilstm.onnx.export import export_onnx
from sentilstm.onnx.runner import OnnxNetwork

RESULTS = Path(__file__).parent / "results"
DATASETS = {"afrisenti-ig": None, "imdb": 2000}  # name -> training texts kept (None: all)


def measure(train: Any, dev_texts: list[str], settings: dict[str, Any], folder: Path) -> dict[str, Any]:
    """One epoch of training and a prediction pass with `settings`; sizes, speeds and the n-gram table's share."""
    clf = SentimentClassifier(epochs=1, blend=None, num_threads=2, seed=0, **settings)
    started = time.perf_counter()
    clf.fit(train.texts, train.labels)
    fit_seconds = time.perf_counter() - started
    epoch = clf.history_.epochs[0]
    started = time.perf_counter()
    clf.predict_proba(dev_texts)
    torch_seconds = time.perf_counter() - started
    path = clf.save(folder / "model.sentilstm")
    export_onnx(clf, folder / "model.int8.onnx", quantize="int8")
    runner = OnnxNetwork(folder / "model.int8.onnx", threads=2)
    encoded = clf.pipeline_.encode(dev_texts)
    started = time.perf_counter()
    runner(encoded)
    onnx_seconds = time.perf_counter() - started
    tables = [net.ngram_embedding for net in members(clf.model_) if net.ngram_embedding is not None]
    ngram_parameters = sum(table.weight.numel() for table in tables)
    return {
        "settings": settings,
        "parameters": sum(p.numel() for p in clf.model_.parameters()),
        "ngram_parameters": ngram_parameters,
        "ngram_table_mb": ngram_parameters * 4 / 1e6,
        "file_mb": os.path.getsize(path) / 1e6,
        "onnx_int8_mb": os.path.getsize(folder / "model.int8.onnx") / 1e6,
        "train_texts_per_s": epoch.samples_per_second,  # the first network's epoch
        "fit_seconds": fit_seconds,  # everything: tokenizer, every network's epoch, validation
        "predict_texts_per_s": len(dev_texts) / torch_seconds,
        "onnx_int8_texts_per_s": len(dev_texts) / onnx_seconds,
        "columns_per_token": float(sum(x.shape[1] if x.ndim == 2 else 1 for x in encoded) / len(encoded)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--buckets", nargs="+", type=int, default=[20_000, 100_000, 500_000])
    parser.add_argument("--ngrams", default="2-5")
    parser.add_argument("--ensemble", type=int, nargs="*", default=[], help="ensemble sizes to add (words, subwords)")
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).parents[2] / "shared" / "data")
    parser.add_argument("--out", type=Path, default=RESULTS / "subword_cost")
    args = parser.parse_args(argv)
    data_dir = args.data_dir if args.data_dir.exists() else None
    variants: list[dict[str, Any]] = [{}] + [{"char_ngrams": args.ngrams, "ngram_buckets": b} for b in args.buckets]
    variants += [{**v, "ensemble": k} for k in args.ensemble for v in variants[:2]]  # words, first bucket count
    rows: dict[str, list[dict[str, Any]]] = {}
    for name in args.datasets:
        train, dev = development_split(name, data_dir)
        keep = DATASETS.get(name)
        if keep is not None:  # spread over the split: its rows may be sorted by label
            rows_kept = np.linspace(0, len(train.texts) - 1, keep).astype(int)
            train = SimpleNamespace(
                texts=[train.texts[i] for i in rows_kept], labels=[train.labels[i] for i in rows_kept]
            )
        dev_texts = [dev.texts[i] for i in np.linspace(0, len(dev.texts) - 1, min(2000, len(dev.texts))).astype(int)]
        rows[name] = []
        for settings in variants:
            with tempfile.TemporaryDirectory() as folder:
                row = measure(train, dev_texts, settings, Path(folder))
            rows[name].append(row)
            print(name, json.dumps({k: v for k, v in row.items() if k != "settings"}), settings, flush=True)
    lines = [
        "# What subword embeddings and ensembles cost",
        "",
        f"Command: `python bench/subword_cost.py {' '.join(argv if argv is not None else sys.argv[1:])}`. One epoch of "
        "the default network (blend off, 2 threads; each member of an ensemble) per row;",
        "prediction over up to 2,000 development texts. Speeds are one run each on a shared machine: compare each",
        "row with the word-only row of its own table. n-gram columns: the mean width of a text's ids array.",
        "",
    ]
    for name, table in rows.items():
        base = table[0]
        lines += [
            f"## {name}",
            "",
            "| network | n-gram table | parameters | model file | ONNX int8 file | train texts/s (first network) | "
            "predict texts/s (PyTorch) | ONNX int8 texts/s | ids columns per token | fit (one epoch a network) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in table:
            s = row["settings"]
            label = (
                f"words + n-grams {s['char_ngrams']}, {s['ngram_buckets']:,} buckets" if "char_ngrams" in s else "words"
            ) + (f", ensemble of {s['ensemble']}" if "ensemble" in s else "")
            speeds = " | ".join(
                f"{row[key]:.0f} ({row[key] / base[key]:.2f}x)"
                for key in ("train_texts_per_s", "predict_texts_per_s", "onnx_int8_texts_per_s")
            )
            fit = (
                f"{row['fit_seconds']:.0f} s ({row['fit_seconds'] / base['fit_seconds']:.2f}x)"
                if "fit_seconds" in row
                else ""
            )
            lines.append(
                f"| {label} | {row['ngram_table_mb']:.1f} MB | {row['parameters'] / 1e6:.2f}M | {row['file_mb']:.1f} MB"
                f" | {row['onnx_int8_mb']:.1f} MB | {speeds} | {row['columns_per_token']:.1f} | {fit} |"
            )
        lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    args.out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
