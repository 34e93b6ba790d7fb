"""sentilstm.training.callbacks: the hook points of the training loop, in order, and user callbacks next to the
built-in ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers import make_negation_data
from sentilstm import SentimentClassifier, TrainingCallback
from sentilstm.errors import ConfigError
from sentilstm.training.callbacks import HOOKS, LoopState
from sentilstm.training.records import TrainableNetwork


class Recorder(TrainingCallback):
    """Every hook call, by name and epoch."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def on_train_begin(self, state: LoopState) -> None:
        self.calls.append(("on_train_begin",))
        self.state = state

    def on_epoch_begin(self, epoch: int) -> None:
        self.calls.append(("on_epoch_begin", epoch))

    def on_epoch_start(self, epoch: int, num_epochs: int, num_batches: int) -> None:
        self.calls.append(("on_epoch_start", epoch))

    def on_after_backward(self, step: int) -> None:
        self.calls.append(("on_after_backward", step))

    def on_step(self, epoch: int, step: int, loss: float) -> None:
        self.calls.append(("on_step", epoch, step))

    def on_validation(self, stats: Any) -> None:
        self.calls.append(("on_validation", stats.epoch, bool(stats.gradient_norms)))  # the built-in norms are in

    def on_epoch_scored(self, stats: Any, score: float) -> None:
        self.calls.append(("on_epoch_scored", stats.epoch))

    def on_epoch_end(self, stats: Any, improved: bool) -> None:
        self.calls.append(("on_epoch_end", stats.epoch, improved == (self.state.history.best_epoch == stats.epoch)))

    def on_train_end(self, state: LoopState) -> None:
        self.calls.append(("on_train_end",))


def expected_calls(epochs: int, steps: int) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = [("on_train_begin",)]
    for epoch in range(1, epochs + 1):
        calls += [("on_epoch_begin", epoch), ("on_epoch_start", epoch)]
        for step in range(1, steps + 1):
            calls += [("on_after_backward", step), ("on_step", epoch, step)]
        calls += [("on_validation", epoch, True), ("on_epoch_scored", epoch), ("on_epoch_end", epoch, True)]
    return [*calls, ("on_train_end",)]


def test_a_user_callback_sees_every_hook_in_order(tiny_params: dict, tmp_path: Path) -> None:
    texts, labels = make_negation_data(100, seed=0)
    first, second = Recorder(), Recorder()
    params = {**tiny_params, "epochs": 2, "patience": 5, "batch_size": 64, "blend": None}
    clf = SentimentClassifier(**params).fit(
        texts, labels, callback=first, callbacks=[second], checkpoint_path=tmp_path / "run.ckpt"
    )
    steps = clf.history_.epochs[0].steps
    calls = first.calls  # on_epoch_end's True: `improved` agreed with the history
    assert calls == expected_calls(2, steps) and second.calls == first.calls
    assert isinstance(first.state.model, TrainableNetwork) and first.state.model is clf.model_
    assert set(HOOKS) == {c[0] for c in calls}


def test_callbacks_change_nothing_they_do_not_touch(tiny_params: dict) -> None:
    texts, labels = make_negation_data(100, seed=0)
    plain = SentimentClassifier(**tiny_params).fit(texts, labels)
    watched = SentimentClassifier(**tiny_params).fit(texts, labels, callbacks=[Recorder(), Recorder()])
    assert (plain.predict_proba(texts) == watched.predict_proba(texts)).all()


def test_a_callback_can_stop_training(tiny_params: dict) -> None:
    class StopAfterOne(TrainingCallback):
        def on_train_begin(self, state: LoopState) -> None:
            self.state = state

        def on_epoch_end(self, stats: Any, improved: bool) -> None:
            self.state.history.stopped_early = True

    texts, labels = make_negation_data(100, seed=0)
    clf = SentimentClassifier(**{**tiny_params, "epochs": 3}).fit(texts, labels, callbacks=[StopAfterOne()])
    assert len(clf.history_.epochs) == 1


def test_a_callback_must_be_a_training_callback(tiny_params: dict) -> None:
    texts, labels = make_negation_data(60, seed=0)
    with pytest.raises(ConfigError, match="TrainingCallback"):
        SentimentClassifier(**tiny_params).fit(texts, labels, callbacks=[print])  # type: ignore[list-item]
