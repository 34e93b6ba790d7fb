"""The sections of the training, cross-validation and tuning reports (how their numbers are written is
`formatting.py`; the tuning study's trials are `trials.py`).

    section = evaluation_section([ScoredSet("test", "Test", predictions.report(), predictions)])

Internal to `sentilstm.report.builders`, which holds the public API. Every `*_section` returns a `Section` of escaped
HTML blocks and plots; plot files are named after the scored set they show ("test_roc", "validation_roc").
"""

from __future__ import annotations

import dataclasses
import platform
from pathlib import Path
from typing import Any

import numpy as np

from sentilstm.config import ModelConfig, TextConfig, TrainConfig
from sentilstm.estimators.classifier import DERIVED_MODEL_FIELDS
from sentilstm.estimators.evaluation import (
    MAX_MATRIX_CLASSES,
    ClassMetrics,
    EvaluationReport,
    Predictions,
    most_confused_classes,
    top_confusions,
)
from sentilstm.report import plots
from sentilstm.report.formatting import clip_text, format_number, format_sci, format_value, now_text
from sentilstm.report.html import (
    Headline,
    Markup,
    Plot,
    Section,
    bar,
    cell,
    escape,
    heading,
    note,
    pairs,
    paragraph,
    preformatted,
    table,
)
from sentilstm.report.summary import describe
from sentilstm.training.loop import GradientNorms, History

ERRORS_SHOWN = 15  # most confidently wrong texts listed
CONFUSED_CLASSES_SHOWN = 20  # beyond MAX_MATRIX_CLASSES: classes in the confusion plot, rows of the confusions table
# (shown name, EvaluationReport field): the headline cards, and the columns of the metric tables
CARD_METRICS = (
    ("macro F1", "macro_f1"),
    ("accuracy", "accuracy"),
    ("ROC-AUC", "roc_auc"),
    ("weighted F1", "weighted_f1"),
)
TABLE_METRICS = (
    ("accuracy", "accuracy"),
    ("macro F1", "macro_f1"),
    ("weighted F1", "weighted_f1"),
    ("ROC-AUC", "roc_auc"),
    ("log loss", "loss"),
)


@dataclasses.dataclass
class ScoredSet:
    """One scored set of texts; its curves, calibration and errors need `predictions` (a saved model has none)."""

    key: str  # "test", "validation", "out_of_fold": the prefix of its plot files
    name: str  # "Test"
    report: EvaluationReport
    predictions: Predictions | None
    detail: str = ""  # shown beside its heading


# ----- sections -------------------------------------------------------------------------------------------
def gradient_section(history: History) -> Section:
    """Per-layer gradient norms per epoch (log scale, vanishing/exploding zones), first vs last epoch."""
    first, last = history.epochs[0].gradient_norms, history.epochs[-1].gradient_norms
    caption = (
        f"Mean L2 norm of each layer's gradient over the epoch (sampled every {GradientNorms.EVERY}th step). "
        f"Below {GradientNorms.VANISHING:g} a layer has stopped learning; above {GradientNorms.EXPLODING:g}, "
        "clipping is hiding an unstable optimisation."
    )
    rows = [[layer, format_sci(first.get(layer)), format_sci(norm)] for layer, norm in last.items()]
    return Section("gradient-norms", "Gradient norms").add(
        Plot.of("gradient_norms", plots.gradient_norms_figure(history), caption),
        table(["layer", "first epoch", "last epoch"], rows, numeric=(1, 2)),
    )


def pretraining_section(pretraining: dict[str, Any]) -> Section:
    """Language-model pretraining (`metrics_["pretraining"]`): perplexity per epoch, and what it read."""
    epochs = pretraining["epochs"]
    caption = (
        f"The embeddings and the first recurrent layer, trained to predict each next (and previous) token of "
        f"{pretraining['texts']:,} texts for {len(epochs)} epoch{'s' if len(epochs) != 1 else ''} before the "
        f"classifier trained from them; validation: the {pretraining['validation_texts']:,} texts held out for early "
        "stopping. Lower is better; the vocabulary's size is the perplexity of a uniform guess."
    )
    rows = [
        [
            str(e["epoch"]),
            f"{e['train_perplexity']:,.1f}",
            "" if e["validation_perplexity"] is None else f"{e['validation_perplexity']:,.1f}",
            f"{e['tokens_per_second'] or 0:,.0f}",
            f"{e['seconds']:,.0f}",
        ]
        for e in epochs
    ]
    return Section("pretraining", "Language-model pretraining").add(
        Plot.of("perplexity", plots.perplexity_figure(pretraining), caption),
        table(["epoch", "perplexity", "validation perplexity", "tokens/s", "seconds"], rows, numeric=(1, 2, 3, 4)),
    )


