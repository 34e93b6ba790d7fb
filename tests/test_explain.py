"""Token attributions (src/sentilstm/explain.py): the decisive words of a negation-sensitive model, the maths
(KernelSHAP efficiency and exactness, integrated-gradients completeness), words as the user wrote them,
eval mode and cuDNN handling for gradients, the linear baselines, errors, and the `sentilstm explain` command.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from typing import Any

import numpy as np
import pytest
import torch

from helpers import TINY, invoke_cli, make_negation_data
from sentilstm import SentimentClassifier, TokenAttribution
from sentilstm import explain as explain_fn
from sentilstm.errors import ConfigError, DataError, NotFittedError
from sentilstm.estimators.baselines import make_baseline
from sentilstm.explanations.methods import _align, _token_owners

METHODS = ["attention", "integrated_gradients", "lime", "kernel_shap"]
# (text, the decisive words): the sentiment word, and "not" where it flips it
DECISIVE = [
    ("the movie was not good overall", {"not", "good"}),
    ("i thought it was great", {"great"}),
    ("honestly the acting was awful", {"awful"}),
    ("the plot was not bad and the cast", {"not", "bad"}),
    ("this film was really boring to me", {"boring"}),
    ("the ending was not terrible", {"not", "terrible"}),
    ("i thought the story was wonderful and the cast", {"wonderful"}),
    ("the acting was not excellent to me", {"not", "excellent"}),
]


@pytest.fixture(scope="module")
def nbsvm() -> Any:
    """NBSVM on the negation data's un-negated texts (a bag of n-grams cannot learn the negated ones)."""
    texts, labels = make_negation_data(1200, seed=1)
    plain = [(t, y) for t, y in zip(texts, labels) if "not " not in t]
    return make_baseline("nbsvm", min_df=1).fit([t for t, _ in plain], [y for _, y in plain])


# ----- the decisive words ---------------------------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_attributions_point_at_the_decisive_words(trained_clf: SentimentClassifier, method: str) -> None:
    hits = 0
    for text, decisive in DECISIVE:
        attribution = trained_clf.explain(text, method=method)
        hits += bool({word for word, _ in attribution.top(2)} & decisive)
    assert hits >= len(DECISIVE) - 2, f"{method}: decisive words in the top 2 for only {hits}/{len(DECISIVE)} texts"


@pytest.mark.parametrize("method", ["integrated_gradients", "lime", "kernel_shap"])
def test_not_pushes_towards_the_flipped_label(trained_clf: SentimentClassifier, method: str) -> None:
    negated = [text for text, decisive in DECISIVE if "not" in decisive]
    pushes = sum(dict(trained_clf.explain(t, method=method).top(10))["not"] > 0 for t in negated)
    assert pushes >= len(negated) - 1


# ----- the maths --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "the movie was not good overall",  # 6 words: exact enumeration
        "the movie was not good overall and the acting was really quite boring to me",
    ],
)
def test_kernel_shap_efficiency(trained_clf: SentimentClassifier, text: str) -> None:
    attribution = trained_clf.explain(text, method="kernel_shap", num_samples=500)
    assert attribution.reference is not None
    np.testing.assert_allclose(attribution.reference, trained_clf.predict_proba([""])[0], atol=1e-6)
    np.testing.assert_allclose(
        attribution.scores.sum(axis=0), attribution.probabilities - attribution.reference, atol=1e-6
    )


def test_kernel_shap_is_exact_for_few_words(nbsvm: Any) -> None:
    text = "the film was not bad"
    words = text.split()
    d = len(words)

    def value(subset: set[int]) -> np.ndarray:
        return nbsvm.predict_proba([" ".join(w for i, w in enumerate(words) if i in subset)])[0]

    expected = np.zeros((d, 2))
    for i in range(d):  # the Shapley formula, by brute force
        others = [j for j in range(d) if j != i]
        for size in range(d):
            for subset in itertools.combinations(others, size):
                weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
                expected[i] += weight * (value(set(subset) | {i}) - value(set(subset)))
    np.testing.assert_allclose(nbsvm.explain(text, method="kernel_shap").scores, expected, atol=1e-6)


