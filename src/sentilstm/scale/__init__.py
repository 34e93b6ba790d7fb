"""Scoring on a cluster with existing engines: Ray Data (`ray_predict`, `ray_score`) and Spark
(`sentilstm.scale.spark`).

    from sentilstm.scale import ray_score
    summary = ray_score("s3://bucket/tweets/*.parquet", "s3://bucket/scored/", "model.sentilstm", backend="onnx-int8")
    print(summary.rows, summary.files)

Neither Ray nor Spark is imported until a function that needs it runs, so `import sentilstm` (and this package)
works without them; a missing engine is a ConfigError naming the extra to install (`sentilstm[ray]`,
`sentilstm[spark]`).
"""

from __future__ import annotations

from sentilstm.scale.paths import resolve_inputs
from sentilstm.scale.ray_data import (
    ModelFiles,
    RayScoreSummary,
    SentimentPredictor,
    connect,
    ray_predict,
    ray_score,
    read_dataset,
)

__all__ = [
    "ModelFiles",
    "RayScoreSummary",
    "SentimentPredictor",
    "connect",
    "ray_predict",
    "ray_score",
    "read_dataset",
    "resolve_inputs",
]
