"""sentilstm.data.tables: reading tables in every format, column inference, row dropping, labels, splits, writing."""

from __future__ import annotations

import gc
import gzip
import json
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentilstm.data.labels import LabelMap, stratified_split
from sentilstm.data.tables import read_table
from sentilstm.data.writer import TableWriter
from sentilstm.errors import DataError

TEXTS = ["a good film, truly", 'he said "wow', "caf\u00e9 \u00fcber \U0001f600", "plain bad"]
LABELS = [1, 0, 1, 0]


def _write(path: Path, frame: pd.DataFrame) -> Path:
    """Write `frame` in the format named by `path` (csv/tsv/jsonl/parquet, optionally .gz) with pandas/json."""
    gzipped = path.suffix == ".gz"
    fmt = (path.with_suffix("") if gzipped else path).suffix
    if fmt == ".parquet":
        import io

        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        data = buffer.getvalue()
    elif fmt == ".jsonl":
        data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in frame.to_dict("records")).encode()
    elif fmt == ".csv":
        data = frame.to_csv(index=False).encode()
    else:  # TSV as AfriSenti writes it: no quoting at all, bare quotes in the text
        lines = ["\t".join(frame.columns)] + ["\t".join(str(v) for v in row) for row in frame.itertuples(index=False)]
        data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gzipped else data)
    return path


FORMATS = ["csv", "tsv", "jsonl", "parquet", "csv.gz", "tsv.gz", "jsonl.gz", "parquet.gz"]


# ----- reading ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("ext", FORMATS)
def test_read_table_every_format(tmp_path: Path, ext: str) -> None:
    path = _write(tmp_path / f"reviews.{ext}", pd.DataFrame({"text": TEXTS, "label": LABELS}))
    table = read_table(path)
    assert table.texts == TEXTS
    assert table.labels == LABELS
    assert (table.text_column, table.label_column, table.dropped) == ("text", "label", 0)


@pytest.mark.parametrize("ext", ["tab", "ndjson"])
def test_read_table_extension_aliases(tmp_path: Path, ext: str) -> None:
    frame = pd.DataFrame({"text": TEXTS, "label": LABELS})
    path = _write(tmp_path / f"reviews.{'tsv' if ext == 'tab' else 'jsonl'}", frame).rename(tmp_path / f"r.{ext}")
    assert read_table(path).texts == TEXTS


def test_tsv_keeps_bare_quotes(tmp_path: Path) -> None:
    path = tmp_path / "ig.tsv"
    path.write_text('tweet\tlabel\n"quoted" at the start\tpositive\nan open " quote\tnegative\n')
    table = read_table(path)
    assert table.texts == ['"quoted" at the start', 'an open " quote']
    assert table.labels == ["positive", "negative"]


def test_tsv_quoting_can_be_turned_on(tmp_path: Path) -> None:
    path = tmp_path / "quoted.tsv"
    path.write_text('text\tlabel\n"has\ttab"\t1\nplain\t0\n')
    assert read_table(path, quoting=True).texts == ["has\ttab", "plain"]


