"""Small HTML pieces for notebooks' rich display (`_repr_html_` of reports, summaries and classifiers): tables with
every cell escaped, in a box that keeps its own look whatever the notebook's theme.

    html_table(["metric", "value"], [["accuracy", "0.9123"]], caption="test")
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

STYLE = (
    "<style>.sentilstm-box table{border-collapse:collapse;margin:.25rem 1.5rem .5rem 0;display:inline-table;"
    "vertical-align:top}.sentilstm-box th,.sentilstm-box td{padding:.1rem .5rem;text-align:left}"
    ".sentilstm-box td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".sentilstm-box caption{text-align:left;font-weight:600}</style>"
)


def cell(value: Any) -> str:
    """A table cell: numbers right-aligned (floats to 4 places), anything else escaped text."""
    if isinstance(value, bool) or value is None:
        return f"<td>{html.escape(str(value))}</td>"
    if isinstance(value, float):
        return f'<td class="n">{value:.4f}</td>'
    if isinstance(value, int):
        return f'<td class="n">{value:,}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def html_table(headers: Sequence[Any], rows: Iterable[Sequence[Any]], caption: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def box(*parts: str, title: str = "") -> str:
    """The parts in one styled block, under an optional escaped title."""
    heading = f"<div><b>{html.escape(title)}</b></div>" if title else ""
    return f'<div class="sentilstm-box">{STYLE}{heading}{"".join(parts)}</div>'


__all__ = ["box", "cell", "html_table"]
