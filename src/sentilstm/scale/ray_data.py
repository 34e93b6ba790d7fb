"""Batch scoring on a Ray cluster with Ray Data: a pool of actors, each loading the model file once, scores pandas
batches and adds the columns `sentilstm predict --input/--output` writes (`predicted_label`, one `prob_<label>`
per class, rounded to 6 decimals), so the two engines' outputs agree row for row.

    from sentilstm.scale import ray_predict
    scored = ray_predict("s3://bucket/tweets/*.parquet", "model.sentilstm", backend="onnx-int8")
    scored.write_parquet("s3://bucket/scored/")  # lazy until written; rows come back in any order

Ray is imported only when a function here is called, so this module imports without it. Workers need sentilstm
installed (same version); they do not need the model file: the driver reads it (and its matching ONNX graph, or
one exported once here) and ships the bytes to every actor.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import pandas as pd

from sentilstm.config import check_choice, check_integer, check_range
from sentilstm.data.tables import infer_columns
from sentilstm.errors import ConfigError, DataError, SentilstmError
from sentilstm.estimators.scoring import score_frame
from sentilstm.onnx.backends import Backend, load_for_serving
from sentilstm.onnx.graph import sibling_path
from sentilstm.scale.paths import InputFormat, OutputFormat, check_new_output, filesystem, is_remote, resolve_inputs
from sentilstm.scale.paths import output_format as resolve_output_format  # ray_score has a parameter of that name
from sentilstm.system.files import temporary_beside

log = logging.getLogger(__name__)
INSTALL_HINT = "pip install 'sentilstm[ray]'"
DEFAULT_BATCH_SIZE = 4096  # rows per actor call: large enough to amortise Ray's per-batch overhead, small in memory
# CPUs reserved by each read and write task. Parsing and serialising cost little next to the LSTM, and the default
# actor pool holds every CPU of the cluster: read/write tasks that wait for a whole CPU never start (measured here:
# a 2-CPU instance with 2 actors hung with ReadCSV "backpressured: ResourceBudget").
IO_CPUS = 0


def import_ray() -> ModuleType:
    """The `ray` module with Ray Data, or a ConfigError saying how to install it."""
    try:
        import ray
        import ray.data  # Ray Data ships in the ray[data] extra's dependencies
    except ImportError as exc:
        raise ConfigError(
            f"the Ray engine needs Ray Data, which is not installed ({exc.name} is missing); "
            f"install it with: {INSTALL_HINT}"
        ) from None
    return ray


def connect(address: str | None = None, *, num_cpus: int | None = None) -> None:
    """Join the Ray cluster at `address` ("auto", "ray://head:10001"), or start a local one (None); no-op if joined."""
    ray = import_ray()
    if ray.is_initialized():
        return
    try:
        ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"could not connect to Ray at {address!r} ({_first_line(exc)}); start a cluster with "
            "`ray start --head`, or leave --ray-address out to start a local one"
        ) from None


@dataclass
class ModelFiles:
    """A model file's bytes and, for the ONNX backends, the graph exported from it: what each actor loads from."""

    name: str
    model: bytes
    graph_name: str | None = None
    graph: bytes | None = None

    @classmethod
    def read(cls, path: str | Path, backend: Backend) -> ModelFiles:
        """Read and check the model on the driver (one clear error here, not one per actor); for onnx/onnx-int8
        export the graph once here, unless a matching sibling file from `sentilstm export` exists."""
        from sentilstm.estimators.classifier import SentimentClassifier, load_model
        from sentilstm.onnx.backends import graph_for  # the same reuse-or-export rule load_for_serving applies

        path = Path(path)
        clf = load_model(path)
        files = cls(path.name, path.read_bytes())
        if backend != "torch" and isinstance(clf, SentimentClassifier):
            quantize: Literal["int8"] | None = "int8" if backend == "onnx-int8" else None
            graph = graph_for(path, clf, quantize)
            files.graph_name = sibling_path(path, quantize).name
            files.graph = graph.read_bytes() if isinstance(graph, Path) else graph
        return files

    def write(self, folder: Path) -> Path:
        """Write the files into `folder` under their names; return the model's path."""
        (folder / self.name).write_bytes(self.model)
        if self.graph is not None and self.graph_name is not None:
            (folder / self.graph_name).write_bytes(self.graph)
        return folder / self.name


