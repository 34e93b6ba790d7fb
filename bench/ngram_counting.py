"""How fast the linear models count their n-grams: a dict lookup per n-gram (the general counter) against word
n-grams looked up as integer keys (`sentilstm.estimators.ngrams.WordNgramIndex`), on the vocabularies the blend's
partners use.

    python bench/ngram_counting.py        # IMDB (NBSVM's word 1-3-grams) and AfriSenti Igbo (TF-IDF LR's words)
    python bench/ngram_counting.py --repeats 7 --batches 1 64 1000

Each vocabulary is fitted on the dataset's training split as the partner fits it (min_df 2), then both counters count
the same normalised development texts in batches of each size, alternating (A, B, A, B, ...) so load on the shared
machine hits both alike; the figure is the median over repeats of microseconds per text, on 1 thread. The two
counters' matrices are checked equal. Writes bench/results/ngram_counting.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from blend_dev import development_split  # bench/ is scripts, not a package
from sentilstm.config import TextConfig
from sentilstm.estimators.ngrams import Features, WordNgramIndex, _TermCounter
from sentilstm.text.normalize import Normalizer

RESULTS = Path(__file__).parent / "results"
# dataset -> the word block of its blend partner: NBSVM's 1-3-grams (IMDB), TF-IDF LR's 1-2-grams (tweets)
VOCABULARIES = {"imdb": (1, 3), "afrisenti-ig": (1, 2)}


def per_text(counter: Any, texts: list[str], batch: int) -> float:
    """Seconds per text to count `texts` in batches of `batch`."""
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        counter.counts(texts[start : start + batch])
    return (time.perf_counter() - started) / len(texts)


def measure(name: str, data_dir: Path | None, batches: list[int], repeats: int, limit: int) -> dict[str, Any]:
    train, dev = development_split(name, data_dir)
    normalize = Normalizer(TextConfig()).batch
    ngrams = VOCABULARIES[name]
    started = time.perf_counter()
    features, _ = Features.fit(normalize(train.texts), "word", ngrams, min_df=2, max_features=None, idf=False)
    fit_seconds = time.perf_counter() - started
    texts = normalize(dev.texts[:limit])
    tracemalloc.start()
    general = _TermCounter(features.terms, "word", ngrams)
    dict_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    tracemalloc.start()
    started = time.perf_counter()
    keyed = WordNgramIndex.build(features.terms, ngrams)
    build_seconds = time.perf_counter() - started
    index_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert keyed is not None, f"{name}: the vocabulary's keys do not fit in 63 bits"
    assert (general.counts(texts) != keyed.counts(texts)).nnz == 0, "the two counters disagree"
    row: dict[str, Any] = {
        "dataset": name,
        "ngram_range": list(ngrams),
        "terms": len(features.terms),
        "words": len(keyed.words),
        "texts": len(texts),
        "ngrams_per_text": float(np.mean([len(general.analyze(t)) for t in texts])),
        "vocabulary_fit_seconds": fit_seconds,
        "index_build_seconds": build_seconds,
        "dict_megabytes": dict_bytes / 2**20,  # what each counter holds beyond the terms themselves
        "index_megabytes": index_bytes / 2**20,
        "batches": {},
    }
    for batch in batches:
        times: dict[str, list[float]] = {"dict": [], "integer_keys": []}
        for _ in range(repeats):
            times["dict"].append(per_text(general, texts, batch))
            times["integer_keys"].append(per_text(keyed, texts, batch))
        medians = {way: statistics.median(values) * 1e6 for way, values in times.items()}
        row["batches"][str(batch)] = {**medians, "speedup": medians["dict"] / medians["integer_keys"]}
        print(f"{name} batch {batch}: dict {medians['dict']:.0f} us/text, integer keys {medians['integer_keys']:.0f}")
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(VOCABULARIES), choices=list(VOCABULARIES))
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).parents[2] / "shared" / "data")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 64, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--texts", type=int, default=2000, help="development texts counted (default 2,000)")
    parser.add_argument("--out", type=Path, default=RESULTS / "ngram_counting")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    data_dir = args.data_dir if args.data_dir.exists() else None
    rows = [measure(name, data_dir, args.batches, args.repeats, args.texts) for name in args.datasets]
    lines = [
        "# Counting the linear partner's word n-grams",
        "",
        f"Command: `python bench/ngram_counting.py {' '.join(argv if argv is not None else sys.argv[1:])}`".rstrip(),
        "",
        "Microseconds per normalised development text, 1 thread, median of "
        f"{args.repeats} alternating runs on a shared 2-core machine (read the ratios). Both counters' matrices "
        "are checked equal. Memory: what each counter allocates beyond the terms (tracemalloc).",
        "",
        "| dataset | word n-grams | terms | n-grams a text | index build | memory: dict / index | batch | dict "
        "| integer keys | speed-up |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        for batch, cell in row["batches"].items():
            lines.append(
                f"| {row['dataset']} | {row['ngram_range'][0]}-{row['ngram_range'][1]} | {row['terms']:,} "
                f"| {row['ngrams_per_text']:.0f} | {row['index_build_seconds']:.2f} s "
                f"| {row['dict_megabytes']:.1f} / {row['index_megabytes']:.1f} MB "
                f"| {batch} | {cell['dict']:.0f} | {cell['integer_keys']:.0f} | {cell['speedup']:.1f}x |"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
