"""Why did the model say that? Per-word attributions for any sentilstm classifier, in the user's own words.

    attribution = clf.explain("the film was not good", method="integrated_gradients")
    attribution.top(3)                          # [("not", 0.41), ("good", 0.22), ("film", -0.01)]
    Path("why.html").write_text(attribution.to_html())

Methods. "integrated_gradients" (Sundararajan et al. 2017, via captum) and "attention" (the attention pooling's
weights) read an LSTM/GRU network. "lime" (Ribeiro et al. 2016) and "kernel_shap" (Lundberg & Lee 2017) remove
words from the text and watch `predict_proba`, so they explain any classifier: the linear baselines, and a
blended network + n-gram prediction as a whole. "auto" is integrated gradients for a network alone and KernelSHAP
otherwise (a blended model, a baseline), so the explanation always covers the probabilities shown; not
attention, whose weights are unsigned and class-blind ("attention is not explanation", Jain & Wallace 2019):
they say where the model looked, not which way a word pushed.

Words are the whitespace-separated chunks of the original text (an HTML tag is a chunk of its own), shown as
written; subword pieces and normalised tokens are summed back onto the word they came from.
"""

from __future__ import annotations

import contextlib
import difflib
import itertools
import logging
import math
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from sentilstm.config import MAX_SEED, check_choice, check_integer
from sentilstm.errors import ConfigError, DataError
from sentilstm.explanations.result import TokenAttribution, plain_label
from sentilstm.network.ensemble import members
from sentilstm.text.normalize import HTML_TAG  # the tags the normaliser strips: one word each here
from sentilstm.text.subwords import word_ids
from sentilstm.text.tokenizers import truncate

