"""sentilstm.text.embeddings: pretrained vectors in every format, loaded for a vocabulary only, with exact coverage.

Each test writes a small vectors file in tmp_path; the memory test writes ~60 MB, the GloVe test reads
../shared/data/glove/glove.6B.50d.txt.gz when it exists (slow).
"""

from __future__ import annotations

import gzip
import struct
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from sentilstm.errors import ConfigError, DataError
from sentilstm.text.embeddings import FASTTEXT_MAGIC, detect_format, load_vectors

GLOVE_6B = Path(__file__).resolve().parents[2] / "shared" / "data" / "glove" / "glove.6B.50d.txt.gz"
ROWS = {  # frequency order, as in real files
    "the": [0.1, 0.2, 0.3, 0.4],
    "good": [1.0, -1.0, 0.5, 0.25],
    "movie": [2.0, 2.5, -3.0, 4.0],
    "MOVIE": [9.0, 9.0, 9.0, 9.0],
    "bad": [-1.5, 0.0, 1.5, 3.0],
    "café": [0.5, 0.5, -0.5, -0.5],
}
VOCABULARY = {"[PAD]": 0, "[UNK]": 1, "good": 2, "bad": 3, "Movie": 4, "café": 5, "unseen": 6}


def write_text(
    path: Path, rows: dict[str, list[float]], *, header: bool = False, newline: str = "\n", extra: tuple[str, ...] = ()
) -> Path:
    lines = [f"{len(rows) + len(extra)} {len(next(iter(rows.values())))}"] if header else []
    lines += [f"{word} " + " ".join(f"{v:g}" for v in vector) for word, vector in rows.items()] + list(extra)
    data = (newline.join(lines) + newline).encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def write_word2vec_binary(path: Path, rows: dict[str, list[float]], *, newlines: bool = True) -> Path:
    blob = f"{len(rows)} {len(next(iter(rows.values())))}\n".encode()
    for word, vector in rows.items():
        blob += word.encode("utf-8") + b" " + struct.pack(f"<{len(vector)}f", *vector) + (b"\n" if newlines else b"")
    path.write_bytes(gzip.compress(blob) if path.suffix == ".gz" else blob)
    return path


FORMATS = {  # file name -> (writer, detected format)
    "vectors.txt": (lambda p: write_text(p, ROWS), "glove"),
    "vectors.txt.gz": (lambda p: write_text(p, ROWS), "glove"),
    "vectors.w2v.txt": (lambda p: write_text(p, ROWS, header=True), "word2vec"),
    "vectors.vec": (lambda p: write_text(p, ROWS, header=True), "fasttext_vec"),
    "vectors.vec.gz": (lambda p: write_text(p, ROWS, header=True), "fasttext_vec"),
    "vectors.bin": (lambda p: write_word2vec_binary(p, ROWS), "word2vec_binary"),
    "vectors.bin.gz": (lambda p: write_word2vec_binary(p, ROWS), "word2vec_binary"),
    "tight.bin": (lambda p: write_word2vec_binary(p, ROWS, newlines=False), "word2vec_binary"),
}


@pytest.mark.parametrize("name", FORMATS)
def test_every_format_is_detected_and_puts_exact_vectors_in_their_rows(tmp_path: Path, name: str) -> None:
    writer, expected = FORMATS[name]
    path = writer(tmp_path / name)
    assert detect_format(path) == expected
    matrix, coverage = load_vectors(path, VOCABULARY)
    assert matrix.dtype == np.float32 and matrix.shape == (7, 4)
    for token in ("good", "bad", "café"):
        np.testing.assert_array_equal(matrix[VOCABULARY[token]], np.float32(ROWS[token]))
    np.testing.assert_array_equal(matrix[4], np.float32(ROWS["movie"]))  # "Movie" -> first case-insensitive match
    assert not matrix[0].any()  # padding
    assert coverage.format == expected and coverage.dim == 4 and coverage.words_in_file == len(ROWS)
    assert (coverage.found_exact, coverage.found_lowercase, coverage.found_subword) == (3, 1, 0)
    # the explicit format gives the same matrix
    np.testing.assert_array_equal(load_vectors(path, VOCABULARY, format=expected)[0], matrix)


