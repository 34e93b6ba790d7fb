"""sentilstm.text: normalisation, tokenizers (word, BPE, Unigram), truncation and the TextPipeline."""

from __future__ import annotations

import dataclasses
import html
import re
import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import make_negation_data
from sentilstm.config import TextConfig
from sentilstm.errors import ArtifactError, ConfigError
from sentilstm.text import normalize as normalize_module
from sentilstm.text.normalize import NEGATIONS, Normalizer
from sentilstm.text.pipeline import TextPipeline
from sentilstm.text.tokenizers import PAD, PAD_ID, UNK, UNK_ID, TextTokenizer, choose_max_length, truncate

CORPUS, _ = make_negation_data(300, seed=1)


def normalize(text: str, **config: object) -> str:
    return Normalizer(TextConfig(**config))(text)


# ----- Normalizer ------------------------------------------------------------------------------------
def test_html_tags_removed_and_entities_decoded() -> None:
    assert normalize("Great film!<br />Loved it &amp; more<br/><i>really</i>") == "great film! loved it & more really"


def test_html_kept_when_disabled() -> None:
    assert normalize("a<br />b &amp;", strip_html=False) == "a<br />b &amp;"


def test_angle_brackets_that_are_not_tags_survive() -> None:
    assert normalize("3 < 5 and 7 > 2 <3") == "3 < 5 and 7 > 2 <3"


def test_cp1252_controls_repaired() -> None:
    assert normalize("wait\x85 it\x96s \x93good\x94") == "wait\u2026 it\u2013s \u201cgood\u201d"
    assert normalize("a\x96b", repair_cp1252=False) == "a\x96b"


def test_nfc_composes_tone_marks() -> None:
    assert normalize("i\u0301 o\u0300 e\u0323") == "\u00ed \u00f2 \u1eb9"
    assert normalize("i\u0301", unicode_form=None) == "i\u0301"


def test_nfkc_folds_compatibility_characters() -> None:
    assert normalize("\ufb01ne \uff21", unicode_form="NFKC") == "fine a"


def test_urls_and_mentions_replaced() -> None:
    text = "@bob loved it http://t.co/AbC www.example.com/x mail a@b.com @Alice_2"
    assert normalize(text) == "xxuser loved it xxurl xxurl mail a@b.com xxuser"
    assert normalize(text, replace_urls=False, replace_mentions=False, lowercase=False) == text


def test_lowercase_is_optional() -> None:
    assert normalize("GREAT Film") == "great film"
    assert normalize("GREAT Film", lowercase=False) == "GREAT Film"


def test_whitespace_collapsed() -> None:
    assert normalize("  a\t\tb \n c  ") == "a b c"


def test_english_stopwords_keep_negations() -> None:
    text = "I do not like it, no, never, don't and the film was not there nor anywhere"
    out = normalize(text, stopwords="english").split()
    for word in ("not", "no", "never", "don't", "nor", "film", "like"):
        assert word in out
    for word in ("the", "and", "was", "it", "i"):
        assert word not in out


def test_stopword_list_is_used_and_negations_still_kept() -> None:
    assert normalize("the film is not bad", stopwords=["the", "is", "not"]) == "film not bad"


def test_negation_list_covers_contractions() -> None:
    assert {"not", "no", "never", "don't", "isn't", "n't", "cannot"} <= NEGATIONS


def test_english_stemmer() -> None:
    assert normalize("I loved these movies", stemmer="english") == "i love these movi"


@pytest.mark.parametrize("config", [dict(stopwords="french"), dict(stopwords="klingon")])
def test_bad_stopwords_raise_config_error(config: dict) -> None:
    with pytest.raises(ConfigError, match="stopwords must be.*" + config["stopwords"]):
        Normalizer(TextConfig(**config))


def test_bad_stemmer_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="stemmer must be.*'klingon'"):
        Normalizer(TextConfig(stemmer="klingon"))


