"""Data-parallel training: the sampler's shards, the loss scaling, and a real 2-process gloo run through the CLI
that must reproduce a one-process run with the same global batch size."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from helpers import make_negation_data
from sentilstm import load_model
from sentilstm.cli import app
from sentilstm.config import TrainConfig
from sentilstm.errors import ConfigError
from sentilstm.training.distributed import LaunchOptions, shard
from sentilstm.training.loop import BatchShare, FocalLoss, example_losses, global_batches


@pytest.mark.parametrize("sampling", ["none", "oversample", "balanced_batches"])
@pytest.mark.parametrize("world", [2, 3])
def test_rank_shards_partition_every_global_batch(sampling: str, world: int) -> None:
    rng = np.random.default_rng(0)
    targets, lengths = rng.integers(0, 3, size=101), rng.integers(1, 60, size=101)
    config = TrainConfig(batch_size=8, bucket_pool=3, seed=5, sampling=sampling)
    epochs = {}
    for epoch in (1, 2):
        batches = global_batches(targets, lengths, config, epoch)
        again = global_batches(targets, lengths, config, epoch)  # what another rank computes
        assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))
        for batch in batches:
            shards = [shard(batch, r, world) for r in range(world)]
            assert sorted(np.concatenate(shards).tolist()) == sorted(batch.tolist())  # union is the batch
            assert sum(len(s) for s in shards) == len(batch)  # and the shards are disjoint
            assert max(len(s) for s in shards) - min(len(s) for s in shards) <= 1
        epochs[epoch] = np.concatenate(batches)
    assert not np.array_equal(epochs[1], epochs[2])  # reshuffled every epoch


@pytest.mark.parametrize(
    "loss_fn",
    [
        nn.CrossEntropyLoss(),
        nn.CrossEntropyLoss(weight=torch.tensor([0.3, 1.0, 2.5])),
        FocalLoss(2.0),
        FocalLoss(1.5, torch.tensor([2.0, 0.5, 1.0])),
    ],
)
def test_rank_losses_average_to_the_global_batch_gradient(loss_fn: nn.Module) -> None:
    torch.manual_seed(0)
    head = nn.Linear(4, 3)
    features, targets = torch.randn(7, 4), torch.tensor([0, 1, 2, 2, 0, 1, 1])
    head.zero_grad()
    loss_fn(head(features), targets).backward()
    expected = head.weight.grad.clone()
    weight = getattr(loss_fn, "weight", None)
    denominator = float(weight[targets].sum()) if weight is not None else float(len(targets))
    world, averaged = 3, torch.zeros_like(expected)
    for r in range(world):  # 3 ranks, uneven shards of 3/2/2 rows, as DDP would average them
        rows = torch.arange(7)[r::world]
        head.zero_grad()
        share = BatchShare(torch.ones(len(rows)), denominator, world)
        loss = (example_losses(loss_fn, head(features[rows]), targets[rows]) * share.keep).sum() * world / denominator
        loss.backward()
        averaged += head.weight.grad / world
    torch.testing.assert_close(averaged, expected)


def _write_csv(path: Path, texts: list[str], labels: list[int]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels))
    return path


def _sentilstm(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "sentilstm", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_two_gloo_processes_reproduce_one_process(tmp_path: Path) -> None:
    # 253 training texts in global batches of 12: uneven shards, and a last batch of 1 text leaves rank 1 a stand-in
    train = _write_csv(tmp_path / "train.csv", *make_negation_data(253, seed=0))
    validation = _write_csv(tmp_path / "validation.csv", *make_negation_data(41, seed=1))
    held_out, _ = make_negation_data(50, seed=2)
    args = [
        "train",
        str(train),
        "--validation",
        str(validation),
        "--embedding-dim",
        "16",
        "--hidden-size",
        "16",
        "--epochs",
        "3",
        "--batch-size",
        "12",
        "--min-frequency",
        "1",
        "--dropout",
        "0",
        "--blend",
        "none",
        "--class-weight",
        "balanced",
        "--loss",
        "focal",
        "--freeze-embeddings",
        "1",
        "--patience",
        "5",
        "--device",
        "cpu",
        "--out",
        "model.sentilstm",
        "--metrics-json",
        "metrics.json",
    ]
    runs = {}
    for name, extra in (("one", ["--threads", "1"]), ("two", ["--nproc-per-node", "2"])):
        (tmp_path / name).mkdir()
        done = _sentilstm([*args, *extra], tmp_path / name)
        assert done.returncode == 0, done.stderr[-3000:]
        runs[name] = load_model(tmp_path / name / "model.sentilstm")
    assert "in 2 processes" in " ".join(done.stderr.split())  # rich wraps lines
    one, two = runs["one"], runs["two"]
    assert [e.steps for e in two.history_.epochs] == [e.steps for e in one.history_.epochs] == [22, 22, 22]
    for a, b in zip(one.history_.epochs, two.history_.epochs, strict=True):
        for metric in ("train_loss", "val_loss", "val_accuracy", "val_macro_f1"):
            assert getattr(a, metric) == pytest.approx(getattr(b, metric), abs=1e-5), metric
    assert two.history_.best_epoch == one.history_.best_epoch
    for key, value in one.model_.state_dict().items():
        torch.testing.assert_close(two.model_.state_dict()[key], value, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(two.predict_proba(held_out), one.predict_proba(held_out), atol=1e-4)
    # only rank 0 wrote files, the same ones as the one-process run (no checkpoint left, nothing from rank 1)
    files = {
        name: sorted(p.relative_to(tmp_path / name).as_posix() for p in (tmp_path / name).rglob("*")) for name in runs
    }
    assert files["two"] == files["one"]
    assert "model.sentilstm" in files["two"] and "model.report.html" in files["two"]


@pytest.mark.parametrize("count", ["0", str(10**12)])
def test_nproc_per_node_must_be_between_one_and_the_cpus(tmp_path: Path, count: str) -> None:
    data = _write_csv(tmp_path / "train.csv", *make_negation_data(40, seed=0))
    result = CliRunner().invoke(app, ["train", str(data), "--nproc-per-node", count])
    assert result.exit_code == 2
    most = max(2, len(os.sched_getaffinity(0)))
    lines = result.output.strip().splitlines()
    assert lines == [f"error: --nproc-per-node must be a whole number between 1 and {most:,}, got {count}"]
    assert not list(Path.cwd().iterdir())  # nothing written, nothing launched


@pytest.mark.parametrize(
    "options, message",
    [
        ({"node_rank": -1}, r"--node-rank must be a whole number between 0 and 0, got -1"),
        ({"node_rank": 10**12}, r"--node-rank must be a whole number between 0 and 0, got 1000000000000"),
        ({"node_rank": 2, "nnodes": "2", "rdzv_endpoint": "node0:29400"}, r"between 0 and 1, got 2"),
        ({"nnodes": "0"}, r"--nnodes must be a machine count N or a range MIN:MAX .*got '0'"),
        ({"nnodes": "4:2"}, r"got '4:2'"),
        ({"nnodes": "1e300"}, r"got '1e300'"),
    ],
)
def test_machine_count_and_rank_are_checked(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LaunchOptions(1, **options).validate()
    LaunchOptions(1, nnodes="1:3", node_rank=2, rdzv_endpoint="node0:29400").validate()


def test_distributed_refuses_what_it_cannot_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _write_csv(tmp_path / "train.csv", *make_negation_data(40, seed=0))
    result = CliRunner().invoke(app, ["train", str(data), "--nproc-per-node", "2", "--sampling", "smote"])
    assert result.exit_code == 2 and "sampling='smote'" in result.output
    with pytest.raises(ConfigError, match="--rdzv-endpoint"):
        LaunchOptions(2, nnodes="2").validate()
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="inside a torchrun worker"):
        LaunchOptions(2).validate()


def test_multi_node_options_reach_torchrun() -> None:
    options = LaunchOptions(4, nnodes="2", rdzv_endpoint="node0:29400", rdzv_id="job7")
    args = options.torchrun_args()
    assert args[args.index("--rdzv-endpoint") + 1] == "node0:29400" and args[args.index("--rdzv-id") + 1] == "job7"
    assert args[args.index("--rdzv-backend") + 1] == "c10d" and args[args.index("--nnodes") + 1] == "2"
    assert "--standalone" in LaunchOptions(2).torchrun_args()
