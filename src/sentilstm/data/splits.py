"""Checks across the tables of one run (training, validation, test), before any training.

check_test_labels(train, validation, test)   # DataError: a test label the model could never predict
labels = labels_of(table)                    # DataError: a table without a label column
"""

from __future__ import annotations

from sentilstm.data.labels import Label, LabelMap
from sentilstm.data.tables import Table
from sentilstm.errors import DataError


def labels_of(table: Table) -> list[Label]:
    """The labels of a training, validation or test table, which must have them."""
    if table.labels is None:  # e.g. the validation split of a dataset's local copy (--dataset-path) without labels
        raise DataError(f"{table.source} has no label column; training, validation and test tables need labels")
    return table.labels


def check_test_labels(train: Table, validation: Table | None, test: Table | None, *, name: str = "test") -> None:
    """A test label the training data lacks can never be predicted: say so before training (`name`: how the test
    table was given, e.g. "--test")."""
    if test is None:
        return
    known = LabelMap.fit(labels_of(train) + (labels_of(validation) if validation is not None else []))
    try:
        known.encode(labels_of(test))
    except DataError as exc:  # "labels [...] were not seen in training; this model knows [...]"
        raise DataError(
            f"{name} {test.source}: {exc}; a model can never predict those: check the files and the label column"
        ) from None


__all__ = ["check_test_labels", "labels_of"]