def _reference_normalize(text: str, config: TextConfig) -> str:
    """The normaliser as first written: every regex on every text (the fast path skips scans that cannot match)."""
    module = normalize_module
    text = module.clean_text(text)  # lone surrogates and NUL -> U+FFFD first (issue 14)
    if config.repair_cp1252:
        text = text.translate(module._CP1252)
    if config.strip_html:
        text = html.unescape(module.HTML_TAG.sub(" ", text))
    if config.unicode_form:
        text = unicodedata.normalize(config.unicode_form, text)
    if config.replace_urls:
        text = module._URL.sub(" xxurl ", text)
    if config.replace_mentions:
        text = module._MENTION.sub(" xxuser ", text)
    if config.lowercase:
        text = text.lower()
    return re.sub(r"\s+", " ", text).strip()


TRICKY = st.sampled_from(
    [
        "<br />",
        "<i>",
        "&amp;",
        "&",
        "<",
        "@",
        "@user",
        "a@b",
        "http://t.co/x",
        "HTTPS://X.Y",
        "Www.a.b",
        "www.",
        "hTTp",
        "\u0085",
        "\u0092",
        "\x1c",
        "\u00a0",
        "\u2028",
        " ",
        "\t\n",
        "é",
        "e\u0301",
        "ı",
        "ſ",
        "K",
        "İ",
        "ọ",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.one_of(TRICKY, st.text(max_size=8)), max_size=12),
    lowercase=st.booleans(),
    form=st.sampled_from(["NFC", "NFKC", None]),
)
def test_fast_normalizer_equals_the_reference(pieces: list[str], lowercase: bool, form: str | None) -> None:
    config = TextConfig(lowercase=lowercase, unicode_form=form)
    text = "".join(pieces)
    assert Normalizer(config)(text) == _reference_normalize(text, config)


def test_normalizer_batch_matches_single_calls() -> None:
    norm = Normalizer(TextConfig())
    texts = ["A<br />B", "@x http://y", ""]
    assert norm.batch(texts) == [norm(t) for t in texts]


@pytest.mark.parametrize(
    "config, bad",
    [
        (dict(tokenizer="sentencepiece"), "sentencepiece"),
        (dict(truncation="middle"), "middle"),
        (dict(unicode_form="NFD"), "NFD"),
        (dict(vocab_size=5), "5"),
        (dict(min_frequency=0), "0"),
        (dict(max_length=0), "0"),
    ],
)
def test_text_config_validate_names_bad_value(config: dict, bad: str) -> None:
    with pytest.raises(ConfigError, match=bad):
        TextConfig(**config).validate()


# ----- tokenizers ------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=["word", "bpe", "unigram"])
def tokenizer(request: pytest.FixtureRequest) -> TextTokenizer:
    return TextTokenizer.train(CORPUS, TextConfig(tokenizer=request.param, min_frequency=1))


def test_special_tokens_have_fixed_ids(tokenizer: TextTokenizer) -> None:
    inner = tokenizer._tokenizer
    assert inner.token_to_id(PAD) == PAD_ID == 0
    assert inner.token_to_id(UNK) == UNK_ID == 1


def test_encode_gives_int64_arrays_without_padding(tokenizer: TextTokenizer) -> None:
    ids = tokenizer.encode(CORPUS[:20])
    assert len(ids) == 20
    for row in ids:
        assert row.dtype == np.int64 and row.ndim == 1 and len(row) >= 1
        assert (row > PAD_ID).all() and (row < tokenizer.vocab_size).all()


def test_empty_text_becomes_one_unknown(tokenizer: TextTokenizer) -> None:
    assert [x.tolist() for x in tokenizer.encode(["", " "])] == [[UNK_ID], [UNK_ID]]


def test_known_text_has_no_unknowns(tokenizer: TextTokenizer) -> None:
    for row in tokenizer.encode(CORPUS):
        assert UNK_ID not in row


