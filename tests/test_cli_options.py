"""Options of `train`, `cv` and `tune` that come from the config dataclasses: defaults and choices never copied by
hand, every field reachable through --set/--params, bad values failing while the command line is parsed."""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from pathlib import Path
from typing import Any

import pytest
import typer

from helpers import error_line, invoke_cli, make_negation_data
from sentilstm.cli import app
from sentilstm.cli.options import FLAG_FIELDS
from sentilstm.cli.training import LAUNCH_OPTIONS, _worker_command
from sentilstm.config import DERIVED_MODEL_FIELDS, BlendConfig, ModelConfig, TextConfig, TrainConfig
from sentilstm.estimators.classifier import SentimentClassifier, load_model
from sentilstm.network.pooling import POOLINGS

# the smallest cv/tune recipe: one epoch of an 8-unit network, no blend
CV_TUNE_TINY = ["--epochs", "1", "--embedding-dim", "8", "--hidden-size", "8", "--threads", "1", "--blend", "none"]
TINY = [
    "--embedding-dim",
    "16",
    "--hidden-size",
    "16",
    "--epochs",
    "1",
    "--min-frequency",
    "1",
    "--threads",
    "1",
    "--blend",
    "none",
    "--no-report",
]


def command(name: str) -> Any:
    return typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]


def config_fields() -> list[str]:
    return [
        f.name
        for config in (TextConfig, ModelConfig, TrainConfig, BlendConfig)
        for f in dataclasses.fields(config)
        if not (config is ModelConfig and f.name in DERIVED_MODEL_FIELDS) and f.name != "blend"  # --blend
    ]


@pytest.fixture
def table(tmp_path: Path) -> Path:
    texts, labels = make_negation_data(120, seed=0)
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in zip(texts, labels)))
    return path


@pytest.mark.parametrize("verb", ["train", "cv", "tune"])
def test_every_cli_default_is_the_config_default(verb: str) -> None:
    defaults = SentimentClassifier().get_params()  # the config dataclasses' defaults, and the classifier's own
    checked = 0
    for param in command(verb).params:
        key = FLAG_FIELDS.get(param.name, param.name)
        if key in defaults and not (verb != "train" and key == "seed"):  # cv's and tune's --seed are their own
            expected = "none" if key == "blend" and defaults[key] is None else defaults[key]
            assert param.default == expected, (param.name, param.default, expected)
            checked += 1
    assert checked >= 40


def test_literal_flags_list_their_choices_and_fail_while_parsing(table: Path) -> None:
    text = invoke_cli("train", "--help").stdout
    for kind, values in (
        ("cell", "lstm|gru"),
        ("pooling", "|".join(POOLINGS)),  # every registered pooling, the built-in ones first
        ("sampling", "none|oversample|undersample|balanced_batches|smote"),
    ):
        assert f"[{values}]" in text, kind
    # parsed before anything else: the missing DATA file would be the error otherwise
    line = error_line(invoke_cli("train", table.parent / "missing.csv", "--monitor", "auc"))
    assert line == "error: monitor must be one of ['macro_f1', 'accuracy', 'loss'], got 'auc'"


def test_every_config_field_is_settable() -> None:
    from sentilstm.cli.options import parse_assignments

    params = SentimentClassifier().get_params()
    assert set(config_fields()) <= set(params)
    for verb in ("train", "cv", "tune"):
        names = {p.name for p in command(verb).params}
        assert {"settings", "params_file"} <= names, verb
    assert parse_assignments(
        [
            "lowercase=false",
            "truncation=head",
            "max_grad_norm=0.5",
            "warmup_fraction=0.2",
            "validation_fraction=0.2",
            "bucket_pool=5",
            "conv_kernel_size=5",
        ],
        "lstm",
    ) == {
        "lowercase": False,
        "truncation": "head",
        "max_grad_norm": 0.5,
        "warmup_fraction": 0.2,
        "validation_fraction": 0.2,
        "bucket_pool": 5,
        "conv_kernel_size": 5,
    }


def test_train_set_and_params_reach_the_model(table: Path, tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("lowercase: false\nwarmup_fraction: 0.2\ntruncation: tail\n")
    out = tmp_path / "m.sentilstm"
    result = invoke_cli(
        "train",
        table,
        "--out",
        out,
        *TINY,
        "--params",
        params,
        "--set",
        "truncation=head",
        "--set",
        "bucket_pool=5",
        "--set",
        "validation_fraction=0.2",
        "--set",
        "max_grad_norm=0.5",
        "--set",
        "seed=3",
    )
    assert result.exit_code == 0, result.output
    saved = load_model(out).get_params()
    assert (saved["lowercase"], saved["warmup_fraction"], saved["truncation"]) == (False, 0.2, "head")
    assert (saved["bucket_pool"], saved["validation_fraction"], saved["max_grad_norm"]) == (5, 0.2, 0.5)
    assert saved["embedding_dim"] == 16 and saved["seed"] == 3  # given flags count; --set overrides flag defaults


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "epochs=3"], "epochs is given twice, as --epochs and in --set/--params"),
        (["--set", "truncaton=head"], "did you mean 'truncation'"),
        (["--set", "truncation=middle"], "truncation must be one of ['head', 'tail', 'head_tail'], got 'middle'"),
        (["--set", "warmup_fraction=0.9"], "warmup_fraction must be between 0.0 and 0.5"),
        (["--set", "bucket_pool=many"], "--set bucket_pool=many: bucket_pool takes int"),
    ],
)
def test_train_bad_settings(args: list[str], message: str, table: Path, tmp_path: Path) -> None:
    line = error_line(invoke_cli("train", table, "--out", tmp_path / "m.sentilstm", *TINY, *args))
    assert message in line
    assert {p.name for p in tmp_path.iterdir()} == {"train.jsonl"}


