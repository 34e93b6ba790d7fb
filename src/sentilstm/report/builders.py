"""Training, cross-validation and tuning reports: one self-contained HTML file plus its PNG plots.

    report = training_report(clf, test=clf.score_labelled(test_texts, test_labels), source="reviews.csv")
    report.write(Path("model.report.html"))   # model.report.html + model.report_plots/*.png

A report shows the headline metrics, learning curves, gradient norms, confusion matrices, ROC and
precision-recall curves, calibration, the most confidently wrong texts, the data profile, the model summary
(`sentilstm.report.summary.describe`) and every setting. It works for a `SentimentClassifier` fresh from `fit`, a
loaded one (metrics only: predictions are not saved in a model file), and a linear baseline.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from sentilstm.estimators.baselines import LinearBaseline
from sentilstm.estimators.blend import dropped_network_warning, predictor
from sentilstm.estimators.evaluation import Predictions
from sentilstm.report import plots
from sentilstm.report.formatting import footer_text, format_epochs, format_mean_std, format_number, format_value
from sentilstm.report.html import Headline, Markup, Plot, Report, Section, cell, note, pairs, plots_folder_for, table
from sentilstm.report.sections import (
    CARD_METRICS,
    TABLE_METRICS,
    ScoredSet,
    configuration_section,
    data_section,
    errors_section,
    evaluation_section,
    gradient_section,
    headline_for,
    model_section,
    pretraining_section,
    stored_report,
    versions_section,
)
from sentilstm.report.trials import param_importances, trial_frame, trials_section
from sentilstm.training.loop import GradientNorms, History

if TYPE_CHECKING:
    from sentilstm.selection.crossval import CVResult
    from sentilstm.selection.tuning import TuneResult

__all__ = [
    "Report",
    "Section",
    "Plot",
    "Markup",
    "training_report",
    "cv_report",
    "tune_report",
    "plots_folder_for",
]


# ----- public builders ------------------------------------------------------------------------------------
def training_report(
    clf: Any, *, title: str | None = None, test: Predictions | None = None, source: str | None = None
) -> Report:
    """The report of one trained `SentimentClassifier` or linear baseline.

    `test`: the test set scored by `clf.score_labelled` (shown first); `source`: where the data came from.
    """
    metrics = getattr(clf, "metrics_", None) or {}
    scored = []
    if test is not None:
        scored.append(ScoredSet("test", "Test", test.report(), test, f"{len(test.targets):,} texts"))
    elif metrics.get("test"):
        stored = stored_report(metrics["test"])
        scored.append(ScoredSet("test", "Test", stored, None, f"{stored.num_examples:,} texts"))
    validation = getattr(clf, "validation_predictions_", None)
    if validation is not None:
        scored.append(
            ScoredSet(
                "validation",
                "Validation",
                validation.report(),
                validation,
                f"{len(validation.targets):,} texts held out for early stopping",
            )
        )
    elif metrics.get("validation"):
        stored = stored_report(metrics["validation"])
        scored.append(ScoredSet("validation", "Validation", stored, None, f"{stored.num_examples:,} texts"))
    history: History | None = getattr(clf, "history_", None)
    profile = metrics.get("data")
    sections = [_overview(clf, scored, history, profile, source)]
    if metrics.get("pretraining"):
        sections.append(pretraining_section(metrics["pretraining"]))
    if history is not None and history.epochs:
        blended = " These are the network's own scores, before the blend." if metrics.get("blend") else ""
        sections.append(
            Section("learning-curves", "Learning curves").add(
                Plot.of(
                    "learning_curves",
                    plots.learning_curves_figure(history),
                    f"Loss and validation metrics per epoch; the weights of the best epoch ({history.best_epoch}, by "
                    f"validation {history.monitor}) are the ones kept.{blended}",
                ),
                Plot.of(
                    "learning_rate", plots.learning_rate_figure(history), f"Schedule: {getattr(clf, 'schedule', '')}."
                ),
            )
        )
        if any(e.gradient_norms for e in history.epochs):
            sections.append(gradient_section(history))
    sections += [s for s in (evaluation_section(scored), errors_section(scored)) if s is not None]
    if profile:
        sections.append(data_section(profile, metrics))
    sections += [
        model_section(clf, metrics),
        configuration_section(clf.get_params(), _defaults(type(clf))),
        versions_section(getattr(clf, "versions_", None)),
    ]
    headlines = [headline_for(s) for s in scored]
    return Report(title or "Training report", _subtitle(clf, profile, source), headlines, sections, footer_text())


def cv_report(result: CVResult) -> Report:
    """The report of a cross-validation: per-fold scores, out-of-fold evaluation and errors, fold curves."""
    summary, texts = result.summary(), len(result.predictions.targets)
    predictors = [f.predictor for f in result.folds]
    out_of_fold = ScoredSet(
        "out_of_fold",
        "Out-of-fold",
        result.predictions.report(),
        result.predictions,
        f"{texts:,} texts, each scored by the fold model that did not train on it",
    )
    shape = f"{result.num_folds} folds" + (f" × {result.repeats} repeats" if result.repeats > 1 else "")
    cards = {name: format_mean_std(summary.get(key)) for name, key in CARD_METRICS}
    headlines = [Headline("Folds", cards, f"mean ± std, {shape}"), headline_for(out_of_fold)]
    overview = Section("overview", "Overview").add(
        pairs(
            [
                ("Estimator", result.estimator),
                ("Predictions by", "; ".join(f"{p} ({n} folds)" for p, n in Counter(predictors).items())),
                ("Folds", f"{shape} (stratified, seed {result.seed})"),
                ("Texts", f"{texts:,}"),
                ("Labels", ", ".join(map(str, result.labels))),
                ("Time", f"{sum(f.seconds for f in result.folds):,.1f} s of training and scoring"),
            ]
        )
    )
    named = [(f"{f'r{f.repeat + 1} ' if result.repeats > 1 else ''}fold {f.fold + 1}", f) for f in result.folds]
    rows = [
        [
            name,
            f"{f.num_train:,}",
            f"{f.num_test:,}",
            *(format_number(getattr(f.report, k)) for _, k in TABLE_METRICS),
            format_epochs(f.history),
            f"{f.seconds:.1f}",
        ]
        for name, f in named
    ]
    footer = [
        [name, "", "", *(format_number(summary[k][i]) if k in summary else "n/a" for _, k in TABLE_METRICS), "", ""]
        for i, name in enumerate(("mean", "std"))
    ]
    per_fold = {name: [getattr(f.report, key) for f in result.folds] for name, key in CARD_METRICS}
    folds = Section("folds", "Folds").add(
        table(
            ["fold", "train", "test", *(name for name, _ in TABLE_METRICS), "epochs (best/run)", "seconds"],
            rows,
            numeric=range(1, 10),
            footer=footer,
        ),
        Plot.of(
            "fold_metrics",
            plots.fold_metrics_figure(per_fold),
            "Each dot is one fold's score on its held-out part; the diamond is the mean with ±1 standard deviation.",
        ),
    )
    dropped = result.dropped_network()
    if dropped:
        overview.add(note([dropped_network_warning(len(dropped), len(result.folds))], "warn", "Worth a look"))
    sections = [overview, folds]
    histories = {name: f.history for name, f in named if f.history is not None and f.history.epochs}
    if histories:
        sections.append(
            Section("learning-curves", "Learning curves").add(
                Plot.of(
                    "fold_curves",
                    plots.fold_curves_figure(histories),
                    "Every fold's training run, on its own validation split.",
                )
            )
        )
    sections += [s for s in (evaluation_section([out_of_fold]), errors_section([out_of_fold])) if s is not None]
    sections += [configuration_section(result.params, _estimator_defaults(result.estimator)), versions_section(None)]
    return Report(
        "Cross-validation report", f"{result.estimator} · {shape} · {texts:,} texts", headlines, sections, footer_text()
    )


FEW_TRIALS = 10  # fewer completed trials than this: the tune report warns that its importances mean little


def tune_report(result: TuneResult) -> Report:
    """The report of a hyperparameter search, then the retrained best model's training report (if any)."""
    maximize = "max" in str(getattr(result.direction, "name", result.direction)).lower()
    frame, params = trial_frame(result)
    states = frame["state"].tolist()
    counts = {state: states.count(state) for state in dict.fromkeys(states)}
    goal = f"{'maximise' if maximize else 'minimise'} {result.metric}"
    cards = {
        f"best {result.metric}": format_number(result.best_value),
        "trials": str(len(states)),
        "complete": str(counts.get("COMPLETE", 0)),
        "pruned": str(counts.get("PRUNED", 0)),
    }
    headlines = [Headline("Search", cards, goal)]
    study = pairs(
        [
            ("Objective", goal),
            ("Best value", format_number(result.best_value)),
            ("Trials", ", ".join(f"{n} {s.lower()}" for s, n in counts.items()) or "none"),
            ("Study", getattr(result.study, "study_name", "")),
            ("Best model", result.model_path or "not retrained"),
            *_retrained(result),
        ]
    )
    best = (
        pairs((k, format_value(v)) for k, v in result.best_params.items())
        if result.best_params
        else note("No trial completed, so there is no best configuration.")
    )
    overview = Section("tuning", "Search").add([cell(study, title="Study"), cell(best, title="Best configuration")])
    search = Section("search", "Search history")
    if counts.get("COMPLETE", 0) + counts.get("PRUNED", 0):
        search.add(
            Plot.of(
                "optimization_history",
                plots.optimization_history_figure(
                    frame["number"].tolist(), frame["value"].astype(float).tolist(), states, result.metric, maximize
                ),
                "Every trial's objective value; the line is the best value so far.",
            )
        )
    importances, why = param_importances(result.study)
    search.add(
        Plot.of(
            "param_importances",
            plots.importance_figure(importances),
            "How much of the objective's variation each hyperparameter explains (Optuna's fANOVA evaluator).",
        )
        if importances
        else note(f"No parameter importances: {why}.")
    )
    complete = counts.get("COMPLETE", 0)
    if importances and complete < FEW_TRIALS:
        search.add(
            note(
                [
                    f"These importances come from {complete} completed trials: fANOVA needs tens of trials to tell "
                    "one parameter's effect from another's, so read them as noise until the study has more."
                ],
                "warn",
                "Too few trials",
            )
        )
    sections = [overview, search, trials_section(frame, params, maximize)]
    subtitle = f"{len(states)} trials · {goal}"
    if result.model is not None:
        model = training_report(result.model)
        headlines += [dataclasses.replace(h, name=f"Best model, {h.name.lower()}") for h in model.headlines]
        model.sections[0].title = "Best model"
        sections += model.sections
        subtitle += f" · best model: {model.subtitle}"
    else:
        sections.append(versions_section(None))
    return Report("Tuning report", subtitle, headlines, sections, footer_text())


