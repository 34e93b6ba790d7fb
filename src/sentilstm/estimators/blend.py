"""The blend step of `SentimentClassifier.fit`: a linear n-gram model averaged with the network's probabilities.

fitted = fit_blend(BlendConfig("auto"), network_val, texts, labels, val_texts, val_targets, classes, sampling="none")
fitted.model, fitted.weight  # the partner (fitted on texts + val_texts) and the network's share of the
                             # prediction; None, 1.0 when the network alone is best on validation
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from sentilstm.config import BlendConfig, check_range, check_type
from sentilstm.data.labels import Label, LabelMap
from sentilstm.errors import DataError
from sentilstm.estimators.baselines import LinearBaseline, make_baseline

log = logging.getLogger(__name__)
BLEND_PREFIX = "blend."  # tensor names of the blended linear model inside a model file


@dataclass
class FittedBlend:
    """The linear model and the network's share of a blended prediction; `model` None: the network alone."""

    model: LinearBaseline | None = None
    weight: float = 1.0
    metrics: dict[str, Any] | None = None  # for `metrics_["blend"]`
    scores: dict[str, float] = field(default_factory=dict)  # validation log-loss of each candidate
    # crossfit: the kept partner's out-of-fold probabilities on the training split's texts (a distillation
    # teacher's honest view of them: the refitted partner has seen their labels)
    train_out_of_fold: np.ndarray | None = None


def fit_blend(
    config: BlendConfig,
    network: np.ndarray,
    texts: list[str],
    labels: list[Label],
    val_texts: list[str],
    val_targets: np.ndarray,
    classes: list[Any],
    *,
    sampling: str,
    seed: int = 0,
    monitor: str = "macro_f1",
) -> FittedBlend:
    """The linear partner and the network's share of the prediction, given the network's probabilities `network`
    on the validation split (the network trained on `texts`, early-stopped on `val_texts`).

    crossfit (the default): every candidate partner (kind x class weighting) predicts each text of train +
    validation from a model fitted on the other folds; the candidate whose out-of-fold predictions score best on
    `monitor` is kept, the weight with the lowest validation log-loss is picked (1: the network alone, 0: the
    partner alone), and the partner is refitted on train + validation, as the linear baselines are. holdout (the
    recipe before 0.16): the partners fitted on `texts` with `partner_balancing`, the partner and the weight with
    the lowest validation log-loss kept."""
    predictions, out_of_fold = _partner_predictions(
        config, texts, labels, val_texts, val_targets, classes, sampling=sampling, seed=seed, monitor=monitor
    )
    scores = {"network": log_loss(network, val_targets)}
    best: tuple[float, float, tuple[str, str]] | None = None
    for key, (other, _) in predictions.items():
        scores[_name(*key)] = log_loss(other, val_targets)
        for weight in np.linspace(0.0, 1.0, 21):
            loss = log_loss(weight * network + (1 - weight) * other, val_targets)
            if best is None or loss < best[0] - 1e-9:
                best = (loss, float(weight), key)
    if best is None or best[1] == 1.0:
        log.info("blend: the network alone is best on validation (log-loss %.4f)", scores["network"])
        return FittedBlend(scores=scores)
    loss, weight, key = best
    linear = predictions[key][1]()  # crossfit: refitted on train + validation here
    train_out_of_fold = out_of_fold.pop(TRAIN_OOF, None)
    metrics = {
        "model": linear.kind,
        "network_weight": weight,
        "partner": {"class_weight": linear.class_weight, "sampling": linear.sampling},
        "strategy": config.blend_strategy,
        "validation_log_loss": {**scores, "blend": loss},
    }
    if config.blend_strategy == "crossfit":
        folds = out_of_fold.pop("folds")  # fewer than blend_folds when no class has that many texts
        metrics.update(folds=folds, out_of_fold={"metric": monitor, **out_of_fold})
    log.info(
        "blend: %.2f x network + %.2f x %s (validation log-loss %.4f; network alone %.4f, %s alone %.4f)",
        weight,
        1 - weight,
        _name(*key),
        loss,
        scores["network"],
        _name(*key),
        scores[_name(*key)],
    )
    if weight == 0.0:
        log.warning(
            "the network adds nothing on the validation split, so predictions come from %s alone; "
            "train longer, or pass blend=None (--blend none) to keep the network's own predictions",
            linear.kind,
        )
    return FittedBlend(linear, weight, metrics, scores, train_out_of_fold)


TRAIN_OOF = "train_out_of_fold"  # the key under which `_partner_predictions` passes them on (not a score)
# (kind, weighting tag) -> (validation probabilities, what gives the partner to keep)
PartnerPredictions = dict[tuple[str, str], tuple[np.ndarray, Callable[[], LinearBaseline]]]


