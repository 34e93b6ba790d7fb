"""Batch scoring speed: the local scorer (one process) vs `--engine ray` (an actor pool) on the same CSV.

    python bench/ray_scoring.py                                   # 200k Igbo tweets, torch + onnx-int8, 2 actors
    python bench/ray_scoring.py --rows 50000 --backends onnx-int8 --concurrency 2

The input is the AfriSenti Igbo tweets (train + dev + test, ../shared/data/afrisenti) repeated to --rows, written
once to /tmp as a CSV (id, text). Each run is the real CLI in a subprocess: `sentilstm predict MODEL --input ...
--output ...` (local, the backend's default threads) and the same with `--engine ray --concurrency N --threads 1`
(a fresh local Ray instance each time, so its start-up is in the wall time). Both engines' outputs are compared
(labels identical, max |Δp|). The load average and the CPU time other processes took are recorded with each run,
since the machine is shared. Saves bench/results/ray_scoring.{json,md}.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
AFRISENTI = ROOT.parent / "shared" / "data" / "afrisenti"
WORK = Path("/tmp/sentilstm_ray_bench")


def make_input(rows: int, path: Path) -> None:
    """A CSV (id, text) of `rows` Igbo tweets: the AfriSenti Igbo splits, repeated in order."""
    texts: list[str] = []
    for split in ("train", "dev", "test"):
        frame = pd.read_csv(
            AFRISENTI / f"ig_{split}.tsv", sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False
        )
        texts += frame["tweet"].tolist()
    repeated = (texts * (rows // len(texts) + 1))[:rows]
    temporary = path.with_suffix(".tmp")
    pd.DataFrame({"id": range(rows), "text": repeated}).to_csv(temporary, index=False)
    os.replace(temporary, path)


def busy_seconds() -> float:
    """CPU seconds all processes have spent busy since boot (every core), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def run(command: list[str], log: Path) -> dict[str, Any]:
    """Run the CLI; wall time, its reported scoring time, load average and the CPU other processes took meanwhile.

    Ray's worker processes are not our children, so for Ray runs `other_load_cores` also counts the actors' CPU
    time: read it as "cores busy besides the driver" and compare it with 2 (the machine's cores)."""
    load_before, busy, own = os.getloadavg()[0], busy_seconds(), children_cpu_seconds()
    started = time.perf_counter()
    with open(log, "w") as stderr:
        status = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=stderr).returncode
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed ({status}); see {log}")
    other = ((busy_seconds() - busy) - (children_cpu_seconds() - own)) / seconds
    match = re.search(r"scored (\d+) rows in ([\d.]+)s", log.read_text())
    return {
        "seconds": round(seconds, 1),
        "scoring_seconds": float(match.group(2)) if match else float("nan"),
        "rows": int(match.group(1)) if match else -1,
        "load_1min_before": round(load_before, 2),
        "load_1min_after": round(os.getloadavg()[0], 2),
        "other_load_cores": round(other, 2),
        "command": " ".join(command),
    }


def read_output(path: Path) -> pd.DataFrame:
    files = [path] if path.is_file() else sorted(glob.glob(str(path / "*.csv")))
    frame = pd.concat([pd.read_csv(f, keep_default_na=False, na_values=[""]) for f in files])
    return frame.sort_values("id").reset_index(drop=True)


