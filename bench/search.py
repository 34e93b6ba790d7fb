"""Does model selection pay? Cross-validation and an Optuna search on a real dataset, against the default recipe.

    python bench/search.py                                   # AfriSenti Igbo, 5-fold CV, 16 trials
    python bench/search.py --trials 8 --timeout 900 --folds 3
    python bench/search.py --skip-cv --trials 24              # resume the same study (in --work) up to 24 trials

1. 5-fold stratified CV on the official training split of the default recipe and of both linear baselines:
   mean ± std of weighted and macro F1, and the seconds per fold (`sentilstm cv`).
2. `sentilstm tune`: an Optuna search over the default space (pruning on, network only during the search), with
   the official dev split as every trial's validation set; the best configuration is retrained with the default
   blend and scored once on the official test split, beside the default recipe trained the same way in this run.

Results go to bench/results/search.{json,md}; the HTML reports, the study database and the models to --work
(default /tmp/sentilstm-search), which is not part of the repository.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from accuracy import load, machine  # the scoreboard's data loading and machine description
from sentilstm import SentimentClassifier, cross_validate, tune
from sentilstm.report.builders import cv_report, training_report, tune_report

RESULTS = Path(__file__).parent / "results"
METRICS = ("weighted_f1", "macro_f1", "accuracy")


def percent(report: Any) -> dict[str, float]:
    return {m: round(100 * getattr(report, m), 2) for m in METRICS}


def run_cv(splits: Any, estimator: str, folds: int, work: Path) -> dict[str, Any]:
    started = time.perf_counter()
    result = cross_validate(
        splits.train.texts,
        splits.train.labels,
        estimator=estimator,
        folds=folds,
        params={"min_df": 2} if estimator != "lstm" else {},
    )
    cv_report(result).write(work / f"cv_{estimator}.report.html")
    summary = result.summary()
    return {
        "estimator": estimator,
        "folds": folds,
        **{m: [round(100 * summary[m][0], 2), round(100 * summary[m][1], 2)] for m in METRICS},
        "seconds_per_fold": round((time.perf_counter() - started) / folds, 1),
    }


def run_search(splits: Any, trials: int, timeout: float | None, work: Path) -> dict[str, Any]:
    validation = (splits.validation.texts, splits.validation.labels)
    started = time.perf_counter()
    default = SentimentClassifier().fit(splits.train.texts, splits.train.labels, validation=validation)
    default_seconds = time.perf_counter() - started
    default_test = default.evaluate(splits.test.texts, splits.test.labels)
    started = time.perf_counter()
    result = tune(
        splits.train.texts,
        splits.train.labels,
        trials=trials,
        timeout=timeout,
        metric="weighted_f1",
        validation=validation,
        storage=f"sqlite:///{work / 'search.study.db'}",
        study_name="bench",
        out=work / "tuned.sentilstm",
    )
    search_seconds = time.perf_counter() - started
    tuned_test = result.model.evaluate(splits.test.texts, splits.test.labels)
    tune_report(result).write(work / "tune.report.html")
    training_report(default, title="Default recipe").write(work / "default.report.html")
    states = result.trials["state"].value_counts().to_dict()
    return {
        "trials": {str(k): int(v) for k, v in states.items()},
        "search_minutes": round(search_seconds / 60, 1),
        "best_validation_weighted_f1": round(100 * result.best_value, 2),
        "best_params": result.best_params,
        "default": {
            "validation": percent(default.validation_report_),
            "test": percent(default_test),
            "train_seconds": round(default_seconds, 1),
        },
        "tuned": {"validation": percent(result.model.validation_report_), "test": percent(tuned_test)},
    }


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"# Model selection on {results['dataset']}",
        "",
        f"Machine: {results['machine']}. Command: `{results['command']}`.",
        "",
        f"## {results['cv'][0]['folds']}-fold cross-validation of the training split",
        "",
        "| model | weighted F1 | macro F1 | accuracy | seconds per fold |",
        "|---|---|---|---|---|",
    ]
    for row in results["cv"]:
        cells = " | ".join(f"{row[m][0]:.2f} ± {row[m][1]:.2f}" for m in METRICS)
        lines.append(f"| {row['estimator']} | {cells} | {row['seconds_per_fold']} |")
    search = results.get("search")
    if search:
        lines += [
            "",
            "## Optuna search (validation: official dev split; test: official test split, scored once)",
            "",
            f"Trials: {search['trials']}, {search['search_minutes']} min. Best trial's validation weighted F1: "
            f"{search['best_validation_weighted_f1']}.",
            "",
            f"Best parameters: `{json.dumps(search['best_params'])}`",
            "",
            "| recipe | validation weighted F1 | test weighted F1 | test macro F1 | test accuracy |",
            "|---|---|---|---|---|",
        ]
        for name in ("default", "tuned"):
            row = search[name]
            lines.append(
                f"| {name} (blended) | {row['validation']['weighted_f1']:.2f} | {row['test']['weighted_f1']:.2f} | "
                f"{row['test']['macro_f1']:.2f} | {row['test']['accuracy']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="afrisenti-ig")
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=None, help="Start no new trial after this many seconds.")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--skip-cv", action="store_true", help="Keep the cross-validation rows of the last run's JSON.")
    parser.add_argument("--work", type=Path, default=Path("/tmp/sentilstm-search"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args.work.mkdir(parents=True, exist_ok=True)
    splits = load(args.dataset, args.data_dir if args.data_dir.is_dir() else None)
    results: dict[str, Any] = {"dataset": args.dataset, "machine": machine(), "command": "python " + " ".join(sys.argv)}
    if args.skip_cv:
        results["cv"] = json.loads((RESULTS / "search.json").read_text())["cv"]
    else:
        results["cv"] = [
            run_cv(splits, estimator, args.folds, args.work) for estimator in ("nbsvm", "tfidf_lr", "lstm")
        ]
    print(json.dumps(results["cv"], indent=1), flush=True)
    if not args.skip_search:
        results["search"] = run_search(splits, args.trials, args.timeout, args.work)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "search.json").write_text(json.dumps(results, indent=1, default=str))
    (RESULTS / "search.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
