"""Optional parts of sentilstm and the package extras that install them: `pip install sentilstm` trains, evaluates,
predicts, describes and explains by attention, with the linear baselines; the rest comes with an extra.

    pip install 'sentilstm[serve]'      # sentilstm serve: FastAPI, uvicorn, SQLAlchemy (feedback database)
    pip install 'sentilstm[all]'        # everything below

When sentilstm's own code imports a package of an extra that is not installed, the import fails with
`MissingExtraError` (a ConfigError and a ModuleNotFoundError) whose one line names the `pip install` to run; the
command line prints it and exits with code 2. `install()` (done by `import sentilstm`) adds that hint to the import
system, for imports made by sentilstm's modules only: anyone else's import of a missing package fails as always.
"""

from __future__ import annotations

import sys
from importlib.abc import MetaPathFinder
from types import FrameType
from typing import Any

from sentilstm.errors import ConfigError

# top-level module -> (extra, what needs it)
EXTRAS: dict[str, tuple[str, str]] = {
    "fastapi": ("serve", "the HTTP server (sentilstm serve)"),
    "fastapi_offline": ("serve", "the HTTP server (sentilstm serve)"),
    "uvicorn": ("serve", "the HTTP server (sentilstm serve)"),
    "multipart": ("serve", "the HTTP server's file uploads"),
    "sqlalchemy": ("serve", "the feedback database and database tables"),
    "onnx": ("onnx", "ONNX export and the ONNX Runtime backends"),
    "onnxscript": ("onnx", "ONNX export"),
    "onnxruntime": ("onnx", "the ONNX Runtime backends"),
    "optuna": ("tune", "hyperparameter search (sentilstm tune)"),
    "matplotlib": ("report", "the HTML report's plots"),
    "captum": ("explain", "integrated-gradients explanations"),
    "gensim": ("embeddings", "word2vec/fastText vectors (training them, or reading fastText .bin files)"),
    "imblearn": ("imbalance", "SMOTE for the linear baselines"),
    "huggingface_hub": ("hub", "the Hugging Face Hub"),
    "mlflow": ("mlflow", "MLflow tracking"),
}


class MissingExtraError(ConfigError, ModuleNotFoundError):
    """A package of an optional extra is not installed; the message names the `pip install` that adds it."""


def missing_extra(module: str) -> MissingExtraError | None:
    """The error for importing `module` when it is missing, if it belongs to an extra (else None)."""
    top = module.split(".")[0]
    if top not in EXTRAS:
        return None
    extra, purpose = EXTRAS[top]
    error = MissingExtraError(f"{purpose}: the {top} package is not installed; pip install 'sentilstm[{extra}]'")
    error.name = top
    return error


class _ExtrasHint(MetaPathFinder):
    """Last on `sys.meta_path`: asked only about modules no other finder found. For a top-level module of an extra
    imported by sentilstm's own code it raises `MissingExtraError`; otherwise it finds nothing, as if absent."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if path is None and fullname in EXTRAS and _imported_by_sentilstm(sys._getframe(1)):
            raise missing_extra(fullname)  # type: ignore[misc]  # never None for a name in EXTRAS
        return None


def _imported_by_sentilstm(frame: FrameType | None) -> bool:
    """Whether the import statement being run is in a sentilstm module (importlib's own frames skipped)."""
    while frame is not None and frame.f_globals.get("__name__", "").startswith(("importlib", "_frozen_importlib")):
        frame = frame.f_back
    return frame is not None and str(frame.f_globals.get("__name__", "")).startswith("sentilstm")


def install() -> None:
    """Add the hint to the import system, once."""
    if not any(isinstance(finder, _ExtrasHint) for finder in sys.meta_path):
        sys.meta_path.append(_ExtrasHint())


__all__ = ["EXTRAS", "MissingExtraError", "install", "missing_extra"]
