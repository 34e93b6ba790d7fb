"""The audit's Python API and model-file cases, run in one long-lived process that is restarted after a case that
crashes or hangs it (see bench/hardening.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hardening_core import (
    ALLOC_SIGNS,
    AS_LIMIT,
    BASE_MB,
    PROBES,
    PYTHON,
    ROOT,
    Artefacts,
    Outcome,
    compare,
    exception_line,
    kill_group,
    odd_tables,
    select,
    snapshot,
)
from hardening_model import TAMPERS, Tamper


# ----- the Python API (one long-lived process, restarted after a crash or a hang) ----------------------------------
@dataclass
class PyCase:
    surface: str
    kind: str
    name: str
    expect: str
    run: Callable[[Any], Any]  # run(ctx) -> None, or a string saying what is wrong with the result
    item: str | None = None
    quick: bool = False
    timeout: float = 60.0


TINY_PY = dict(epochs=1, embedding_dim=8, hidden_size=8, min_frequency=1, num_threads=1, blend=None, seed=0)


class PyContext:
    """What the Python cases use: the prepared models, the training texts and the odd tables."""

    def __init__(self, work: Path) -> None:
        from sentilstm import load_model, read_table

        self.work = work
        self.net, self.blend, self.base = (load_model(work / "py" / f"{n}.sentilstm") for n in ("net", "blend", "base"))
        table = read_table(work / "py" / "train.csv")
        self.texts, self.labels = table.texts, table.labels

    def fit(self, texts: Any = None, labels: Any = None, **params: Any) -> Any:
        from sentilstm import SentimentClassifier

        return SentimentClassifier(**{**TINY_PY, **params}).fit(
            self.texts if texts is None else texts, self.labels if labels is None else labels
        )


def rows_of(result: Any, expected: int) -> str | None:
    n = len(result) if hasattr(result, "__len__") else None
    return None if n == expected else f"returned {n} predictions for {expected} rows"


def python_cases(ctx: PyContext | None) -> list[PyCase]:
    """The Python API cases (ctx is None when only the names are wanted)."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"text": ["good", "bad", "fine"], "id": [1, 2, 3]})
    py = lambda kind, name, expect, run, item=None, quick=False, timeout=60.0: PyCase(  # noqa: E731
        "python", kind, name, expect, run, item, quick, timeout
    )
    cases = [
        py("predict misuse", "clf.predict(None)", "refuse", lambda c: c.net.predict(None), "8", True),
        py("predict misuse", "clf.predict('a string')", "refuse", lambda c: c.net.predict("good film"), None, True),
        py("predict misuse", "clf.predict([1, 2])", "refuse", lambda c: c.net.predict([1, 2])),
        py("predict misuse", "clf.predict([None])", "either", lambda c: c.net.predict([None])),
        py("predict misuse", "clf.predict([b'bytes'])", "either", lambda c: c.net.predict([b"good"])),
        py("predict misuse", "clf.predict([['nested']])", "refuse", lambda c: c.net.predict([["good"]])),
        py("predict misuse", "clf.predict(5)", "refuse", lambda c: c.net.predict(5)),
        py("predict misuse", "clf.predict({'a': 1})", "refuse", lambda c: c.net.predict({"good": 1})),
        py("predict misuse", "clf.predict([float('nan')])", "either", lambda c: c.net.predict([float("nan")])),
        py(
            "predict misuse",
            "clf.predict(a 2-column, 3-row DataFrame)",
            "either",
            lambda c: rows_of(c.net.predict(frame), 3),
        ),
        py(
            "predict misuse",
            "baseline.predict(a 2-column, 3-row DataFrame)",
            "either",
            lambda c: rows_of(c.base.predict(frame), 3),
        ),
        py(
            "predict misuse",
            "clf.predict(a generator)",
            "work",
            lambda c: rows_of(c.net.predict(t for t in ["good", "bad"]), 2),
        ),
        py(
            "predict misuse",
            "clf.predict(a numpy array of str)",
            "work",
            lambda c: rows_of(c.net.predict(np.array(["good", "bad"])), 2),
        ),
        py(
            "predict misuse", "clf.predict(a pandas Series)", "work", lambda c: rows_of(c.net.predict(frame["text"]), 3)
        ),
        py("predict misuse", "clf.predict([])", "either", lambda c: c.net.predict([])),
        py(
            "predict misuse",
            "clf.predict(['x' * 10**6])",
            "work",
            lambda c: rows_of(c.net.predict(["good " * 200_000]), 1),
        ),
        py(
            "surrogates",
            "clf.predict(['good \\ud83d']) (lone surrogate)",
            "work",
            lambda c: c.net.predict(["good \ud83d"]),
            "6",
            True,
        ),
        py(
            "surrogates",
            "blended clf.predict(['\\udcff bad']) (surrogateescape)",
            "work",
            lambda c: c.blend.predict(["\udcff bad"]),
            "6",
        ),
        py("surrogates", "baseline.predict(['\\ud800'])", "work", lambda c: c.base.predict(["\ud800 good"]), "6"),
        py(
            "surrogates",
            "clf.fit on texts with lone surrogates",
            "work",
            lambda c: c.fit([t + " \ud83d" for t in c.texts]),
            "6",
            True,
        ),
        py(
            "surrogates",
            "explain(clf, 'good \\ud83d film')",
            "work",
            lambda c: explain_text(c.net, "good \ud83d film"),
            "6",
        ),
        py("surrogates", "clf.predict(['a\\x00b']) (NUL)", "work", lambda c: c.net.predict(["go\x00od"])),
        py(
            "fit misuse",
            "fit(X, y) with one label fewer",
            "refuse",
            lambda c: c.fit(c.texts, c.labels[:-1]),
            None,
            True,
        ),
        py("fit misuse", "fit(None, None)", "refuse", lambda c: _fit_args(c, None, None)),
        py("fit misuse", "fit(X, None)", "refuse", lambda c: _fit_args(c, c.texts, None)),
        py("fit misuse", "fit([], [])", "refuse", lambda c: _fit_args(c, [], [])),
        py("fit misuse", "fit with a single class", "refuse", lambda c: c.fit(c.texts, ["pos"] * len(c.texts))),
        py("fit misuse", "fit with None labels", "refuse", lambda c: c.fit(c.texts, [None] * len(c.texts))),
        py("fit misuse", "fit with NaN labels", "refuse", lambda c: c.fit(c.texts, [float("nan")] * len(c.texts))),
        py(
            "fit misuse",
            "fit with labels 1 and '1' mixed",
            "either",
            lambda c: c.fit(c.texts, [1 if i % 2 else "1" for i in range(len(c.texts))]),
        ),
        py(
            "fit misuse",
            "fit(DataFrame, Series)",
            "either",
            lambda c: c.fit(pd.DataFrame({"text": c.texts}), pd.Series(c.labels)),
        ),
        py(
            "fit misuse",
            "fit with validation=(texts,) (one element)",
            "refuse",
            lambda c: _fit_validation(c, (c.texts[:20],)),
        ),
        py(
            "fit misuse",
            "fit with validation labels unseen in training",
            "either",
            lambda c: _fit_validation(c, (c.texts[:20], ["meh"] * 20)),
        ),
        py(
            "fit misuse",
            "fit with 1,000 classes (15 texts each)",
            "either",
            lambda c: c.fit([f"{t} w{i}" for i, t in enumerate(c.texts * 50)], [f"c{i % 1000}" for i in range(15_000)]),
            "7",
        ),
        py("fit misuse", "SentimentClassifier(bogus=1)", "refuse", lambda c: c.fit(bogus=1)),
        py("evaluate misuse", "clf.evaluate(None, None)", "refuse", lambda c: c.net.evaluate(None, None)),
        py(
            "evaluate misuse",
            "clf.evaluate with one label fewer",
            "refuse",
            lambda c: c.net.evaluate(c.texts, c.labels[:-1]),
        ),
        py(
            "evaluate misuse",
            "clf.evaluate with labels the model lacks",
            "either",
            lambda c: c.net.evaluate(["good"] * 3, ["meh"] * 3),
        ),
        py("evaluate misuse", "clf.evaluate([], [])", "refuse", lambda c: c.net.evaluate([], [])),
        py("explain misuse", "explain(clf, None)", "refuse", lambda c: explain_text(c.net, None)),
        py("explain misuse", "explain(clf, '')", "either", lambda c: explain_text(c.net, "")),
        py("explain misuse", "explain(clf, 'good', 'bogus')", "refuse", lambda c: explain_text(c.net, "good", "bogus")),
        py(
            "explain misuse",
            "explain(clf, 'good', 'lime', num_samples=-1)",
            "refuse",
            lambda c: explain_text(c.net, "good film", "lime", num_samples=-1),
        ),
        py(
            "explain misuse",
            "explain(clf, 'good', 'lime', num_samples=1.5)",
            "refuse",
            lambda c: explain_text(c.net, "good film", "lime", num_samples=1.5),
        ),
        py(
            "explain misuse",
            "explain(clf, 'good', 'lime', num_samples=10**12)",
            "either",
            lambda c: explain_text(c.net, "good film", "lime", num_samples=10**12),
        ),
        py(
            "explain misuse",
            "explain(clf, 'good', 'lime', seed=-1)",
            "either",
            lambda c: explain_text(c.net, "good film", "lime", seed=-1),
        ),
        py("save misuse", "clf.save(None)", "refuse", lambda c: c.net.save(None)),
        py("save misuse", "clf.save('')", "refuse", lambda c: c.net.save("")),
        py(
            "save misuse",
            "clf.save into a missing folder",
            "refuse",
            lambda c: c.net.save("/nonexistent/dir/m.sentilstm"),
        ),
        py("save misuse", "clf.save onto an existing folder", "refuse", lambda c: c.net.save(c.work / "py")),
        py("load misuse", "load_model(None)", "refuse", lambda c: load(None)),
        py("load misuse", "load_model(a folder)", "refuse", lambda c: load(c.work / "py")),
        py("load misuse", "load_model(a CSV)", "refuse", lambda c: load(c.work / "py" / "train.csv")),
        py("load misuse", "load_model(a checkpoint)", "refuse", lambda c: load(c.work / "py" / "ck.ckpt")),
        py("load misuse", "load_model('a\\x00b') (NUL in the path)", "refuse", lambda c: load("a\x00b.sentilstm")),
        py(
            "load misuse",
            "SentimentClassifier.load(a baseline)",
            "refuse",
            lambda c: _load_as_network(c.work / "py" / "base.sentilstm"),
        ),
        py("read_table misuse", "read_table(None)", "refuse", lambda c: _read(None)),
        py(
            "read_table misuse",
            "read_table(train.csv, encoding='bogus')",
            "refuse",
            lambda c: _read(c.work / "py" / "train.csv", encoding="bogus"),
            "8",
        ),
        py(
            "read_table misuse",
            "read_table(train.csv, encoding='rot13')",
            "refuse",
            lambda c: _read(c.work / "py" / "train.csv", encoding="rot13"),
        ),
        py(
            "read_table misuse",
            "read_table(train.csv, text_column='nope')",
            "refuse",
            lambda c: _read(c.work / "py" / "train.csv", text_column="nope"),
        ),
        py(
            "read_table misuse",
            "score_file(clf, X, X) through a hard link",
            "refuse",
            lambda c: _score_through_hardlink(c),
        ),
        py("cross_validate misuse", "cross_validate(folds=1)", "refuse", lambda c: _cv(c, folds=1)),
        py("cross_validate misuse", "cross_validate(folds=10**6)", "refuse", lambda c: _cv(c, folds=10**6)),
        py("cross_validate misuse", "cross_validate(folds=2.5)", "refuse", lambda c: _cv(c, folds=2.5)),
        py("cross_validate misuse", "cross_validate(jobs=0)", "refuse", lambda c: _cv(c, jobs=0)),
    ]
    for what, name, expect, item, _ in odd_tables():  # a single class is a readable table; training refuses it
        cases.append(
            py(
                "odd table",
                f"read_table({what})",
                "either" if name == "oneclass.csv" else expect,
                lambda c, n=name: _read(c.work / "odd" / n),
                item,
                item is not None,
                timeout=60,
            )
        )
    cases += parameter_cases()
    cases += [
        PyCase(
            "model",
            "tampered model (load_model + predict)",
            t.name,
            t.expect,
            lambda c, t=t: _tampered(c, t),
            t.item,
            t.quick,
        )
        for t in TAMPERS
    ]
    return cases


