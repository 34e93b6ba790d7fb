"""Batch scoring of a 1,000,000-row CSV with `sentilstm predict MODEL --input ... --output ...`: peak RSS and rows/s.

    python bench/batch_scoring.py                          # /tmp/imdb.sentilstm, 1M synthetic tweets, torch + onnx-int8
    python bench/batch_scoring.py --rows 200000 --backends onnx-int8

The input is synthetic tweet-length text (5-30 words drawn Zipf-like from the model's own vocabulary, some
with a URL, a mention or "not"), written once to /tmp. Each backend runs the real CLI in a subprocess; its
resident memory is sampled from /proc every --interval seconds, and the peak is the kernel's own high-water
mark (ru_maxrss from wait4), so nothing between samples is missed. Saves bench/results/batch_scoring.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def make_input(model: str, rows: int, path: Path, seed: int = 0) -> None:
    """A CSV (id, text) of `rows` tweet-length texts from the model's vocabulary, written in blocks."""
    from sentilstm.estimators.classifier import load_model

    vocabulary = load_model(model).pipeline_.tokenizer.vocabulary()
    words = np.array([w for w, i in sorted(vocabulary.items(), key=lambda kv: kv[1]) if i >= 2 and w.isalpha()])
    weights = 1.0 / np.arange(1, len(words) + 1)
    weights /= weights.sum()
    rng = np.random.default_rng(seed)
    extras = np.array(["not", "http://t.co/x1y2", "@someone", "!!", ":)", "#great"])
    temporary = path.with_suffix(".tmp")
    with open(temporary, "w", encoding="utf-8") as out:
        out.write("id,text\n")
        block = 50_000
        for start in range(0, rows, block):
            count = min(block, rows - start)
            lengths = rng.integers(5, 31, count)
            drawn = rng.choice(words, size=int(lengths.sum()), p=weights)
            cuts = np.cumsum(lengths)[:-1]
            lines = []
            for offset, tokens in enumerate(np.split(drawn, cuts)):
                tokens = list(tokens)
                if rng.random() < 0.3:
                    tokens.insert(int(rng.integers(0, len(tokens) + 1)), str(rng.choice(extras)))
                lines.append(f'{start + offset},"{" ".join(tokens)}"\n')
            out.writelines(lines)
    os.replace(temporary, path)


