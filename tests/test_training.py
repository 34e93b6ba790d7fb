"""sentilstm.training.batching and sentilstm.training.loop: batches, the fit loop, early stopping, checkpoints,
resume."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from helpers import TINY, make_negation_data
from sentilstm import SentimentClassifier
from sentilstm.config import ModelConfig, TrainConfig
from sentilstm.errors import ArtifactError, ConfigError
from sentilstm.network.model import SentimentNet
from sentilstm.training.batching import bucketed_batches, collate, sorted_batches
from sentilstm.training.loop import (
    CheckpointSpec,
    EncodedSplit,
    EpochStats,
    GradientNorms,
    History,
    TrainingCallback,
    fit,
    read_checkpoint,
)

LABELS = ["bad", "good"]


# ----- batching --------------------------------------------------------------------------------------
def random_lengths(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(1, 200, size=n)


@pytest.mark.parametrize("n, batch_size, pool", [(1000, 16, 10), (33, 8, 2), (5, 64, 50), (1, 4, 1)])
def test_bucketed_batches_cover_every_index_once(n: int, batch_size: int, pool: int) -> None:
    batches = bucketed_batches(random_lengths(n), batch_size, pool, np.random.default_rng(0))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(n))
    assert all(1 <= len(b) <= batch_size for b in batches)
    assert len(batches) == sum(-(-min(batch_size * pool, n - s) // batch_size) for s in range(0, n, batch_size * pool))


def test_bucketed_batches_are_near_homogeneous_in_length() -> None:
    lengths = random_lengths(2000)
    # One pool: batches are consecutive slices of the sorted lengths, so their ranges add up to at most
    # the overall range.
    batches = bucketed_batches(lengths, 32, 1000, np.random.default_rng(0))
    assert sum(int(np.ptp(lengths[b])) for b in batches) <= int(np.ptp(lengths))

    # The default pool of 50 batches: a small fraction of the padding of random batches.
    def padding(batches: list[np.ndarray]) -> int:
        return sum(int(lengths[b].max()) * len(b) - int(lengths[b].sum()) for b in batches)

    bucketed = bucketed_batches(lengths, 32, 50, np.random.default_rng(0))
    shuffled = np.array_split(np.random.default_rng(0).permutation(2000), 2000 // 32)
    assert padding(bucketed) < 0.05 * padding(shuffled)
    assert padding(bucketed) < 0.05 * int(lengths.sum())


def test_bucketed_batches_are_seeded_and_shuffled() -> None:
    lengths = random_lengths(500)
    first = bucketed_batches(lengths, 16, 5, np.random.default_rng([0, 1]))
    again = bucketed_batches(lengths, 16, 5, np.random.default_rng([0, 1]))
    other = bucketed_batches(lengths, 16, 5, np.random.default_rng([0, 2]))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
    maxima = [int(lengths[b].max()) for b in first]
    assert maxima != sorted(maxima)  # batch order is shuffled, not short-to-long


@pytest.mark.parametrize("max_tokens, max_batch", [(16_384, 512), (100, 512), (1000, 7), (1, 512)])
def test_sorted_batches_respect_the_token_budget(max_tokens: int, max_batch: int) -> None:
    lengths = random_lengths(700, seed=3)
    batches = sorted_batches(lengths, max_tokens=max_tokens, max_batch=max_batch)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(700))
    assert np.all(np.diff(lengths[flat]) >= 0)  # length order
    for b in batches:
        assert len(b) <= max_batch
        assert len(b) == 1 or len(b) * int(lengths[b].max()) <= max_tokens


def test_sorted_batches_fill_the_budget_greedily() -> None:
    batches = sorted_batches(np.array([10] * 10), max_tokens=35, max_batch=512)
    assert [len(b) for b in batches] == [3, 3, 3, 1]


def test_collate_right_pads_with_zero() -> None:
    ids = [np.array([5, 6, 7]), np.array([8]), np.array([9, 10])]
    tokens, lengths = collate(ids, np.array([1, 0]), torch.device("cpu"), pad_multiple=1)
    assert tokens.tolist() == [[8, 0, 0], [5, 6, 7]]
    assert lengths.tolist() == [1, 3] and tokens.dtype == lengths.dtype == torch.int64


def test_collate_rounds_the_width_up_to_the_pad_multiple() -> None:
    ids = [np.arange(1, 10), np.array([4])]  # longest has 9 tokens
    tokens, lengths = collate(ids, np.array([0, 1]), torch.device("cpu"))
    assert tokens.shape == (2, 16) and lengths.tolist() == [9, 1]
    assert tokens[0, 9:].eq(0).all() and tokens[1, 1:].eq(0).all()


# ----- the fit loop ----------------------------------------------------------------------------------
def token_split(n: int, seed: int, invert: bool = False) -> EncodedSplit:
    """Ids 4..19 as filler around one sentiment token (2: good, 3: bad); targets 1/0 (swapped if invert)."""
    rng = np.random.default_rng(seed)
    ids, targets = [], []
    for _ in range(n):
        good = bool(rng.random() < 0.5)
        row = rng.integers(4, 20, size=rng.integers(2, 9)).tolist()
        row.insert(int(rng.integers(0, len(row) + 1)), 2 if good else 3)
        ids.append(np.asarray(row, dtype=np.int64))
        targets.append(int(good != invert))
    return EncodedSplit(ids, np.asarray(targets, dtype=np.int64))


def make_net(seed: int = 0) -> SentimentNet:
    torch.manual_seed(seed)
    return SentimentNet(ModelConfig(embedding_rows=20, num_classes=2, embedding_dim=8, hidden_size=8))


def train_config(**overrides: Any) -> TrainConfig:
    values = dict(epochs=3, batch_size=16, learning_rate=1e-2, num_threads=1, device="cpu")
    return TrainConfig(**{**values, **overrides})


class Recorder(TrainingCallback):
    """Records every hook call; snapshots the model's weights after each epoch."""

    def __init__(self, net: torch.nn.Module | None = None, interrupt_at: int | None = None) -> None:
        self.net, self.interrupt_at = net, interrupt_at
        self.calls: list[tuple[str, int]] = []
        self.weights: dict[int, dict[str, torch.Tensor]] = {}
        self.improved: list[bool] = []

    def on_epoch_start(self, epoch: int, num_epochs: int, num_batches: int) -> None:
        if epoch == self.interrupt_at:
            raise KeyboardInterrupt
        self.calls.append(("start", epoch))

    def on_step(self, epoch: int, step: int, loss: float) -> None:
        assert np.isfinite(loss)
        self.calls.append(("step", step))

    def on_epoch_end(self, stats: EpochStats, improved: bool) -> None:
        self.calls.append(("end", stats.epoch))
        self.improved.append(improved)
        if self.net is not None:
            self.weights[stats.epoch] = {k: v.detach().clone() for k, v in self.net.state_dict().items()}


