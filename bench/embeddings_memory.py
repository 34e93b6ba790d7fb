"""Time and memory of loading GloVe 6B 50d for the 30,000 most frequent IMDB training words.

    python bench/embeddings_memory.py [--vocabulary 30000] [--vectors PATH] [--reviews PATH]

The vocabulary is the most frequent lower-cased whitespace tokens of the reviews' `text` column (plus [PAD],
[UNK]). `load_vectors` then runs in a fresh subprocess (this script with `--child`), so that reading the
reviews inflates nothing: it reports the RSS before loading (current, and the process's peak so far, which
includes importing sentilstm/torch) and the peak RSS after (getrusage ru_maxrss). Prints the result and saves
bench/results/embeddings_memory.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results"


def peak_rss_mb() -> float:
    """The process's peak resident set size so far, in MB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6


def current_rss_mb() -> float | None:
    """The current resident set size in MB (Linux /proc), None elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return None


def build_vocabulary(reviews: Path, size: int) -> tuple[dict[str, int], dict[str, int]]:
    """[PAD], [UNK] and the `size` most frequent lower-cased whitespace tokens; and every token's count."""
    import pandas as pd

    counts = Counter(
        token for text in pd.read_csv(reviews, usecols=["text"])["text"] for token in str(text).lower().split()
    )
    vocabulary = {"[PAD]": 0, "[UNK]": 1} | {token: i + 2 for i, (token, _) in enumerate(counts.most_common(size))}
    return vocabulary, dict(counts)


def child(request: Path) -> dict:
    """Load the vectors for the vocabulary in `request` and measure; runs in the fresh subprocess."""
    from sentilstm.text.embeddings import load_vectors

    job = json.loads(request.read_text())
    before, peak_before = current_rss_mb(), peak_rss_mb()
    start = time.perf_counter()
    matrix, coverage = load_vectors(job["vectors"], job["vocabulary"], token_counts=job["token_counts"])
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    return {
        "seconds": round(seconds, 3),
        "rss_before_mb": before and round(before, 1),
        "peak_rss_before_mb": round(peak_before, 1),
        "peak_rss_mb": round(peak, 1),
        "peak_growth_mb": round(max(0.0, peak - max(peak_before, before or 0.0)), 1),
        "matrix_mb": round(matrix.nbytes / 1e6, 2),
        "summary": coverage.summary(),
        "coverage": coverage.to_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocabulary", type=int, default=30_000, help="how many of the most frequent words to look up")
    parser.add_argument("--vectors", type=Path, default=DATA / "glove" / "glove.6B.50d.txt.gz", help="the vectors file")
    parser.add_argument(
        "--reviews",
        type=Path,
        default=DATA / "imdb" / "train.csv.gz",
        help="a CSV with a `text` column the vocabulary is counted from",
    )
    parser.add_argument(
        "--results", type=Path, default=RESULTS / "embeddings_memory.json", help="where to save the JSON"
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # internal: measure in this fresh process
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    for path in (args.vectors, args.reviews):
        if not path.exists():
            parser.error(f"{path} does not exist; pass --vectors / --reviews")
    vocabulary, counts = build_vocabulary(args.reviews, args.vocabulary)
    with tempfile.TemporaryDirectory() as folder:
        request = Path(folder) / "request.json"
        request.write_text(json.dumps({"vectors": str(args.vectors), "vocabulary": vocabulary, "token_counts": counts}))
        done = subprocess.run([sys.executable, __file__, "--child", str(request)], capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return done.returncode
    result = {
        "vectors": str(args.vectors),
        "reviews": str(args.reviews),
        "vocabulary_words": len(vocabulary) - 2,
        "machine": f"{platform.processor() or platform.machine()}, Python {platform.python_version()}",
    }
    result |= json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(result, indent=2))
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
