"""Pretrained word vectors for a model's vocabulary only, streamed so a multi-GB file never sits in memory.

    vocabulary = {"[PAD]": 0, "[UNK]": 1, "good": 2, "Movie": 3}
    matrix, coverage = load_vectors("glove.6B.50d.txt.gz", vocabulary)  # (4, 50) float32, row 0 zeros
    print(coverage.summary())  # glove 50d: 100.0% of 2 vocabulary entries found in glove.6B.50d.txt.gz

Formats (`detect_format`; `.gz` welcome): GloVe text (`word v1 ... vD`), word2vec / fastText text (`.vec`, first
line `<count> <dim>`), word2vec binary (`.bin`), fastText binary (`.bin` with fastText's magic number; read with
gensim, which holds the whole model in memory and builds a vector for every token from its character n-grams,
so subword vocabularies (`tokenizer="bpe"`/`"unigram"`) get a vector for every piece: "##ing" is built from "ing").
Matching: the exact token first; with `lowercase_fallback`, a token not found exactly takes the vector of the
first file word equal to it case-insensitively (files are ordered by frequency). Bracketed special tokens
(`[PAD]`, `[UNK]`) are never looked up. Rows without a vector are drawn from normal(0, std of the found values)
with `seed`; row 0 (padding) is zeros.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import itertools
import logging
import struct
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sentilstm.config import check_choice
from sentilstm.errors import ConfigError, DataError
from sentilstm.system.files import as_path
from sentilstm.text.subwords import SubwordHasher
from sentilstm.text.tokenizers import UNK_ID

log = logging.getLogger(__name__)
VectorFormat = Literal["glove", "word2vec", "word2vec_binary", "fasttext_vec", "fasttext_bin"]
FASTTEXT_MAGIC = 793712314  # first little-endian int32 of every fastText .bin (FASTTEXT_FILEFORMAT_MAGIC_INT32)
PEEK_LINES = 10  # the most common vector length among the first lines sets (or checks) the dimension
CHUNK_BYTES = 1 << 20
UNREADABLE = (OSError, EOFError, zlib.error)  # gzip raises all three on a damaged or truncated file


@dataclasses.dataclass
class EmbeddingCoverage:
    """How much of a vocabulary a vectors file covers."""

    source: str  # the vectors file
    format: str
    dim: int
    vocabulary: int  # tokens looked up (bracketed special tokens excluded)
    found_exact: int
    found_lowercase: int  # found only through a case-insensitive match
    found_subword: int  # fastText .bin only: built from character n-grams, not in the file's own vocabulary
    vocabulary_share: float  # (found_exact + found_lowercase) / vocabulary
    token_share: float | None  # share of the occurrences in `token_counts` that are found; None without counts
    skipped_lines: int  # lines whose vector length differs from dim (e.g. GloVe 840B words with spaces)
    words_in_file: int  # vector lines (or binary entries) read
    ngram_rows: int = 0  # character n-gram vectors taken from a fastText .bin for subword embeddings

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """One line, e.g. 'glove 50d: 84.2% of 29,998 vocabulary entries (91.5% of training tokens) found in x'."""
        tokens = "" if self.token_share is None else f" ({self.token_share:.1%} of training tokens)"
        subwords = f"; {self.found_subword:,} more built from subwords" if self.found_subword else ""
        if self.ngram_rows:
            subwords += f"; {self.ngram_rows:,} character n-gram vectors"
        return (
            f"{self.format} {self.dim}d: {self.vocabulary_share:.1%} of {self.vocabulary:,} vocabulary entries"
            f"{tokens} found in {Path(self.source).name}{subwords}"
        )


class _Collector:
    """Keeps the vectors the vocabulary asks for: exact matches and the first case-insensitive match per key."""

    def __init__(self, lookup: dict[str, int], lowercase: bool) -> None:
        self.lookup = lookup
        self.wanted_lower = {token.lower() for token in lookup} if lowercase else set()
        self.exact: dict[int, np.ndarray] = {}
        self.lower: dict[str, np.ndarray] = {}
        self.subword: dict[int, np.ndarray] = {}
        self.ngrams: np.ndarray | None = None  # a fastText .bin's n-gram vectors, row 0 padding (subword models)

    def offer(self, word: str, parse: Callable[[], np.ndarray]) -> None:
        """Keep `parse()` for `word` if a token still needs it; `parse` runs only then (floats are costly)."""
        row, low = self.lookup.get(word), word.lower()
        exact = row is not None and row not in self.exact  # the first exact line wins
        lower = low in self.wanted_lower and low not in self.lower  # the first case-insensitive line wins
        if exact or lower:
            vector = parse()
            if row is not None and exact:
                self.exact[row] = vector
            if lower:
                self.lower[low] = vector


def detect_format(path: str | Path) -> VectorFormat:
    """The format of a vectors file, from its name (`.bin`, `.vec`, `.gz`) and its first line."""
    path, first = _first_line(path)
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".bin"):
        magic = struct.unpack("<i", first[:4])[0] if len(first) >= 4 else None
        return "fasttext_bin" if magic == FASTTEXT_MAGIC else "word2vec_binary"
    if _header(first) is not None:
        return "fasttext_vec" if name.endswith(".vec") else "word2vec"
    return "glove"


def load_vectors(
    path: str | Path,
    vocabulary: dict[str, int],
    *,
    format: VectorFormat | None = None,
    lowercase_fallback: bool = True,
    seed: int = 0,
    token_counts: dict[str, int] | None = None,
) -> tuple[np.ndarray, EmbeddingCoverage]:
    """An embedding matrix (len(vocabulary), dim) float32 for `vocabulary` (token -> row 0..V-1) from `path`.

    Only the vocabulary's vectors are kept; the file is streamed. `token_counts` (training token -> count,
    in the vocabulary or not) gives `coverage.token_share`. See the module docstring for formats and matching.
    """
    matrix, _, coverage = load_vectors_and_ngrams(
        path,
        vocabulary,
        format=format,
        lowercase_fallback=lowercase_fallback,
        seed=seed,
        token_counts=token_counts,
    )
    return matrix, coverage


def load_vectors_and_ngrams(
    path: str | Path,
    vocabulary: dict[str, int],
    *,
    subwords: SubwordHasher | None = None,
    format: VectorFormat | None = None,
    lowercase_fallback: bool = True,
    seed: int = 0,
    token_counts: dict[str, int] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, EmbeddingCoverage]:
    """`load_vectors`, plus the character n-gram table (buckets + 1, dim) of a model with `subwords` when `path` is a
    fastText .bin hashed the same way (its minn, maxn and bucket count equal the hasher's); None otherwise.

    With that table a file word's vector (word row + its n-gram rows summed over the square root of their number,
    as the network reads it) starts equal to fastText's own: its row becomes its fastText vector minus that n-gram
    part. [UNK]'s row becomes zeros, so an unseen word starts in the direction fastText gives it (the mean of its
    n-gram vectors), scaled by the square root of its n-gram count.
    """
    path, _ = _first_line(path)  # a missing or empty file fails here, with its own message
    lookup = _lookup(vocabulary)
    if format is None:
        format = detect_format(path)
    check_choice("format", format, VectorFormat)
    collector = _Collector(lookup, lowercase_fallback)
    try:
        if format == "fasttext_bin":
            dim, words, skipped = _read_fasttext_bin(path, collector, subwords)
        elif format == "word2vec_binary":
            dim, words, skipped = _read_word2vec_binary(path, collector)
        else:
            dim, words, skipped = _read_text(path, format, collector)
    except UNREADABLE as exc:
        raise _damaged(path, exc) from None

    matrix = np.zeros((len(vocabulary), dim), np.float32)
    found = np.zeros(len(vocabulary), bool)
    kinds: dict[str, str] = {}  # token -> how its vector was found
    for token, row in lookup.items():
        for kind, vector in (
            ("exact", collector.exact.get(row)),
            ("lowercase", collector.lower.get(token.lower())),
            ("subword", collector.subword.get(row)),
        ):
            if vector is not None:
                matrix[row], found[row], kinds[token] = vector, True, kind
                break
    counts, covered = Counter(kinds.values()), [token for token, kind in kinds.items() if kind != "subword"]
    if not found.any():
        raise DataError(
            f"no vocabulary word is in {str(path)!r} (coverage 0 of {len(lookup):,} tokens, {words:,} file words "
            "read); "
            "check lower-casing, the tokenizer and the language of the vectors"
        )
    std, missing = float(matrix[found].std()) or 1.0, ~found
    matrix[missing] = np.random.default_rng(seed).standard_normal((int(missing.sum()), dim), dtype=np.float32) * std
    matrix[0] = 0.0  # padding
    ngrams = collector.ngrams
    if ngrams is not None and subwords is not None:
        _subtract_ngram_parts(matrix, lookup, ngrams, subwords)
        matrix[UNK_ID] = 0.0
    token_share = None
    if token_counts is not None:
        total = sum(count for token, count in token_counts.items() if not _special(token))
        token_share = sum(token_counts.get(token, 0) for token in covered) / total if total else 0.0
    coverage = EmbeddingCoverage(
        source=str(path),
        format=format,
        dim=dim,
        vocabulary=len(lookup),
        found_exact=counts["exact"],
        found_lowercase=counts["lowercase"],
        found_subword=counts["subword"],
        vocabulary_share=len(covered) / len(lookup),
        token_share=token_share,
        skipped_lines=skipped,
        words_in_file=words,
        ngram_rows=0 if ngrams is None else len(ngrams) - 1,
    )
    log.info("%s", coverage.summary())
    return matrix, ngrams, coverage


def _subtract_ngram_parts(
    matrix: np.ndarray, lookup: dict[str, int], ngrams: np.ndarray, subwords: SubwordHasher
) -> None:
    """Each token's row minus its n-gram part (the n-gram rows' sum over the square root of their number), so that
    the network reads the row's vector for it."""
    for token, row in lookup.items():
        rows = subwords.rows(token.removeprefix("##"))
        if rows:
            matrix[row] -= ngrams[list(rows)].sum(axis=0) / np.sqrt(len(rows))


