"""How the default recipe combines the network with a linear n-gram model, judged on development splits only.

    python bench/blend_dev.py                        # ten AfriSenti languages + SST-2, 3 seeds
    python bench/blend_dev.py --datasets afrisenti-ig --seeds 0
    python bench/blend_dev.py --datasets imdb --seeds 0  # IMDB: 20,000 training reviews, 5,000 held out as dev
    python bench/blend_dev.py --report-only          # rebuild the Markdown from the cached runs
    python bench/blend_dev.py --set min_frequency=1 --cache-dir .bench-cache/mf1 --out bench/results/blend_dev_mf1
    python bench/blend_dev.py --datasets imdb --seeds 0 --unlabeled --encoder .bench-cache/imdb-dev.encoder \
        --set freeze_encoder=1 --cache-dir .bench-cache/imdb-freeze1 --out bench/results/blend_dev_imdb_freeze1

--unlabeled passes a dataset's unlabelled texts (IMDB's 50,000 reviews) to fit, for `--set 'pretrain="lm"'`.
--encoder PATH starts every network from one language-model encoder, pretrained on the first dataset's training
split (never its development split) plus, with --unlabeled, its unlabelled texts, and saved at PATH (reused when it
exists): fine-tuning recipes are then compared on the same encoder, without pretraining again for each.

The network is trained once per (dataset, seed) exactly as the default recipe trains it, on the official training
split alone (fit holds out its own 10% for early stopping), and its probabilities on that hold-out and on the
development split are cached (--cache-dir). Each way of blending is then scored on the development split with the
same network: AfriSenti's official dev files, and SST-2's GLUE dev (the only labelled SST-2 split besides the test
set). No test split is read. Figures: weighted F1 and macro F1 (AfriSenti's official metric is weighted F1),
accuracy for SST-2, mean over seeds, and the worst dataset's margin over TF-IDF LR trained on all training data.

Ways compared (all with the same network):
- network: the network alone.
- tfidf_lr, nbsvm: the linear baselines on all the training data (what `sentilstm baseline` does).
- holdout: the blend before issue 16: the linear partner (balanced class weights) fitted on the 90% the network
  trained on, its weight picked on the 10% hold-out.
- crossfit: sentilstm's blend now (`sentilstm.estimators.blend.fit_blend`): the partner (NBSVM or TF-IDF LR,
  unweighted or with balanced class weights) whose 5-fold out-of-fold predictions over all the training data score
  the best macro F1, its weight picked on the hold-out by log-loss, the partner refitted on all the training data.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from sentilstm import SentimentClassifier, load_dataset
from sentilstm.config import BlendConfig
from sentilstm.data.labels import LabelMap, stratified_split
from sentilstm.estimators.baselines import make_baseline
from sentilstm.estimators.blend import fit_blend

RESULTS = Path(__file__).parent / "results"
LANGUAGES = ("ig", "pcm", "am", "dz", "kr", "ma", "pt", "sw", "ts", "twi")
DEFAULT_DATASETS = tuple(f"afrisenti-{lang}" for lang in LANGUAGES) + ("sst2",)
WAYS = ("network", "tfidf_lr", "nbsvm", "holdout", "crossfit")
log = logging.getLogger("blend_dev")


def development_split(name: str, data_dir: Path | None) -> tuple[Any, Any]:
    """(train, development) tables: AfriSenti's dev files; SST-2's GLUE dev (sentilstm calls it SST-2's test);
    IMDB has none, so a fixed stratified 5,000 of its training reviews (its test set is never read)."""
    splits = load_dataset(name, path=(data_dir / _folder(name)) if data_dir else None)
    if name.startswith("afrisenti-"):
        assert splits.validation is not None, f"{name} has a dev split"
        return splits.train, splits.validation
    if name == "imdb":
        train = splits.train
        kept, held = stratified_split(LabelMap.fit(train.labels).encode(train.labels), 0.2, seed=20261206)
        pick = lambda rows: SimpleNamespace(  # noqa: E731 - two tables of the same shape
            texts=[train.texts[i] for i in rows], labels=[train.labels[i] for i in rows]
        )
        return pick(kept), pick(held)
    return splits.train, splits.test


def _folder(name: str) -> str:
    return "afrisenti" if name.startswith("afrisenti-") else {"sst2": "sst", "imdb": "imdb"}[name]


def unlabeled_texts(name: str, data_dir: Path | None) -> list[str]:
    """The dataset's unlabelled texts ([] when it has none)."""
    return load_dataset(name, path=(data_dir / _folder(name)) if data_dir else None).unlabeled or []


def pretrained_encoder(name: str, data_dir: Path | None, path: Path, options: dict[str, Any], unlabeled: bool) -> Path:
    """The encoder at `path`, pretrained first (on the training split, plus the unlabelled texts) when absent."""
    if not path.exists():
        train, _ = development_split(name, data_dir)
        texts = list(train.texts) + (unlabeled_texts(name, data_dir) if unlabeled else [])
        started = time.perf_counter()
        record = SentimentClassifier(**{**options, "pretrain": "lm"}).pretrain_encoder(texts, path)
        log.info("encoder pretrained on %d texts in %.0f s: %s", len(texts), time.perf_counter() - started, record)
    return path


def train_network(
    name: str,
    seed: int,
    data_dir: Path | None,
    cache: Path,
    options: dict[str, Any] | None = None,
    unlabeled: bool = False,
) -> Path:
    """Train the default network (no blend; `options` on top) on the training split; cache its hold-out and dev
    probabilities."""
    path = cache / f"{name}.seed{seed}.npz"
    if path.exists():
        return path
    train, dev = development_split(name, data_dir)
    started = time.perf_counter()
    extra = unlabeled_texts(name, data_dir) if unlabeled else None
    clf = SentimentClassifier(**{**(options or {}), "seed": seed, "blend": None})
    clf.fit(train.texts, train.labels, unlabeled=extra)
    seconds = time.perf_counter() - started
    targets = LabelMap(list(clf.classes_)).encode(train.labels)
    train_index, val_index = stratified_split(targets, clf.validation_fraction, seed)
    val_texts = [train.texts[i] for i in val_index]
    np.savez(
        path,
        train_index=train_index,
        val_index=val_index,
        p_val=clf.predict_proba(val_texts),
        p_dev=clf.predict_proba(dev.texts),
        classes=np.array([str(c) for c in clf.classes_]),
        seconds=seconds,
    )
    log.info("%s seed %d: network trained in %.0f s", name, seed, seconds)
    return path


def score_ways(name: str, seed: int, data_dir: Path | None, cached: Path) -> dict[str, dict[str, float]]:
    """Every way's development scores with the cached network of (name, seed)."""
    train, dev = development_split(name, data_dir)
    run = np.load(cached)
    classes = [c for c in LabelMap.fit(train.labels).labels]
    assert [str(c) for c in classes] == list(run["classes"]), "label order changed since the network was cached"
    label_map = LabelMap(classes)
    dev_targets = label_map.encode(dev.labels)
    train_texts = [train.texts[i] for i in run["train_index"]]
    train_labels = [train.labels[i] for i in run["train_index"]]
    val_texts = [train.texts[i] for i in run["val_index"]]
    val_targets = label_map.encode([train.labels[i] for i in run["val_index"]])
    p_val, p_dev = run["p_val"], run["p_dev"]
    probabilities: dict[str, np.ndarray] = {"network": p_dev}
    seconds: dict[str, float] = {"network": float(run["seconds"])}
    for kind in ("tfidf_lr", "nbsvm"):
        started = time.perf_counter()
        probabilities[kind] = make_baseline(kind).fit(train.texts, train.labels).predict_proba(dev.texts)
        seconds[kind] = time.perf_counter() - started
    for way, config in (("holdout", BlendConfig("auto", blend_strategy="holdout")), ("crossfit", BlendConfig("auto"))):
        started = time.perf_counter()
        fitted = fit_blend(config, p_val, train_texts, train_labels, val_texts, val_targets, classes, sampling="none")
        probabilities[way] = (
            p_dev
            if fitted.model is None
            else fitted.weight * p_dev + (1 - fitted.weight) * fitted.model.predict_proba(dev.texts)
        )
        seconds[way] = time.perf_counter() - started
        chosen = fitted.metrics or {}
        log.info(
            "%s seed %d %s: %s %s, network weight %.2f",
            name,
            seed,
            way,
            chosen.get("model", "network alone"),
            chosen.get("partner", ""),
            fitted.weight,
        )
    return {
        way: {
            "weighted_f1": 100 * f1_score(dev_targets, p.argmax(1), average="weighted"),
            "macro_f1": 100 * f1_score(dev_targets, p.argmax(1), average="macro"),
            "accuracy": 100 * accuracy_score(dev_targets, p.argmax(1)),
            "seconds": seconds[way],
        }
        for way, p in probabilities.items()
    }


def report(results: dict[str, Any]) -> str:
    """Markdown: per dataset, each way's mean dev score over seeds; then the mean and worst margin over TF-IDF LR."""
    table: dict[str, dict[str, list[float]]] = {}
    for key, ways in results["runs"].items():
        name = key.rsplit(".seed", 1)[0]
        metric = "accuracy" if name in ("sst2", "imdb") else "weighted_f1"
        for way, row in ways.items():
            table.setdefault(name, {}).setdefault(way, []).append(row[metric])
    lines = [
        "# Blending the network with a linear model, on development splits",
        "",
        "Command: `python bench/blend_dev.py"
        + "".join(f" --set '{k}={json.dumps(v)}'" for k, v in (results.get("recipe") or {}).items())
        + (" --unlabeled" if results.get("unlabeled") else "")
        + " --datasets ... --seeds ...` (the datasets and seeds in the table below)",
        "",
        f"Machine: {results['machine']}. Networks: the default recipe"
        + (f" with {results['recipe']}" if results.get("recipe") else "")
        + ", trained on the training split only; scores "
        "on the development split (AfriSenti dev, SST-2 GLUE dev): weighted F1 for AfriSenti, accuracy for SST-2; "
        "mean over seeds (n = number of seeds).",
        "",
        "| dataset | n | " + " | ".join(WAYS) + " | crossfit - tfidf_lr | holdout - tfidf_lr |",
        "|---|---|" + "---|" * (len(WAYS) + 2),
    ]
    margins: dict[str, list[float]] = {way: [] for way in WAYS}
    for name in sorted(table, key=lambda n: (n == "sst2", n)):
        means = {way: statistics.fmean(table[name][way]) for way in WAYS if way in table[name]}
        for way in means:
            margins[way].append(means[way] - means["tfidf_lr"])
        n = len(table[name]["network"])
        cells = " | ".join(f"{means[way]:.2f}" for way in WAYS)
        lines.append(
            f"| {name} | {n} | {cells} | {means['crossfit'] - means['tfidf_lr']:+.2f} | "
            f"{means['holdout'] - means['tfidf_lr']:+.2f} |"
        )
    lines += [
        "",
        "Margin over TF-IDF LR (points), across datasets:",
        "",
        "| way | mean margin | worst margin | datasets below TF-IDF LR |",
        "|---|---|---|---|",
    ]
    for way in WAYS:
        if margins[way]:
            below = sum(m < 0 for m in margins[way])
            lines.append(f"| {way} | {statistics.fmean(margins[way]):+.2f} | {min(margins[way]):+.2f} | {below} |")
    if not results["runs"]:
        return "\n".join(lines) + "\n"
    seconds = {
        way: statistics.fmean(ways[way]["seconds"] for ways in results["runs"].values())
        for way in ("network", "holdout", "crossfit")
    }
    lines += [
        "",
        f"Time per run, mean over all runs (the machine was shared, so read ratios only): training the network "
        f"{seconds['network']:.0f} s, then the holdout blend {seconds['holdout']:.1f} s, the crossfit blend "
        f"{seconds['crossfit']:.1f} s (each including its partner's prediction on the development split).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).parents[2] / "shared" / "data")
    parser.add_argument("--cache-dir", type=Path, default=Path(__file__).parents[1] / ".bench-cache" / "blend_dev")
    parser.add_argument("--networks-only", action="store_true", help="train and cache the networks, score nothing")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a recipe change on top of the default (JSON values, e.g. --set min_frequency=1); use its own "
        "--cache-dir and --out",
    )
    parser.add_argument("--unlabeled", action="store_true", help="pass the dataset's unlabelled texts to fit")
    parser.add_argument("--encoder", type=Path, help="start every network from this encoder (pretrained if absent)")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "blend_dev")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    data_dir = args.data_dir if args.data_dir.exists() else None
    options = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}
    json_path = args.out.with_suffix(".json")
    results = json.loads(json_path.read_text()) if json_path.exists() else {"runs": {}}
    results["machine"] = f"{platform.machine()}, Python {platform.python_version()}"
    if not args.report_only:  # a rebuilt report keeps the recipe its runs were made with
        args.cache_dir.mkdir(parents=True, exist_ok=True)
        if args.encoder is not None:
            encoder = pretrained_encoder(args.datasets[0], data_dir, args.encoder, options, args.unlabeled)
            options = {**options, "pretrained_encoder": str(encoder)}
        results["recipe"], results["unlabeled"] = options, args.unlabeled
        for seed in args.seeds:
            for name in args.datasets:
                cached = train_network(name, seed, data_dir, args.cache_dir, options, args.unlabeled)
                if not args.networks_only:
                    results["runs"][f"{name}.seed{seed}"] = score_ways(name, seed, data_dir, cached)
                    json_path.write_text(json.dumps(results, indent=1))
    markdown = report(results)
    args.out.with_suffix(".md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
