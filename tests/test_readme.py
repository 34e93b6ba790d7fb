"""The README's commands name only verbs and options that exist: a renamed or removed flag fails here, not in the
hands of the first reader who copies the line."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.main import get_command

from sentilstm.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_commands() -> list[tuple[int, list[str]]]:
    """(line number, words) of every `sentilstm VERB ...` command in the README's shell blocks, continuation lines
    joined and comments dropped."""
    commands, shell, pending, start = [], False, "", 0
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("```"):
            shell = line.strip() in ("```bash", "```sh", "```shell")
            continue
        if not shell:
            continue
        text = (pending + " " + line.strip()) if pending else line.strip()
        start = start if pending else number
        if text.endswith("\\"):
            pending = text[:-1]
            continue
        pending = ""
        if text.startswith("sentilstm "):
            words = shlex.split(text, comments=True)
            commands.append((start, words))
    return commands


def options_of(words: list[str]) -> tuple[list[str], set[str]]:
    """The command path (verb, or group and verb) and every option name it accepts."""
    command = get_command(app)
    path = []
    for word in words[1:]:
        sub = getattr(command, "commands", {}).get(word)
        if sub is None:
            break
        command, path = sub, [*path, word]
    names = {name for param in command.params for name in (*param.opts, *param.secondary_opts)}
    return path, names | {"--help"}


def test_the_readme_has_commands_to_check() -> None:
    assert len(readme_commands()) >= 40


@pytest.mark.parametrize(("line", "words"), readme_commands(), ids=lambda v: str(v) if isinstance(v, int) else "")
def test_every_readme_command_uses_existing_options(line: int, words: list[str]) -> None:
    path, names = options_of(words)
    assert path, f"README line {line}: {' '.join(words[:3])} names no sentilstm command"
    used = {re.split("=", word, maxsplit=1)[0] for word in words if word.startswith("--")}
    unknown = sorted(used - names)
    assert not unknown, f"README line {line}: `sentilstm {' '.join(path)}` has no option {unknown}"


def test_a_misspelt_option_would_be_caught() -> None:
    path, names = options_of(["sentilstm", "train", "data.csv", "--ensembel", "3"])
    assert path == ["train"] and "--ensemble" in names and "--ensembel" not in names
    path, names = options_of(["sentilstm", "datasets", "download", "imdb"])
    assert path == ["datasets", "download"]
