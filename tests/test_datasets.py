"""sentilstm.data.datasets: the registry, the official formats read from the cache or a local copy, and the CLI.

Archives are built here in each official format (helpers in test_download.py, with the loopback mirror
that the downloads in this module go to). The real local copies in ../shared/data are read at the end
when that folder exists.
"""

from __future__ import annotations

import gzip
import io
import json
import struct
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from helpers import error_line, invoke_cli
from sentilstm.data import datasets
from sentilstm.data.datasets import DatasetSplits, dataset_info, is_cached, list_datasets, load_dataset
from sentilstm.errors import DataError
from sentilstm.estimators.classifier import load_model
from test_download import (  # noqa: F401 - fixtures are used by name
    AFRISENTI_ROWS,
    IMDB_REVIEWS,
    IMDB_UNSUP,
    SST2_DEV,
    SST2_TEST,
    SST2_TRAIN,
    Mirror,
    afrisenti_files,
    afrisenti_tsv,
    backoff,
    cache,
    cache_entries,
    imdb_expected,
    imdb_members,
    imdb_tarball,
    mirror,
    scratch_folders,
    serve_imdb,
    serve_sst2,
    sst2_files,
    sst2_zip,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"no local benchmark data in {SHARED}")
SST2_NAMES = {0: "negative", 1: "positive"}


def labelled(table: Any) -> dict[str, Any]:
    """{text: label} of a Table (texts are unique in the test data)."""
    assert len(set(table.texts)) == len(table.texts)
    return dict(zip(table.texts, table.labels))


def assert_imdb(splits: DatasetSplits) -> None:
    expected = imdb_expected()
    assert splits.name == "imdb" and splits.metric == "accuracy"
    assert labelled(splits.train) == expected["train"]
    assert labelled(splits.test) == expected["test"]
    assert splits.validation is None
    assert sorted(splits.unlabeled) == sorted(IMDB_UNSUP)


def assert_sst2(splits: DatasetSplits) -> None:
    """GLUE's test split has no labels: the labelled dev split is the test; there is no validation."""
    strip = lambda table: {text.strip(): label for text, label in labelled(table).items()}  # noqa: E731
    assert splits.name == "sst2" and splits.metric == "accuracy"
    assert strip(splits.train) == {text.strip(): SST2_NAMES[label] for text, label in SST2_TRAIN}
    assert strip(splits.test) == {text.strip(): SST2_NAMES[label] for text, label in SST2_DEV}
    assert splits.validation is None and splits.unlabeled is None


def assert_afrisenti(splits: DatasetSplits, lang: str) -> None:
    assert splits.name == f"afrisenti-{lang}" and splits.metric == "weighted_f1"
    for table, split in ((splits.train, "train"), (splits.validation, "dev"), (splits.test, "test")):
        assert table is not None
        assert labelled(table) == dict(AFRISENTI_ROWS[split]), split
    assert splits.unlabeled is None