def parameter_cases() -> list[PyCase]:
    """NaN, infinity, negative, non-integer and huge values for every numeric SentimentClassifier parameter, and a
    bogus value for every string one (the list comes from the signature, so new parameters are covered)."""
    import inspect
    import typing

    from sentilstm import SentimentClassifier

    try:
        hints = typing.get_type_hints(SentimentClassifier.__init__)
    except Exception:  # noqa: BLE001 - an annotation that cannot be resolved here: fall back on the defaults' types
        hints = {}
    cases = []
    for name, parameter in inspect.signature(SentimentClassifier.__init__).parameters.items():
        if name == "self" or name in ("augment_translator",):
            continue
        kinds = set(typing.get_args(hints.get(name)) or (hints.get(name),))
        default = parameter.default
        if isinstance(default, bool) or bool in kinds:
            values = {"'yes'": ("yes", "either")}
        elif isinstance(default, int) or int in kinds:
            values = {
                "nan": (float("nan"), "refuse"),
                "-1": (-1, "either" if name in ("seed", "freeze_embeddings") else "refuse"),
                "1.5": (1.5, "refuse"),
                "10**12": (10**12, "refuse" if name == "num_threads" else "either"),
            }
        elif isinstance(default, float) or float in kinds:
            values = {
                "nan": (float("nan"), "refuse"),
                "inf": (float("inf"), "refuse"),
                "-1": (-1.0, "refuse"),
                "1e300": (1e300, "either"),
            }
        else:
            values = {"'bogus'": ("bogus", "refuse")}
        listed = {("epochs", "1.5"), ("batch_size", "1.5"), ("seed", "-1"), ("hidden_size", "10**12")}
        for label, (value, expect) in values.items():
            if name == "embeddings" or (name == "device" and label == "'bogus'"):
                expect = "refuse"
            item = "8" if (name, label) in listed else None
            cases.append(
                PyCase(
                    "python",
                    "parameter value",
                    f"SentimentClassifier({name}={label}).fit",
                    expect,
                    lambda c, n=name, v=value: c.fit(**{n: v}),
                    item,
                    item is not None,
                )
            )
    cases.append(
        PyCase(
            "python",
            "parameter value",
            "SentimentClassifier(device='cuda:3').fit (no GPU)",
            "refuse",
            lambda c: c.fit(device="cuda:3"),
        )
    )
    cases.append(
        PyCase(
            "python",
            "parameter value",
            "SentimentClassifier(loss='focal', focal_gamma=nan).fit",
            "refuse",
            lambda c: c.fit(loss="focal", focal_gamma=float("nan")),
            "8",
            True,
        )
    )
    return cases


