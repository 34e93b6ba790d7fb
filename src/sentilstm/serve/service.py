"""The served model: loaded once per worker process, predictions micro-batched, explanations on their own thread.

    service = ModelService.load(ServeSettings("model.sentilstm"))
    await service.start(); await service.predictions(["great film"]); await service.stop()

Micro-batching. Requests queue up; one asyncio task takes every queued request (up to `batch_max` texts) and
runs them as one `predict_proba` call on a single worker thread, so the event loop stays free to parse the
next requests meanwhile. A batch waits for more texts (at most `batch_wait_ms`) only while other requests to
the batched routes are known to be on their way: received by the server but not yet queued (`pending`, which
the app counts in its middleware). An idle server therefore runs a lone request at once, and a busy one turns
the ragged arrivals of 32 clients into a few full batches (32 tweets cost ~3.7 ms in one ONNX int8 call
against ~0.35 ms each alone). A lone short request with nobody else about runs on the event loop itself:
the hop to the worker thread and back would cost about as much as the model does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sentilstm.serve.deadlines import SHUTTING_DOWN, Cancelled
from sentilstm.serve.settings import Backend, ServeSettings

if TYPE_CHECKING:
    from sentilstm.explanations.methods import ExplainMethod

log = logging.getLogger(__name__)


@dataclass
class _Request:
    texts: list[str]
    future: asyncio.Future[np.ndarray]


class MicroBatcher:
    """Runs `predict(texts) -> (n, k) array` for concurrent callers in shared batches on one thread."""

    def __init__(
        self,
        predict: Callable[[list[str]], np.ndarray],
        *,
        batch_max: int = 64,
        batch_wait_ms: float = 1.0,
        pending: Callable[[], int] | None = None,
        inline_chars: int = 1000,
    ) -> None:
        self.predict = predict
        self.batch_max = batch_max
        self.batch_wait = batch_wait_ms / 1000
        self.inline_chars = inline_chars  # a lone request up to this many characters runs on the event loop
        # requests in progress that will call `submit` (set by the app; None: never wait for anyone)
        self.pending = pending
        self.waiting = 0  # `submit` calls in progress
        self._queue: deque[_Request] = deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.batches = 0  # model calls so far, and the texts they held: batches / texts is the batching achieved
        self.texts = 0

    async def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="sentilstm-predict")
        self._task = asyncio.create_task(self._run(), name="sentilstm-micro-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        while self._queue:
            request = self._queue.popleft()
            if not request.future.done():
                request.future.set_exception(Cancelled(503, SHUTTING_DOWN))
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        self._task = self._executor = None

    async def submit(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities (len(texts), k) in input order; long lists go to the model `batch_max` texts at a time."""
        if self._task is None or self._wakeup is None:
            raise RuntimeError("MicroBatcher.start() has not been awaited")
        loop = asyncio.get_running_loop()
        futures = []
        for start in range(0, len(texts), self.batch_max):
            future: asyncio.Future[np.ndarray] = loop.create_future()
            self._queue.append(_Request(list(texts[start : start + self.batch_max]), future))
            futures.append(future)
        self._wakeup.set()
        self.waiting += 1
        try:
            if len(futures) == 1:
                return await futures[0]
            return np.vstack(await asyncio.gather(*futures))
        finally:
            self.waiting -= 1

    def _arriving(self) -> int:
        """Requests received but not yet queued: worth waiting for."""
        return 0 if self.pending is None else self.pending() - self.waiting

    def _take(self, batch: list[_Request], size: int) -> int:
        """Move queued requests into `batch` while they fit in `batch_max` texts (at least one); returns the size."""
        while self._queue and (not batch or size + len(self._queue[0].texts) <= self.batch_max):
            request = self._queue.popleft()
            if request.future.done():  # the caller went away
                continue
            batch.append(request)
            size += len(request.texts)
        return size

    async def _run(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            batch: list[_Request] = []
            size = self._take(batch, 0)
            if self.batch_wait > 0 and size < self.batch_max and self._arriving() > 0:
                deadline = loop.time() + self.batch_wait
                while size < self.batch_max and self._arriving() > 0 and (remaining := deadline - loop.time()) > 0:
                    self._wakeup.clear()
                    try:
                        await asyncio.wait_for(self._wakeup.wait(), remaining)
                    except asyncio.TimeoutError:  # the builtin TimeoutError only from Python 3.11
                        pass
                    size = self._take(batch, size)
            if not batch:
                continue
            try:
                await self._run_batch(loop, batch)
            except Exception as exc:  # the loop must outlive any one batch (logged below)
                log.exception("micro-batch of %d requests failed", len(batch))
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(exc)

    async def _run_batch(self, loop: asyncio.AbstractEventLoop, batch: list[_Request]) -> None:
        texts = batch[0].texts if len(batch) == 1 else [text for request in batch for text in request.texts]
        try:
            if (
                len(batch) == 1
                and not self._queue
                and self._arriving() <= 0
                and sum(map(len, texts)) <= self.inline_chars
            ):
                probabilities = self.predict(texts)
            else:
                probabilities = await loop.run_in_executor(self._executor, self.predict, texts)
        except Exception:
            if len(batch) == 1:
                raise
            for request in batch:  # one bad request must not fail its neighbours: run each on its own
                try:
                    await self._run_batch(loop, [request])
                except Exception as exc:  # noqa: BLE001 - handed to that request's caller
                    if not request.future.done():
                        request.future.set_exception(exc)
            return
        self.batches += 1
        self.texts += len(texts)
        start = 0
        for request in batch:
            end = start + len(request.texts)
            if not request.future.done():
                request.future.set_result(probabilities[start:end])
            start = end


def load_classifier(
    path: str, backend: Backend = "torch", threads: int | None = None, device: str | None = None
) -> Any:
    """The classifier for serving: `sentilstm.onnx.backends.load_for_serving` (network on torch or ONNX Runtime).
    `device`: where torch runs (None: 'auto')."""
    from sentilstm.onnx.backends import load_for_serving

    return load_for_serving(path, backend, threads=threads, device=device)


class ModelService:
    """One loaded classifier and the machinery that serves it (see the module docstring).

    `classifier` is what `load_for_serving` returned; `labels` are the user's label values, `label_names`
    their string forms (the keys of every probabilities map).
    """

    def __init__(
        self,
        classifier: Any,
        *,
        model_name: str,
        backend: str = "torch",
        batch_max: int = 64,
        batch_wait_ms: float = 1.0,
    ) -> None:
        self.classifier = classifier
        self.model_name = model_name
        self.backend = backend
        self.labels: list[Any] = [_plain(label) for label in classifier.label_map_.labels]
        self.label_names = [str(label) for label in self.labels]
        self._by_name = dict(zip(self.label_names, self.labels))
        self.batcher = MicroBatcher(classifier.predict_proba, batch_max=batch_max, batch_wait_ms=batch_wait_ms)
        self._explainer: ThreadPoolExecutor | None = None

    @classmethod
    def load(cls, settings: ServeSettings, classifier: Any = None) -> ModelService:
        """Load the model file of `settings` on its backend (or serve `classifier`, already loaded) and warm it up:
        the first call pays one-off costs that should not land on a user's request."""
        if classifier is None:
            classifier = load_classifier(settings.model_path, settings.backend, settings.threads or 1, settings.device)
        classifier.predict_proba(["warm up the model"])
        return cls(
            classifier,
            model_name=settings.model_name,
            backend=settings.backend,
            batch_max=settings.batch_max,
            batch_wait_ms=settings.batch_wait_ms,
        )

    async def start(self) -> None:
        # explanations (up to thousands of predictions each) get one thread of their own: they never queue
        # behind each other on the predict thread, and at most one core goes to them
        self._explainer = ThreadPoolExecutor(1, thread_name_prefix="sentilstm-explain")
        await self.batcher.start()

    async def stop(self) -> None:
        await self.batcher.stop()
        if self._explainer is not None:
            self._explainer.shutdown(wait=True, cancel_futures=True)
            self._explainer = None

    # ----- predictions -------------------------------------------------------------------------------------
    async def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities (len(texts), num_labels), columns in the order of `labels`."""
        return await self.batcher.submit(texts)

    def prediction_dicts(self, probabilities: np.ndarray) -> list[dict[str, Any]]:
        """[{"label": the most probable label, "probabilities": {label name: p}}] per row."""
        names, labels = self.label_names, self.labels
        return [
            {"label": labels[best], "probabilities": dict(zip(names, row))}
            for best, row in zip(probabilities.argmax(axis=1).tolist(), probabilities.tolist())
        ]

    async def predictions(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        return self.prediction_dicts(await self.predict(texts))

    def label_value(self, name: str) -> Any:
        """The label value whose string form is `name` (a stored label); `name` itself for another model's label."""
        return self._by_name.get(name, name)

    # ----- explanations ------------------------------------------------------------------------------------
    def explain(
        self,
        text: str,
        method: ExplainMethod = "auto",
        label: Any = None,
        *,
        num_samples: int = 1000,
        seed: int = 0,
        check: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """`TokenAttribution.to_dict()` plus `explained_label` and its `top` 10 words (blocking; see `explain_async`).

        `check` runs between batches of the work and raises to stop it (the request's `WorkToken.check`).
        """
        from sentilstm.explanations.methods import explain

        attribution = explain(self.classifier, text, method, num_samples=num_samples, seed=seed, check=check)
        column = attribution.label_index(label)  # ConfigError for a label the model does not have
        result = attribution.to_dict()
        result["explained_label"] = _plain(attribution.labels[column])
        result["top"] = [[word, score] for word, score in attribution.top(10, attribution.labels[column])]
        return _finite(result)

    async def explain_async(
        self,
        text: str,
        method: ExplainMethod = "auto",
        label: Any = None,
        *,
        num_samples: int = 1000,
        seed: int = 0,
        check: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """`explain` on the explanation thread; cancelling the caller drops it if it has not started yet."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._explainer, lambda: self.explain(text, method, label, num_samples=num_samples, seed=seed, check=check)
        )

    # ----- description -------------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Labels, parameters, saved metrics, library versions and the `sentilstm describe` text (JSON-safe)."""
        from sentilstm.estimators.blend import predictor

        clf = self.classifier
        try:
            from sentilstm.report.summary import describe

            summary: str | None = describe(clf).to_text()
        except Exception as exc:  # noqa: BLE001 - a summary is a nicety; an exotic model must still serve
            log.warning("no model summary for /model: %s: %s", type(exc).__name__, exc)
            summary = None
        return _finite(
            {
                "model": self.model_name,
                "estimator": type(clf).__name__,
                "predictor": predictor(clf),
                "labels": self.labels,
                "backend": self.backend,
                "config": json.loads(json.dumps(clf.get_params(), default=str)),
                "metrics": json.loads(json.dumps(getattr(clf, "metrics_", None) or {}, default=str)),
                "versions": json.loads(json.dumps(getattr(clf, "versions_", None) or {}, default=str)),
                "summary": summary,
            }
        )

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "model": self.model_name, "backend": self.backend, "pid": os.getpid()}


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars, so labels survive json.dumps."""
    return value.item() if isinstance(value, np.generic) else value


def _finite(value: Any) -> Any:
    """NaN and infinities -> None, recursively: strict JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


__all__ = ["MicroBatcher", "ModelService", "load_classifier"]