def test_unknown_rows_are_random_reproducible_and_scaled_like_the_found_values(tmp_path: Path) -> None:
    rows = {f"w{i}": list(np.random.default_rng(i).normal(0.0, 3.0, size=8)) for i in range(200)}
    path = write_text(tmp_path / "v.txt", rows)
    vocabulary = (
        {"[PAD]": 0, "[UNK]": 1} | {f"w{i}": i + 2 for i in range(200)} | {f"oov{i}": 202 + i for i in range(300)}
    )
    first, _ = load_vectors(path, vocabulary, seed=1)
    again, _ = load_vectors(path, vocabulary, seed=1)
    other, _ = load_vectors(path, vocabulary, seed=2)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first[2:202], other[2:202])  # found rows do not depend on the seed
    assert not np.allclose(first[202:], other[202:]) and not np.allclose(first[1], other[1])
    assert not first[0].any() and not other[0].any()
    found_std = first[2:202].std()
    assert abs(first[202:].std() / found_std - 1) < 0.1 and abs(first[202:].mean()) < 0.1 * found_std


def test_lowercase_fallback_takes_the_first_match_and_never_beats_an_exact_one(tmp_path: Path) -> None:
    vocabulary = {"[PAD]": 0, "[UNK]": 1, "Movie": 2, "film": 3}
    upper_first = {"MOVIE": [1.0, 1], "movie": [2.0, 2], "Film": [3.0, 3], "FILM": [4.0, 4]}
    matrix, coverage = load_vectors(write_text(tmp_path / "a.txt", upper_first), vocabulary)
    assert matrix[2].tolist() == [1, 1] and matrix[3].tolist() == [3, 3]
    assert (coverage.found_exact, coverage.found_lowercase) == (0, 2)
    for order in (["Movie", "movie"], ["movie", "Movie"]):
        rows = {"movie": [5.0, 5], "Movie": [6.0, 6], "film": [7.0, 7]}
        matrix, coverage = load_vectors(
            write_text(tmp_path / "b.txt", {w: rows[w] for w in order + ["film"]}), vocabulary
        )
        assert matrix[2].tolist() == [6, 6], order
        assert (coverage.found_exact, coverage.found_lowercase) == (2, 0)
    matrix, coverage = load_vectors(tmp_path / "a.txt", vocabulary | {"MOVIE": 4}, lowercase_fallback=False)
    assert matrix[4].tolist() == [1, 1] and (coverage.found_exact, coverage.found_lowercase) == (1, 0)


def test_coverage_counts_and_token_share_are_exact(tmp_path: Path) -> None:
    path = write_text(tmp_path / "vectors.txt", ROWS | {"[UNK]": [7.0, 7, 7, 7]})
    counts = {"good": 10, "bad": 5, "Movie": 3, "café": 2, "unseen": 20, "rare": 60, "[UNK]": 99}
    matrix, coverage = load_vectors(path, VOCABULARY, token_counts=counts)
    assert matrix[1].tolist() != [7, 7, 7, 7]  # special tokens are never looked up
    assert coverage.to_dict() == {
        "source": str(path),
        "format": "glove",
        "dim": 4,
        "vocabulary": 5,
        "found_exact": 3,
        "found_lowercase": 1,
        "found_subword": 0,
        "vocabulary_share": 0.8,
        "token_share": 20 / 100,
        "skipped_lines": 0,
        "words_in_file": 7,
        "ngram_rows": 0,
    }
    assert (
        coverage.summary() == "glove 4d: 80.0% of 5 vocabulary entries (20.0% of training tokens) found in vectors.txt"
    )
    _, without = load_vectors(path, VOCABULARY, lowercase_fallback=False)
    assert without.token_share is None and without.vocabulary_share == 0.6
    assert without.summary() == "glove 4d: 60.0% of 5 vocabulary entries found in vectors.txt"


def test_malformed_lines_are_skipped_and_counted_while_crlf_and_trailing_spaces_are_fine(tmp_path: Path) -> None:
    extra = (
        "at name@domain.com 1 2 3 4",  # a word with a space (GloVe 840B): five fields
        "bad 1 2 3",  # too short: skipped, the earlier "bad" stays
        "unseen 1 2 x 4",  # in the vocabulary but not floats
        "",  # a blank line is neither a word nor skipped
        "short 1 2",
        "good 9 9 9 9",
    )  # a repeated word: the first line wins
    rows = {word: vector for word, vector in ROWS.items() if word != "bad"} | {"bad": [1.0, 2, 3, 4]}
    path = write_text(tmp_path / "v.txt", rows, newline=" \r\n", extra=extra)
    matrix, coverage = load_vectors(path, VOCABULARY)
    assert matrix[3].tolist() == [1, 2, 3, 4] and matrix[2].tolist() == ROWS["good"]
    assert coverage.skipped_lines == 4 and coverage.words_in_file == len(rows) + 5 and coverage.found_exact == 3


