"""Text augmentation for the training split: EDA word edits, synonym sources and back-translation.

    synonyms = WordNetSynonyms()  # English; NeighbourSynonyms(vectors, vocabulary) works for any language
    result = augment(texts, labels, ["synonym", "swap", "delete"], synonyms=synonyms, seed=13)
    model.fit(result.texts, result.labels)  # the originals first, then the new rows

EDA (Wei & Zou 2019, "EDA: Easy Data Augmentation Techniques for Boosting Performance on Text
Classification Tasks") edits whitespace-separated words, n = max(1, round(alpha * words)) per copy:
`synonym` replaces up to n distinct words that have synonyms, `insert` puts a synonym of a random word at a
random position n times, `swap` exchanges two random words n times, `delete` drops each word with
probability alpha. A word is looked up by its core ("Good," -> "good"); its punctuation and capital stay.
Negations ("not", "never", "didn't"...) are never deleted, replaced, moved, nor inserted as a synonym:
changing one flips the sentiment, so the copy would carry the wrong label.
`backtranslate` sends every text through a round trip (e.g. English -> German -> English).

A copy identical to its original or to an earlier copy of the same text (up to whitespace) is dropped, so
`len(result.texts)` may be less than `len(texts) * (1 + copies * len(operations))`. Each copy draws from its
own generator seeded by (seed, operation, text index, copy): the output does not depend on the hash seed,
nor on which other operations were asked for.

The pieces live beside this module: the edits in `word_edits.py`, the synonym sources in `synonyms.py`,
back-translation in `backtranslation.py`; this one checks the arguments, runs the operations and assembles
the rows.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np

from sentilstm.errors import ConfigError, DataError
from sentilstm.text.backtranslation import BackTranslator, Translator
from sentilstm.text.synonyms import NeighbourSynonyms, SynonymSource, WordNetSynonyms
from sentilstm.text.word_edits import EDITS, replacements

__all__ = [
    "EDA_OPERATIONS",
    "OPERATIONS",
    "AugmentResult",
    "BackTranslator",
    "NeighbourSynonyms",
    "Operation",
    "SynonymSource",
    "Translator",
    "WordNetSynonyms",
    "augment",
]

log = logging.getLogger(__name__)
Operation = Literal["synonym", "insert", "swap", "delete", "backtranslate"]
OPERATIONS: tuple[str, ...] = get_args(Operation)
EDA_OPERATIONS: tuple[str, ...] = ("synonym", "insert", "swap", "delete")
EXAMPLE_CHARS = 120  # log lines stay readable with IMDb-length reviews


@dataclasses.dataclass
class AugmentResult:
    """The training rows after augmentation, with where each one came from."""

    texts: list[str]  # the originals first, in their order, then the augmented rows
    labels: list[Any]  # an augmented row keeps its original's label
    source: np.ndarray  # (rows,) int64: index of the original each row came from; originals map to themselves
    operations: list[str]  # "original" or the operation that produced the row

    def examples(self, n: int = 3) -> list[tuple[str, str, str]]:
        """(operation, original, augmented) for the first n augmented rows that differ from their original."""
        found: list[tuple[str, str, str]] = []
        for row, operation in enumerate(self.operations):
            original = self.texts[int(self.source[row])]
            if len(found) < n and operation != "original" and self.texts[row] != original:
                found.append((operation, original, self.texts[row]))
        return found

    def to_dict(self) -> dict[str, Any]:
        counts = Counter(self.operations)
        return {
            "originals": counts["original"],
            "added": len(self.operations) - counts["original"],
            "added_per_operation": {operation: counts[operation] for operation in OPERATIONS if counts[operation]},
        }


def augment(
    texts: Sequence[str],
    labels: Sequence[Any],
    operations: Sequence[str],
    *,
    copies: int = 1,
    alpha: float = 0.1,
    synonyms: SynonymSource | None = None,
    translator: BackTranslator | Translator | None = None,
    seed: int = 0,
) -> AugmentResult:
    """The training texts plus `copies` augmented copies per text and operation (see the module docstring).

    augment(["not a good film"], [0], ["synonym", "delete"], synonyms=WordNetSynonyms(), copies=2)
    """
    texts, labels, operations = list(texts), list(labels), _check(texts, labels, operations, copies, alpha, seed)
    if synonyms is None and {"synonym", "insert"} & set(operations):
        raise ConfigError(
            "operations 'synonym' and 'insert' need synonyms=: WordNetSynonyms() for English or "
            "NeighbourSynonyms(vectors, vocabulary) for any language"
        )
    if synonyms is not None and not callable(getattr(synonyms, "synonyms", None)):
        raise ConfigError(f"synonyms must have a synonyms(word) -> list[str] method, got {type(synonyms).__name__}")
    if "backtranslate" in operations and not callable(translator):
        raise ConfigError(
            "operation 'backtranslate' needs translator=: a BackTranslator such as BackTranslator("
            "'Helsinki-NLP/opus-mt-en-de', 'Helsinki-NLP/opus-mt-de-en') or a callable list[str] -> "
            f"list[str] that does the round trip, got {translator!r}"
        )
    produced: dict[str, list[list[str]]] = {}  # operation -> copy -> one text per original
    for operation in operations:
        if operation == "backtranslate":
            assert translator is not None  # refused above
            round_trip = translator if isinstance(translator, BackTranslator) else BackTranslator(translator)
            produced[operation] = [round_trip(texts) for _ in range(copies)]  # a sampling translator varies copies
        else:
            produced[operation] = _edit_all(texts, operation, copies, alpha, synonyms, seed)
    result = _assemble(texts, labels, operations, produced, copies)
    added = Counter(result.operations)
    log.info(
        "augmentation added %d rows to %d texts (%s)",
        len(result.texts) - len(texts),
        len(texts),
        ", ".join(f"{operation} {added[operation]}" for operation in operations),
    )
    for operation, original, augmented in result.examples(3):
        log.info("%s: %r -> %r", operation, *_excerpts(original, augmented))
    return result


def _check(
    texts: Sequence[str], labels: Sequence[Any], operations: Sequence[str], copies: int, alpha: float, seed: int
) -> list[str]:
    """Validate augment's arguments; the operations, duplicates removed, in their order."""
    if len(texts) != len(labels):
        raise DataError(f"texts and labels must have the same length, got {len(texts)} texts and {len(labels)} labels")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(f"texts[{index}] must be a string, got {type(text).__name__} {text!r:.60}")
    if isinstance(operations, str) or not all(operation in OPERATIONS for operation in operations):
        raise ConfigError(f"operations must be a list drawn from {list(OPERATIONS)}, got {operations!r}")
    if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
        raise ConfigError(f"copies must be an integer >= 1, got {copies!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha <= 0.5:
        raise ConfigError(f"alpha must be in (0, 0.5] (the share of words changed; EDA uses 0.1), got {alpha!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    return list(dict.fromkeys(operations))


def _edit_all(
    texts: list[str], operation: str, copies: int, alpha: float, synonyms: SynonymSource | None, seed: int
) -> list[list[str]]:
    """Apply one EDA operation to every text, `copies` times, each copy from its own seeded generator."""
    edit, code = EDITS[operation], OPERATIONS.index(operation)
    lookup = functools.partial(replacements, synonyms=synonyms, cache={})  # one lookup per distinct word
    return [
        [
            " ".join(edit(text.split(), alpha, np.random.default_rng([seed, code, index, copy]), lookup))
            for index, text in enumerate(texts)
        ]
        for copy in range(copies)
    ]


def _assemble(
    texts: list[str], labels: list[Any], operations: list[str], produced: dict[str, list[list[str]]], copies: int
) -> AugmentResult:
    """Originals first, then each text's copies (by operation, then copy), dropping empties and duplicates."""
    rows, row_labels = list(texts), list(labels)
    source, row_operations = list(range(len(texts))), ["original"] * len(texts)
    for index, text in enumerate(texts):
        seen = {" ".join(text.split())}  # membership only, never iterated: order stays hash-independent
        for operation in operations:
            for copy in range(copies):
                candidate = produced[operation][copy][index]
                key = " ".join(candidate.split())
                if key and key not in seen:
                    seen.add(key)
                    rows.append(candidate)
                    row_labels.append(labels[index])
                    source.append(index)
                    row_operations.append(operation)
    return AugmentResult(rows, row_labels, np.asarray(source, dtype=np.int64), row_operations)


def _excerpts(original: str, augmented: str) -> tuple[str, str]:
    """Both texts cut to EXAMPLE_CHARS from a little before their first difference, so a long review's edit shows."""
    same = next((i for i, (a, b) in enumerate(zip(original, augmented)) if a != b), min(len(original), len(augmented)))
    start = max(0, same - EXAMPLE_CHARS // 3)
    return _excerpt(original, start), _excerpt(augmented, start)


def _excerpt(text: str, start: int) -> str:
    end = start + EXAMPLE_CHARS
    return ("..." if start else "") + text[start:end] + ("..." if end < len(text) else "")