def test_json_round_trip_gives_identical_ids(tokenizer: TextTokenizer) -> None:
    texts = CORPUS[:50] + ["zebras are not wonderful", "", "qq!! \U0001f600"]
    again = TextTokenizer.from_json(tokenizer.to_json())
    assert again.vocab_size == tokenizer.vocab_size
    assert [x.tolist() for x in again.encode(texts)] == [x.tolist() for x in tokenizer.encode(texts)]


def test_from_json_rejects_garbage() -> None:
    with pytest.raises(ArtifactError, match="tokenizer"):
        TextTokenizer.from_json('{"not": "a tokenizer"}')


def test_word_tokenizer_maps_unseen_words_to_unknown() -> None:
    tok = TextTokenizer.train(["a good film", "a bad film"], TextConfig(min_frequency=1))
    good, zebra = tok.encode(["a good film", "a zebra film"])
    assert UNK_ID not in good
    assert zebra[0] == good[0] and zebra[1] == UNK_ID and zebra[2] == good[2]


def test_word_tokenizer_min_frequency_drops_rare_words() -> None:
    tok = TextTokenizer.train(["good film", "good movie"], TextConfig(min_frequency=2))
    assert tok.encode(["good film"])[0].tolist()[1] == UNK_ID
    assert tok.encode(["good film"])[0].tolist()[0] != UNK_ID


def test_word_tokenizer_keeps_contractions_and_splits_punctuation() -> None:
    tok = TextTokenizer.train(["i don't like it!!", "don't go"], TextConfig(min_frequency=1))
    assert tok.tokens("i don't like it!!") == ["i", "don't", "like", "it", "!", "!"]


def test_word_tokenizer_respects_vocab_size() -> None:
    tok = TextTokenizer.train(CORPUS, TextConfig(min_frequency=1, vocab_size=12))
    assert tok.vocab_size == 12


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_subword_tokenizers_cover_unseen_words(kind: str) -> None:
    tok = TextTokenizer.train(CORPUS, TextConfig(tokenizer=kind, min_frequency=1))
    unseen = ["the filmmaker was greatest", "wonderfully terrible acting", "honest storytelling"]
    ids = np.concatenate(tok.encode(unseen))
    assert (ids == UNK_ID).mean() < 0.05


def test_bpe_learns_multi_character_pieces() -> None:
    tok = TextTokenizer.train(CORPUS, TextConfig(tokenizer="bpe", min_frequency=1))
    assert tok.tokens("the movie was good") == ["the", "movie", "was", "good"]


# ----- truncation and max length ---------------------------------------------------------------------
def test_truncate_keeps_short_sequences() -> None:
    ids = np.arange(5)
    assert truncate(ids, 5, "head") is ids
    assert truncate(ids, 9, "head_tail").tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    "how, expected",
    [
        ("head", [0, 1, 2, 3, 4, 5]),
        ("tail", [14, 15, 16, 17, 18, 19]),
        ("head_tail", [0, 1, 16, 17, 18, 19]),
    ],
)
def test_truncate(how: str, expected: list[int]) -> None:
    assert truncate(np.arange(20), 6, how).tolist() == expected


@pytest.mark.parametrize("max_length", [1, 2, 3, 7, 8])
def test_head_tail_truncation_length_and_ends(max_length: int) -> None:
    ids = np.arange(100)
    out = truncate(ids, max_length, "head_tail")
    assert len(out) == max_length
    assert out[-1] == 99  # the verdict at the end survives
    assert np.all(np.diff(out) > 0)


@pytest.mark.parametrize(
    "lengths, expected",
    [([], 8), ([1, 2, 3], 8), ([10] * 100, 16), ([5000] * 10, 512), (list(range(1, 101)), 96)],
)
def test_choose_max_length_bounds(lengths: list[int], expected: int) -> None:
    assert choose_max_length(lengths) == expected


def test_choose_max_length_is_multiple_of_eight_within_bounds() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        value = choose_max_length(rng.integers(1, 2000, size=rng.integers(1, 100)).tolist())
        assert 8 <= value <= 512 and value % 8 == 0