def compare(local: pd.DataFrame, ray: pd.DataFrame) -> dict[str, Any]:
    probabilities = [c for c in local.columns if c.startswith("prob_")]
    assert local["id"].tolist() == ray["id"].tolist(), "the engines scored different rows"
    return {
        "labels_identical": bool((local["predicted_label"] == ray["predicted_label"]).all()),
        "max_abs_probability_difference": float((local[probabilities] - ray[probabilities]).abs().to_numpy().max()),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"# Batch scoring on Ray vs one process: {result['rows']:,} Igbo tweets ({result['input_mib']:.0f} MiB CSV)",
        "",
        f"Machine: {result['machine']}. {result['date']}. Conditions: {result['conditions']}. "
        f"Model: `{result['model']}` ({result['model_description']}).",
        "",
        "| backend | engine | rows/s (wall, incl. start-up) | rows/s (as the CLI reports) | wall time | "
        "load avg (1 min) before → after | other processes' load (cores) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['backend']} | {r['engine']} | {r['rows_per_second']:,.0f} | {r['scoring_rows_per_second']:,.0f} | "
            f"{r['seconds']:.0f} s | {r['load_1min_before']:.2f} → {r['load_1min_after']:.2f} | "
            f"{r['other_load_cores']:.2f} |"
        )
    lines += ["", "Agreement of the Ray output with the local output (same backend, rows matched by id):", ""]
    for backend, agreement in result["agreement"].items():
        lines.append(
            f"- {backend}: labels identical: {agreement['labels_identical']}; "
            f"max |Δ probability| {agreement['max_abs_probability_difference']:.1e} (values are rounded to 6 decimals)"
        )
    lines += ["", "Commands:", ""] + [f"    {r['command']}" for r in result["runs"]]
    lines += [
        "",
        "Local: one process, the backend's default threads. Ray: a fresh local instance each run (its start-up, "
        "~5-10 s here, is in the wall time; the CLI's figure counts from the model check to the last file written), "
        "actors of one thread each; the CLI also reads the written files back to count the rows.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        type=Path,
        default=Path("/tmp/igbo_bench_net.sentilstm"),
        help="copied (with its .int8.onnx sibling when present) to /tmp/sentilstm_ray_bench first",
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--backends", nargs="+", default=["torch", "onnx-int8"])
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--conditions", default="", help="free text recorded with the results (other jobs running)")
    parser.add_argument("--results", type=Path, default=RESULTS / "ray_scoring.json")
    args = parser.parse_args(argv)
    WORK.mkdir(exist_ok=True)
    model = WORK / args.model.name
    for source in (args.model, args.model.with_suffix(".int8.onnx")):
        if source.exists():
            shutil.copyfile(source, WORK / source.name)
    source = WORK / f"igbo_{args.rows}.csv"
    if not source.exists():
        make_input(args.rows, source)
    from sentilstm.estimators.classifier import load_model

    clf = load_model(model)
    description = (
        (
            f"{clf.cell.upper()}{'-bi' if clf.bidirectional else ''} hidden {clf.hidden_size}, "
            f"{len(clf.label_map_.labels)} classes"
        )
        if hasattr(clf, "hidden_size")
        else type(clf).__name__
    )
    cli = [sys.executable, "-m", "sentilstm", "predict", str(model), "--input", str(source), "--quiet"]
    runs, agreement = [], {}
    for backend in args.backends:
        outputs = {}
        for engine in ("local", "ray"):
            output = WORK / f"scored.{backend}.{engine}.csv"
            shutil.rmtree(output, ignore_errors=True) if output.is_dir() else output.unlink(missing_ok=True)
            command = cli + ["--output", str(output), "--backend", backend]
            if engine == "ray":
                command += [
                    "--engine",
                    "ray",
                    "--concurrency",
                    str(args.concurrency),
                    "--threads",
                    "1",
                    "--batch-size",
                    str(args.batch_size),
                ]
            result = run(command, WORK / f"{backend}.{engine}.log")
            result.update(
                backend=backend,
                engine=engine if engine == "local" else f"ray, {args.concurrency} actors",
                rows_per_second=round(args.rows / result["seconds"], 1),
                scoring_rows_per_second=round(args.rows / result["scoring_seconds"], 1),
            )
            runs.append(result)
            outputs[engine] = output
            print(
                f"{backend} {result['engine']}: {result['rows_per_second']:,.0f} rows/s wall "
                f"({result['seconds']:.0f} s), "
                f"{result['scoring_rows_per_second']:,.0f} rows/s as reported; load {result['load_1min_before']} -> "
                f"{result['load_1min_after']}",
                flush=True,
            )
        agreement[backend] = compare(read_output(outputs["local"]), read_output(outputs["ray"]))
    load = os.getloadavg()
    result = {
        "rows": args.rows,
        "input": str(source),
        "input_mib": source.stat().st_size / 2**20,
        "model": str(args.model),
        "model_description": description,
        "concurrency": args.concurrency,
        "batch_size": args.batch_size,
        "conditions": (
            f"shared 2-vCPU VM; load average at the end {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f} (1/5/15 min)"
            + (f"; {args.conditions}" if args.conditions else "")
        ),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "runs": runs,
        "agreement": agreement,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2))
    args.results.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