def explain_text(clf: Any, text: Any, method: str = "auto", **options: Any) -> Any:
    from sentilstm import explain

    return explain(clf, text, method, **options)


def load(path: Any) -> Any:
    from sentilstm import load_model

    return load_model(path)


def _load_as_network(path: Path) -> Any:
    from sentilstm import SentimentClassifier

    return SentimentClassifier.load(path)


def _fit_args(ctx: PyContext, texts: Any, labels: Any) -> Any:
    from sentilstm import SentimentClassifier

    return SentimentClassifier(**TINY_PY).fit(texts, labels)


def _fit_validation(ctx: PyContext, validation: Any) -> Any:
    from sentilstm import SentimentClassifier

    return SentimentClassifier(**TINY_PY).fit(ctx.texts, ctx.labels, validation=validation)


def _read(path: Any, **options: Any) -> Any:
    from sentilstm import read_table

    return read_table(path, **options)


def _cv(ctx: PyContext, **options: Any) -> Any:
    from sentilstm import cross_validate

    return cross_validate(ctx.texts, ctx.labels, params={"C": 0.1}, estimator="nbsvm", **{"folds": 2, **options})


def _score_through_hardlink(ctx: PyContext) -> Any:
    from sentilstm.estimators.scoring import score_file

    folder = ctx.work / "py"
    link = folder / "hard-score.csv"
    if not link.exists():
        os.link(folder / "score.csv", link)
    return score_file(ctx.net, folder / "score.csv", link)