def _partner_predictions(
    config: BlendConfig,
    texts: list[str],
    labels: list[Label],
    val_texts: list[str],
    val_targets: np.ndarray,
    classes: list[Any],
    *,
    sampling: str,
    seed: int,
    monitor: str,
) -> tuple[PartnerPredictions, dict[str, Any]]:
    """The candidate partners' probabilities on the validation split, and (crossfit) each candidate's out-of-fold
    score over train + validation, with the number of folds used under "folds".

    holdout: every candidate, fitted on the training split. crossfit: the one candidate whose out-of-fold
    predictions over all the rows score best on the monitored metric (macro F1 by default: unweighted partners are
    better calibrated but all but ignore a small class), left to be refitted on all the rows."""
    candidates = _candidates(config, sampling)
    if config.blend_strategy == "holdout":
        fitted = [(kind, w, _fit_partner(kind, w, texts, labels)) for kind, w in candidates[1::2]]
        predictions: PartnerPredictions = {
            (kind, _tag(w)): (m.predict_proba(val_texts), partial(_as_fitted, m))
            for kind, w, m in fitted
            if m is not None and list(m.classes_) == list(classes)
        }
        return predictions, {}
    all_texts = texts + val_texts
    targets = np.concatenate([LabelMap(classes).encode(labels), val_targets])
    all_labels = [classes[t] for t in targets]
    folds = _folds(targets, config.blend_folds, seed)
    if not folds:
        log.warning("no blend: %d texts are too few to cross-fit a linear partner", len(targets))
        return {}, {"folds": 0}
    oof: dict[tuple[str, str], np.ndarray] = {}
    for kind in dict.fromkeys(kind for kind, _ in candidates):
        weightings = [weighting for k, weighting in candidates if k == kind]
        for weighting, out in zip(weightings, _out_of_fold(kind, weightings, all_texts, all_labels, classes, folds)):
            oof[(kind, _tag(weighting))] = out
    scores = {key: _score(out, targets, monitor) for key, out in oof.items()}
    if not scores:
        return {}, {"folds": len(folds)}
    best = max(scores, key=lambda key: scores[key])  # the first of equals: unweighted, NBSVM before TF-IDF LR
    weighting = {(kind, _tag(w)): w for kind, w in candidates}[best]
    refit = partial(make_baseline(best[0], **weighting).fit, all_texts, all_labels)
    named = {_name(*key): value for key, value in scores.items()}
    return {best: (oof[best][len(texts) :], refit)}, {"folds": len(folds), **named, TRAIN_OOF: oof[best][: len(texts)]}


def _as_fitted(model: LinearBaseline) -> LinearBaseline:
    """holdout's partner: kept as fitted on the training split."""
    return model


def _score(probabilities: np.ndarray, targets: np.ndarray, monitor: str) -> float:
    """Higher is better: macro F1, accuracy, or minus the log-loss (monitor "loss")."""
    if monitor == "loss":
        return -log_loss(probabilities, targets)
    predicted = probabilities.argmax(axis=1)
    if monitor == "accuracy":
        return float(np.mean(predicted == targets))
    return float(
        f1_score(targets, predicted, labels=np.arange(probabilities.shape[1]), average="macro", zero_division=0)
    )


def _candidates(config: BlendConfig, sampling: str) -> list[tuple[str, dict[str, Any]]]:
    """(kind, class weighting) pairs: each kind unweighted, then weighted as `partner_balancing` says."""
    kinds: tuple[str, ...] = ("nbsvm", "tfidf_lr") if config.blend == "auto" else (str(config.blend),)
    return [(kind, weighting) for kind in kinds for weighting in ({}, partner_balancing(sampling))]


def _tag(weighting: dict[str, Any]) -> str:
    return ",".join(f"{key}={value}" for key, value in weighting.items())


def _name(kind: str, tag: str) -> str:
    return f"{kind}[{tag}]" if tag else kind


def _fit_partner(kind: str, weighting: dict[str, Any], texts: list[str], labels: list[Label]) -> LinearBaseline | None:
    """A linear model fitted on (texts, labels); None when it cannot be (logged), e.g. no n-gram repeats."""
    try:
        return make_baseline(kind, **weighting).fit(texts, labels)
    except DataError as exc:  # e.g. too few texts for any n-gram to repeat
        log.warning("no %s blend: %s", kind, exc)
        return None


