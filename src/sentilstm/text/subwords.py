"""Character n-grams of a word hashed into buckets exactly as fastText does, so subword vectors can start from a
fastText `.bin` model and every process (training, serving, a cluster worker) maps a word to the same rows.

    ngram_buckets("ụtọ", 2, 5, 2_000_000)   # array of bucket ids, one per character n-gram of "<ụtọ>"

fastText (Bojanowski et al. 2017, `Dictionary::computeSubwords`): the word is wrapped in "<" and ">", its n-grams
are taken over Unicode characters (UTF-8 continuation bytes never start or split one) for n from `minn` to
`maxn`, leaving out the one-character n-grams "<" and ">", and each n-gram's UTF-8 bytes are hashed with 32-bit
FNV-1a in which every byte is sign-extended first (fastText reads them as C `char`), then taken modulo the bucket
count. Python's own `hash()` is salted per process, so it is never used here.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619
MASK = 0xFFFFFFFF


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


@lru_cache(maxsize=262_144)
def _cached(word: str, minn: int, maxn: int, buckets: int) -> tuple[int, ...]:
    return tuple(fnv1a_32(gram) % buckets for gram in char_ngrams(word, minn, maxn))


def ngram_buckets(word: str, minn: int, maxn: int, buckets: int) -> np.ndarray:
    """Bucket ids (int64) of the word's character n-grams; repeated words are served from a cache."""
    if buckets < 1:
        raise ValueError(f"the number of n-gram buckets must be at least 1, got {buckets}")
    return np.asarray(_cached(word, minn, maxn, buckets), dtype=np.int64)


__all__ = ["char_ngrams", "fnv1a_32", "ngram_buckets"]
