"""A model card for a trained classifier: what the Hugging Face Hub shows as a repository's README.md.

    print(model_card(clf, predictor(clf), repo_id="me/igbo-sentiment"))   # clf = sentilstm.load_model(...)

Everything in it comes from the model file: labels, the test scores with the file they were measured on (or the
validation scores, said so), the training data's size per class and text lengths, the recipe (every setting that
differs from the defaults), how to load and use it, and its limits. YAML front matter carries the Hub's metadata
(library, pipeline tag, metrics).
"""

from __future__ import annotations

import json
from typing import Any

from sentilstm._version import __version__

MACHINE_SETTINGS = ("device", "num_threads")  # where it ran or will run, not how it was made
SCORES = (("accuracy", "accuracy"), ("macro_f1", "macro F1"), ("weighted_f1", "weighted F1"), ("roc_auc", "ROC-AUC"))


def model_card(clf: Any, predicted_by: str, *, repo_id: str | None = None, filename: str = "model.sentilstm") -> str:
    """The card as Markdown (`predicted_by`: `sentilstm.estimators.blend.predictor(clf)`; `repo_id`: the Hub
    repository it will live in, for the loading snippet)."""
    metrics: dict[str, Any] = getattr(clf, "metrics_", {}) or {}
    labels = [_plain(label) for label in clf.classes_]
    scored, where = _scores(metrics)
    kind = "an LSTM/GRU network" if hasattr(clf, "model_") else f"a linear baseline ({type(clf).__name__})"
    front = ["---", "library_name: sentilstm", "pipeline_tag: text-classification"]
    front += ["tags:", "- sentiment-analysis", "- text-classification", "- sentilstm"]
    if scored:
        front += ["metrics:", *(f"- {key}" for key, _ in SCORES if key in scored)]
    front.append("---")
    lines = [*front, "", f"# {repo_id.split('/')[-1] if repo_id else 'sentilstm sentiment classifier'}", ""]
    lines += [
        f"A sentiment classifier trained with [sentilstm](https://pypi.org/project/sentilstm/) {__version__}: "
        f"{kind} in one file (`{filename}`), with its tokenizer, labels and settings inside.",
        "",
        f"- **Labels:** {', '.join(f'`{label}`' for label in labels)}",
        f"- **Predictions by:** {predicted_by}",
        "",
        "## Scores",
        "",
    ]
    if scored:
        lines += [f"Measured on {where}.", "", "| metric | value |", "|---|---|"]
        lines += [f"| {name} | {scored[key]:.4f} |" for key, name in SCORES if scored.get(key) is not None]
    else:
        lines.append("No scores are saved in this model file; evaluate it on your data: `sentilstm evaluate`.")
    lines += ["", *_data_section(metrics, labels), "", *_recipe_section(clf), "", *_usage(repo_id, filename)]
    lines += ["", *_limits()]
    return "\n".join(lines) + "\n"


def _scores(metrics: dict[str, Any]) -> tuple[dict[str, Any], str]:
    sources = metrics.get("sources") or {}
    if metrics.get("test"):
        test = metrics["test"]
        named = f"`{sources['test']}`" if sources.get("test") else "a held-out test set"
        return test, f"{named} ({_count(test.get('num_examples'))} texts), never seen in training"
    if metrics.get("validation"):
        validation = metrics["validation"]
        count = _count(validation.get("num_examples"))
        return validation, (
            f"the validation split ({count} texts), which chose the training's stopping epoch and the blend's weight: "
            "an optimistic estimate, since no test set was scored"
        )
    return {}, ""


def _data_section(metrics: dict[str, Any], labels: list[Any]) -> list[str]:
    data = metrics.get("data") or {}
    lines = ["## Training data", ""]
    if not data:
        return [*lines, "This model file records no summary of its training data."]
    source = (metrics.get("sources") or {}).get("train")
    if source:
        lines += [f"From `{source}`.", ""]
    counts = data.get("train_counts") or []
    validation = data.get("validation_counts") or []
    lines += ["| label | training texts | validation texts |", "|---|---|---|"]
    for i, label in enumerate(data.get("labels") or labels):
        train = counts[i] if i < len(counts) else "?"
        held = validation[i] if i < len(validation) else "?"
        lines.append(f"| `{_plain(label)}` | {train} | {held} |")
    lines.append(f"| all | {sum(counts)} | {sum(validation)} |")
    percentiles = data.get("length_percentiles") or {}
    if percentiles:
        shown = ", ".join(f"{k} {v}" for k, v in percentiles.items())
        lines += ["", f"Text lengths in tokens: {shown}; texts are cut at {data.get('max_length', '?')} tokens."]
    if data.get("vocab_size"):
        lines.append(f"Vocabulary: {data['vocab_size']:,} entries.")
    return lines


def _recipe_section(clf: Any) -> list[str]:
    defaults = type(clf)().get_params()
    changed = {k: v for k, v in clf.get_params().items() if v != defaults.get(k) and k not in MACHINE_SETTINGS}
    lines = ["## Recipe", ""]
    if not changed:
        return [*lines, f"sentilstm's default recipe for `{type(clf).__name__}`."]
    lines += [f"`{type(clf).__name__}` with these settings changed from the defaults:", "", "```json"]
    return [*lines, json.dumps(changed, indent=2, default=str, sort_keys=True), "```"]


def _usage(repo_id: str | None, filename: str) -> list[str]:
    source = f"hf://{repo_id}" if repo_id else filename
    return [
        "## How to use",
        "",
        "```bash",
        "pip install 'sentilstm[hub]'",
        f'sentilstm predict {source} "what a wonderful day"',
        "```",
        "",
        "```python",
        "from sentilstm import load_model",
        "",
        f'clf = load_model("{source}")',
        'clf(["what a wonderful day"])  # [{"label": ..., "score": ...}]',
        "```",
    ]


def _limits() -> list[str]:
    return [
        "## Intended use and limits",
        "",
        "Sentiment of short texts like those it was trained on, in the same language(s) and domain. Scores on "
        "other text (another domain, dialect or period) will be lower, often much lower: evaluate on a labelled "
        "sample of your own data before relying on it. It reads words, not world knowledge: sarcasm, irony and "
        "negation spread over long sentences are common errors. Labels reflect the annotators of its training "
        "data, and their disagreements and biases. Do not use it alone for decisions about individual people.",
    ]


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"


def _plain(label: Any) -> Any:
    return label.item() if hasattr(label, "item") else label


__all__ = ["model_card"]
