"""A report as data (title, headline numbers, sections of HTML blocks and PNG plots) and its one-file HTML.

    report = Report("Training report", sections=[Section("data", "Data", [paragraph("..."), plot])])
    report.write("model.report.html")   # + model.report_plots/*.png; the HTML embeds every PNG

Every string goes through `escape` unless it is `Markup`, which only the helpers here make, so user data
(texts, labels, paths) can never inject HTML. The page has inline CSS only: no scripts, fonts or links
outside the file, so it opens offline, prints cleanly and can be mailed as one attachment.
"""

from __future__ import annotations

import base64
import html
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from sentilstm.report.plots.style import to_png
from sentilstm.system.files import temporary_beside, writing
from sentilstm.text.normalize import clean_text

__all__ = [
    "Markup",
    "Plot",
    "Section",
    "Headline",
    "Report",
    "escape",
    "plots_folder_for",
    "table",
    "pairs",
    "paragraph",
    "note",
    "heading",
    "preformatted",
    "cell",
    "bar",
]

PIXELS_PER_INCH = 100  # CSS pixels a figure inch is shown at; plots.DPI renders twice that for HiDPI screens


class Markup(str):
    """HTML known to be safe (made by the helpers below); anything else is escaped when rendered."""


def escape(value: Any) -> Markup:
    """`value` as HTML text (quotes included), unless it is already `Markup`."""
    return value if isinstance(value, Markup) else Markup(html.escape(str(value), quote=True))


@dataclass
class Plot:
    """One PNG figure: `name` is its file stem in the plots folder and must be unique within a report."""

    name: str
    png: bytes
    caption: str = ""
    width: int = 720  # CSS pixels it is shown at (at most: it shrinks on narrow screens)

    @classmethod
    def of(cls, name: str, figure: Figure, caption: str = "") -> Plot:
        """Render a matplotlib figure, shown as wide as it was drawn (PIXELS_PER_INCH)."""
        return cls(name, to_png(figure), caption, round(figure.get_figwidth() * PIXELS_PER_INCH))


Block = Markup | Plot | list  # a list of blocks is shown side by side (a row that wraps on narrow screens)


@dataclass
class Section:
    """One titled part of a report, listed in the table of contents."""

    id: str  # the HTML id, the table of contents links to it
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block | None) -> Section:
        self.blocks += [b for b in blocks if b is not None]
        return self


@dataclass
class Headline:
    """A row of headline cards under the title, e.g. the test set's macro F1, accuracy, ROC-AUC."""

    name: str  # "Test"
    values: dict[str, str]  # card title -> formatted value
    note: str = ""  # "600 texts"


@dataclass
class Report:
    """A self-contained HTML report; see the module docstring."""

    title: str
    subtitle: str = ""
    headlines: list[Headline] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    footer: str = ""

    def plots(self) -> list[Plot]:
        found: list[Plot] = []

        def walk(blocks: Iterable[Block]) -> None:
            for block in blocks:
                if isinstance(block, Plot):
                    found.append(block)
                elif isinstance(block, list):
                    walk(block)

        for section in self.sections:
            walk(section.blocks)
        return found

    def section(self, id: str) -> Section:
        for section in self.sections:
            if section.id == id:
                return section
        raise KeyError(f"no section {id!r}; the report has {[s.id for s in self.sections]}")

    def to_html(self) -> str:
        """The whole page as one string, every plot embedded as a base64 data: URI."""
        ids = [s.id for s in self.sections]
        names = [p.name for p in self.plots()]
        assert len(set(ids)) == len(ids) and len(set(names)) == len(names), (ids, names)
        toc = "".join(f'<a href="#{escape(s.id)}">{escape(s.title)}</a>' for s in self.sections)
        body = "".join(
            f'<section id="{escape(s.id)}"><h2>{escape(s.title)}</h2>{_blocks(s.blocks)}</section>'
            for s in self.sections
        )
        footer = f"<footer>{escape(self.footer)}</footer>" if self.footer else ""
        return (
            f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(self.title)}</title><style>{CSS}</style></head><body>"
            f'<div class="page"><header><h1>{escape(self.title)}</h1>'
            f'<p class="subtitle">{escape(self.subtitle)}</p>{_headlines(self.headlines)}</header>'
            f'<nav class="toc" aria-label="Contents">{toc}</nav><main>{body}</main>{footer}</div></body></html>\n'
        )

    def write(self, path: str | Path) -> Path:
        """Write PATH (the HTML) and PATH-without-suffix + "_plots/" (the same PNGs as files), atomically.

        Everything is rendered in memory first, then written under temporary names beside the targets and
        renamed into place; on any failure the temporaries are removed and earlier files are left as they were.
        A write the file system refuses raises OutputError naming the path.
        """
        with writing(path):
            return self._write(Path(path))

    def _write(self, path: Path) -> Path:
        folder = plots_folder_for(path)
        page = clean_text(self.to_html()).encode("utf-8")  # a path from undecodable argv bytes holds surrogates
        handle, temporary = temporary_beside(path)
        _, staging = temporary_beside(folder, directory=True)
        retired: Path | None = None
        placed = False
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(page)
            for plot in self.plots():
                (staging / f"{plot.name}.png").write_bytes(plot.png)
            os.chmod(staging, 0o777 & ~_umask())
            if folder.exists():
                _, retired = temporary_beside(folder, directory=True)
                os.replace(folder, retired / folder.name)
            os.replace(staging, folder)
            placed = True
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            shutil.rmtree(staging, ignore_errors=True)
            if placed:
                shutil.rmtree(folder, ignore_errors=True)
            if retired is not None:
                if (retired / folder.name).exists():
                    os.replace(retired / folder.name, folder)
                shutil.rmtree(retired, ignore_errors=True)
            raise
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
        return path


