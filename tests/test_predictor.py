"""Every place a result is shown names what produced it (issue 19): the network, a linear model, or their blend
with its weight; a blend that gave the network weight 0 is said out loud (train, evaluate, describe, cv, the
reports, /model); the training report and `train` show the network's own test score beside the blend's."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from helpers import TINY, invoke_cli, keyword_data
from sentilstm import NBSVM, SentimentClassifier
from sentilstm.estimators import steps
from sentilstm.estimators.blend import FittedBlend, network_dropped, predictor
from sentilstm.report.summary import describe
from sentilstm.serve.app import create_app

# a network that has barely started, on texts a keyword gives away: the linear partner gets weight
BLENDED: dict[str, Any] = {**TINY, "embedding_dim": 8, "hidden_size": 8, "epochs": 1, "learning_rate": 1e-4}
BLENDED["blend"] = "tfidf_lr"


@pytest.fixture(scope="module")
def texts_labels() -> tuple[list[str], list[int]]:
    return keyword_data(400, seed=1)


@pytest.fixture(scope="module")
def blended(texts_labels: tuple[list[str], list[int]]) -> SentimentClassifier:
    return SentimentClassifier(**BLENDED).fit(*texts_labels)


def _weighted(clf: SentimentClassifier, weight: float) -> SentimentClassifier:
    twin = SentimentClassifier.__new__(SentimentClassifier)
    twin.__dict__.update(clf.__dict__)
    twin.blend_weight_ = weight
    return twin


def test_predictor_says_which_part_predicts(blended: SentimentClassifier, texts_labels: tuple) -> None:
    name = blended.metrics_["blend"]["model"]  # e.g. tfidf_lr[class_weight=balanced]
    assert name.startswith("tfidf_lr")
    assert predictor(_weighted(blended, 0.4)) == f"blend: 0.40 x network + 0.60 x {name}"
    assert predictor(_weighted(blended, 0.0)) == f"{name} alone (the blend gave the network weight 0)"
    assert predictor(_weighted(blended, 1.0)) == f"the network alone (the blend gave {name} weight 0)"
    assert network_dropped(_weighted(blended, 0.0)) and not network_dropped(_weighted(blended, 0.4))
    alone = SentimentClassifier(**TINY).fit(*texts_labels)
    assert predictor(alone) == "the network alone" and not network_dropped(alone)
    assert predictor(NBSVM(min_df=1).fit(*texts_labels)) == "nbsvm linear model"
    assert "predictions by" in describe(_weighted(blended, 0.0)).to_text()
    assert f"{name} alone" in describe(_weighted(blended, 0.0)).to_text()


def test_train_names_the_predictor_and_shows_the_network_alone(texts_labels: tuple, tmp_path: Path) -> None:
    texts, labels = texts_labels
    table = tmp_path / "train.jsonl"
    table.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in zip(texts[:340], labels[:340])))
    test = tmp_path / "test.jsonl"
    test.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in zip(texts[340:], labels[340:])))
    model, metrics = tmp_path / "m.sentilstm", tmp_path / "m.json"
    params = tmp_path / "p.json"
    params.write_text(json.dumps(BLENDED))
    result = invoke_cli("train", table, "--test", test, "--params", params, "--out", model, "--metrics-json", metrics)
    assert result.exit_code == 0, (result.output, result.exception)
    saved = json.loads(metrics.read_text())
    clf = SentimentClassifier.load(model)
    assert f"predictions by: {predictor(clf)}" in result.stdout
    alone = saved["test_network"]  # the network's own test scores, beside the blend's "test"
    assert f"test, network alone: accuracy {alone['accuracy']:.4f}" in result.stdout
    assert alone["num_examples"] == saved["test"]["num_examples"] == 60
    html = model.with_suffix(".report.html").read_text()
    assert "Predictions by" in html and "Test, network alone" in html and predictor(clf) in html
    # evaluate says who predicts, and not the training run's network-alone line (that was another test split)
    evaluated = invoke_cli("evaluate", model, test)
    assert f"predictions by: {predictor(clf)}" in evaluated.stdout and "network alone:" not in evaluated.stdout


def test_a_dropped_network_is_said_in_evaluate_and_on_model(blended: SentimentClassifier, tmp_path: Path) -> None:
    path = _weighted(blended, 0.0).save(tmp_path / "dropped.sentilstm")
    result = invoke_cli("evaluate", path, _table(tmp_path))
    assert "alone (the blend gave the network weight 0)" in result.stdout
    assert "warning: the network adds nothing" in result.stderr and "--blend none" in result.stderr
    app = create_app(path, feedback_url=f"sqlite:///{tmp_path / 'f.db'}", upload_dir=tmp_path / "files")
    with TestClient(app) as client:
        described = client.get("/model").json()
    assert described["predictor"] == predictor(_weighted(blended, 0.0))


def test_cv_warns_when_the_blend_drops_the_network(
    texts_labels: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = steps.fit_blend

    def network_weight_zero(*args: Any, **kwargs: Any) -> FittedBlend:  # as small data and short runs do
        fitted = real(*args, **kwargs)
        return dataclasses.replace(fitted, weight=0.0, metrics={**(fitted.metrics or {}), "network_weight": 0.0})

    monkeypatch.setattr(steps, "fit_blend", network_weight_zero)
    params = tmp_path / "p.json"
    params.write_text(json.dumps(BLENDED))
    report = tmp_path / "cv.html"
    result = invoke_cli("cv", _table(tmp_path), "--folds", 2, "--params", params, "--report", report)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "predictions by tfidf_lr" in result.stderr and "alone (the blend gave the network weight 0)" in result.stderr
    assert "warning: in every fold the blend gave the network weight 0" in result.stderr
    html = report.read_text()
    assert "in every fold the blend gave the network weight 0" in html and "Predictions by" in html


def _table(folder: Path) -> Path:
    texts, labels = keyword_data(200, seed=13)
    path = folder / "data.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in zip(texts, labels)))
    return path