class SentimentPredictor:
    """A Ray Data callable class: loads the model once per actor, then maps pandas batches to scored batches.

        dataset.map_batches(SentimentPredictor, fn_constructor_kwargs={"model": "/shared/model.sentilstm",
                            "text_column": "text"}, compute=ray.data.ActorPoolStrategy(size=4), batch_format="pandas")

    `model`: a model path every worker can read, a `ModelFiles`, or `[ray.put(model_files)]` (how `ray_predict`
    shares one copy among the actors; wrapped in a list so Ray hands the reference over instead of the bytes).
    """

    def __init__(
        self,
        model: str | Path | ModelFiles | list[Any],
        text_column: str,
        backend: Backend = "torch",
        threads: int = 1,
        device: str | None = None,
    ) -> None:
        source: str | Path | ModelFiles
        if isinstance(model, list):
            import ray

            source = ray.get(model[0])
        else:
            source = model
        if not isinstance(source, ModelFiles):
            self.classifier = load_for_serving(source, backend, threads=threads)
        else:
            folder = Path(tempfile.mkdtemp(prefix="sentilstm-actor-"))
            try:  # the network (and any ONNX session) is in memory once loaded: the files can go
                self.classifier = load_for_serving(source.write(folder), backend, threads=threads)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        if device is not None:
            self.classifier.device = device
        self.text_column = text_column

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        return score_frame(self.classifier, batch, self.text_column)[0]


def read_dataset(inputs: str | Path | Sequence[str | Path], input_format: InputFormat | None = None) -> Any:
    """A Ray Dataset over files, a folder or a glob (local or s3://...); CSV/TSV cells are read as strings, as the
    local scorer reads them, TSV without quote handling, and malformed rows are skipped like `iter_frames` does."""
    return _read(import_ray(), *resolve_inputs(inputs, input_format))


def _read(ray: ModuleType, files: list[str], fmt: InputFormat) -> Any:
    if fmt == "parquet":
        return ray.data.read_parquet(files, num_cpus=IO_CPUS)
    if fmt == "jsonl":
        return ray.data.read_json(files, lines=True, file_extensions=None, num_cpus=IO_CPUS)
    import pyarrow as pa
    import pyarrow.csv as pacsv

    parse = pacsv.ParseOptions(
        delimiter="," if fmt == "csv" else "\t",
        quote_char='"' if fmt == "csv" else False,
        newlines_in_values=fmt == "csv",
        invalid_row_handler=skip_bad_row,
    )
    names = _csv_header(files[0], parse)
    convert = pacsv.ConvertOptions(column_types={name: pa.string() for name in names}, strings_can_be_null=True)
    return ray.data.read_csv(
        files, parse_options=parse, convert_options=convert, file_extensions=None, num_cpus=IO_CPUS
    )


def skip_bad_row(row: Any) -> str:
    """pyarrow's handler for a row with the wrong number of cells: skip it (module level, so Ray can pickle it)."""
    return "skip"