def _folds(targets: np.ndarray, folds: int, seed: int) -> list[np.ndarray]:
    """Row indices of each of `folds` stratified folds: fewer when no class has that many rows, none when no
    class has two (too few rows to cross-fit)."""
    from sklearn.model_selection import StratifiedKFold

    count = min(folds, int(np.bincount(targets).max()))
    if count < 2:
        return []
    splitter = StratifiedKFold(n_splits=count, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # a class rarer than the fold count is spread as far as it goes
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        return [held for _, held in splitter.split(np.zeros(len(targets)), targets)]


def _out_of_fold(
    kind: str,
    weightings: list[dict[str, Any]],
    texts: list[str],
    labels: list[Label],
    classes: list[Any],
    folds: list[np.ndarray],
) -> list[np.ndarray]:
    """Out-of-fold probabilities of one kind of partner, per class weighting, columns in `classes` order; none
    when the partner cannot be fitted (logged)."""
    try:
        outputs = make_baseline(kind).out_of_fold_proba(texts, labels, folds, weightings)
    except DataError as exc:  # e.g. too few texts for any n-gram to repeat
        log.warning("no %s blend: %s", kind, exc)
        return []
    fitted = LabelMap.fit(labels).labels  # the columns out_of_fold_proba returns
    order = [fitted.index(label) for label in classes]
    return [out[:, order] for out in outputs]


def partner_balancing(sampling: str) -> dict[str, Any]:
    """How the blend's linear model treats skewed classes: it mirrors a sampling lever of the network
    (balanced batches and undersampling become random oversampling, which loses no n-gram evidence), and
    otherwise uses balanced class weights. Unweighted n-gram models all but ignore a small class (NBSVM
    recalls 6% of the positives of a 9:1 IMDB subset), and the blend would pass that bias on; weighted, the
    blended recipe's macro F1 there goes from 67.9 to 76.2 (bench/accuracy.py, imdb-imbalanced). On
    balanced classes the weights are 1, a no-op."""
    if sampling != "none":
        mirrored = {"balanced_batches": "oversample", "undersample": "oversample"}.get(sampling, sampling)
        return {"sampling": mirrored}
    return {"class_weight": "balanced"}


def blend_weight(blend: dict[str, Any]) -> float:
    """The network's share of a blended prediction, a number between 0 and 1 (as a model file states it)."""
    weight: Any = blend.get("network_weight")
    check_type("blend.network_weight", weight, float)
    check_range("blend.network_weight", weight, 0, 1)
    return float(weight)


def log_loss(probabilities: np.ndarray, targets: np.ndarray) -> float:
    picked = probabilities[np.arange(len(targets)), targets]
    return float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())


def mix(weight: float, network: np.ndarray, linear: np.ndarray) -> np.ndarray:
    """A blended prediction: `weight` (the network's share) x the network's probabilities + the rest x the linear
    model's."""
    return weight * network + (1 - weight) * linear


def predictor(model: Any) -> str:
    """What makes `model`'s predictions, in words, for every place a result is shown: "the network alone",
    "blend: 0.40 x network + 0.60 x tfidf_lr[class_weight=balanced]", "tfidf_lr alone (the blend gave the network
    weight 0)", or "nbsvm linear model" for a baseline."""
    if isinstance(model, LinearBaseline):
        return f"{model.kind} linear model"
    partner = getattr(model, "blend_model_", None)
    if partner is None:
        return "the network alone"
    name = ((getattr(model, "metrics_", None) or {}).get("blend") or {}).get("model") or partner.kind
    weight = float(model.blend_weight_)
    if weight <= 0.0:
        return f"{name} alone (the blend gave the network weight 0)"
    if weight >= 1.0:
        return f"the network alone (the blend gave {name} weight 0)"
    return f"blend: {weight:.2f} x network + {1 - weight:.2f} x {name}"


def dropped_network_warning(dropped: int, folds: int) -> str:
    """What to say when `dropped` of `folds` cross-validation models are the linear model alone."""
    which = "every fold" if dropped == folds else f"{dropped} of {folds} folds"
    return (
        f"in {which} the blend gave the network weight 0, so those scores are the linear model's, not the "
        "network's: train longer or larger (--set epochs=...), or use --blend none to score the network itself"
    )


def network_dropped(model: Any) -> bool:
    """Whether a blend left the network out of `model`'s predictions (its weight is 0)."""
    return getattr(model, "blend_model_", None) is not None and float(model.blend_weight_) <= 0.0


__all__ = [
    "BLEND_PREFIX",
    "FittedBlend",
    "blend_weight",
    "dropped_network_warning",
    "fit_blend",
    "log_loss",
    "mix",
    "network_dropped",
    "partner_balancing",
    "predictor",
]
