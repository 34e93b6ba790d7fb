"""sentilstm.system.files: outputs never destroy inputs, writes are atomic, file-system refusals are one OutputError,
and temporaries left by killed runs are swept, never anyone else's files (issue 14, items 2, 8 and 12)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from helpers import full_disk
from sentilstm.errors import DataError, OutputError, SentilstmError
from sentilstm.system import files
from sentilstm.system.files import atomic_output, check_outputs, sweep_temporaries, temporary_beside, write_atomically

ROOT = os.geteuid() == 0


# ----- an output that is an input ------------------------------------------------------------------------------
@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.csv"
    path.write_text("text,label\ngood,1\nbad,0\n")
    return path


def test_an_output_equal_to_an_input_is_refused(data_file: Path) -> None:
    with pytest.raises(
        DataError, match=r"--out '.*train.csv' is the input file given as DATA; writing it would destroy"
    ):
        check_outputs({"--out": data_file}, {"DATA": data_file})


def test_other_spellings_of_the_same_file_are_refused(
    data_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.csv").symlink_to(data_file)
    os.link(data_file, tmp_path / "hard.csv")
    for spelling in ("./train.csv", "sub/../train.csv", str(data_file), "link.csv", "hard.csv"):
        with pytest.raises(DataError, match="is the input file given as DATA"):
            check_outputs({"--out": Path(spelling)}, {"DATA": Path("train.csv")})
    assert data_file.read_text() == "text,label\ngood,1\nbad,0\n"


def test_two_outputs_on_one_path_a_folder_or_a_missing_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="--report and --out are both"):
        check_outputs({"--out": tmp_path / "m.x", "--report": tmp_path / "m.x"})
    with pytest.raises(DataError, match="--out '.*' is a folder; give a file name"):
        check_outputs({"--out": tmp_path})
    with pytest.raises(DataError, match="folder '.*nowhere' does not exist; create it first"):
        check_outputs({"--out": tmp_path / "nowhere" / "m.x"})
    check_outputs({"--out": tmp_path / "m.x", "--report": None}, {"DATA": None})  # fine: nothing is written
    assert list(tmp_path.iterdir()) == []  # the writability probe leaves nothing behind


# ----- write errors -----------------------------------------------------------------------------------------


def test_a_full_disk_is_one_output_error_and_the_old_file_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "scores.json"
    target.write_text("old")
    full_disk(monkeypatch)
    with pytest.raises(
        OutputError, match=r"cannot write '.*scores.json': No space left on device; the disk is full"
    ) as caught:
        write_atomically(target, "new")
    assert caught.value.errno == errno.ENOSPC and isinstance(caught.value, OSError)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["scores.json"]


@pytest.mark.parametrize(
    "code, fix",
    [
        (errno.EROFS, "the file system is read-only"),
        (errno.EACCES, "choose a folder you may write to"),
        (errno.ENAMETOOLONG, "choose a shorter one"),
        (errno.EDQUOT, "quota"),
    ],
)
def test_a_folder_that_takes_no_file_is_one_output_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, fix: str
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError, match=fix):
        write_atomically(tmp_path / "x.json", "{}")
    with pytest.raises(OutputError, match=fix):
        check_outputs({"--out": tmp_path / "x.json"})


@pytest.mark.skipif(ROOT, reason="root ignores folder permissions; the EACCES/EROFS cases are simulated above")
def test_a_read_only_folder_is_refused_before_any_work(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="Permission denied; choose a folder you may write to"):
            check_outputs({"--out": folder / "m.sentilstm"})
    finally:
        folder.chmod(0o755)


def test_a_name_too_long_is_a_real_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="name too long"):
        write_atomically(tmp_path / ("x" * 300), "data")


def test_an_error_inside_the_block_removes_the_temporary_and_keeps_its_type(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        with atomic_output(tmp_path / "x.bin") as stream:
            stream.write(b"half")
            raise KeyError("boom")
    with pytest.raises(DataError):
        with atomic_output(tmp_path / "x.bin"):
            raise DataError("bad")
    assert list(tmp_path.iterdir()) == []


def test_output_error_is_a_sentilstm_error_and_an_os_error() -> None:
    assert issubclass(OutputError, SentilstmError) and issubclass(OutputError, OSError)


# ----- sweeping temporaries left by killed runs --------------------------------------------------------------
def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporaries_of_dead_or_stale_runs_are_swept_and_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "scored.csv"
    host = files._HOST
    dead = tmp_path / f".scored.csv.{_dead_pid()}-{host}.abcd1234.tmp"
    alive = tmp_path / f".scored.csv.{os.getpid()}-{host}.efgh5678.tmp"
    old = tmp_path / f".scored.csv.{os.getpid()}-{host}.ijkl9012.tmp"
    other_host = tmp_path / f".scored.csv.{_dead_pid()}-00000000.mnop3456.tmp"
    legacy_fresh = tmp_path / ".scored.csv.qrst7890.tmp"
    legacy_old = tmp_path / ".scored.csv.uvwx1234.tmp"
    dead_folder = tmp_path / f".scored.csv.{_dead_pid()}-{host}.yzab5678.tmp"
    not_ours = [
        tmp_path / ".scored.csv.backup.tmp",
        tmp_path / ".scored.csv.tmp",
        tmp_path / "scored.csv.abcd1234.tmp",
        tmp_path / f".other.csv.{_dead_pid()}-{host}.abcd1234.tmp",
        tmp_path / ".scored.csv.12-34.abcd1234.tmp",
    ]
    for path in (dead, alive, old, other_host, legacy_fresh, legacy_old, *not_ours):
        path.write_text("partial")
    dead_folder.mkdir()
    (dead_folder / "plot.png").write_bytes(b"png")
    day_ago = time.time() - files.STALE_SECONDS - 60
    for path in (old, legacy_old):
        os.utime(path, (day_ago, day_ago))
    removed = sweep_temporaries(target)
    assert sorted(p.name for p in removed) == sorted(p.name for p in (dead, old, legacy_old, dead_folder))
    assert all(p.exists() for p in (alive, other_host, legacy_fresh, *not_ours))


def test_a_symlink_named_like_a_temporary_is_never_followed(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("keep")
    (tmp_path / f".out.csv.{_dead_pid()}-{files._HOST}.abcd1234.tmp").symlink_to(precious)
    assert sweep_temporaries(tmp_path / "out.csv") == []
    assert (precious / "keep.txt").read_text() == "keep"


def test_every_new_temporary_sweeps_first_and_names_its_owner(tmp_path: Path) -> None:
    stale = tmp_path / f".model.sentilstm.{_dead_pid()}-{files._HOST}.abcd1234.tmp"
    stale.write_bytes(b"half a model")
    handle, temporary = temporary_beside(tmp_path / "model.sentilstm")
    os.close(handle)
    assert not stale.exists()
    assert temporary.name.startswith(f".model.sentilstm.{os.getpid()}-{files._HOST}.") and temporary.name.endswith(
        ".tmp"
    )


def test_saving_a_model_on_a_full_disk_keeps_the_old_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    trained_clf: Any,
) -> None:
    """SentimentClassifier.save() writes through files.atomic_output: ENOSPC names the path, the old model stays."""
    target = tmp_path / "model.sentilstm"
    trained_clf.save(target)
    before = target.read_bytes()
    full_disk(monkeypatch)
    with pytest.raises(OutputError, match=r"cannot write '.*model.sentilstm': No space left on device"):
        trained_clf.save(target)
    assert target.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["model.sentilstm"]
