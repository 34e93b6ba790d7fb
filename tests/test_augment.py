"""sentilstm.text.augment: EDA edits, WordNet and embedding-neighbour synonyms, back-translation.

WordNet is tested on tiny data files written in tmp_path (as a folder and as an nltk-style zip); the test
against a real install runs only where one is found. Hugging Face models are replaced by a fake module.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from helpers import invoke_cli, make_negation_data
from sentilstm import SentimentClassifier, TrainingCallback
from sentilstm.errors import ConfigError, DataError
from sentilstm.text import synonyms as synonyms_module
from sentilstm.text.augment import (
    EDA_OPERATIONS,
    OPERATIONS,
    AugmentResult,
    BackTranslator,
    NeighbourSynonyms,
    WordNetSynonyms,
    augment,
)


class DictSynonyms:
    """A SynonymSource from a dict; it offers negations on purpose, which augment must refuse."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    def synonyms(self, word: str) -> list[str]:
        return list(self.table.get(word, []))


SYNONYMS = DictSynonyms(
    {
        "good": ["great", "fine"],
        "film": ["movie"],
        "plot": ["story"],
        "boring": ["dull", "tedious"],
        "bad": ["awful", "not"],
        "acting": ["performance"],
        "not": ["definitely"],
        "never": ["always"],
    }
)
TEXTS = [
    "Good film, really good plot",
    "the plot was not boring and the acting was never bad",
    "Wow",
    "I didn't like the bad acting, nor the boring film",
]
LABELS = [1, 1, 1, 0]
NEGATION_WORDS = {"not", "never", "didn't", "nor"}


def core(token: str) -> str:
    return token.strip(",.!").lower()


def negations(text: str) -> list[str]:
    return [core(token) for token in text.split() if core(token) in NEGATION_WORDS]


def added(result: AugmentResult, operation: str) -> list[tuple[str, str]]:
    """(original, augmented) for each row `operation` produced."""
    return [
        (result.texts[result.source[row]], text)
        for row, text in enumerate(result.texts)
        if result.operations[row] == operation
    ]


def is_subsequence(short: list[str], long: list[str]) -> bool:
    remaining = iter(long)
    return all(token in remaining for token in short)


def test_synonym_replaces_n_words_keeping_case_and_punctuation() -> None:
    result = augment(TEXTS[:1], [1], ["synonym"], synonyms=SYNONYMS, alpha=0.5, copies=4, seed=3)
    rows = added(result, "synonym")
    assert rows
    for original, text in rows:
        before, after = original.split(), text.split()
        changed = [(old, new) for old, new in zip(before, after) if old != new]
        assert len(after) == len(before) and len(changed) == 2  # n = round(0.5 * 5 words)
        for old, new in changed:
            assert core(new) in SYNONYMS.synonyms(core(old))
            assert new[0].isupper() == old[0].isupper() and new.endswith(",") == old.endswith(",")


def test_insert_adds_n_synonyms_of_words_in_the_text() -> None:
    result = augment(TEXTS[:1], [1], ["insert"], synonyms=SYNONYMS, alpha=0.4, copies=3, seed=1)
    offered = {word for token in TEXTS[0].split() for word in SYNONYMS.synonyms(core(token))}
    for original, text in added(result, "insert"):
        before, after = original.split(), text.split()
        assert len(after) == len(before) + 2 and is_subsequence(before, after)
        extra = list(after)
        for token in before:
            extra.remove(token)
        assert set(extra) <= offered


def test_swap_and_delete_rearrange_or_drop_words_only() -> None:
    result = augment(TEXTS, LABELS, ["swap", "delete"], alpha=0.3, copies=3, seed=5)
    assert added(result, "swap") and added(result, "delete")
    for original, text in added(result, "swap"):
        assert sorted(text.split()) == sorted(original.split())
    for original, text in added(result, "delete"):
        assert text and is_subsequence(text.split(), original.split()) and len(text.split()) < len(original.split())


