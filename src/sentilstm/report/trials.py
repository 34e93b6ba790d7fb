"""The tuning report's study: its trials as a table (best first, the hyperparameters that varied, pruned and
failed ones greyed) and the hyperparameter importances (Optuna's fANOVA).

    frame, params = trial_frame(result)        # result: a TuneResult, or anything with Optuna's `trials` frame
    section = trials_section(frame, params, maximize=True)
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

from sentilstm.report.formatting import format_number, format_value
from sentilstm.report.html import Section, note, paragraph, table

if TYPE_CHECKING:
    import pandas as pd

TRIALS_SHOWN = 200  # rows of the trials table (a long study's worst trials say little)
# more varied hyperparameters than this share one "configuration" column, so the table fits a page without
# sideways scrolling (the default search space has 15)
PARAMETER_COLUMNS = 8
# columns of a trials table that are not hyperparameters
TRIAL_COLUMNS = (
    "number",
    "state",
    "value",
    "seconds",
    "steps",
    "error",
    "worker",
    "duration",
    "datetime_start",
    "datetime_complete",
    "system_attrs",
)


def trial_frame(result: Any) -> tuple[pd.DataFrame, list[str]]:
    """A tuning result's trials as columns number, state, value, seconds (steps, error when known) plus one per
    hyperparameter, from `trials_table()` when the result has it, else from `trials` (Optuna's trials_dataframe)."""
    import pandas as pd

    if callable(getattr(result, "trials_table", None)):
        frame = result.trials_table().copy()
    else:
        frame = result.trials.rename(columns=lambda c: c.removeprefix("params_")).copy()
        if "duration" in frame:
            frame["seconds"] = pd.to_timedelta(frame["duration"]).dt.total_seconds()
    for column in ("number", "state", "value", "seconds"):
        if column not in frame:
            frame[column] = math.nan
    frame["state"] = frame["state"].astype(str).str.replace("TrialState.", "", regex=False)
    params = [c for c in frame.columns if c not in TRIAL_COLUMNS and not c.startswith(("user_attrs", "system_attrs"))]
    return frame, params


def trials_section(frame: pd.DataFrame, params: list[str], maximize: bool) -> Section:
    """The trials, best first, with the hyperparameters that varied; pruned and failed ones greyed."""
    section = Section("trials", "Trials")
    if not len(frame):
        return section.add(note("No trials ran."))
    varied = [p for p in params if frame[p].astype(str).nunique() > 1] if len(frame) > 1 else params
    ordered = frame.sort_values("value", ascending=not maximize, na_position="last", kind="stable")
    complete = (ordered["state"] == "COMPLETE") & ordered["value"].notna()
    best = ordered.index[complete.to_numpy()][0] if complete.any() else None
    errors = "error" in ordered and ordered["error"].notna().any()
    columns = len(varied) <= PARAMETER_COLUMNS
    rows, classes = [], []
    for index, row in ordered.head(TRIALS_SHOWN).iterrows():
        values = [format_value(row[p], 4) for p in varied]
        rows.append(
            [
                row["number"],
                row["state"].lower(),
                format_number(row["value"]),
                *(values if columns else [" · ".join(f"{p} {v}" for p, v in zip(varied, values))]),
                format_number(row["seconds"], 1),
                *([row["error"] or ""] if errors else []),
            ]
        )
        classes.append("best" if index == best else "" if row["state"] == "COMPLETE" else "muted")
    left_out = "; parameters that never changed are left out" if len(varied) < len(params) else ""
    section.add(
        paragraph(
            "Best first. Pruned trials (stopped early by the pruner; their value is their last report) and "
            f"failed ones are grey{left_out}."
        )
    )
    if len(ordered) > TRIALS_SHOWN:
        section.add(paragraph(f"The best {TRIALS_SHOWN} of {len(ordered):,} trials."))
    # a header may break after an underscore (a zero-width space there), so long names do not widen the table
    names = [p.replace("_", "_\u200b") for p in varied] if columns else ["configuration"]
    header = ["trial", "state", "value", *names, "seconds", *(["error"] if errors else [])]
    return section.add(table(header, rows, numeric=[0, 2, 3 + len(names)], row_classes=classes, css="trials"))


def param_importances(study: Any) -> tuple[dict[str, float] | None, str]:
    """Optuna's fANOVA importances (seeded, so the report is reproducible), or why there are none."""
    try:
        import optuna
        from optuna.importance import FanovaImportanceEvaluator

        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if len(complete) < 2:
            return None, f"they need at least 2 completed trials, this study has {len(complete)}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks parts of this experimental and warns on every call
            values = optuna.importance.get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0))
    except Exception as exc:  # noqa: BLE001 - an optional plot: any failure (e.g. no parameter varied) becomes a note instead
        return None, f"Optuna could not compute them ({type(exc).__name__}: {str(exc)[:160]})"
    if not values:
        return None, "no parameter varied between the completed trials"
    return {name: float(value) for name, value in values.items()}, ""


__all__ = ["param_importances", "trial_frame", "trials_section"]
