"""`sentilstm predict MODEL -` in a pipe: memory stays flat however many lines go through.

    python bench/stdin_streaming.py --model igbo.sentilstm --lines 10000 100000 1000000

Feeds each count of lines (real tweets from --texts, cycled) to `sentilstm predict MODEL -` through a pipe, reads
its JSON lines as they come, and reports wall time, lines per second and the child's peak resident memory (its
`ru_maxrss`, read with os.wait4), and checks one output line per input line. Writes
bench/results/stdin_streaming.{json,md}.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
DEFAULT_TEXTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "afrisenti" / "ig_dev.tsv"


def read_texts(path: Path) -> list[str]:
    """The tweets of an AfriSenti TSV (or any file's lines), one per line, without tabs or newlines."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix == ".tsv":  # the tweet (or text) column under the header
        header = lines[0].split("\t")
        column = next(i for i, name in enumerate(header) if name in ("tweet", "text"))
        lines = [line.split("\t")[column] for line in lines[1:]]
    return [line.replace("\r", " ") for line in lines if line.strip()]


def run(model: Path, texts: list[str], count: int) -> dict[str, float]:
    command = [sys.executable, "-c", "from sentilstm.cli import main; main()", "predict", str(model), "-"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdin is not None and process.stdout is not None

    def feed() -> None:
        assert process.stdin is not None
        for text in itertools.islice(itertools.cycle(texts), count):
            process.stdin.write(text.encode("utf-8") + b"\n")
        process.stdin.close()

    writer = threading.Thread(target=feed)
    writer.start()
    answered = sum(1 for _ in process.stdout)
    writer.join()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0 or answered != count:
        raise SystemExit(f"{count} lines in, {answered} out, exit status {status}")
    return {
        "lines": count,
        "seconds": seconds,
        "lines_per_second": count / seconds,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--texts", type=Path, default=DEFAULT_TEXTS)
    parser.add_argument("--lines", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--out", type=Path, default=RESULTS / "stdin_streaming")
    args = parser.parse_args(argv)
    texts = read_texts(args.texts)
    rows = []
    for count in args.lines:
        rows.append(run(args.model, texts, count))
        print(rows[-1])
    machine = f"{platform.machine()}, Python {platform.python_version()}"
    args.out.with_suffix(".json").write_text(json.dumps({"machine": machine, "model": args.model.name, "rows": rows}))
    lines = [
        "# `sentilstm predict MODEL -` over a pipe",
        "",
        f"Produced by `python bench/stdin_streaming.py --model {args.model.name} --lines "
        f"{' '.join(map(str, args.lines))}` ({machine}; texts: {args.texts.name}, cycled; one run each, shared VM).",
        "",
        "| lines | seconds | lines/s | peak RSS of the predicting process |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['lines']:,} | {r['seconds']:.0f} | {r['lines_per_second']:,.0f} | {r['peak_rss_mb']:,.0f} MB |"
        for r in rows
    ]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