def _retrained(result: TuneResult) -> list[tuple[str, str]]:
    """How the retrained model relates to the best trial's value: trials score the network alone on the validation
    split; the retrained model (same configuration, seed and split) is scored with its blend, so the two differ
    exactly when the blend moved the predictions."""
    validation = ((getattr(result.model, "metrics_", None) or {}).get("validation") or {}).get(result.metric)
    if result.model is None or validation is None:
        return []
    blended = getattr(result.model, "blend_model_", None) is not None
    why = (
        "the trials scored the network alone (blend off), the retrained model is scored as it predicts"
        if blended
        else "the same network as the best trial's"
    )
    return [
        (
            "Retrained model",
            f"{predictor(result.model)}; validation {result.metric} {format_number(validation)} ({why})",
        )
    ]


# ----- the training report's overview -----------------------------------------------------------------
def _overview(
    clf: Any, scored: list[ScoredSet], history: History | None, profile: dict[str, Any] | None, source: str | None
) -> Section:
    """What was trained on what, for how long; every scored set's metrics; plain-language findings."""
    rows: list[tuple[str, Any]] = [("Model", _model_name(clf)), ("Predictions by", predictor(clf))]
    if profile:
        augmented = profile.get("augmented_rows", 0)
        texts = (
            f"{sum(profile['train_counts']):,} training{f' (+{augmented:,} augmented)' if augmented else ''}, "
            f"{sum(profile['validation_counts']):,} validation"
        )
        test = next((s for s in scored if s.key == "test"), None)
        rows.append(("Texts", texts + (f", {test.report.num_examples:,} test" if test else "")))
    if source:
        rows.append(("Data", source))
    if getattr(clf, "classes_", None) is not None:
        rows.append(
            ("Labels", ", ".join(str(label.item() if hasattr(label, "item") else label) for label in clf.classes_))
        )
    if history is not None and history.epochs:
        stopped = "; stopped early" if history.stopped_early else ""
        speed = np.mean([e.samples_per_second for e in history.epochs])
        rows += [
            (
                "Epochs",
                f"best {history.best_epoch} of {len(history.epochs)} run (at most {getattr(clf, 'epochs', '?')}"
                f"{stopped}), chosen by validation {history.monitor}",
            ),
            ("Training time", f"{sum(e.seconds for e in history.epochs):,.1f} s for the epochs ({speed:,.0f} texts/s)"),
        ]
    elif "train_seconds" in (getattr(clf, "metrics_", None) or {}):
        rows.append(("Training time", f"{clf.metrics_['train_seconds']:,.1f} s"))
    section = Section("overview", "Overview").add(pairs(rows))
    if scored:
        metrics = [
            [
                s.name,
                f"{s.report.num_examples:,}",
                *(format_number(getattr(s.report, k)) for _, k in TABLE_METRICS),
                format_number(plots.calibration_bins(s.predictions)["ece"], 3) if s.predictions else "n/a",
            ]
            for s in scored
        ]
        alone = (getattr(clf, "metrics_", None) or {}).get("test_network")
        if alone:  # a blended model: the network's own test scores beside the blend's
            report = stored_report(alone)
            metrics.append(
                [
                    "Test, network alone",
                    f"{report.num_examples:,}",
                    *(format_number(getattr(report, k)) for _, k in TABLE_METRICS),
                    "n/a",
                ]
            )
        section.add(table(["set", "texts", *(name for name, _ in TABLE_METRICS), "ECE"], metrics, numeric=range(1, 8)))
    findings = _findings(clf, history, profile, scored)
    if findings:
        section.add(note(findings, "warn", "Worth a look"))
    return section