def test_params_file_errors_on_train_and_tune(table: Path, tmp_path: Path) -> None:
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"warmup_fractoin": 0.1}))
    for verb in ("train", "tune", "cv"):
        line = error_line(
            invoke_cli(
                verb,
                table,
                "--params",
                params,
                "--out" if verb != "cv" else "--json",
                tmp_path / "out.x",
                "--no-report",
            )
        )
        assert "did you mean 'warmup_fraction'" in line, verb
    assert {p.name for p in tmp_path.iterdir()} == {"train.jsonl", "p.json"}


def test_worker_command_repeats_given_options_only() -> None:
    train = command("train")
    ctx = train.make_context(
        "train",
        [
            "data.csv",
            "--epochs",
            "3",
            "--set",
            "truncation=head",
            "--set",
            "seed=1",
            "--unidirectional",
            "--nproc-per-node",
            "2",
        ],
    )
    assert _worker_command(ctx, exclude=LAUNCH_OPTIONS) == [
        "train",
        "data.csv",
        "--unidirectional",
        "--epochs",
        "3",
        "--set",
        "truncation=head",
        "--set",
        "seed=1",
    ]


def test_config_literals_cover_the_train_choices() -> None:
    """A Literal type gained a value: the flag offers it without an edit to the CLI."""
    hints = typing.get_type_hints(TrainConfig)
    assert "[" + "|".join(typing.get_args(hints["schedule"])) + "]" in invoke_cli("train", "--help").stdout


def test_cv_takes_the_model_flags(table: Path, tmp_path: Path) -> None:
    out = tmp_path / "cv.json"
    result = invoke_cli(
        "cv",
        table,
        "--folds",
        "2",
        "--json",
        out,
        "--no-report",
        *CV_TUNE_TINY,
        "--set",
        "truncation=head",
    )
    assert result.exit_code == 0, result.output
    params = json.loads(out.read_text())["params"]
    assert params == {
        "truncation": "head",
        "epochs": 1,
        "embedding_dim": 8,
        "hidden_size": 8,
        "num_threads": 1,
        "blend": None,
    }  # only what was given: the flags' defaults are the classifier's anyway


@pytest.mark.parametrize(
    "verb, args, message",
    [
        ("cv", ["--estimator", "nbsvm", "--epochs", "2"], "'epochs' is not a parameter of the nbsvm baseline"),
        ("cv", ["--cell", "gru", "--set", "cell=lstm"], "cell is given twice, as --cell and in --set/--params"),
        ("cv", ["--pooling", "sum"], "pooling must be one of"),
        ("tune", ["--epochs", "2", "--set", "epochs=3"], "epochs is given twice"),
        ("tune", ["--schedule", "cosine"], "schedule must be one of"),
    ],
)
def test_cv_and_tune_flag_errors(verb: str, args: list[str], message: str, table: Path, tmp_path: Path) -> None:
    line = error_line(invoke_cli(verb, table, "--no-report", *args))
    assert message in line
    assert {p.name for p in tmp_path.iterdir()} == {"train.jsonl"}


def test_tune_flags_fix_parameters(table: Path, tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("extend_default: false\ndropout: {type: categorical, choices: [0.1, 0.3]}\n")
    out = tmp_path / "m.sentilstm"
    result = invoke_cli(
        "tune",
        table,
        "--trials",
        "1",
        "--space",
        space,
        "--out",
        out,
        "--no-report",
        *CV_TUNE_TINY,
        "--set",
        "min_frequency=1",
    )
    assert result.exit_code == 0, result.output
    saved = load_model(out).get_params()
    assert (saved["epochs"], saved["embedding_dim"], saved["min_frequency"], saved["blend"]) == (1, 8, 1, None)


@pytest.mark.parametrize("verb", ["train", "baseline", "cv", "tune", "evaluate", "predict", "export", "serve"])
def test_help_names_only_options_the_verb_has(verb: str) -> None:
    """Regression (issue 15): cv and tune showed train's texts naming --unlabeled and --nproc-per-node."""
    elsewhere = {"export": {"--backend"}}  # "where `predict --backend` finds it": another verb's option, named so
    params = command(verb).params
    own = {name for p in params for name in [*p.opts, *getattr(p, "secondary_opts", [])]}
    texts = [command(verb).help or "", *(getattr(p, "help", None) or "" for p in params)]
    named = {name for text in texts for name in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text)}
    assert named - own <= elsewhere.get(verb, set())


def test_help_comes_from_the_config() -> None:
    from sentilstm.config import FIELD_HELP

    assert set(FIELD_HELP) == set(config_fields())  # a new config field needs its line of help
    params = {FLAG_FIELDS.get(p.name, p.name): p for p in command("train").params}
    cli_specific = {"batch_size", "num_threads"}  # their help adds what --nproc-per-node does to them
    for key, text in FIELD_HELP.items():
        shown = params[key].help if key in params else params["settings"].help
        assert text in shown or key in cli_specific, key
    assert params["cell"].help == "Recurrent cell (GRU is ~25% cheaper): lstm or gru."
    assert (
        "truncation: Which tokens a text longer than max_length keeps: head, tail or head_tail."
        in params["settings"].help
    )