def busy_seconds() -> float:
    """CPU seconds all processes have spent busy since boot (every core), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def score(
    model: str, source: Path, backend: str, threads: int | None, chunk_rows: int, interval: float
) -> dict[str, Any]:
    """Run the CLI once; return wall time, rows/s, peak RSS (kernel high-water mark) and the sampled RSS curve."""
    output = source.with_name(f"{source.stem}.{backend}.scored.csv")
    command = [
        sys.executable,
        "-m",
        "sentilstm",
        "predict",
        model,
        "--input",
        str(source),
        "--output",
        str(output),
        "--backend",
        backend,
        "--chunk-rows",
        str(chunk_rows),
    ]
    if threads is not None:
        command += ["--threads", str(threads)]
    log = source.with_name(f"{source.stem}.{backend}.log")
    busy = busy_seconds()
    started = time.perf_counter()
    with open(log, "w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        samples: list[tuple[float, int]] = []
        while True:
            finished, status, usage = os.wait4(process.pid, os.WNOHANG)
            if finished:
                break
            value = rss_kib(process.pid)
            if value is not None:
                samples.append((round(time.perf_counter() - started, 2), value))
            time.sleep(interval)
    seconds = time.perf_counter() - started
    # every core's busy time minus the CLI's own CPU time: what other processes took from the machine meanwhile
    other_load = ((busy_seconds() - busy) - (usage.ru_utime + usage.ru_stime)) / seconds
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed; see {log}")
    rows = sum(1 for _ in open(output, encoding="utf-8")) - 1
    output.unlink()
    match = re.search(r"scored (\d+) rows in ([\d.]+)s", log.read_text())
    scoring_seconds = float(match.group(2)) if match else float("nan")
    values = [v for _, v in samples]
    quarter = len(values) // 4
    return {
        "backend": backend,
        "threads": threads,
        "rows": rows,
        "seconds": round(seconds, 1),
        "rows_per_second": round(rows / seconds, 1),
        "scoring_seconds": scoring_seconds,
        "scoring_rows_per_second": round(rows / scoring_seconds, 1),  # as the CLI reports it: without start-up
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        # flat memory: RSS in the second quarter of the run vs the last quarter
        "rss_mib_second_quarter_max": round(max(values[quarter : 2 * quarter] or [0]) / 1024, 1),
        "rss_mib_last_quarter_max": round(max(values[3 * quarter :] or [0]) / 1024, 1),
        "other_load_cores": round(other_load, 2),
        "rss_samples_mib": [(t, round(v / 1024, 1)) for t, v in samples[:: max(1, len(samples) // 40)]],
        "command": " ".join(command),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"# Batch scoring: {result['rows']:,} rows ({result['input_mib']:.0f} MiB CSV of tweet-length texts), "
        f"`sentilstm predict --input/--output`",
        "",
        f"Machine: {result['machine']}. {result['date']}. Conditions: {result['conditions']}. "
        f"Model: `{result['model']}`, "
        f"chunks of {result['chunk_rows']:,} rows.",
        "",
        "| backend | threads | rows/s (wall, incl. start-up) | rows/s (scoring loop) | wall time | peak RSS (MiB) | "
        "RSS max, 2nd quarter of run | RSS max, last quarter | other processes' load (cores) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['backend']} | {r['threads'] or 'default'} | {r['rows_per_second']:,.0f} | "
            f"{r['scoring_rows_per_second']:,.0f} | {r['seconds']:.0f} s | "
            f"{r['peak_rss_mib']:.0f} | {r['rss_mib_second_quarter_max']:.0f} | {r['rss_mib_last_quarter_max']:.0f} | "
            f"{r.get('other_load_cores', float('nan')):.2f} |"
        )
    lines += [
        "",
        "Peak RSS is the kernel's high-water mark of the CLI process (ru_maxrss); the quarter columns come from "
        "/proc samples and show whether memory grows with the rows read (target: peak < 1 GiB).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="/tmp/imdb.sentilstm")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--input", type=Path, default=Path("/tmp/sentilstm_bench_1m.csv"))
    parser.add_argument("--backends", nargs="+", default=["torch", "onnx-int8"])
    parser.add_argument(
        "--threads", type=int, default=None, help="--threads for the CLI (default: the backend's choice)"
    )
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between RSS samples")
    parser.add_argument("--conditions", default="", help="free text recorded with the results (load, other jobs)")
    parser.add_argument("--results", type=Path, default=RESULTS / "batch_scoring.json")
    args = parser.parse_args(argv)
    meta = args.input.with_suffix(".json")
    if not (
        args.input.exists()
        and meta.exists()
        and json.loads(meta.read_text()) == {"rows": args.rows, "model": args.model}
    ):
        started = time.perf_counter()
        make_input(args.model, args.rows, args.input)
        meta.write_text(json.dumps({"rows": args.rows, "model": args.model}))
        print(
            f"wrote {args.input} ({args.input.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - started:.0f}s",
            flush=True,
        )
    runs = []
    for backend in args.backends:
        run = score(args.model, args.input, backend, args.threads, args.chunk_rows, args.interval)
        runs.append(run)
        print(
            f"{backend}: {run['rows_per_second']:.0f} rows/s, {run['seconds']:.0f}s, "
            f"peak RSS {run['peak_rss_mib']:.0f} MiB "
            f"(2nd quarter {run['rss_mib_second_quarter_max']:.0f}, "
            f"last quarter {run['rss_mib_last_quarter_max']:.0f})",
            flush=True,
        )
    result = {
        "rows": args.rows,
        "input": str(args.input),
        "input_mib": args.input.stat().st_size / 2**20,
        "model": args.model,
        "chunk_rows": args.chunk_rows,
        "conditions": args.conditions or "not recorded",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "runs": runs,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2))
    args.results.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
