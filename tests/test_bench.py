"""bench/accuracy.py end to end on the bundled tweets corpus with the fastest model (a few seconds)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "accuracy.py"


def load_bench():  # bench/ is scripts, not a package
    spec = importlib.util.spec_from_file_location("accuracy_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scoreboard_runs_saves_and_resumes(tmp_path: Path) -> None:
    bench = load_bench()
    results = tmp_path / "accuracy.json"
    assert bench.main(["--datasets", "tweets", "--models", "nbsvm", "--results", str(results)]) == 0
    runs = json.loads(results.read_text())["runs"]
    assert [(r["dataset"], r["model"], r["seed"]) for r in runs] == [("tweets", "nbsvm", 0)]
    assert 60 < runs[0]["accuracy"] < 100 and runs[0]["train_seconds"] > 0
    table = (tmp_path / "accuracy.md").read_text()
    assert "| NBSVM (word 1-3-grams) | 1 |" in table and "Machine:" in table
    assert set(runs[0]["recall"]) == {"negative", "neutral", "positive"}
    # a second call skips finished runs and keeps them
    assert bench.main(["--datasets", "tweets", "--models", "nbsvm", "--results", str(results)]) == 0
    assert json.loads(results.read_text())["runs"] == runs


def test_markdown_reports_mean_and_std_over_seeds_and_anchors() -> None:
    bench = load_bench()
    runs = [{"dataset": "imdb", "model": "lstm", "seed": s, "train_seconds": 600.0, "accuracy": a,
             "macro_f1": a, "weighted_f1": a} for s, a in enumerate([90.0, 91.0, 92.0])]
    text = bench.markdown(runs, "test machine")
    assert "| sentilstm default (BiLSTM + attention, blended) | 3 | 91.00 ± 1.00 | 91.00 ± 1.00 | 91.00 ± 1.00 |  |" in text
    assert "10.0 min" in text and "91.22" in text and "Wang & Manning 2012" in text


def test_threads_bench_runs_a_cell_and_tabulates() -> None:
    spec = importlib.util.spec_from_file_location("threads_bench", BENCH.parent / "threads.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    cell = bench.run_cell("train", 1, 0.5)
    assert cell["texts_per_second"] > 0 and cell["threads_used"] == {"1": cell["threads_used"]["1"]}
    rows = [{"workload": "train", "setting": s, "burners": b, "texts_per_second": v, "source": "x",
             "threads_used": {"1": 3}, "switches": []} for s, b, v in [("two", 2, 100.0), ("auto", 2, 700.0)]]
    assert "| train | 2 | 100 | 700 | 7.00x |" in bench.markdown(rows, "test machine")
