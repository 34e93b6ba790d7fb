"""Character n-gram hashing (sentilstm.text.subwords) matches fastText's, checked against gensim's
fastText-compatible implementation, and is the same in every process."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from sentilstm.text.subwords import char_ngrams, fnv1a_32, ngram_buckets

WORDS = ["good", "ụtọ", "ọ́", "ጥሩ", "مزيان", "naija", "a", "", "😀ok", "kò-dára", "x" * 40]


def test_ngrams_are_characters_of_the_wrapped_word() -> None:
    assert char_ngrams("abc", 1, 2) == [b"<a", b"a", b"ab", b"b", b"bc", b"c", b"c>"]
    assert char_ngrams("ụ", 1, 3) == [b"<\xe1\xbb\xa5", b"<\xe1\xbb\xa5>", b"\xe1\xbb\xa5", b"\xe1\xbb\xa5>"]
    assert all(len(gram.decode()) in (3, 4) for gram in char_ngrams("ጥሩነት", 3, 4))  # never splits a character


@pytest.mark.parametrize("word", WORDS)
@pytest.mark.parametrize(("minn", "maxn"), [(3, 6), (2, 5), (1, 1)])
def test_buckets_match_gensims_fasttext_hashing(word: str, minn: int, maxn: int) -> None:
    fasttext = pytest.importorskip("gensim.models.fasttext")
    expected = fasttext.ft_ngram_hashes(word, minn, maxn, 2_000_000)
    np.testing.assert_array_equal(ngram_buckets(word, minn, maxn, 2_000_000), np.asarray(expected, dtype=np.int64))


def test_hash_is_fnv1a_with_sign_extended_bytes() -> None:
    assert fnv1a_32(b"") == 2166136261
    assert fnv1a_32(b"a") == 0xE40C292C  # the FNV-1a test vector: ASCII bytes are unaffected
    assert fnv1a_32("é".encode()) != 0x8E2B4E3D  # plain FNV-1a of b"\xc3\xa9"; fastText sign-extends


def test_the_same_buckets_in_another_process_whatever_its_hash_seed() -> None:
    code = "from sentilstm.text.subwords import ngram_buckets; print(ngram_buckets('ụtọ', 2, 5, 1000).tolist())"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True
        ).stdout
        for seed in ("1", "2")
    }
    assert outputs == {f"{ngram_buckets('ụtọ', 2, 5, 1000).tolist()}\n"}


@pytest.mark.parametrize(("minn", "maxn", "buckets"), [(0, 3, 10), (4, 3, 10), (2, 5, 0)])
def test_bad_sizes_are_refused(minn: int, maxn: int, buckets: int) -> None:
    with pytest.raises(ValueError, match="must"):
        ngram_buckets("word", minn, maxn, buckets)
