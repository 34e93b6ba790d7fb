"""Hyperparameter search (src/sentilstm/tuning.py and `sentilstm tune`): the default space is valid and covers the
library's options, space files override it, the study persists and resumes to its target (after a finished run,
an interrupted one, and a worker that died mid-trial), pruning stops training, failures are recorded, the best
configuration is retrained and saved, CV works as the objective, two processes share one study, and user
errors are one-line typed errors.

Every search is tiny: 240 texts, a 16-unit network, 2-3 epochs, 2-3 searched parameters, 2-5 trials.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any, get_args

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from helpers import TINY, invoke_cli, make_negation_data
from sentilstm import SearchSpace, SentimentClassifier, TuneResult, tune
from sentilstm.config import Cell, ModelConfig, TextConfig, TokenizerKind, TrainConfig, from_dict
from sentilstm.data.databases import with_installed_driver
from sentilstm.errors import ConfigError
from sentilstm.network.pooling import POOLINGS
from sentilstm.selection import tuning

SMALL_SPACE: dict[str, Any] = {  # TINY fixes hidden_size & co, and a fixed parameter leaves the search
    "extend_default": False,
    "dropout": {"type": "categorical", "choices": [0.1, 0.3]},
    "learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True},
}


@pytest.fixture(scope="module")
def data() -> tuple[list[str], list[int]]:
    return make_negation_data(240, seed=1)


def states(study: optuna.Study) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in study.trials:
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def search(data: tuple[list[str], list[int]], tmp_path: Path, **options: Any) -> TuneResult:
    """A tiny search with the study in tmp_path/model.study.db; options override the defaults here."""
    settings: dict[str, Any] = dict(
        trials=3, space=SMALL_SPACE, base_params=TINY, out=tmp_path / "model.sentilstm", retrain=False
    )
    return tune(*data, **{**settings, **options})


# ----- the search space ------------------------------------------------------------------------------
def test_default_space_covers_the_library_options_and_every_draw_is_a_valid_configuration() -> None:
    space = SearchSpace.default()
    assert set(space.specs) <= set(SentimentClassifier().get_params())
    assert set(space.specs) >= {
        "cell",
        "bidirectional",
        "num_layers",
        "hidden_size",
        "embedding_dim",
        "dropout",
        "pooling",
        "conv_channels",
        "learning_rate",
        "weight_decay",
        "batch_size",
        "max_length",
        "tokenizer",
        "vocab_size",
        "class_weight",
    }
    assert set(space.specs["cell"]["choices"]) == set(get_args(Cell))
    assert set(space.specs["pooling"]["choices"]) == set(POOLINGS)
    assert set(space.specs["tokenizer"]["choices"]) == set(get_args(TokenizerKind))
    assert None in space.specs["max_length"]["choices"] and None in space.specs["class_weight"]["choices"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(40):
        trial = study.ask()
        params = space.suggest(trial)
        for cls in (TextConfig, ModelConfig, TrainConfig):
            from_dict(cls, params).validate()
        case = space.specs["vocab_size"]["cases"][params["tokenizer"]]
        assert params["vocab_size"] in case["choices"]  # the conditional draws from the tokenizer's own range
        assert f"vocab_size.{params['tokenizer']}" in trial.params  # one Optuna parameter per case
        assert space.decode(trial.params) == params


def test_decode_turns_optuna_parameters_back_into_classifier_arguments() -> None:
    space = SearchSpace.default()
    params = space.suggest(
        optuna.trial.FixedTrial(
            {
                **{
                    n: s["choices"][0] if s["type"] == "categorical" else s["low"]
                    for n, s in space.specs.items()
                    if s["type"] != "conditional"
                },
                "vocab_size.word": 30_000,
            }
        )
    )
    assert params["vocab_size"] == 30_000 and params["tokenizer"] == "word"
    assert "vocab_size.word" not in params


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_space_file_fixes_replaces_and_extends_the_default(tmp_path: Path, suffix: str) -> None:
    entries = {
        "cell": "gru",  # fixed
        "dropout": {"type": "float", "low": 0.2, "high": 0.6},  # a new range
        "patience": {"type": "int", "low": 1, "high": 3},  # not in the default space
        "tokenizer": {"type": "categorical", "choices": ["word", "bpe"]},
        "max_length": None,
    }
    path = tmp_path / f"space{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(entries))
    else:
        path.write_text(
            "cell: gru\ndropout: {type: float, low: 0.2, high: 0.6}\npatience:\n  type: int\n  low: 1\n"
            "  high: 3\ntokenizer: {type: categorical, choices: [word, bpe]}\nmax_length: null\n"
        )
    space = SearchSpace.load(path)
    assert space.specs["cell"] == {"type": "fixed", "value": "gru"}
    assert space.specs["dropout"] == {"type": "float", "low": 0.2, "high": 0.6}
    assert space.specs["patience"]["high"] == 3 and space.specs["max_length"] == {"type": "fixed", "value": None}
    assert space.specs["pooling"] == tuning.DEFAULT_SPACE["pooling"]  # untouched entries stay
    assert "cell" not in space.searched and "patience" in space.searched
    params = space.suggest(optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1)).ask())
    assert params["cell"] == "gru" and params["max_length"] is None and 1 <= params["patience"] <= 3


def test_extend_default_false_starts_from_an_empty_space() -> None:
    space = SearchSpace.load(SMALL_SPACE)
    assert list(space.specs) == ["dropout", "learning_rate"]


@pytest.mark.parametrize(
    "entries, expected",
    [
        ({"hiden_size": 64}, "'hiden_size' is not a SentimentClassifier parameter; did you mean 'hidden_size'"),
        ({"pooling": {"type": "categorical", "choices": ["sum"]}}, "'pooling': pooling must be one of"),
        ({"cell": {"type": "categorical"}}, "'cell': a categorical spec has no ['choices']"),
        ({"dropout": {"type": "float", "low": 0.5, "high": 0.1}}, "'dropout': low and high must be float numbers"),
        ({"learning_rate": {"type": "float", "low": 0.0, "high": 0.1, "log": True}}, "'learning_rate': log must be"),
        ({"num_layers": {"type": "int", "low": 1, "high": 2.5}}, "'num_layers': low and high must be int"),
        ({"batch_size": {"type": "range", "low": 8}}, "'batch_size': 'type' must be one of"),
        ({"class_weight": {"pos": 2.0}}, "'class_weight': 'type' must be one of"),
        (
            {"dropout": {"type": "float", "low": 0.1, "high": 0.2, "q": 0.1}},
            "'dropout': a float spec has unknown keys ['q']",
        ),
        ({"hidden_size": "big"}, "'hidden_size': hidden_size must be a whole number, got 'big'"),
        ({"vocab_size": {"type": "conditional", "on": "tokeniser", "cases": {"word": 100}}}, "'on' must name"),
        ({"extend_default": "yes"}, "extend_default must be true or false"),
    ],
)
def test_malformed_space_entries_are_config_errors_naming_the_key(entries: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        SearchSpace.load(entries)
    assert expected in str(error.value)


def test_unreadable_space_files_are_config_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("cell: [gru\n")
    (tmp_path / "list.json").write_text("[1, 2]")
    for name, expected in (
        ("bad.yaml", "is not valid YAML"),
        ("list.json", "must hold a mapping"),
        ("missing.yaml", "does not exist"),
    ):
        with pytest.raises(ConfigError, match=expected):
            SearchSpace.load(tmp_path / name)


# ----- the persistent study --------------------------------------------------------------------------
def test_the_study_persists_in_sqlite_and_rerunning_resumes_to_the_target(data: Any, tmp_path: Path) -> None:
    first = search(data, tmp_path, trials=2)
    assert first.storage == f"sqlite:///{tmp_path / 'model.study.db'}" and (tmp_path / "model.study.db").is_file()
    assert states(first.study) == {"COMPLETE": 2} and first.model is None and first.model_path is None
    before = [(t.number, t.params, t.value) for t in first.study.trials]
    second = search(data, tmp_path, trials=4)  # the target total, so 2 more
    assert states(second.study) == {"COMPLETE": 4}
    assert [(t.number, t.params, t.value) for t in second.study.trials[:2]] == before
    assert len({json.dumps(t.params) for t in second.study.trials}) == 4  # the resumed sampler draws new points
    third = search(data, tmp_path, trials=4)  # already there: runs nothing
    assert len(third.study.trials) == 4
    assert len(pd.read_csv(tmp_path / "model.trials.csv")) == 4
    with pytest.raises(ConfigError, match="was made with another metric"):
        search(data, tmp_path, trials=5, metric="accuracy")
    with pytest.raises(ConfigError, match="was made with another search space"):
        search(
            data, tmp_path, trials=5, space={**SMALL_SPACE, "dropout": {"type": "categorical", "choices": [0.1, 0.2]}}
        )


def test_an_interrupted_run_resumes_and_keeps_the_finished_trials(
    data: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    class Interrupted(SentimentClassifier):
        def fit(self, *args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 3:  # Ctrl-C during the third trial
                raise KeyboardInterrupt
            return super().fit(*args, **kwargs)

    monkeypatch.setattr(tuning, "SentimentClassifier", Interrupted)
    with pytest.raises(KeyboardInterrupt):
        search(data, tmp_path, trials=4)
    monkeypatch.undo()
    study = optuna.load_study(study_name="model", storage=f"sqlite:///{tmp_path / 'model.study.db'}")
    assert states(study) == {"COMPLETE": 2, "FAIL": 1} and study.trials[2].user_attrs["error"] == "interrupted"
    before = [(t.params, t.value) for t in study.trials[:2]]
    resumed = search(data, tmp_path, trials=4)
    assert states(resumed.study) == {"COMPLETE": 4, "FAIL": 1}
    assert [(t.params, t.value) for t in resumed.study.trials[:2]] == before


def test_a_trial_left_running_by_a_dead_worker_is_failed_and_retried(
    data: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tuning, "HEARTBEAT_SECONDS", 1)
    monkeypatch.setattr(tuning, "GRACE_SECONDS", 1)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    search(data, tmp_path, trials=1, storage=url, study_name="shared")
    storage, _ = tuning._open_storage(url, None)
    study = optuna.load_study(study_name="shared", storage=storage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "heartbeat is supposed to be used with Study.optimize"
        dead = study.ask()  # a worker drew parameters, beat once, and was killed
    drawn = tuning.SearchSpace.load(SMALL_SPACE).suggest(dead)
    storage.record_heartbeat(dead._trial_id)
    time.sleep(2.5)  # longer than the grace period
    result = search(data, tmp_path, trials=3, storage=url, study_name="shared")
    trials = result.study.trials
    assert trials[1].state == TrialState.FAIL
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == 1]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE
    assert retried[0].user_attrs["params"] == drawn  # the same configuration, run again
    assert states(result.study) == {"COMPLETE": 3, "FAIL": 1}


class AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return True


def test_pruning_stops_training_after_the_reported_epoch(
    data: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = search(data, tmp_path, base_params={**TINY, "epochs": 3, "patience": 3}, pruner=AlwaysPrune())
    assert states(result.study) == {"PRUNED": 3}  # pruned trials count towards the target
    for trial in result.study.trials:
        assert list(trial.intermediate_values) == [1]  # epoch 1 reported, epochs 2-3 never trained
    table = result.trials_table()
    assert list(table["steps"]) == [1, 1, 1] and table["state"].eq("PRUNED").all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.study.db", "model.trials.csv"]  # no checkpoint
    assert result.best_params == {} and result.best_value != result.best_value
    with pytest.raises(ConfigError, match="no completed trial to retrain"):
        search(data, tmp_path, retrain=True)


def test_pruning_reports_the_chosen_metric_every_epoch(data: Any, tmp_path: Path) -> None:
    result = search(data, tmp_path, trials=1, metric="loss", base_params={**TINY, "epochs": 3, "patience": 3})
    trial = result.study.trials[0]
    assert result.direction == "minimize" and list(trial.intermediate_values) == [1, 2, 3]
    assert trial.value == pytest.approx(min(trial.intermediate_values.values()))  # loss of the kept epoch


def test_a_validation_set_given_as_iterators_serves_every_trial_and_the_retraining(data: Any, tmp_path: Path) -> None:
    texts, labels = data
    validation = (iter(texts[180:]), iter(labels[180:]))  # readable once
    result = search((texts[:180], labels[:180]), tmp_path, trials=2, validation=validation, retrain=True, out=None)
    assert states(result.study) == {"COMPLETE": 2} and result.trials_table()["error"].isna().all()
    assert result.model is not None and result.model.validation_report_.num_examples == 60


def test_a_configuration_that_raises_is_recorded_as_pruned_with_its_error(data: Any, tmp_path: Path) -> None:
    space = {**SMALL_SPACE, "augment": {"type": "categorical", "choices": [None, "bogus"]}}
    result = search(data, tmp_path, trials=4, space=space, seed=1)  # seed 1 draws "bogus" for trial 1
    table = result.trials_table()
    errored = table[table["error"].notna()]
    assert len(table) == 4 and len(errored) >= 1 and errored["state"].eq("PRUNED").all()
    assert errored["error"].str.startswith("ConfigError: augment operations must be among").all()
    assert (table["augment"] == "bogus").sum() == len(errored)
    with pytest.raises(ConfigError, match=r"the 3 trials of this run all failed, the first with: ConfigError: augment"):
        search(data, tmp_path, study_name="broken", base_params={**TINY, "augment": "bogus"})


def test_bad_options_and_base_parameters_are_config_errors(data: Any, tmp_path: Path) -> None:
    for options, expected in (
        ({"trials": -1}, "trials must be a whole number >= 0"),
        ({"metric": "f1"}, "metric must be one of"),
        ({"cv_folds": 1}, "cv_folds must be a whole number >= 2"),
        ({"cv_folds": 3, "validation": data}, "either cv_folds"),
        (
            {"base_params": {"epoch": 2}},
            "base parameter 'epoch' is not a SentimentClassifier parameter; did you mean 'epochs'",
        ),
        ({"base_params": {"epochs": 0}}, "base parameter 'epochs': epochs must be"),
        ({"storage": "nosuchdb://user:hunter2@host/db"}, "cannot open the study storage 'nosuchdb://user:***@host/db'"),
    ):
        with pytest.raises(ConfigError, match=re.escape(expected)) as error:
            search(data, tmp_path, **options)
        assert "hunter2" not in str(error.value)


def test_redact_url_hides_only_the_password() -> None:
    assert (
        tuning.redact_url("postgresql://ana:s3cr@t@db.example:5432/optuna")
        == "postgresql://ana:***@db.example:5432/optuna"
    )
    assert tuning.redact_url("sqlite:///runs/model.study.db") == "sqlite:///runs/model.study.db"


# ----- the result ------------------------------------------------------------------------------------
def test_the_best_configuration_is_retrained_with_the_blend_and_saved(
    data: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blends = []

    class Spy(SentimentClassifier):
        def fit(self, *args: Any, **kwargs: Any) -> Any:
            blends.append(self.blend)
            return super().fit(*args, **kwargs)

    monkeypatch.setattr(tuning, "SentimentClassifier", Spy)
    base = {k: v for k, v in TINY.items() if k != "blend"}  # the user's blend: the default, "auto"
    result = search(data, tmp_path, base_params=base, retrain=True)
    assert blends == [None, None, None, "auto"]  # trials train the network alone; the final model blends
    assert result.model_path == tmp_path / "model.sentilstm"
    model = SentimentClassifier.load(result.model_path)
    assert {k: model.get_params()[k] for k in result.best_params} == result.best_params
    assert model.blend == "auto" and model.epochs == TINY["epochs"]
    tuning_info = model.metrics_["tuning"]
    assert tuning_info["study"] == "model" and tuning_info["metric"] == "macro_f1" and tuning_info["n_trials"] == 3
    assert tuning_info["best_value"] == result.best_value == result.study.best_value
    assert tuning_info["storage"] == result.storage
    table = pd.read_csv(tmp_path / "model.trials.csv")
    assert list(table.columns[:7]) == ["number", "state", "value", "seconds", "steps", "error", "worker"]
    assert {"dropout", "learning_rate"} <= set(table.columns) and len(table) == 3
    assert isinstance(result.trials, pd.DataFrame) and len(result.trials) == 3
    summary = json.loads(json.dumps(result.to_dict()))
    assert summary["best_params"] == result.best_params and summary["counts"] == {"COMPLETE": 3}


def test_cross_validation_as_the_objective_reports_the_running_mean_per_fold(data: Any, tmp_path: Path) -> None:
    result = search(data, tmp_path, trials=2, cv_folds=3, retrain=True, out=None)
    for trial in result.study.trials:
        steps = trial.intermediate_values
        assert list(steps) == [1, 2, 3]  # one report per fold
        assert trial.value == pytest.approx(steps[3])  # the objective is the mean over the folds
    assert result.model is not None and result.model_path is None and result.storage is None  # in memory


# ----- several workers -------------------------------------------------------------------------------
WORKER = """
import pathlib, sys, time
sys.path.insert(0, {tests!r})
from helpers import TINY, make_negation_data
from sentilstm import tune
ready = pathlib.Path({folder!r})
(ready / f"ready{{sys.argv[1]}}").touch()
while len(list(ready.glob("ready*"))) < 2:  # start together, whichever imported faster
    time.sleep(0.05)
