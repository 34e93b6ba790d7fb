"""Character n-gram hashing (sentilstm.text.subwords) matches fastText's, checked against gensim's
fastText-compatible implementation, and is the same in every process."""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from helpers import TINY, error_line, invoke_cli
from sentilstm import SentimentClassifier, load_model
from sentilstm.config import ModelConfig, TextConfig
from sentilstm.errors import ArtifactError, ConfigError
from sentilstm.network.model import SentimentNet
from sentilstm.text.pipeline import TextPipeline
from sentilstm.text.subwords import MAX_NGRAMS, SubwordHasher, char_ngrams, fnv1a_32, ngram_buckets, word_ids

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


# ----- subword embeddings in the model (TextConfig.char_ngrams) ---------------------------------------------------
SUBWORDS: dict[str, Any] = {**TINY, "char_ngrams": (2, 4), "ngram_buckets": 5_000}
# every sentiment word occurs once, so it is [UNK] as a word (min_frequency=2) and only its n-grams tell its class
AFFIX: dict[str, Any] = {**SUBWORDS, "min_frequency": 2, "epochs": 20, "patience": 4}


def affix_data(n: int, seed: int) -> tuple[list[str], list[int]]:
    """Texts whose sentiment word is a fresh random stem + "kool" (1) or + "vile" (0): every test word is unseen,
    so only its characters tell the label."""
    rng = random.Random(seed)
    filler = ["we", "saw", "it", "today", "and", "then", "left", "home"]
    texts, labels = [], []
    for _ in range(n):
        label = rng.randrange(2)
        stem = "".join(rng.choice("bdfghjmnprstwz") for _ in range(4))
        words = rng.sample(filler, 3) + [stem + ("kool" if label else "vile")]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def subword_model() -> SentimentClassifier:
    texts, labels = affix_data(600, seed=0)
    return SentimentClassifier(**AFFIX).fit(texts, labels)


@pytest.mark.parametrize("given", ["2-5", "2,5", [2, 5], (2, 5)])
def test_char_ngrams_are_taken_as_min_max(given: Any) -> None:
    config = TextConfig(char_ngrams=given)
    config.validate()
    assert config.char_ngrams == (2, 5) and config.ngram_sizes == (2, 5)


