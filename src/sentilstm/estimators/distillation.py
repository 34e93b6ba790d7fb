"""Knowledge distillation (Hinton et al. 2015): a teacher's probabilities become soft targets for a fresh network,
which is then served alone.

    SentimentClassifier(distill="blend").fit(texts, labels)        # this run's blend teaches; no partner is kept
    SentimentClassifier(distill="blend", ensemble=5).fit(texts, labels)   # the blend of 5 networks teaches one
    SentimentClassifier(distill="teacher.sentilstm").fit(texts, labels)        # a saved model teaches
    SentimentClassifier(distill="hf:org/model").fit(texts, labels)     # a Hugging Face text-classification model
    SentimentClassifier().fit(texts, labels, teacher=any_model.predict_proba)  # any callable or fitted model

`fit` trains the network on the labels first, as always: that network, blended with its linear partner, is the
"blend" teacher, and alone it is the student-without-distillation that `metrics_["distillation"]` compares with.
The transfer set is the training split, its augmented copies and `fit(..., unlabeled=...)` (an unlabelled text
takes the teacher's most likely label as its hard label). The fresh network (same settings and seed) then learns
from `distill_weight` x the soft-target loss at `distill_temperature` + the rest x the labels' loss, with early
stopping on the same validation split, and replaces the first network; the blend's partner is dropped, so
serving runs the network alone.

A teacher's columns are matched to the data's labels by value (a sentilstm model, a fitted scikit-learn model
with `classes_`) or by name (a Hugging Face model's id2label, case-insensitive); a bare callable must return
columns in the order of the data's sorted labels (`clf.classes_`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sentilstm.errors import ConfigError, DataError
from sentilstm.estimators.blend import mix
from sentilstm.estimators.evaluation import headline_scores

log = logging.getLogger(__name__)
Teacher = Callable[[list[str]], np.ndarray]  # texts -> probabilities (n, classes) in the data's label order
CHUNK = 4096  # texts per teacher call: bounds the memory a large transfer set takes at once


def resolve_teacher(teacher: Any, labels: Sequence[Any], load: Callable[[str], Any]) -> tuple[Teacher, str]:
    """(texts -> probabilities in `labels`' column order, a one-line description) for `teacher`: a callable, a
    fitted model with `predict_proba` (and `classes_`), a .sentilstm path (read with `load`, the classifier's
    `load_model`) or "hf:NAME". Not "blend": that teacher is the classifier's own blend, known once it is fitted."""
    if isinstance(teacher, (str, Path)):
        spec = str(teacher)
        if spec.startswith("hf:"):
            return _hugging_face(spec.removeprefix("hf:"), labels), f"Hugging Face model {spec.removeprefix('hf:')}"
        model = load(spec)
        return _by_classes(
            model.predict_proba, np.asarray(model.classes_).tolist(), labels
        ), f"model file {Path(spec).name}"
    if hasattr(teacher, "predict_proba"):
        classes = getattr(teacher, "classes_", None)
        if classes is None:
            return teacher.predict_proba, f"{type(teacher).__name__}.predict_proba"
        return _by_classes(teacher.predict_proba, np.asarray(classes).tolist(), labels), type(teacher).__name__
    if callable(teacher):
        return teacher, f"callable {getattr(teacher, '__qualname__', type(teacher).__name__)}"
    raise ConfigError(
        f"teacher must be a callable texts -> probabilities, a fitted model with predict_proba, a .sentilstm file "
        f"or 'hf:MODEL_NAME', got {type(teacher).__name__} {str(teacher)[:60]!r}"
    )


def teacher_probabilities(teacher: Teacher, texts: list[str], num_classes: int) -> np.ndarray:
    """The teacher's probabilities for `texts`, float32 (n, num_classes), rows renormalised; DataError for a wrong
    shape or values that are no probabilities."""
    parts = []
    for start in range(0, len(texts), CHUNK):
        chunk = texts[start : start + CHUNK]
        got = np.asarray(teacher(chunk), dtype=np.float64)
        if got.shape != (len(chunk), num_classes):
            raise DataError(
                f"the teacher returned shape {got.shape} for {len(chunk)} texts; it must return probabilities "
                f"(texts, {num_classes}), one column per label in the order of the sorted labels"
            )
        if not np.isfinite(got).all() or (got < 0).any() or (got.sum(axis=1) <= 0).any():
            raise DataError("the teacher returned values that are not probabilities (negative, NaN or all zero)")
        parts.append(got / got.sum(axis=1, keepdims=True))
    return np.concatenate(parts).astype(np.float32)


def _by_classes(predict: Teacher, theirs: list[Any], ours: Sequence[Any]) -> Teacher:
    """`predict`'s columns (labels `theirs`) reordered to `ours`, matched by value, else by their string form."""
    index = []
    for label in ours:
        matches = [i for i, t in enumerate(theirs) if t == label] or [
            i for i, t in enumerate(theirs) if str(t) == str(label)
        ]
        if len(matches) != 1:
            raise DataError(
                f"the teacher's labels {theirs[:10]} do not include the data's label {label!r} exactly once; "
                "distil from a teacher trained on the same labels"
            )
        index.append(matches[0])
    if len(theirs) != len(ours):
        raise DataError(f"the teacher has labels {theirs[:10]}, the data {list(ours)[:10]}; they must be the same")
    return lambda texts: np.asarray(predict(texts))[:, index]


def _hugging_face(name: str, labels: Sequence[Any]) -> Teacher:
    """A Hugging Face text-classification model as a teacher, its labels matched to the data's by name."""
    try:
        from transformers import pipeline
    except ImportError:
        raise ConfigError(
            f"distilling from the Hugging Face model {name!r} needs transformers: `pip install transformers`"
        ) from None
    classify = pipeline("text-classification", model=name, top_k=None, truncation=True)
    names = {str(v).lower(): int(k) for k, v in classify.model.config.id2label.items()}
    missing = [label for label in labels if str(label).lower() not in names]
    if missing:
        raise DataError(
            f"the Hugging Face model {name!r} has labels {sorted(names)[:10]}, which do not name the data's labels "
            f"{missing[:5]}; distil from a model with the same labels"
        )
    order = [names[str(label).lower()] for label in labels]

    def run(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(names)))
        for row, scores in enumerate(classify(texts, batch_size=32)):
            for entry in scores:
                out[row, names[str(entry["label"]).lower()]] = entry["score"]
        return out[:, order]

    return run