def evaluation_section(scored: list[ScoredSet]) -> Section | None:
    """Per scored set: confusion matrices, ROC and precision-recall curves, calibration, per-class table."""
    if not scored:
        return None
    section = Section("evaluation", "Evaluation")
    for split in scored:
        report, key, predictions = split.report, split.key, split.predictions
        section.add(heading(f"{split.name} set", split.detail), *confusion_parts(report, key))
        per_class = cell(per_class_table(report), title="Per class")
        if predictions is None:
            section.add(
                per_class,
                note(
                    "ROC, precision-recall and calibration need the predictions, which a model file "
                    "does not keep; they are drawn when the report is written right after training."
                ),
            )
            continue
        bins = plots.calibration_bins(predictions)
        section.add(
            [
                Plot.of(
                    f"{key}_roc", plots.roc_figure(predictions), "Area under the curve (AUC): 0.5 is chance, 1 perfect."
                ),
                Plot.of(
                    f"{key}_precision_recall",
                    plots.precision_recall_figure(predictions),
                    "Average precision (AP) summarises each curve; a class's share of the texts is what chance scores.",
                ),
            ],
            [
                Plot.of(
                    f"{key}_calibration",
                    plots.calibration_figure(predictions),
                    f"Texts binned by the probability of the predicted class ({len(bins['counts'])} bins from 1/K "
                    "to 1). "
                    "Points below the diagonal: over-confident; above: under-confident. ECE (expected calibration "
                    "error) is the count-weighted mean gap.",
                ),
                per_class,
            ],
        )
    return section


def confusion_parts(report: EvaluationReport, key: str) -> list[Any]:
    """The confusion matrix plot; beyond MAX_MATRIX_CLASSES classes, the part of it between the classes most
    involved in errors, and a table of the most frequent confusions (a K x K drawing grows with K squared)."""
    caption = (
        "Rows are the true labels, columns the predictions. Right: each row as shares, so the diagonal is each "
        "class's recall."
    )
    if len(report.labels) <= MAX_MATRIX_CLASSES:
        return [Plot.of(f"{key}_confusion", plots.confusion_figure(report.confusion_matrix, report.labels), caption)]
    counts = np.asarray(report.confusion_matrix, dtype=np.int64)
    shown = most_confused_classes(counts, CONFUSED_CLASSES_SHOWN)
    figure = plots.confusion_figure(
        counts[np.ix_(shown, shown)], [report.labels[i] for i in shown], counts.sum(axis=1)[shown]
    )
    rows = [
        [true, predicted, f"{count:,}", f"{share:.1%}"]
        for true, predicted, count, share in top_confusions(counts, report.labels, CONFUSED_CLASSES_SHOWN)
    ]
    return [
        Plot.of(
            f"{key}_confusion",
            figure,
            f"The {len(shown)} of {len(report.labels):,} classes most involved in "
            f"errors (missed or wrongly predicted); shares are of each class's texts. {caption} The per-class "
            "table lists every class.",
        ),
        cell(
            table(["true", "predicted", "texts", "share of true"], rows, numeric=(2, 3)),
            title="Most frequent confusions",
        ),
    ]


def per_class_table(report: EvaluationReport) -> Markup:
    """Precision, recall, F1 and support per class, then their macro and support-weighted averages."""
    metrics = list(report.per_class.values())
    rows = [
        [label, *(format_number(getattr(m, k), 3) for k in ("precision", "recall", "f1")), f"{m.support:,}"]
        for label, m in report.per_class.items()
    ]
    support = np.asarray([m.support for m in metrics], dtype=float)
    footer = []
    for name, weights in (("macro avg", np.ones(len(metrics))), ("weighted avg", support)):
        weights = weights / max(weights.sum(), 1e-12)
        averages = (float(np.dot(weights, [getattr(m, k) for m in metrics])) for k in ("precision", "recall", "f1"))
        footer.append([name, *(format_number(a, 3) for a in averages), f"{int(support.sum()):,}"])
    return table(["label", "precision", "recall", "F1", "support"], rows, numeric=range(1, 5), footer=footer)


def errors_section(scored: list[ScoredSet]) -> Section | None:
    """The wrong predictions the model was surest of, from the first scored set that has predictions."""
    split = next((s for s in scored if s.predictions is not None), None)
    if split is None or split.predictions is None:  # (the second is only for the type checker)
        return None
    predictions, name = split.predictions, split.name.lower()
    section = Section("errors", "Most confidently wrong")
    errors = predictions.most_confident_errors(ERRORS_SHOWN)
    total = len(predictions.targets)
    if not errors:
        return section.add(note(f"The model gets all {total:,} {name} texts right."))
    wrong = int((predictions.probabilities.argmax(axis=1) != predictions.targets).sum())
    section.add(
        paragraph(
            f"{wrong:,} of {total:,} {name} texts ({wrong / total:.1%}) are misclassified. These are the "
            f"{len(errors)} the model was surest of: often mislabelled data, sarcasm, or a construction it "
            "has not learned."
        )
    )
    rows = [
        [i, clip_text(text), true, predicted, bar(confidence, f"{confidence:.3f}")]
        for i, (text, true, predicted, confidence) in enumerate(errors, 1)
    ]
    return section.add(table(["#", "text", "true", "predicted", "confidence"], rows, numeric=(0,), css="errors"))