@pytest.mark.parametrize(
    "given, match",
    [
        ("5-2", "1 <= MIN <= MAX <= 10 characters, got 5-2"),
        ("0-3", "got 0-3"),
        ("2-11", "got 2-11"),
        ("two-five", "MIN-MAX such as 2-5, got 'two-five'"),
        (3, "MIN-MAX such as 2-5 or None, got 3"),
    ],
)
def test_bad_char_ngrams_are_refused(given: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        TextConfig(char_ngrams=given).validate()
    with pytest.raises(ConfigError, match=match):
        SentimentClassifier(char_ngrams=given).check_params()
    with pytest.raises(ConfigError, match="ngram_buckets"):
        TextConfig(char_ngrams="2-5", ngram_buckets=0).validate()


def test_a_token_carries_its_word_id_then_its_ngram_rows() -> None:
    texts = ["a good film", "a bad film", "good good"]
    plain, _ = TextPipeline.fit(texts, TextConfig(min_frequency=1))
    pipeline, _ = TextPipeline.fit(texts, TextConfig(min_frequency=1, char_ngrams="2-5", ngram_buckets=1000))
    encoded = pipeline.encode(["a goood film", ""])
    assert encoded[0].ndim == 2 and encoded[0].shape[0] == 3
    np.testing.assert_array_equal(word_ids(encoded[0]), plain.encode(["a goood film"])[0])
    unseen, rows = encoded[0][1], ngram_buckets("goood", 2, 5, 1000) + 1  # [UNK] as a word, its own n-grams
    assert unseen[0] == 1
    np.testing.assert_array_equal(unseen[1 : 1 + len(rows)], rows)
    assert (unseen[1 + len(rows) :] == 0).all()  # padded to the text's widest token
    assert encoded[1].shape[0] == 1 and encoded[1][0, 0] == 1  # an empty text is one [UNK]


def test_a_long_word_keeps_ngrams_from_its_start_to_its_end() -> None:
    hasher = SubwordHasher(2, 5, 1000)
    word = "antidisestablishmentarianism"
    every = ngram_buckets(word, 2, 5, 1000) + 1
    rows = hasher.attach(np.array([1]), [word])[0, 1:]
    assert len(every) > MAX_NGRAMS and len(rows) == MAX_NGRAMS
    assert rows[0] == every[0] and rows[-1] == every[-1]  # "<a" and "m>": prefix and suffix kept
    assert hasher.attach(np.array([1]), ["x" * 100_000]).shape == (1, 1 + MAX_NGRAMS)  # bounded work


def test_the_hasher_pickles_and_hashes_the_same_in_another_process() -> None:
    hasher = pickle.loads(pickle.dumps(SubwordHasher(2, 5, 1000)))
    rows = hasher.attach(np.array([1, 2]), ["ụtọ", "naija"]).tolist()
    code = (
        "from sentilstm.text.subwords import SubwordHasher; import numpy as np; "
        "print(SubwordHasher(2, 5, 1000).attach(np.array([1, 2]), ['ụtọ', 'naija']).tolist())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == str(rows)


def test_unseen_words_are_read_from_their_characters(subword_model: SentimentClassifier) -> None:
    texts, labels = affix_data(200, seed=1)  # new stems: every sentiment word is unseen
    assert subword_model.score(texts, labels) >= 0.9
    words_only = SentimentClassifier(**{**AFFIX, "char_ngrams": None}).fit(*affix_data(600, seed=0))
    assert words_only.score(texts, labels) <= 0.7  # [UNK] for every sentiment word: about chance


def test_padding_never_changes_a_prediction_with_ngrams() -> None:
    torch.manual_seed(0)
    net = SentimentNet(ModelConfig(embedding_rows=50, num_classes=3, embedding_dim=8, hidden_size=8, ngram_rows=101))
    torch.nn.init.normal_(net.ngram_embedding.weight)
    net.eval()
    text = torch.tensor([[[5, 3, 7, 0], [9, 11, 0, 0], [2, 4, 6, 8]]])  # 3 tokens, up to 3 n-grams each
    alone = net(text, torch.tensor([3]))
    wider = torch.zeros(2, 6, 7, dtype=torch.int64)  # longer batch, more n-gram columns, padding everywhere else
    wider[0, :3, :4] = text[0]
    wider[1, :, :] = torch.randint(1, 50, (6, 7))
    torch.testing.assert_close(net(wider, torch.tensor([3, 6]))[0], alone[0])


def test_a_subword_model_saves_loads_and_exports_to_onnx(subword_model: SentimentClassifier, tmp_path: Path) -> None:
    from sentilstm.onnx.export import export_onnx
    from sentilstm.onnx.runner import OnnxNetwork

    texts = affix_data(50, seed=2)[0] + ["", "x" * 300, "ụtọ dị mma"]
    path = subword_model.save(tmp_path / "sub.sentilstm")
    loaded = load_model(path)
    assert loaded.pipeline_.config.char_ngrams == (2, 4) and loaded.model_.config.ngram_rows == 5_001
    np.testing.assert_array_equal(loaded.predict_proba(texts), subword_model.predict_proba(texts))
    for quantize in (None, "int8"):
        report = export_onnx(loaded, tmp_path / f"sub.{quantize}.onnx", quantize=quantize, texts=texts)
        assert report.argmax_agreement >= (1.0 if quantize is None else 0.97), report.summary()
        runner = OnnxNetwork(tmp_path / f"sub.{quantize}.onnx", threads=1)
        agree = (runner(loaded.pipeline_.encode(texts)).argmax(1) == loaded.predict_proba(texts).argmax(1)).mean()
        assert agree >= (1.0 if quantize is None else 0.95)
    from sentilstm.onnx.backends import load_for_serving

    served = load_for_serving(path, backend="onnx-int8", threads=1)  # what `sentilstm serve` runs: raw text in
    assert (served.predict(texts) == loaded.predict(texts)).mean() >= 0.95


def test_ngram_rows_must_match_the_text_config(subword_model: SentimentClassifier, tmp_path: Path) -> None:
    from sentilstm.artifact.format import read_file, write_file

    path = subword_model.save(tmp_path / "sub.sentilstm")
    tensors, payload = read_file(path, kind="model")  # type: ignore[arg-type]
    payload["text_config"]["char_ngrams"] = None  # the n-gram table stays, the pipeline would no longer feed it
    write_file(tmp_path / "edited.sentilstm", tensors, payload, kind="model")  # type: ignore[arg-type]
    with pytest.raises(ArtifactError, match="ngram_rows is 5001 but text_config asks for that many n-gram rows"):
        load_model(tmp_path / "edited.sentilstm")
    payload["text_config"]["char_ngrams"] = [2, 4]
    tensors["ngram_embedding.weight"] = tensors["ngram_embedding.weight"][:10].clone()
    write_file(tmp_path / "cut.sentilstm", tensors, payload, kind="model")  # type: ignore[arg-type]
    with pytest.raises(ArtifactError, match="n-gram embedding tensor has 10 rows"):
        load_model(tmp_path / "cut.sentilstm")


def test_the_command_line_trains_with_char_ngrams(tmp_path: Path) -> None:
    texts, labels = affix_data(120, seed=3)
    data = tmp_path / "train.csv"
    data.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(texts, labels)))
    common = ["train", data, "--embedding-dim", 8, "--hidden-size", 8, "--epochs", 1, "--threads", 1, "--quiet"]
    subwords = ["--char-ngrams", "2-4", "--ngram-buckets", 500]
    result = invoke_cli(*common, "--blend", "none", *subwords, "--out", tmp_path / "m.sentilstm")
    assert result.exit_code == 0, result.output
    assert load_model(tmp_path / "m.sentilstm").model_.config.ngram_rows == 501
    result = invoke_cli(*common, "--char-ngrams", "4-2", "--out", tmp_path / "x.sentilstm")
    assert result.exit_code == 2 and "char_ngrams must be MIN-MAX" in error_line(result)
    assert not (tmp_path / "x.sentilstm").exists()


