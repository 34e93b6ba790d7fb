"""Word-level and subword (BPE, Unigram) tokenizers built on Hugging Face `tokenizers`.

    tok = TextTokenizer.train(["a good film", "a bad film"], TextConfig(min_frequency=1))
    tok.encode(["a good film"])  # [array([2, 4, 3])]

The tokenizer is trained on the training split only and serialised into the model file as JSON.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from sentilstm.config import TextConfig
from sentilstm.errors import ArtifactError

log = logging.getLogger(__name__)

PAD, UNK = "[PAD]", "[UNK]"
PAD_ID, UNK_ID = 0, 1
DEFAULT_WORD_VOCAB, DEFAULT_SUBWORD_VOCAB = 30_000, 8_000
# Words (letters, digits, combining tone marks, inner apostrophes: "don't" stays whole, it carries
# the negation) or any single other character (each "!" and each emoji is its own token).
_PIECE = r"[\w\p{M}]+(?:['\u2019][\w\p{M}]+)*|[^\w\s\p{M}]"


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(_PIECE), behavior="isolated")]
    )


# The same split in Python's `re`, for texts where the two regex engines provably agree (`_plain`): ASCII
# printable characters, letters and decimal digits (\w in both), punctuation other than connectors and symbols
# (neither \w nor space in both). Marks, other numbers, connectors, format and control characters or any
# whitespace but " " go to the Rust tokenizer. On one core this is ~4x faster for word-level vocabularies
# (IMDB reviews: ~100 us instead of ~400 us), where the Rust call spends its time in the regex pre-tokenizer.
_PY_PIECE = re.compile(r"\w+(?:['\u2019]\w+)*|[^\w\s]")
_PLAIN_CATEGORIES = frozenset("Lu Ll Lt Lm Lo Nd Pd Ps Pe Pi Pf Po Sm Sc Sk So".split())


def _plain(text: str) -> bool:
    """True when `_PY_PIECE` splits `text` exactly as the saved Rust pre-tokenizer does."""
    if text.isascii():
        return text.isprintable()
    return all(c.isascii() and c.isprintable() or unicodedata.category(c) in _PLAIN_CATEGORIES for c in set(text))


@functools.cache
def _reference_split() -> str:
    """`_pre_tokenizer()` as JSON, exactly as this version of `tokenizers` writes it."""
    return json.dumps(json.loads(_pre_tokenizer().__getstate__()), sort_keys=True)


def _word_vocabulary(spec: dict[str, Any]) -> dict[str, int] | None:
    """token -> id when the tokenizer `spec` (its JSON) is a word-level vocabulary behind exactly `_pre_tokenizer()`."""
    model = spec.get("model") or {}
    same_split = json.dumps(spec.get("pre_tokenizer"), sort_keys=True) == _reference_split()
    if model.get("type") != "WordLevel" or model.get("unk_token") != UNK or spec.get("normalizer") or not same_split:
        return None
    return dict(model["vocab"])


MODEL_TYPES = ("WordLevel", "BPE", "Unigram")  # what `TextTokenizer.train` makes, as the tokenizer JSON names them


def _check_saved(data: Any, embedding_rows: int | None) -> dict[str, Any]:
    """`data` parsed, or ArtifactError unless it is tokenizer JSON as `TextTokenizer.train` makes it, with
    `embedding_rows` entries: checked in Python, so the Rust parser never sees a vocabulary larger than the
    embedding."""
    from sentilstm.artifact.format import json_kind, parse_json

    spec = parse_json(data, "the tokenizer")
    if not isinstance(spec, dict) or not isinstance(spec.get("model"), dict):
        raise ArtifactError(f"the tokenizer is a JSON {json_kind(spec)}, not a JSON object with a model")
    model = spec["model"]
    if model.get("type") not in MODEL_TYPES:
        raise ArtifactError(
            f"the tokenizer model must be one of {list(MODEL_TYPES)}, got {str(model.get('type'))[:40]!r}"
        )
    vocab = model.get("vocab")
    if not isinstance(vocab, list if model["type"] == "Unigram" else dict):
        raise ArtifactError(f"the tokenizer's {model['type']} vocabulary is a {type(vocab).__name__}")
    if embedding_rows is not None and len(vocab) != embedding_rows:
        raise ArtifactError(f"the tokenizer has {len(vocab)} entries but the embedding has {embedding_rows} rows")
    ids = sorted(i if type(i) is int else -1 for i in vocab.values()) if isinstance(vocab, dict) else None
    if ids is not None and ids != list(range(len(vocab))):
        raise ArtifactError(f"the tokenizer's token ids are not 0 to {len(vocab) - 1}, one per token")
    unknown = model.get("unk_id") == UNK_ID if model["type"] == "Unigram" else model.get("unk_token") == UNK
    if not unknown:
        raise ArtifactError(f"the tokenizer's unknown token must be {UNK} (id {UNK_ID})")
    added = spec["added_tokens"] if isinstance(spec.get("added_tokens"), list) else []
    pairs = [(t.get("id"), t.get("content")) if isinstance(t, dict) else t for t in added]
    if pairs != [(PAD_ID, PAD), (UNK_ID, UNK)]:
        raise ArtifactError(f"the tokenizer's added_tokens must be {PAD} (id {PAD_ID}) and {UNK} (id {UNK_ID})")
    return spec


def _check_built(tokenizer: Tokenizer, embedding_rows: int | None) -> None:
    """Raise ArtifactError unless the parsed tokenizer splits and maps text exactly as sentilstm's do: no other
    normaliser or pre-tokenizer regex (which could take seconds per text), no BPE dropout (random ids), [PAD] and
    [UNK] at ids 0 and 1. Parts are compared as this version of the library writes them."""
    for name in ("normalizer", "post_processor", "truncation", "padding"):
        if getattr(tokenizer, name) is not None:
            raise ArtifactError(f"the tokenizer has a {name}, which sentilstm never saves")
    if tokenizer.pre_tokenizer is None or tokenizer.pre_tokenizer.__getstate__() != _pre_tokenizer().__getstate__():
        raise ArtifactError("the tokenizer's pre_tokenizer is not sentilstm's word split")
    wordpiece = decoders.WordPiece(prefix="##").__getstate__()
    if tokenizer.decoder is not None and tokenizer.decoder.__getstate__() != wordpiece:
        raise ArtifactError("the tokenizer's decoder is not sentilstm's")
    if getattr(tokenizer.model, "dropout", None) is not None:
        raise ArtifactError("the tokenizer has BPE dropout, which would make predictions random")
    if tokenizer.token_to_id(PAD) != PAD_ID or tokenizer.token_to_id(UNK) != UNK_ID:
        raise ArtifactError(f"the tokenizer must map {PAD} to id {PAD_ID} and {UNK} to id {UNK_ID}")
    if embedding_rows is not None and tokenizer.get_vocab_size() != embedding_rows:
        raise ArtifactError(
            f"the tokenizer has {tokenizer.get_vocab_size()} entries but the embedding has {embedding_rows} rows"
        )


class TextTokenizer:
    """Turns normalised strings into arrays of token ids; id 0 is padding, 1 is unknown."""

    def __init__(self, tokenizer: Tokenizer, spec: dict[str, Any] | None = None) -> None:
        self._tokenizer = tokenizer
        spec = spec if spec is not None else json.loads(tokenizer.to_str())  # `spec`: that JSON, when at hand
        self._words = _word_vocabulary(spec)  # the Python fast path of `encode`, word-level only

    @classmethod
    def train(cls, texts: Iterable[str], config: TextConfig) -> TextTokenizer:
        """Learn a vocabulary from (already normalised) training texts."""
        special = [PAD, UNK]
        trainer: trainers.Trainer
        if config.tokenizer == "word":
            vocab = config.vocab_size or DEFAULT_WORD_VOCAB
            tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
            trainer = trainers.WordLevelTrainer(
                vocab_size=vocab, min_frequency=config.min_frequency, special_tokens=special, show_progress=False
            )
        elif config.tokenizer == "bpe":
            vocab = config.vocab_size or DEFAULT_SUBWORD_VOCAB
            tokenizer = Tokenizer(models.BPE(unk_token=UNK, continuing_subword_prefix="##"))
            tokenizer.decoder = decoders.WordPiece(prefix="##")
            trainer = trainers.BpeTrainer(
                vocab_size=vocab,
                min_frequency=config.min_frequency,
                special_tokens=special,
                continuing_subword_prefix="##",
                show_progress=False,
            )
        else:  # unigram
            vocab = config.vocab_size or DEFAULT_SUBWORD_VOCAB
            tokenizer = Tokenizer(models.Unigram())
            trainer = trainers.UnigramTrainer(
                vocab_size=vocab, special_tokens=special, unk_token=UNK, show_progress=False
            )
        tokenizer.pre_tokenizer = _pre_tokenizer()
        tokenizer.train_from_iterator(texts, trainer=trainer)
        assert tokenizer.token_to_id(PAD) == PAD_ID and tokenizer.token_to_id(UNK) == UNK_ID
        log.info("trained a %s tokenizer with %d entries", config.tokenizer, tokenizer.get_vocab_size())
        return cls(tokenizer)

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size()

    def vocabulary(self) -> dict[str, int]:
        """Token string -> id, special tokens included."""
        return self._tokenizer.get_vocab()

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Token ids per text (int64); an empty text becomes a single [UNK] so it has a length."""
        return self._encode(texts, None)

    def encode_with_tokens(self, texts: Sequence[str]) -> tuple[list[np.ndarray], list[list[str]]]:
        """`encode`, and each id's token as it stands in the text (an unknown word's own string, a subword's
        characters without "##"; "" for an empty text's [UNK]): what character n-grams are taken from."""
        tokens: list[list[str]] = [[] for _ in texts]
        return self._encode(texts, tokens), tokens

    def _encode(self, texts: Sequence[str], tokens: list[list[str]] | None) -> list[np.ndarray]:
        texts = list(texts)
        out: list[np.ndarray | None] = [None] * len(texts)
        rest = list(range(len(texts)))
        if self._words is not None:
            lookup, rest = self._words.get, []
            for i, text in enumerate(texts):
                if _plain(text):
                    pieces = _PY_PIECE.findall(text)
                    out[i] = np.asarray([lookup(piece, UNK_ID) for piece in pieces] or [UNK_ID], dtype=np.int64)
                    if tokens is not None:
                        tokens[i] = pieces or [""]
                else:
                    rest.append(i)
        if rest:
            batch = self._tokenizer.encode_batch_fast if tokens is None else self._tokenizer.encode_batch  # offsets
            encodings = batch([texts[i] for i in rest], add_special_tokens=False)
            for i, encoding in zip(rest, encodings):
                out[i] = np.asarray(encoding.ids or [UNK_ID], dtype=np.int64)
                if tokens is not None:
                    tokens[i] = [texts[i][start:end] for start, end in encoding.offsets] or [""]
        return out  # type: ignore[return-value]  # every slot is filled above

    def tokens(self, text: str) -> list[str]:
        """The token strings of one normalised text (for inspection and explanations)."""
        return self._tokenizer.encode(text, add_special_tokens=False).tokens

    def to_json(self) -> str:
        return self._tokenizer.to_str()

    @classmethod
    def from_json(cls, data: str, embedding_rows: int | None = None) -> TextTokenizer:
        """Rebuild a tokenizer saved by `to_json` (read from a file: trusted in nothing).

        `embedding_rows` (the rows of the model's embedding) bounds the vocabulary before the tokenizers library
        parses it; any difference from what `train` makes is an ArtifactError.
        """
        spec = _check_saved(data, embedding_rows)
        try:
            tokenizer = Tokenizer.from_str(data)
        except Exception as exc:  # noqa: BLE001 - the tokenizers library raises a bare Exception on bad JSON
            raise ArtifactError(f"the saved tokenizer could not be read ({str(exc).splitlines()[0][:120]})") from None
        _check_built(tokenizer, embedding_rows)
        return cls(tokenizer, spec)


def truncate(ids: np.ndarray, max_length: int, how: str) -> np.ndarray:
    """Cut `ids` to `max_length` keeping the head, the tail, or both ends (head_tail: 1/3 head, 2/3 tail)."""
    if len(ids) <= max_length:
        return ids
    if how == "head":
        return ids[:max_length]
    if how == "tail":
        return ids[-max_length:]
    head = max_length // 3
    return np.concatenate([ids[:head], ids[len(ids) - (max_length - head) :]])


def choose_max_length(lengths: Sequence[int], percentile: float = 95.0) -> int:
    """Default max length: the given percentile of training lengths, rounded up to 8, within 8..512."""
    value = float(np.percentile(np.asarray(lengths), percentile)) if len(lengths) else 8.0
    return int(min(512, max(8, int(np.ceil(value / 8.0)) * 8)))