def _tampered(ctx: PyContext, tamper: Tamper) -> str | None:
    """Load a tampered copy and predict; a problem string when it loads (the caller decides if that is wrong)."""
    import numpy as np

    path = ctx.work / "tampered" / f"{TAMPERS.index(tamper):02d}.sentilstm"
    clf = load(path)
    probabilities = np.asarray(clf.predict_proba(PROBES))
    reference = {"net": ctx.net, "blend": ctx.blend, "base": ctx.base}[tamper.base]
    labels = list(clf.predict(PROBES))
    if not np.all(np.isfinite(probabilities)):
        return "loads silently and predicts NaN probabilities"
    if [str(x) for x in labels] != [str(x) for x in reference.predict(PROBES)]:
        return "loads silently and predicts different labels"
    if probabilities.shape != reference.predict_proba(PROBES).shape:
        return f"loads silently with {probabilities.shape[1]} classes"
    drift = float(np.abs(probabilities - reference.predict_proba(PROBES)).max())
    message = (
        f"loads silently; probabilities differ by up to {drift:.3g}"
        if drift > 1e-5
        else "loads silently; same predictions"
    )
    return message if tamper.expect == "refuse" else None


def judge_exception(exc: BaseException, expect: str) -> tuple[str, str]:
    """(verdict, detail) for an exception a Python case raised."""
    message = str(exc).strip()
    described = f"{type(exc).__name__}: {message.splitlines()[0][:250] if message else ''}"
    if isinstance(exc, MemoryError) or any(sign in message for sign in ALLOC_SIGNS):
        return "hang/blow-up", f"out of memory under the {AS_LIMIT >> 30} GB limit: {described}"
    from sentilstm import SentilstmError

    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    package = str(ROOT / "src" / "sentilstm")
    in_sentilstm = last is not None and (last.filename.startswith(package) or "/sentilstm/" in last.filename)
    on_purpose = in_sentilstm and (last.line or "").lstrip().startswith("raise")
    at_call = last is not None and Path(last.filename).resolve() == Path(__file__).resolve()  # Python's own call check
    typed = isinstance(exc, SentilstmError) or (isinstance(exc, (TypeError, ValueError)) and (on_purpose or at_call))
    if not typed:
        where = f" (at {Path(last.filename).name}:{last.lineno})" if last is not None else ""
        return "traceback", described + where
    if not message or "\n" in message:
        return "other", f"not a one-line message: {described}"
    if expect == "work":
        return "other", f"refused a valid input: {described}"
    return "clean", described


