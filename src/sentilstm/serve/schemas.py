"""Request and response bodies of the HTTP API, named by role (`PredictRequest`, `PredictResponse`, ...).

Limits that depend on the server's settings (texts per request, characters per text) are not fixed here:
fields carry an `x-limit` marker that `app.openapi_with_limits` turns into maxItems/maxLength in the served
OpenAPI document, and the routes enforce them with precise messages (see `limits.py`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from sentilstm.text.normalize import clean_text  # lone surrogates and NUL -> U+FFFD, as everywhere else

ExplainMethod = Literal["auto", "attention", "integrated_gradients", "lime", "kernel_shap"]
Interval = Literal["minute", "hour", "day"]
# a label as the user wrote it in the training data: -1/1 come back as numbers, "pos" as a string
LabelValue = StrictBool | StrictInt | StrictFloat | StrictStr


# ISO 8601 date and time, seconds and zone optional ("2026-03-01T09:15:00Z", "2026-03-01 09:15+02:00"); no zone
# means UTC. Stricter than pydantic, which also takes Unix numbers and bare dates: the documented pattern is
# exactly what is accepted, so clients and fuzzers see the same rule.
ISO_TIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$"
_ISO_TIME = re.compile(ISO_TIME, re.ASCII)  # \d as in JSON Schema: ASCII digits only


def iso_time_string(value: object) -> object:
    """Refuse anything but an ISO 8601 date-time string (pydantic then parses it); a datetime passes (from Python)."""
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _ISO_TIME.fullmatch(value):
        raise ValueError(
            f"must be an ISO 8601 date and time such as 2026-03-01T09:15:00Z (no zone means UTC), got {value!r:.60}"
        )
    return value


def utc_naive(value: dt.datetime) -> dt.datetime:
    """An aware time converted to UTC without its zone; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} falls outside the years 1-9999 once converted to UTC") from None


Text = Annotated[str, AfterValidator(clean_text), Field(json_schema_extra={"x-limit": "max_chars"})]
ExplainText = Annotated[str, AfterValidator(clean_text), Field(json_schema_extra={"x-limit": "explain_text_chars"})]
Source = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(clean_text)]
Timestamp = Annotated[
    dt.datetime,
    BeforeValidator(iso_time_string),
    AfterValidator(utc_naive),
    WithJsonSchema({"type": "string", "pattern": ISO_TIME, "examples": ["2026-03-01T09:15:00Z"]}),
]


def _exactly_one(*names: str) -> dict[str, Any]:
    """JSON schema: exactly one of the properties `names` is present."""
    return {"oneOf": [{"required": [name]} for name in names]}


# ----- predictions -------------------------------------------------------------------------------------------
class PredictRequest(BaseModel):
    """One text (`text`) or a list (`texts`); predictions come back in the same order."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            **_exactly_one("text", "texts"),
            "examples": [{"texts": ["what a lovely film", "not good at all"]}],
        },
    )

    # absent by default but never null: {"text": null, "texts": [...]} would break the "exactly one" rule; typed
    # without None so the schema says so, hence the two ignores (None is only the "absent" default)
    text: Text = None  # type: ignore[assignment]
    texts: list[Text] = Field(None, min_length=1, json_schema_extra={"x-limit": "max_texts"})  # type: ignore[arg-type]

    @model_validator(mode="after")
    def _one_of(self) -> PredictRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError('give either "text" (one string) or "texts" (a list of strings), not both and not neither')
        return self

    def all_texts(self) -> list[str]:
        return [self.text] if self.texts is None else self.texts


class Prediction(BaseModel):
    label: LabelValue = Field(description="the most probable label, as in the training data")
    probabilities: dict[str, float] = Field(description="every label's probability (keys: labels as strings)")


class PredictResponse(BaseModel):
    predictions: list[Prediction]


class ExplainRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"text": "the plot was not good at all", "method": "auto"}]}
    )

    text: ExplainText
    method: ExplainMethod = Field("auto", description="auto: integrated gradients for a network, kernel SHAP otherwise")
    label: LabelValue | None = Field(None, description="explain this label (default: the predicted one)")
    # strict: true or "200" are not numbers, as the schema says; the most is the server's --max-explain-samples
    num_samples: StrictInt = Field(
        1000,
        ge=10,
        description="perturbed texts for lime and kernel_shap (default: 1000, or the server's limit when lower)",
        json_schema_extra={"x-limit": "max_explain_samples"},
    )
    seed: StrictInt = Field(0, ge=0, le=2**32 - 1, description="seed of the perturbations")


class WordAttribution(BaseModel):
    word: str
    start: int
    end: int
    scores: dict[str, float]


class ExplainResponse(BaseModel):
    """`TokenAttribution.to_dict()` plus the label explained and its strongest words."""

    text: str
    method: str
    predicted_label: LabelValue
    labels: list[LabelValue]
    probabilities: dict[str, float]
    words: list[WordAttribution]
    truncated: bool
    notes: list[str]
    reference: dict[str, float] | None
    explained_label: LabelValue
    top: list[tuple[str, float]] = Field(
        description="up to 10 (word, score) pairs for explained_label, strongest first"
    )


# ----- the model -------------------------------------------------------------------------------------------
class HealthResponse(BaseModel):
    status: Literal["ok"]
    model: str
    backend: str
    pid: int = Field(description="the worker process that answered")


class Limits(BaseModel):
    """This server's limits; each is the `sentilstm serve` option of the same name."""

    max_texts: int
    max_chars: int
    max_body_bytes: int
    max_upload_bytes: int = Field(description="a file upload on the web page, as sent")
    max_decompressed_bytes: int = Field(description="what a gzip upload may unpack to")
    max_upload_rows: int
    max_explain_chars: int
    max_explain_words: int
    max_explain_samples: int
    request_timeout: float = Field(description="seconds until a request's answer starts (else 504)")


