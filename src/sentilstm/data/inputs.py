"""What Python callers may pass as texts, and results handed back in the shape the texts came in.

    given = read_texts(frame, "X")                 # a list, tuple, NumPy array, pandas Series or DataFrame, one string
    given.texts                                    # list[str], checked
    as_labels(given, labels); as_probabilities(given, p, classes)   # a Series / DataFrame on a pandas input's index

A DataFrame's texts are one of its columns: `text_column=`, else the only column, else a column with a usual name
("text", "review", "tweet", ...), else its only column of strings; anything else is a DataError listing the columns,
so a frame's column names are never taken for texts. A pandas input's index is kept on the results.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sentilstm.data.labels import Label, check_labels, check_texts
from sentilstm.data.tables import TEXT_NAMES, column_list, frame_to_table
from sentilstm.errors import DataError


@dataclass(frozen=True)
class GivenTexts:
    """Texts as a list, with what the caller gave them as: a pandas index to keep, or one bare string."""

    texts: list[str]
    index: pd.Index | None = None
    single: bool = False


def read_texts(X: Any, name: str = "X", *, text_column: str | None = None) -> GivenTexts:
    """The texts in `X` (DataError naming `name` and the fix when they are not texts)."""
    if isinstance(X, str):
        return GivenTexts([X], single=True)
    if isinstance(X, pd.DataFrame):
        column = frame_text_column(X, text_column, name)
        return GivenTexts(check_texts(X[column], f"{name}[{column!r}]"), X.index)
    if text_column is not None:
        raise DataError(
            f"text_column={text_column!r} picks a column of a DataFrame, but {name} is a {type(X).__name__}; "
            "pass the DataFrame, or drop text_column"
        )
    if isinstance(X, pd.Series):
        return GivenTexts(check_texts(X, name), X.index)
    if isinstance(X, np.ndarray):
        rows = X[:, 0] if X.ndim == 2 and X.shape[1] == 1 else X
        if rows.ndim != 1:
            raise DataError(f"{name} is a NumPy array of shape {X.shape}; pass one text per row: shape (n,) or (n, 1)")
        return GivenTexts(check_texts(rows.tolist(), name))
    return GivenTexts(check_texts(X, name))


def frame_text_column(frame: pd.DataFrame, text_column: str | None, name: str = "X") -> Any:
    """The column of `frame` that holds the texts (see the module's docstring)."""
    columns = list(frame.columns)
    if text_column is not None:
        found = [c for c in columns if str(c) == str(text_column)]
        if not found:
            raise DataError(
                f"text_column {text_column!r} is not a column of {name}; its columns: {column_list(columns)}"
            )
        return found[0]
    if len(columns) == 1:
        return columns[0]
    lowered = {str(c).lower(): c for c in columns}
    named = [lowered[n] for n in TEXT_NAMES if n in lowered]
    if named:
        return named[0]
    strings = [c for c in columns if pd.api.types.is_string_dtype(frame[c]) and frame[c].map(_is_text).all()]
    if len(strings) == 1:
        return strings[0]
    raise DataError(
        f"cannot tell which column of {name} holds the texts among {column_list(columns)}; "
        f"pass text_column=NAME, or one column ({name}[['text']])"
    )


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def read_labelled(
    X: Any, y: Iterable[Label] | None, *, text_column: str | None = None, label_column: str | None = None
) -> tuple[list[str], list[Label]]:
    """Texts and labels: `X` and `y`, or with `y` None the text and label columns of the DataFrame `X` (rows with
    an empty text or a missing label dropped, with a warning, as from a file)."""
    if y is None:
        if not isinstance(X, pd.DataFrame):
            raise DataError(
                f"y is missing: give the labels, or X as a DataFrame with a label column (X is a {type(X).__name__})"
            )
        table = frame_to_table(X, text_column=text_column, label_column=label_column, source="X", python=True)
        assert table.labels is not None  # need_label
        return table.texts, table.labels
    if label_column is not None:
        raise DataError(f"label_column={label_column!r} picks a column of X, but y is given too; drop one of them")
    given = read_texts(X, "X", text_column=text_column)
    if given.single:  # training or scoring on one text is a mistake: name it
        check_texts(X, "X")
    texts, labels = given.texts, check_labels(y, "y")
    if len(texts) != len(labels):
        raise DataError(f"X has {len(texts)} texts but y has {len(labels)} labels; they must match")
    return texts, labels


def as_labels(given: GivenTexts, labels: np.ndarray) -> np.ndarray | pd.Series:
    """`labels` as a Series on a pandas input's index, else as they are."""
    return labels if given.index is None else pd.Series(labels, index=given.index, name="label")


def as_probabilities(given: GivenTexts, probabilities: np.ndarray, classes: Iterable[Any]) -> np.ndarray | pd.DataFrame:
    """`probabilities` as a DataFrame (one column per class) on a pandas input's index, else as they are."""
    if given.index is None:
        return probabilities
    return pd.DataFrame(probabilities, index=given.index, columns=list(classes))


def as_results(given: GivenTexts, results: list[Any]) -> list[Any] | pd.Series:
    """One result per text (explanations, pipeline-style dicts) as a Series on a pandas input's index, else a list."""
    return results if given.index is None else pd.Series(results, index=given.index, dtype=object)


__all__ = [
    "GivenTexts",
    "as_labels",
    "as_probabilities",
    "as_results",
    "frame_text_column",
    "read_labelled",
    "read_texts",
]
