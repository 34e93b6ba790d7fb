"""Batch scoring of Spark DataFrames with `pyspark.ml.functions.predict_batch_udf`: each Python worker loads the model
once and scores Arrow batches, adding the columns the local scorer writes.

    from sentilstm.scale.spark import spark_predict
    scored = spark_predict(spark.read.parquet("s3://bucket/tweets/"), "model.sentilstm", text_column="text")
    scored.write.parquet("s3://bucket/scored/")

pyspark is imported only when a function here runs (`pip install 'sentilstm[spark]'`; Spark 4 needs Java 17+).
The model bytes travel inside the UDF's closure, so executors need sentilstm installed but not the model file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sentilstm.config import check_choice, check_integer
from sentilstm.errors import ConfigError, DataError
from sentilstm.estimators.scoring import probability_column
from sentilstm.onnx.backends import Backend
from sentilstm.scale.ray_data import ModelFiles, SentimentPredictor

INSTALL_HINT = "pip install 'sentilstm[spark]'"


def predict_udf(model_path: str | Path, *, backend: Backend = "torch", threads: int = 1, batch_size: int = 4096) -> Any:
    """A Spark UDF: text column -> struct<predicted_label, prob_<label>...> (labels as in the model file).

    df.withColumn("scores", predict_udf("model.sentilstm")("text")).select("*", "scores.*").drop("scores")
    """
    try:
        from pyspark.ml.functions import predict_batch_udf
        from pyspark.sql import types as T
    except ImportError:
        raise ConfigError(
            f"Spark scoring needs pyspark, which is not installed; install it with: {INSTALL_HINT}"
        ) from None
    check_choice("backend", backend, Backend)
    check_integer("threads", threads, low=1)
    check_integer("batch_size", batch_size, low=1)
    model = ModelFiles.read(model_path, backend)
    from sentilstm.estimators.classifier import load_model

    labels = list(load_model(model_path).label_map_.labels)
    integer_labels = all(isinstance(label, (int, np.integer)) and not isinstance(label, bool) for label in labels)
    label_type = T.LongType() if integer_labels else T.StringType()
    fields = [T.StructField("predicted_label", label_type)]
    fields += [T.StructField(probability_column(label), T.DoubleType()) for label in labels]

    def make_predict_fn() -> Any:  # runs once per Python worker; predict_batch_udf caches the result
        predictor = SentimentPredictor(model, "text", backend=backend, threads=threads)

        def predict(texts: np.ndarray) -> dict[str, np.ndarray]:
            scored = predictor(pd.DataFrame({"text": texts}))
            columns = {field.name: scored[field.name].to_numpy() for field in fields}
            if not integer_labels:
                columns["predicted_label"] = columns["predicted_label"].astype(str)
            return columns

        return predict

    return predict_batch_udf(make_predict_fn, return_type=T.StructType(fields), batch_size=batch_size)


def spark_predict(frame: Any, model_path: str | Path, *, text_column: str = "text", **options: Any) -> Any:
    """`frame` plus `predicted_label` and one `prob_<label>` column per class (`options` go to `predict_udf`)."""
    if text_column not in frame.columns:
        raise DataError(
            f"text column {text_column!r} not found; the DataFrame has columns {frame.columns}; "
            "name one with text_column="
        )
    udf = predict_udf(model_path, **options)
    scores = "__sentilstm_scores"
    return frame.withColumn(scores, udf(frame[text_column])).select("*", f"{scores}.*").drop(scores)


__all__ = ["predict_udf", "spark_predict"]