def data_section(profile: dict[str, Any], metrics: dict[str, Any]) -> Section:
    """Class balance, text lengths, unknown tokens, dropped and augmented rows, embedding coverage."""
    train, validation = np.asarray(profile["train_counts"]), np.asarray(profile["validation_counts"])
    balance = [
        [label, f"{t:,}", f"{t / max(train.sum(), 1):.1%}", f"{v:,}", f"{v / max(validation.sum(), 1):.1%}"]
        for label, t, v in zip(profile["labels"], train, validation)
    ]
    texts = [
        ("Vocabulary", f"{profile['vocab_size']:,} tokens"),
        ("Length percentiles (tokens)", " · ".join(f"{k} {v}" for k, v in profile["length_percentiles"].items())),
        (
            "Truncated",
            f"{plots.percent(profile['truncated_fraction'])} of training texts are longer than max_length "
            f"{profile['max_length']}",
        ),
        (
            "Unknown tokens",
            f"{profile['train_unknown_rate']:.2%} of training and {profile['validation_unknown_rate']:.2%} "
            f"of validation tokens; {plots.percent(profile['validation_texts_with_unknown'])} of "
            "validation texts have one",
        ),
        ("Dropped rows", f"{profile.get('dropped_rows', 0):,} (empty text or missing label)"),
        ("Augmented rows", f"{profile.get('augmented_rows', 0):,}"),
    ]
    section = Section("data", "Data").add(
        [
            Plot.of(
                "class_balance",
                plots.class_balance_figure(profile),
                "Share of each label per split; counts on the bars.",
            ),
            Plot.of(
                "lengths",
                plots.length_figure(profile),
                "Token counts before truncation; longer texts are cut to max_length.",
            ),
        ],
        [
            cell(
                table(["label", "train", "share", "validation", "share"], balance, numeric=range(1, 5)),
                title="Class balance",
            ),
            cell(pairs(texts), title="Texts"),
        ],
    )
    augmentation = metrics.get("augmentation")
    if augmentation:
        added = ", ".join(f"{n:,} {op}" for op, n in augmentation.get("added_per_operation", {}).items())
        section.add(heading("Augmentation", f"{augmentation.get('added', 0):,} rows added: {added}"))
        if augmentation.get("examples"):
            section.add(
                table(
                    ["operation", "original", "augmented"],
                    [[op, clip_text(a, 200), clip_text(b, 200)] for op, a, b in augmentation["examples"]],
                )
            )
    coverage = metrics.get("embeddings")
    if coverage:
        token_share = coverage.get("token_share")
        section.add(
            heading("Embedding coverage"),
            pairs(
                [
                    ("Vectors", f"{Path(str(coverage['source'])).name} ({coverage['format']}, {coverage['dim']}d)"),
                    ("Vocabulary found", f"{coverage['vocabulary_share']:.1%} of {coverage['vocabulary']:,} entries"),
                    ("Training tokens covered", "n/a" if token_share is None else f"{token_share:.1%}"),
                ]
            ),
        )
    return section


def model_section(clf: Any, metrics: dict[str, Any]) -> Section:
    """`sentilstm.report.summary.describe` (layers, shapes, parameters, settings), then the blend's weights."""
    section = Section("model", "Model").add(preformatted(describe(clf).to_text()))
    blend = metrics.get("blend")
    if blend:
        weight = blend["network_weight"]
        losses = [[name, format_number(loss)] for name, loss in blend["validation_log_loss"].items()]
        section.add(
            heading("Blend", f"{weight:.2f} × network + {1 - weight:.2f} × {blend['model']}"),
            paragraph("The blend weight minimises the validation log-loss (lower is better):"),
            table(["model", "validation log-loss"], losses, numeric=(1,)),
        )
        out_of_fold = dict(blend.get("out_of_fold") or {})  # crossfit: how the partner was chosen
        if out_of_fold:
            metric = str(out_of_fold.pop("metric")).replace("_", " ")
            section.add(
                paragraph(
                    f"The partner is the candidate with the best {metric} of its {blend.get('folds')}-fold "
                    "out-of-fold predictions over train + validation (for loss: minus the log-loss), refitted on both:"
                ),
                table(
                    ["candidate", f"out-of-fold {metric}"],
                    [[k, format_number(v)] for k, v in out_of_fold.items()],
                    numeric=(1,),
                ),
            )
    distilled = metrics.get("distillation")
    ensemble = metrics.get("ensemble") or (distilled or {}).get("teacher_ensemble")
    if ensemble:
        section.add(*_ensemble_parts(ensemble, taught=not metrics.get("ensemble")))
    if distilled:
        rows = [
            [way.replace("_", " "), *(format_number(scores[key]) for key in ("accuracy", "macro_f1", "weighted_f1"))]
            for way, scores in distilled["validation"].items()
        ]
        section.add(
            heading("Distillation", f"from {distilled['teacher']}"),
            paragraph(
                f"The network served is a fresh one trained on the teacher's probabilities (temperature "
                f"{distilled['temperature']:g}, soft-target weight {distilled['weight']:g}) over "
                f"{distilled['transfer_texts']:,} texts, {distilled['unlabeled_texts']:,} of them unlabelled. "
                "Validation scores of the teacher, of the network trained on the labels alone first, and of "
                "the distilled network:"
            ),
            table(["model", "accuracy", "macro F1", "weighted F1"], rows, numeric=(1, 2, 3)),
        )
    return section


