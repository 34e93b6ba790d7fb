"""EDA's four word edits (Wei & Zou 2019), each on one text's whitespace-separated words with its own generator:
`synonym` replaces up to n distinct words that have synonyms, `insert` puts a synonym of a random word at a random
position n times, `swap` exchanges two random words n times, `delete` drops each word with probability alpha;
n = max(1, round(alpha * words)).

    lookup = functools.partial(replacements, synonyms=WordNetSynonyms(), cache={})   # one lookup per word
    EDITS["synonym"]("not a good film".split(), 0.1, np.random.default_rng(0), lookup)  # a list of words

A word is looked up by its core ("Good," -> "good"); its punctuation and capital stay. Negations are never
deleted, replaced, moved, nor inserted as a synonym: changing one flips the sentiment.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from sentilstm.text.normalize import NEGATIONS
from sentilstm.text.synonyms import SynonymSource, is_word

# prefix, core, suffix: "(Good!)" -> "(", "Good", "!)"; combining tone marks belong to the core (Igbo "mma\u0301").
_CORE = re.compile(r"^([^\w\u0300-\u036f]*)(.*?)([^\w\u0300-\u036f]*)$")


def _split_core(token: str) -> tuple[str, str, str]:
    """(leading punctuation, core, trailing punctuation) of a whitespace-free token (the pattern always matches)."""
    match = _CORE.match(token)
    assert match is not None
    return match.group(1), match.group(2), match.group(3)


def _synonym_replace(
    tokens: list[str], alpha: float, rng: np.random.Generator, lookup: Callable[[str], list[str]]
) -> list[str]:
    edited, budget = list(tokens), _budget(alpha, len(tokens))
    for position in rng.permutation(len(tokens)):
        prefix, core, suffix = _split_core(tokens[position])
        options = lookup(core)
        if options:
            edited[position] = prefix + _recase(core, options[rng.integers(len(options))]) + suffix
            budget -= 1
            if budget == 0:
                break
    return edited


def _random_insert(
    tokens: list[str], alpha: float, rng: np.random.Generator, lookup: Callable[[str], list[str]]
) -> list[str]:
    edited = list(tokens)
    choices = [options for options in (lookup(_split_core(token)[1]) for token in tokens) if options]
    for _ in range(_budget(alpha, len(tokens)) if choices else 0):
        options = choices[rng.integers(len(choices))]
        edited.insert(int(rng.integers(len(edited) + 1)), options[rng.integers(len(options))])
    return edited


def _random_swap(
    tokens: list[str], alpha: float, rng: np.random.Generator, lookup: Callable[[str], list[str]]
) -> list[str]:
    # Negations stay put: moving "not" to another clause changes what it negates.
    movable = np.array(
        [position for position, token in enumerate(tokens) if not _is_negation(_split_core(token)[1])], dtype=np.int64
    )
    edited = list(tokens)
    for _ in range(_budget(alpha, len(tokens)) if len(movable) >= 2 else 0):
        first, second = movable[rng.choice(len(movable), size=2, replace=False)]
        edited[first], edited[second] = edited[second], edited[first]
    return edited


def _random_delete(
    tokens: list[str], alpha: float, rng: np.random.Generator, lookup: Callable[[str], list[str]]
) -> list[str]:
    if len(tokens) < 2:
        return list(tokens)
    draws = rng.random(len(tokens))
    kept = [token for token, draw in zip(tokens, draws) if draw >= alpha or _is_negation(_split_core(token)[1])]
    return kept or [tokens[rng.integers(len(tokens))]]  # never an empty text


EDITS = {"synonym": _synonym_replace, "insert": _random_insert, "swap": _random_swap, "delete": _random_delete}


def _budget(alpha: float, words: int) -> int:
    """EDA's n: how many words one copy changes."""
    return max(1, round(alpha * words))


def _is_negation(word: str) -> bool:
    word = word.lower().replace("\u2019", "'")
    return word in NEGATIONS or word.endswith("n't")


def replacements(core: str, synonyms: SynonymSource | None, cache: dict[str, list[str]]) -> list[str]:
    """The synonyms `core` may be replaced by: single words, no negations, not itself; [] for a negation."""
    key = core.lower()
    if key not in cache:
        found = synonyms.synonyms(key) if synonyms is not None and is_word(key) and not _is_negation(key) else []
        cache[key] = [
            word
            for word in dict.fromkeys(found)
            if isinstance(word, str)
            and word.strip()
            and word.lower() != key
            and not _is_negation(word)
            and len(word.split()) == 1
        ]
    return cache[key]


def _recase(core: str, word: str) -> str:
    """`word` with `core`'s capitalisation: 'Good' -> 'Great', 'GOOD' -> 'GREAT'."""
    if len(core) > 1 and core.isupper():
        return word.upper()
    return word[:1].upper() + word[1:] if core[:1].isupper() else word


__all__ = ["EDITS", "replacements"]