def test_negations_are_never_deleted_replaced_moved_or_inserted() -> None:
    result = augment(TEXTS, LABELS, list(EDA_OPERATIONS), synonyms=SYNONYMS, alpha=0.5, copies=8, seed=2)
    for row in range(len(TEXTS), len(result.texts)):
        original, text = result.texts[result.source[row]], result.texts[row]
        assert negations(text) == negations(original), (result.operations[row], original, text)
        assert "definitely" not in text and "always" not in text
    for original, text in added(result, "swap"):
        positions = [i for i, token in enumerate(original.split()) if core(token) in NEGATION_WORDS]
        assert [text.split()[i] for i in positions] == [original.split()[i] for i in positions]


def test_never_empty_and_unchanged_copies_are_dropped() -> None:
    result = augment(
        ["Wow", "so good"], [1, 0], ["swap", "delete", "synonym"], synonyms=SYNONYMS, alpha=0.5, copies=10, seed=0
    )
    assert all(text.strip() for text in result.texts)
    assert 0 not in result.source[2:]  # a one-word text with no synonym cannot change: no copy of it is kept
    for index in range(2):  # no copy equals its original or another copy of the same text
        texts = [text for text, source in zip(result.texts, result.source) if source == index]
        assert len(texts) == len(set(texts))
    assert result.to_dict()["added"] == len(result.texts) - 2


def test_rows_are_aligned_and_originals_come_first_unchanged() -> None:
    result = augment(TEXTS, ["pos", "pos", "pos", "neg"], ["synonym", "swap"], synonyms=SYNONYMS, copies=2)
    n = len(TEXTS)
    assert result.texts[:n] == TEXTS and result.operations[:n] == ["original"] * n
    assert result.source.dtype == np.int64 and list(result.source[:n]) == list(range(n))
    assert len(result.texts) == len(result.labels) == len(result.source) == len(result.operations)
    assert all(result.labels[row] == result.labels[result.source[row]] for row in range(len(result.texts)))
    assert list(result.source[n:]) == sorted(result.source[n:])  # each text's copies follow one another
    summary = result.to_dict()
    assert summary["originals"] == n and summary["added"] == sum(summary["added_per_operation"].values())
    assert json.loads(json.dumps(summary)) == summary
    examples = result.examples(2)
    assert len(examples) == 2 and all(op in ("synonym", "swap") and a != b for op, a, b in examples)


def test_seeded_results_reproduce_and_do_not_depend_on_other_operations() -> None:
    kwargs = {"synonyms": SYNONYMS, "copies": 3, "alpha": 0.3}
    first = augment(TEXTS, LABELS, ["synonym", "swap", "delete"], seed=7, **kwargs)
    again = augment(TEXTS, LABELS, ["synonym", "swap", "delete"], seed=7, **kwargs)
    other = augment(TEXTS, LABELS, ["synonym", "swap", "delete"], seed=8, **kwargs)
    assert first.texts == again.texts and first.operations == again.operations
    assert np.array_equal(first.source, again.source)
    assert first.texts != other.texts
    alone = augment(TEXTS, LABELS, ["delete"], seed=7, **kwargs)
    assert added(alone, "delete") == added(first, "delete")


def test_output_does_not_depend_on_the_hash_seed() -> None:
    code = (
        "import json; from test_augment import SYNONYMS, TEXTS, LABELS; from sentilstm.text.augment import augment;"
        "print(json.dumps(augment(TEXTS, LABELS, ['synonym', 'insert', 'swap', 'delete'], synonyms=SYNONYMS,"
        " copies=2, alpha=0.3, seed=4).texts))"
    )
    environment = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(Path(__file__).parent)}
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True
    ).stdout
    here = augment(
        TEXTS, LABELS, ["synonym", "insert", "swap", "delete"], synonyms=SYNONYMS, copies=2, alpha=0.3, seed=4
    )
    assert json.loads(output) == here.texts