def test_integrated_gradients_completeness(trained_clf: SentimentClassifier) -> None:
    text = "honestly the acting was awful"
    attribution = trained_clf.explain(text, method="integrated_gradients")
    model = copy.deepcopy(trained_clf.model_).eval()
    length = len(trained_clf.pipeline_.encode([text])[0])

    def log_odds(p: np.ndarray) -> np.ndarray:
        return np.log(p) - np.log1p(-p)

    with torch.no_grad():  # the baseline: all padding, the same length
        reference = torch.softmax(model(torch.zeros(1, length, dtype=torch.long), torch.tensor([length])), -1)[
            0
        ].numpy()
    total = log_odds(attribution.probabilities) - log_odds(reference.astype(np.float64))
    np.testing.assert_allclose(attribution.scores.sum(axis=0), total, atol=0.02 * np.abs(total).max() + 1e-3)


def test_lime_weighs_samples_with_lime_s_own_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """lime.lime_text: cosine distance x 100 to the full text, kernel sqrt(exp(-d^2 / 25^2))."""
    import sklearn.linear_model
    from sklearn.metrics.pairwise import cosine_distances

    from sentilstm.explanations.methods import _lime

    seen: dict[str, np.ndarray] = {}

    class Recording(sklearn.linear_model.Ridge):
        def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
            seen["masks"], seen["weights"] = np.asarray(X), np.asarray(sample_weight)
            return super().fit(X, y, sample_weight=sample_weight)

    monkeypatch.setattr(sklearn.linear_model, "Ridge", Recording)
    text = "not good at all"
    spans = [(0, 3), (4, 8), (9, 11), (12, 15)]
    _lime(lambda texts: np.full((len(texts), 2), 0.5), text, spans, 100, np.random.default_rng(0))
    distance = 100 * cosine_distances(seen["masks"], np.ones((1, 4))).ravel()
    np.testing.assert_allclose(seen["weights"], np.sqrt(np.exp(-(distance**2) / 25**2)), atol=1e-12)


def test_integrated_gradients_inside_a_callers_inference_mode(trained_clf: SentimentClassifier) -> None:
    text = "the movie was not good overall"
    expected = trained_clf.explain(text, method="integrated_gradients").scores
    with torch.inference_mode():  # tensors made here cannot be saved for backward
        np.testing.assert_allclose(trained_clf.explain(text, method="integrated_gradients").scores, expected)
        assert trained_clf.explain(text, method="attention").scores.shape == expected.shape


def test_attention_weights_sum_to_one(trained_clf: SentimentClassifier) -> None:
    attribution = trained_clf.explain("the movie was not good overall", method="attention")
    np.testing.assert_allclose(attribution.scores.sum(axis=0), 1.0, atol=1e-5)
    assert any("where the model looked" in note for note in attribution.notes)


