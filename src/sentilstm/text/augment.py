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
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import posixpath
import re
import sys
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

import numpy as np

from sentilstm.errors import ConfigError, DataError
from sentilstm.text.normalize import NEGATIONS, URL_TOKEN, USER_TOKEN

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
Translator = Callable[[list[str]], list[str]]
WORDNET_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
# Where nltk itself looks after $NLTK_DATA and ~/nltk_data, and where Debian's wordnet-base installs.
_NLTK_FOLDERS = (
    *(str(Path(sys.prefix, sub)) for sub in ("nltk_data", "share/nltk_data", "lib/nltk_data")),
    "/usr/share/nltk_data",
    "/usr/local/share/nltk_data",
    "/usr/lib/nltk_data",
    "/usr/local/lib/nltk_data",
)
_DEBIAN_WORDNET = "/usr/share/wordnet"
EXAMPLE_CHARS = 120  # log lines stay readable with IMDb-length reviews
_SPECIAL = re.compile(r"^\[.*\]$")  # [PAD], [UNK], [CLS]...
_MARKER = re.compile(r"\((?:a|p|ip)\)$")  # WordNet adjective position markers: "good(a)", "elect(ip)"
# prefix, core, suffix: "(Good!)" -> "(", "Good", "!)"; combining tone marks belong to the core (Igbo "mma\u0301").
_CORE = re.compile(r"^([^\w\u0300-\u036f]*)(.*?)([^\w\u0300-\u036f]*)$")


class SynonymSource(Protocol):
    """Anything with `synonyms(word)`: a lowercase word in, replacements out (never the word), in a fixed order."""

    def synonyms(self, word: str) -> list[str]: ...


