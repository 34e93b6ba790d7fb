"""One router per resource: predictions (/predict, /explain), the model (/health, /model), feedback
(/feedback, /trends), the API documentation pages (/docs, /redoc, served offline). The web page's router lives in
`sentilstm.serve.pages`."""

from __future__ import annotations

from sentilstm.serve.routes import docs, feedback, model, predictions

ROUTERS = (predictions.router, model.router, feedback.router, docs.router)

__all__ = ["ROUTERS"]
