"""How long the command line takes to start, and `import sentilstm`, in fresh processes.

    python bench/cli_startup.py                              # this checkout, 7 runs of each
    python bench/cli_startup.py --before /tmp/old/src        # and another checkout's src/ beside it, alternating

Each command runs in a new Python process (`python -c` with the package from --src on sys.path first, so two
checkouts can be compared in one environment); the figure is the median wall-clock time over --repeats runs,
the checkouts alternating run by run so load on the shared machine hits both alike. Also counts the modules each
import leaves loaded and whether torch, scikit-learn and pandas are among them. Writes
bench/results/cli_startup.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
HERE = Path(__file__).resolve().parents[1] / "src"
# name -> Python run in a fresh process; the CLI's entry point exits through SystemExit after printing
COMMANDS = {
    "sentilstm --help": "import sys; sys.argv = ['sentilstm', '--help']; from sentilstm.cli import app; app()",
    "sentilstm predict --help": (
        "import sys; sys.argv = ['sentilstm', 'predict', '--help']; from sentilstm.cli import app; app()"
    ),
    "sentilstm --version": "import sys; sys.argv = ['sentilstm', '--version']; from sentilstm.cli import app; app()",
    "import sentilstm": "import sentilstm",
    "from sentilstm import SentimentClassifier": "from sentilstm import SentimentClassifier",
}
HEAVY = ("torch", "sklearn", "pandas")


def run(src: Path, code: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(src)!r}); {code}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - started


def loaded(src: Path, code: str) -> tuple[int, list[str]]:
    """Modules loaded once `code` has run (its SystemExit caught), and which heavy ones."""
    script = f"import sys\nsys.path.insert(0, {str(src)!r})\ntry:\n    exec({code!r})\nexcept SystemExit:\n    pass\n"
    probe = f"import json\nprint(json.dumps([len(sys.modules), [m for m in {HEAVY!r} if m in sys.modules]]))\n"
    out = subprocess.run([sys.executable, "-c", script + probe], capture_output=True, text=True, check=True).stdout
    count, heavy = json.loads(out.strip().splitlines()[-1])
    return count, heavy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, default=HERE, help="the src/ folder to measure")
    parser.add_argument("--before", type=Path, help="another checkout's src/ to measure beside it")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS / "cli_startup")
    args = parser.parse_args(argv)
    checkouts = {"now": args.src.resolve()} | ({"before": args.before.resolve()} if args.before else {})
    rows: dict[str, dict[str, dict[str, object]]] = {}
    for name, code in COMMANDS.items():
        times: dict[str, list[float]] = {label: [] for label in checkouts}
        for src in checkouts.values():
            run(src, code)  # warm the file cache
        for _ in range(args.repeats):
            for label, src in checkouts.items():
                times[label].append(run(src, code))
        rows[name] = {}
        for label, src in checkouts.items():
            count, heavy = loaded(src, code)
            rows[name][label] = {"median_s": statistics.median(times[label]), "modules": count, "heavy": heavy}
            print(f"{name:45s} {label:7s} {statistics.median(times[label]):6.2f} s  {count:5d} modules  {heavy}")
    results = {"machine": f"{platform.machine()}, Python {platform.python_version()}", "rows": rows}
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1))
    labels = list(checkouts)
    lines = [
        "# Command-line start-up and import time",
        "",
        f"Produced by `python bench/cli_startup.py{' --before SRC' if args.before else ''}` ({args.repeats} runs "
        f"each, median, fresh processes, alternating; {results['machine']}; a shared 2-core VM: read ratios).",
        "",
        "| command | " + " | ".join(f"{label}: seconds | {label}: modules loaded" for label in labels) + " |",
        "|---|" + "---|---|" * len(labels),
    ]
    for name, by_label in rows.items():
        cells = []
        for label in labels:
            row = by_label[label]
            heavy = f" ({', '.join(row['heavy'])})" if row["heavy"] else ""  # type: ignore[arg-type]
            cells.append(f"{row['median_s']:.2f} | {row['modules']}{heavy}")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