def distil(
    clf: Any,
    teacher: Any,
    settings: Any,
    data: Any,
    text: Any,
    rows: Any,
    vectors: Any,
    callbacks: Any,
    blend: Any,
    load: Callable[[str], Any],
    encoder: dict[str, Any] | None = None,
) -> None:
    """Train a fresh network of `clf`'s settings on the teacher's soft targets (`teacher`, else
    `settings.train.distill`; "blend": `clf` as fitted so far, with `blend`, its `FittedBlend`; a file: read with
    `load`) and make it `clf`'s network, served alone; `metrics_["distillation"]` gets the teacher's, the first
    network's and the student's validation scores. `encoder`: pretrained encoder weights the student starts from."""
    from sentilstm.estimators import steps  # steps imports the classifier's neighbours; this module stays light

    labels = data.label_map.labels
    texts = list(rows.texts) + list(data.unlabeled)
    if teacher is None and settings.train.distill == "blend":
        kept = clf.blend_model_ is not None
        k = settings.train.ensemble
        networks = "network" if k == 1 else f"ensemble of {k} networks"
        described = f"this run's {networks} (no blend kept)"
        if kept:
            described = "this run's blend" + ("" if k == 1 else f" of an {networks}")
        predict = clf.predict_proba
        soft = _blend_targets(clf, blend, texts, len(data.texts))
    else:
        predict, described = resolve_teacher(teacher if teacher is not None else settings.train.distill, labels, load)
        soft = teacher_probabilities(predict, texts, len(labels))
    log.info("distilling from %s", described)
    scores = {"teacher": predict(data.val_texts), "network_before": clf._network_proba(data.val_texts)}
    transfer = steps.TrainingRows(
        rows.ids + steps.encoded_unlabeled(text, data),
        np.concatenate([rows.targets, soft[len(rows.targets) :].argmax(axis=1)]),  # unlabelled: the teacher's label
        rows.augmentation,
    )
    one = dataclasses.replace(clf.model_.config, members=1)  # an ensemble teaches one network
    student = steps.new_network(one, vectors.matrix, settings.train, transfer.ids, vectors.ngrams, encoder)
    history = steps.train_network(student, transfer, data, text, settings.train, callbacks=callbacks, teacher=soft)
    clf.model_, clf.history_ = student, history
    clf.blend_model_, clf.blend_weight_ = None, 1.0
    clf.metrics_.pop("blend", None)
    members = clf.metrics_.pop("ensemble", None)  # the teacher's, recorded with it below
    scores["student"] = clf._network_proba(data.val_texts)
    clf.metrics_["distillation"] = {
        "teacher": described,
        "temperature": settings.train.distill_temperature,
        "weight": settings.train.distill_weight,
        "transfer_texts": len(transfer.ids),
        "unlabeled_texts": len(data.unlabeled),
        "validation": {way: headline_scores(data.val_targets, p) for way, p in scores.items()},
    }
    if members is not None:
        clf.metrics_["distillation"]["teacher_ensemble"] = members
    log.info(
        "distillation, validation macro F1: %s",
        {k: v["macro_f1"] for k, v in clf.metrics_["distillation"]["validation"].items()},
    )


def _blend_targets(clf: Any, blend: Any, texts: list[str], training: int) -> np.ndarray:
    """The blend's probabilities for `texts`, float32; for the first `training` (the training split's texts), the
    partner's out-of-fold ones when the blend was cross-fitted: the refitted partner has seen their labels, and
    would only hand them back."""
    network = clf._network_proba(texts)
    if clf.blend_model_ is None:
        return network.astype(np.float32)
    partner = clf.blend_model_.predict_proba(texts)
    honest = getattr(blend, "train_out_of_fold", None)
    if honest is not None and len(honest) == training:
        partner[:training] = honest
    return mix(clf.blend_weight_, network, partner).astype(np.float32)


__all__ = ["Teacher", "distil", "resolve_teacher", "teacher_probabilities"]
