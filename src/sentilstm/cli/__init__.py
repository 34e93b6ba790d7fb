"""Command line: `sentilstm train | evaluate | predict | export | ...`. One module per command group; each command
parses its options, calls the library and prints. Every error a user can cause prints one line `error: ...` and
exits with code 2 (see `common.friendly`).

    common.py      the Typer app, one-line errors, logging, progress, printed reports, option machinery, helpers
    options.py     the options several verbs share (train's model and training flags among them), --set, --params
    training.py    train (one process or several under torchrun), baseline
    predicting.py  predict (texts, stdin, tables here or on Ray)
    prediction.py  evaluate, export, explain, describe
    selection.py   cv, tune
    serving.py     serve
    datasets.py    datasets list | download
"""

from __future__ import annotations

from sentilstm.cli.common import app

# each module registers its commands on `app` when imported, in this order (the order of `sentilstm --help`)
# isort: off
from sentilstm.cli import training, predicting, prediction, selection, serving, datasets  # noqa: F401
# isort: on

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - `python -m sentilstm`
    app(prog_name="sentilstm")


if __name__ == "__main__":  # pragma: no cover
    main()