def test_fit_learns_and_returns_history() -> None:
    net, recorder = make_net(), Recorder()
    history = fit(
        net,
        token_split(320, 0),
        token_split(80, 1),
        train_config(epochs=4, patience=4),
        labels=LABELS,
        callback=recorder,
    )
    assert isinstance(history, History) and history.monitor == "macro_f1"
    assert [e.epoch for e in history.epochs] == [1, 2, 3, 4]
    assert not history.stopped_early
    assert history.epochs[-1].val_accuracy >= 0.9
    assert history.epochs[-1].train_loss < history.epochs[0].train_loss
    assert history.best_score == max(e.val_macro_f1 for e in history.epochs)
    assert history.epochs[history.best_epoch - 1].val_macro_f1 == history.best_score
    assert History.from_dict(history.to_dict()) == history
    steps = -(-320 // 16)
    one_epoch = lambda e: [("start", e)] + [("step", s) for s in range(1, steps + 1)] + [("end", e)]  # noqa: E731
    assert recorder.calls == [call for e in range(1, 5) for call in one_epoch(e)]


def test_fit_is_deterministic() -> None:
    nets = [make_net(), make_net()]
    for net in nets:
        fit(net, token_split(160, 0), token_split(40, 1), train_config(), labels=LABELS)
    for (name, a), b in zip(nets[0].state_dict().items(), nets[1].state_dict().values()):
        assert torch.equal(a, b), name


def test_early_stopping_stops_and_restores_the_best_weights() -> None:
    # Validation labels are the opposite of training labels, so validation loss rises after epoch 1.
    net = make_net()
    recorder = Recorder(net)
    config = train_config(epochs=10, patience=1, monitor="loss", schedule="constant")
    history = fit(net, token_split(320, 0), token_split(80, 1, invert=True), config, labels=LABELS, callback=recorder)
    assert history.stopped_early
    assert len(history.epochs) == 2 and history.best_epoch == 1
    assert recorder.improved == [True, False]
    assert history.epochs[1].val_loss > history.epochs[0].val_loss
    assert history.best_score == -history.epochs[0].val_loss
    final = net.state_dict()
    assert all(torch.equal(final[k], v) for k, v in recorder.weights[1].items())
    assert not all(torch.equal(final[k], v) for k, v in recorder.weights[2].items())


def test_patience_counts_epochs_without_improvement() -> None:
    config = train_config(epochs=10, patience=3, monitor="loss", schedule="constant")
    history = fit(make_net(), token_split(160, 0), token_split(40, 1, invert=True), config, labels=LABELS)
    assert len(history.epochs) == 4 and history.best_epoch == 1 and history.stopped_early


@pytest.mark.parametrize("schedule", ["linear", "one_cycle", "plateau", "constant"])
def test_every_schedule_trains(schedule: str) -> None:
    config = train_config(schedule=schedule, epochs=2)
    history = fit(make_net(), token_split(96, 0), token_split(32, 1), config, labels=LABELS)
    rates = [e.learning_rate for e in history.epochs]
    assert len(rates) == 2 and all(r >= 0 for r in rates)
    if schedule == "constant":
        assert rates == [pytest.approx(1e-2)] * 2
    if schedule == "linear":
        assert rates[-1] == pytest.approx(0.0, abs=1e-12)  # decays to zero at the last step


@pytest.mark.parametrize("monitor", ["accuracy", "loss", "macro_f1"])
def test_monitor_decides_the_best_epoch(monitor: str) -> None:
    history = fit(
        make_net(), token_split(96, 0), token_split(32, 1), train_config(monitor=monitor, patience=3), labels=LABELS
    )
    values = {
        "accuracy": [e.val_accuracy for e in history.epochs],
        "macro_f1": [e.val_macro_f1 for e in history.epochs],
        "loss": [-e.val_loss for e in history.epochs],
    }[monitor]
    assert history.best_score == max(values) and history.best_epoch == values.index(max(values)) + 1


def test_class_weights_change_training() -> None:
    results = []
    for weights in (None, torch.tensor([1.0, 5.0])):
        net = make_net()
        fit(net, token_split(96, 0), token_split(32, 1), train_config(epochs=1), labels=LABELS, class_weights=weights)
        results.append(net.head.bias.detach().clone())
    assert not torch.equal(*results)


def test_head_l2_shrinks_the_output_layer() -> None:
    norms = []
    for head_l2 in (0.0, 0.5):
        net = make_net()
        fit(
            net, token_split(160, 0), token_split(40, 1), train_config(head_l2=head_l2, weight_decay=0.0), labels=LABELS
        )
        norms.append(float(net.head.weight.detach().norm()))
    assert norms[1] < 0.8 * norms[0]


@pytest.mark.parametrize("sampling", ["smote", "balanced_batches"])
def test_rebalancing_trains_deterministically_and_resumes_bit_for_bit(sampling: str, tmp_path: Path) -> None:
    train, validation = token_split(200, 0), token_split(40, 1)
    train.targets[:150] = 1  # skew the classes so there is something to rebalance
    config = train_config(sampling=sampling, epochs=3, patience=3)
    nets = [make_net(), make_net()]
    for net in nets:
        fit(net, train, validation, config, labels=LABELS)
    assert all(torch.equal(a, b) for a, b in zip(nets[0].state_dict().values(), nets[1].state_dict().values()))
    path = tmp_path / "run.ckpt"
    interrupted = make_net()
    with pytest.raises(KeyboardInterrupt):
        fit(
            interrupted,
            train,
            validation,
            config,
            labels=LABELS,
            checkpoint=CheckpointSpec(path),
            callback=Recorder(interrupt_at=3),
        )
    resumed = make_net()
    fit(
        resumed, train, validation, config, labels=LABELS, checkpoint=CheckpointSpec(path), resume=read_checkpoint(path)
    )
    assert all(torch.equal(a, b) for a, b in zip(nets[0].state_dict().values(), resumed.state_dict().values()))


def test_gradient_norms_are_recorded_per_layer_every_epoch() -> None:
    net = make_net()
    history = fit(net, token_split(160, 0), token_split(40, 1), train_config(epochs=2, patience=2), labels=LABELS)
    for epoch in history.epochs:
        assert set(epoch.gradient_norms) == {"embedding", "forward_rnns.0", "backward_rnns.0", "attention", "head"}
        assert all(0 < norm < 100 for norm in epoch.gradient_norms.values())
    assert History.from_dict(history.to_dict()) == history


def test_gradient_norms_warn_when_they_vanish_or_explode(caplog: pytest.LogCaptureFixture) -> None:
    net = make_net()
    for parameter in net.parameters():
        parameter.grad = torch.zeros_like(parameter)
    net.head.weight.grad.fill_(1e3)
    norms = GradientNorms()
    norms.add(net)
    norms.add(net)
    means = norms.means()
    assert means["embedding"] == 0.0 and means["head"] == pytest.approx(1e3 * net.head.weight.numel() ** 0.5)
    with caplog.at_level(logging.WARNING, logger="sentilstm.training.loop"):
        norms.warn(3)
    messages = [r.getMessage() for r in caplog.records]
    assert any("epoch 3: the gradient of embedding vanished" in m for m in messages)
    assert any("epoch 3: the gradient of head exploded" in m and "lower the learning rate" in m for m in messages)
    assert not any("attention" in m for m in messages if "exploded" in m)


def test_fit_validates_config() -> None:
    with pytest.raises(ConfigError, match="epochs"):
        fit(make_net(), token_split(8, 0), token_split(8, 1), train_config(epochs=0), labels=LABELS)


def test_cuda_random_states_come_back_in_device_order_and_gaps_are_refused(tmp_path: Path) -> None:
    from sentilstm.artifact.format import read_file, write_file
    from sentilstm.training.loop import cuda_rng_states

    states = {f"rng.cuda.{i}": torch.full((4,), i, dtype=torch.uint8) for i in range(12)}
    assert [int(state[0]) for state in cuda_rng_states(states)] == list(range(12))  # not 0, 1, 10, 11, 2, ...
    path = tmp_path / "run.sentilstm.ckpt"
    fit(
        make_net(),
        token_split(64, 0),
        token_split(32, 1),
        train_config(epochs=1),
        labels=LABELS,
        checkpoint=CheckpointSpec(path),
    )
    tensors, payload = read_file(path, kind="checkpoint")
    write_file(path, {**tensors, **states}, payload, "checkpoint")
    assert len(cuda_rng_states(read_checkpoint(path)[0])) == 12
    del states["rng.cuda.3"]
    write_file(path, {**tensors, **states}, payload, "checkpoint")
    with pytest.raises(ArtifactError, match=r"CUDA random states must be named rng.cuda.0 .. rng.cuda.10"):
        read_checkpoint(path)


def test_checkpoint_written_after_every_epoch(tmp_path: Path) -> None:
    path = tmp_path / "run.sentilstm.ckpt"
    seen: list[int] = []

    class Check(TrainingCallback):
        def on_epoch_start(self, epoch: int, num_epochs: int, num_batches: int) -> None:
            if epoch == 1:
                assert not path.exists()
            else:
                seen.append(len(read_checkpoint(path)[1]["training"]["history"]["epochs"]))

    fit(
        make_net(),
        token_split(64, 0),
        token_split(32, 1),
        train_config(epochs=3, patience=3),
        labels=LABELS,
        checkpoint=CheckpointSpec(path, {"note": "caller payload"}),
        callback=Check(),
    )
    assert seen == [1, 2]
    tensors, payload = read_checkpoint(path)
    assert payload["note"] == "caller payload"
    assert len(payload["training"]["history"]["epochs"]) == 3
    assert any(k.startswith("model.") for k in tensors) and any(k.startswith("optimizer.") for k in tensors)
    assert any(k.startswith("best.") for k in tensors) and "rng.torch" in tensors
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary files left


def test_resume_with_other_training_data_raises(tmp_path: Path) -> None:
    path = tmp_path / "run.ckpt"
    fit(
        make_net(),
        token_split(64, 0),
        token_split(32, 1),
        train_config(epochs=1),
        labels=LABELS,
        checkpoint=CheckpointSpec(path),
    )
    with pytest.raises(ArtifactError, match="different training data"):
        fit(
            make_net(),
            token_split(64, 5),
            token_split(32, 1),
            train_config(epochs=2),
            labels=LABELS,
            resume=read_checkpoint(path),
        )


# ----- resuming through the classifier ---------------------------------------------------------------
RESUME_PARAMS = {**TINY, "epochs": 4, "patience": 10}  # dropout stays on: the RNG state must be restored


@pytest.fixture(scope="module")
def resume_data() -> tuple[list[str], list[int]]:
    return make_negation_data(240, seed=3)


@pytest.fixture(scope="module")
def uninterrupted(
    resume_data: tuple[list[str], list[int]], tmp_path_factory: pytest.TempPathFactory
) -> SentimentClassifier:
    path = tmp_path_factory.mktemp("full") / "full.ckpt"
    return SentimentClassifier(**RESUME_PARAMS).fit(*resume_data, checkpoint_path=path)


def _interrupted_run(path: Path, data: tuple[list[str], list[int]]) -> None:
    with pytest.raises(KeyboardInterrupt):
        SentimentClassifier(**RESUME_PARAMS).fit(*data, checkpoint_path=path, callback=Recorder(interrupt_at=3))


def test_resume_continues_exactly_where_training_stopped(
    tmp_path: Path, resume_data: tuple[list[str], list[int]], uninterrupted: SentimentClassifier
) -> None:
    path = tmp_path / "run.ckpt"
    _interrupted_run(path, resume_data)
    assert len(read_checkpoint(path)[1]["training"]["history"]["epochs"]) == 2
    recorder = Recorder()
    resumed = SentimentClassifier(**RESUME_PARAMS).fit(
        *resume_data, checkpoint_path=path, resume=True, callback=recorder
    )
    assert [c for c in recorder.calls if c[0] == "start"] == [("start", 3), ("start", 4)]
    assert [e.train_loss for e in resumed.history_.epochs] == pytest.approx(
        [e.train_loss for e in uninterrupted.history_.epochs], abs=1e-6
    )
    for (name, a), b in zip(uninterrupted.model_.state_dict().items(), resumed.model_.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0, msg=name)
    texts = make_negation_data(50, seed=99)[0]
    np.testing.assert_allclose(resumed.predict_proba(texts), uninterrupted.predict_proba(texts), atol=1e-5)


def test_resume_with_other_options_raises(tmp_path: Path, resume_data: tuple[list[str], list[int]]) -> None:
    path = tmp_path / "run.ckpt"
    _interrupted_run(path, resume_data)
    with pytest.raises(ConfigError, match="other options"):
        other_options = SentimentClassifier(**{**RESUME_PARAMS, "learning_rate": 1e-3})
        other_options.fit(*resume_data, checkpoint_path=path, resume=True)


def test_resume_with_other_data_raises(tmp_path: Path, resume_data: tuple[list[str], list[int]]) -> None:
    path = tmp_path / "run.ckpt"
    _interrupted_run(path, resume_data)
    other = make_negation_data(240, seed=4)
    with pytest.raises(ArtifactError, match="different training data"):
        SentimentClassifier(**RESUME_PARAMS).fit(*other, checkpoint_path=path, resume=True)


def test_resume_needs_a_checkpoint_path(resume_data: tuple[list[str], list[int]]) -> None:
    with pytest.raises(ConfigError, match="checkpoint_path"):
        SentimentClassifier(**RESUME_PARAMS).fit(*resume_data, resume=True)


def test_resume_without_a_checkpoint_file_starts_fresh(
    tmp_path: Path,
    resume_data: tuple[list[str], list[int]],
    uninterrupted: SentimentClassifier,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "never-written.ckpt"
    with caplog.at_level(logging.WARNING, logger="sentilstm.estimators.classifier"):
        clf = SentimentClassifier(**RESUME_PARAMS).fit(*resume_data, checkpoint_path=path, resume=True)
    assert "no checkpoint" in caplog.text and path.exists()
    for a, b in zip(uninterrupted.model_.state_dict().values(), clf.model_.state_dict().values()):
        assert torch.equal(a, b)


def test_resume_from_a_model_file_raises(resume_data: tuple[list[str], list[int]], trained_model_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not a checkpoint"):
        SentimentClassifier(**RESUME_PARAMS).fit(*resume_data, checkpoint_path=trained_model_path, resume=True)


def test_a_loss_that_becomes_nan_is_a_training_error_saying_what_to_change() -> None:
    """NaN in the weights (e.g. from pretrained vectors holding NaN) or a runaway learning rate: a typed, one-line
    error (the CLI's exit code 2), not a bare FloatingPointError traceback."""
    from sentilstm.errors import SentilstmError, TrainingError

    data = token_split(64, seed=1)
    net = SentimentNet(ModelConfig(embedding_rows=20, num_classes=2, embedding_dim=8, hidden_size=8))
    with torch.no_grad():
        net.embedding.weight[3] = float("nan")
    config = TrainConfig(epochs=1, batch_size=64, num_threads=1, device="cpu")
    with pytest.raises(
        TrainingError, match="training loss became nan; lower the learning rate or the weight decay"
    ) as caught:
        fit(net, data, token_split(8, seed=2), config, labels=[0, 1])
    assert isinstance(caught.value, SentilstmError) and isinstance(caught.value, FloatingPointError)
    with pytest.raises(ConfigError, match="weight_decay must be between 0.0 and 10.0, got 1e"):
        TrainConfig(weight_decay=1e300).validate()