def test_logs_counts_and_examples(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="sentilstm.text.augment"):
        augment(
            [" ".join(["a long review about a film"] * 20 + ["good"])],
            [1],
            ["synonym"],
            synonyms=DictSynonyms({"good": ["fine"]}),
        )
    messages = [record.getMessage() for record in caplog.records]
    assert any("added 1 rows" in message and "synonym 1" in message for message in messages)
    example = next(message for message in messages if message.startswith("synonym: "))
    assert example.endswith("a film good' -> '...about a film a long review about a film fine'")  # edit at char 540
    assert len(example) < 2 * 130


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"operations": ["shuffle"]}, "backtranslate"),
        ({"operations": "swap"}, "must be a list"),
        ({"copies": 0}, "copies"),
        ({"copies": 1.5}, "copies"),
        ({"alpha": 0.9}, "alpha"),
        ({"alpha": 0}, "alpha"),
        ({"seed": -1}, "seed"),
        ({"operations": ["synonym"]}, "WordNetSynonyms"),
        ({"operations": ["insert"]}, "synonyms="),
        ({"operations": ["backtranslate"]}, "translator="),
        ({"operations": ["backtranslate"], "translator": "opus-mt-en-de"}, "BackTranslator('Helsinki-NLP"),
        ({"operations": ["synonym"], "synonyms": {"good": ["fine"]}}, "synonyms(word)"),
    ],
)
def test_bad_arguments_raise_config_errors(kwargs: dict, expected: str) -> None:
    arguments = {"operations": ["swap"], **kwargs}
    with pytest.raises(ConfigError) as error:
        augment(TEXTS, LABELS, **arguments)
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_bad_data_raises_data_errors() -> None:
    with pytest.raises(DataError, match="4 texts and 3 labels"):
        augment(TEXTS, LABELS[:3], ["swap"])
    with pytest.raises(DataError, match=r"texts\[1\] must be a string"):
        augment(["fine", None], [0, 1], ["swap"])


# --- back-translation -------------------------------------------------------------------------------------------


def test_back_translator_runs_both_directions_in_batches() -> None:
    calls: list[tuple[str, int]] = []

    def to_pivot(texts: list[str]) -> list[str]:
        calls.append(("forward", len(texts)))
        return [text.upper() for text in texts]

    def to_source(texts: list[str]) -> list[str]:
        calls.append(("backward", len(texts)))
        return [text.lower().replace("film", "movie") for text in texts]

    translator = BackTranslator(to_pivot, to_source, batch_size=2)
    assert translator(["a film", "b", "c film", "d", "e"]) == ["a movie", "b", "c movie", "d", "e"]
    assert [size for direction, size in calls if direction == "forward"] == [2, 2, 1]
    assert [size for direction, size in calls if direction == "backward"] == [2, 2, 1]
    assert BackTranslator(lambda texts: [text + "!" for text in texts])(["hi"]) == ["hi!"]  # a round trip in one


@pytest.mark.parametrize(
    ("translate", "expected"),
    [
        (lambda texts: texts[:-1], "given 2 texts it returned a list of 1 (str)"),
        (lambda texts: [1, 2], "a list of 2 (int)"),
        (lambda texts: "nope", "str 'nope'"),
    ],
)
def test_back_translator_rejects_malformed_answers(translate: object, expected: str) -> None:
    with pytest.raises(ConfigError, match="one string per input text") as error:
        BackTranslator(translate)(["one", "two"])
    assert expected in str(error.value)


def test_back_translator_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="forward must be a callable"):
        BackTranslator(42)
    with pytest.raises(ConfigError, match="backward must be a callable"):
        BackTranslator(str.upper, backward=3)
    with pytest.raises(ConfigError, match="batch_size"):
        BackTranslator(str.upper, batch_size=0)


