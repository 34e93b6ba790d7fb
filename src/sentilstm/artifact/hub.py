"""Model files on the Hugging Face Hub: `load_model("hf://user/repo")` downloads (and caches) the repository's
model file; `upload` puts files in a repository in one commit (`clf.push_to_hub("user/repo")`: the model file and
its model card, README.md; `sentilstm.estimators.display`).

    clf.push_to_hub("me/igbo-sentiment")                 # token from `hf auth login` or HF_TOKEN
    load_model("hf://me/igbo-sentiment")                 # hf://REPO[@REVISION][/FILE.sentilstm]
    sentilstm predict hf://me/igbo-sentiment "what a day"

Through `huggingface_hub` (the `[hub]` extra): its cache, `HF_HUB_OFFLINE=1`, `HF_ENDPOINT` and tokens apply.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sentilstm.errors import ArtifactError, ConfigError

MODEL_FILENAME = "model.sentilstm"
CARD_FILENAME = "README.md"
# hf://user/repo, hf://user/repo@revision, hf://user/repo/file.sentilstm (a Path turns "hf://" into "hf:/")
_HUB_PATH = re.compile(r"^hf:/{1,2}(?P<repo>[\w.-]+/[\w.-]+)(?:@(?P<revision>[\w./-]+?))?(?:/(?P<file>[^@]+))?$")


def is_hub_path(path: Any) -> bool:
    return isinstance(path, (str, Path)) and str(path).startswith("hf:/")


def parse_hub_path(path: str | Path) -> tuple[str, str | None, str]:
    """(repo id, revision or None, file name) of an `hf://` path; ConfigError for one that is not."""
    match = _HUB_PATH.match(str(path))
    if match is None:
        raise ConfigError(
            f"{str(path)!r} is not a Hub model path; write hf://USER/REPO, hf://USER/REPO@REVISION or "
            "hf://USER/REPO/FILE.sentilstm"
        )
    return match["repo"], match["revision"], match["file"] or MODEL_FILENAME


def local_path(path: str | Path) -> str | Path:
    """`path` itself, or for an `hf://` path the downloaded (cached) model file's local path."""
    if not is_hub_path(path):
        return path
    repo_id, revision, filename = parse_hub_path(path)
    hub = _hub()
    errors = hub.errors
    try:
        return str(hub.hf_hub_download(repo_id, filename, revision=revision, library_name="sentilstm"))
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError) as exc:
        raise ArtifactError(f"{str(path)!r}: {_first_line(exc)}; check the repository name and revision") from None
    except errors.LocalEntryNotFoundError:
        raise ArtifactError(
            f"{str(path)!r} is not in the local Hugging Face cache and the Hub cannot be reached (offline?); "
            "download it once while online, or unset HF_HUB_OFFLINE"
        ) from None
    except errors.EntryNotFoundError:  # after its subclass, the cache's LocalEntryNotFoundError
        raise ArtifactError(f"{str(path)!r}: the repository has no file {filename!r}; name the file") from None
    except (errors.HfHubHTTPError, OSError) as exc:
        raise ArtifactError(f"{str(path)!r} could not be downloaded: {_first_line(exc)}") from None


def upload(
    files: dict[str, str | bytes],
    repo_id: str,
    *,
    token: str | None = None,
    private: bool | None = None,
    commit_message: str = "Upload sentilstm model",
    endpoint: str | None = None,
) -> str:
    """Upload `files` (name in the repository -> local path or bytes) in one commit to `repo_id`, created if absent;
    the commit's URL."""
    parse_hub_path(f"hf://{repo_id}")  # a bad name fails before any work
    hub = _hub()
    api = hub.HfApi(endpoint=endpoint, token=token, library_name="sentilstm")
    operations = [hub.CommitOperationAdd(path_in_repo=name, path_or_fileobj=data) for name, data in files.items()]
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.create_commit(repo_id, operations, commit_message=commit_message)
    except Exception as exc:  # noqa: BLE001 - the HTTP client's own errors (httpx's, by version) end here, as one line
        raise ArtifactError(f"could not upload to {repo_id!r}: {type(exc).__name__}: {_first_line(exc)}") from None
    return str(info.commit_url)


def _hub() -> Any:
    try:
        import huggingface_hub
        import huggingface_hub.errors  # a submodule the package does not load itself
    except ImportError:
        raise ConfigError("the Hugging Face Hub needs huggingface_hub: pip install 'sentilstm[hub]'") from None
    return huggingface_hub


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = ["CARD_FILENAME", "MODEL_FILENAME", "is_hub_path", "local_path", "parse_hub_path", "upload"]
