"""Synthetic data for tests: tiny, seeded, and solvable only by a model that reads negation."""

from __future__ import annotations

import errno
import os
import random
from collections.abc import Sequence
from typing import Any

POSITIVE = ("good", "great", "excellent", "wonderful", "lovely", "superb", "fantastic", "brilliant")
NEGATIVE = ("bad", "awful", "terrible", "horrible", "boring", "dreadful", "poor", "weak")
# Hyperparameters that train in about a second on one CPU core; tests override what they exercise.
# num_threads=1: these models are tiny, and with 2 OpenMP threads on a 2-core machine that is busy with
# anything else (a second pytest, a build) an LSTM step slows down ~10x (measured: 26 s vs 2.3 s).
# blend=None: these tests are about the network; tests/test_blend.py covers the linear blend.
TINY: dict[str, Any] = dict(
    embedding_dim=16, hidden_size=16, epochs=2, batch_size=32, min_frequency=1, num_threads=1, seed=0, blend=None
)
FILLER = (
    "the",
    "movie",
    "film",
    "was",
    "really",
    "plot",
    "acting",
    "story",
    "i",
    "thought",
    "it",
    "and",
    "this",
    "a",
    "quite",
    "overall",
    "cast",
    "ending",
    "felt",
    "to",
    "me",
    "honestly",
    "so",
    "very",
)


KEYWORDS = {"pos": ("good", "great", "lovely"), "neg": ("bad", "awful", "dull")}


def keyword_data(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Texts whose label is given away by one keyword: easy for n-grams, slow for a 1-epoch tiny LSTM."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        label = rng.choice(("pos", "neg"))
        filler = [f"w{rng.randint(0, 60)}" for _ in range(rng.randint(4, 12))]
        filler.insert(rng.randint(0, len(filler)), rng.choice(KEYWORDS[label]))
        texts.append(" ".join(filler))
        labels.append(label)
    return texts, labels


def make_negation_data(n: int, seed: int, labels: Sequence[Any] = (-1, 1)) -> tuple[list[str], list[Any]]:
    """`n` sentences of filler words around one sentiment word, negated ("not great") half the time.

    The label is `labels[1]` for a positive word and `labels[0]` for a negative one, swapped when the
    word is negated, so a bag of words cannot do better than chance on the negated half.
    """
    rng = random.Random(seed)
    negative_label, positive_label = labels
    texts: list[str] = []
    out: list[Any] = []
    for _ in range(n):
        positive = rng.random() < 0.5
        negated = rng.random() < 0.5
        word = rng.choice(POSITIVE if positive else NEGATIVE)
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 10))]
        phrase = f"not {word}" if negated else word
        words.insert(rng.randint(0, len(words)), phrase)
        texts.append(" ".join(words))
        out.append(positive_label if positive != negated else negative_label)
    return texts, out


class _FullDisk:
    """A file object whose writes fail like a full disk."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stream.close()


def full_disk(monkeypatch: Any) -> None:
    """Every file opened through os.fdopen (how sentilstm opens its temporaries) then fails to write: ENOSPC.
    `monkeypatch` is pytest's fixture; undone with it."""
    real = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda *args, **kwargs: _FullDisk(real(*args, **kwargs)))


# ----- the command line ------------------------------------------------------------------------------------
# Rich reads COLUMNS on every render: wide enough that table titles and help text are not wrapped; plain output.
CLI_ENV = {"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None, "TERM": "xterm"}


def invoke_cli(*args: Any) -> Any:
    """`sentilstm ARGS...` in this process (click's runner: result.stdout and result.stderr kept apart)."""
    from typer.testing import CliRunner

    from sentilstm.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], env=CLI_ENV)


def error_line(result: Any) -> str:
    """A user error: exit 2, exactly one `error:` line on stderr, no traceback; returns that line."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def stop_server(process: Any) -> str:
    """Ctrl-C a `sentilstm serve` process (killed if it is still up after 30 s); its output."""
    import signal
    import subprocess

    process.send_signal(signal.SIGINT)
    try:
        return process.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()[0]
