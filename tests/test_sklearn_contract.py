"""The scikit-learn contract: its own estimator checks that apply to an estimator of raw strings, the same
behaviours checked on texts where its checks feed 2-D numeric arrays, tags, and the model-selection tools
(`GridSearchCV`, `cross_val_score`) over a classifier and over a `Pipeline` holding one."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError as ScikitLearnNotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import estimator_checks as checks
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted

from helpers import TINY, make_negation_data
from sentilstm import SentimentClassifier
from sentilstm.estimators.baselines import make_baseline

TEXTS, LABELS = make_negation_data(120, seed=31)

# scikit-learn's checks that hold for an estimator of raw strings. The others of its API and classifier suites fit
# 2-D numeric arrays (make_blobs) that are not texts; the behaviour each of them checks is tested on texts below:
# fit returns self, leaves the constructor's parameters alone and sets no public attribute it was not given
# (check_estimators_fit_returns_self, check_estimators_overwrite_params, check_dont_overwrite_parameters), fitting
# twice gives the same model (check_fit_idempotent), a pickled model predicts the same (check_estimators_pickle),
# predictions do not depend on the other texts in the batch or their order (check_methods_subset_invariance,
# check_methods_sample_order_invariance), classes_ and predict's labels (check_classifiers_classes).
# check_n_features_in_after_fitting, check_readonly_memmap_input and check_positive_only_tag_during_fit concern
# numeric features, which a text classifier does not have.
APPLICABLE = [
    checks.check_estimator_cloneable,
    checks.check_estimator_tags_renamed,
    checks.check_valid_tag_types,
    checks.check_estimator_repr,
    checks.check_no_attributes_set_in_init,
    checks.check_estimators_unfitted,
    checks.check_do_not_raise_errors_in_init_or_set_params,
    checks.check_mixin_order,
    checks.check_parameters_default_constructible,
    checks.check_get_params_invariance,
    checks.check_set_params,
]
ESTIMATORS: dict[str, Callable[[], Any]] = {
    "SentimentClassifier": lambda: SentimentClassifier(**{**TINY, "epochs": 1}),
    "NBSVM": lambda: make_baseline("nbsvm"),
    "TfidfLR": lambda: make_baseline("tfidf_lr"),
}


@pytest.mark.parametrize("check", APPLICABLE, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", ESTIMATORS)
def test_scikit_learns_applicable_checks_pass(name: str, check: Callable[..., None]) -> None:
    check(name, ESTIMATORS[name]())


@pytest.mark.parametrize("name", ESTIMATORS)
def test_tags_say_strings_in_labels_required_any_number_of_classes(name: str) -> None:
    estimator = ESTIMATORS[name]()
    tags = get_tags(estimator)
    assert tags.input_tags.string and not tags.input_tags.two_d_array and tags.target_tags.required
    assert tags.classifier_tags.multi_class and is_classifier(estimator) and not tags.non_deterministic  # CPU here
    with pytest.raises(ScikitLearnNotFittedError):  # code written for scikit-learn catches it
        estimator.predict(["good"])
    with pytest.raises(ScikitLearnNotFittedError):
        check_is_fitted(estimator)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_what_the_numeric_checks_check_holds_on_texts(name: str) -> None:
    estimator = ESTIMATORS[name]()
    params = {k: repr(v) for k, v in estimator.get_params().items()}
    public_before = {k for k in vars(estimator) if not k.startswith("_")}
    assert estimator.fit(TEXTS, LABELS) is estimator  # fit returns self
    assert {k: repr(v) for k, v in estimator.get_params().items()} == params  # parameters untouched
    added = {k for k in vars(estimator) if not k.startswith("_")} - public_before
    assert added and all(k.endswith("_") for k in added)  # learned state only, sklearn's trailing underscore
    check_is_fitted(estimator)
    first = estimator.predict_proba(TEXTS[:20])
    np.testing.assert_allclose(clone(estimator).fit(TEXTS, LABELS).predict_proba(TEXTS[:20]), first, atol=1e-6)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(estimator)).predict_proba(TEXTS[:20]), first, atol=1e-6)
    order = np.random.default_rng(0).permutation(20)
    np.testing.assert_allclose(estimator.predict_proba([TEXTS[i] for i in order]), first[order], atol=1e-5)
    np.testing.assert_allclose(estimator.predict_proba(TEXTS[5:8]), first[5:8], atol=1e-5)
    assert sorted(estimator.classes_.tolist()) == [-1, 1] and set(estimator.predict(TEXTS)) <= {-1, 1}


def _lowercase(texts: Any) -> list[str]:
    return [t.lower() for t in texts]


@pytest.mark.parametrize("in_pipeline", [False, True], ids=["classifier", "pipeline"])
def test_grid_search_and_cross_val_score_run_over_it(in_pipeline: bool) -> None:
    clf = SentimentClassifier(**{**TINY, "epochs": 1})
    model: Any = Pipeline([("lower", FunctionTransformer(_lowercase)), ("clf", clf)]) if in_pipeline else clf
    prefix = "clf__" if in_pipeline else ""
    scores = cross_val_score(model, TEXTS, LABELS, cv=2, scoring="accuracy")
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))
    search = GridSearchCV(model, {f"{prefix}hidden_size": [8, 16]}, cv=2, scoring="f1_macro").fit(TEXTS, LABELS)
    assert search.best_params_[f"{prefix}hidden_size"] in (8, 16) and len(search.cv_results_["params"]) == 2
    assert len(search.predict(TEXTS[:4])) == 4  # refitted on everything with the best parameters
