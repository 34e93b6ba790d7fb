"""Back-translation for augmentation's `backtranslate` operation: every text makes a round trip through a pivot
language (e.g. English -> German -> English) and comes back reworded.

    BackTranslator("Helsinki-NLP/opus-mt-en-de", "Helsinki-NLP/opus-mt-de-en")(["a fine film"])

Each direction is a callable or a Hugging Face model name (transformers, imported only when a name is used).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sentilstm.errors import ConfigError

Translator = Callable[[list[str]], list[str]]


class BackTranslator:
    """Round-trip translation, source -> pivot -> source, in batches of `batch_size`.

        BackTranslator("Helsinki-NLP/opus-mt-en-de", "Helsinki-NLP/opus-mt-de-en")(["a fine film"])

    Each direction is a callable list[str] -> list[str] or a Hugging Face model name (or local folder), loaded
    with `transformers.pipeline("translation", model=name)` on first use, once. With `backward=None`,
    `forward` does the whole round trip itself.
    """

    def __init__(
        self, forward: Translator | str, backward: Translator | str | None = None, batch_size: int = 32
    ) -> None:
        for name, direction in (("forward", forward), ("backward", backward)):
            if not (
                callable(direction)
                or (isinstance(direction, str) and direction.strip())
                or (name == "backward" and direction is None)
            ):
                raise ConfigError(
                    f"{name} must be a callable list[str] -> list[str] or a Hugging Face translation "
                    f"model name such as 'Helsinki-NLP/opus-mt-en-de', got {direction!r}"
                )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        self.forward, self.backward, self.batch_size = forward, backward, batch_size
        self._pipelines: dict[str, Translator] = {}

    def __call__(self, texts: list[str]) -> list[str]:
        texts, translated = list(texts), []
        for start in range(0, len(texts), self.batch_size):
            batch = self._translate("forward", self.forward, texts[start : start + self.batch_size])
            if self.backward is not None:
                batch = self._translate("backward", self.backward, batch)
            translated += batch
        return translated

    def _translate(self, name: str, direction: Translator | str, batch: list[str]) -> list[str]:
        """One direction on one batch, checked: a wrong-length answer would misalign texts and labels."""
        result = (self._load(direction) if isinstance(direction, str) else direction)(list(batch))
        if (
            not isinstance(result, (list, tuple))
            or len(result) != len(batch)
            or not all(isinstance(text, str) for text in result)
        ):
            raise ConfigError(
                f"the {name} translator must return a list with one string per input text; "
                f"given {len(batch)} texts it returned {_describe(result)}"
            )
        return list(result)

    def _load(self, model: str) -> Translator:
        """The translation pipeline for `model`, built on first use."""
        if model not in self._pipelines:
            try:
                import transformers
            except ImportError:
                raise ConfigError(
                    f"back-translation with the model {model!r} needs transformers: "
                    "pip install transformers sentencepiece, or pass a callable list[str] -> list[str]"
                ) from None
            try:
                pipe = transformers.pipeline("translation", model=model)
            except (OSError, ValueError) as error:  # not cached and no network, not a model folder, a bad name
                first_line = (str(error).splitlines() or [""])[0]
                raise ConfigError(
                    f"cannot load the translation model {model!r} ({first_line}); "
                    "pass a local model folder or a callable"
                ) from None
            batch_size = self.batch_size
            self._pipelines[model] = lambda texts: [
                item["translation_text"] for item in pipe(texts, batch_size=batch_size, truncation=True)
            ]
        return self._pipelines[model]


def _describe(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        kinds = sorted({type(item).__name__ for item in value})
        return f"a {type(value).__name__} of {len(value)} ({', '.join(kinds) or 'empty'})"
    return f"{type(value).__name__} {str(value)[:60]!r}"


__all__ = ["BackTranslator", "Translator"]
