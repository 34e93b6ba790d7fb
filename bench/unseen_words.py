"""How many development-split tokens the word tokenizer maps to [UNK]: the words a word-level embedding cannot see.

    python bench/unseen_words.py                 # the ten AfriSenti languages and SST-2
    python bench/unseen_words.py --datasets afrisenti-ig

The tokenizer is fitted on the training split exactly as `sentilstm train` fits it (the default TextConfig:
min_frequency 2, at most 30,000 words), then with min_frequency 1 (every training word kept). Whatever is still
[UNK] with min_frequency 1 was never seen in training: only character n-grams computed from the token itself
(not a per-vocabulary table) can give it a vector. Writes bench/results/unseen_words.{json,md}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from sentilstm.config import MAX_LENGTH, TextConfig
from sentilstm.text.pipeline import TextPipeline
from sentilstm.text.tokenizers import UNK_ID

sys.path.insert(0, str(Path(__file__).parent))
from blend_dev import DEFAULT_DATASETS, development_split  # bench/ is scripts, not a package

RESULTS = Path(__file__).parent / "results"


def unseen_rate(train_texts: list[str], dev_texts: list[str], min_frequency: int) -> float:
    """Percentage of development tokens (before truncation) that are [UNK] for a tokenizer fitted on train."""
    config = dataclasses.replace(TextConfig(), min_frequency=min_frequency, max_length=MAX_LENGTH)
    pipeline, _ = TextPipeline.fit(train_texts, config)
    ids = np.concatenate(pipeline.encode(dev_texts))
    return 100.0 * float(np.mean(ids == UNK_ID))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS))
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).parents[2] / "shared" / "data")
    parser.add_argument("--out", type=Path, default=RESULTS / "unseen_words")
    args = parser.parse_args(argv)
    data_dir = args.data_dir if args.data_dir.exists() else None
    rows = {}
    for name in args.datasets:
        train, dev = development_split(name, data_dir)
        rows[name] = {f"min_frequency_{m}": unseen_rate(train.texts, dev.texts, m) for m in (2, 1)}
        print(name, {k: round(v, 1) for k, v in rows[name].items()}, flush=True)
    lines = [
        "# Development tokens the word tokenizer cannot see",
        "",
        "Command: `python bench/unseen_words.py`. Percentage of development-split tokens mapped to [UNK] by the",
        "default word tokenizer fitted on the training split.",
        "",
        "| dataset | [UNK], default (min_frequency 2) | [UNK], every training word kept (min_frequency 1) |",
        "|---|---|---|",
        *(f"| {n} | {r['min_frequency_2']:.1f}% | {r['min_frequency_1']:.1f}% |" for n, r in rows.items()),
    ]
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
