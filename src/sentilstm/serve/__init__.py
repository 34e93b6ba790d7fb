"""The HTTP API and web page of a trained model (`sentilstm serve MODEL`).

from sentilstm.serve import create_app
app = create_app("model.sentilstm", backend="onnx-int8")   # POST /predict, /explain, /feedback; GET /trends, /docs
uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

from sentilstm.serve.app import app_from_env, build_app, create_app
from sentilstm.serve.feedback import FeedbackEntry, FeedbackStore, Trends
from sentilstm.serve.service import MicroBatcher, ModelService
from sentilstm.serve.settings import ServeSettings

__all__ = [
    "FeedbackEntry",
    "FeedbackStore",
    "MicroBatcher",
    "ModelService",
    "ServeSettings",
    "Trends",
    "app_from_env",
    "build_app",
    "create_app",
]