def plots_folder_for(report_path: str | Path) -> Path:
    """model.report.html -> model.report_plots (the folder holding the report's PNGs)."""
    path = Path(report_path)
    return path.with_name(path.with_suffix("").name + "_plots")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ----- HTML building blocks (each returns Markup; every argument is escaped unless it is Markup) ----------
def table(
    header: Sequence[Any] | None,
    rows: Iterable[Sequence[Any]],
    *,
    numeric: Iterable[int] = (),
    footer: Iterable[Sequence[Any]] = (),
    row_classes: Sequence[str] | None = None,
    css: str = "",
) -> Markup:
    """A table (no header row when `header` is None); columns in `numeric` are right-aligned, tabular digits."""
    numeric = set(numeric)

    def row(cells: Sequence[Any], tag: str = "td", css_class: str = "") -> str:
        cls = f' class="{escape(css_class)}"' if css_class else ""
        return (
            f"<tr{cls}>"
            + "".join(f"<{tag}{' class=num' if i in numeric else ''}>{escape(c)}</{tag}>" for i, c in enumerate(cells))
            + "</tr>"
        )

    body = "".join(row(r, css_class=row_classes[i] if row_classes else "") for i, r in enumerate(rows))
    foot = "".join(row(r) for r in footer)
    head = f"<thead>{row(header, 'th')}</thead>" if header is not None else ""
    return Markup(
        f'<div class="scroll"><table class="{escape(css)}">{head}'
        f"<tbody>{body}</tbody>{f'<tfoot>{foot}</tfoot>' if foot else ''}</table></div>"
    )


def pairs(items: Iterable[tuple[Any, Any]]) -> Markup:
    """A two-column name/value table."""
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in items)
    return Markup(f'<table class="pairs"><tbody>{rows}</tbody></table>')


def paragraph(*parts: Any) -> Markup:
    return Markup("<p>" + "".join(escape(p) for p in parts) + "</p>")


def note(items: str | Sequence[Any], kind: str = "info", title: str = "") -> Markup:
    """A callout box: one text, or a bulleted list of findings."""
    if isinstance(items, str):
        inner = escape(items)
    else:
        inner = Markup("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>")
    head = f"<strong>{escape(title)}</strong>" if title else ""
    return Markup(f'<div class="note {escape(kind)}">{head}{inner}</div>')


def heading(text: Any, detail: Any = "") -> Markup:
    small = f' <span class="detail">{escape(detail)}</span>' if detail else ""
    return Markup(f"<h3>{escape(text)}{small}</h3>")


def preformatted(text: str) -> Markup:
    return Markup(f"<pre>{escape(text)}</pre>")


def cell(*blocks: Markup, title: str = "") -> Markup:
    """Blocks grouped into one box of a side-by-side row (e.g. a table next to a plot)."""
    head = f'<div class="cell-title">{escape(title)}</div>' if title else ""
    return Markup(f'<div class="cell">{head}{"".join(escape(b) for b in blocks)}</div>')


def bar(share: float, text: str) -> Markup:
    """An inline horizontal bar (0..1) with a number beside it, e.g. a confidence."""
    width = f"{max(0.0, min(1.0, float(share))) * 100:.1f}"
    return Markup(f'<span class="bar"><span style="width:{width}%"></span></span>{escape(text)}')


def _blocks(blocks: Iterable[Block]) -> str:
    out = []
    for block in blocks:
        if isinstance(block, Plot):
            data = base64.b64encode(block.png).decode("ascii")
            caption = f"<figcaption>{escape(block.caption)}</figcaption>" if block.caption else ""
            out.append(
                f'<figure style="max-width:{block.width}px"><img src="data:image/png;base64,{data}" '
                f'width="{block.width}" alt="{escape(block.caption or block.name)}">{caption}</figure>'
            )
        elif isinstance(block, list):
            out.append(f'<div class="row">{_blocks(block)}</div>')
        else:
            out.append(escape(block))
    return "".join(out)


def _value(text: str) -> str:
    """A card's number; a "± spread" after it is set smaller, so "0.9120 ± 0.0100" fits one line."""
    number, plus, spread = str(text).partition(" ± ")
    return escape(number) + (f'<span class="spread"> ± {escape(spread)}</span>' if plus else "")


