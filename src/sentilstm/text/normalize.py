"""Language-agnostic text normalisation, configured by `TextConfig` and saved with the model.

normalize = Normalizer(TextConfig())
normalize("Great film!<br />Loved it &amp; more http://t.co/x")  # 'great film! loved it & more xxurl'
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable

from sentilstm.config import TextConfig
from sentilstm.errors import ConfigError

URL_TOKEN = "xxurl"
USER_TOKEN = "xxuser"

# Negations flip sentiment; removing them with the stop words is the classic tutorial bug.
NEGATIONS = frozenset(
    "not no nor never neither none nobody nothing nowhere cannot without n't "
    "don't doesn't didn't isn't aren't wasn't weren't won't wouldn't can't couldn't "
    "shouldn't hasn't haven't hadn't ain't mustn't needn't".split()
)

HTML_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]{0,200}?/?\s*>")


def clean_text(text: str) -> str:
    """Lone UTF-16 surrogates and NUL characters become U+FFFD; everything else is left as it is.

    They arrive from JSON ("\\ud83d" alone: a tweet cut inside an emoji) and from command-line arguments that
    were not valid UTF-8 (Python decodes those bytes to surrogates), and neither the tokenizer nor a UTF-8 file
    can take them. Valid text costs one ASCII check, or one encode.
    """
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def strip_html(text: str) -> str:
    """Tags become spaces and entities characters ("<br />" -> " ", "&amp;" -> "&")."""
    return html.unescape(HTML_TAG.sub(" ", text))


_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@\w+")
# A word (letters, digits, combining tone marks, inner apostrophes: "don't", "n'ụlọ") or one other character.
WORD_PATTERN = r"[\w\u0300-\u036f]+(?:['\u2019][\w\u0300-\u036f]+)*|\S"
_WORD = re.compile(WORD_PATTERN)


def _may_hold_url(text: str) -> bool:
    """False only when `_URL` cannot match: it needs "http" or "www." in some case (no other character folds to
    these)."""
    lowered = text.lower()
    return "http" in lowered or "www." in lowered


def _cp1252_table() -> dict[int, str]:
    """Map the C1 controls U+0080-U+009F to the Windows-1252 characters they were meant to be."""
    table: dict[int, str] = {}
    for code in range(0x80, 0xA0):
        try:
            table[code] = bytes([code]).decode("cp1252")
        except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D are unassigned in cp1252
            table[code] = " "
    return table


_CP1252 = _cp1252_table()


def _load_stopwords(stopwords: str | list[str] | None) -> frozenset[str]:
    if stopwords is None:
        return frozenset()
    if isinstance(stopwords, str):
        if stopwords.lower() != "english":
            raise ConfigError(
                f"stopwords must be 'english', a list of words or None, got {stopwords!r}; "
                "for another language pass its stop words as a list"
            )
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        words = ENGLISH_STOP_WORDS
    else:
        words = stopwords
    return frozenset(w.lower() for w in words) - NEGATIONS


def _load_stemmer(language: str | None) -> Callable[[list[str]], list[str]] | None:
    if language is None:
        return None
    import snowballstemmer

    try:
        return snowballstemmer.stemmer(language.lower()).stemWords
    except KeyError:
        raise ConfigError(
            f"stemmer must be a Snowball language such as {snowballstemmer.algorithms()[:6]}..., got {language!r}"
        ) from None


class Normalizer:
    """Callable that applies every enabled step of a `TextConfig`, in a fixed order."""

    def __init__(self, config: TextConfig) -> None:
        self.config = config
        self._stopwords = _load_stopwords(config.stopwords)
        self._stem = _load_stemmer(config.stemmer)

    def __call__(self, text: str) -> str:
        # Each regex runs only when the text holds what it needs ("@", "http"/"www.", "<"): on review-length
        # text a scan costs ~30 us, as much as tokenizing, and most texts have nothing to replace.
        c = self.config
        text = clean_text(text)
        if c.repair_cp1252 and not text.isascii():
            text = text.translate(_CP1252)
        if c.strip_html and ("<" in text or "&" in text):
            text = strip_html(text)
        if c.unicode_form:
            text = unicodedata.normalize(c.unicode_form, text)
        if c.replace_urls and _may_hold_url(text):
            text = _URL.sub(f" {URL_TOKEN} ", text)
        if c.replace_mentions and "@" in text:
            text = _MENTION.sub(f" {USER_TOKEN} ", text)
        if c.lowercase:
            text = text.lower()
        if self._stopwords or self._stem:
            text = self._filter_words(text)
        return " ".join(text.split())  # str.split and re's \s agree on what whitespace is

    def _filter_words(self, text: str) -> str:
        words = _WORD.findall(text)
        if self._stopwords:
            words = [w for w in words if w.lower() not in self._stopwords]
        if self._stem:
            words = self._stem(words)
        return " ".join(words)

    def batch(self, texts: list[str]) -> list[str]:
        """Normalise many texts."""
        return [self(t) for t in texts]