def _findings(clf: Any, history: History | None, profile: dict[str, Any] | None, scored: list[ScoredSet]) -> list[str]:
    """Plain-language warnings about the run, each with what to try."""
    found = []
    if history is not None and len(history.epochs) > 1:
        last = history.epochs[-1].epoch
        if history.best_epoch == last and last == getattr(clf, "epochs", -1):
            found.append(
                f"Validation {history.monitor} was still improving at the last epoch ({last}); more epochs may help."
            )
        for layer in dict.fromkeys(k for e in history.epochs for k in e.gradient_norms):
            norms = [e.gradient_norms[layer] for e in history.epochs if layer in e.gradient_norms]
            if min(norms) < GradientNorms.VANISHING:
                found.append(f"The gradient of {layer} vanished (mean norm {min(norms):.1e}); it stopped learning.")
            if max(norms) > GradientNorms.EXPLODING:
                found.append(f"The gradient of {layer} exploded (mean norm {max(norms):.1e}); lower the learning rate.")
    if profile:
        counts = np.asarray(profile["train_counts"])
        if profile["truncated_fraction"] > 0.05:
            found.append(
                f"{profile['truncated_fraction']:.0%} of training texts are longer than max_length "
                f"{profile['max_length']} and were truncated; a larger max_length may help."
            )
        if profile["validation_unknown_rate"] > 0.05:
            found.append(
                f"{profile['validation_unknown_rate']:.1%} of validation tokens are unknown; a lower "
                "min_frequency, a subword tokenizer or pretrained embeddings would cover more."
            )
        if counts.min(initial=0) > 0 and counts.max() / counts.min() > 3:
            found.append(
                f"The classes are imbalanced ({counts.max() / counts.min():.1f}:1): macro F1 is the score to "
                "watch; class_weight='balanced' or a sampling option help the small classes."
            )
        if profile.get("dropped_rows"):
            dropped = profile["dropped_rows"]
            found.append(
                f"{dropped:,} input row{'s were' if dropped > 1 else ' was'} dropped (empty text or missing label)."
            )
    blend = (getattr(clf, "metrics_", None) or {}).get("blend")
    if blend and blend["network_weight"] == 0:
        found.append(
            f"The network adds nothing on the validation split, so the predictions are {blend['model']}'s "
            "alone: train longer or larger, or turn the blend off to see the network's own scores."
        )
    for split in scored[:1]:
        missed = [label for label, m in split.report.per_class.items() if m.support and m.recall == 0]
        if missed:
            more = f" and {len(missed) - 10:,} more" if len(missed) > 10 else ""
            found.append(
                f"No {split.name.lower()} text of class {', '.join(missed[:10])}{more} is recognised (recall 0)."
            )
        if split.predictions is not None and (ece := plots.calibration_bins(split.predictions)["ece"]) > 0.1:
            found.append(
                f"The probabilities are poorly calibrated (ECE {ece:.2f} on the {split.name.lower()} set): "
                "read them as a ranking rather than as chances."
            )
    reports = {s.key: s.report for s in scored}
    if "test" in reports and "validation" in reports:
        gap = reports["validation"].macro_f1 - reports["test"].macro_f1
        if gap > 0.05:
            found.append(
                f"Test macro F1 is {gap:.3f} below validation's: the test texts may differ from the training "
                "texts, or choices were tuned on the validation split."
            )
    return found


