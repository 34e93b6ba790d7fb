"""Hostile-input audit (issue 14): hundreds of bad inputs against the CLI, the Python API, the model file and
the HTTP server, each outcome classified and tallied.

    python bench/hardening.py                                  # everything: ~40 min on 2 cores
    python bench/hardening.py --quick --only cli,model         # the issue's listed items and a few more
    python bench/hardening.py --match nproc --only cli         # the cases whose name holds a text
    python bench/hardening.py --list                           # the command cases, without running them

Results go to bench/results/hardening.json and hardening.md (--out moves both). The script prepares its own
artefacts in a temporary folder (tiny tables; tiny models trained with `sentilstm train` and `sentilstm baseline`;
a training checkpoint from a run killed after its first epoch), then runs a catalogue of cases. A case is one bad
input: the surface it goes to, what it is, and what a clean outcome is (`expect`): "refuse" (bad input: a clean
error is right), "work" (odd but valid input: it must succeed) or "either". Outcomes:

* clean: CLI exit 2 whose last stderr line is the only `error: ...` line (or Typer's usage error for a value it
  cannot parse), no traceback; Python: a `SentilstmError`, or a TypeError/ValueError raised on purpose (by a
  `raise` in sentilstm's own code, or by Python's call check), with a one-line message; HTTP: a 4xx (JSON detail,
  or h11's 400 for malformed HTTP); or, where the input is valid, a correct answer;
* traceback: "Traceback" in the output, an exit code other than 0/2, an untyped exception, a 5xx;
* data lost: an input or pre-existing file changed or deleted, a half-written output (`*.tmp`) left behind;
* hang/blow-up: over the case's time limit, peak RSS over --blowup-mb, killed by a signal, out of memory, or
  past MAX_TASKS processes and threads (every process runs under a 4 GB address-space limit, so a blow-up
  cannot take the machine down);
* accepted: a bad input taken silently (a tampered model that loads, a path escape that serves a file...);
* other: anything else that is not clean (a multi-line error, a valid input refused, a server that stops).

Disk cases run the command inside a private mount namespace (`unshare --mount`, so root is stopped too): a
read-only bind mount, or a tiny tmpfs filled up (ENOSPC). Each command case starts one process (~3 s of
imports), one at a time; the Python cases share one process. The parts, one module per surface:
hardening_core.py (verdicts, sandbox, artefacts), hardening_cli.py (the command catalogue), hardening_model.py
(model-file surgery), hardening_api.py (the Python runner), hardening_http.py (servers on loopback).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is scripts, not a package: its siblings by path

from hardening_api import run_python_surfaces, runner
from hardening_cli import cli_catalogue, model_file_cli_cases, run_case
from hardening_core import AS_LIMIT, RESULTS, ROOT, SURFACES, VERDICTS, Outcome, prepare, select
from hardening_http import HttpAudit


# ----- selection, report, main ---------------------------------------------------------------------------------------
def tally(outcomes: list[Outcome]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for surface in [*SURFACES, "total"]:
        chosen = [o for o in outcomes if surface in ("total", o.surface)]
        if chosen:
            counts = Counter(o.verdict for o in chosen)
            table[surface] = {"tried": len(chosen) - counts["skipped"], **{v: counts[v] for v in VERDICTS}}
    return table


def markdown(outcomes: list[Outcome], meta: dict[str, Any]) -> str:
    lines = [
        "# Hostile-input audit (issue 14)",
        "",
        f"Code: `{meta['commit']}`{' (with uncommitted changes)' if meta['dirty'] else ''}. "
        f"Machine: {meta['machine']}. "
        f"Started {meta['started']}, {meta['minutes']:.1f} min. Command: `{meta['command']}`.",
        "",
        f"Sandbox: {meta['sandbox']}. Blow-up: peak RSS over {meta['blowup_mb']:.0f} MB, or out of memory under a "
        f"{AS_LIMIT >> 30} GB address-space limit.",
        "",
    ]
    for note in meta.get("notes", []):
        lines.append(f"Note: {note}")
    lines += [
        "",
        "| surface | tried | clean one-line errors (or correct answers) | tracebacks | data lost | hangs or blow-ups | "
        "wrongly accepted | other | skipped |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for surface, counts in tally(outcomes).items():
        name = f"**{surface}**" if surface == "total" else surface
        lines.append(
            f"| {name} | {counts['tried']} | {counts['clean']} | {counts['traceback']} | {counts['data lost']} | "
            f"{counts['hang/blow-up']} | {counts['accepted']} | {counts['other']} | {counts['skipped']} |"
        )
    bad = [o for o in outcomes if o.verdict not in ("clean", "skipped")]
    new = [o for o in bad if o.item is None]
    lines += ["", f"{len(bad)} cases not clean, {len(new)} of them of a kind issue 14 does not list (marked NEW).", ""]
    kinds: dict[str, list[Outcome]] = {}
    for outcome in bad:
        kinds.setdefault(outcome.kind, []).append(outcome)
    for kind, group in sorted(kinds.items(), key=lambda pair: -len(pair[1])):
        lines += [f"## {kind} ({len(group)})", ""]
        for o in group:
            origin = "NEW" if o.item is None else f"item {o.item}"
            lines.append(f"- **{o.verdict}** [{origin}] {o.name}: {o.detail[:400]}")
            if o.command:
                lines.append(f"  - `{o.command[:300]}`")
            if o.output and o.verdict in ("traceback", "other"):
                lines.append("  - " + " / ".join(o.output.splitlines()[:2])[:300])
        lines.append("")
    skipped = [o for o in outcomes if o.verdict == "skipped"]
    if skipped:
        lines += ["## skipped", ""] + [f"- {o.surface}: {o.name}: {o.detail}" for o in skipped] + [""]
    return "\n".join(lines)


def print_table(outcomes: list[Outcome]) -> None:
    header = (
        f"{'surface':<8} {'tried':>6} {'clean':>6} {'traceback':>10} {'data lost':>10} {'hang/blow-up':>13} "
        f"{'accepted':>9} {'other':>6} {'skipped':>8}"
    )
    print(header)
    for surface, c in tally(outcomes).items():
        print(
            f"{surface:<8} {c['tried']:>6} {c['clean']:>6} {c['traceback']:>10} {c['data lost']:>10} "
            f"{c['hang/blow-up']:>13} "
            f"{c['accepted']:>9} {c['other']:>6} {c['skipped']:>8}"
        )


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return result.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the issue's listed items and a few more")
    parser.add_argument("--only", default=",".join(SURFACES), help="comma-separated surfaces: cli, python, model, http")
    parser.add_argument(
        "--out", type=Path, default=RESULTS / "hardening.json", help="results JSON (Markdown beside it)"
    )
    parser.add_argument("--limit", type=int, default=None, help="at most this many cases per surface (a smoke test)")
    parser.add_argument("--blowup-mb", type=float, default=1536.0, help="peak RSS of one case that counts as a blow-up")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (its path is printed)")
    parser.add_argument("--list", action="store_true", help="print the command cases that would run, then stop")
    parser.add_argument(
        "--match", default="", help="only cases whose name contains this text (e.g. 'nproc'; 'a|b' for either)"
    )
    parser.add_argument("--runner", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    surfaces = {s.strip() for s in args.only.split(",") if s.strip()}
    if unknown := surfaces - set(SURFACES):
        parser.error(f"--only takes {', '.join(SURFACES)}; got {', '.join(sorted(unknown))}")
    if args.runner is not None:
        return runner(
            args.runner, args.start, surfaces & {"python", "model"}, args.quick, args.limit, args.match, args.blowup_mb
        )
    started = time.time()
    work = Path(tempfile.mkdtemp(prefix="sentilstm-audit-"))
    log = lambda message: print(message, flush=True)  # noqa: E731
    log(f"work folder: {work}")
    outcomes: list[Outcome] = []
    try:
        art = prepare(work, args.blowup_mb, bool(surfaces & {"cli", "model", "python"}), log)
        cases = select([*cli_catalogue(art), *model_file_cli_cases(art)], surfaces, args.quick, args.limit, args.match)
        if args.list:
            for case in cases:
                print(f"{case.surface:<6} {case.expect:<6} {case.kind:<28} {case.name}")
            print(f"{len(cases)} command cases, {Counter(c.surface for c in cases)}")
            return 0
        if cases:
            log(f"{len(cases)} command cases (one process each)")
            for index, case in enumerate(cases):
                outcome = run_case(case, art, index)
                outcomes.append(outcome)
                log(f"  [{outcome.verdict:>12}] {outcome.surface}: {case.name} ({outcome.seconds:.1f} s)")
        if surfaces & {"python", "model"}:
            log("Python API and model-file cases (one process)")
            outcomes += run_python_surfaces(
                art, surfaces & {"python", "model"}, args.quick, args.limit, args.match, log
            )
        if "http" in surfaces:
            log("HTTP cases (real servers on loopback)")
            outcomes += HttpAudit(art, args.quick, log).run()
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            subprocess.run(["chmod", "-R", "u+rwx", str(work)], check=False, capture_output=True)
            shutil.rmtree(work, ignore_errors=True)
    meta = {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--", "src")),
        "machine": (
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
        "minutes": (time.time() - started) / 60,
        "command": "python bench/hardening.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "sandbox": art.sandbox.describe(),
        "blowup_mb": args.blowup_mb,
        "notes": art.notes,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {**meta, "totals": tally(outcomes), "cases": [asdict(o) for o in outcomes]}, indent=1, ensure_ascii=False
        )
    )
    args.out.with_suffix(".md").write_text(markdown(outcomes, meta))
    print()
    print_table(outcomes)
    print(f"\nsaved {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