# ----- TextPipeline ----------------------------------------------------------------------------------
def test_pipeline_fit_picks_max_length_and_encodes_training_texts() -> None:
    texts = ["good film"] * 95 + ["word " * 100] * 5
    config = TextConfig(min_frequency=1)
    pipeline, ids = TextPipeline.fit(texts, config)
    assert config.max_length is None  # the caller's config is not mutated
    assert pipeline.config.max_length == choose_max_length([2] * 95 + [100] * 5)
    assert len(ids) == len(texts)
    assert max(len(x) for x in ids) == pipeline.config.max_length
    assert [x.tolist() for x in ids] == [x.tolist() for x in pipeline.encode(texts)]


def test_pipeline_keeps_given_max_length_and_truncation() -> None:
    texts = [f"w{i}" for i in range(30)]
    pipeline, _ = TextPipeline.fit([" ".join(texts)], TextConfig(min_frequency=1, max_length=4, truncation="tail"))
    (ids,) = pipeline.encode([" ".join(texts)])
    assert pipeline.tokenizer.tokens(" ".join(texts))[-4:] == [
        pipeline.tokenizer._tokenizer.id_to_token(int(i)) for i in ids
    ]


def test_pipeline_normalizes_before_tokenizing() -> None:
    pipeline, _ = TextPipeline.fit(["great film", "bad film"], TextConfig(min_frequency=1))
    a, b = pipeline.encode(["GREAT<br />film", "great film"])
    assert a.tolist() == b.tolist()


def test_pipeline_encodes_empty_and_huge_texts() -> None:
    pipeline, _ = TextPipeline.fit(CORPUS, TextConfig(min_frequency=1))
    empty, huge = pipeline.encode(["", "not good " * 100_000])
    assert empty.tolist() == [UNK_ID]
    assert len(huge) == pipeline.config.max_length


def test_pipeline_needs_resolved_config() -> None:
    tok = TextTokenizer.train(["a b"], TextConfig(min_frequency=1))
    with pytest.raises(ValueError, match="max_length"):
        TextPipeline(TextConfig(), tok)
    TextPipeline(dataclasses.replace(TextConfig(), max_length=8), tok)


def test_pipeline_fit_validates_config() -> None:
    with pytest.raises(ConfigError, match="tokenizer"):
        TextPipeline.fit(["a"], TextConfig(tokenizer="chars"))  # type: ignore[arg-type]


def _unclipped(pipeline: TextPipeline, text: str) -> list[int]:
    """What encode must return: normalise and tokenize the whole text, then truncate the ids."""
    (ids,) = pipeline.tokenizer.encode([pipeline.normalize(text)])
    return truncate(ids, pipeline.config.max_length, pipeline.config.truncation).tolist()


@pytest.mark.parametrize("truncation", ["head", "tail", "head_tail"])
def test_pipeline_clipping_of_huge_texts_keeps_the_same_tokens(truncation: str) -> None:
    pipeline, _ = TextPipeline.fit(CORPUS, TextConfig(min_frequency=1, max_length=16, truncation=truncation))
    rng = np.random.default_rng(0)
    words = " ".join(rng.choice(" ".join(CORPUS).split(), size=60_000))
    for text in (words, "the movie was not good. " * 20_000 + "superb"):
        assert pipeline.encode([text])[0].tolist() == _unclipped(pipeline, text)


@pytest.mark.parametrize("filler", [" " * 5_000, "<br />" * 1_000])
def test_pipeline_clipping_keeps_tokens_behind_whitespace_or_markup(filler: str) -> None:
    pipeline, _ = TextPipeline.fit(CORPUS, TextConfig(min_frequency=1, max_length=8, truncation="head"))
    text = "great" + filler + "not awful"
    assert pipeline.encode([text])[0].tolist() == _unclipped(pipeline, text)


