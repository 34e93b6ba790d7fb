"""POST /predict and POST /explain."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sentilstm.errors import DataError, SentilstmError
from sentilstm.serve.deadlines import work_token
from sentilstm.serve.deps import ServiceDep, SettingsDep
from sentilstm.serve.limits import check_explanation, check_texts, invalid
from sentilstm.serve.routes.errors import TOO_LARGE
from sentilstm.serve.schemas import ExplainRequest, ExplainResponse, PredictRequest, PredictResponse

router = APIRouter(tags=["predictions"])


@router.post("/predict", response_model=PredictResponse, responses=TOO_LARGE)
async def predict(body: PredictRequest, service: ServiceDep, settings: SettingsDep) -> JSONResponse:
    """Label and per-label probabilities of one text (`text`) or of each of `texts`, in input order."""
    texts = body.all_texts()
    check_texts(
        texts,
        ("body", "text" if body.texts is None else "texts"),
        max_texts=settings.max_texts,
        max_chars=settings.max_chars,
    )
    # JSONResponse directly: the dicts are already plain JSON, so a second validation pass would be pure cost
    return JSONResponse({"predictions": await service.predictions(texts)})


@router.post("/explain", response_model=ExplainResponse, responses=TOO_LARGE)
async def explain(body: ExplainRequest, service: ServiceDep, settings: SettingsDep, request: Request) -> JSONResponse:
    """Per-word attributions for one text: which words pushed the prediction towards or away from each label.

    Bounded: --max-explain-chars, --max-explain-words and --max-explain-samples (lime and kernel_shap cost grows
    with words x samples), and the request's deadline; the work stops when the client leaves."""
    check_texts([body.text], ("body", "text"), max_texts=1, max_chars=settings.max_chars)
    samples = (
        body.num_samples
        if "num_samples" in body.model_fields_set
        else min(body.num_samples, settings.max_explain_samples)
    )  # the default never exceeds the server's limit
    check_explanation(
        body.text,
        samples,
        max_chars=settings.max_explain_chars,
        max_words=settings.max_explain_words,
        max_samples=settings.max_explain_samples,
    )
    try:
        result = await service.explain_async(
            body.text, body.method, body.label, num_samples=samples, seed=body.seed, check=work_token(request).check
        )
    except SentilstmError as exc:  # a text without words, a label or method this model does not have
        field = "text" if isinstance(exc, DataError) else "label" if str(exc).startswith("label") else "method"
        raise invalid(("body", field), str(exc), given=getattr(body, field)) from None
    return JSONResponse(result)