@pytest.mark.parametrize("lines", [["good 0.1 0.2", "bad 0.1"], ["a 1 2 3", "b 1 2", "c 1", "d 1 2 3 4"]])
def test_vectors_of_many_lengths_are_a_data_error(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "ragged.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"lines hold a vector of another length than \d numbers; it is not one set"):
        load_vectors(path, VOCABULARY)


def test_detects_a_fasttext_binary_by_its_magic_number(tmp_path: Path) -> None:
    path = tmp_path / "cc.en.300.bin"
    path.write_bytes(struct.pack("<ii", FASTTEXT_MAGIC, 12) + b"\x00" * 32)
    assert detect_format(path) == "fasttext_bin"
    assert detect_format(write_text(tmp_path / "x.txt", {"3": [1.0, 2.0]})) == "glove"  # "3 1 2" is no header


def test_errors_name_the_file_and_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(path: Path, *words: str, vocabulary: dict[str, int] = VOCABULARY, **options) -> None:
        with pytest.raises(DataError) as caught:
            load_vectors(path, vocabulary, **options)
        message = str(caught.value)
        assert str(path) in message and "\n" not in message and all(w in message for w in words), message

    fails(tmp_path / "missing.txt", "does not exist")
    (tmp_path / "empty.txt").write_bytes(b"")
    fails(tmp_path / "empty.txt", "empty")
    fails(tmp_path / "empty.txt", "empty", format="glove")
    (tmp_path / "empty.txt.gz").write_bytes(gzip.compress(b""))
    fails(tmp_path / "empty.txt.gz", "empty")
    (tmp_path / "prose.txt").write_text("this is not a vectors file\nat all\n")
    fails(tmp_path / "prose.txt", "parses")
    (tmp_path / "header_only.vec").write_text("0 4\n")
    fails(tmp_path / "header_only.vec", "parses")
    path = write_text(tmp_path / "wrong.vec", ROWS, header=True)
    path.write_text(path.read_text().replace(" 4\n", " 300\n", 1))
    fails(path, "300", "4 values")
    fails(write_text(tmp_path / "glove.txt", ROWS), "'<count> <dim>'", "format='glove'", format="word2vec")
    whole = write_word2vec_binary(tmp_path / "whole.bin", ROWS).read_bytes()
    (tmp_path / "cut.bin").write_bytes(whole[:-10])
    fails(tmp_path / "cut.bin", "truncated", "6 words", "word 6")
    (tmp_path / "cut.txt.gz").write_bytes(gzip.compress(b"good 1 2\n" * 1000)[:-30])
    fails(tmp_path / "cut.txt.gz", "truncated")
    fails(
        write_text(tmp_path / "other.txt", {"Hund": [1.0, 2.0]}),
        "coverage 0",
        "lower-casing",
        "language",
        vocabulary={"[PAD]": 0, "hund": 1},
        lowercase_fallback=False,
    )
    with pytest.raises(ConfigError, match="format must be one of .*'glove'.*got 'txt'"):
        load_vectors(tmp_path / "glove.txt", VOCABULARY, format="txt")
    with pytest.raises(ConfigError, match=r"ids must be 0\.\.1"):
        load_vectors(tmp_path / "glove.txt", {"[PAD]": 0, "good": 2})
    with pytest.raises(ConfigError, match="only special tokens"):
        load_vectors(tmp_path / "glove.txt", {"[PAD]": 0, "[UNK]": 1})
    fake = tmp_path / "cc.bin"
    fake.write_bytes(struct.pack("<ii", FASTTEXT_MAGIC, 12))
    for module in ("gensim", "gensim.models", "gensim.models.fasttext"):  # as if gensim were not installed
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ConfigError, match=r"pip install 'sentilstm\[embeddings\]'") as caught:
        load_vectors(fake, VOCABULARY)
    assert str(fake) in str(caught.value)