def test_columns_inferred_by_name_case_insensitively(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": ["1", "2"], "Review": ["good", "bad"], "Sentiment": ["pos", "neg"]})
    path = _write(tmp_path / "x.csv", frame)
    table = read_table(path)
    assert (table.text_column, table.label_column) == ("Review", "Sentiment")
    assert table.texts == ["good", "bad"] and table.labels == ["pos", "neg"]


@pytest.mark.parametrize("ext", ["csv", "jsonl"])  # pandas >= 3 reads text as StringDtype, not object
def test_single_remaining_text_column_is_inferred(tmp_path: Path, ext: str) -> None:
    path = _write(tmp_path / f"x.{ext}", pd.DataFrame({"words": ["good", "bad"], "label": [1, 0]}))
    assert read_table(path).text_column == "words"


def test_single_remaining_label_column_is_inferred(tmp_path: Path) -> None:
    path = _write(tmp_path / "y.csv", pd.DataFrame({"text": ["good", "bad"], "stars": [5, 1]}))
    table = read_table(path)
    assert table.label_column == "stars" and table.labels == [5, 1]


def test_need_label_false_reads_texts_only(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.jsonl", pd.DataFrame({"text": ["good", "bad"]}))
    table = read_table(path, need_label=False)
    assert table.texts == ["good", "bad"] and table.labels is None and table.label_column is None


def test_ambiguous_columns_raise_listing_them(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.csv", pd.DataFrame({"alpha": ["a"], "beta": ["b"], "gamma": ["c"]}))
    with pytest.raises(DataError, match="text") as info:
        read_table(path)
    assert all(name in str(info.value) for name in ("alpha", "beta", "gamma"))


def test_ambiguous_label_column_raises_listing_them(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.csv", pd.DataFrame({"text": ["a"], "stars": ["1"], "votes": ["2"]}))
    with pytest.raises(DataError, match="label") as info:
        read_table(path)
    assert "stars" in str(info.value) and "votes" in str(info.value)


def test_explicit_missing_column_raises(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.csv", pd.DataFrame({"text": ["a", "b"], "label": [1, 0]}))
    with pytest.raises(DataError, match="'tweet'.*not found.*'text', 'label'"):
        read_table(path, text_column="tweet")
    with pytest.raises(DataError, match="'polarity'"):
        read_table(path, label_column="polarity")


def test_same_text_and_label_column_raises(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.csv", pd.DataFrame({"text": ["a", "b"], "label": [1, 0]}))
    with pytest.raises(DataError, match="both"):
        read_table(path, text_column="text", label_column="text")


def test_empty_file_raises(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        read_table(tmp_path / "empty.csv")


@pytest.mark.parametrize("ext", ["csv", "tsv", "csv.gz"])
def test_header_only_file_raises(tmp_path: Path, ext: str) -> None:
    path = _write(tmp_path / f"h.{ext}", pd.DataFrame({"text": [], "label": []}))
    with pytest.raises(DataError, match="no rows"):
        read_table(path)


def test_zero_row_parquet_raises_data_error(tmp_path: Path) -> None:
    frame = pd.DataFrame({"text": pd.Series([], dtype=str), "label": pd.Series([], dtype=int)})
    path = _write(tmp_path / "h.parquet", frame)
    with pytest.raises(DataError, match="no rows"):
        read_table(path)


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_table(tmp_path / "nope.csv")


@pytest.mark.parametrize("name", ["notes.doc", "noextension", "data.gz", "data.xlsx.gz"])
def test_unknown_extension_raises(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("text,label\na,1\n")
    with pytest.raises(DataError, match="cannot tell the format"):
        read_table(tmp_path / name)


def test_folder_raises(tmp_path: Path) -> None:
    (tmp_path / "data.csv").mkdir()
    with pytest.raises(DataError, match="folder"):
        read_table(tmp_path / "data.csv")


def test_corrupt_gzip_raises(tmp_path: Path) -> None:
    (tmp_path / "x.csv.gz").write_bytes(b"this is not gzip at all")
    with pytest.raises(DataError, match="could not read"):
        read_table(tmp_path / "x.csv.gz")


def test_invalid_jsonl_line_raises_with_line_number(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_text('{"text": "good", "label": 1}\n{broken\n')
    with pytest.raises(DataError, match="line 2"):
        read_table(tmp_path / "x.jsonl")


@pytest.mark.parametrize("first", [True, False])
@pytest.mark.parametrize(
    "line, reason",
    [
        ("[" * 200_000 + "]" * 200_000, "is nested too deeply to read"),
        ('{"text": "a", "label": ' + "9" * 5000 + "}", "is not valid JSON"),
    ],
)
def test_a_jsonl_line_json_cannot_parse_is_a_data_error(tmp_path: Path, first: bool, line: str, reason: str) -> None:
    good = '{"text": "good", "label": 1}'
    (tmp_path / "x.jsonl").write_text(f"{line}\n{good}\n" if first else f"{good}\n{line}\n")
    with pytest.raises(DataError, match=f"line {1 if first else 2} {reason}.*; fix or remove that line"):
        read_table(tmp_path / "x.jsonl")


@pytest.mark.parametrize("path", [None, 3, ["a.csv"], "a\x00b.csv"])
def test_a_value_that_is_no_path_is_a_data_error(path: object) -> None:
    with pytest.raises(DataError, match="a data file must be a file path \\(a str or pathlib.Path\\), got "):
        read_table(path)  # type: ignore[arg-type]


@pytest.mark.parametrize("ext", ["csv", "jsonl"])
def test_rows_with_empty_text_or_missing_label_are_dropped_with_warning(
    tmp_path: Path, ext: str, caplog: pytest.LogCaptureFixture
) -> None:
    frame = pd.DataFrame({"text": ["good", "", "bad", "   ", "fine"], "label": [1.0, 0.0, np.nan, 1.0, 0.0]})
    path = _write(tmp_path / f"x.{ext}", frame)
    with caplog.at_level(logging.WARNING, logger="sentilstm.data.tables"):
        table = read_table(path)
    assert table.texts == ["good", "fine"]
    assert table.labels == [1, 0]
    assert table.dropped == 3
    assert "dropped 3 of 5 rows" in caplog.text


def test_all_rows_unusable_raises(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("text,label\n,1\ngood,\n")
    with pytest.raises(DataError, match="no usable rows"):
        read_table(tmp_path / "x.csv")


def test_invalid_utf8_is_replaced_and_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "x.csv").write_bytes(b"text,label\ncaf\xe9 good,1\nfine \xff\xfe,0\n")
    with caplog.at_level(logging.WARNING, logger="sentilstm.data.tables"):
        table = read_table(tmp_path / "x.csv")
    assert table.texts == ["caf\ufffd good", "fine \ufffd\ufffd"]
    assert "3 byte(s)" in caplog.text


def test_explicit_encoding_decodes_without_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "x.tsv").write_bytes(b"text\tlabel\ncaf\xe9 good\t1\nfine\t0\n")
    with caplog.at_level(logging.WARNING, logger="sentilstm.data.tables"):
        table = read_table(tmp_path / "x.tsv", encoding="latin-1")
    assert table.texts[0] == "caf\u00e9 good"
    assert "U+FFFD" not in caplog.text


@pytest.mark.parametrize("ext", ["csv", "tsv"])
def test_one_megabyte_cell_is_read(tmp_path: Path, ext: str) -> None:
    big = "word " * 200_000 + "end"
    path = _write(tmp_path / f"big.{ext}", pd.DataFrame({"text": [big, "short"], "label": [1, 0]}))
    table = read_table(path)
    assert table.texts == [big, "short"] and table.labels == [1, 0]


def test_numeric_labels_are_canonical(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("text,label\na,1.0\nb,0.0\nc,-1\nd, 1 \n")
    assert read_table(tmp_path / "x.csv").labels == [1, 0, -1, 1]


def test_string_labels_that_look_mixed_become_strings(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("text,label\na,pos\nb,1\n")  # a CSV's cells are all text
    assert read_table(tmp_path / "x.csv").labels == ["pos", "1"]


@pytest.mark.parametrize(
    "rows, message",
    [
        (
            '{"text": "a", "label": "pos"}\n{"text": "b", "label": 1}\n',
            r"label column 'label' mixes strings \(row 1: 'pos'\) and numbers \(row 2: 1\)",
        ),
        ('{"text": "a", "label": true}\n{"text": "b", "label": 0}\n', r"label column 'label' mixes booleans"),
        (
            '{"text": "a", "label": 1}\n{"text": "b", "label": [1, 2]}\n',
            r"label column 'label' holds a nested value at row 2",
        ),
        ('{"text": "a", "label": 1}\n{"text": 12, "label": 0}\n', r"text column 'text' holds a number at row 2 \(12\)"),
        (
            '{"text": "a", "label": 1}\n{"text": {"x": "b"}, "label": 0}\n',
            r"text column 'text' holds a nested value at row 2",
        ),
    ],
)
def test_mixed_or_nested_jsonl_columns_are_errors_naming_the_column(tmp_path: Path, rows: str, message: str) -> None:
    (tmp_path / "x.jsonl").write_text(rows)
    with pytest.raises(DataError, match=message):
        read_table(tmp_path / "x.jsonl")


def test_nested_parquet_column_is_an_error_naming_it(tmp_path: Path) -> None:
    frame = pd.DataFrame({"text": [["a", "b"], ["c"]], "label": [1, 0]})
    frame.to_parquet(tmp_path / "x.parquet")
    with pytest.raises(DataError, match=r"text column 'text' holds a nested value at row 1"):
        read_table(tmp_path / "x.parquet")
    pd.DataFrame({"text": ["a", "b"], "label": [{"v": 1}, {"v": 0}]}).to_parquet(tmp_path / "y.parquet")
    with pytest.raises(DataError, match=r"label column 'label' holds a nested value at row 1"):
        read_table(tmp_path / "y.parquet")


# ----- LabelMap --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "values, expected",
    [
        ([1, -1, 0, 1], [-1, 0, 1]),
        ([1.0, 0.0, 1.0], [0, 1]),
        (["1", "0"], [0, 1]),
        (["pos", "neg", "pos"], ["neg", "pos"]),
        (["positive", "neutral", "negative"], ["negative", "neutral", "positive"]),
        (np.array([2, 0, 1]), [0, 1, 2]),
    ],
)
def test_label_map_sorts_and_round_trips(values: list, expected: list) -> None:
    label_map = LabelMap.fit(values)
    assert label_map.labels == expected and len(label_map) == len(expected)
    ids = label_map.encode(values)
    assert ids.dtype == np.int64 and ids.min() == 0 and ids.max() == len(expected) - 1
    decoded = label_map.decode(ids)
    assert set(decoded) == set(expected)
    assert label_map.encode(decoded).tolist() == ids.tolist()
    assert [type(v) for v in decoded] == [type(expected[0])] * len(decoded)


def test_label_map_float_labels_come_back_as_ints() -> None:
    label_map = LabelMap.fit([1.0, 0.0])
    assert label_map.decode(label_map.encode([1.0, 0.0, 1])) == [1, 0, 1]
    assert all(type(v) is int for v in label_map.labels)


def test_label_map_encodes_equivalent_spellings() -> None:
    label_map = LabelMap.fit([-1, 1])
    assert label_map.encode(["-1", 1.0, np.int64(1), " 1 "]).tolist() == [0, 1, 1, 1]


def test_label_map_unknown_label_raises_naming_it() -> None:
    label_map = LabelMap.fit(["positive", "negative"])
    with pytest.raises(DataError, match="'meh'.*not seen in training.*'negative', 'positive'"):
        label_map.encode(["positive", "meh"])


@pytest.mark.parametrize("values", [[1, 1, 1], ["pos"], [1.0, 1]])
def test_label_map_single_class_raises(values: list) -> None:
    with pytest.raises(DataError, match="only one label"):
        LabelMap.fit(values)


def test_label_map_counts() -> None:
    label_map = LabelMap.fit(["a", "b", "c"])
    assert label_map.counts(["a", "a", "c"]) == {"a": 2, "b": 0, "c": 1}


# ----- stratified_split ------------------------------------------------------------------------------
def test_stratified_split_keeps_proportions_and_partitions() -> None:
    labels = np.array([0] * 600 + [1] * 300 + [2] * 100)
    train, validation = stratified_split(labels, 0.2, seed=3)
    assert sorted(np.concatenate([train, validation]).tolist()) == list(range(1000))
    assert np.bincount(labels[validation]).tolist() == [120, 60, 20]
    assert np.all(np.diff(train) > 0) and np.all(np.diff(validation) > 0)


def test_stratified_split_is_seeded() -> None:
    labels = np.random.default_rng(0).integers(0, 3, size=500)
    first = stratified_split(labels, 0.1, seed=7)
    again = stratified_split(labels, 0.1, seed=7)
    other = stratified_split(labels, 0.1, seed=8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[1], other[1])


def test_stratified_split_keeps_rare_classes_in_train() -> None:
    labels = np.array([0] * 50 + [1])
    train, validation = stratified_split(labels, 0.2, seed=0)
    assert 50 in train and 50 not in validation


def test_stratified_split_too_small_raises() -> None:
    with pytest.raises(DataError, match="too small"):
        stratified_split(np.array([0, 1]), 0.1, seed=0)


# ----- TableWriter -----------------------------------------------------------------------------------
def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("ext", FORMATS)
def test_table_writer_round_trips_and_is_atomic(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"scored.{ext}"
    writer = TableWriter(path)
    writer.write(pd.DataFrame({"text": ["good film", "bad film"], "label": [1, 0]}))
    writer.write(pd.DataFrame({"text": ["ok, fine"], "label": [1]}))
    assert not path.exists() and len(_leftovers(tmp_path)) == 1  # only a hidden temporary so far
    assert writer.close() == path
    assert _leftovers(tmp_path) == []
    table = read_table(path)
    assert table.texts == ["good film", "bad film", "ok, fine"] and table.labels == [1, 0, 1]


def test_csv_cells_with_a_lone_carriage_return_stay_one_row(tmp_path: Path) -> None:
    """Python's csv module (before 3.13) leaves "a\rb" unquoted, and readers split the row there; a cell starting
    after the \r with "=" would then be a formula of its own row."""
    path = tmp_path / "scored.csv"
    writer = TableWriter(path)
    writer.write(pd.DataFrame({"text": ["fine", "ok\r=cmd()"], "label": [1, 0]}))
    writer.write(pd.DataFrame({"text": ["plain"], "label": [1]}))
    writer.close()
    table = read_table(path)
    assert table.texts == ["fine", "ok\r=cmd()", "plain"] and table.labels == [1, 0, 1]


def _write_and_abort(path: Path, monkeypatch: pytest.MonkeyPatch) -> list:
    """Write a chunk, abort, collect the writer; return the errors Python could not raise (e.g. in __del__)."""
    errors: list = []
    monkeypatch.setattr(sys, "unraisablehook", errors.append)
    writer = TableWriter(path)
    writer.write(pd.DataFrame({"text": ["good film"], "label": [1]}))
    writer.abort()
    del writer
    gc.collect()
    return errors


@pytest.mark.parametrize("ext", ["csv", "tsv", "jsonl", "parquet", "csv.gz", "parquet.gz"])
def test_table_writer_abort_leaves_nothing(tmp_path: Path, ext: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_and_abort(tmp_path / f"scored.{ext}", monkeypatch)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("ext", ["parquet", "parquet.gz", "csv.gz"])
def test_table_writer_abort_closes_every_stream_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ext: str
) -> None:
    errors = _write_and_abort(tmp_path / f"scored.{ext}", monkeypatch)
    assert [repr(e.exc_value) for e in errors] == []


def test_table_writer_abort_keeps_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "scored.csv"
    path.write_text("text,label\nold,1\n")
    writer = TableWriter(path)
    writer.write(pd.DataFrame({"text": ["new"], "label": [0]}))
    writer.abort()
    assert path.read_text() == "text,label\nold,1\n" and _leftovers(tmp_path) == []


def test_table_writer_missing_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        TableWriter(tmp_path / "missing" / "scored.csv")


def test_table_writer_unknown_extension_raises(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot tell the format"):
        TableWriter(tmp_path / "scored.xlsx")
    assert list(tmp_path.iterdir()) == []


SPECIAL = ['say "hi"', r"back\slash", "comma, here", "caf\u00e9 \U0001f600"]


@pytest.mark.parametrize("ext", ["csv", "tsv", "jsonl", "parquet", "tsv.gz"])
def test_table_writer_round_trips_quotes_and_backslashes(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"scored.{ext}"
    writer = TableWriter(path)
    writer.write(pd.DataFrame({"text": SPECIAL, "label": [1, 0, 1, 0]}))
    writer.close()
    assert read_table(path).texts == SPECIAL


def test_table_writer_tsv_turns_tabs_and_line_breaks_into_spaces(tmp_path: Path) -> None:
    path = tmp_path / "scored.tsv"
    writer = TableWriter(path)
    writer.write(pd.DataFrame({"text": ["tab\there", "new\nline\r\nend", None], "label": [1, 0, 1]}))
    writer.close()
    assert path.read_text().splitlines() == ["text\tlabel", "tab here\t1", "new line  end\t0", "\t1"]


def test_table_writer_parquet_rejects_a_column_that_changes_type(tmp_path: Path) -> None:
    writer = TableWriter(tmp_path / "scored.parquet")
    writer.write(pd.DataFrame({"text": ["good"], "label": [1]}))
    with pytest.raises(DataError, match="changes type"):
        writer.write(pd.DataFrame({"text": ["bad"], "label": ["negative"]}))
    writer.abort()
    assert list(tmp_path.iterdir()) == []
