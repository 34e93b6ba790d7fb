"""Every kind of input a Python caller gives (lists, NumPy arrays, pandas Series and DataFrames, one string), and
results handed back in the same shape: a pandas input's index kept, a DataFrame's column names never taken for
texts, pipeline-style calls as Hugging Face users expect."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from helpers import TINY, make_negation_data
from sentilstm import SentimentClassifier
from sentilstm.data.inputs import read_texts
from sentilstm.errors import DataError
from sentilstm.estimators.baselines import make_baseline

TEXTS, LABELS = make_negation_data(160, seed=21)
FRAME = pd.DataFrame(
    {"id": np.arange(160), "review": TEXTS, "stars": LABELS}, index=[f"r{i}" for i in range(160)]
).rename(columns={"stars": "sentiment"})


@pytest.fixture(scope="module", params=["lstm", "nbsvm"])
def model(request: pytest.FixtureRequest) -> Any:
    if request.param == "nbsvm":
        return make_baseline("nbsvm").fit(FRAME)  # text and label columns inferred by name
    return SentimentClassifier(**{**TINY, "epochs": 2}).fit(FRAME)


KINDS = {
    "list": lambda: TEXTS[:5],
    "tuple": lambda: tuple(TEXTS[:5]),
    "array": lambda: np.array(TEXTS[:5]),
    "column array": lambda: np.array(TEXTS[:5], dtype=object).reshape(5, 1),
    "series": lambda: pd.Series(TEXTS[:5]),
    "frame": lambda: FRAME.iloc[:5],
    "one-column frame": lambda: FRAME[["review"]].iloc[:5],
    "iterator": lambda: iter(TEXTS[:5]),
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_input_gives_the_same_predictions(model: Any, kind: str) -> None:
    expected = model.predict_proba(TEXTS[:5])
    assert isinstance(expected, np.ndarray) and expected.shape == (5, 2)
    np.testing.assert_allclose(np.asarray(model.predict_proba(KINDS[kind]())), expected, rtol=1e-5)
    assert list(model.predict(KINDS[kind]())) == list(model.predict(TEXTS[:5]))


def test_pandas_inputs_give_pandas_results_on_their_index(model: Any) -> None:
    part = FRAME.iloc[[7, 3, 11]]
    labels = model.predict(part)
    assert isinstance(labels, pd.Series) and list(labels.index) == ["r7", "r3", "r11"] and labels.name == "label"
    proba = model.predict_proba(part["review"])
    assert isinstance(proba, pd.DataFrame) and list(proba.index) == ["r7", "r3", "r11"]
    assert list(proba.columns) == list(model.classes_)  # one column per label, as trained: -1 and 1
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert labels.tolist() == [proba.columns[i] for i in proba.to_numpy().argmax(axis=1)]
    assert model.evaluate(FRAME).num_examples == 160  # labels from the frame's label column


def test_a_frame_without_a_recognisable_text_column_is_a_clear_error(model: Any) -> None:
    frame = pd.DataFrame({"a": TEXTS[:4], "b": TEXTS[4:8]})
    with pytest.raises(
        DataError, match=r"cannot tell which column of X holds the texts among \['a', 'b'\]; pass text_column="
    ):
        model.predict(frame)
    assert len(model.predict(frame, text_column="b")) == 4
    with pytest.raises(DataError, match="text_column 'c' is not a column of X; its columns: \\['a', 'b'\\]"):
        model.predict(frame, text_column="c")
    with pytest.raises(DataError, match="text_column='a' picks a column of a DataFrame, but X is a list"):
        model.predict(TEXTS[:2], text_column="a")
    with pytest.raises(DataError, match=r"X\['text'\]\[1\] is float nan, not a string"):
        model.predict(pd.DataFrame({"text": ["good", np.nan], "n": [1, 2]}))
    with pytest.raises(DataError, match=r"shape \(2, 2\); pass one text per row"):
        model.predict(np.array([["good", "bad"], ["ok", "fine"]]))
    with pytest.raises(DataError, match="y is missing: give the labels, or X as a DataFrame"):
        model.evaluate(TEXTS[:4])
    with pytest.raises(
        DataError, match="cannot tell which column holds the label among .*; name it with label_column="
    ):
        model.evaluate(pd.DataFrame({"review": TEXTS[:4], "x": [1, 2, 3, 4], "z": [1, 2, 3, 4]}))


def test_a_frame_fits_with_named_columns_and_a_frame_validation_split() -> None:
    frame = FRAME.rename(columns={"review": "body_text", "sentiment": "y_true"})
    clf = SentimentClassifier(**{**TINY, "epochs": 1})
    clf.fit(frame.iloc[:120], text_column="body_text", label_column="y_true", validation=FRAME.iloc[120:])
    assert sorted(clf.classes_.tolist()) == [-1, 1] and clf.history_ is not None
    assert clf.metrics_["validation"]["num_examples"] == 40
    with pytest.raises(DataError, match="label_column='y_true' picks a column of X, but y is given too"):
        clf.fit(frame, LABELS, label_column="y_true")


def test_a_pipeline_style_call_gives_labels_and_scores(model: Any) -> None:
    one = model("not good at all")
    assert isinstance(one, list) and len(one) == 1 and set(one[0]) == {"label", "score"}
    assert one[0]["label"] == model.predict(["not good at all"])[0] and type(one[0]["label"]) is int  # JSON-ready
    many = model(["good", "not good"])
    assert [m["label"] for m in many] == model.predict(["good", "not good"]).tolist()
    both = model("good", top_k=None)
    scores = dict(zip(model.classes_.tolist(), model.predict_proba(["good"])[0]))
    assert [b["label"] for b in both] == sorted(scores, key=lambda c: -scores[c])
    assert both[0]["score"] >= both[1]["score"] and abs(sum(b["score"] for b in both) - 1) < 1e-5
    assert [len(x) for x in model(["good", "bad", "ok"], top_k=2)] == [2, 2, 2]
    on_index = model(FRAME["review"].iloc[:3])
    assert isinstance(on_index, pd.Series) and list(on_index.index) == ["r0", "r1", "r2"]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(DataError, match="top_k must be a whole number >= 1 or None"):
            model("good", top_k=bad)


def test_explain_takes_many_texts(model: Any) -> None:
    method = "attention" if isinstance(model, SentimentClassifier) else "lime"
    options = {} if method == "attention" else {"num_samples": 40}
    many = model.explain(FRAME["review"].iloc[:2], method=method, **options)
    assert isinstance(many, pd.Series) and list(many.index) == ["r0", "r1"]
    assert many.iloc[0].text == TEXTS[0] and model.explain([TEXTS[1]], method=method, **options)[0].text == TEXTS[1]


def test_read_table_converts_to_a_frame(tmp_path: Any) -> None:
    from sentilstm import read_table

    path = tmp_path / "reviews.csv"
    FRAME.to_csv(path, index=False)
    table = read_table(path)
    frame = table.to_frame()
    assert list(frame.columns) == ["review", "sentiment"] and frame["review"].tolist() == TEXTS
    assert "160 rows from" in table._repr_html_() and "<table" in table._repr_html_()


def test_read_texts_keeps_what_the_caller_gave() -> None:
    assert read_texts("one").single and read_texts("one").texts == ["one"]
    series = pd.Series(["a", "b"], index=[10, 20])
    assert list(read_texts(series).index) == [10, 20]  # type: ignore[arg-type]
    with pytest.raises(DataError, match="got a single string"):
        SentimentClassifier(**TINY).fit("one text", [1])