log = logging.getLogger(__name__)
ExplainMethod = Literal["auto", "attention", "integrated_gradients", "lime", "kernel_shap"]
NETWORK_METHODS = ("attention", "integrated_gradients")  # need the LSTM/GRU itself
AGNOSTIC_METHODS = ("lime", "kernel_shap")  # need only predict_proba
EXACT_SHAP_WORDS = 11  # up to here KernelSHAP enumerates all 2^d coalitions: exact Shapley values, <= 2,048 texts
CHECK_EVERY = 256  # perturbed texts built or predicted between two calls of explain's `check`
LIME_KERNEL_WIDTH = 0.25  # lime's text default (25 on its 0..100 cosine-distance scale)
# cuDNN's switch is process-global: two threads that turned it off and back on at once could restore each other's
# "off" and leave it off for good (every later GPU LSTM on the slow native kernels), so gradient passes take turns
_CUDNN_SWITCH = threading.Lock()
_WORD = re.compile(rf"{HTML_TAG.pattern}|(?:(?!{HTML_TAG.pattern})\S)+")


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each word `explain` scores: whitespace-separated chunks, an HTML tag a word of its own."""
    return [m.span() for m in _WORD.finditer(text)]


def check_method(method: str) -> None:
    """Raise ConfigError unless `method` is one of `ExplainMethod`."""
    check_choice("method", method, ExplainMethod)


def explain(
    clf: Any,
    text: str,
    method: ExplainMethod = "auto",
    *,
    num_samples: int = 1000,
    seed: int = 0,
    n_steps: int = 50,
    check: Callable[[], None] | None = None,
) -> TokenAttribution:
    """Attribute `clf`'s prediction for `text` to the text's words.

        attribution = explain(clf, "not good at all", method="kernel_shap")

    Args:
        clf: a fitted `SentimentClassifier`, linear baseline, or (lime/kernel_shap) anything with
            `predict_proba(list[str])` and `classes_`.
        method: "auto", "attention", "integrated_gradients", "lime" or "kernel_shap" (see the module docstring).
        num_samples: perturbed texts for lime, and for kernel_shap beyond 11 words (up to 11 it is exact).
        seed: seeds the perturbations, so the same call gives the same scores.
        n_steps: integration steps of integrated gradients.
        check: called before the prediction and between batches of perturbed texts; raise from it to stop a
            long explanation (a server does, when the request's deadline passes or its client leaves).
    """
    check_integer("num_samples", num_samples, low=10)
    check_integer("seed", seed, low=0, high=MAX_SEED)
    check_integer("n_steps", n_steps, low=1)
    if not isinstance(text, str):
        raise DataError(f"text must be a string, got {type(text).__name__} {text!r}")
    spans = word_spans(text)
    if not spans:
        raise DataError(f"text {text!r} has no words to explain; give a non-empty text")
    check_method(method)
    if check is not None:
        check()
    probabilities = np.asarray(clf.predict_proba([text])[0], dtype=np.float64)  # NotFittedError comes from here
    method = _resolve_method(clf, method)
    label_map = getattr(clf, "label_map_", None)  # keeps the user's label types; classes_ is a numpy array
    labels = [plain_label(label) for label in (label_map.labels if label_map is not None else clf.classes_)]
    result = TokenAttribution(
        text, [text[s:e] for s, e in spans], spans, np.zeros((len(spans), len(labels))), labels, probabilities, method
    )
    if method in NETWORK_METHODS:
        result.scores, result.truncated = _network_scores(clf, text, spans, method, n_steps)
        if result.truncated:
            result.notes.append(
                f"the network reads at most {clf.pipeline_.config.max_length} tokens; words it cut off score 0"
            )
        if getattr(clf, "blend_model_", None) is not None:
            result.notes.append(
                f"{method} explains the LSTM/GRU part of the prediction only (the network has weight "
                f"{clf.blend_weight_:.2f} in the blend); lime and kernel_shap explain all of it"
            )
        if method == "integrated_gradients":
            result.notes.append(
                "scores are in log-odds: per class they add up to log(p/(1-p)) of the text minus "
                "that of an all-padding text"
            )
        if method == "attention":
            result.notes.append(
                "attention weights are the same for every class and never negative: they show "
                "where the model looked, not which way a word pushed"
            )
        return result
    predict = _predictor(clf, check)
    if num_samples < 2 * len(spans) and (method == "lime" or len(spans) > EXACT_SHAP_WORDS):
        result.notes.append(
            f"{num_samples} samples for {len(spans)} words leave the scores noisy; "
            f"raise num_samples (say to {10 * len(spans)})"
        )
    if method == "lime":
        result.scores = _lime(predict, text, spans, num_samples, np.random.default_rng(seed), check)
    else:
        result.scores, result.reference = _kernel_shap(
            predict, text, spans, num_samples, np.random.default_rng(seed), check
        )
    return result


@runtime_checkable
class NetworkClassifier(Protocol):
    """What attention and integrated gradients read from a fitted LSTM/GRU classifier (a `SentimentClassifier`):
    its text pipeline (`encode`, `normalize`, `tokenizer`, `config`), its network and the device it runs on.
    lime and kernel_shap need only `predict_proba(list[str])` and `classes_` (or `label_map_`)."""

    pipeline_: Any
    model_: nn.Module
    device: str


def _resolve_method(clf: Any, method: ExplainMethod) -> ExplainMethod:
    """The concrete method for a fitted `clf` ("auto" resolved), or ConfigError naming the methods that fit it."""
    network = isinstance(clf, NetworkClassifier)
    if method == "auto":  # explain what the user sees: a blended prediction is more than the network's
        return "integrated_gradients" if network and getattr(clf, "blend_model_", None) is None else "kernel_shap"
    if method in NETWORK_METHODS and not network:
        raise ConfigError(
            f"method {method!r} needs an LSTM/GRU SentimentClassifier; a {type(clf).__name__} can be "
            f"explained with one of {list(AGNOSTIC_METHODS)}"
        )
    pooling = clf.model_.config.pooling if network else None
    if method == "attention" and pooling is not None and pooling != "attention":
        raise ConfigError(
            f"method='attention' needs pooling='attention', this model uses pooling={pooling!r}; "
            f"use one of {['integrated_gradients', *AGNOSTIC_METHODS]}"
        )
    return method


def _predictor(clf: Any, check: Callable[[], None] | None = None) -> Callable[[list[str]], np.ndarray]:
    """predict_proba over distinct texts only (perturbations repeat when a text has few words); with `check`,
    CHECK_EVERY texts at a time with `check()` before each batch."""

    def predict(texts: list[str]) -> np.ndarray:
        distinct = list(dict.fromkeys(texts))
        if check is None:
            probabilities = np.asarray(clf.predict_proba(distinct), dtype=np.float64)
        else:
            parts = []
            for start in range(0, len(distinct), CHECK_EVERY):
                check()
                parts.append(np.asarray(clf.predict_proba(distinct[start : start + CHECK_EVERY]), dtype=np.float64))
            probabilities = np.vstack(parts)
        row = {t: i for i, t in enumerate(distinct)}
        return probabilities[[row[t] for t in texts]]

    return predict


# ----- model-agnostic: remove words, re-predict -------------------------------------------------------------
def _without(text: str, spans: Sequence[tuple[int, int]], keep: np.ndarray) -> str:
    """`text` with the words whose `keep` is 0 replaced by a space (so neighbours do not merge)."""
    pieces, last = [], 0
    for (start, end), kept in zip(spans, keep):
        pieces.append(text[last:start])
        pieces.append(text[start:end] if kept else " ")
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _perturbed(
    text: str, spans: Sequence[tuple[int, int]], masks: np.ndarray, check: Callable[[], None] | None
) -> list[str]:
    """`_without` for each mask, with `check()` every CHECK_EVERY texts (a long text's copies take a while)."""
    texts = []
    for i, mask in enumerate(masks):
        if check is not None and i % CHECK_EVERY == 0:
            check()
        texts.append(_without(text, spans, mask))
    return texts


def _all_masks(d: int) -> np.ndarray:
    """Every subset of d words as a (2^d, d) 0/1 matrix, the full text first."""
    return np.array(list(itertools.product((1, 0), repeat=d)), dtype=np.float64)


def _random_masks(sizes: np.ndarray, d: int, rng: np.random.Generator) -> np.ndarray:
    """One row per entry of `sizes`: a random subset of that many words switched off."""
    ranks = rng.random((len(sizes), d)).argsort(axis=1).argsort(axis=1)
    return (ranks >= sizes[:, None]).astype(np.float64)


def _lime(
    predict: Callable[[list[str]], np.ndarray],
    text: str,
    spans: list[tuple[int, int]],
    num_samples: int,
    rng: np.random.Generator,
    check: Callable[[], None] | None = None,
) -> np.ndarray:
    """LIME: a ridge regression of each class's probability on which words are present, weighted by an
    exponential kernel on the cosine distance to the full text; its coefficients are the scores (d, classes)."""
    from sklearn.linear_model import Ridge

    d = len(spans)
    if 2**d <= num_samples:
        masks = _all_masks(d)
    else:  # as lime does: the full text, then texts with a uniform number (1..d) of random words removed
        masks = np.vstack([np.ones((1, d)), _random_masks(rng.integers(1, d + 1, num_samples - 1), d, rng)])
    probabilities = predict(_perturbed(text, spans, masks, check))
    distance = 1 - np.sqrt(masks.sum(axis=1) / d)  # cosine distance between a 0/1 mask and all ones
    weights = np.sqrt(np.exp(-(distance**2) / LIME_KERNEL_WIDTH**2))  # lime's kernel, square root included
    model = Ridge(alpha=1.0).fit(masks, probabilities, sample_weight=weights)
    return np.asarray(model.coef_, dtype=np.float64).T


def _kernel_shap(
    predict: Callable[[list[str]], np.ndarray],
    text: str,
    spans: list[tuple[int, int]],
    num_samples: int,
    rng: np.random.Generator,
    check: Callable[[], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """KernelSHAP: Shapley values as the weighted least-squares fit of coalition values under the Shapley
    kernel, with the efficiency constraint sum(phi) = f(x) - f(empty) built in. Returns (phi (d, classes), f(empty))."""
    d = len(spans)
    if d <= EXACT_SHAP_WORDS or 2**d - 2 <= num_samples:
        masks = _all_masks(d)[1:-1]  # every coalition but the full and the empty one
        sizes = masks.sum(axis=1)
        weights = (d - 1) / (np.array([math.comb(d, int(s)) for s in sizes]) * sizes * (d - sizes))
    else:  # sample sizes by their share of the kernel, each coalition with its complement (variance halves)
        size_range = np.arange(1, d)
        size_mass = (d - 1) / (size_range * (d - size_range))
        sizes = rng.choice(size_range, size=max(num_samples // 2, 1), p=size_mass / size_mass.sum())
        half = _random_masks(d - sizes, d, rng)  # switch off d - s words: s stay
        masks, weights = np.unique(np.vstack([half, 1 - half]), axis=0, return_counts=True)
        weights = weights.astype(np.float64)
    texts = [text, _without(text, spans, np.zeros(d))] + _perturbed(text, spans, masks, check)
    values = predict(texts)
    full, empty, coalitions = values[0], values[1], values[2:]
    total = full - empty  # (classes,)
    if d == 1:
        return total[None, :], empty
    # eliminate the last word with phi_d = total - sum(others): an unconstrained fit in d-1 unknowns
    last = masks[:, -1:]
    x = masks[:, :-1] - last
    y = coalitions - empty - last * total
    root = np.sqrt(weights)[:, None]
    phi, *_ = np.linalg.lstsq(x * root, y * root, rcond=None)
    return np.vstack([phi, total - phi.sum(axis=0)]), empty


# ----- network methods: tokens -> words -------------------------------------------------------------------
def _network_scores(
    clf: Any, text: str, spans: list[tuple[int, int]], method: str, n_steps: int
) -> tuple[np.ndarray, bool]:
    """Per-word scores (words, classes) from token-level attention or integrated gradients, and truncation."""
    from sentilstm.system.device import resolve_device

    ids, owners, truncated = _token_owners(clf.pipeline_, text, spans)
    model = clf.model_
    device = resolve_device(clf.device)
    model.to(device)
    if method == "attention":
        token_scores = _attention(model, ids, device)  # an ensemble's: its members' attention averaged
    else:  # an ensemble's: the mean of its members' attributions, each to its own log-odds
        token_scores = np.mean([_integrated_gradients(net, ids, device, n_steps) for net in members(model)], axis=0)
    scores = np.zeros((len(spans), token_scores.shape[1]))
    known = owners >= 0
    np.add.at(scores, owners[known], token_scores[known])
    return scores, truncated


def _token_owners(pipeline: Any, text: str, spans: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, bool]:
    """(ids the model reads, index of the word each id came from or -1, whether truncation dropped tokens).

    Each word is normalised and tokenized on its own; normalisation and pre-tokenization work within
    whitespace, so the pieces concatenate to the whole text's tokens. Where they do not, tokens are matched
    by order (difflib), so a rare mismatch costs a few tokens' scores, not a wrong word.
    """
    encoded = pipeline.encode([text])[0]  # with n-gram columns when the model has them: what the model reads
    ids = word_ids(encoded)
    full = pipeline.tokenizer.encode([pipeline.normalize(text)])[0]  # before truncation
    kept = truncate(np.arange(len(full)), pipeline.config.max_length, pipeline.config.truncation)
    normalized = [(i, pipeline.normalize(text[s:e])) for i, (s, e) in enumerate(spans)]
    normalized = [(i, n) for i, n in normalized if n]  # stop words, tags... become nothing and own no token
    pieces = pipeline.tokenizer.encode([n for _, n in normalized]) if normalized else []
    piece_ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    word_owners = (
        np.concatenate([np.full(len(p), i) for (i, _), p in zip(normalized, pieces)])
        if pieces
        else np.zeros(0, dtype=np.int64)
    )
    if np.array_equal(full[kept], ids):
        owners = word_owners if np.array_equal(piece_ids, full) else _align(piece_ids, word_owners, full)
        owners = owners[kept]
    else:  # the character clip of a huge text changed the last tokens: align with what the model reads
        owners = _align(piece_ids, word_owners, ids)
    if not np.array_equal(piece_ids, full):
        log.info("word-by-word tokens differ from the text's tokens; matched them by order")
    return encoded, owners, len(full) > len(ids)


def _align(source: np.ndarray, source_owners: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Owners for `target` tokens: copied where they match `source` in order, spread proportionally over a
    replaced stretch, -1 for tokens with no counterpart."""
    owners = np.full(len(target), -1, dtype=np.int64)
    matcher = difflib.SequenceMatcher(None, source.tolist(), target.tolist(), autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            owners[b0:b1] = source_owners[a0:a1]
        elif tag == "replace":
            positions = a0 + (np.arange(b1 - b0) * (a1 - a0)) // (b1 - b0)
            owners[b0:b1] = source_owners[positions]
    return owners


@contextlib.contextmanager
def _evaluating(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode (no dropout) for the block, then the model's own mode back."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _attention(model: Any, ids: np.ndarray, device: torch.device) -> np.ndarray:
    """Attention weights (seq_len, num_classes), the same column for every class."""
    tokens = torch.as_tensor(ids, dtype=torch.long, device=device)[None]  # (1, seq_len[, 1 + K])
    lengths = torch.tensor([len(ids)], device=device)
    with _evaluating(model), torch.inference_mode():
        weights = model.attention_weights(tokens, lengths)[0].float().cpu().numpy()  # (seq_len,)
    return np.repeat(weights[:, None].astype(np.float64), model.config.num_classes, axis=1)


def _integrated_gradients(model: Any, ids: np.ndarray, device: torch.device, n_steps: int) -> np.ndarray:
    """Integrated gradients of every class's log-odds w.r.t. the embeddings, from an all-padding baseline,
    summed over embedding dimensions: (seq_len, num_classes); each column sums to ~log-odds(x) - log-odds(baseline).

    Log-odds, not probabilities: a confident prediction sits on the flat top of the softmax, where the
    gradients of the probability vanish and every word would score ~0 (a review at p=0.9999 showed scores
    of 0.003); log-odds keep the evidence additive and visible (the choice of Sundararajan et al. for logits).

    The model stays in eval mode, so dropout stays off. cuDNN's RNN backward refuses eval mode
    (pytorch/pytorch#5878; captum#564), so cuDNN is switched off for the pass: the native kernels allow it.
    """
    from captum.attr import IntegratedGradients

    num_classes = model.config.num_classes

    def log_odds(embedded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        logits = model.forward_embedded(embedded, lengths).float()  # (n, K)
        rest = logits[:, None, :].expand(-1, num_classes, -1).masked_fill(others, -math.inf)  # (n, K, K)
        return logits - torch.logsumexp(rest, dim=-1)  # log p_k - log(1 - p_k), stable at p_k -> 1

    # every tensor is made inside inference_mode(False): one made under a caller's `torch.inference_mode()` is an
    # inference tensor, and autograd refuses to save it for backward (the embedding's ids, the class mask)
    with (
        _CUDNN_SWITCH,
        _evaluating(model),
        torch.backends.cudnn.flags(enabled=False),
        torch.inference_mode(False),
        torch.enable_grad(),
    ):
        tokens = torch.as_tensor(ids, dtype=torch.long, device=device)[None]  # (1, seq_len[, 1 + K])
        lengths = torch.full((num_classes,), len(ids), device=device)
        others = torch.eye(num_classes, dtype=torch.bool, device=device)  # row k masks class k out
        embedded = model.embed(tokens).detach().float()  # (1, seq_len, embedding_dim)
        baseline = model.embed(torch.full_like(tokens, model.config.padding_idx)).detach().float()
        inputs = embedded.expand(num_classes, -1, -1).contiguous()  # one row per class to explain
        attributions = IntegratedGradients(log_odds).attribute(
            inputs,
            baselines=baseline.expand_as(inputs).contiguous(),
            target=list(range(num_classes)),
            additional_forward_args=(lengths,),
            n_steps=n_steps,
        )  # (num_classes, seq_len, embedding_dim)
    return attributions.sum(dim=-1).T.detach().cpu().numpy().astype(np.float64)


__all__ = [
    "AGNOSTIC_METHODS",
    "ExplainMethod",
    "NETWORK_METHODS",
    "TokenAttribution",
    "check_method",
    "explain",
    "word_spans",
]