def ray_predict(
    dataset: Any,
    model_path: str | Path,
    *,
    text_column: str | None = None,
    input_format: InputFormat | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    concurrency: int | None = None,
    num_gpus: float = 0,
    backend: Backend = "torch",
    threads: int = 1,
    address: str | None = None,
) -> Any:
    """Score a Ray Dataset (or files: a path, folder, glob or list, read with `read_dataset`) with a model file.

        scored = ray_predict(ray.data.read_parquet("s3://b/tweets/"), "model.sentilstm", concurrency=8)

    Returns a lazy Dataset: the input columns plus `predicted_label` and `prob_<label>` per class. `text_column`
    defaults to the same guess as the local scorer (text, tweet, review, ...). `concurrency` actors (default: one
    per `threads` CPUs of the cluster, or one per `num_gpus` GPUs) each take `threads` CPUs; with `num_gpus` > 0 the
    torch backend runs on the actor's GPU. `address` joins a cluster ("auto", "ray://head:10001") unless Ray is
    initialised already; None starts a local instance. Row order is kept only if DataContext's `preserve_order` is set.
    A fixed pool holds its CPUs for the whole run: when `dataset` brings its own CPU tasks (a read with the default
    num_cpus=1, a repartition), leave the default (a pool that grows as CPUs free up) or keep `concurrency` below
    CPUs/threads, or those tasks wait for a CPU forever.
    """
    ray = import_ray()
    check_choice("backend", backend, Backend)
    check_integer("batch_size", batch_size, low=1)
    check_integer("threads", threads, low=1)
    check_range("num_gpus", num_gpus, 0)
    if concurrency is not None:
        check_integer("concurrency", concurrency, low=1)
    if num_gpus and backend != "torch":
        raise ConfigError(
            f"GPU scoring runs the torch backend; got backend {backend!r} with num_gpus={num_gpus} "
            "(ONNX Runtime runs on CPU here): use backend='torch' or num_gpus=0"
        )
    model = ModelFiles.read(model_path, backend)
    inputs = None if isinstance(dataset, ray.data.Dataset) else resolve_inputs(dataset, input_format)
    connect(address)  # after the checks above, which fail in milliseconds where Ray takes seconds to start
    if inputs is not None:
        dataset = _read(ray, *inputs)
    column = _text_column(dataset, text_column)
    return dataset.map_batches(
        SentimentPredictor,
        fn_constructor_kwargs=dict(
            model=[ray.put(model)],
            text_column=column,
            backend=backend,
            threads=threads,
            device="cuda" if num_gpus else None,
        ),
        batch_size=batch_size,
        compute=_actor_pool(ray, concurrency, threads, num_gpus, own_reads=inputs is not None),
        num_cpus=threads,
        num_gpus=num_gpus or None,
        batch_format="pandas",
    )


@dataclass
class RayScoreSummary:
    rows: int
    files: int
    seconds: float
    output: str
    format: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ray_score(
    inputs: Any,
    output: str | Path,
    model_path: str | Path,
    *,
    output_format: OutputFormat | None = None,
    **options: Any,
) -> RayScoreSummary:
    """Read `inputs`, score them with `ray_predict(**options)` and write a new folder `output` of csv/jsonl/parquet
    part files (format: `output_format`, else the output's extension as in scored.csv/, else parquet).

        ray_score("tweets/*.csv", "scored.parquet", "model.sentilstm", concurrency=2)

    A local output is written to a temporary folder beside it and renamed into place; a remote one (s3://...) is
    deleted again if the run fails. Either way a failed run leaves no partial output.
    """
    ray = import_ray()
    output = str(output).rstrip("/")
    fmt = resolve_output_format(output, output_format)
    check_new_output(output)
    started = time.perf_counter()
    scored = ray_predict(inputs, model_path, **options)
    remote = is_remote(output)
    target = output if remote else str(temporary_beside(Path(output), directory=True)[1])
    try:
        with _user_errors():
            getattr(scored, f"write_{'json' if fmt == 'jsonl' else fmt}")(target, ray_remote_args={"num_cpus": IO_CPUS})
            files, written = _read_back(ray, target, fmt)
            rows = written.count() if written is not None else 0
        if rows == 0:
            raise DataError(f"{inputs!r} has no rows to score")
        if not remote:
            os.replace(target, output)
    except BaseException:
        _remove(target)
        raise
    return RayScoreSummary(rows, files, time.perf_counter() - started, output, fmt)