class WordNetSynonyms:
    """English synonyms read straight from WordNet's data files (data.noun, .verb, .adj, .adv); no nltk needed.

        WordNetSynonyms().synonyms("good")  # ['adept', 'beneficial', 'commodity', 'dear', ...]

    `path` is a folder holding data.noun (or its `dict/` subfolder) or an nltk-style wordnet.zip. Without it:
    $SENTILSTM_WORDNET, then corpora/wordnet and corpora/wordnet.zip under each $NLTK_DATA folder, ~/nltk_data,
    the Python prefix and nltk's system folders, then /usr/share/wordnet (Debian's wordnet-base).
    Synonyms are the other lemmas of the word's synsets, lowercased. Multi-word lemmas ("ice_cream") are
    skipped: an EDA edit swaps one whitespace word for one word, and only single words are ever looked up.
    The files are parsed on the first lookup (about a second), not at construction.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.location = _find_wordnet(path)
        self._index: dict[str, list[str]] | None = None

    def synonyms(self, word: str) -> list[str]:
        if self._index is None:
            self._index = _read_wordnet(self.location)
            log.info("WordNet: %s words with synonyms read from %s", f"{len(self._index):,}", self.location)
        return list(self._index.get(word.lower(), []))


class NeighbourSynonyms:
    """Language-agnostic synonyms: the nearest vocabulary words by cosine similarity (works for Igbo, Pidgin...).

        NeighbourSynonyms(model_embeddings, vocabulary, k=5).synonyms("ọma")

    `vectors` is (len(vocabulary), dim). All-zero rows (no vector), bracketed special tokens and tokens with
    no letter are never returned. Neighbours are computed per word on first lookup and cached (no V x V
    matrix). Distributional neighbours can be antonyms ("good" ~ "bad" in GloVe): raise `min_similarity`
    or use vectors trained on sentiment labels when that hurts.
    """

    def __init__(self, vectors: np.ndarray, vocabulary: list[str], k: int = 5, min_similarity: float = 0.5) -> None:
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != len(vocabulary):
            raise ConfigError(
                f"vectors must have shape (len(vocabulary), dim) = ({len(vocabulary)}, dim), "
                f"got {matrix.shape}; pass one row per vocabulary token, in vocabulary order"
            )
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"k must be an integer >= 1, got {k!r}")
        if not -1.0 <= min_similarity <= 1.0:
            raise ConfigError(f"min_similarity must be a cosine between -1 and 1, got {min_similarity!r}")
        self.vocabulary, self.k, self.min_similarity = list(vocabulary), k, min_similarity
        norms = np.linalg.norm(matrix, axis=1)
        usable = [norms[row] > 0 and _is_word(token) for row, token in enumerate(self.vocabulary)]
        self._rows = np.flatnonzero(usable)  # vocabulary rows that may be returned
        self._unit = matrix[self._rows] / norms[self._rows, None]  # (usable, dim)
        self._position: dict[str, int] = {}
        for position, row in enumerate(self._rows):
            self._position.setdefault(self.vocabulary[row].lower(), position)  # the first (most frequent) casing wins
        self._cache: dict[str, list[str]] = {}

    def synonyms(self, word: str) -> list[str]:
        key = word.lower()
        if key not in self._cache:
            position = self._position.get(key)
            self._cache[key] = [] if position is None else self._nearest(key, position)
        return list(self._cache[key])

    def _nearest(self, key: str, position: int) -> list[str]:
        """Up to k other words at least min_similarity away, closest first (ties by vocabulary order)."""
        similarity = self._unit @ self._unit[position]  # (usable,)
        close = np.flatnonzero(similarity >= self.min_similarity)
        close = close[np.lexsort((close, -similarity[close]))]
        found: list[str] = []
        for candidate in close:
            token = self.vocabulary[self._rows[candidate]].lower()
            if token != key and token not in found:
                found.append(token)
                if len(found) == self.k:
                    break
        return found


class BackTranslator:
    """Round-trip translation, source -> pivot -> source, in batches of `batch_size`.

        BackTranslator("Helsinki-NLP/opus-mt-en-de", "Helsinki-NLP/opus-mt-de-en")(["a fine film"])

    Each direction is a callable list[str] -> list[str] or a Hugging Face model name (or local folder), loaded
    with `transformers.pipeline("translation", model=name)` on first use, once. With `backward=None`,
    `forward` does the whole round trip itself.
    """

    def __init__(
        self, forward: Translator | str, backward: Translator | str | None = None, batch_size: int = 32
    ) -> None:
        for name, direction in (("forward", forward), ("backward", backward)):
            if not (
                callable(direction)
                or (isinstance(direction, str) and direction.strip())
                or (name == "backward" and direction is None)
            ):
                raise ConfigError(
                    f"{name} must be a callable list[str] -> list[str] or a Hugging Face translation "
                    f"model name such as 'Helsinki-NLP/opus-mt-en-de', got {direction!r}"
                )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        self.forward, self.backward, self.batch_size = forward, backward, batch_size
        self._pipelines: dict[str, Translator] = {}

    def __call__(self, texts: list[str]) -> list[str]:
        texts, translated = list(texts), []
        for start in range(0, len(texts), self.batch_size):
            batch = self._translate("forward", self.forward, texts[start : start + self.batch_size])
            if self.backward is not None:
                batch = self._translate("backward", self.backward, batch)
            translated += batch
        return translated

    def _translate(self, name: str, direction: Translator | str, batch: list[str]) -> list[str]:
        """One direction on one batch, checked: a wrong-length answer would misalign texts and labels."""
        result = (self._load(direction) if isinstance(direction, str) else direction)(list(batch))
        if (
            not isinstance(result, (list, tuple))
            or len(result) != len(batch)
            or not all(isinstance(text, str) for text in result)
        ):
            raise ConfigError(
                f"the {name} translator must return a list with one string per input text; "
                f"given {len(batch)} texts it returned {_describe(result)}"
            )
        return list(result)

    def _load(self, model: str) -> Translator:
        """The translation pipeline for `model`, built on first use."""
        if model not in self._pipelines:
            try:
                import transformers
            except ImportError:
                raise ConfigError(
                    f"back-translation with the model {model!r} needs transformers: "
                    "pip install transformers sentencepiece, or pass a callable list[str] -> list[str]"
                ) from None
            try:
                pipe = transformers.pipeline("translation", model=model)
            except (OSError, ValueError) as error:  # not cached and no network, not a model folder, a bad name
                first_line = (str(error).splitlines() or [""])[0]
                raise ConfigError(
                    f"cannot load the translation model {model!r} ({first_line}); "
                    "pass a local model folder or a callable"
                ) from None
            batch_size = self.batch_size
            self._pipelines[model] = lambda texts: [
                item["translation_text"] for item in pipe(texts, batch_size=batch_size, truncation=True)
            ]
        return self._pipelines[model]


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
    edit, code = _EDITS[operation], OPERATIONS.index(operation)
    lookup = functools.partial(_replacements, synonyms=synonyms, cache={})  # one lookup per distinct word
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


_EDITS = {"synonym": _synonym_replace, "insert": _random_insert, "swap": _random_swap, "delete": _random_delete}


def _budget(alpha: float, words: int) -> int:
    """EDA's n: how many words one copy changes."""
    return max(1, round(alpha * words))


def _is_negation(word: str) -> bool:
    word = word.lower().replace("\u2019", "'")
    return word in NEGATIONS or word.endswith("n't")


def _is_word(token: str) -> bool:
    """A token that may stand in for a word: has a letter, is not [PAD]-like nor a normaliser placeholder."""
    return any(char.isalpha() for char in token) and not _SPECIAL.match(token) and token not in (URL_TOKEN, USER_TOKEN)


