"""What one served app needs to know, and how it travels to uvicorn's worker processes (environment variables).

settings = ServeSettings("model.sentilstm", backend="onnx-int8", max_texts=500)
os.environ.update(settings.to_env())   # then: uvicorn --factory sentilstm.serve.app:app_from_env --workers 2
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

from sentilstm.config import check_choice, check_integer
from sentilstm.errors import ConfigError
from sentilstm.serve.hosts import normalise_hosts, normalise_origins
from sentilstm.serve.keys import check_keys
from sentilstm.serve.rate_limit import check_rate_limit

Backend = Literal["torch", "onnx", "onnx-int8"]
ENV_PREFIX = "SENTILSTM_SERVE_"  # SENTILSTM_SERVE_MODEL_PATH, SENTILSTM_SERVE_MAX_TEXTS, ...


@dataclasses.dataclass(frozen=True)
class ServeSettings:
    """Settings of one served model; every field is also the CLI option of the same name."""

    model_path: str
    backend: Backend = "torch"
    # intra-op threads of each worker; None means 1: one single-threaded worker per core is 1.6-5.6x the
    # throughput of one multi-threaded worker on 2 cores (PERF_NOTES section 3), so scale with --workers
    threads: int | None = None
    # SQLAlchemy URL of the feedback database; None: a SQLite file beside the model (model.feedback.db)
    feedback_url: str | None = None
    max_texts: int = 1000  # texts in one /predict or /feedback request
    max_chars: int = 20_000  # characters in one text (a long review is ~10k)
    max_body_bytes: int = 2_000_000  # JSON request bodies; checked before parsing
    max_upload_bytes: int = 64 * 1024 * 1024  # multipart bodies (the page's file upload, which has its own limit)
    batch_max: int = 64  # texts per model call: eager batches past ~64 leave the L3 cache (PERF_NOTES section 3)
    # how long a batch that is not full may wait for more texts, only while requests keep coming; an idle
    # server runs each request at once
    batch_wait_ms: float = 1.0
    # where the torch network runs: "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:N"; never the
    # device the model was trained on, which a serving machine may not have
    device: str = "auto"
    # ----- guards (serve/security.py); repr=False keeps the keys out of logs and tracebacks
    api_key: str | None = dataclasses.field(default=None, repr=False)  # needed by every route but /health and the page
    read_key: str | None = dataclasses.field(default=None, repr=False)  # GET routes, /predict and /explain only
    # Host header names to answer (against DNS rebinding); () answers any. `sentilstm serve` fills in its bind
    # address and localhost (hosts.serve_allowed_hosts)
    allowed_hosts: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()  # sites whose pages may call the API from a browser; (): CORS off
    rate_limit: int | None = None  # requests a minute per client address, counted by each worker; None: no limit
    raw_csv: bool = False  # scored CSV downloads keep cells such as "=1+1" (default: "'=1+1", OWASP's rule)
    # ----- bounded work
    # seconds a request may take until its answer starts (504 past it; its work stops at the next check)
    request_timeout: float = 60.0
    # lime/kernel_shap cost grows with words x samples (kernel_shap's least squares with words^2): 5k characters
    # (~900 words) x 2,000 samples take ~5 s on one core, ~3 s of it one uninterruptible solve; 10k took 10 s
    # (6.4 s in the solve, which no deadline can cut short), the 20k x 5,000 an unbounded server accepted 350 s
    max_explain_chars: int = 5_000
    # ... and words, which the solve grows with, whatever their length: 2,500 one-letter words took 28 s in it
    max_explain_words: int = 1000
    max_explain_samples: int = 2000
    # rows of an uploaded table: 200k short texts score in ~30 s on one core (torch), well inside request_timeout
    max_upload_rows: int = 200_000
    # bytes a gzip upload may unpack to, stopped while it unpacks: a 14 KB gzip can hold 300k rows
    max_decompressed_bytes: int = 256 * 1024 * 1024
    # parent folder of the web page's private per-server folder (made 0700, removed at stop); None: the
    # system's temporary folder. It must be ours and not writable by other users
    upload_dir: str | None = None

    def __post_init__(self) -> None:
        check_choice("backend", self.backend, Backend)
        if self.threads is not None:
            check_integer("threads", self.threads, low=1)
        for name in (
            "max_texts",
            "max_chars",
            "max_body_bytes",
            "max_upload_bytes",
            "batch_max",
            "max_explain_chars",
            "max_explain_words",
            "max_upload_rows",
            "max_decompressed_bytes",
        ):
            check_integer(name, getattr(self, name), low=1)
        check_integer("max_explain_samples", self.max_explain_samples, low=10)  # explain's own minimum
        if not 0 <= self.batch_wait_ms <= 1000:
            raise ConfigError(f"batch_wait_ms must be between 0 and 1000 milliseconds, got {self.batch_wait_ms!r}")
        check_keys(self.api_key, self.read_key)
        check_rate_limit(self.rate_limit)
        object.__setattr__(self, "allowed_hosts", normalise_hosts(self.allowed_hosts))  # frozen: set once here
        object.__setattr__(self, "cors_origins", normalise_origins(self.cors_origins))
        if not 0 < self.request_timeout <= 86_400:
            raise ConfigError(
                f"request_timeout must be more than 0 and at most 86400 seconds, got {self.request_timeout!r}"
            )
        from sentilstm.system.device import parse_device  # imports torch, which only this check needs here

        parse_device(self.device)  # its syntax; whether this machine has it, loading the model checks

    @property
    def explain_text_chars(self) -> int:
        """Characters an /explain text may have: the tighter of max_chars and max_explain_chars."""
        return min(self.max_chars, self.max_explain_chars)

    @property
    def model_name(self) -> str:
        return Path(self.model_path).name

    def database_url(self) -> str:
        """`feedback_url`, or the default: sqlite beside the model file (model.sentilstm -> model.feedback.db)."""
        if self.feedback_url:
            return self.feedback_url
        from sqlalchemy.engine import URL

        path = Path(self.model_path).resolve().with_suffix(".feedback.db")
        return URL.create("sqlite", database=str(path)).render_as_string()

    def to_env(self) -> dict[str, str]:
        """Environment variables that `from_env` reads back (None fields are left out)."""
        return {
            f"{ENV_PREFIX}{f.name.upper()}": _env_value(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None
        }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServeSettings:
        """Settings from SENTILSTM_SERVE_* variables; SENTILSTM_SERVE_MODEL_PATH is required."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            name = f"{ENV_PREFIX}{field.name.upper()}"
            raw = environ.get(name)
            if raw is None or raw == "":
                continue
            kind = _base_type(field.type)
            try:
                values[field.name] = _parse(kind, raw)
            except ValueError:
                raise ConfigError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
        if "model_path" not in values:
            raise ConfigError(
                f"{ENV_PREFIX}MODEL_PATH is not set; set it to the model file to serve "
                "(`sentilstm serve MODEL` does this for its workers)"
            )
        return cls(**values)


def _base_type(annotation: Any) -> type:
    """int for 'int | None', float for 'float', bool, tuple for 'tuple[str, ...]', str for Literal[...] and the rest."""
    text = str(annotation).split(" | ")[0]
    for kind in (int, float, bool):
        if text == kind.__name__:
            return kind
    return tuple if text.startswith("tuple[") else str


def _env_value(value: Any) -> str:
    """A field's value as an environment variable holds it: tuples comma-separated, booleans true/false."""
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _parse(kind: type, raw: str) -> Any:
    """`raw` from the environment as `kind`; ValueError when it is not one."""
    if kind is bool:
        if raw.strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(raw)
        return raw.strip().lower() in ("true", "1", "yes")
    if kind is tuple:
        return tuple(part for part in raw.split(",") if part)
    return raw if kind is str else kind(raw)


BACKENDS: tuple[str, ...] = get_args(Backend)

__all__ = ["BACKENDS", "Backend", "ServeSettings"]
