"""Scored CSV downloads that spreadsheets cannot run as formulas (OWASP's CSV injection): a text cell that Excel,
LibreOffice or Sheets would read as a formula gets a leading apostrophe. `--raw-csv` turns this off.

    safe = neutralise_formulas(scored)   # "=HYPERLINK(...)" -> "'=HYPERLINK(...)"; "-0.5" stays a number
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

# OWASP's CSV-injection rule: a cell starting with one of these is a formula to Excel, LibreOffice or Sheets.
# The full-width forms are read as formulas by Excel in East Asian locales.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")  # "-0.5", "+3e2": a number, not a formula


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells (and column names) are safe to open in a spreadsheet.

    A cell a spreadsheet would run as a formula gets a leading apostrophe ("=HYPERLINK(...)" -> "'=HYPERLINK(...)");
    numbers, and text that is a plain number ("-0.5"), are left as they are. A carriage return inside a cell
    becomes a line feed: Python's CSV writer (3.11) does not quote a lone one, so "ok\r=cmd()" would otherwise
    be read back as two rows, the second starting with a formula.
    """
    safe = frame.copy(deep=False)
    safe.columns = [_safe_cell(name) if isinstance(name, str) else name for name in frame.columns]
    for i in range(frame.shape[1]):
        values = frame.iloc[:, i]
        if not (pd.api.types.is_object_dtype(values.dtype) or pd.api.types.is_string_dtype(values.dtype)):
            continue
        risky = np.fromiter(
            (isinstance(v, str) and (_is_formula(v) or "\r" in v) for v in values), dtype=bool, count=len(values)
        )
        if risky.any():
            fixed = values.copy()
            fixed[risky] = [_safe_cell(v) for v in values[risky]]
            safe.isetitem(i, fixed)
    return safe


def _is_formula(cell: str) -> bool:
    return cell.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(cell)


def _safe_cell(cell: str) -> str:
    return ("'" if _is_formula(cell) else "") + cell.replace("\r\n", "\n").replace("\r", "\n")


__all__ = ["neutralise_formulas"]
