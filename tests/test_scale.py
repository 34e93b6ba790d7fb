"""`sentilstm.scale`: batch scoring on Ray Data (and Spark when pyspark is installed) gives the local scorer's output.

One local Ray instance (2 CPUs) serves the whole module; it takes ~5-10 s to start. Tests that need Ray ask for the
`ray_instance` fixture, which skips them when ray is not installed; the path and error tests run without it.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from helpers import error_line, invoke_cli, make_negation_data
from sentilstm.errors import ConfigError, DataError
from sentilstm.estimators.scoring import score_frame
from sentilstm.onnx.backends import load_for_serving
from sentilstm.scale.paths import output_format, resolve_inputs

ROWS = 3000
PROBABILITIES = ["prob_-1", "prob_1"]


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[Any]:
    ray = pytest.importorskip("ray", reason="ray is not installed: pip install 'sentilstm[ray]'")
    pytest.importorskip("ray.data")
    # its session folder (logs, sockets, spilled objects) in a folder of its own, removed afterwards: Ray would
    # otherwise leave one /tmp/ray/session_* per test run
    folder = tempfile.mkdtemp(prefix="ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", _temp_dir=folder)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    texts, _ = make_negation_data(ROWS, seed=7)
    texts[5] = ""  # an empty text scores as "" in both engines
    return pd.DataFrame({"id": range(ROWS), "text": texts})


@pytest.fixture(scope="module")
def csv_parts(frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The frame split over three CSV files, plus a file the glob must not match."""
    folder = tmp_path_factory.mktemp("parts")
    for i, start in enumerate(range(0, ROWS, ROWS // 3)):
        frame.iloc[start : start + ROWS // 3].to_csv(folder / f"part-{i}.csv", index=False)
    (folder / "notes.txt").write_text("not a table")
    return folder


def local_scores(
    model_path: Path, frame: pd.DataFrame, backend: str = "torch", threads: int | None = None
) -> pd.DataFrame:
    clf = load_for_serving(model_path, backend, threads=threads)  # type: ignore[arg-type]
    return score_frame(clf, frame, "text")[0]  # type: ignore[arg-type]


def assert_same_scores(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same columns in the same order, same rows (by id), same labels; probabilities within the 6-decimal rounding
    both engines apply (one batch composition can round a value up where another rounds it down)."""
    got = got.assign(id=got["id"].astype(int)).sort_values("id").reset_index(drop=True)  # CSV cells are read as text
    assert list(got.columns) == list(expected.columns)
    assert got["id"].tolist() == expected["id"].tolist()
    assert got["text"].fillna("").tolist() == expected["text"].tolist()
    assert got["predicted_label"].astype(int).tolist() == expected["predicted_label"].tolist()
    np.testing.assert_allclose(
        got[PROBABILITIES].to_numpy(float), expected[PROBABILITIES].to_numpy(float), rtol=0, atol=1e-6 + 1e-12
    )


# ----- inputs and outputs (no Ray needed) --------------------------------------------------------------
def test_resolve_inputs_glob_folder_and_list(csv_parts: Path) -> None:
    files, fmt = resolve_inputs(str(csv_parts / "part-*.csv"))
    assert fmt == "csv" and [Path(f).name for f in files] == ["part-0.csv", "part-1.csv", "part-2.csv"]
    (csv_parts / "_SUCCESS").write_text("")
    try:
        files, _ = resolve_inputs([csv_parts / "part-0.csv", csv_parts / "part-1.csv"])
        assert len(files) == 2
        with pytest.raises(DataError, match=r"mix formats \['csv', 'fasttext'\]"):  # the folder holds notes.txt too
            resolve_inputs(csv_parts)
        files, fmt = resolve_inputs(csv_parts, "csv")
        assert "_SUCCESS" not in {Path(f).name for f in files} and len(files) == 4
    finally:
        (csv_parts / "_SUCCESS").unlink()


def test_resolve_inputs_errors(csv_parts: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no files match .*nothing-\\*.csv"):
        resolve_inputs(str(csv_parts / "nothing-*.csv"))
    with pytest.raises(DataError, match="no such file or folder"):
        resolve_inputs(tmp_path / "missing.csv")
    (tmp_path / "a.csv").write_text("text\nx\n")
    (tmp_path / "b.parquet").write_bytes(b"")
    with pytest.raises(DataError, match="mix formats"):
        resolve_inputs(str(tmp_path / "*.*"))


def test_output_format_rules() -> None:
    assert output_format("scored.csv", None) == "csv"
    assert output_format("s3://bucket/scored.jsonl/", None) == "jsonl"
    assert output_format("scored", None) == "parquet"
    assert output_format("scored.csv", "parquet") == "parquet"
    with pytest.raises(DataError, match="csv, jsonl or parquet"):
        output_format("scored.tsv", None)


def test_missing_ray_is_one_line_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, trained_model_path: Path, csv_parts: Path, tmp_path: Path
) -> None:
    from sentilstm.scale import ray_data

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ConfigError, match=r"pip install 'sentilstm\[ray\]'"):
        ray_data.import_ray()
    line = error_line(
        invoke_cli(
            "predict",
            trained_model_path,
            "--engine",
            "ray",
            "--input",
            csv_parts / "part-0.csv",
            "--output",
            tmp_path / "out",
        )
    )
    assert "pip install 'sentilstm[ray]'" in line
    assert not (tmp_path / "out").exists()


def test_import_sentilstm_does_not_import_ray() -> None:
    import subprocess

    code = "import sys, sentilstm, sentilstm.scale; print('ray' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


# ----- Ray Data ----------------------------------------------------------------------------------------
def test_ray_predict_dataset_matches_local_scorer(
    ray_instance: Any, trained_model_path: Path, frame: pd.DataFrame
) -> None:
    from sentilstm.scale import ray_predict

    dataset = ray_instance.data.from_pandas([frame.iloc[i : i + 750] for i in range(0, ROWS, 750)])  # 4 blocks
    scored = ray_predict(dataset, trained_model_path, batch_size=500, concurrency=2).to_pandas()
    assert_same_scores(scored, local_scores(trained_model_path, frame))


def test_ray_score_glob_matches_local_scorer(
    ray_instance: Any, trained_model_path: Path, frame: pd.DataFrame, csv_parts: Path, tmp_path: Path
) -> None:
    from sentilstm.scale import ray_score

    output = tmp_path / "scored.parquet"
    summary = ray_score(str(csv_parts / "part-*.csv"), output, trained_model_path, batch_size=700)
    assert summary.rows == ROWS and summary.format == "parquet" and summary.files >= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scored.parquet"]  # no temporary folder left
    assert all(p.suffix == ".parquet" for p in output.iterdir())
    assert_same_scores(pd.read_parquet(output), local_scores(trained_model_path, frame))


def test_ray_score_onnx_int8_jsonl_matches_local_onnx_int8(
    ray_instance: Any, trained_model_path: Path, frame: pd.DataFrame, tmp_path: Path
) -> None:
    from sentilstm.scale import ray_score

    head = frame.iloc[:1000]
    head.to_json(tmp_path / "in.jsonl", orient="records", lines=True)
    output = tmp_path / "scored.jsonl"
    summary = ray_score(tmp_path / "in.jsonl", output, trained_model_path, backend="onnx-int8", concurrency=1)
    assert summary.rows == 1000
    got = pd.concat([pd.read_json(p, lines=True) for p in sorted(output.iterdir())])
    # dynamic int8 quantises activations with each batch's own range, so probabilities move (by up to ~2e-3 here)
    # with the texts that share a batch. Batched alike (1,000 rows in one Ray batch, threads=1 on both sides: the same
    # token budget per ONNX batch), the engines agree to the rounding.
    assert_same_scores(got, local_scores(trained_model_path, head, backend="onnx-int8", threads=1))


def test_ray_missing_text_column_names_the_columns(
    ray_instance: Any, trained_model_path: Path, frame: pd.DataFrame
) -> None:
    from sentilstm.scale import ray_predict

    with pytest.raises(DataError, match=r"text column 'body' not found; the input has columns \['id', 'text'\]"):
        ray_predict(ray_instance.data.from_pandas(frame), trained_model_path, text_column="body")


def test_ray_bad_options(ray_instance: Any, trained_model_path: Path, frame: pd.DataFrame, tmp_path: Path) -> None:
    from sentilstm.errors import ArtifactError
    from sentilstm.scale import ray_predict

    dataset = ray_instance.data.from_pandas(frame)
    with pytest.raises(ConfigError, match="GPU scoring runs the torch backend"):
        ray_predict(dataset, trained_model_path, backend="onnx", num_gpus=1)
    with pytest.raises(ConfigError, match="has 0 GPUs"):
        ray_predict(dataset, trained_model_path, num_gpus=1)
    with pytest.raises(ConfigError, match="batch_size"):
        ray_predict(dataset, trained_model_path, batch_size=0)
    (tmp_path / "bad.sentilstm").write_bytes(b"not a model")
    with pytest.raises(ArtifactError):
        ray_predict(dataset, tmp_path / "bad.sentilstm")


# ----- the command line --------------------------------------------------------------------------------
def test_cli_engine_ray_end_to_end(
    ray_instance: Any, trained_model_path: Path, frame: pd.DataFrame, csv_parts: Path, tmp_path: Path
) -> None:
    local = tmp_path / "local.csv"
    result = invoke_cli("predict", trained_model_path, "--input", csv_parts / "part-1.csv", "--output", local)
    assert result.exit_code == 0, result.output
    output = tmp_path / "scored.csv"
    result = invoke_cli(
        "predict",
        trained_model_path,
        "--engine",
        "ray",
        "--input",
        csv_parts / "part-*.csv",
        "--output",
        output,
        "--concurrency",
        "2",
        "--batch-size",
        "512",
    )
    assert result.exit_code == 0, (result.output, result.exception)
    assert f"scored {ROWS} rows" in result.stderr and "csv file" in result.stderr
    got = pd.concat([pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in sorted(output.iterdir())])
    assert_same_scores(got, local_scores(trained_model_path, frame))
    expected_part = pd.read_csv(local)  # the local engine's file, for the rows of part-1
    merged = got.merge(expected_part, on="id", suffixes=("", "_local"))
    assert len(merged) == len(expected_part)
    assert (merged["predicted_label"] == merged["predicted_label_local"]).all()
    assert ray_instance.is_initialized()  # the CLI leaves a Ray it did not start running


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--input", "{parts}/nothing-*.csv", "--output", "{tmp}/out"], "no files match"),
        (
            ["--input", "{parts}/part-0.csv", "--output", "{tmp}/out", "--text-column", "body"],
            "text column 'body' not found; the input has columns ['id', 'text']",
        ),
        (["--input", "{parts}/part-0.csv", "--output", "{tmp}/out.tsv"], "csv, jsonl or parquet"),
        (["--input", "{parts}/part-0.csv", "--output", "{tmp}/nowhere/out"], "does not exist"),
        (["--input", "{parts}/part-0.csv", "--output", "{tmp}/out", "--encoding", "latin-1"], "UTF-8 only"),
        (["--input", "{parts}/part-0.csv", "--output", "{tmp}/out", "--concurrency", "0"], "concurrency must be"),
        (["a text", "--output", "{tmp}/out"], "not texts"),
    ],
)
def test_cli_engine_ray_user_errors(
    ray_instance: Any, trained_model_path: Path, csv_parts: Path, tmp_path: Path, extra: list[str], expected: str
) -> None:
    args = [a.format(parts=csv_parts, tmp=tmp_path) for a in extra]
    line = error_line(invoke_cli("predict", trained_model_path, "--engine", "ray", *args))
    assert expected in line
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary folder


def test_cli_existing_output_and_local_engine_flags(trained_model_path: Path, csv_parts: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    line = error_line(
        invoke_cli(
            "predict",
            trained_model_path,
            "--engine",
            "ray",
            "--input",
            csv_parts / "part-0.csv",
            "--output",
            tmp_path / "out",
        )
    )
    assert "already exists" in line or "sentilstm[ray]" in line  # without ray the install hint comes first
    line = error_line(
        invoke_cli(
            "predict",
            trained_model_path,
            "--input",
            csv_parts / "part-0.csv",
            "--output",
            tmp_path / "o.csv",
            "--concurrency",
            "2",
            "--ray-address",
            "auto",
        )
    )
    assert "--ray-address, --concurrency apply only with --engine ray" in line
    assert "--engine must be one of" in error_line(invoke_cli("predict", trained_model_path, "x", "--engine", "spark"))


# ----- Spark (only where pyspark is installed: it is not in the `test` extra) -------------------------
@pytest.mark.slow  # a Spark session takes ~15-20 s to start here; the slow pass of scripts/test.sh runs it
def test_spark_predict_matches_local_scorer(trained_model_path: Path, frame: pd.DataFrame) -> None:
    pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'sentilstm[spark]'")
    import shutil

    if shutil.which("java") is None:
        pytest.skip("Spark needs Java 17+ on PATH")
    from pyspark.sql import SparkSession

    from sentilstm.scale.spark import spark_predict

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("sentilstm-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    try:
        head = frame.iloc[:1000]
        scored = spark_predict(
            spark.createDataFrame(head).repartition(2), trained_model_path, batch_size=300
        ).toPandas()
        assert_same_scores(scored, local_scores(trained_model_path, head))
        with pytest.raises(DataError, match=r"text column 'body' not found"):
            spark_predict(spark.createDataFrame(head), trained_model_path, text_column="body")
    finally:
        spark.stop()
