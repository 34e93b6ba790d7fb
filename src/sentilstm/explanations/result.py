"""What an explanation gives back: `TokenAttribution` (per-word scores per class, the top words, JSON) and its
rendering as a self-contained HTML page or rich terminal text (no ML here).

    attribution.top(3); attribution.to_dict(); page = render_html([attribution]); console.print(attribution.to_rich())

Colours: green pushes towards the explained label, red pushes away; the strongest word of each text gets
the full colour and the others scale with |score|, so weak evidence stays pale.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sentilstm.errors import ConfigError, OutputError
from sentilstm.system.files import as_path, temporary_beside

if TYPE_CHECKING:
    from rich.text import Text

TOWARDS, AWAY = (22, 163, 74), (220, 38, 38)  # green, red
TOP_WORDS = 8

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 56rem; margin: 2rem auto;
       padding: 0 1rem; color: #1f2328; background: #fff; line-height: 1.5; }
h1 { font-size: 1.35rem; margin-bottom: .25rem; }
.legend { color: #57606a; font-size: .9rem; margin-bottom: 1.5rem; }
.swatch { display: inline-block; padding: 0 .4em; border-radius: 3px; color: #1f2328; }
section { border: 1px solid #d0d7de; border-radius: 8px; padding: 1rem 1.25rem; margin: 1rem 0; }
.meta { color: #57606a; font-size: .9rem; margin-bottom: .5rem; }
.text { white-space: pre-wrap; font-size: 1.1rem; line-height: 2.1; margin: .5rem 0 1rem; }
.w { border-radius: 3px; padding: .15em .1em; }
table { border-collapse: collapse; font-size: .9rem; margin-right: 2rem; display: inline-table; vertical-align: top; }
td, th { padding: .15rem .5rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar { display: inline-block; height: .65em; border-radius: 2px; background: #0969da; vertical-align: middle; }
.note { color: #9a6700; font-size: .9rem; margin: .25rem 0; }
"""