class Guards(BaseModel):
    """The guards in force (`sentilstm.serve.security`); the keys themselves are never shown."""

    api_key: bool = Field(description="every route but /health and the page needs a key")
    read_key: bool = Field(description="a second, read-only key is accepted too")
    allowed_hosts: list[str] = Field(description='Host header names answered; ["*"]: any')
    cors_origins: list[str] = Field(description="sites whose pages may call the API; empty: CORS off")
    csrf_header: str = Field(description="header that form and upload POSTs must carry (any value)")
    rate_limit: int | None = Field(description="requests a minute per client address and worker; null: none")
    raw_csv: bool = Field(description="false: scored CSV cells that start a formula get a leading apostrophe")


class ModelResponse(BaseModel):
    model: str
    estimator: str
    predictor: str = Field(
        description="what makes the predictions: 'the network alone', 'blend: 0.40 x network + 0.60 x nbsvm', ..."
    )
    labels: list[LabelValue]
    backend: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    versions: dict[str, Any]
    summary: str | None = Field(description="layers, shapes and settings as `sentilstm describe` prints them")
    limits: Limits
    security: Guards


# ----- feedback --------------------------------------------------------------------------------------------
class FeedbackItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Text
    source: Source | None = Field(None, description="where the text came from (default: the request's source)")
    timestamp: Timestamp | None = Field(
        None, description="ISO 8601; no zone means UTC (default: the request's, else now)"
    )


class FeedbackRequest(BaseModel):
    """One text (`text`) or several (`items`) to score and store; `source` and `timestamp` are items' defaults."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            **_exactly_one("text", "items"),
            "examples": [{"text": "the app keeps crashing", "source": "web"}],
        },
    )

    text: Text = None  # type: ignore[assignment]  # absent by default, never null (see PredictRequest)
    items: list[FeedbackItem] = Field(None, min_length=1, json_schema_extra={"x-limit": "max_texts"})  # type: ignore[arg-type]
    source: Source = "api"
    timestamp: Timestamp | None = None

    @model_validator(mode="after")
    def _one_of(self) -> FeedbackRequest:
        if (self.text is None) == (self.items is None):
            raise ValueError(
                'give either "text" (one string) or "items" (a list of {"text", "source", "timestamp"}), '
                "not both and not neither"
            )
        return self

    def all_items(self) -> list[FeedbackItem]:
        """Every item with the request's source and timestamp filled in where the item has none."""
        if self.items is None:
            return [FeedbackItem(text=self.text, source=self.source, timestamp=self.timestamp)]
        return [
            item
            if item.source is not None and item.timestamp is not None
            else item.model_copy(
                update={"source": item.source or self.source, "timestamp": item.timestamp or self.timestamp}
            )
            for item in self.items
        ]


class StoredFeedback(BaseModel):
    id: int
    label: LabelValue
    probabilities: dict[str, float]
    timestamp: str = Field(description="ISO 8601, UTC")
    source: str


class FeedbackResponse(BaseModel):
    stored: list[StoredFeedback]


class FeedbackRecord(StoredFeedback):
    text: str
    model: str = Field(description="file name of the model that scored the text")


class FeedbackList(BaseModel):
    items: list[FeedbackRecord] = Field(description="newest first")


class TrendPoint(BaseModel):
    period: str = Field(description="start of the period, ISO 8601, UTC")
    count: int
    counts: dict[str, int]
    shares: dict[str, float]
    mean_probabilities: dict[str, float]


class TrendsResponse(BaseModel):
    interval: Interval
    source: str | None
    since: str | None
    until: str | None
    labels: list[LabelValue]
    points: list[TrendPoint] = Field(description="oldest first; periods without feedback are left out")


__all__ = [
    "ExplainMethod",
    "ExplainRequest",
    "ExplainResponse",
    "FeedbackItem",
    "FeedbackList",
    "FeedbackRecord",
    "FeedbackRequest",
    "FeedbackResponse",
    "HealthResponse",
    "Interval",
    "LabelValue",
    "Limits",
    "ModelResponse",
    "PredictRequest",
    "PredictResponse",
    "Prediction",
    "StoredFeedback",
    "TrendPoint",
    "TrendsResponse",
    "WordAttribution",
    "Timestamp",
    "clean_text",
    "iso_time_string",
    "utc_naive",
]
