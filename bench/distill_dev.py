"""Distillation on development splits: the blend of a run (teacher), the network it trained first (the student
without distillation) and the network distilled from the blend (served alone), side by side.

    python bench/distill_dev.py                                   # ten AfriSenti languages and SST-2, seed 0
    python bench/distill_dev.py --datasets afrisenti-ig --seeds 0 1 2
    python bench/distill_dev.py --set char_ngrams=[2,5] --out bench/results/distill_dev_subwords

Each run is one `SentimentClassifier(distill="blend").fit(...)` on the official training split (fit holds out its
own 10% for early stopping and the blend's weight); just before the student is trained, the teacher (the fitted
blend) and the first network score the development split, so all three are judged on the same texts with the
same first network. Scores: weighted F1 for AfriSenti, accuracy for SST-2, and TF-IDF LR on all the training data
for reference. No test split is read. Writes OUT.json (every run, so an interrupted sweep resumes) and OUT.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sklearn.metrics import accuracy_score, f1_score

sys.path.insert(0, str(Path(__file__).parent))
from blend_dev import DEFAULT_DATASETS, development_split  # bench/ is scripts, not a package
from sentilstm import SentimentClassifier
from sentilstm.data.labels import LabelMap
from sentilstm.estimators import distillation
from sentilstm.estimators.baselines import make_baseline
from sentilstm.network.ensemble import EnsembleNet, members

RESULTS = Path(__file__).parent / "results"
WAYS = ("tfidf_lr", "network", "teacher", "student")


def one_run(name: str, seed: int, data_dir: Path | None, options: dict[str, Any]) -> dict[str, Any]:
    """Dev scores of TF-IDF LR, the first network, the blend that teaches and the distilled network."""
    train, dev = development_split(name, data_dir)
    probabilities: dict[str, Any] = {}
    each: dict[str, Any] = {}  # an ensemble's members
    original = distillation.distil

    def watched(clf: Any, *args: Any, **kwargs: Any) -> None:  # the teacher and the first network, before
        probabilities["teacher"] = clf.predict_proba(dev.texts)
        probabilities["network"] = clf._network_proba(dev.texts)
        whole = clf.model_
        try:  # an ensemble's members one by one: what one network of the same recipe scores
            for k, net in enumerate(members(whole) if isinstance(whole, EnsembleNet) else []):
                clf.model_ = net
                each[f"member{k}"] = clf._network_proba(dev.texts)
        finally:
            clf.model_ = whole
        original(clf, *args, **kwargs)

    distillation.distil = watched
    started = time.perf_counter()
    try:
        clf = SentimentClassifier(distill="blend", seed=seed, **options).fit(train.texts, train.labels)
    finally:
        distillation.distil = original
    seconds = time.perf_counter() - started
    probabilities["student"] = clf.predict_proba(dev.texts)
    probabilities["tfidf_lr"] = make_baseline("tfidf_lr").fit(train.texts, train.labels).predict_proba(dev.texts)
    targets = LabelMap(list(clf.classes_)).encode(dev.labels)
    scores = {
        way: {
            "weighted_f1": 100 * f1_score(targets, p.argmax(1), average="weighted"),
            "macro_f1": 100 * f1_score(targets, p.argmax(1), average="macro"),
            "accuracy": 100 * accuracy_score(targets, p.argmax(1)),
        }
        for way, p in {**probabilities, **each}.items()
    }
    if each:  # "member": the mean of the members' scores, one network's expected score
        found = [scores.pop(k) for k in list(each)]
        scores["member"] = {metric: statistics.mean(m[metric] for m in found) for metric in found[0]}
    return {"scores": scores, "seconds": seconds, "partner": clf.metrics_["distillation"]["teacher"]}


def report(results: dict[str, Any], command: str) -> str:
    by_dataset: dict[str, list[dict[str, Any]]] = {}
    for key, run in results["runs"].items():
        by_dataset.setdefault(key.rsplit(".seed", 1)[0], []).append(run)
    lines = [
        "# Distilling the blend into the network, on development splits",
        "",
        f"Command: `{command}`",
        "",
        "Weighted F1 (AfriSenti) or accuracy (SST-2) on the development split, mean over seeds (n). teacher: the",
        "run's blend; network: the network it trained first (no distillation); student: the network distilled from",
        "the teacher, served alone (what `distill='blend'` saves); tfidf_lr: the baseline on all the training data.",
        "",
        "| dataset | n | tfidf_lr | network | teacher (blend) | student | student - network | student - tfidf_lr |"
        " fit seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ensemble = all("member" in r["scores"] for r in results["runs"].values()) and bool(results["runs"])
    ways = (*WAYS, "member") if ensemble else WAYS
    if ensemble:  # the network is an ensemble: its members' mean score goes beside it
        lines[-4] += " network: the ensemble of the run's networks; one member: their mean score, each alone."
        lines[-2] = lines[-2].replace("| network |", "| one member | network |")
        lines[-1] += "---|"
    margins: dict[str, list[float]] = {way: [] for way in ways}
    for name, runs in sorted(by_dataset.items()):
        metric = "accuracy" if name in ("sst2", "imdb") else "weighted_f1"
        mean = {way: statistics.mean(r["scores"][way][metric] for r in runs) for way in ways}
        for way in ways:
            margins[way].append(mean[way] - mean["tfidf_lr"])
        seconds = statistics.mean(r["seconds"] for r in runs)
        member = f"{mean['member']:.2f} | " if ensemble else ""
        lines.append(
            f"| {name} | {len(runs)} | {mean['tfidf_lr']:.2f} | {member}{mean['network']:.2f} | "
            f"{mean['teacher']:.2f} | {mean['student']:.2f} | {mean['student'] - mean['network']:+.2f} | "
            f"{mean['student'] - mean['tfidf_lr']:+.2f} | {seconds:.0f} |"
        )
    lines += [
        "",
        "| way | mean margin over TF-IDF LR | worst margin | datasets below TF-IDF LR |",
        "|---|---|---|---|",
        *(
            f"| {way} | {statistics.mean(m):+.2f} | {min(m):+.2f} | {sum(x < 0 for x in m)} |"
            for way, m in margins.items()
            if m
        ),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).parents[2] / "shared" / "data")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="JSON values, as blend_dev")
    parser.add_argument("--out", type=Path, default=RESULTS / "distill_dev")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    data_dir = args.data_dir if args.data_dir.exists() else None
    options = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}
    path = args.out.with_suffix(".json")
    results = json.loads(path.read_text()) if path.exists() else {"options": options, "runs": {}}
    if not args.report_only:
        for name in args.datasets:
            for seed in args.seeds:
                key = f"{name}.seed{seed}"
                if key not in results["runs"]:
                    results["runs"][key] = one_run(name, seed, data_dir, options)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(json.dumps(results, indent=1))
                    print(key, {w: round(s["weighted_f1"], 2) for w, s in results["runs"][key]["scores"].items()})
    command = "python bench/distill_dev.py" + "".join(f" --set {item}" for item in args.set)
    text = report(results, command)
    args.out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
