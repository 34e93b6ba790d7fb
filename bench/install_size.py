"""What `pip install sentilstm` costs: the core install against the core with every extra (`[all]`, which is what
every install pulled before the extras existed), each in a fresh virtual environment, and that the core alone
trains, evaluates and predicts from the command line.

    python bench/install_size.py                       # two venvs under a temporary folder (a few minutes)

For each: installed size (the venv's site-packages, torch included, since both need it), packages installed,
`import sentilstm` and `from sentilstm import SentimentClassifier` times (median of 5 fresh processes), and for
the core a `sentilstm train`/`predict` run on a small table. torch is installed first as the README's scripts do
(the CPU wheel 2.13.0). Writes bench/results/install_size.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
KINDS = {"core": ".", "all": ".[all]"}


def run(*command: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, command))} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def size_of(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


def timed(python: Path, code: str, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run(python, "-c", code)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(kind: str, spec: str, work: Path) -> dict[str, object]:
    venv = work / kind
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "torch==2.13.0")
    run(python, "-m", "pip", "install", "--quiet", spec, cwd=ROOT)  # a regular (not editable) install
    site = next((venv / "lib").glob("python3*/site-packages"))
    packages = json.loads(run(python, "-m", "pip", "list", "--format", "json"))
    row: dict[str, object] = {
        "site_packages_mb": round(size_of(site) / 2**20, 1),
        "packages": len(packages),
        "import_s": round(timed(python, "import sentilstm"), 2),
        "import_classifier_s": round(timed(python, "from sentilstm import SentimentClassifier"), 2),
    }
    if kind == "core":  # the core alone trains, evaluates and predicts from the command line
        table = work / "reviews.csv"
        rows = [("a wonderful film", 1), ("not good at all", 0), ("great acting", 1), ("dull and boring", 0)] * 30
        table.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in rows))
        cli = venv / "bin" / "sentilstm"
        trained = run(cli, "train", table, "--out", work / "m.sentilstm", "--epochs", "2", "--test", table)
        predicted = run(cli, "predict", work / "m.sentilstm", "a wonderful film", "--json")
        row["core_train_ok"] = "saved" in trained
        row["core_predict"] = json.loads(predicted.splitlines()[0])["label"]
    print(kind, row)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=RESULTS / "install_size")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sentilstm-install-") as folder:
        rows = {kind: measure(kind, spec, Path(folder)) for kind, spec in KINDS.items()}
    results = {"machine": f"{platform.machine()}, Python {platform.python_version()}", "rows": rows}
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1))
    lines = [
        "# Install size: the core against every extra",
        "",
        f"Produced by `python bench/install_size.py` ({results['machine']}; fresh venvs, torch 2.13.0 CPU wheel in "
        "both; import times: median of 5 fresh processes on a shared VM).",
        "",
        "| install | site-packages | packages | `import sentilstm` | `from sentilstm import SentimentClassifier` |",
        "|---|---|---|---|---|",
    ]
    for kind, row in rows.items():
        lines.append(
            f"| `pip install {KINDS[kind].replace('.', 'sentilstm', 1)}` | {row['site_packages_mb']:,} MB | "
            f"{row['packages']} | {row['import_s']} s | {row['import_classifier_s']} s |"
        )
    core = rows["core"]
    lines += [
        "",
        f"The core install trained, tested and saved a model: {core['core_train_ok']}; it then predicted "
        f'`{core["core_predict"]}` for "a wonderful film".',
    ]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