def _special(token: str) -> bool:
    return len(token) > 2 and token[0] == "[" and token[-1] == "]"


def _lookup(vocabulary: dict[str, int]) -> dict[str, int]:
    """The tokens to look up (specials removed), after checking the ids are 0..V-1, each once."""
    if not vocabulary:
        raise ConfigError("vocabulary is empty; pass the model's token -> row id mapping")
    if (ids := sorted(vocabulary.values())) != list(range(len(vocabulary))):
        raise ConfigError(
            f"vocabulary ids must be 0..{len(vocabulary) - 1}, each once; got {len(vocabulary)} tokens "
            f"with ids from {ids[0]!r} to {ids[-1]!r}; renumber them (row 0 is padding)"
        )
    lookup = {token: row for token, row in vocabulary.items() if not _special(token)}
    if not lookup:
        raise ConfigError(f"vocabulary holds only special tokens {sorted(vocabulary)}; add the words to look up")
    return lookup


def _open_binary(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")


def _damaged(path: Path, exc: BaseException) -> DataError:
    return DataError(f"cannot read vectors file {str(path)!r} ({exc}); it is truncated or damaged: download it again")


def _first_line(path: str | Path) -> tuple[Path, bytes]:
    """The path and its first line (at most 64 KiB); DataError when the file is missing, empty or unreadable."""
    path = as_path(path, "a vectors file", DataError)
    if not path.is_file():
        raise DataError(
            f"vectors file {str(path)!r} does not exist; check the path (GloVe: "
            "https://nlp.stanford.edu/projects/glove/, fastText: https://fasttext.cc)"
        )
    try:
        with _open_binary(path) as handle:
            first = handle.readline(1 << 16)
    except UNREADABLE as exc:
        raise _damaged(path, exc) from None
    if not first:
        raise DataError(f"vectors file {str(path)!r} is empty; download it again")
    return path, first


def _header(line: bytes | str) -> tuple[int, int] | None:
    """(count, dim) from a word2vec / fastText '<count> <dim>' first line, else None."""
    fields = line.split()
    if len(fields) == 2 and all(field.isdigit() for field in fields):
        return int(fields[0]), int(fields[1])
    return None


def _vector_length(line: str) -> int | None:
    """How many floats follow the word on `line`; None when they do not all parse."""
    fields = line.partition(" ")[2].split()
    try:
        np.array(fields, dtype=np.float32)
    except ValueError:
        return None
    return len(fields) or None


def _read_text(path: Path, format: VectorFormat, collector: _Collector) -> tuple[int, int, int]:
    """Stream a GloVe / word2vec / fastText text file into `collector`; returns (dim, words read, skipped lines)."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    # newline="\n": only '\n' ends a line (a '\r' or U+2028 inside a word must not); a trailing '\r' is whitespace
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="\n") as handle:
        lines = iter(handle)
        header = None
        if format != "glove":
            first = next(lines, "")
            if (header := _header(first)) is None:
                raise DataError(
                    f"{str(path)!r} should start with a '<count> <dim>' line for format {format!r}, "
                    f"got {first[:40]!r}; pass format='glove' for a file without one"
                )
        peek = list(itertools.islice(lines, PEEK_LINES))
        lengths = Counter(n for line in peek if (n := _vector_length(line)) is not None)
        if not lengths:
            raise DataError(
                f"no line of {str(path)!r} parses as 'word v1 ... vD'; it is not a text vectors file "
                "(pass format= for a binary one)"
            )
        dim = lengths.most_common(1)[0][0]
        if header is not None and header[1] != dim:
            raise DataError(
                f"{str(path)!r}: its header says {header[1]} dimensions but its lines hold {dim} values; "
                "the file is damaged or its first line wrong: download it again or fix the header"
            )
        words = skipped = 0
        for line in itertools.chain(peek, lines):
            if line.isspace():
                continue
            words += 1
            word, _, rest = line.partition(" ")
            # counting spaces is cheap; split (robust to doubled or trailing spaces) only when the count is off
            if rest.rstrip().count(" ") + 1 != dim and len(rest.split()) != dim:
                skipped += 1
            else:
                try:
                    collector.offer(word, lambda: np.array(rest.split(), dtype=np.float32))  # noqa: B023 - offer() calls it now or never
                except ValueError:  # a field is not a number
                    skipped += 1
    if skipped * 2 >= words:  # no vector length holds a majority of the lines: no dimension to trust
        raise DataError(
            f"{str(path)!r}: {skipped:,} of {words:,} lines hold a vector of another length than "
            f"{dim} numbers; it is not one set of word vectors: download it again or fix those lines"
        )
    if header is not None and header[0] != words:
        log.warning("%s: header promises %d words, read %d", path, header[0], words)
    return dim, words, skipped


def _read_word2vec_binary(path: Path, collector: _Collector) -> tuple[int, int, int]:
    """Stream a word2vec .bin ('count dim\\n', then per word: bytes, ' ', dim float32 LE, optional '\\n')."""
    with _open_binary(path) as handle:
        first = handle.readline(1 << 16)
        if (header := _header(first)) is None or 0 in header:
            raise DataError(
                f"{str(path)!r} should start with a '<count> <dim>' line for format 'word2vec_binary', "
                f"got {first[:40]!r}; pass format= to name its real format"
            )
        count, dim = header
        width, buffer, start = 4 * dim, b"", 0
        for index in range(count):
            while (space := buffer.find(b" ", start)) < 0 or len(buffer) < space + 1 + width:
                if not (more := handle.read(CHUNK_BYTES)):
                    raise DataError(
                        f"{str(path)!r} is truncated: its header promises {count:,} words of {dim} "
                        f"values but it ends in word {index + 1:,}; download it again"
                    )
                buffer, start = buffer[start:] + more, 0
            word = buffer[start:space].lstrip(b"\n").decode("utf-8", errors="replace")
            collector.offer(word, lambda: np.frombuffer(buffer, "<f4", dim, space + 1).copy())  # noqa: B023 - called at once or never
            start = space + 1 + width
    return dim, count, 0


def _read_fasttext_bin(path: Path, collector: _Collector, subwords: SubwordHasher | None) -> tuple[int, int, int]:
    """Read a fastText .bin with gensim: file words go through `collector`, other tokens get subword vectors; with
    `subwords` hashed as the file is, its n-gram vectors go to `collector.ngrams`."""
    try:
        from gensim.models.fasttext import load_facebook_vectors
    except ImportError:
        raise ConfigError(
            f"reading the fastText binary {str(path)!r} needs gensim, which is not installed: "
            "pip install 'sentilstm[embeddings]' (or use its .vec text file)"
        ) from None
    try:
        vectors = load_facebook_vectors(str(path))
    except (ValueError, struct.error, AssertionError, NotImplementedError) as exc:
        raise DataError(
            f"cannot read fastText binary {str(path)!r} ({exc}); it is truncated or not a fastText "
            ".bin: download it again"
        ) from None
    if subwords is not None:
        collector.ngrams = _matching_ngrams(path, vectors, subwords)
    for word in vectors.index_to_key:
        collector.offer(word, lambda: vectors.get_vector(word).astype(np.float32))  # noqa: B023 - called at once or never
    for token, row in collector.lookup.items():
        if row not in collector.exact and token.lower() not in collector.lower:
            # a subword piece ("##ing" from the BPE tokenizer, "▁the" from SentencePiece) is built from the
            # character n-grams of the piece itself: fastText's own way of composing unseen words
            piece = token.removeprefix("##").removeprefix("▁") or token
            vector = vectors.get_vector(piece).astype(np.float32)  # the mean of its n-gram vectors
            if vector.any():
                collector.subword[row] = vector
    return vectors.vector_size, len(vectors.index_to_key), 0


def _matching_ngrams(path: Path, vectors: Any, subwords: SubwordHasher) -> np.ndarray | None:
    """The file's n-gram vectors with a zero padding row first, when it hashes n-grams as `subwords` does."""
    theirs = (vectors.min_n, vectors.max_n, vectors.bucket)
    ours = (subwords.minn, subwords.maxn, subwords.buckets)
    if theirs != ours:
        log.warning(
            "%s hashes character n-grams %d-%d into %d buckets, the model %d-%d into %d: its n-gram vectors are not "
            "used (pass --char-ngrams %d-%d --ngram-buckets %d to start from them)",
            path.name,
            *theirs,
            *ours,
            *theirs,
        )
        return None
    table = np.zeros((subwords.buckets + 1, vectors.vector_size), np.float32)
    table[1:] = vectors.vectors_ngrams
    return table