def peak_reset() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def memory_mb(field: str) -> float:
    """VmHWM (peak since `peak_reset`) or VmRSS (now) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def runner(
    work: Path, start: int, surfaces: set[str], quick: bool, limit: int | None, match: str, blowup_mb: float
) -> int:
    """The child process behind the python and model surfaces: runs the cases from `start`, one JSON line each."""
    import warnings

    warnings.simplefilter("ignore")
    import torch

    torch.set_num_threads(1)
    ctx = PyContext(work)
    cases = select(python_cases(ctx), surfaces, quick, limit, match)
    log = open(work / "python.jsonl", "a", buffering=1)
    for index in range(start, len(cases)):
        case = cases[index]
        log.write(json.dumps({"event": "start", "index": index, "timeout": case.timeout, **case_fields(case)}) + "\n")
        before = snapshot(work / "py")
        peak_reset()
        resident = memory_mb("VmRSS")
        started = time.monotonic()
        try:
            problem = case.run(ctx)
            if isinstance(problem, str):
                verdict, detail = "accepted", problem
            else:
                verdict, detail = ("accepted", "returned normally") if case.expect == "refuse" else ("clean", "worked")
        except BaseException as exc:  # noqa: BLE001 - classifying every failure is the point
            verdict, detail = judge_exception(exc, case.expect)
        seconds = time.monotonic() - started
        added = memory_mb("VmHWM") - resident  # this case's own peak, whatever the cases before it left behind
        lost, leftovers = compare(before, snapshot(work / "py"), (), True)
        if lost or leftovers:
            verdict, detail = "data lost", "; ".join(lost + leftovers)
        elif added > blowup_mb - BASE_MB and verdict != "hang/blow-up":
            verdict, detail = "hang/blow-up", f"peak RSS grew by {added:.0f} MB ({detail})"
        log.write(
            json.dumps(
                {
                    "event": "end",
                    "index": index,
                    "verdict": verdict,
                    "detail": detail,
                    "seconds": round(seconds, 2),
                    "peak_mb": round(added),
                }
            )
            + "\n"
        )
        if memory_mb("VmRSS") > BASE_MB + 700:  # memory a blow-up left behind: a fresh process for the next case
            log.write(json.dumps({"event": "restart", "next": index + 1}) + "\n")
            return 0
    log.write(json.dumps({"event": "done", "total": len(cases)}) + "\n")
    return 0


def case_fields(case: PyCase) -> dict[str, Any]:
    return {"surface": case.surface, "kind": case.kind, "name": case.name, "expect": case.expect, "item": case.item}


def run_python_surfaces(
    art: Artefacts, surfaces: set[str], quick: bool, limit: int | None, match: str, log: Callable[[str], None]
) -> list[Outcome]:
    """Run the runner, following its JSON lines; restart it after the case that crashed or hung it."""
    folder = art.work / "py"
    folder.mkdir(exist_ok=True)
    for source in art.files.iterdir():
        shutil.copyfile(source, folder / source.name)
    odd = art.work / "odd"
    for _, _name, _, _, write in odd_tables():
        write(odd)
    for index, tamper in enumerate(TAMPERS):
        source = art.files / f"{tamper.base}.sentilstm"
        (art.work / "tampered" / f"{index:02d}.sentilstm").write_bytes(tamper.change(source.read_bytes()))
    results = art.work / "python.jsonl"
    outcomes: dict[int, Outcome] = {}
    start = 0
    while True:
        command = [
            "prlimit",
            f"--as={AS_LIMIT}",
            "--",
            PYTHON,
            str(ROOT / "bench" / "hardening.py"),
            "--runner",
            str(art.work),
            "--start",
            str(start),
            "--only",
            ",".join(sorted(surfaces)),
            "--blowup-mb",
            str(art.blowup_mb),
        ]
        command += ["--quick"] if quick else []
        command += ["--limit", str(limit)] if limit else []
        command += ["--match", match] if match else []
        offset, current, done, restart_at = results.stat().st_size if results.exists() else 0, None, False, None
        with open(art.work / "runner.log", "ab") as runner_log:
            process = subprocess.Popen(
                command, cwd=folder, env=art.env, stdout=runner_log, stderr=runner_log, start_new_session=True
            )
        while True:
            time.sleep(0.1)
            lines, offset = _new_lines(results, offset)
            for event in lines:
                if event["event"] == "start":
                    current = event
                    current["started"] = time.monotonic()
                elif event["event"] == "end":
                    meta = current or {}
                    outcomes[event["index"]] = Outcome(
                        meta["surface"],
                        meta["kind"],
                        meta["name"],
                        meta["expect"],
                        meta["item"],
                        event["verdict"],
                        event["detail"],
                        f"python: {meta['name']}",
                        "",
                        event["seconds"],
                        event["peak_mb"],
                    )
                    log(f"  [{event['verdict']:>12}] {meta['surface']}: {meta['name']}")
                    current = None
                elif event["event"] == "restart":
                    restart_at = event["next"]
                elif event["event"] == "done":
                    done = True
            if done:
                process.wait()
                return [outcomes[i] for i in sorted(outcomes)]
            exited = process.poll() is not None
            hung = current is not None and time.monotonic() - current["started"] > current["timeout"]
            if exited and current is None and restart_at is not None:
                start = restart_at
                break
            if exited or hung:
                kill_group(process.pid)
                process.wait()
                if current is None:
                    tail = (art.work / "runner.log").read_text(errors="replace")[-1500:]
                    raise SystemExit(f"the Python runner stopped before its first case:\n{tail}")
                verdict = "hang/blow-up"
                detail = (
                    f"no answer after {current['timeout']:.0f} s (killed)"
                    if hung
                    else f"the process died (exit {process.returncode}): "
                    f"{exception_line((art.work / 'runner.log').read_text(errors='replace')[-3000:])}"
                )
                outcomes[current["index"]] = Outcome(
                    current["surface"],
                    current["kind"],
                    current["name"],
                    current["expect"],
                    current["item"],
                    verdict,
                    detail,
                    f"python: {current['name']}",
                )
                log(f"  [{verdict:>12}] {current['surface']}: {current['name']} ({detail[:80]})")
                start = current["index"] + 1
                break


def _new_lines(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    if not path.exists():
        return [], offset
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read()
    complete = data[: data.rfind(b"\n") + 1]
    return [json.loads(line) for line in complete.decode().splitlines() if line.strip()], offset + len(complete)
