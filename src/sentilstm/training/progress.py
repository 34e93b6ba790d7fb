"""What a user watches while a network trains: a progress bar per epoch (steps, elapsed, ETA, loss; at the end the
validation loss, accuracy and macro F1), drawn by rich in a terminal and in Jupyter alike, and for the stages with no
bar (language-model pretraining, the blend) sentilstm's own log lines.

    with feedback(verbose=None) as callbacks:      # None: on in a terminal or a notebook, quiet otherwise (tests)
        train(..., callbacks=callbacks)
    bar = ProgressBar(console); with bar.progress: train(..., callbacks=[bar.callback])   # the command line's
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sentilstm.training.callbacks import TrainingCallback
from sentilstm.training.records import EpochStats


class _BarCallback(TrainingCallback):
    def __init__(self, bar: ProgressBar) -> None:
        self.bar = bar

    def on_epoch_start(self, epoch: int, num_epochs: int, num_batches: int) -> None:
        self.bar.task = self.bar.progress.add_task(f"epoch {epoch}/{num_epochs}", total=num_batches, loss="")

    def on_step(self, epoch: int, step: int, loss: float) -> None:
        self.bar.progress.update(self.bar.task, advance=1, loss=f"loss {loss:.4f}")

    def on_epoch_end(self, stats: EpochStats, improved: bool) -> None:
        self.bar.progress.update(self.bar.task, loss=epoch_line(stats, improved))


def epoch_line(stats: EpochStats, improved: bool) -> str:
    """An epoch's scores in one line: losses, validation accuracy and macro F1, speed; `*` when it is the best."""
    return (
        f"loss {stats.train_loss:.4f} | val loss {stats.val_loss:.4f} acc {stats.val_accuracy:.4f} "
        f"macro-F1 {stats.val_macro_f1:.4f} | {stats.samples_per_second:.0f} texts/s{' *' if improved else ''}"
    )


class ProgressBar:
    """A rich progress bar fed by the training loop's hooks (`callback`); shown while `progress` is entered. On a
    console that is neither a terminal nor a notebook it draws nothing (redirected to a file it would print its last
    state again after everything else; the log lines already say each epoch)."""

    def __init__(self, console: Console | None = None) -> None:
        console = console if console is not None else Console(stderr=True, markup=False)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[loss]}"),
            console=console,
            disable=not (console.is_terminal or console.is_jupyter),
        )
        self.task: Any = None
        self.callback = _BarCallback(self)


def interactive() -> bool:
    """Whether someone is watching: a Jupyter/IPython session, Python's interactive prompt, or a terminal."""
    shell = sys.modules.get("IPython")
    if shell is not None and getattr(shell, "get_ipython", lambda: None)() is not None:
        return True
    return hasattr(sys, "ps1") or bool(sys.stderr is not None and sys.stderr.isatty())


@contextmanager
def feedback(verbose: bool | None) -> Iterator[list[TrainingCallback]]:
    """The callbacks `fit(verbose=...)` adds (a progress bar), and sentilstm's INFO log lines shown meanwhile unless
    logging is configured already; `verbose=None`: only when `interactive()`. Undone on leaving."""
    if not (interactive() if verbose is None else verbose):
        yield []
        return
    bar = ProgressBar()
    logger = logging.getLogger("sentilstm")
    shown = not logger.handlers and not logging.getLogger().handlers  # the caller's own logging stays as it is
    handler = RichHandler(console=bar.progress.console, show_path=False, markup=False)
    level = logger.level
    if shown:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        with bar.progress:
            yield [bar.callback]
    finally:
        if shown:
            logger.removeHandler(handler)
            logger.setLevel(level)


__all__ = ["ProgressBar", "epoch_line", "feedback", "interactive"]
