"""bench/accuracy.py end to end on the bundled tweets corpus with the fastest model (a few seconds);
bench/hardening.py's verdict rules, snapshots and model-file tampering, and a tiny end-to-end run (slow)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

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
    runs = [
        {
            "dataset": "imdb",
            "model": "lstm",
            "seed": s,
            "train_seconds": 600.0,
            "accuracy": a,
            "macro_f1": a,
            "weighted_f1": a,
        }
        for s, a in enumerate([90.0, 91.0, 92.0])
    ]
    text = bench.markdown(runs, "test machine")
    assert (
        "| sentilstm default (BiLSTM + attention, blended) | 3 | 91.00 ± 1.00 | 91.00 ± 1.00 | 91.00 ± 1.00 |  |"
        in text
    )
    assert "10.0 min" in text and "91.22" in text and "Wang & Manning 2012" in text


def test_threads_bench_runs_a_cell_and_tabulates() -> None:
    spec = importlib.util.spec_from_file_location("threads_bench", BENCH.parent / "threads.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    cell = bench.run_cell("train", 1, 0.5)
    assert cell["texts_per_second"] > 0 and cell["threads_used"] == {"1": cell["threads_used"]["1"]}
    rows = [
        {
            "workload": "train",
            "setting": s,
            "burners": b,
            "texts_per_second": v,
            "source": "x",
            "threads_used": {"1": 3},
            "switches": [],
        }
        for s, b, v in [("two", 2, 100.0), ("auto", 2, 700.0)]
    ]
    assert "| train | 2 | 100 | 700 | 7.00x |" in bench.markdown(rows, "test machine")


# ----- bench/hardening.py: the hostile-input audit ------------------------------------------------------------------
HARDENING = Path(__file__).resolve().parents[1] / "bench" / "hardening.py"


def load_hardening(part: str = "hardening"):
    """bench/hardening.py, or one of its parts (hardening_core, hardening_model, hardening_api...)."""
    if str(HARDENING.parent) not in sys.path:
        sys.path.insert(0, str(HARDENING.parent))
    return importlib.import_module(part)


def test_audit_classifies_command_outcomes() -> None:
    audit = load_hardening("hardening_core")

    def verdict(expect: str, rc: int | None, stderr: str, *, lost=(), leftovers=(), peak=500.0, **options) -> str:
        run = audit.Run(rc, "", stderr, 1.0, peak)
        return audit.classify(expect, run, blowup_mb=1536, lost=list(lost), leftovers=list(leftovers), **options)[0]

    one_line = "training on 300 texts\nerror: --epochs must be a whole number >= 1, got -1\n"
    assert verdict("refuse", 2, one_line) == "clean"
    assert verdict("work", 2, one_line) == "other"  # a valid input refused
    assert verdict("refuse", 2, "error: a\nerror: b\n") == "other"
    assert (
        verdict(
            "refuse",
            2,
            "Usage: sentilstm train [OPTIONS]\n│ Invalid value for '--epochs': 'x' is not a valid integer. │\n",
        )
        == "clean"
    )
    assert verdict("refuse", 1, "Traceback (most recent call last):\n  File ...\nValueError: bad\n") == "traceback"
    assert verdict("refuse", 1, "something went wrong\n") == "traceback"
    assert verdict("refuse", 0, "") == "accepted"
    assert verdict("either", 0, "") == "clean"
    assert verdict("work", 0, "", problem="loads silently and predicts different labels") == "accepted"
    assert verdict("refuse", None, "") == "hang/blow-up"
    assert verdict("refuse", -9, "") == "hang/blow-up"
    assert verdict("refuse", 2, one_line, peak=4000.0) == "hang/blow-up"
    assert verdict("refuse", 1, "RuntimeError: DefaultCPUAllocator: can't allocate memory\n") == "hang/blow-up"
    assert verdict("refuse", 2, one_line, lost=["train.csv changed"]) == "data lost"
    assert verdict("refuse", 2, one_line, leftovers=[".m.sentilstm.x.tmp"]) == "data lost"
    assert (
        verdict("refuse", 2, "error: cannot listen on 127.0.0.1:9: it is already in use", accepted_if="cannot listen")
        == "accepted"
    )
    assert verdict("refuse", 2, "training on 300 texts\nerror: label 'meh'", late_if="training on") == "other"


def test_audit_snapshots_find_changed_inputs_and_half_written_outputs(tmp_path: Path) -> None:
    audit = load_hardening("hardening_core")
    (tmp_path / "train.csv").write_text("text,label\ngood,pos\n")
    (tmp_path / "model.sentilstm").write_bytes(b"old model")
    (tmp_path / "link.csv").symlink_to("train.csv")
    before = audit.snapshot(tmp_path)
    assert before["link.csv"] == "link:train.csv" and before["train.csv"].startswith("file:")
    (tmp_path / "train.csv").write_text("a model now")
    (tmp_path / "model.sentilstm").write_bytes(b"new model")
    (tmp_path / ".out.csv.x1.tmp").write_text("half")
    after = audit.snapshot(tmp_path)
    lost, leftovers = audit.compare(before, after, outputs=("model.sentilstm",), succeeded=True)
    assert lost == ["train.csv changed"] and leftovers == [".out.csv.x1.tmp"]
    lost, _ = audit.compare(
        before, after, outputs=("model.sentilstm",), succeeded=False
    )  # a failed run keeps old outputs
    assert lost == ["model.sentilstm changed", "train.csv changed"]


def test_audit_tampers_change_only_what_they_say(trained_model_path: Path) -> None:
    audit = load_hardening("hardening_model")
    data = trained_model_path.read_bytes()
    header, body = audit.split_file(data)
    payload = json.loads(header["__metadata__"]["payload"])
    swapped = audit.edit_payload(lambda p: p.__setitem__("labels", p["labels"][::-1]))(data)
    new_header, new_body = audit.split_file(swapped)
    assert new_body == body and json.loads(new_header["__metadata__"]["payload"])["labels"] == payload["labels"][::-1]
    assert {k: v for k, v in new_header.items() if k != "__metadata__"} == {
        k: v for k, v in header.items() if k != "__metadata__"
    }
    flipped = audit.flip_label_bit(data)
    assert len(flipped) == len(data) and sum(a != b for a, b in zip(flipped, data)) == 1


def test_audit_judges_python_exceptions() -> None:
    audit = load_hardening("hardening_api")
    from sentilstm.errors import ConfigError

    assert audit.judge_exception(ConfigError("epochs must be >= 1, got 0"), "refuse") == (
        "clean",
        "ConfigError: epochs must be >= 1, got 0",
    )
    assert audit.judge_exception(ConfigError("epochs must be >= 1, got 0"), "work")[0] == "other"
    assert audit.judge_exception(ConfigError("two\nlines"), "refuse")[0] == "other"
    try:
        {}["missing"]
    except KeyError as exc:
        assert audit.judge_exception(exc, "refuse")[0] == "traceback"  # raised by accident, not on purpose
    assert audit.judge_exception(MemoryError(), "refuse")[0] == "hang/blow-up"


@pytest.mark.slow  # ~1 min: prepares tiny models with the CLI, then runs a few cases
def test_audit_runs_end_to_end_in_a_tiny_mode(tmp_path: Path) -> None:
    audit = load_hardening()
    results = tmp_path / "hardening.json"
    assert audit.main(["--only", "python", "--limit", "3", "--out", str(results)]) == 0
    saved = json.loads(results.read_text())
    assert 3 <= len(saved["cases"]) <= 6 and {c["surface"] for c in saved["cases"]} == {"python"}
    assert all(c["verdict"] in load_hardening("hardening_core").VERDICTS for c in saved["cases"])
    assert saved["totals"]["total"]["tried"] == len(saved["cases"]) - saved["totals"]["total"]["skipped"]
    table = (tmp_path / "hardening.md").read_text()
    assert "| surface | tried | clean one-line errors" in table and "| **total** |" in table


def test_blend_dev_scores_every_way_from_a_cached_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/blend_dev.py with a cached (here: random) network: every way is scored on the development split, the
    report gives each dataset's row and the margins over TF-IDF LR."""
    import numpy as np

    from helpers import make_negation_data
    from sentilstm.data.labels import LabelMap, stratified_split

    spec = importlib.util.spec_from_file_location("blend_dev", BENCH.parent / "blend_dev.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    train, dev = (
        SimpleNamespace(texts=t, labels=y) for t, y in (make_negation_data(300, 0), make_negation_data(80, 1))
    )
    monkeypatch.setattr(bench, "development_split", lambda name, data_dir: (train, dev))
    classes = LabelMap.fit(train.labels).labels
    train_index, val_index = stratified_split(LabelMap(classes).encode(train.labels), 0.1, 0)
    rng = np.random.default_rng(0)
    cached = tmp_path / "toy.seed0.npz"
    np.savez(
        cached,
        train_index=train_index,
        val_index=val_index,
        p_val=rng.dirichlet(np.ones(len(classes)), len(val_index)),
        p_dev=rng.dirichlet(np.ones(len(classes)), len(dev.texts)),
        classes=np.array([str(c) for c in classes]),
        seconds=1.0,
    )
    scores = bench.score_ways("toy", 0, None, cached)
    assert set(scores) == set(bench.WAYS)
    assert 35 < scores["network"]["accuracy"] < 65  # a random network: chance
    accuracy = {way: row["accuracy"] for way, row in scores.items()}
    # the random network gets little weight: the blends score about as well as their better partner
    assert accuracy["crossfit"] > accuracy["network"] + 10
    assert accuracy["crossfit"] > max(accuracy["nbsvm"], accuracy["tfidf_lr"]) - 5
    markdown = bench.report({"machine": "test", "runs": {"toy.seed0": scores}})
    assert "| toy | 1 |" in markdown and "| crossfit |" in markdown and "Time per run" in markdown


