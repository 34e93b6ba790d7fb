"""sentilstm: a labelled table in any language -> a fast, explainable LSTM sentiment classifier in one file.

from sentilstm import SentimentClassifier, read_table
train = read_table("reviews.csv", text_column="text", label_column="label")
clf = SentimentClassifier().fit(train.texts, train.labels); clf.save("model.sentilstm")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sentilstm._version import __version__
from sentilstm.system import extras

extras.install()  # a missing optional package imported by sentilstm fails naming the extra to install

# what `from sentilstm import X` gives, and the module it comes from: imported on first use, so `import sentilstm`
# (and the command line's start-up) costs no torch, scikit-learn or pandas until they are needed
_EXPORTS: dict[str, str] = {
    "SentimentClassifier": "sentilstm.estimators.classifier",
    "NBSVM": "sentilstm.estimators.baselines",
    "TfidfLogisticRegression": "sentilstm.estimators.baselines",
    "load_model": "sentilstm.estimators.classifier",
    "TextConfig": "sentilstm.config",
    "ModelConfig": "sentilstm.config",
    "TrainConfig": "sentilstm.config",
    "LabelMap": "sentilstm.data.labels",
    "Table": "sentilstm.data.tables",
    "read_table": "sentilstm.data.tables",
    "load_dataset": "sentilstm.data.datasets",
    "download_dataset": "sentilstm.data.datasets",
    "DATASETS": "sentilstm.data.datasets",
    "DatasetSplits": "sentilstm.data.datasets",
    "SentilstmError": "sentilstm.errors",
    "TrainingError": "sentilstm.errors",
    "DataError": "sentilstm.errors",
    "ConfigError": "sentilstm.errors",
    "ArtifactError": "sentilstm.errors",
    "NotFittedError": "sentilstm.errors",
    "OutputError": "sentilstm.errors",
    "EvaluationReport": "sentilstm.estimators.evaluation",
    "TokenAttribution": "sentilstm.explanations.result",
    "explain": "sentilstm.explanations.methods",
    "cross_validate": "sentilstm.selection.crossval",
    "CVResult": "sentilstm.selection.crossval",
    "FoldResult": "sentilstm.selection.crossval",
    "SentimentNet": "sentilstm.network.model",
    "EpochStats": "sentilstm.training.loop",
    "History": "sentilstm.training.loop",
    "TrainingCallback": "sentilstm.training.loop",
    "tune": "sentilstm.selection.tuning",
    "TuneResult": "sentilstm.selection.tuning",
    "SearchSpace": "sentilstm.selection.tuning",
    "DEFAULT_SPACE": "sentilstm.selection.tuning",
    "train_to_file": "sentilstm.workflows",
    "baseline_to_file": "sentilstm.workflows",
    "cv_to_file": "sentilstm.workflows",
    "tune_to_file": "sentilstm.workflows",
    "TrainRun": "sentilstm.workflows",
    "CVRun": "sentilstm.workflows",
    "TuneRun": "sentilstm.workflows",
}

if TYPE_CHECKING:  # the same names, for type checkers and editors
    from sentilstm.config import ModelConfig, TextConfig, TrainConfig
    from sentilstm.data.datasets import DATASETS, DatasetSplits, download_dataset, load_dataset
    from sentilstm.data.labels import LabelMap
    from sentilstm.data.tables import Table, read_table
    from sentilstm.errors import (
        ArtifactError,
        ConfigError,
        DataError,
        NotFittedError,
        OutputError,
        SentilstmError,
        TrainingError,
    )
    from sentilstm.estimators.baselines import NBSVM, TfidfLogisticRegression
    from sentilstm.estimators.classifier import SentimentClassifier, load_model
    from sentilstm.estimators.evaluation import EvaluationReport
    from sentilstm.explanations.methods import explain
    from sentilstm.explanations.result import TokenAttribution
    from sentilstm.network.model import SentimentNet
    from sentilstm.selection.crossval import CVResult, FoldResult, cross_validate
    from sentilstm.selection.tuning import DEFAULT_SPACE, SearchSpace, TuneResult, tune
    from sentilstm.training.loop import EpochStats, History, TrainingCallback
    from sentilstm.workflows import CVRun, TrainRun, TuneRun, baseline_to_file, cv_to_file, train_to_file, tune_to_file


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sentilstm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = ["__version__", *_EXPORTS]