def tiny_fasttext(path: Path, minn: int = 2, maxn: int = 4, bucket: int = 500) -> Any:
    """A fastText .bin trained here (gensim writes Facebook's format) and gensim's reading of it."""
    fasttext = pytest.importorskip("gensim.models.fasttext")
    corpus = [["a", "good", "film", "truly", "a", "bad", "plot"]] * 20
    model = fasttext.FastText(
        corpus, vector_size=8, min_count=1, epochs=2, bucket=bucket, min_n=minn, max_n=maxn, seed=0, workers=1
    )
    fasttext.save_facebook_model(model, str(path))
    return fasttext.load_facebook_vectors(str(path))


def test_a_fasttext_bin_hashed_alike_starts_the_ngram_table_and_every_token_at_its_vector(tmp_path: Path) -> None:
    reference = tiny_fasttext(tmp_path / "ft.bin")
    params = {**SUBWORDS, "embeddings": str(tmp_path / "ft.bin"), "ngram_buckets": 500, "freeze_embeddings": -1}
    texts = ["a good film", "a bad plot", "truly good", "truly bad"] * 10
    clf = SentimentClassifier(**{**params, "epochs": 1}).fit(texts, [1, 0, 1, 0] * 10)
    net = clf.model_
    np.testing.assert_allclose(net.ngram_embedding.weight[1:].detach().numpy(), reference.vectors_ngrams, rtol=1e-6)
    coverage = clf.embedding_coverage_
    assert coverage.ngram_rows == 500 and "500 character n-gram vectors" in coverage.summary()
    ids = torch.as_tensor(clf.pipeline_.encode(["good goodish"])[0], dtype=torch.long)[None]
    with torch.no_grad():
        vectors = net.embed(ids)[0].numpy()
    np.testing.assert_allclose(vectors[0], reference["good"], atol=1e-5)  # a file word: fastText's vector
    unseen = reference["goodish"]  # fastText's: the mean of its n-gram vectors; here the same direction
    cosine = float(vectors[1] @ unseen / np.linalg.norm(vectors[1]) / np.linalg.norm(unseen))
    assert cosine > 0.9999


def test_a_fasttext_bin_hashed_otherwise_leaves_the_ngram_table_random(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tiny_fasttext(tmp_path / "ft.bin", minn=3, maxn=6, bucket=500)
    params = {**SUBWORDS, "embeddings": str(tmp_path / "ft.bin"), "ngram_buckets": 500, "epochs": 1}
    with caplog.at_level("WARNING"):
        clf = SentimentClassifier(**params).fit(["a good film", "a bad plot"] * 10, [1, 0] * 10)
    assert clf.embedding_coverage_.ngram_rows == 0
    assert "hashes character n-grams 3-6 into 500 buckets, the model 2-4 into 500" in caplog.text
    assert "--char-ngrams 3-6 --ngram-buckets 500" in caplog.text
