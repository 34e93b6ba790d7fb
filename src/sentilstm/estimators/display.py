"""How a classifier presents itself: a Keras-style `summary()`, a rich HTML view in a notebook (an unfitted one
keeps scikit-learn's parameter view), a model card, and a copy on the Hugging Face Hub with its card.

    clf.summary()         # layers, output shapes, parameter counts, settings, labels, test metrics
    clf                   # in Jupyter: the same as HTML, with who makes the predictions and the validation scores
    clf.card(); clf.push_to_hub("me/igbo-sentiment")      # push_to_hub(baseline, ...) for a linear baseline
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sentilstm.artifact import hub
from sentilstm.estimators.blend import predictor
from sentilstm.report.card import model_card
from sentilstm.report.notebook import box, html_table
from sentilstm.report.summary import describe, summary_html


def card(clf: Any, repo_id: str | None = None) -> str:
    """The model card of a trained classifier (Markdown; `sentilstm.report.card`)."""
    clf._check_fitted()
    return model_card(clf, predictor(clf), repo_id=repo_id)


def push_to_hub(
    clf: Any,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool | None = None,
    commit_message: str = "Upload sentilstm model",
    endpoint: str | None = None,
) -> str:
    """Upload a trained classifier to the Hub as `model.sentilstm` with its card as `README.md`, in one commit;
    the commit's URL. `load_model("hf://" + repo_id)` reads it back."""
    text = card(clf, repo_id)
    with tempfile.TemporaryDirectory(prefix="sentilstm-hub-") as folder:
        model = Path(folder) / hub.MODEL_FILENAME
        clf.save(model)
        files: dict[str, str | bytes] = {hub.MODEL_FILENAME: str(model), hub.CARD_FILENAME: text.encode("utf-8")}
        return hub.upload(
            files, repo_id, token=token, private=private, commit_message=commit_message, endpoint=endpoint
        )


class DisplayMixin:
    """`summary()`, `_repr_html_`, `card()` and `push_to_hub()` for a classifier that
    `sentilstm.report.summary.describe` understands."""

    def card(self, repo_id: str | None = None) -> str:
        """The model card (Markdown): labels, scores and where they were measured, training data, recipe, use."""
        return card(self, repo_id)

    def push_to_hub(self, repo_id: str, *, token: str | None = None, private: bool | None = None) -> str:
        """Upload the model file and its card to the Hugging Face Hub in one commit (`push_to_hub` above)."""
        return push_to_hub(self, repo_id, token=token, private=private)

    def summary(self, sequence_length: int | None = None) -> None:
        """Print the layers (output shapes for a text of `sequence_length` tokens), parameter counts, settings,
        labels and saved test metrics, as Keras' `model.summary()`; `describe(clf)` returns them as data."""
        print(describe(self, sequence_length).to_text())

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        """What Jupyter shows (it asks for this before `_repr_html_`; scikit-learn defines it too)."""
        return {"text/plain": repr(self), "text/html": self._repr_html_()}

    def _repr_html_(self) -> str:
        if not hasattr(self, "model_"):  # not trained: scikit-learn's view of the parameters
            inner = getattr(super(), "_repr_html_inner", None)
            return str(inner()) if inner is not None else box(title=f"{type(self).__name__} (not trained)")
        validation: dict[str, Any] = getattr(self, "metrics_", {}).get("validation") or {}
        scores = [
            (k, validation[k]) for k in ("num_examples", "accuracy", "macro_f1", "weighted_f1") if k in validation
        ]
        parts = [html_table(["predictions by"], [[predictor(self)]])]
        if scores:
            parts.append(html_table(["validation", "value"], scores))
        return box(*parts) + summary_html(describe(self))


__all__ = ["DisplayMixin", "card", "push_to_hub"]