@pytest.mark.parametrize("truncation", ["head", "tail", "head_tail"])
def test_pipeline_clipping_near_the_character_budget_keeps_the_same_tokens(truncation: str) -> None:
    """Texts just above the clipping budget (where head and tail windows overlap) encode as if unclipped."""
    pipeline, _ = TextPipeline.fit(CORPUS, TextConfig(min_frequency=1, max_length=8, truncation=truncation))
    rng = np.random.default_rng(1)
    words = " ".join(CORPUS).split()
    for n in range(60, 300, 7):  # ~300 to ~1,500 characters around the 8 * 64 = 512-character budget
        text = " ".join(rng.choice(words, size=n))
        assert pipeline.encode([text])[0].tolist() == _unclipped(pipeline, text), n


# ----- the Python fast path of word-level encoding ------------------------------------------------------------------
WORD_ALPHABET = st.sampled_from(
    list("ab ca'!.,?-_")
    + [
        "\u2019",
        "é",
        "ọ",
        "\u0301",
        "²",
        "Ⅻ",
        "٣",
        "‿",
        "😀",
        "\u200d",
        "\u00a0",
        "\x1c",
        "\t",
        "\x7f",
        "“",
        "€",
        "ß",
        "İ",
        "ǅ",
        "ー",
        "中",
    ]
)


@pytest.fixture(scope="module")
def word_tokenizer() -> TextTokenizer:
    corpus = ["a b c ab ca", "ab's ca’b é ọ ²", "don't stop", "_a_ b-c", "中 ー ß", "€ 😀 “a”"] * 3
    return TextTokenizer.train(corpus, TextConfig(tokenizer="word", min_frequency=1))


def test_word_tokenizer_takes_the_python_path(word_tokenizer: TextTokenizer) -> None:
    assert word_tokenizer._words is not None
    bpe = TextTokenizer.train(CORPUS, TextConfig(tokenizer="bpe", vocab_size=200, min_frequency=1))
    assert bpe._words is None  # subword models always use the Rust tokenizer


@settings(max_examples=400, deadline=None)
@given(texts=st.lists(st.text(alphabet=WORD_ALPHABET, max_size=20), min_size=1, max_size=5))
def test_word_encoding_equals_the_rust_tokenizer(word_tokenizer: TextTokenizer, texts: list[str]) -> None:
    rust = word_tokenizer._tokenizer.encode_batch_fast(texts, add_special_tokens=False)
    expected = [e.ids or [UNK_ID] for e in rust]
    assert [list(ids) for ids in word_tokenizer.encode(texts)] == expected


# ----- lone surrogates and NUL (issue 14, item 6) ----------------------------------------------------------------
@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("\ud83d good", "\ufffd good"),  # half an emoji from JSON "\ud83d"
        ("\udcff\udcfe bad", "\ufffd\ufffd bad"),  # argv bytes b"\xff\xfe" decoded with surrogateescape
        ("a\x00b", "a\ufffdb"),
        ("\ud83d\ude00", "\U0001f600"),  # a pair written as two code points is the emoji it spells
        ("plain ascii", "plain ascii"),
        ("ọ́ dị mma", "ọ́ dị mma"),
    ],
)
def test_clean_text_replaces_what_no_utf8_file_or_tokenizer_takes(raw: str, cleaned: str) -> None:
    assert normalize_module.clean_text(raw) == cleaned
    cleaned.encode("utf-8")


def test_the_pipeline_encodes_lone_surrogates_instead_of_crashing() -> None:
    """Regression: a lone surrogate reached the Rust tokenizer, which raised a TypeError from deep inside."""
    texts, _ = make_negation_data(50, seed=0)
    for kind in ("word", "bpe"):
        pipeline, _ = TextPipeline.fit(texts + ["\ud800 odd \x00 text"], TextConfig(tokenizer=kind, min_frequency=1))
        ids = pipeline.encode(["\ud800 good", "\udcff\udcfe", "a\x00b", ""])
        assert len(ids) == 4 and all(len(x) >= 1 for x in ids)