def test_hugging_face_models_are_loaded_lazily_and_once(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[tuple[str, str]] = []

    def pipeline(task: str, model: str) -> object:
        loads.append((task, model))
        return lambda texts, batch_size=None, truncation=False: [
            {"translation_text": f"{text} <{model}>"} for text in texts
        ]

    fake = types.ModuleType("transformers")
    fake.pipeline = pipeline
    monkeypatch.setitem(sys.modules, "transformers", fake)
    translator = BackTranslator("opus-en-de", "opus-de-en")
    assert loads == []
    assert translator(["good"]) == ["good <opus-en-de> <opus-de-en>"]
    assert translator(["bad"]) == ["bad <opus-en-de> <opus-de-en>"]
    assert loads == [("translation", "opus-en-de"), ("translation", "opus-de-en")]


def test_missing_transformers_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes `import transformers` fail
    translator = BackTranslator("Helsinki-NLP/opus-mt-en-de", "Helsinki-NLP/opus-mt-de-en")
    with pytest.raises(ConfigError, match="pip install transformers sentencepiece") as error:
        translator(["good"])
    assert "\n" not in str(error.value)


def test_augment_back_translates_once_per_text_and_drops_duplicates() -> None:
    def round_trip(texts: list[str]) -> list[str]:
        return [text.replace("film", "movie") for text in texts]

    result = augment(["a good film", "so bad"], [1, 0], ["backtranslate"], translator=round_trip, copies=3)
    assert result.texts == ["a good film", "so bad", "a good movie"]  # "so bad" came back unchanged
    assert result.operations == ["original", "original", "backtranslate"] and list(result.source) == [0, 1, 0]
    batched = augment(["a film"] * 5, [1] * 5, ["backtranslate"], translator=BackTranslator(round_trip, batch_size=2))
    assert batched.texts[5:] == ["a movie"] * 5


# --- synonym sources -----------------------------------------------------------------------------------------

LICENCE = (
    "  1 This software and database is being provided to you, the LICENSEE, by  \n"
    "  2 Princeton University under the following license.  By obtaining, using  \n"
)
DATA = {
    "data.noun": LICENCE + "00001740 03 n 02 film 0 movie 0 001 @ 00001930 n 0000 | a form of entertainment  \n"
    "00001850 03 n 03 plot 0 story 1 ice_cream 0 000 | the story that is told  \n",
    "data.adj": LICENCE + "00001740 00 a 03 good(a) 0 fine 0 Great 0 000 | having desirable qualities  \n"
    "00001900 00 s 02 good 1 beneficial 0 000 | promoting well-being  \n"
    "00002000 00 a 0a boring 0 dull 0 tedious 0 tiresome 0 wearisome 0 humdrum 0 monotonous 0 "
    "dreary 0 flat 0 slow 0 000 | so lacking in interest as to cause weariness  \n",
}


def write_wordnet(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in DATA.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def check_tiny_wordnet(wordnet: WordNetSynonyms) -> None:
    assert wordnet.synonyms("good") == ["beneficial", "fine", "great"]  # marker stripped, synsets merged, sorted
    assert wordnet.synonyms("Film") == ["movie"]
    assert wordnet.synonyms("plot") == ["story"]  # the multi-word lemma "ice cream" is skipped
    assert wordnet.synonyms("ice cream") == [] and wordnet.synonyms("unknown") == []
    assert "slow" in wordnet.synonyms("boring")  # the 10th lemma: w_cnt is hexadecimal ("0a")


def test_wordnet_folder_is_parsed_on_first_lookup(tmp_path: Path) -> None:
    folder = write_wordnet(tmp_path / "dict")
    wordnet = WordNetSynonyms(tmp_path)  # a folder whose dict/ holds the files, like /usr/share/wordnet
    with (folder / "data.noun").open("a", encoding="utf-8") as file:  # written after construction, still seen
        file.write("00002100 03 n 02 actor 0 player 0 000 | a performer  \n")
    check_tiny_wordnet(wordnet)
    assert wordnet.synonyms("actor") == ["player"]


def test_wordnet_zip_is_found_through_nltk_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "nltk" / "corpora" / "wordnet.zip"
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, text in DATA.items():
            zipped.writestr(f"wordnet/{name}", text)
    monkeypatch.delenv("SENTILSTM_WORDNET", raising=False)
    monkeypatch.setenv("NLTK_DATA", os.pathsep.join([str(tmp_path / "empty"), str(tmp_path / "nltk")]))
    wordnet = WordNetSynonyms()
    assert wordnet.location == archive
    check_tiny_wordnet(wordnet)


def test_wordnet_location_from_the_environment_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTILSTM_WORDNET", str(write_wordnet(tmp_path / "wn")))
    check_tiny_wordnet(WordNetSynonyms())
    monkeypatch.setenv("SENTILSTM_WORDNET", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="nowhere"):
        WordNetSynonyms()


def test_missing_wordnet_says_where_it_looked_and_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(synonyms_module, "_NLTK_FOLDERS", (str(tmp_path / "system"),))  # hide any real install
    monkeypatch.setattr(synonyms_module, "_DEBIAN_WORDNET", str(tmp_path / "debian"))
    monkeypatch.delenv("SENTILSTM_WORDNET", raising=False)
    monkeypatch.setenv("NLTK_DATA", str(tmp_path / "nltk"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(DataError) as error:
        WordNetSynonyms()
    message = str(error.value)
    assert "\n" not in message and str(tmp_path / "nltk") in message and str(tmp_path / "home") in message
    assert "apt install wordnet-base" in message and "python -m nltk.downloader wordnet" in message
    assert "SENTILSTM_WORDNET" in message


def test_installed_wordnet_when_present() -> None:
    try:
        wordnet = WordNetSynonyms()
    except DataError:
        pytest.skip("no WordNet data installed: `apt install wordnet-base` or `python -m nltk.downloader wordnet`")
    assert "beneficial" in wordnet.synonyms("good") and "good" not in wordnet.synonyms("good")
    assert all(" " not in word for word in wordnet.synonyms("film"))


VOCABULARY = ["[PAD]", "[UNK]", "good", "great", "fine", "bad", "Good", "unseen", "123", "ọma"]
VECTORS = np.array(
    [
        [0, 0, 0],
        [1, 0, 0],
        [1, 0, 0],
        [0.9, 0.1, 0],
        [0.7, 0.7, 0],
        [-1, 0, 0],
        [1, 0, 0],
        [0, 0, 0],
        [1, 0, 0],
        [0.95, 0, 0.05],
    ]
)


def test_neighbours_are_ordered_by_cosine_and_cut_off() -> None:
    neighbours = NeighbourSynonyms(VECTORS, VOCABULARY, k=5, min_similarity=0.5)
    assert neighbours.synonyms("good") == ["ọma", "great", "fine"]  # no [UNK], 123, "Good", nor the zero rows
    assert neighbours.synonyms("GOOD") == ["ọma", "great", "fine"]
    assert NeighbourSynonyms(VECTORS, VOCABULARY, min_similarity=0.8).synonyms("good") == ["ọma", "great"]
    assert NeighbourSynonyms(VECTORS, VOCABULARY, k=1).synonyms("good") == ["ọma"]
    assert neighbours.synonyms("bad") == []  # nothing close enough
    assert neighbours.synonyms("unseen") == [] and neighbours.synonyms("[unk]") == []
    assert neighbours.synonyms("absent") == [] and neighbours.synonyms("123") == []


def test_neighbours_drive_augmentation_in_any_language() -> None:
    neighbours = NeighbourSynonyms(VECTORS, VOCABULARY, k=2)
    result = augment(["Ọ dị good"], [1], ["synonym"], synonyms=neighbours, alpha=0.3, copies=4)
    assert set(result.texts[1:]) <= {"Ọ dị ọma", "Ọ dị great"} and len(result.texts) > 1


def test_neighbours_reject_a_misshaped_matrix() -> None:
    with pytest.raises(ConfigError, match=r"\(10, dim\)"):
        NeighbourSynonyms(VECTORS[:5], VOCABULARY)
    with pytest.raises(ConfigError, match="k must be"):
        NeighbourSynonyms(VECTORS, VOCABULARY, k=0)


def test_operation_names() -> None:
    assert OPERATIONS == ("synonym", "insert", "swap", "delete", "backtranslate")
    assert EDA_OPERATIONS == OPERATIONS[:4]


# ----- augmentation inside SentimentClassifier.fit and `sentilstm train` ---------------------------------
class RecordingTranslator:
    """A round trip that appends a marker word, remembering every text it was given."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: list[str]) -> list[str]:
        self.seen += texts
        return [f"{text} indeed" for text in texts]


def test_fit_augments_the_training_split_only(tiny_params: dict) -> None:
    texts, labels = make_negation_data(200, seed=3)
    val_texts, val_labels = make_negation_data(60, seed=4)
    translator = RecordingTranslator()
    clf = SentimentClassifier(**tiny_params, augment="backtranslate", augment_translator=translator)
    clf.fit(texts, labels, validation=(val_texts, val_labels))
    assert translator.seen == texts  # each training text once, no validation text
    info = clf.metrics_["augmentation"]
    assert info["originals"] == 200 and info["added_per_operation"] == {"backtranslate": 200}
    assert info["examples"][0] == ["backtranslate", texts[0], f"{texts[0]} indeed"]
    # with no validation split given, the held-out 10% never reaches the translator either
    translator.seen.clear()
    clf.fit(texts, labels)
    held_out = set(texts) - set(translator.seen)
    assert len(translator.seen) == 180 and len(held_out) >= 15
    assert clf.validation_report_.num_examples == 20


def test_fit_with_eda_is_reproducible_and_lengthens_epochs(tiny_params: dict) -> None:
    texts, labels = make_negation_data(200, seed=5)
    batches = []

    class Count(TrainingCallback):
        def on_epoch_start(self, epoch: int, num_epochs: int, num_batches: int) -> None:
            batches.append(num_batches)

    plain = SentimentClassifier(**tiny_params).fit(texts, labels, callback=Count())
    first = SentimentClassifier(**tiny_params, augment="eda", augment_copies=2).fit(texts, labels, callback=Count())
    second = SentimentClassifier(**tiny_params, augment=["synonym", "insert", "swap", "delete"], augment_copies=2)
    second.fit(texts, labels, callback=Count())
    assert batches[2] > 2 * batches[0]  # 180 texts + up to 8 copies each (unchanged copies are dropped)
    np.testing.assert_array_equal(first.predict_proba(texts), second.predict_proba(texts))  # "eda" = the four edits
    assert first.metrics_["augmentation"] == second.metrics_["augmentation"]
    assert not np.array_equal(plain.predict_proba(texts), first.predict_proba(texts))


def test_fit_with_wordnet_synonyms(tiny_params: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTILSTM_WORDNET", str(write_wordnet(tmp_path / "wn")))
    texts = ["a good film", "a boring plot", "good plot and good film", "boring film, boring plot"] * 10
    clf = SentimentClassifier(**tiny_params, augment="synonym", augment_synonyms="wordnet")
    clf.fit(texts, [1, 0, 1, 0] * 10)
    added = clf.metrics_["augmentation"]["examples"]
    assert added and all(op == "synonym" for op, _, _ in added)
    words = {w.strip(",") for _, _, new in added for w in new.split()}
    assert words & {"fine", "great", "beneficial", "movie", "story", "dull", "tedious", "slow", "flat"}


@pytest.mark.parametrize(
    "options, message",
    [
        (
            {"augment": "eda,rotate"},
            r"augment operations must be among \['eda', 'synonym', 'insert', 'swap', 'delete', "
            r"'backtranslate'\], got 'rotate'",
        ),
        ({"augment": "backtranslate"}, r"augment='backtranslate' needs augment_translator"),
        (
            {"augment": "swap", "augment_synonyms": "thesaurus"},
            r"augment_synonyms must be one of \['neighbours', 'wordnet'\]",
        ),
        ({"augment": "swap", "augment_copies": 0}, r"copies must be"),
        ({"augment": "swap", "augment_alpha": 0.9}, r"alpha must be"),
    ],
)
def test_bad_augment_options_are_config_errors(options: dict, message: str, tiny_params: dict) -> None:
    with pytest.raises(ConfigError, match=message):
        SentimentClassifier(**tiny_params, **options).fit(["a good film", "a bad film"] * 10, [1, 0] * 10)


def test_cli_train_with_augmentation(tmp_path: Path) -> None:
    texts, labels = make_negation_data(160, seed=6)
    data = tmp_path / "train.csv"
    with data.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([("text", "label"), *zip(texts, labels)])
    small = [
        "--embedding-dim",
        "16",
        "--hidden-size",
        "16",
        "--epochs",
        "2",
        "--min-frequency",
        "1",
        "--threads",
        "1",
        "--blend",
        "none",
    ]
    out = tmp_path / "m.sentilstm"
    metrics = tmp_path / "metrics.json"
    result = invoke_cli(
        "train",
        data,
        *small,
        "--augment",
        "swap,delete",
        "--augment-copies",
        "2",
        "--augment-alpha",
        "0.2",
        "--out",
        out,
        "--metrics-json",
        metrics,
    )
    assert result.exit_code == 0, result.output
    assert "augmentation added" in result.output and out.exists()
    saved = json.loads(metrics.read_text())
    assert saved["augmentation"]["added_per_operation"].keys() <= {"swap", "delete"}
    bad = invoke_cli("train", data, *small, "--augment", "shuffle", "--out", tmp_path / "x")
    assert bad.exit_code == 2 and "augment operations must be among" in bad.stderr
    assert "Traceback" not in bad.output and not (tmp_path / "x").exists()


class StopAt(TrainingCallback):
    """Interrupts training when `epoch` starts, as Ctrl-C would."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_start(self, epoch: int, num_epochs: int, num_batches: int) -> None:
        if epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("extra", [{}, {"pretrain_embeddings": "word2vec"}])
def test_resume_with_neighbour_augmentation_is_exact(extra: dict, tiny_params: dict, tmp_path: Path) -> None:
    texts, labels = make_negation_data(300, seed=8)
    options = {**tiny_params, "augment": "eda", "epochs": 3, "patience": 5, **extra}
    full = SentimentClassifier(**options).fit(texts, labels)
    checkpoint = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        SentimentClassifier(**options).fit(texts, labels, checkpoint_path=checkpoint, callback=StopAt(3))
    resumed = SentimentClassifier(**options).fit(texts, labels, checkpoint_path=checkpoint, resume=True)
    assert [e.epoch for e in resumed.history_.epochs] == [1, 2, 3]
    np.testing.assert_array_equal(resumed.predict_proba(texts[:30]), full.predict_proba(texts[:30]))


def test_augmentation_sees_texts_without_html_tags(tiny_params: dict) -> None:
    texts = [
        f"a {w} film.<br /><br />the plot was {w} and the cast too" for w in ("good", "bad", "great", "awful")
    ] * 10
    translator = RecordingTranslator()
    clf = SentimentClassifier(
        **tiny_params, augment="swap,delete,backtranslate", augment_translator=translator, augment_alpha=0.5
    )
    clf.fit(texts, [1, 0, 1, 0] * 10)
    assert translator.seen and not any("<" in t or ">" in t for t in translator.seen)
    assert all("<" not in new for _, _, new in clf.metrics_["augmentation"]["examples"])


def test_a_callable_translator_is_recorded_by_name_and_dropped_on_load(tiny_params: dict, tmp_path: Path) -> None:
    import sentilstm

    texts, labels = make_negation_data(100, seed=9)
    clf = SentimentClassifier(**tiny_params, augment="backtranslate", augment_translator=RecordingTranslator())
    loaded = sentilstm.load_model(clf.fit(texts, labels).save(tmp_path / "m.sentilstm"))
    assert loaded.augment_translator is None and loaded.augment == "backtranslate"
    np.testing.assert_array_equal(loaded.predict_proba(texts[:10]), clf.predict_proba(texts[:10]))


@pytest.mark.parametrize(
    "options",
    [{"augment_copies": float("nan")}, {"augment_copies": -1}, {"augment_alpha": float("inf")}, {"augment_alpha": -1}],
)
def test_augment_options_are_checked_even_without_augment(options: dict) -> None:
    with pytest.raises(ConfigError, match="augment_(copies|alpha) must be"):
        SentimentClassifier(**options).fit(["a good film", "a bad film"] * 10, [1, 0] * 10)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"augment": True}, r"augment must be a comma-separated string or a list of operations"),
        (
            {"augment": "backtranslate", "augment_translator": "Helsinki-NLP/opus-mt-en-de"},
            r"two Hugging Face model names 'FORWARD,BACKWARD'.*got 'Helsinki-NLP/opus-mt-en-de'",
        ),
        ({"augment": "swap", "augment_copies": 0}, r"augment_copies must be a whole number between 1 and 100, got 0"),
        (
            {"augment": "swap", "augment_copies": 10**12},
            r"augment_copies must be a whole number between 1 and 100, got 10+",
        ),
        ({"augment": "swap", "augment_alpha": 0.9}, r"augment_alpha must be between 0.0 and 0.5, got 0.9"),
    ],
)
def test_augment_options_are_checked_before_any_work(
    options: dict, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentilstm.text.pipeline import TextPipeline

    monkeypatch.setattr(TextPipeline, "fit", None)  # nothing may be tokenized before the options are checked
    with pytest.raises(ConfigError, match=message):
        SentimentClassifier(**options).fit(["a good film", "a bad film"] * 10, [1, 0] * 10)