def _subtitle(clf: Any, profile: dict[str, Any] | None, source: str | None) -> str:
    parts = [_model_name(clf)]
    if profile:
        parts.append(f"{sum(profile['train_counts']):,} training texts" + (f" from {source}" if source else ""))
    elif source:
        parts.append(source)
    if getattr(clf, "classes_", None) is not None:
        parts.append(f"{len(clf.classes_)} labels")
    return " · ".join(parts)


def _model_name(clf: Any) -> str:
    """ "BiLSTM, attention pooling, 20,514 parameters + nbsvm blend", or "nbsvm linear baseline"."""
    if isinstance(clf, LinearBaseline):
        return f"{clf.kind} linear baseline"
    name = f"{'Bi' if clf.bidirectional else ''}{str(clf.cell).upper()}, {clf.pooling} pooling"
    name += f", {clf.num_layers} layers" if clf.num_layers > 1 else ""
    if getattr(clf, "model_", None) is not None:
        name += f", {sum(p.numel() for p in clf.model_.parameters()):,} parameters"
    if getattr(clf, "blend_model_", None) is not None:
        name += f" + {clf.blend_model_.kind} blend"
    return name


def _defaults(cls: type) -> dict[str, Any]:
    """The estimator's default parameters, to show which ones a run changed."""
    try:
        return cls().get_params()
    except TypeError:  # an estimator with required arguments has no defaults to compare with
        return {}


def _estimator_defaults(estimator: str) -> dict[str, Any]:
    from sentilstm.estimators.baselines import BASELINES, make_baseline
    from sentilstm.estimators.classifier import SentimentClassifier

    return make_baseline(estimator).get_params() if estimator in BASELINES else SentimentClassifier().get_params()
