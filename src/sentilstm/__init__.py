"""sentilstm: a labelled table in any language -> a fast, explainable LSTM sentiment classifier in one file.

from sentilstm import SentimentClassifier, read_table
train = read_table("reviews.csv", text_column="text", label_column="label")
clf = SentimentClassifier().fit(train.texts, train.labels); clf.save("model.sentilstm")
"""

from __future__ import annotations

from sentilstm._version import __version__
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

__all__ = [
    "__version__",
    "SentimentClassifier",
    "NBSVM",
    "TfidfLogisticRegression",
    "load_model",
    "TextConfig",
    "ModelConfig",
    "TrainConfig",
    "LabelMap",
    "Table",
    "read_table",
    "load_dataset",
    "download_dataset",
    "DATASETS",
    "DatasetSplits",
    "SentilstmError",
    "TrainingError",
    "DataError",
    "ConfigError",
    "ArtifactError",
    "NotFittedError",
    "OutputError",
    "EvaluationReport",
    "TokenAttribution",
    "explain",
    "cross_validate",
    "CVResult",
    "FoldResult",
    "SentimentNet",
    "EpochStats",
    "History",
    "TrainingCallback",
    "tune",
    "TuneResult",
    "SearchSpace",
    "DEFAULT_SPACE",
    "train_to_file",
    "baseline_to_file",
    "cv_to_file",
    "tune_to_file",
    "TrainRun",
    "CVRun",
    "TuneRun",
]
