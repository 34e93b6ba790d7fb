"""Character n-grams of a word hashed into buckets exactly as fastText does, so subword vectors can start from a
fastText `.bin` model and every process (training, serving, a cluster worker) maps a word to the same rows.

    ngram_buckets("ụtọ", 2, 5, 2_000_000)   # array of bucket ids, one per character n-gram of "<ụtọ>"
    hasher = SubwordHasher(2, 5, 100_000)
    hasher.attach(ids, ["ụtọ", "dị"])         # (tokens, 1 + K) rows: word id, then n-gram rows (0 = none)

fastText (Bojanowski et al. 2017, `Dictionary::computeSubwords`): the word is wrapped in "<" and ">", its n-grams
are taken over Unicode characters (UTF-8 continuation bytes never start or split one) for n from `minn` to
`maxn`, leaving out the one-character n-grams "<" and ">", and each n-gram's UTF-8 bytes are hashed with 32-bit
FNV-1a in which every byte is sign-extended first (fastText reads them as C `char`), then taken modulo the bucket
count. Python's own `hash()` is salted per process, so it is never used here.

The network's input for a text with subwords is one int array (tokens, 1 + K): column 0 the word id, then the
token's n-gram rows (bucket + 1; 0 pads tokens with fewer n-grams). Keeping both in one array means truncation,
batching, ONNX export and serving carry subwords with no second input. A token keeps at most MAX_NGRAMS n-grams,
spread evenly over the word when it has more (prefix, middle and suffix all count), which bounds the work a
hostile 10,000-character "word" can cause.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619
MASK = 0xFFFFFFFF
MAX_NGRAMS = 48  # n-grams kept per token: every one of a 12-character word at 2-5


def fnv1a_32(data: bytes) -> int:
    """fastText's hash of a byte string: FNV-1a over sign-extended bytes, as an unsigned 32-bit number."""
    h = FNV_OFFSET
    for byte in data:
        h = ((h ^ (byte - 256 if byte >= 128 else byte)) & MASK) * FNV_PRIME & MASK
    return h


def char_ngrams(word: str, minn: int, maxn: int) -> list[bytes]:
    """The UTF-8 character n-grams of "<word>" fastText hashes, in its order."""
    if not 1 <= minn <= maxn:
        raise ValueError(f"character n-gram sizes must satisfy 1 <= min <= max, got {minn}-{maxn}")
    data = f"<{word}>".encode()
    starts = [i for i, byte in enumerate(data) if byte & 0xC0 != 0x80] + [len(data)]  # character boundaries
    grams = []
    for first in range(len(starts) - 1):
        for n in range(minn, maxn + 1):
            if first + n >= len(starts):
                break
            if n == 1 and (first == 0 or first + n == len(starts) - 1):
                continue  # "<" or ">" alone
            grams.append(data[starts[first] : starts[first + n]])
    return grams


def ngram_buckets(word: str, minn: int, maxn: int, buckets: int, limit: int | None = None) -> np.ndarray:
    """Bucket ids (int64) of the word's character n-grams; with `limit`, at most that many, spread evenly from its
    first n-gram to its last and chosen before any is hashed (a 30,000-character "word" costs 48 hashes)."""
    if buckets < 1:
        raise ValueError(f"the number of n-gram buckets must be at least 1, got {buckets}")
    grams = char_ngrams(word, minn, maxn)
    if limit is not None and len(grams) > limit:
        grams = [grams[i] for i in np.linspace(0, len(grams) - 1, limit).round().astype(int)]
    return np.asarray([fnv1a_32(gram) % buckets for gram in grams], dtype=np.int64)


class SubwordHasher:
    """Token strings -> rows of the n-gram table, as `ngram_buckets` (+1: row 0 is padding), cached per token."""

    def __init__(self, minn: int, maxn: int, buckets: int) -> None:
        if buckets < 1:
            raise ValueError(f"the number of n-gram buckets must be at least 1, got {buckets}")
        char_ngrams("", minn, maxn)  # the sizes' check
        self.minn, self.maxn, self.buckets = minn, maxn, buckets
        self.rows = lru_cache(maxsize=262_144)(self._token_rows)  # token -> its n-gram rows (a tuple)

    def _token_rows(self, token: str) -> tuple[int, ...]:
        return tuple((ngram_buckets(token, self.minn, self.maxn, self.buckets, MAX_NGRAMS) + 1).tolist())

    def __getstate__(self) -> dict[str, int]:  # the cache stays behind (a worker process builds its own)
        return {"minn": self.minn, "maxn": self.maxn, "buckets": self.buckets}

    def __setstate__(self, state: dict[str, int]) -> None:
        self.__init__(state["minn"], state["maxn"], state["buckets"])  # type: ignore[misc]

    def attach(self, ids: np.ndarray, tokens: list[str]) -> np.ndarray:
        """(len(ids), 1 + K) int32: the word ids, then each token's n-gram rows right-padded with 0."""
        if len(tokens) != len(ids):
            raise ValueError(f"{len(ids)} token ids but {len(tokens)} token strings")
        rows = [self.rows(token) for token in tokens]
        out = np.zeros((len(ids), 1 + max((len(r) for r in rows), default=0)), dtype=np.int32)
        out[:, 0] = ids
        for i, r in enumerate(rows):
            out[i, 1 : 1 + len(r)] = r
        return out


def word_ids(encoded: np.ndarray) -> np.ndarray:
    """The word ids of an encoded text, with or without its n-gram columns."""
    return encoded if encoded.ndim == 1 else encoded[:, 0].astype(np.int64)


__all__ = ["MAX_NGRAMS", "SubwordHasher", "char_ngrams", "fnv1a_32", "ngram_buckets", "word_ids"]