@dataclass
class TokenAttribution:
    """How much each word of `text` pushed the prediction towards each class (`scores[i, k]`: word i, class k).

    Positive scores push towards the class, negative ones away from it. `reference` (kernel_shap only) holds
    the probabilities with every word removed; the scores of each class then add up to probabilities - reference.
    """

    text: str
    words: list[str]  # the user's own words, exactly as written in `text`
    spans: list[tuple[int, int]]  # (start, end) character offsets of each word in `text`
    scores: np.ndarray  # (num_words, num_classes)
    labels: list[Any]  # the model's labels, column order of `scores` and `probabilities`
    probabilities: np.ndarray  # (num_classes,) the model's full prediction for `text`
    method: str
    notes: list[str] = field(default_factory=list)  # caveats a reader must know (truncation, blend, ...)
    truncated: bool = False  # the network read only part of the text; words it never saw score 0
    reference: np.ndarray | None = None

    @property
    def predicted_label(self) -> Any:
        return self.labels[int(np.argmax(self.probabilities))]

    def label_index(self, label: Any = None) -> int:
        """Column of `label` (its value or its string form); None: the predicted label."""
        if label is None:
            return int(np.argmax(self.probabilities))
        for i, known in enumerate(self.labels):
            if known == label or str(known) == str(label):
                return i
        raise ConfigError(f"label {label!r} is not one of this model's labels {self.labels}")

    def for_label(self, label: Any = None) -> np.ndarray:
        """Scores (num_words,) for `label`; default: the predicted label."""
        return self.scores[:, self.label_index(label)]

    def top(self, k: int = 5, label: Any = None) -> list[tuple[str, float]]:
        """The `k` words with the largest absolute score for `label` (default: predicted), as (word, score)."""
        scores = self.for_label(label)
        order = sorted(range(len(scores)), key=lambda i: (-abs(scores[i]), i))
        return [(self.words[i], float(scores[i])) for i in order[:k]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: labels as strings in the per-class maps, floats rounded to 6 digits."""
        names = [str(label) for label in self.labels]
        return {
            "text": self.text,
            "method": self.method,
            "predicted_label": plain_label(self.predicted_label),
            "labels": [plain_label(label) for label in self.labels],
            "probabilities": dict(zip(names, np.round(self.probabilities, 6).tolist())),
            "words": [
                {"word": w, "start": s, "end": e, "scores": dict(zip(names, np.round(row, 6).tolist()))}
                for w, (s, e), row in zip(self.words, self.spans, self.scores)
            ],
            "truncated": self.truncated,
            "notes": list(self.notes),
            "reference": None if self.reference is None else dict(zip(names, np.round(self.reference, 6).tolist())),
        }

    def to_html(self, label: Any = None) -> str:
        """A self-contained HTML page with the words highlighted (green: towards `label`, red: away)."""
        return render_html([self], label=label)

    def _repr_html_(self) -> str:
        """A notebook's view: the words highlighted for the predicted label, the probabilities, the top words."""
        scope = "sentilstm-explanation"
        return f'<div class="{scope}"><style>{scoped_css(scope)}</style>{_section(1, self, None)}</div>'

    def to_rich(self, label: Any = None) -> Text:
        """The text as a `rich.text.Text`, each word's background coloured by its score for `label`."""
        return render_rich(self, self.for_label(label))


def plain_label(value: Any) -> Any:
    """numpy scalars -> Python scalars, so labels survive json.dumps."""
    return value.item() if isinstance(value, np.generic) else value


def _colour(score: float, scale: float) -> tuple[tuple[int, int, int], float]:
    """(rgb, strength 0..1) of a score relative to the text's largest |score|."""
    strength = min(abs(score) / scale, 1.0) if scale > 0 else 0.0
    return (TOWARDS if score > 0 else AWAY), strength


def _segments(attribution: TokenAttribution) -> list[tuple[str, int | None]]:
    """The text cut into (piece, word index or None for the whitespace between words)."""
    pieces: list[tuple[str, int | None]] = []
    last = 0
    for i, (start, end) in enumerate(attribution.spans):
        if start > last:
            pieces.append((attribution.text[last:start], None))
        pieces.append((attribution.text[start:end], i))
        last = end
    if last < len(attribution.text):
        pieces.append((attribution.text[last:], None))
    return pieces


def render_rich(attribution: TokenAttribution, scores: np.ndarray) -> Text:
    """The text as rich `Text`, each word's background blended from white towards green/red by `scores`."""
    from rich.color import Color
    from rich.style import Style
    from rich.text import Text

    scale = float(np.abs(scores).max()) if len(scores) else 0.0
    out = Text()
    for piece, index in _segments(attribution):
        if index is None:
            out.append(piece)
            continue
        (r, g, b), strength = _colour(float(scores[index]), scale)
        if strength < 0.05:
            out.append(piece)
            continue
        blend = [round(255 + (c - 255) * strength) for c in (r, g, b)]
        out.append(piece, style=Style(color="black", bgcolor=Color.from_rgb(*blend), bold=strength > 0.5))
    return out


def _section(number: int, attribution: TokenAttribution, label: Any) -> str:
    column = attribution.label_index(label)
    shown = html.escape(str(attribution.labels[column]))
    scores = attribution.scores[:, column]
    scale = float(np.abs(scores).max()) if len(scores) else 0.0
    names = [str(label) for label in attribution.labels]
    words = []
    for piece, index in _segments(attribution):
        if index is None:
            words.append(html.escape(piece))
            continue
        (r, g, b), strength = _colour(float(scores[index]), scale)
        tip = "&#10;".join(f"{html.escape(n)}: {s:+.4f}" for n, s in zip(names, attribution.scores[index]))
        style = f' style="background: rgba({r}, {g}, {b}, {0.8 * strength:.2f})"' if strength >= 0.02 else ""
        words.append(f'<span class="w"{style} title="{tip}">{html.escape(piece)}</span>')
    predicted = html.escape(str(attribution.predicted_label))
    probabilities = "".join(
        f'<tr><td>{html.escape(n)}</td><td class="num">{p:.4f}</td>'
        f'<td><span class="bar" style="width: {6 * p:.2f}em"></span></td></tr>'
        for n, p in zip(names, attribution.probabilities)
    )
    top = "".join(
        f"<tr><td>{html.escape(word)}</td>"
        f'<td class="num" style="color: rgb{TOWARDS if s > 0 else AWAY}">{s:+.4f}</td></tr>'
        for word, s in attribution.top(TOP_WORDS, attribution.labels[column])
        if s != 0
    )
    notes = "".join(f'<p class="note">note: {html.escape(n)}</p>' for n in attribution.notes)
    return (
        f'<section><div class="meta">#{number} &middot; predicted <b>{predicted}</b> &middot; colours explain '
        f"<b>{shown}</b> &middot; method <b>{html.escape(attribution.method)}</b></div>"
        f'<div class="text">{"".join(words)}</div>'
        f"<table><tr><th>label</th><th>probability</th><th></th></tr>{probabilities}</table>"
        f"<table><tr><th>top words for {shown}</th><th>score</th></tr>{top}</table>"
        f"{notes}</section>"
    )


def scoped_css(scope: str) -> str:
    """The page's style rules for elements inside `.scope` only (a notebook's page keeps its own look)."""
    rules = re.findall(r"([^{}]+)\{([^}]*)\}", _CSS)
    return "".join(
        ", ".join(f".{scope} {selector.strip()}" for selector in selectors.split(",")) + f" {{{body.strip()}}}"
        for selectors, body in rules
        if selectors.strip() not in ("body", "h1")
    )


def render_html(attributions: Sequence[TokenAttribution], *, label: Any = None) -> str:
    """One self-contained page (inline CSS, no scripts) with every attribution; user text is escaped."""
    sections = "\n".join(_section(i, a, label) for i, a in enumerate(attributions, start=1))
    green, red = (f"rgba({r}, {g}, {b}, 0.8)" for r, g, b in (TOWARDS, AWAY))
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>sentilstm explanations</title><style>{_CSS}</style></head><body>\n"
        "<h1>Which words made the prediction</h1>\n"
        f'<div class="legend"><span class="swatch" style="background: {green}">green</span> pushes towards the '
        f'explained label, <span class="swatch" style="background: {red}">red</span> pushes away from it; the '
        "stronger the colour, the larger the word's share. Hover a word for its score for every label.</div>\n"
        f"{sections}\n</body></html>\n"
    )


def write_html(attributions: Sequence[TokenAttribution], path: str | Path, *, label: Any = None) -> Path:
    """Write one highlighted page for all `attributions` to `path`, atomically (temporary file, then rename)."""
    path = as_path(path, "the page to write", OutputError)
    handle, temporary = temporary_beside(path)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(render_html(attributions, label=label))
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


__all__ = ["TokenAttribution", "plain_label", "render_html", "render_rich", "write_html"]