def write_imdb_tables(folder: Path) -> Path:
    """The layout of ../shared/data/imdb: {train,test}.csv.gz (id, rating, label, text), unsup.csv.gz (id, text)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
    for (split, polarity), texts in IMDB_REVIEWS.items():
        for number, text in enumerate(texts):
            rating = 10 - number if polarity == "pos" else 1 + number
            rows[split].append(
                {"id": f"{split}/{polarity}/{number}_{rating}", "rating": rating, "label": polarity, "text": text}
            )
    for split, values in rows.items():
        pd.DataFrame(values).to_csv(folder / f"{split}.csv.gz", index=False)
    pd.DataFrame({"id": [f"train/unsup/{i}_0" for i in range(len(IMDB_UNSUP))], "text": IMDB_UNSUP}).to_csv(
        folder / "unsup.csv.gz", index=False
    )
    return folder


def extract_tar(data: bytes, target: Path) -> Path:
    archive = target.parent / "archive.tar.gz"
    archive.write_bytes(data)
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    archive.unlink()
    return target


def extract_zip(data: bytes, target: Path) -> Path:
    archive = target.parent / "archive.zip"
    archive.write_bytes(data)
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(target)
    archive.unlink()
    return target


# ----- the registry --------------------------------------------------------------------------------------
def test_registry_lists_every_dataset_with_its_metric() -> None:
    infos = {info.name: info for info in list_datasets()}
    languages = ["am", "dz", "ha", "ig", "kr", "ma", "pcm", "pt", "sw", "ts", "twi", "yo"]
    assert set(infos) >= {"imdb", "sst2", "tweets", *(f"afrisenti-{lang}" for lang in languages)}  # and new ones
    assert infos["imdb"].metric == infos["sst2"].metric == "accuracy"
    assert all(infos[f"afrisenti-{lang}"].metric == "weighted_f1" for lang in languages)
    assert infos["tweets"].files == ()
    assert all(info.description and info.citation for info in infos.values())


def test_unknown_dataset_lists_the_available_names() -> None:
    with pytest.raises(DataError, match="unknown dataset 'afrisenti-xx'") as error:
        load_dataset("afrisenti-xx")
    assert all(name in str(error.value) for name in datasets.DATASETS)
    with pytest.raises(DataError, match="unknown dataset 'imbd'"):
        is_cached("imbd")
    with pytest.raises(DataError, match="unknown dataset 'imbd'"):
        dataset_info("imbd")


def test_nothing_is_cached_in_a_new_cache() -> None:
    assert [info.name for info in list_datasets() if is_cached(info.name)] == ["tweets"]  # tweets ships with a package


# ----- downloaded through the mirror ---------------------------------------------------------------------
def test_imdb_download_prepares_tables_once(mirror: Mirror, monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    serve_imdb(mirror, monkeypatch)
    splits = load_dataset("imdb")
    assert_imdb(splits)
    assert splits.source == str(cache)
    assert cache_entries(cache) == [
        "imdb/aclImdb_v1.tar.gz",
        "imdb/prepared/test.parquet",
        "imdb/prepared/train.parquet",
        "imdb/prepared/unsup.parquet",
    ]
    assert_imdb(load_dataset("imdb"))
    assert len(mirror.requests) == 1


def test_sst2_download_uses_dev_as_the_test_split(mirror: Mirror, monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    serve_sst2(mirror, monkeypatch)
    assert_sst2(load_dataset("sst2"))
    assert sorted(p.name for p in (cache / "sst2" / "prepared").iterdir()) == ["dev.tsv", "test.tsv", "train.tsv"]
    assert_sst2(load_dataset("sst2", download=False))
    assert mirror.paths() == ["SST-2.zip"]


@pytest.mark.parametrize("lang", ["yo", "ha"])
def test_afrisenti_download_keeps_the_official_splits(mirror: Mirror, cache: Path, lang: str) -> None:
    mirror.files.update(afrisenti_files(lang))
    assert_afrisenti(load_dataset(f"afrisenti-{lang}"), lang)
    assert sorted(mirror.paths()) == sorted(afrisenti_files(lang))
    assert is_cached(f"afrisenti-{lang}") and not is_cached("afrisenti-ig")
    assert_afrisenti(load_dataset(f"afrisenti-{lang}", download=False), lang)
    assert len(mirror.requests) == 3


def test_afrisenti_partly_downloaded_is_not_cached(mirror: Mirror) -> None:
    files = afrisenti_files("yo")
    del files["SubtaskA/test/yo_test.tsv"]
    mirror.files.update(files)
    with pytest.raises(DataError, match="HTTP 404"):
        load_dataset("afrisenti-yo")
    assert not is_cached("afrisenti-yo")
    with pytest.raises(DataError, match="not in the cache"):
        load_dataset("afrisenti-yo", download=False)


# ----- local copies: IMDB --------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["tarball", "aclImdb folder", "parent folder", "split tables"])
def test_imdb_local_copy(tmp_path: Path, cache: Path, layout: str) -> None:
    if layout == "tarball":
        path = tmp_path / "aclImdb_v1.tar.gz"
        path.write_bytes(imdb_tarball())
    elif layout == "split tables":
        path = write_imdb_tables(tmp_path / "imdb")
    else:
        parent = extract_tar(imdb_tarball(), tmp_path / "data")
        path = parent / "aclImdb" if layout == "aclImdb folder" else parent
    splits = load_dataset("imdb", path=path)
    assert_imdb(splits)
    assert splits.source == str(path)
    assert cache_entries(cache) == [] and scratch_folders(cache) == []  # a local copy is read, not cached


def test_imdb_reviews_keep_their_text(tmp_path: Path) -> None:
    path = tmp_path / "aclImdb_v1.tar.gz"
    path.write_bytes(imdb_tarball())
    splits = load_dataset("imdb", path=path)
    assert "A wonderful film.<br /><br />The café scene alone is worth it." in splits.train.texts
    assert "Another one, with an umlaut: Müller." in splits.unlabeled


def test_local_path_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "aclImdb_v1.tar.gz").write_bytes(imdb_tarball())
    assert_imdb(load_dataset("imdb", path="~/aclImdb_v1.tar.gz"))


def test_truncated_local_tarball_is_a_data_error_and_leaves_no_scratch(tmp_path: Path, cache: Path) -> None:
    data = imdb_tarball()
    path = tmp_path / "aclImdb_v1.tar.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cannot be unpacked.*truncated or damaged"):
        load_dataset("imdb", path=path)
    assert scratch_folders(cache) == [] and cache_entries(cache) == []


def test_local_tarball_with_a_changed_byte_is_a_data_error(tmp_path: Path) -> None:
    data = bytearray(imdb_tarball(level=0))  # stored deflate blocks: the review bytes appear as they are
    at = data.index(b"Superb direction")
    data[at : at + 6] = b"Sorry!"  # still valid gzip framing; only the CRC-32 tells
    with pytest.raises(gzip.BadGzipFile, match="CRC check failed"):
        gzip.decompress(bytes(data))  # the archive is damaged indeed
    path = tmp_path / "aclImdb_v1.tar.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError):
        load_dataset("imdb", path=path)


def test_imdb_archive_without_reviews(tmp_path: Path) -> None:
    members = {name: content for name, content in imdb_members().items() if "/test/" not in name}
    path = tmp_path / "aclImdb_v1.tar.gz"
    path.write_bytes(imdb_tarball(members))
    with pytest.raises(DataError, match=r"no aclImdb/\{train,test\}"):
        load_dataset("imdb", path=path)


def test_imdb_file_that_is_not_an_archive(tmp_path: Path, cache: Path) -> None:
    path = write_imdb_tables(tmp_path / "imdb") / "train.csv.gz"
    with pytest.raises(DataError, match="cannot be unpacked"):
        load_dataset("imdb", path=path)
    assert scratch_folders(cache) == []


def test_imdb_tables_with_foreign_labels(tmp_path: Path) -> None:
    pd.DataFrame({"text": ["good", "bad"], "label": ["pos", "meh"]}).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame({"text": ["fine", "awful"], "label": ["pos", "neg"]}).to_csv(tmp_path / "test.csv", index=False)
    with pytest.raises(DataError, match=r"labels \['meh'\] are not imdb's negative/positive"):
        load_dataset("imdb", path=tmp_path)


# ----- local copies: SST-2 -------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["zip", "parent folder", "SST-2 folder", "renamed GLUE files"])
def test_sst2_local_copy(tmp_path: Path, cache: Path, layout: str) -> None:
    if layout == "zip":
        path = tmp_path / "SST-2.zip"
        path.write_bytes(sst2_zip())
    elif layout == "renamed GLUE files":  # as in ../shared/data/sst
        path = tmp_path / "sst"
        path.mkdir()
        files = sst2_files()
        (path / "sst2_glue_train.tsv").write_bytes(files["SST-2/train.tsv"])
        (path / "sst2_glue_dev.tsv").write_bytes(files["SST-2/dev.tsv"])
    else:
        parent = extract_zip(sst2_zip(), tmp_path / "glue")
        path = parent if layout == "parent folder" else parent / "SST-2"
    assert_sst2(load_dataset("sst2", path=path))
    assert cache_entries(cache) == [] and scratch_folders(cache) == []


def test_sst2_labelled_test_split_is_kept(tmp_path: Path) -> None:
    """A folder whose test.tsv carries labels keeps it as the test split, and dev as validation."""
    files = sst2_files()
    (tmp_path / "train.tsv").write_bytes(files["SST-2/train.tsv"])
    (tmp_path / "dev.tsv").write_bytes(files["SST-2/dev.tsv"])
    (tmp_path / "test.tsv").write_text(
        "sentence\tlabel\n" + "".join(f"{text} \t{i % 2}\n" for i, text in enumerate(SST2_TEST))
    )
    splits = load_dataset("sst2", path=tmp_path)
    assert [t.strip() for t in splits.test.texts] == SST2_TEST and splits.test.labels == ["negative", "positive"]
    assert splits.validation is not None and len(splits.validation) == len(SST2_DEV)


def test_sst2_without_a_labelled_test_split(tmp_path: Path) -> None:
    files = sst2_files()
    (tmp_path / "train.tsv").write_bytes(files["SST-2/train.tsv"])
    (tmp_path / "test.tsv").write_bytes(files["SST-2/test.tsv"])
    with pytest.raises(DataError, match="test split .* has no label column"):
        load_dataset("sst2", path=tmp_path)


def test_sst2_unlabelled_validation_split_is_a_data_error(tmp_path: Path) -> None:
    """A dev file without labels beside labelled train and test files is named, not a TypeError."""
    files = sst2_files()
    (tmp_path / "train.tsv").write_bytes(files["SST-2/train.tsv"])
    (tmp_path / "dev.tsv").write_text("sentence\n" + "".join(f"{text}\n" for text in SST2_DEV))
    (tmp_path / "test.tsv").write_text(
        "sentence\tlabel\n" + "".join(f"{text} \t{i % 2}\n" for i, text in enumerate(SST2_TEST))
    )
    with pytest.raises(DataError, match="dev.tsv.* has no label column"):
        load_dataset("sst2", path=tmp_path)


def test_sst2_zip_without_dev(tmp_path: Path) -> None:
    files = sst2_files()
    del files["SST-2/dev.tsv"]
    path = tmp_path / "SST-2.zip"
    path.write_bytes(sst2_zip(files))
    with pytest.raises(DataError, match="holds no SST-2/train.tsv and SST-2/dev.tsv"):
        load_dataset("sst2", path=path)


def test_sst2_labels_outside_0_1(tmp_path: Path) -> None:
    files = sst2_files()
    files["SST-2/dev.tsv"] += b"a fine phrase \t2\n"
    path = tmp_path / "SST-2.zip"
    path.write_bytes(sst2_zip(files))
    with pytest.raises(DataError, match=r"labels \['2'\] are not sst2's negative/positive"):
        load_dataset("sst2", path=path)


def test_local_zip_with_a_damaged_deflate_stream_is_a_data_error(tmp_path: Path, cache: Path) -> None:
    data = bytearray(sst2_zip())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as bundle:
        info = bundle.getinfo("SST-2/dev.tsv")
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    data[info.header_offset + 30 + name_length + extra_length] = 0xFF  # deflate block type 3: reserved, invalid
    path = tmp_path / "SST-2.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError):
        load_dataset("sst2", path=path)
    assert scratch_folders(cache) == []


# ----- local copies: AfriSenti ---------------------------------------------------------------------------
def write_afrisenti(folder: Path, lang: str, tree: bool) -> Path:
    for split in ("train", "dev", "test"):
        target = folder / "SubtaskA" / split / f"{lang}_{split}.tsv" if tree else folder / f"{lang}_{split}.tsv"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(afrisenti_tsv(lang, split))
    return folder


@pytest.mark.parametrize("layout", ["flat", "repository root", "SubtaskA folder"])
def test_afrisenti_local_copy(tmp_path: Path, cache: Path, layout: str) -> None:
    root = write_afrisenti(tmp_path / "afrisenti", "ig", tree=layout != "flat")
    path = root / "SubtaskA" if layout == "SubtaskA folder" else root
    assert_afrisenti(load_dataset("afrisenti-ig", path=path), "ig")  # a local copy is not checked against the SHA-256
    assert cache_entries(cache) == []


def test_afrisenti_other_language_in_the_folder(tmp_path: Path) -> None:
    folder = write_afrisenti(tmp_path, "ig", tree=False)
    with pytest.raises(DataError, match="holds no yo_train.tsv"):
        load_dataset("afrisenti-yo", path=folder)


def test_afrisenti_without_a_test_file(tmp_path: Path) -> None:
    folder = write_afrisenti(tmp_path, "ig", tree=False)
    (folder / "ig_test.tsv").unlink()
    with pytest.raises(DataError, match="holds no test split of afrisenti-ig"):
        load_dataset("afrisenti-ig", path=folder)


def test_afrisenti_file_instead_of_a_folder(tmp_path: Path) -> None:
    folder = write_afrisenti(tmp_path, "ig", tree=False)
    with pytest.raises(DataError, match="read from a folder"):
        load_dataset("afrisenti-ig", path=folder / "ig_train.tsv")


# ----- local copies: bad paths ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["imdb", "sst2", "afrisenti-ig"])
def test_missing_local_path(tmp_path: Path, name: str) -> None:
    with pytest.raises(DataError, match=f"local copy .*nowhere.* of {name} does not exist"):
        load_dataset(name, path=tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["imdb", "sst2", "afrisenti-ig"])
def test_folder_with_nothing_usable(tmp_path: Path, name: str) -> None:
    (tmp_path / "README.txt").write_text("nothing to see\n")
    (tmp_path / "notes").mkdir()
    with pytest.raises(DataError, match="holds no"):
        load_dataset(name, path=tmp_path)


# ----- the real local copies -----------------------------------------------------------------------------
@needs_shared
@pytest.mark.slow
def test_real_imdb_tables() -> None:
    splits = load_dataset("imdb", path=SHARED / "imdb")
    assert (len(splits.train), len(splits.test), len(splits.unlabeled)) == (25_000, 25_000, 50_000)
    assert splits.validation is None
    for table in (splits.train, splits.test):
        assert pd.Series(table.labels).value_counts().to_dict() == {"negative": 12_500, "positive": 12_500}


@needs_shared
def test_real_sst2_glue_files() -> None:
    splits = load_dataset("sst2", path=SHARED / "sst")
    assert (len(splits.train), len(splits.test)) == (67_349, 872)
    assert splits.validation is None and set(splits.test.labels) == {"negative", "positive"}


@needs_shared
def test_real_afrisenti_igbo() -> None:
    splits = load_dataset("afrisenti-ig", path=SHARED / "afrisenti")
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (10_192, 1_841, 3_682)
    assert set(splits.train.labels) == set(splits.test.labels) == {"negative", "neutral", "positive"}


@needs_shared
def test_real_afrisenti_igbo_passes_its_published_sha256(mirror: Mirror, cache: Path) -> None:
    for split in ("train", "dev", "test"):
        mirror.files[f"SubtaskA/{split}/ig_{split}.tsv"] = (SHARED / "afrisenti" / f"ig_{split}.tsv").read_bytes()
    splits = load_dataset("afrisenti-ig")
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (10_192, 1_841, 3_682)
    assert not (cache / "checksums.json").exists()  # published checksums are checked, not recorded


# ----- the command line ----------------------------------------------------------------------------------


def listed() -> dict[str, dict[str, Any]]:
    result = invoke_cli("datasets", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return {row["name"]: row for row in rows}


def test_cli_datasets_list(cache: Path) -> None:
    result = invoke_cli("datasets", "list")
    assert result.exit_code == 0, result.output
    assert str(cache) in result.stdout
    for name in ("imdb", "sst2", "afrisenti-ig", "afrisenti-twi", "tweets", "weighted_f1"):
        assert name in result.stdout


def test_cli_datasets_download_then_list_shows_it_cached(mirror: Mirror, cache: Path) -> None:
    mirror.files.update(afrisenti_files("yo"))
    before = listed()
    assert list(before) == list(datasets.DATASETS)
    assert before["afrisenti-yo"]["cached"] is False and before["tweets"]["cached"] is True
    assert set(before["afrisenti-yo"]) == {"name", "description", "metric", "cached", "citation"}
    result = invoke_cli("datasets", "download", "afrisenti-yo", "--quiet")
    assert result.exit_code == 0, result.output
    assert f"afrisenti-yo: ready in {cache / 'afrisenti'}" in result.stdout.replace("\n", "")
    assert (cache / "afrisenti" / "yo_train.tsv").read_bytes() == afrisenti_tsv("yo", "train")
    after = listed()
    assert after["afrisenti-yo"]["cached"] is True
    assert [name for name, row in after.items() if row["cached"] != before[name]["cached"]] == ["afrisenti-yo"]


def test_cli_datasets_download_unknown_name_downloads_nothing(mirror: Mirror, cache: Path) -> None:
    mirror.files.update(afrisenti_files("yo"))
    line = error_line(invoke_cli("datasets", "download", "afrisenti-yo", "afrisenti-xx"))
    assert "unknown dataset 'afrisenti-xx'" in line and "afrisenti-yo" in line
    assert mirror.requests == [] and cache_entries(cache) == []


def test_cli_datasets_download_http_error(mirror: Mirror) -> None:
    line = error_line(invoke_cli("datasets", "download", "sst2", "--quiet"))
    assert f"{mirror.url}SST-2.zip" in line and "HTTP 404" in line and "SENTILSTM_MIRROR" in line


def test_cli_baseline_on_a_downloaded_dataset(mirror: Mirror, tmp_path: Path) -> None:
    mirror.files.update(afrisenti_files("yo"))
    out = tmp_path / "yo.sentilstm"
    result = invoke_cli("baseline", "--dataset", "afrisenti-yo", "--min-df", "1", "--out", out)
    assert result.exit_code == 0, result.output
    assert f"adding the {len(AFRISENTI_ROWS['dev'])} validation texts" in result.stderr
    assert f"training nbsvm on {len(AFRISENTI_ROWS['train']) + len(AFRISENTI_ROWS['dev'])} texts" in result.stderr
    model = load_model(out)
    assert set(model.predict(["Ọ dị mma", "ihe ọjọọ"])) <= {"negative", "neutral", "positive"}
    assert "test" in model.metrics_


def test_cli_baseline_on_a_local_copy(tmp_path: Path) -> None:
    path = tmp_path / "aclImdb_v1.tar.gz"
    path.write_bytes(imdb_tarball())
    out = tmp_path / "imdb.sentilstm"
    result = invoke_cli(
        "baseline", "--dataset", "imdb", "--dataset-path", path, "--min-df", "1", "--out", out, "--quiet"
    )
    assert result.exit_code == 0, result.output
    model = load_model(out)
    assert list(model.classes_) == ["negative", "positive"]
    assert model.metrics_["test"]["num_examples"] == len(IMDB_REVIEWS["test", "pos"]) + len(IMDB_REVIEWS["test", "neg"])


def test_cli_baseline_local_copy_missing(tmp_path: Path) -> None:
    line = error_line(
        invoke_cli("baseline", "--dataset", "sst2", "--dataset-path", tmp_path / "SST-2.zip", "--out", tmp_path / "m")
    )
    assert "does not exist" in line
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("with_data", [False, True])
def test_cli_train_dataset_path_needs_dataset(tmp_path: Path, with_data: bool) -> None:
    data = tmp_path / "train.csv"
    data.write_text("text,label\ngood,1\nbad,0\n")
    args = ["train", *([data] if with_data else []), "--dataset-path", tmp_path, "--out", tmp_path / "m.sentilstm"]
    line = error_line(invoke_cli(*args))
    assert "--dataset" in line
    if with_data:
        assert "--dataset-path needs --dataset NAME" in line
    assert not (tmp_path / "m.sentilstm").exists()