def test_fasttext_binary_gives_subword_vectors_to_tokens_outside_its_vocabulary(tmp_path: Path) -> None:
    pytest.importorskip("gensim")
    from gensim.models import FastText
    from gensim.models.fasttext import load_facebook_vectors, save_facebook_model

    corpus = [["good", "movie", "great", "film", "Bad", "acting"]] * 20
    model = FastText(corpus, vector_size=8, min_count=1, epochs=2, bucket=2000, min_n=3, max_n=4, seed=0, workers=1)
    path = tmp_path / "tiny.bin"
    save_facebook_model(model, str(path))
    assert detect_format(path) == "fasttext_bin"
    vocabulary = {"[PAD]": 0, "[UNK]": 1, "good": 2, "bad": 3, "goodness": 4}
    matrix, coverage = load_vectors(path, vocabulary, token_counts={"good": 3, "bad": 1, "goodness": 4})
    reference = load_facebook_vectors(str(path))
    np.testing.assert_allclose(matrix[2], reference["good"], rtol=1e-6)
    np.testing.assert_allclose(matrix[3], reference["Bad"], rtol=1e-6)
    np.testing.assert_allclose(matrix[4], reference["goodness"], rtol=1e-6)  # from n-grams "goo", "ood", ...
    assert (coverage.found_exact, coverage.found_lowercase, coverage.found_subword) == (1, 1, 1)
    assert coverage.vocabulary_share == 2 / 3 and coverage.token_share == 0.5 and coverage.dim == 8
    assert coverage.words_in_file == 6 and "1 more built from subwords" in coverage.summary()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match="truncated") as caught:
        load_vectors(cut, vocabulary)
    assert str(cut) in str(caught.value)


def test_fasttext_binary_initialises_a_subword_vocabulary(tmp_path: Path) -> None:
    pytest.importorskip("gensim")
    from gensim.models import FastText
    from gensim.models.fasttext import load_facebook_vectors, save_facebook_model

    from helpers import make_negation_data
    from sentilstm.config import TextConfig
    from sentilstm.text.pipeline import TextPipeline

    texts, _ = make_negation_data(300, seed=0)
    model = FastText(
        [t.split() for t in texts],
        vector_size=8,
        min_count=1,
        epochs=2,
        bucket=5000,
        min_n=2,
        max_n=4,
        seed=0,
        workers=1,
    )
    path = tmp_path / "tiny.bin"
    save_facebook_model(model, str(path))
    pipeline, ids = TextPipeline.fit(texts, TextConfig(tokenizer="bpe", vocab_size=120))
    vocabulary = pipeline.tokenizer.vocabulary()
    assert "##ing" in vocabulary
    matrix, coverage = load_vectors(path, vocabulary)
    reference = load_facebook_vectors(str(path))
    np.testing.assert_allclose(matrix[vocabulary["##ing"]], reference.get_vector("ing"), rtol=1e-6)
    assert (
        coverage.found_subword > 0 and coverage.vocabulary_share + coverage.found_subword / (len(vocabulary) - 2) > 0.95
    )


@pytest.fixture(scope="module")
def large_glove(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200,000 words x 50 dims (~60 MB): 1,000 distinct formatted rows, reused under different words."""
    pool = [" ".join(f"{v:.6f}" for v in row) for row in np.random.default_rng(0).normal(size=(1000, 50))]
    path = tmp_path_factory.mktemp("large") / "large.txt"
    with open(path, "w") as out:
        for start in range(0, 200_000, 20_000):
            out.write("".join(f"w{i} {pool[i % 1000]}\n" for i in range(start, start + 20_000)))
    return path


def test_loading_a_small_vocabulary_from_a_large_file_keeps_memory_flat(large_glove: Path) -> None:
    assert large_glove.stat().st_size > 55e6
    vocabulary = {"[PAD]": 0, "[UNK]": 1} | {f"w{i}": 2 + j for j, i in enumerate(range(0, 200_000, 200))}
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        matrix, coverage = load_vectors(large_glove, vocabulary)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert coverage.words_in_file == 200_000 and coverage.found_exact == 1000 and matrix.shape == (1002, 50)
    assert peak < 30e6, f"peak traced memory {peak / 1e6:.1f} MB"


@pytest.mark.slow
@pytest.mark.skipif(not GLOVE_6B.exists(), reason=f"{GLOVE_6B} not present")
def test_real_glove_6b_50d() -> None:
    words = ["the", "good", "great", "zebra", "movie", "Movie", "zzzqqq"]
    vocabulary = {"[PAD]": 0, "[UNK]": 1} | {word: i + 2 for i, word in enumerate(words)}
    matrix, coverage = load_vectors(GLOVE_6B, vocabulary)
    assert coverage.format == "glove" and coverage.dim == 50 and coverage.words_in_file == 400_000
    assert (coverage.found_exact, coverage.found_lowercase, coverage.skipped_lines) == (5, 1, 0)
    np.testing.assert_array_equal(matrix[vocabulary["Movie"]], matrix[vocabulary["movie"]])

    def cosine(a: str, b: str) -> float:
        x, y = matrix[vocabulary[a]], matrix[vocabulary[b]]
        return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))

    assert cosine("good", "great") > cosine("good", "zebra") + 0.3