def _text_column(dataset: Any, wanted: str | None) -> str:
    with _user_errors():
        schema = dataset.schema()
    if schema is None:
        raise DataError("the input has no rows to score")
    names = [str(n) for n in schema.names]
    if wanted is not None and wanted not in names:
        raise DataError(f"text column {wanted!r} not found; the input has columns {names}; name one with --text-column")
    frame = pd.DataFrame({n: pd.Series(dtype=_pandas_dtype(t)) for n, t in zip(names, schema.types)})
    return infer_columns(frame, wanted, None, need_label=False)[0]


def _pandas_dtype(arrow_type: Any) -> str:
    import pyarrow as pa

    return (
        "object"
        if isinstance(arrow_type, pa.DataType)
        and (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type))
        else "float64"
    )


def _actor_pool(ray: ModuleType, concurrency: int | None, threads: int, num_gpus: float, own_reads: bool) -> Any:
    """`concurrency` actors; by default one per `threads` CPUs (or `num_gpus` GPUs) of the cluster: a fixed pool when
    we read the files (our reads take no CPU), else a pool growing from 1 to that size, so the caller's own CPU
    tasks upstream (a read, a repartition) still get CPUs: a fixed pool holding every CPU starves them forever."""
    resources = ray.cluster_resources()
    if num_gpus and resources.get("GPU", 0) < num_gpus:
        raise ConfigError(
            f"num_gpus={num_gpus} per actor, but the Ray cluster has {resources.get('GPU', 0):g} GPUs; "
            "add GPU nodes or use num_gpus=0"
        )
    if concurrency is not None:
        return ray.data.ActorPoolStrategy(size=concurrency)
    size = max(1, int(resources["GPU"] // num_gpus) if num_gpus else int(resources.get("CPU", 1) // threads))
    return ray.data.ActorPoolStrategy(size=size) if own_reads else ray.data.ActorPoolStrategy(min_size=1, max_size=size)


def _csv_header(path: str, parse: Any) -> list[str]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    fs, inner = filesystem(path)
    try:
        with fs.open_input_stream(inner, compression="detect") as stream:
            return list(
                pacsv.open_csv(
                    stream, parse_options=parse, read_options=pacsv.ReadOptions(block_size=1 << 20)
                ).schema.names
            )
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"could not read the header of {path!r}: {_first_line(exc)}") from None


def _read_back(ray: ModuleType, target: str, fmt: OutputFormat) -> tuple[int, Any]:
    """(number of files written, the written folder as a Dataset to count its rows; None when nothing was written)."""
    fs, inner = filesystem(target)
    import pyarrow.fs as pafs

    files = sum(i.type == pafs.FileType.File for i in fs.get_file_info(pafs.FileSelector(inner, allow_not_found=True)))
    if not files:
        return 0, None
    if fmt == "parquet":
        return files, ray.data.read_parquet(target, num_cpus=IO_CPUS)
    if fmt == "jsonl":
        return files, ray.data.read_json(target, lines=True, file_extensions=None, num_cpus=IO_CPUS)
    return files, ray.data.read_csv(target, file_extensions=None, num_cpus=IO_CPUS)


def _remove(target: str) -> None:
    fs, inner = filesystem(target)
    try:
        fs.delete_dir(inner)
    except (OSError, FileNotFoundError):
        log.warning("could not remove the partial output %s; delete it by hand", target)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Surface a user error raised inside a Ray task as itself (one line), and unreadable input as a DataError."""
    import pyarrow as pa

    try:
        yield
    except Exception as exc:
        cause = _innermost(exc)
        if isinstance(cause, SentilstmError):
            raise type(cause)(str(cause)) from None
        if isinstance(cause, (pa.ArrowInvalid, UnicodeDecodeError, FileNotFoundError)):
            raise DataError(f"could not read the input: {_first_line(cause)}") from None
        raise


def _innermost(exc: BaseException) -> BaseException:
    """The original exception behind Ray's wrappers (RayTaskError.cause, UserCodeException, __cause__ chains)."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "cause", None) or exc.__cause__
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = ["SentimentPredictor", "ModelFiles", "RayScoreSummary", "connect", "ray_predict", "ray_score", "read_dataset"]
