"""The accuracy scoreboard: linear baselines vs sentilstm's default recipe on public benchmarks.

    python bench/accuracy.py                                 # everything, 3 seeds for the LSTM
    python bench/accuracy.py --datasets afrisenti-ig --seeds 0  # one dataset, one seed
    python bench/accuracy.py --report-only                   # rebuild the Markdown from saved runs
    python bench/accuracy.py --suite afrisenti --results bench/results/afrisenti_suite.json  # the ten languages

Each run (dataset, model, seed) trains on the official training split, evaluates once on the official
test split (SST-2: GLUE dev) and is appended to --results (bench/results/accuracy.json) as soon as it
finishes, so an interrupted scoreboard keeps its runs and a later call skips them. The Markdown beside it
(bench/results/accuracy.md) is rebuilt from the JSON: mean ± std over seeds, training wall-clock time, the
machine, and published anchors for comparison; a suite whose datasets all have runs gets a summary (the
recipe's margin over TF-IDF LR per dataset, its mean and the worst). Data comes from --data-dir (default
../shared/data) or the dataset cache.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sentilstm import SentimentClassifier, load_dataset
from sentilstm.data.datasets import DATASETS
from sentilstm.estimators.baselines import make_baseline

RESULTS = Path(__file__).parent / "results"
AFRISENTI = tuple(f"afrisenti-{lang}" for lang in ("ig", "pcm", "am", "dz", "kr", "ma", "pt", "sw", "ts", "twi"))
LOCAL_FOLDERS = {"imdb": "imdb", "sst2": "sst", **{name: "afrisenti" for name in AFRISENTI}}
# --suite NAME: datasets and models run together, summarised per dataset with the worst margin over TF-IDF LR
SUITES = {"afrisenti": (AFRISENTI, "nbsvm,tfidf_lr,lstm")}
MODELS = {
    "nbsvm": "NBSVM (word 1-3-grams)",
    "tfidf_lr": "TF-IDF word 1-2 + char 2-5-grams, LR",
    "lstm": "sentilstm default (BiLSTM + attention, blended)",
    "lstm_alone": "sentilstm default, network alone (same runs)",
    # the default before 0.2 on a dataset with unlabelled texts (IMDB): they were not used
    "lstm_no_unlabeled": "default without the unlabelled texts (pretrain_embeddings=None), blended",
    "lstm_no_unlabeled_alone": "default without the unlabelled texts, network alone (same runs)",
    "lstm_w2v": "default + in-domain word2vec (train + unlabelled texts), blended",
    "lstm_w2v_alone": "default + in-domain word2vec, network alone (same runs)",
    "lstm_w2v_freeze": "default + in-domain word2vec frozen for 2 epochs, blended",
    "lstm_w2v_freeze_alone": "default + in-domain word2vec frozen for 2 epochs, network alone (same runs)",
    "lstm_focal": "default + focal loss (gamma 2), blended",
    "lstm_focal_alone": "default + focal loss, network alone (same runs)",
    "lstm_oversample": "default + per-epoch oversampling, blended",
    "lstm_oversample_alone": "default + per-epoch oversampling, network alone (same runs)",
    "lstm_balanced": "default + class_weight balanced, blended",
    "lstm_balanced_alone": "default + class_weight balanced, network alone (same runs)",
    "lstm_glove": "default + GloVe 6B 50d (frozen 1 epoch), blended",
    "lstm_glove_alone": "default + GloVe 6B 50d, network alone (same runs)",
    "nbsvm_balanced": "NBSVM, class_weight balanced",
    "nbsvm_smote": "NBSVM + SMOTE",
    "tfidf_lr_balanced": "TF-IDF LR, class_weight balanced",
    "tfidf_lr_smote": "TF-IDF LR + SMOTE",
}
# one row per accuracy lever: SentimentClassifier options on top of the defaults (README "Improving accuracy")
LEVERS: dict[str, tuple[str, dict[str, Any]]] = {
    "lstm_focal": ("focal loss (gamma 2)", {"loss": "focal"}),
    "lstm_oversample": ("per-epoch random oversampling", {"sampling": "oversample"}),
    "lstm_undersample": ("per-epoch random undersampling", {"sampling": "undersample"}),
    "lstm_balanced": ("class_weight balanced", {"class_weight": "balanced"}),
    "lstm_balanced_batches": ("class-balanced batches", {"sampling": "balanced_batches"}),
    "lstm_smote": ("hidden-state SMOTE", {"sampling": "smote"}),
    "lstm_embedding_dropout": ("word dropout 0.1", {"embedding_dropout": 0.1}),
    "lstm_output_dropout": ("RNN-output dropout 0.3", {"output_dropout": 0.3}),
    "lstm_weight_drop": ("weight-dropped LSTM 0.3", {"weight_drop": 0.3}),
    "lstm_head_l2": ("L2 1e-3 on the head", {"head_l2": 1e-3}),
    "lstm_eda": ("EDA x1, embedding-neighbour synonyms", {"augment": "eda"}),
    "lstm_eda_wordnet": ("EDA x1, WordNet synonyms", {"augment": "eda", "augment_synonyms": "wordnet"}),
    "lstm_swap_delete": ("random swap + deletion x1", {"augment": "swap,delete"}),
    "lstm_synonym": ("synonym replacement x1, embedding neighbours", {"augment": "synonym"}),
    "lstm_synonym_wordnet": ("synonym replacement x1, WordNet", {"augment": "synonym", "augment_synonyms": "wordnet"}),
    # issue 16's levers; a distilled network is served alone, so its "blended" and "alone" rows are the same network
    "lstm_subwords": ("character 2-5-gram subwords (100,000 buckets)", {"char_ngrams": [2, 5]}),
    "lstm_distill": ("distilled from its blend, served alone", {"distill": "blend"}),
    "lstm_subwords_distill": ("subwords, distilled from the blend", {"char_ngrams": [2, 5], "distill": "blend"}),
    "lstm_ensemble3": ("ensemble of 3 networks", {"ensemble": 3}),
    "lstm_subwords_ensemble3": ("subwords, ensemble of 3 networks", {"char_ngrams": [2, 5], "ensemble": 3}),
    "lstm_subwords_ensemble3_distill": (
        "subwords, the blend of an ensemble of 3 distilled into one network",
        {"char_ngrams": [2, 5], "ensemble": 3, "distill": "blend"},
    ),
    # issue 17's levers: a named dataset's unlabelled texts (IMDB's 50,000 reviews) join the language model's corpus
    "lstm_lm": ("language-model pretraining (3 epochs, a quarter of the predictions scored)", {"pretrain": "lm"}),
    "lstm_lm1_full": (
        "language-model pretraining, 1 epoch, every prediction scored",
        {"pretrain": "lm", "pretrain_epochs": 1, "pretrain_predict_share": 1.0},
    ),
    "lstm_lm_freeze1": ("language-model pretraining, encoder frozen 1 epoch", {"pretrain": "lm", "freeze_encoder": 1}),
    "lstm_lm_dlr": (
        "language-model pretraining, encoder at 0.4x the learning rate",
        {"pretrain": "lm", "encoder_lr_scale": 0.4},
    ),
    "lstm_bf16": ("bf16 autocast", {"precision": "bf16"}),
    "lstm_lm_bf16": ("language-model pretraining, bf16 autocast", {"pretrain": "lm", "precision": "bf16"}),
    "lstm_at": ("adversarial training (epsilon 0.02)", {"adversarial": "at"}),
    "lstm_vat": ("virtual adversarial training (epsilon 0.02; unlabelled texts too)", {"adversarial": "vat"}),
    "lstm_lm_vat": ("language-model pretraining + VAT", {"pretrain": "lm", "adversarial": "vat"}),
}
for _name, (_title, _) in LEVERS.items():
    MODELS.setdefault(_name, f"default + {_title}, blended")
    MODELS.setdefault(f"{_name}_alone", f"default + {_title}, network alone (same runs)")
BASELINE_RECIPES: dict[str, tuple[str, dict[str, Any]]] = {
    "nbsvm": ("nbsvm", {}),
    "tfidf_lr": ("tfidf_lr", {}),
    "nbsvm_balanced": ("nbsvm", {"class_weight": "balanced"}),
    "nbsvm_smote": ("nbsvm", {"sampling": "smote"}),
    "tfidf_lr_balanced": ("tfidf_lr", {"class_weight": "balanced"}),
    "tfidf_lr_smote": ("tfidf_lr", {"sampling": "smote"}),
}
# Built here from a registry dataset, to measure the class-imbalance levers where the imbalance is severe.
DERIVED = {
    "imdb-imbalanced": (
        "IMDB subset made imbalanced: 4,500 negative + 500 positive training reviews (10% positive), tested at "
        "the same ratio on 9,000 + 1,000 test reviews. Seeded subsample (numpy seed 0) of the official splits; "
        "the minority class is positive",
        "macro_f1",
    ),
}
GLOVE = "glove/glove.6B.50d.txt.gz"  # below --data-dir
# Published figures on the same splits and metric, for comparison (test accuracy, or weighted F1 for AfriSenti).
ANCHORS = {
    "imdb": [
        ("NBSVM-bigram", 91.22, "Wang & Manning 2012, ACL"),
        ("oh-2LSTMp (supervised + unlabelled region embeddings)", 91.86, "Johnson & Zhang 2016, ICML"),
        ("ULMFiT (pretrained LM, fine-tuned)", 95.4, "Howard & Ruder 2018, ACL"),
    ],
    "afrisenti-ig": [
        ("best system of SemEval-2023 Task 12, Igbo (weighted F1)", 82.96, "Muhammad et al. 2023, SemEval"),
        ("best classical system in the task (weighted F1)", 77.08, "Muhammad et al. 2023, SemEval"),
    ],
    "sst2": [("BiLSTM", 87.5, "Tai et al. 2015, ACL (Tree-LSTM paper, binary SST)")],
}
DEFAULT_DATASETS = ["imdb", "afrisenti-ig", "sst2"]


def machine() -> str:
    cpu = platform.processor() or "cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"


def load(name: str, data_dir: Path | None) -> Any:
    if name == "imdb-imbalanced":
        return imbalanced(
            load("imdb", data_dir), {"negative": 4500, "positive": 500}, {"negative": 9000, "positive": 1000}
        )
    if data_dir is not None and name in LOCAL_FOLDERS and (data_dir / LOCAL_FOLDERS[name]).is_dir():
        return load_dataset(name, path=data_dir / LOCAL_FOLDERS[name])
    return load_dataset(name)


def imbalanced(splits: Any, train_counts: dict[str, int], test_counts: dict[str, int]) -> Any:
    """A seeded per-class subsample of train (+ validation) and test; no validation split (fit holds one out)."""
    rng = np.random.default_rng(0)

    def subsample(table: Any, counts: dict[str, int]) -> Any:
        labels = np.asarray(table.labels)
        index = np.sort(
            np.concatenate([rng.choice(np.flatnonzero(labels == c), n, replace=False) for c, n in counts.items()])
        )
        return dataclasses.replace(
            table, texts=[table.texts[i] for i in index], labels=[table.labels[i] for i in index]
        )

    return dataclasses.replace(
        splits,
        name="imdb-imbalanced",
        train=subsample(splits.train, train_counts),
        validation=None,
        test=subsample(splits.test, test_counts),
        unlabeled=None,
    )


def scores(report: Any) -> dict[str, Any]:
    return {
        "accuracy": report.accuracy * 100,
        "macro_f1": report.macro_f1 * 100,
        "weighted_f1": report.weighted_f1 * 100,
        "recall": {label: m.recall * 100 for label, m in report.per_class.items()},
    }


def run_baseline(model: str, splits: Any) -> dict[str, Any]:
    """Linear models have no early stopping, so they train on train + validation (the official train data)."""
    kind, params = BASELINE_RECIPES[model]
    texts = splits.train.texts + (splits.validation.texts if splits.validation else [])
    labels = splits.train.labels + (splits.validation.labels if splits.validation else [])
    started = time.perf_counter()
    clf = make_baseline(kind, **params).fit(texts, labels)
    seconds = time.perf_counter() - started
    return {"train_seconds": seconds, **scores(clf.evaluate(splits.test.texts, splits.test.labels))}


def recipe(model: str, data_dir: Path | None) -> dict[str, Any]:
    """SentimentClassifier options of an LSTM row: the defaults, plus the row's accuracy lever."""
    if model == "lstm_no_unlabeled":
        return {"pretrain_embeddings": None}
    if model == "lstm_w2v":
        return {"pretrain_embeddings": "word2vec"}
    if model == "lstm_w2v_freeze":
        return {"pretrain_embeddings": "word2vec", "freeze_embeddings": 2}
    if model in LEVERS:
        return LEVERS[model][1]
    if model == "lstm_glove":
        if data_dir is None or not (data_dir / GLOVE).exists():
            raise SystemExit(f"lstm_glove needs {GLOVE} below --data-dir")
        return {"embeddings": str(data_dir / GLOVE), "freeze_embeddings": 1}
    return {}