# ----- gradients: eval mode, no dropout, cuDNN off -----------------------------------------------------------
def test_gradients_run_in_eval_mode_with_cudnn_off_and_restore_the_mode(trained_clf: SentimentClassifier) -> None:
    clf = copy.deepcopy(trained_clf)
    model = clf.model_
    seen: list[tuple[bool, bool]] = []  # (cuDNN on, training) during each gradient pass
    original = model.forward_embedded

    def recording(embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if embedded.requires_grad:  # not predict_proba's inference pass
            seen.append((torch.backends.cudnn.enabled, model.training))
        return original(embedded, lengths)

    model.forward_embedded = recording
    cudnn_before = torch.backends.cudnn.enabled
    for mode in (True, False):
        model.train(mode)
        first = clf.explain("the movie was not good overall", method="integrated_gradients").scores
        second = clf.explain("the movie was not good overall", method="integrated_gradients").scores
        assert model.training is mode and all(m.training is mode for m in model.modules())
        np.testing.assert_array_equal(first, second)  # dropout (p=0.3 here) never ran
    assert seen and all(flags == (False, False) for flags in seen)
    assert torch.backends.cudnn.enabled is cudnn_before


def test_concurrent_gradient_passes_take_turns_and_leave_cudnn_on(trained_clf: SentimentClassifier) -> None:
    """cuDNN's switch is global: overlapping off/on pairs from two threads could restore "off" for good."""
    import threading
    import time

    clf = copy.deepcopy(trained_clf)
    model, original = clf.model_, clf.model_.forward_embedded
    inside, most, start = [0], [0], threading.Barrier(2)

    def slow(embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if embedded.requires_grad:  # a gradient pass, cuDNN switched off
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            time.sleep(0.2)
            inside[0] -= 1
        return original(embedded, lengths)

    model.forward_embedded = slow
    cudnn_before = torch.backends.cudnn.enabled

    def run() -> None:
        start.wait()
        clf.explain("the movie was not good overall", method="integrated_gradients")

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert most[0] == 1 and torch.backends.cudnn.enabled is cudnn_before


# ----- words as the user wrote them -----------------------------------------------------------------------
@pytest.mark.parametrize("tokenizer", ["bpe", "unigram"])
def test_subword_pieces_map_back_to_the_original_words(tokenizer: str) -> None:
    texts, labels = make_negation_data(400, seed=0)
    clf = SentimentClassifier(**{**TINY, "tokenizer": tokenizer, "vocab_size": 60}).fit(texts, labels)
    text = "The MOVIE was NOT goodish,  honestly!! <br />Superb"
    attribution = clf.explain(text, method="integrated_gradients")
    assert attribution.words == ["The", "MOVIE", "was", "NOT", "goodish,", "honestly!!", "<br />", "Superb"]
    assert [text[s:e] for s, e in attribution.spans] == attribution.words
    ids, owners, truncated = _token_owners(clf.pipeline_, text, attribution.spans)
    assert len(ids) > len(attribution.words) and (owners >= 0).all() and not truncated  # every piece has a word
    assert np.all(attribution.scores[6] == 0)  # the tag is stripped: no tokens, no score
    assert np.all(np.abs(attribution.scores[[0, 1, 4, 7]]).sum(axis=1) > 0)


def test_stop_words_and_truncated_words_score_zero() -> None:
    texts, labels = make_negation_data(400, seed=0)
    clf = SentimentClassifier(**{**TINY, "stopwords": "english", "max_length": 3, "truncation": "head"}).fit(
        texts, labels
    )
    attribution = clf.explain("the movie was not good and the acting was superb", method="integrated_gradients")
    scores = np.abs(attribution.scores).sum(axis=1)
    assert attribution.truncated and any("at most 3 tokens" in note for note in attribution.notes)
    assert np.flatnonzero(scores).tolist() == [1, 3, 4]  # movie, not, good; "the", "was" are stop words


def test_align_by_order() -> None:
    source, owners = np.array([5, 6, 7, 8]), np.array([0, 1, 1, 2])
    np.testing.assert_array_equal(_align(source, owners, np.array([5, 6, 7, 8])), [0, 1, 1, 2])
    np.testing.assert_array_equal(_align(source, owners, np.array([5, 9, 9, 8, 4])), [0, 1, 1, 2, -1])


# ----- baselines and blends ---------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["lime", "kernel_shap", "auto"])
def test_model_agnostic_methods_explain_a_baseline(nbsvm: Any, method: str) -> None:
    attribution = nbsvm.explain("honestly the acting was awful", method=method)
    assert attribution.method == ("kernel_shap" if method == "auto" else method)
    assert attribution.labels == [-1, 1] and attribution.predicted_label == -1
    assert attribution.top(1)[0][0] == "awful" and attribution.for_label(-1)[-1] > 0


@pytest.mark.parametrize("method", ["attention", "integrated_gradients"])
def test_network_methods_refuse_a_baseline(nbsvm: Any, method: str) -> None:
    with pytest.raises(ConfigError, match="'lime', 'kernel_shap'"):
        nbsvm.explain("not good", method=method)


def test_attention_needs_attention_pooling() -> None:
    texts, labels = make_negation_data(200, seed=0)
    clf = SentimentClassifier(**{**TINY, "pooling": "mean"}).fit(texts, labels)
    with pytest.raises(ConfigError, match="pooling='attention'.*integrated_gradients"):
        clf.explain("not good", method="attention")
    assert clf.explain("not good").method == "integrated_gradients"


def test_blend_is_explained_whole_by_agnostic_methods_only(trained_clf: SentimentClassifier, nbsvm: Any) -> None:
    clf = copy.deepcopy(trained_clf)
    clf.blend_model_, clf.blend_weight_ = nbsvm, 0.5
    text = "the movie was not good overall"
    gradients = clf.explain(text, method="integrated_gradients")
    shap = clf.explain(text, method="kernel_shap")
    np.testing.assert_allclose(gradients.probabilities, clf.predict_proba([text])[0])
    assert any("LSTM/GRU part" in note for note in gradients.notes) and not shap.notes
    np.testing.assert_allclose(shap.scores.sum(axis=0), shap.probabilities - clf.predict_proba([""])[0], atol=1e-6)
    assert clf.explain(text).method == "kernel_shap"  # auto explains the blended probabilities the user sees


# ----- determinism, API, errors -----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["lime", "kernel_shap"])
def test_seeded_perturbations_repeat(trained_clf: SentimentClassifier, method: str) -> None:
    text = "the movie was not good overall and the acting was really quite boring to me"  # 15 words: sampled
    first = trained_clf.explain(text, method=method, num_samples=200, seed=3).scores
    np.testing.assert_array_equal(first, explain_fn(trained_clf, text, method, num_samples=200, seed=3).scores)
    assert not np.array_equal(first, trained_clf.explain(text, method=method, num_samples=200, seed=4).scores)


def test_token_attribution_api(trained_clf: SentimentClassifier) -> None:
    attribution = trained_clf.explain('not good <script>alert("x")</script> & "bad"', method="lime")
    assert isinstance(attribution, TokenAttribution) and attribution.scores.shape == (len(attribution.words), 2)
    np.testing.assert_array_equal(attribution.for_label(1), attribution.for_label("1"))
    assert len(attribution.top(3)) == 3 and attribution.top(3, label=1)[0][0] == attribution.top(3, label=-1)[0][0]
    with pytest.raises(ConfigError, match="not one of this model's labels"):
        attribution.for_label("positive")
    data = json.loads(json.dumps(attribution.to_dict()))
    assert [w["word"] for w in data["words"]] == attribution.words and set(data["probabilities"]) == {"-1", "1"}
    page = attribution.to_html()
    assert "<script>" not in page and "&lt;script&gt;" in page and "&amp;" in page
    assert attribution.to_rich().plain == attribution.text


@pytest.mark.parametrize(("text", "error"), [("", DataError), ("  \n ", DataError), (None, DataError), (3, DataError)])
def test_bad_texts(trained_clf: SentimentClassifier, text: Any, error: type) -> None:
    with pytest.raises(error):
        trained_clf.explain(text)


def test_bad_options(trained_clf: SentimentClassifier) -> None:
    with pytest.raises(ConfigError, match="method must be one of"):
        trained_clf.explain("good", method="shap")
    with pytest.raises(ConfigError, match="num_samples"):
        trained_clf.explain("good", method="lime", num_samples=0)
    with pytest.raises(ConfigError, match=r"seed must be a whole number between 0 and 4,294,967,295, got -1"):
        trained_clf.explain("good", method="lime", seed=-1)
    with pytest.raises(NotFittedError):
        SentimentClassifier().explain("good")


# ----- command line -----------------------------------------------------------------------------------------
def test_cli_prints_coloured_words_and_top_words(trained_model_path: Any) -> None:
    result = invoke_cli("explain", trained_model_path, "the movie was not good overall", "i thought it was great")
    assert result.exit_code == 0, result.output
    assert "the movie was not good overall" in result.stdout and "predicted -1" in result.stdout
    assert "predicted 1" in result.stdout and "top words for -1:" in result.stdout and "not +" in result.stdout


def test_cli_writes_html_and_json(trained_model_path: Any, tmp_path: Any) -> None:
    page = tmp_path / "why.html"
    result = invoke_cli(
        "explain",
        trained_model_path,
        "not <b>good</b> & fine",
        "great",
        "--json",
        "--html",
        page,
        "--method",
        "kernel_shap",
        "--label",
        "1",
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["method"] for row in rows] == ["kernel_shap"] * 2
    assert [w["word"] for w in rows[0]["words"]] == ["not", "<b>", "good", "</b>", "&", "fine"]
    html = page.read_text()
    assert ">&lt;b&gt;</span>" in html and ">&lt;/b&gt;</span>" in html and ">good</span>" in html
    assert "<b>good" not in html and "colours explain <b>1</b>" in html
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically


def test_cli_explains_a_baseline(nbsvm: Any, tmp_path: Any) -> None:
    path = nbsvm.save(tmp_path / "nbsvm.sentilstm")
    result = invoke_cli("explain", path, "honestly the acting was awful", "--top", "1")
    assert result.exit_code == 0, result.output
    assert "kernel_shap" in result.stdout and "top words for -1: awful +" in result.stdout


@pytest.mark.parametrize("args", [["--method", "shap"], ["--label", "positive"], ["--samples", "0"], ["--top", "0"]])
def test_cli_bad_input_is_one_line_exit_2(trained_model_path: Any, args: list[str]) -> None:
    result = invoke_cli("explain", trained_model_path, "not good", *args)
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error:")
