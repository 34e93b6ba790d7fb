"""Typed exceptions: every error a user can cause is one of these, with a one-line message
that names what was given and how to fix it. The CLI turns them into exit code 2."""

from __future__ import annotations

from sklearn.exceptions import NotFittedError as _ScikitLearnNotFittedError


class SentilstmError(Exception):
    """Base class for every error caused by the user's input or files."""


class DataError(SentilstmError, ValueError):
    """A data file or in-memory table cannot be used as given (missing, empty, wrong columns...)."""


class ConfigError(SentilstmError, ValueError):
    """A hyperparameter or option has a value outside what is allowed."""


class ArtifactError(SentilstmError, OSError):
    """A model or checkpoint file is missing, truncated, foreign or from an incompatible version."""


class NotFittedError(SentilstmError, RuntimeError, _ScikitLearnNotFittedError):
    """A classifier was used before `fit` or `load`; also scikit-learn's NotFittedError (a ValueError and an
    AttributeError), so code written for scikit-learn estimators catches it."""


class OutputError(SentilstmError, OSError):
    """A file cannot be written (no permission, read-only or full disk, a folder in the way...); nothing was left
    half-written. `errno` is the system's error number."""


class TrainingError(SentilstmError, FloatingPointError):
    """Training cannot go on as configured: the loss became NaN or infinite (a learning rate or weight decay too
    large, bf16 overflow, NaN in pretrained vectors). Nothing was saved from the failed run."""