def test_suite_summary_gives_the_mean_and_the_worst_margin_over_tfidf_lr() -> None:
    bench = load_bench()
    names = bench.SUITES["afrisenti"][0]
    assert len(names) == 10
    runs = [
        {"dataset": name, "model": model, "seed": seed, "weighted_f1": value + i + seed}
        for i, name in enumerate(names)
        for model, value in (("tfidf_lr", 60), ("nbsvm", 58), ("lstm", 61), ("lstm_alone", 55))
        for seed in ((0,) if model in ("tfidf_lr", "nbsvm") else (0, 2))  # the network's seeds average to +1
    ]
    runs[-1]["weighted_f1"] -= 10  # the last language's second network-alone seed: its margin -4 - 5 = -9
    lines = bench.suite_summary(runs)
    assert lines[0].startswith("## Suite: afrisenti (10 datasets")
    assert "| **mean** | 64.50 | 62.50 |" in "\n".join(lines)
    assert lines[-2] == "| **worst margin** | | | | | +2.00 | -9.00 |"
    assert bench.suite_summary([r for r in runs if r["dataset"] != names[0]]) == []  # a language missing: none


def test_unseen_words_counts_the_development_tokens_the_tokenizer_maps_to_unk() -> None:
    spec = importlib.util.spec_from_file_location("unseen_words", BENCH.parent / "unseen_words.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    train, dev = ["good bad", "good bad", "good fine"], ["good bad fine awful"]
    assert bench.unseen_rate(train, dev, min_frequency=2) == 50.0  # fine (seen once) and awful (never)
    assert bench.unseen_rate(train, dev, min_frequency=1) == 25.0  # awful alone


def test_a_lever_run_on_every_language_gets_a_summary_row() -> None:
    bench = load_bench()
    names = bench.SUITES["afrisenti"][0]
    runs = [
        {
            "dataset": name,
            "model": model,
            "seed": 0,
            "weighted_f1": value - (3 if (name, model) == (names[4], "lstm_ensemble3") else 0),
        }
        for name in names
        for model, value in (("tfidf_lr", 60), ("nbsvm", 58), ("lstm", 61), ("lstm_alone", 55), ("lstm_ensemble3", 61))
    ]
    lines = bench.suite_summary(runs)
    assert "| default + ensemble of 3 networks, blended | 1 | 60.70 | +0.70 | -2.00 | 1 |" in lines
    assert not any(line.startswith("| sentilstm default, network alone") for line in lines)  # it has its own table
    partial = [r for r in runs if not (r["model"] == "lstm_ensemble3" and r["dataset"] == names[0])]
    assert not any("ensemble" in line for line in bench.suite_summary(partial))  # one language missing: no row