def _replacements(core: str, synonyms: SynonymSource | None, cache: dict[str, list[str]]) -> list[str]:
    """The synonyms `core` may be replaced by: single words, no negations, not itself; [] for a negation."""
    key = core.lower()
    if key not in cache:
        found = synonyms.synonyms(key) if synonyms is not None and _is_word(key) and not _is_negation(key) else []
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


def _excerpts(original: str, augmented: str) -> tuple[str, str]:
    """Both texts cut to EXAMPLE_CHARS from a little before their first difference, so a long review's edit shows."""
    same = next((i for i, (a, b) in enumerate(zip(original, augmented)) if a != b), min(len(original), len(augmented)))
    start = max(0, same - EXAMPLE_CHARS // 3)
    return _excerpt(original, start), _excerpt(augmented, start)


def _excerpt(text: str, start: int) -> str:
    end = start + EXAMPLE_CHARS
    return ("..." if start else "") + text[start:end] + ("..." if end < len(text) else "")


def _describe(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        kinds = sorted({type(item).__name__ for item in value})
        return f"a {type(value).__name__} of {len(value)} ({', '.join(kinds) or 'empty'})"
    return f"{type(value).__name__} {str(value)[:60]!r}"


def _find_wordnet(path: str | Path | None) -> Path:
    """The WordNet folder or zip to read; DataError naming where it looked and how to install it."""
    given = path if path is not None else os.environ.get("SENTILSTM_WORDNET") or None
    if given is not None:  # an explicit location must be right, not silently replaced by another install
        found = _wordnet_at(Path(given).expanduser())
        if found is None:
            raise DataError(
                f"no WordNet data (data.noun) in {given}; pass a folder holding data.noun or an "
                "nltk wordnet.zip, or install it with `apt install wordnet-base`"
            )
        return found
    roots = [Path(folder) for folder in os.environ.get("NLTK_DATA", "").split(os.pathsep) if folder]
    roots = list(dict.fromkeys([*roots, Path(os.path.expanduser("~/nltk_data")), *map(Path, _NLTK_FOLDERS)]))
    candidates = [root / "corpora" / name for root in roots for name in ("wordnet", "wordnet.zip")]
    for candidate in [*candidates, Path(_DEBIAN_WORDNET)]:
        found = _wordnet_at(candidate)
        if found is not None:
            return found
    raise DataError(
        f"English WordNet data not found (looked for corpora/wordnet[.zip] under "
        f"{', '.join(map(str, roots))}, and in {_DEBIAN_WORDNET}[/dict]); install it with "
        "`apt install wordnet-base` or `python -m nltk.downloader wordnet`, "
        "or set SENTILSTM_WORDNET=DIR (a folder holding data.noun, or a wordnet.zip)"
    )


def _wordnet_at(path: Path) -> Path | None:
    """`path` (or its dict/ subfolder) if it holds data.noun, as a folder or inside a zip; else None."""
    for folder in (path, path / "dict"):
        if (folder / "data.noun").is_file():
            return folder
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if any(posixpath.basename(member) == "data.noun" for member in archive.namelist()):
                return path
    return None


def _wordnet_files(location: Path) -> Iterator[tuple[str, str]]:
    """(name, text) of each WordNet data file present at `location`, a folder or a zip."""
    if location.is_dir():
        for name in WORDNET_FILES:
            if (location / name).is_file():
                yield str(location / name), (location / name).read_text("utf-8", errors="replace")
        return
    with zipfile.ZipFile(location) as archive:
        members = archive.namelist()
        for name in WORDNET_FILES:  # nltk's zip keeps them in wordnet/; the shallowest copy wins
            matches = sorted(
                (member for member in members if posixpath.basename(member) == name),
                key=lambda member: (member.count("/"), member),
            )
            if matches:
                yield f"{location}!{matches[0]}", archive.read(matches[0]).decode("utf-8", errors="replace")


def _read_wordnet(location: Path) -> dict[str, list[str]]:
    """word -> sorted single-word synonyms, from every synset line of the data files."""
    related: dict[str, set[str]] = {}
    for name, content in _wordnet_files(location):
        for number, line in enumerate(content.splitlines(), 1):
            if not line.strip() or line.startswith("  "):  # the licence header's lines start with two spaces
                continue
            fields = line.split()  # offset lex_filenum ss_type w_cnt(hex) word lex_id [word lex_id...] p_cnt ...
            try:
                count = int(fields[3], 16)
            except (IndexError, ValueError):
                raise DataError(
                    f"{name} line {number} is not a WordNet synset line: {line[:60]!r}; reinstall the WordNet data"
                ) from None
            words = (_MARKER.sub("", word).replace("_", " ").lower() for word in fields[4 : 4 + 2 * count : 2])
            lemmas = list(dict.fromkeys(word for word in words if word and " " not in word))
            for lemma in lemmas:
                related.setdefault(lemma, set()).update(other for other in lemmas if other != lemma)
    return {word: sorted(others) for word, others in related.items() if others}
