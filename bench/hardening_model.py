"""Model-file surgery for the audit: a safetensors file's JSON header edited, flipped or truncated, one way per kind
of tampering (see bench/hardening.py)."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hardening_core import garbage


# ----- the model file: safetensors header surgery ------------------------------------------------------------------
def split_file(data: bytes) -> tuple[dict[str, Any], bytes]:
    size = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8 : 8 + size]), data[8 + size :]


def join_file(header: dict[str, Any], body: bytes) -> bytes:
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + body


def edit_header(change: Callable[[dict[str, Any]], Any]) -> Callable[[bytes], bytes]:
    """A tamper that applies `change` to the parsed safetensors header (its __metadata__ and tensor entries)."""

    def tamper(data: bytes) -> bytes:
        header, body = split_file(data)
        change(header)
        return join_file(header, body)

    return tamper


def edit_meta(change: Callable[[dict[str, Any]], Any]) -> Callable[[bytes], bytes]:
    return edit_header(lambda header: change(header["__metadata__"]))


def edit_tensor_entry(change: Callable[[dict[str, Any]], Any]) -> Callable[[bytes], bytes]:
    return edit_header(lambda header: change(header["embedding.weight"]))


def raw_payload(text: str) -> Callable[[bytes], bytes]:
    return edit_meta(lambda meta: meta.__setitem__("payload", text))


def edit_payload(change: Callable[[dict[str, Any]], Any]) -> Callable[[bytes], bytes]:
    """A tamper that applies `change` to the JSON payload inside the header, re-encoded."""

    def rewrite(meta: dict[str, Any]) -> None:
        payload = json.loads(meta["payload"])
        change(payload)
        meta["payload"] = json.dumps(payload)

    return edit_meta(rewrite)


def resave_payload(change: Callable[[dict[str, Any]], Any]) -> Callable[[bytes], bytes]:
    """Not a tamper: `change` applied to the payload, then the file written again as sentilstm writes it (checksums
    recomputed), for a file made elsewhere that must load here (a model saved on a GPU machine, say)."""

    def resave(data: bytes) -> bytes:
        from safetensors.torch import load

        from sentilstm.artifact.format import CONTENT_DIGEST, content_digest

        header, body = split_file(data)
        meta = header["__metadata__"]
        payload = json.loads(meta["payload"])
        change(payload)
        meta["payload"] = json.dumps(payload, ensure_ascii=False)
        if CONTENT_DIGEST in meta:
            meta[CONTENT_DIGEST] = content_digest(meta, load(data))
        return join_file(header, body)

    return resave


def flip_label_bit(data: bytes) -> bytes:
    """Flip the lowest bit of the first label's first letter or digit, in place in the raw header (no re-encoding)."""
    size = struct.unpack("<Q", data[:8])[0]
    at = data.index(b"labels", 8, 8 + size) + len(b"labels")
    while not chr(data[at]).isalnum():
        at += 1
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def set_path(keys: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """payload change: set payload[k1][k2]... (dotted) to `value`."""

    def change(payload: dict[str, Any]) -> None:
        *parents, last = keys.split(".")
        target = payload
        for key in parents:
            target = target[key]
        target[last] = value

    return change


def swap_vocabulary(payload: dict[str, Any]) -> None:
    tokenizer = json.loads(payload["tokenizer"])
    vocab = tokenizer["model"]["vocab"]
    words = [w for w in vocab if not w.startswith("[")]
    vocab[words[0]], vocab[words[1]] = vocab[words[1]], vocab[words[0]]
    payload["tokenizer"] = json.dumps(tokenizer)


@dataclass
class Tamper:
    name: str
    base: str  # which prepared file: net, blend, base (baseline), ckpt
    change: Callable[[bytes], bytes]
    expect: str = "refuse"
    item: str | None = None
    quick: bool = False


TAMPERS = [
    Tamper("flip one bit of a label in the raw JSON header", "blend", flip_label_bit, item="3", quick=True),
    Tamper(
        "swap the label order",
        "blend",
        edit_payload(lambda p: p.__setitem__("labels", p["labels"][::-1])),
        item="3",
        quick=True,
    ),
    Tamper("swap two words' ids in the vocabulary", "net", edit_payload(swap_vocabulary), item="3"),
    Tamper("blend weight 0 -> 0.5", "blend", edit_payload(set_path("blend.network_weight", 0.5)), item="3"),
    Tamper("blend weight NaN", "blend", edit_payload(set_path("blend.network_weight", float("nan"))), item="3"),
    Tamper("blend weight 1e308", "blend", edit_payload(set_path("blend.network_weight", 1e308)), item="3"),
    Tamper("normalisation: lowercase off", "net", edit_payload(set_path("text_config.lowercase", False)), item="3"),
    Tamper("normalisation: stop words on", "net", edit_payload(set_path("text_config.stopwords", "english")), item="3"),
    Tamper(
        "metrics edited (accuracy 1.0)", "net", edit_payload(set_path("metrics.validation.accuracy", 1.0)), item="3"
    ),
    Tamper("max_length 0", "net", edit_payload(set_path("text_config.max_length", 0)), item="4", quick=True),
    Tamper("max_length 10**12", "net", edit_payload(set_path("text_config.max_length", 10**12)), item="4"),
    Tamper("max_length -1", "net", edit_payload(set_path("text_config.max_length", -1)), item="4"),
    Tamper("max_length 3 (plausible)", "net", edit_payload(set_path("text_config.max_length", 3)), item="3"),
    Tamper("hidden_size doubled", "net", edit_payload(set_path("model_config.hidden_size", 16)), item="4"),
    Tamper("hidden_size 10**9", "net", edit_payload(set_path("model_config.hidden_size", 10**9)), item="4"),
    Tamper("num_classes 3", "net", edit_payload(set_path("model_config.num_classes", 3)), item="4"),
    Tamper("num_classes 10**9", "net", edit_payload(set_path("model_config.num_classes", 10**9)), item="4"),
    Tamper(
        "declared vocabulary 4,000,000 words x 128 dims (2 GB)",
        "net",
        edit_payload(lambda p: p["model_config"].update(embedding_rows=4_000_000, embedding_dim=128)),
        item="4",
        quick=True,
    ),
    Tamper(
        "declared vocabulary 2x10^9 words",
        "net",
        edit_payload(set_path("model_config.embedding_rows", 2 * 10**9)),
        item="4",
    ),
    Tamper("num_layers 10**6", "net", edit_payload(set_path("model_config.num_layers", 10**6))),
    Tamper("conv_channels 10**9", "net", edit_payload(set_path("model_config.conv_channels", 10**9))),
    Tamper("cell 'transformer'", "net", edit_payload(set_path("model_config.cell", "transformer"))),
    Tamper(
        "1,000 labels for a 2-class network", "net", edit_payload(set_path("labels", [f"l{i}" for i in range(1000)]))
    ),
    Tamper("duplicated labels", "net", edit_payload(set_path("labels", ["pos", "pos"]))),
    Tamper("payload [1,2,3] (not an object)", "net", raw_payload("[1, 2, 3]"), item="4", quick=True),
    Tamper("payload a string", "net", raw_payload('"model"'), item="4"),
    Tamper("payload 100,000-deep nesting", "net", raw_payload("[" * 100_000 + "]" * 100_000), item="4", quick=True),
    Tamper("payload invalid JSON", "net", raw_payload("{"), item="4"),
    Tamper(
        "payload with a 2**70 integer hidden_size",
        "net",
        edit_payload(set_path("model_config.hidden_size", 2**70)),
        item="4",
    ),
    Tamper("tokenizer JSON replaced by garbage", "net", edit_payload(set_path("tokenizer", "{not json")), item="4"),
    Tamper(
        "saved device 'cuda:3' (loads on a CPU-only machine)",
        "net",
        resave_payload(set_path("params.device", "cuda:3")),
        expect="work",
        item="11",
        quick=True,
    ),
    Tamper("saved precision 'fp8'", "net", edit_payload(set_path("params.precision", "fp8"))),
    Tamper("format_version 99", "net", edit_meta(lambda m: m.__setitem__("format_version", "99"))),
    Tamper("format_version 'x'", "net", edit_meta(lambda m: m.__setitem__("format_version", "x"))),
    Tamper("kind 'checkpoint'", "net", edit_meta(lambda m: m.__setitem__("kind", "checkpoint"))),
    Tamper("sha256 removed", "net", edit_meta(lambda m: m.pop("sha256")), expect="either"),
    Tamper(
        "embedding tensor dtype F32 -> I32 (same bytes)",
        "net",
        edit_tensor_entry(lambda e: e.__setitem__("dtype", "I32")),
    ),
    Tamper(
        "embedding tensor shape transposed (same bytes)",
        "net",
        edit_tensor_entry(lambda e: e.__setitem__("shape", e["shape"][::-1])),
    ),
    Tamper("truncated to half", "net", lambda data: data[: len(data) // 2], item="4"),
    Tamper(
        "header length pointing past the end",
        "net",
        lambda data: struct.pack("<Q", len(data) + 1000) + data[8:],
        item="4",
    ),
    Tamper("header length 2**63", "net", lambda data: struct.pack("<Q", 2**63) + data[8:]),
    Tamper("an empty file", "net", lambda data: b""),
    Tamper("random bytes", "net", lambda data: garbage(len(data))),
    Tamper("a Python pickle", "net", lambda data: b"\x80\x04\x95" + garbage(200)),
    Tamper(
        "baseline: swap the label order",
        "base",
        edit_payload(lambda p: p.__setitem__("labels", p["labels"][::-1])),
        item="3",
        quick=True,
    ),
    Tamper("baseline: C 0.1 -> 1e9 in the header", "base", edit_payload(set_path("params.C", 1e9)), item="3"),
    Tamper(
        "baseline: feature size 10**12", "base", edit_payload(lambda p: p["features"][0].update(size=10**12)), item="4"
    ),
]
CKPT_TAMPERS = [
    Tamper(
        "checkpoint: swap the label order",
        "ckpt",
        edit_payload(lambda p: p.__setitem__("labels", p["labels"][::-1])),
        item="3",
        quick=True,
    ),
    Tamper(
        "checkpoint: learning rate 1e308 in the optimizer state",
        "ckpt",
        edit_payload(lambda p: [g.update(lr=1e308) for g in p["training"]["param_groups"]]),
        item="3",
    ),
    Tamper("checkpoint: bad_epochs -5", "ckpt", edit_payload(set_path("training.bad_epochs", -5)), item="3"),
    Tamper("checkpoint: truncated to half", "ckpt", lambda data: data[: len(data) // 2]),
    Tamper("checkpoint: payload 100,000-deep nesting", "ckpt", raw_payload("[" * 100_000 + "]" * 100_000)),
]