def _headlines(headlines: Sequence[Headline]) -> str:
    rows = []
    for line in headlines:
        cards = "".join(
            f'<div class="card"><div class="metric">{escape(k)}</div><div class="value">{_value(v)}</div></div>'
            for k, v in line.values.items()
        )
        name = f'<div class="split">{escape(line.name)}<span>{escape(line.note)}</span></div>'
        rows.append(f'<div class="cards">{name}{cards}</div>')
    return "".join(rows)


CSS = """
:root{--ink:#1f2933;--muted:#616e7c;--line:#e4e7eb;--zebra:#f8fafc;--bg:#f3f5f7;--accent:#0b5fa5;--warn:#b45309}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
 font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","Noto Sans",Arial,sans-serif}
.page{max-width:1040px;margin:0 auto;padding:28px 24px 40px}
header h1{font-size:28px;line-height:1.2;margin:0 0 4px;letter-spacing:-.01em}
.subtitle{color:var(--muted);margin:0 0 18px}
.cards{display:grid;grid-template-columns:120px repeat(4,minmax(0,1fr));gap:10px;margin:0 0 10px;align-items:stretch}
.split{font-weight:600;align-self:center;font-size:14px}
.split span{display:block;font-weight:400;color:var(--muted);font-size:12.5px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.card .metric{font-size:11.5px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
.card .value{font-size:26px;font-weight:600;font-variant-numeric:tabular-nums;line-height:1.25;white-space:nowrap}
.card .spread{font-size:14px;font-weight:400;color:var(--muted)}
nav.toc{position:sticky;top:0;z-index:1;display:flex;flex-wrap:wrap;gap:4px 18px;margin:18px 0 0;padding:10px 16px;
 background:rgba(255,255,255,.96);border:1px solid var(--line);border-radius:8px;font-size:14px}
nav.toc a{color:var(--accent);text-decoration:none}
nav.toc a:hover{text-decoration:underline}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:18px 24px 22px;margin:16px 0;
 scroll-margin-top:60px}
h2{font-size:20px;margin:0 0 12px;padding-bottom:8px;border-bottom:1px solid var(--line)}
h3{font-size:16px;margin:22px 0 8px}
h3 .detail{font-weight:400;color:var(--muted);font-size:14px}
p{margin:8px 0}
figure{margin:14px auto;width:100%}
figure img{display:block;width:100%;height:auto}
figcaption{color:var(--muted);font-size:13px;margin-top:4px}
.row{display:flex;flex-wrap:wrap;gap:8px 24px;align-items:flex-start}
.row>figure,.row>.cell{flex:1 1 420px;min-width:0}
.cell{margin:14px 0}
.cell-title{font-weight:600;font-size:14px;margin-bottom:6px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13.5px;margin:8px 0}
th,td{padding:5px 10px;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}
thead th{font-weight:600;color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em;
 border-bottom:2px solid var(--line);white-space:nowrap}
tbody tr:nth-child(even){background:var(--zebra)}
tfoot td{font-weight:600}
tfoot tr:first-child td{border-top:2px solid var(--line)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.pairs th{width:34%;font-weight:500;color:var(--muted)}
table.pairs td{font-variant-numeric:tabular-nums;word-break:break-word}
table.config td:first-child{width:45%}
table.config td:nth-child(2){font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
tr.changed td{font-weight:600}
.default{font-weight:400;color:var(--muted)}
tr.muted td{color:#9aa5b1}
table.trials thead th{white-space:normal}
tr.best td{background:#eaf4ea}
table.errors td:nth-child(2){width:58%;word-break:break-word}
pre{background:var(--zebra);border:1px solid var(--line);border-radius:6px;padding:12px 14px;
 white-space:pre-wrap;word-break:break-word;
 font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace}
.note{border-left:4px solid var(--accent);background:#eef5fc;border-radius:0 6px 6px 0;padding:8px 14px;margin:12px 0;
 font-size:14px}
.note.warn{border-left-color:#d97706;background:#fff7ed}
.note ul{margin:4px 0;padding-left:20px}
.note strong{display:block;margin-bottom:2px}
.bar{display:inline-block;width:60px;height:8px;background:var(--line);border-radius:4px;margin-right:8px;vertical-align:middle}
.bar span{display:block;height:100%;background:#d55e00;border-radius:4px}
footer{color:var(--muted);font-size:12.5px;text-align:center;margin-top:24px}
@media (max-width:760px){.cards{grid-template-columns:repeat(2,minmax(0,1fr))}.split{grid-column:1/-1}}
@media print{body{background:#fff;font-size:12px}.page{max-width:none;padding:0}nav.toc{display:none}
 section{border:none;padding:0;margin:18px 0;break-inside:auto}\
figure,tr,.card{break-inside:avoid}h2,h3{break-after:avoid}}
"""
