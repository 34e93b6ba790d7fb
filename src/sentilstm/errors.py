"""Typed exceptions: every error a user can cause is one of these, with a one-line message
that names what was given and how to fix it. The CLI turns them into exit code 2."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any


class SentilstmError(Exception):
    """Base class for every error caused by the user's input or files."""


class DataError(SentilstmError, ValueError):
    """A data file or in-memory table cannot be used as given (missing, empty, wrong columns...)."""


class ConfigError(SentilstmError, ValueError):
    """A hyperparameter or option has a value outside what is allowed."""


class ArtifactError(SentilstmError, OSError):
    """A model or checkpoint file is missing, truncated, foreign or from an incompatible version."""


_NOT_FITTED_DOC = """A classifier was used before `fit` or `load`; also scikit-learn's NotFittedError (a ValueError
    and an AttributeError), so code written for scikit-learn estimators catches it."""

if TYPE_CHECKING:
    from sklearn.exceptions import NotFittedError as _ScikitLearnNotFittedError

    class NotFittedError(SentilstmError, RuntimeError, _ScikitLearnNotFittedError):
        pass
else:

    def __getattr__(name: str) -> Any:
        """`NotFittedError` is made on first use: its scikit-learn base costs a second of import time, which the
        command line's start-up (and `import sentilstm`) should not pay."""
        if name != "NotFittedError":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from sklearn.exceptions import NotFittedError as scikit_learns

        made = type(
            name, (SentilstmError, RuntimeError, scikit_learns), {"__doc__": _NOT_FITTED_DOC, "__module__": __name__}
        )
        globals()[name] = made
        return made


class OutputError(SentilstmError, OSError):
    """A file cannot be written (no permission, read-only or full disk, a folder in the way...); nothing was left
    half-written. `errno` is the system's error number."""


class TrainingError(SentilstmError, FloatingPointError):
    """Training cannot go on as configured: the loss became NaN or infinite (a learning rate or weight decay too
    large, bf16 overflow, NaN in pretrained vectors). Nothing was saved from the failed run."""