tune(*make_negation_data(240, seed=1), trials=6, space={space!r}, base_params=TINY, storage={url!r},
     study_name="shared", retrain=False, seed=int(sys.argv[1]))
"""


def test_two_processes_share_one_sqlite_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    script = WORKER.format(tests=str(Path(__file__).parent), space=SMALL_SPACE, url=url, folder=str(tmp_path))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [
        subprocess.Popen([sys.executable, "-c", script, str(seed)], env=env, stderr=subprocess.PIPE, text=True)
        for seed in (1, 2)
    ]
    for worker in workers:
        assert worker.wait(timeout=120) == 0, worker.stderr.read()
    study = optuna.load_study(study_name="shared", storage=url)
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]  # pruning starts at 5
    assert 6 <= len(finished) <= 7  # each worker stops once the study holds 6; one may finish a 7th it had begun
    assert len({t.user_attrs["worker"] for t in finished}) == 2


@pytest.mark.slow  # ~40 s per database: two CLI workers, then the retraining step
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_cli_workers_share_one_study_through_a_url(
    database: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The README's recipe: `sentilstm tune --storage URL --no-retrain --seed K` per worker, then `--trials 0`."""
    url = f"sqlite:///{tmp_path / 'shared.db'}" if database == "sqlite" else request.getfixturevalue("postgres_url")
    texts, labels = make_negation_data(240, seed=1)
    pd.DataFrame({"text": texts, "label": labels}).to_csv(tmp_path / "reviews.csv", index=False)
    (tmp_path / "space.yaml").write_text("extend_default: false\ndropout: {type: float, low: 0.0, high: 0.5}\n")
    settings = [arg for k, v in TINY.items() for arg in ("--set", f"{k}={'none' if v is None else v}")]
    out = tmp_path / "tuned.sentilstm"
    command = [
        sys.executable,
        "-m",
        "sentilstm",
        "tune",
        str(tmp_path / "reviews.csv"),
        "--space",
        str(tmp_path / "space.yaml"),
        *settings,
        "--storage",
        url,
        "--study-name",
        f"shared-{database}",
        "--out",
        str(out),
        "--quiet",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [
        subprocess.Popen(
            [*command, "--trials", "6", "--no-retrain", "--seed", str(seed)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for seed in (1, 2)
    ]
    outputs = [worker.communicate(timeout=240)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    study = optuna.load_study(study_name=f"shared-{database}", storage=with_installed_driver(url))
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert 6 <= len(finished) <= 7 and len({t.user_attrs["worker"] for t in finished}) == 2
    assert not out.exists()  # --no-retrain: the workers only search
    final = subprocess.run([*command, "--trials", "0"], env=env, capture_output=True, text=True, timeout=240)
    assert final.returncode == 0, final.stdout + final.stderr
    model = SentimentClassifier.load(out)
    assert model.metrics_["tuning"]["study"] == f"shared-{database}"
    assert model.dropout == pytest.approx(study.best_params["dropout"])


# ----- command line ----------------------------------------------------------------------------------
def test_cli_tunes_with_a_space_file_then_retrains_only(data: Any, tmp_path: Path) -> None:
    texts, labels = data
    pd.DataFrame({"text": texts, "label": labels}).to_csv(tmp_path / "reviews.csv", index=False)
    (tmp_path / "space.yaml").write_text(
        "extend_default: false\ndropout: {type: categorical, choices: [0.1, 0.3]}\n"
        "learning_rate: {type: float, low: 0.001, high: 0.01, log: true}\ncell: gru\n"
    )
    settings = [arg for k, v in TINY.items() for arg in ("--set", f"{k}={'none' if v is None else v}")]
    out = tmp_path / "tuned.sentilstm"
    common = [str(tmp_path / "reviews.csv"), "--space", str(tmp_path / "space.yaml"), *settings, "--out", str(out)]
    result = invoke_cli("tune", *common, "--trials", "3", "--no-retrain", "--quiet")
    assert result.exit_code == 0, result.output
    assert "trials of 'reviews' (macro_f1, maximize)" in result.stdout and "best: trial" in result.stdout
    assert "learning_rate=" in result.stdout and "cell=" not in result.stdout.split("best:")[0]  # only searched ones
    assert "--trials 0" in result.stdout and not out.exists()
    assert (tmp_path / "tuned.study.db").is_file() and (tmp_path / "tuned.trials.csv").is_file()
    result = invoke_cli("tune", *common, "--trials", "0", "--quiet")  # the final step
    assert result.exit_code == 0, result.output
    assert f"retrained: {out}" in result.stdout
    model = SentimentClassifier.load(out)
    assert model.cell == "gru" and model.metrics_["tuning"]["study"] == "reviews"


@pytest.mark.parametrize("url", ["nosuchdb://ana:hunter2@db.example/optuna", "sqlite:///{tmp}/missing/folder/study.db"])
def test_cli_bad_storage_is_one_line_exit_2(data: Any, tmp_path: Path, url: str) -> None:
    texts, labels = data
    pd.DataFrame({"text": texts, "label": labels}).to_csv(tmp_path / "reviews.csv", index=False)
    url = url.format(tmp=tmp_path)
    result = invoke_cli("tune", tmp_path / "reviews.csv", "--storage", url, "--trials", "1")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot open the study storage")
    assert "hunter2" not in result.output and (url.replace("hunter2", "***") in lines[0])


def test_cli_bad_space_file_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "space.json").write_text('{"hidden": [1, 2]}')
    (tmp_path / "reviews.csv").write_text("text,label\ngood,1\nbad,0\n")
    result = invoke_cli("tune", tmp_path / "reviews.csv", "--space", tmp_path / "space.json")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and "'hidden'" in result.stderr
