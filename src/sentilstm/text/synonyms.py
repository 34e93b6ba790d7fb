"""Synonym sources for augmentation's `synonym` and `insert` edits: anything with `synonyms(word)`.

    WordNetSynonyms().synonyms("good")                     # English, read straight from WordNet's data files
    NeighbourSynonyms(vectors, vocabulary).synonyms("ọma")  # any language: nearest words by cosine similarity

`WordNetSynonyms` finds and parses the WordNet files itself (no nltk needed); `NeighbourSynonyms` uses a model's
embedding matrix or pretrained vectors.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from sentilstm.errors import ConfigError, DataError
from sentilstm.text.normalize import URL_TOKEN, USER_TOKEN

log = logging.getLogger(__name__)
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
_SPECIAL = re.compile(r"^\[.*\]$")  # [PAD], [UNK], [CLS]...
_MARKER = re.compile(r"\((?:a|p|ip)\)$")  # WordNet adjective position markers: "good(a)", "elect(ip)"


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
        usable = [norms[row] > 0 and is_word(token) for row, token in enumerate(self.vocabulary)]
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


def is_word(token: str) -> bool:
    """A token that may stand in for a word: has a letter, is not [PAD]-like nor a normaliser placeholder."""
    return any(char.isalpha() for char in token) and not _SPECIAL.match(token) and token not in (URL_TOKEN, USER_TOKEN)


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


__all__ = ["NeighbourSynonyms", "SynonymSource", "WordNetSynonyms", "is_word"]