def run_lstm(splits: Any, seed: int, options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A recipe exactly as `sentilstm train` runs it; also scores the network without the blend."""
    validation = (splits.validation.texts, splits.validation.labels) if splits.validation else None
    started = time.perf_counter()
    clf = SentimentClassifier(seed=seed, **(options or {})).fit(
        splits.train.texts, splits.train.labels, validation=validation, unlabeled=splits.unlabeled
    )
    seconds = time.perf_counter() - started
    blended = scores(clf.evaluate(splits.test.texts, splits.test.labels))
    blend_model, clf.blend_model_ = clf.blend_model_, None
    alone = scores(clf.evaluate(splits.test.texts, splits.test.labels))
    extra = {
        "epochs": len(clf.history_.epochs),
        "best_epoch": clf.history_.best_epoch,
        "blend": clf.metrics_.get("blend"),
        "embeddings": clf.metrics_.get("embeddings"),
        "max_length": clf.pipeline_.config.max_length,
        "vocab_size": clf.pipeline_.tokenizer.vocab_size,
    }
    return (
        {"train_seconds": seconds, **blended, "extra": extra},
        {"train_seconds": seconds, **alone, "extra": {"blend_model": blend_model.kind if blend_model else None}},
    )


def read_runs(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["runs"] if path.exists() else []


def save_runs(path: Path, runs: list[dict[str, Any]]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"machine": machine(), "runs": runs}, indent=1))
    os.replace(temporary, path)


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def markdown(runs: list[dict[str, Any]], machine_name: str) -> str:
    lines = [
        "# Accuracy scoreboard",
        "",
        "Produced by `python bench/accuracy.py` (see its docstring). Official train/test splits; SST-2 is scored",
        "on GLUE dev. The linear baselines are deterministic (one run); the LSTM rows are mean ± std over seeds.",
        "Training time is wall-clock on the machine below, mean of the runs, including the blend's linear models",
        "(a shared 2-core VM: times of the same run vary by up to 2x with other load).",
        "",
        f"Machine: {machine_name}",
        "",
    ]
    for dataset in dict.fromkeys(r["dataset"] for r in runs):
        if dataset in DERIVED:
            about = f"{DERIVED[dataset][0]}. Metric: {DERIVED[dataset][1].replace('_f1', ' F1')}."
        else:
            info = DATASETS[dataset]
            about = f"{info.description}. Official metric: {info.metric.replace('_f1', ' F1')}. Data: {info.citation}."
        lines += [
            f"## {dataset}",
            "",
            about,
            "",
            "| model | seeds | accuracy | macro F1 | weighted F1 | lowest class recall | train time |",
            "|---|---|---|---|---|---|---|",
        ]
        for model, title in MODELS.items():
            group = [r for r in runs if r["dataset"] == dataset and r["model"] == model]
            if not group:
                continue
            cells = [mean_std([r[k] for r in group]) for k in ("accuracy", "macro_f1", "weighted_f1")]
            recalls = [min(r["recall"].values()) for r in group if r.get("recall")]
            cells.append(mean_std(recalls) if len(recalls) == len(group) else "")
            seconds = statistics.mean(r["train_seconds"] for r in group)
            duration = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
            lines.append(f"| {title} | {len(group)} | {' | '.join(cells)} | {duration} |")
        for name, figure, citation in ANCHORS.get(dataset, []):
            lines.append(
                f"| *published:* {name} | | {figure:.2f} | | | | {citation} |"
                if dataset != "afrisenti-ig"
                else f"| *published:* {name} | | | | {figure:.2f} | | {citation} |"
            )
        lines.append("")
    return "\n".join(lines + suite_summary(runs))


def suite_summary(runs: list[dict[str, Any]]) -> list[str]:
    """Each suite whose datasets all have runs: per dataset the official metric of the linear baselines and the
    default recipe (blended and network alone, mean over seeds), the recipe's margin over TF-IDF LR, the mean
    and the worst dataset."""
    lines: list[str] = []
    for suite, (datasets, _) in SUITES.items():
        means = {}
        for dataset in datasets:
            metric = DATASETS[dataset].metric
            row = {}
            for model in ("tfidf_lr", "nbsvm", "lstm", "lstm_alone"):
                values = [r[metric] for r in runs if r["dataset"] == dataset and r["model"] == model]
                if values:
                    row[model] = statistics.mean(values)
            if len(row) == 4:
                means[dataset] = row
        if len(means) < len(datasets):
            continue
        lines += [
            f"## Suite: {suite} ({len(datasets)} datasets, official metric, mean over seeds)",
            "",
            "| dataset | TF-IDF LR | NBSVM | default recipe | network alone | recipe - TF-IDF LR "
            "| network - TF-IDF LR |",
            "|---|---|---|---|---|---|---|",
        ]
        for dataset, row in means.items():
            lines.append(
                f"| {dataset} | {row['tfidf_lr']:.2f} | {row['nbsvm']:.2f} | {row['lstm']:.2f} | "
                f"{row['lstm_alone']:.2f} | {row['lstm'] - row['tfidf_lr']:+.2f} | "
                f"{row['lstm_alone'] - row['tfidf_lr']:+.2f} |"
            )
        columns = {m: [row[m] for row in means.values()] for m in ("tfidf_lr", "nbsvm", "lstm", "lstm_alone")}
        recipe = [row["lstm"] - row["tfidf_lr"] for row in means.values()]
        alone = [row["lstm_alone"] - row["tfidf_lr"] for row in means.values()]
        cells = " | ".join(f"{statistics.mean(columns[m]):.2f}" for m in columns)
        lines += [
            f"| **mean** | {cells} | {statistics.mean(recipe):+.2f} | {statistics.mean(alone):+.2f} |",
            f"| **worst margin** | | | | | {min(recipe):+.2f} | {min(alone):+.2f} |",
            "",
        ]
        lines += lever_summary(runs, datasets, {d: row["tfidf_lr"] for d, row in means.items()})
    return lines


def lever_summary(runs: list[dict[str, Any]], datasets: tuple[str, ...], tfidf: dict[str, float]) -> list[str]:
    """Every lever row run on all of a suite's datasets: its mean, mean and worst margin over TF-IDF LR, and how
    many datasets it falls below TF-IDF LR on (blended and network-alone rows alike)."""
    rows = []
    for model in [m for m in MODELS if m.startswith("lstm_") and m != "lstm_alone"]:  # the default has its table
        by_dataset = {
            d: [r[DATASETS[d].metric] for r in runs if r["dataset"] == d and r["model"] == model] for d in datasets
        }
        if not all(by_dataset.values()):
            continue
        margins = [statistics.mean(v) - tfidf[d] for d, v in by_dataset.items()]
        seeds = min(len(v) for v in by_dataset.values())
        mean = statistics.mean(statistics.mean(v) for v in by_dataset.values())
        rows.append(
            f"| {MODELS[model]} | {seeds} | {mean:.2f} | {statistics.mean(margins):+.2f} | {min(margins):+.2f} | "
            f"{sum(m < 0 for m in margins)} |"
        )
    if not rows:
        return []
    return [
        "Levers run on every dataset of the suite (official metric; seeds: fewest seeds of any dataset):",
        "",
        "| recipe | seeds | mean | mean margin over TF-IDF LR | worst margin | datasets below TF-IDF LR |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(DEFAULT_DATASETS))
    parser.add_argument(
        "--suite", choices=sorted(SUITES), help="a benchmark suite: its datasets and models (overrides both)"
    )
    parser.add_argument(
        "--models",
        default="nbsvm,tfidf_lr,lstm",
        help=f"comma-separated, among: {', '.join(m for m in MODELS if not m.endswith('_alone'))}",
    )
    parser.add_argument("--seeds", default="0,1,2", help="LSTM seeds (baselines run once)")
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--results", type=Path, default=RESULTS / "accuracy.json")
    parser.add_argument("--report-only", action="store_true", help="only rebuild the Markdown from the saved runs")
    args = parser.parse_args(argv)
    if args.suite:
        datasets, args.models = SUITES[args.suite]
        args.datasets = ",".join(datasets)
    unknown = [m for m in args.models.split(",") if m not in MODELS or m.endswith("_alone")]
    if unknown:
        parser.error(f"unknown models {unknown}; see --help")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    runs = read_runs(args.results)
    if not args.report_only:
        data_dir = args.data_dir if args.data_dir.is_dir() else None
        for dataset in args.datasets.split(","):
            splits = None
            for model in args.models.split(","):
                seeds = [int(s) for s in args.seeds.split(",")] if model.startswith("lstm") else [0]
                for seed in seeds:
                    if any(r["dataset"] == dataset and r["model"] == model and r["seed"] == seed for r in runs):
                        continue
                    splits = splits or load(dataset, data_dir)
                    logging.info("scoreboard: %s %s seed %d", dataset, model, seed)
                    if model.startswith("lstm"):
                        blended, alone = run_lstm(splits, seed, recipe(model, data_dir))
                        new = [
                            {"dataset": dataset, "model": model, "seed": seed, **blended},
                            {"dataset": dataset, "model": f"{model}_alone", "seed": seed, **alone},
                        ]
                    else:
                        new = [{"dataset": dataset, "model": model, "seed": seed, **run_baseline(model, splits)}]
                    for run in new:
                        print(json.dumps(run), flush=True)
                    runs += new
                    save_runs(args.results, runs)
    text = markdown(runs, json.loads(args.results.read_text())["machine"] if args.results.exists() else machine())
    args.results.with_suffix(".md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