def _ensemble_parts(ensemble: dict[str, Any], *, taught: bool) -> list[Any]:
    """An ensemble's members beside the ensemble, in validation scores (`taught`: it was the distillation's teacher)."""
    keys = ("accuracy", "macro_f1", "weighted_f1")
    rows = [
        [
            f"member {k + 1} (seed {m['seed']}, best epoch {m['best_epoch']})",
            *(format_number(m["validation"][key]) for key in keys),
        ]
        for k, m in enumerate(ensemble["members"])
    ]
    rows.append(["ensemble (probabilities averaged)", *(format_number(ensemble["validation"][key]) for key in keys)])
    role = "taught the distilled network below" if taught else "is the network served"
    return [
        heading("Ensemble", f"{len(ensemble['members'])} networks"),
        paragraph(f"Networks of one architecture trained with their own seeds on the same split; their mean {role}."),
        table(["network", "accuracy", "macro F1", "weighted F1"], rows, numeric=(1, 2, 3)),
    ]


def configuration_section(params: dict[str, Any], defaults: dict[str, Any]) -> Section:
    """Every parameter, grouped as text / architecture / training / other, changed ones in bold with the default."""
    groups = [
        ("Text", [f.name for f in dataclasses.fields(TextConfig)]),
        ("Architecture", [f.name for f in dataclasses.fields(ModelConfig) if f.name not in DERIVED_MODEL_FIELDS]),
        ("Training", [f.name for f in dataclasses.fields(TrainConfig)]),
    ]
    grouped = {name for _, names in groups for name in names}
    groups.append(("Other" if grouped & set(params) else "Parameters", [k for k in params if k not in grouped]))
    cells = []
    for group, names in groups:
        rows, classes = [], []
        for name in (n for n in names if n in params):
            shown = format_value(params[name])
            changed = name in defaults and format_value(defaults[name]) != shown
            default = f' <span class="default">(default {escape(format_value(defaults.get(name)))})</span>'
            rows.append([name, Markup(escape(shown) + default) if changed else shown])
            classes.append("changed" if changed else "")
        if rows:
            cells.append(cell(table(None, rows, row_classes=classes, css="config"), title=group))
    return Section("configuration", "Configuration").add(
        paragraph("Every parameter of the run; the ones set away from their default are in bold."), cells
    )


def versions_section(saved: dict[str, Any] | None) -> Section:
    """Library versions (those saved in the model file when given, else this environment's), platform, time."""
    import matplotlib
    import sklearn

    from sentilstm.artifact.format import library_versions

    versions = {
        **(saved or library_versions()),
        "scikit-learn": sklearn.__version__,
        "matplotlib": matplotlib.__version__,
    }
    rows = [
        *versions.items(),
        ("platform", f"{platform.system()} {platform.machine()}"),
        ("report written", now_text()),
    ]
    half = (len(rows) + 1) // 2
    return Section("versions", "Versions").add([cell(pairs(rows[:half])), cell(pairs(rows[half:]))])


# ----- values -----------------------------------------------------------------------------------------------
def stored_report(data: dict[str, Any]) -> EvaluationReport:
    """An EvaluationReport back from the JSON of a model file's metrics."""
    fields = {f.name for f in dataclasses.fields(EvaluationReport)}
    values = {k: v for k, v in data.items() if k in fields}
    values["per_class"] = {label: ClassMetrics(**m) for label, m in data["per_class"].items()}
    return EvaluationReport(**values)


def headline_for(split: ScoredSet) -> Headline:
    return Headline(
        split.name,
        {name: format_number(getattr(split.report, key)) for name, key in CARD_METRICS},
        f"{split.report.num_examples:,} texts",
    )
