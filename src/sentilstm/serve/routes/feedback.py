"""POST /feedback (score and store texts), GET /feedback (the newest stored) and GET /trends (sentiment over time)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sentilstm.serve.deps import ServiceDep, SettingsDep, StoreDep
from sentilstm.serve.feedback import FeedbackEntry
from sentilstm.serve.limits import check_texts
from sentilstm.serve.routes.errors import TOO_LARGE
from sentilstm.serve.schemas import (
    FeedbackList,
    FeedbackRequest,
    FeedbackResponse,
    Interval,
    Timestamp,
    TrendsResponse,
    clean_text,
)
from sentilstm.serve.service import ModelService

router = APIRouter(tags=["feedback"])
SourceQuery = Annotated[str | None, Query(max_length=100, description="only feedback from this source")]
MAX_ID = 2**63 - 1  # the largest id any database here stores; larger numbers would overflow the driver


def _stored(entry: FeedbackEntry, service: ModelService) -> dict:
    return {
        "id": entry.id,
        "label": service.label_value(entry.label),
        "probabilities": entry.probabilities,
        "timestamp": entry.timestamp,
        "source": entry.source,
    }


@router.post("/feedback", response_model=FeedbackResponse, responses=TOO_LARGE)
async def add_feedback(
    body: FeedbackRequest, service: ServiceDep, store: StoreDep, settings: SettingsDep
) -> JSONResponse:
    """Score texts and store each with its source, time, label and probabilities (kept across restarts)."""
    items = body.all_items()
    texts = [item.text for item in items]
    loc, item_loc = (("body", "text"), ()) if body.items is None else (("body", "items"), ("text",))
    check_texts(texts, loc, max_texts=settings.max_texts, max_chars=settings.max_chars, item_loc=item_loc)
    probabilities = await service.predict(texts)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    names = service.label_names
    entries = [
        FeedbackEntry(
            item.text,
            item.source or "api",
            item.timestamp or now,
            names[int(row.argmax())],
            dict(zip(names, row.tolist())),
            service.model_name,
        )
        for item, row in zip(items, probabilities)
    ]
    stored = await run_in_threadpool(store.add, entries)
    return JSONResponse({"stored": [_stored(entry, service) for entry in stored]})


@router.get("/feedback", response_model=FeedbackList)
def list_feedback(
    service: ServiceDep,
    store: StoreDep,
    source: SourceQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="how many, newest first")] = 50,
    after_id: Annotated[int | None, Query(ge=0, le=MAX_ID, description="only items with a larger id (polling)")] = None,
) -> JSONResponse:
    """The newest stored feedback, newest first (the web page polls this with `after_id`)."""
    entries = store.recent(source=clean_text(source) if source else source, limit=limit, after_id=after_id)
    return JSONResponse({"items": [{**_stored(e, service), "text": e.text, "model": e.model} for e in entries]})


@router.get("/trends", response_model=TrendsResponse)
def trends(
    service: ServiceDep,
    store: StoreDep,
    interval: Annotated[Interval, Query(description="length of each period (UTC)")] = "day",
    source: SourceQuery = None,
    since: Annotated[Timestamp | None, Query(description="from this time on (ISO 8601; no zone means UTC)")] = None,
    until: Annotated[Timestamp | None, Query(description="before this time")] = None,
) -> JSONResponse:
    """Sentiment of the stored feedback over time: per period, how many texts got each label, their shares,
    and each label's mean probability."""
    result = store.trends(
        interval=interval,
        source=clean_text(source) if source else source,
        since=since,
        until=until,
        labels=service.label_names,
    ).to_dict()
    result["labels"] = [service.label_value(name) for name in result["labels"]]
    return JSONResponse(result)
