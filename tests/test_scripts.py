"""The set-up scripts' own logic: scripts/test.sh runs lint and both test passes whatever fails, says which failed,
and exits non-zero if any did. Run on a copy of the script beside stand-in install/lint scripts and a stand-in
`.venv/bin/python` that records its arguments, so the real suite is not run again from inside itself."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tree(tmp_path: Path, lint: int, fast: int, slow: int) -> Path:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    shutil.copy(ROOT / "scripts" / "test.sh", scripts / "test.sh")
    (scripts / "install.sh").write_text("exit 0\n")
    (scripts / "lint.sh").write_text(f"echo lint >> calls.log\nexit {lint}\n")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(
        f'#!/usr/bin/env bash\necho "$*" >> calls.log\ncase "$*" in *"-m slow"*) exit {slow};; *) exit {fast};; esac\n'
    )
    python.chmod(0o755)
    return tmp_path


@pytest.mark.parametrize(
    ("lint", "fast", "slow", "status", "summary"),
    [
        (0, 0, 0, 0, "lint passed; default tests passed; slow tests passed"),
        (0, 1, 0, 1, "lint passed; default tests FAILED (exit 1); slow tests passed"),
        (0, 0, 1, 1, "lint passed; default tests passed; slow tests FAILED (exit 1)"),
        (1, 1, 2, 1, "lint FAILED (exit 1); default tests FAILED (exit 1); slow tests FAILED (exit 2)"),
        (0, 0, 5, 0, "lint passed; default tests passed; slow tests passed"),  # 5: no slow test collected
    ],
)
def test_every_pass_runs_and_any_failure_fails_the_script(
    tmp_path: Path, lint: int, fast: int, slow: int, status: int, summary: str
) -> None:
    root = _tree(tmp_path, lint, fast, slow)
    done = subprocess.run(
        ["bash", "scripts/test.sh", "-x"], cwd=root, capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode != 0) == bool(status), done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"scripts/test.sh: {summary}"
    # the arguments reach both passes
    assert (root / "calls.log").read_text().splitlines() == ["lint", "-m pytest -q -x", "-m pytest -q -m slow -x"]


def test_a_failed_install_stops_before_anything_else(tmp_path: Path) -> None:
    root = _tree(tmp_path, 0, 0, 0)
    (root / "scripts" / "install.sh").write_text("exit 3\n")
    done = subprocess.run(
        ["bash", "scripts/test.sh"], cwd=root, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 3 and not (root / "calls.log").exists()
