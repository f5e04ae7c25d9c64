"""The per-document stages on a Ray cluster, through Ray Data (`--engine ray`).

The runner is the same as the local engine's: it plans the passes, decides deduplication over the
whole corpus (on the driver, over the fingerprints: 8 bytes a document), accounts for every row and
writes the output, rejects and invalid files. Only what the workers do changes hands: each pass is a
`ray.data` dataset, read by a `Datasource` whose read tasks cut the pass's source into payloads
(etlcore's own reader: Ray's `read_json` and `read_text` abort the whole dataset on one line of broken
UTF-8, and etlcore loses no row), then `map_batches` over an actor pool whose actors each hold the
pipeline (models load once per actor) and turn a payload into the same `ChunkResult` a local worker
would. Results come back in input order (`preserve_order`), so output and result JSON are those of the
local engine.

On a cluster every node must see the input files and the work dir at the same paths (the actors read
their chunks themselves; passes after a checkpoint or deduplication read the work dir's Parquet).
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

from etlcore.errors import EtlError
from etlcore.io.reader import ReadOptions
from etlcore.pipeline import OperatorFailed, Pipeline
from etlcore.sources import Source
from etlcore.workers import ChunkResult, Step, process_payload

try:
    import ray
    import ray.data
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask
except ImportError:  # an optional extra: the local engine does not need it
    ray = None
    Datasource = object

# Ray (2.59 and later) starts a cluster with token authentication when a token exists, but a client
# given an address sends its token only when told to.
TOKEN_HINT = (". If the cluster uses token authentication, run etlcore with RAY_AUTH_MODE=token and the "
              "cluster's token in RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token")
INSTALL_HINT = "--engine ray needs Ray: pip install 'etlcore[ray]' (or pip install 'ray[data]>=2.45')"


def _blob_table(blob: bytes) -> pa.Table:
    """One payload or result per row: Ray moves Arrow tables, etlcore's payloads are Python objects
    (a chunk's span, a table and its rejected rows) whose shape varies from row to row."""
    return pa.table({"blob": pa.array([blob], pa.large_binary())})


class _PayloadSource(Datasource):
    """A pass's source as a Ray datasource: one read task per part (per input file), one block per payload."""

    def __init__(self, source: Source, options: ReadOptions) -> None:
        self.source, self.options = source, options

    def estimate_inmemory_data_size(self) -> int | None:
        return None

    def get_read_tasks(self, parallelism: int, **_: Any) -> list[ReadTask]:
        def read(part: Source) -> Iterator[pa.Table]:
            for payload in part.payloads(self.options):
                yield _blob_table(pickle.dumps(payload, protocol=5))

        metadata = BlockMetadata(num_rows=None, size_bytes=None, exec_stats=None, input_files=None)
        return [ReadTask(lambda part=part: read(part), metadata) for part in self.source.parts()]


class _StageActor:
    """Holds the pipeline for the life of a pass; turns payloads into pickled `ChunkResult`s."""

    def __init__(self, pipeline_config: Any, options: ReadOptions, step: Step) -> None:
        pa.set_cpu_count(1)  # one actor per core: Arrow's own threads would only oversubscribe
        self.pipeline = Pipeline(pipeline_config, options.text_column, options.id_column)
        self.options, self.step = options, step

    def __call__(self, batch: pa.Table) -> pa.Table:
        return pa.table({"blob": pa.array(map(self._process, batch.column("blob").to_pylist()), pa.large_binary())})

    def _process(self, blob: bytes) -> bytes:
        try:
            result: ChunkResult | OperatorFailed = process_payload(self.pipeline, self.options, pickle.loads(blob),
                                                                   self.step)
        except OperatorFailed as failure:  # travels back as data: Ray would wrap it in its own exception
            result = failure
        return pickle.dumps(result, protocol=5)


def require_ray(address: str | None = None) -> None:
    """Ray installed and, for an `address` of a cluster, that address taking connections: Ray itself
    retries one where nothing listens for minutes, with warnings of its own, before it gives up."""
    if ray is None:
        raise EtlError(INSTALL_HINT)
    host, port = _host_and_port(address)
    if host is None:
        return
    try:
        with socket.create_connection((host, port), timeout=5):
            pass
    except OSError as exc:
        raise EtlError(f"cannot reach a Ray cluster at {address}: {exc.strerror or exc}") from None


def _host_and_port(address: str | None) -> tuple[str | None, int]:
    """Where `address` points: `host:port`, or `ray://host[:port]` (a Ray client, port 10001 by default);
    (None, 0) for no address, `auto` and `local` (a cluster found or started here) and what Ray parses itself."""
    if address is None or address in ("auto", "local"):
        return None, 0
    client = address.startswith("ray://")
    where = address.removeprefix("ray://")
    host, colon, port = where.rpartition(":")
    if not colon:
        host, port = (where, "10001") if client else ("", "")
    if not host or not port.isdigit():
        return None, 0
    return host.strip("[]"), int(port)


class RayWorkers:
    """The per-document work on `count` Ray actors (default: every CPU of the cluster)."""

    def __init__(self, pipeline: Pipeline, options: ReadOptions, count: int | None, address: str | None) -> None:
        require_ray()
        self._started_ray = not ray.is_initialized()
        if self._started_ray:
            with _quiet("ray"):  # a notice about token authentication, for example: etlcore's stderr is its own
                try:
                    ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False,
                             include_dashboard=False, configure_logging=False)
                except ConnectionError as exc:
                    hint = "" if os.environ.get("RAY_AUTH_MODE") == "token" else TOKEN_HINT
                    raise ConnectionError(f"cannot join the Ray cluster at {address}: {exc}{hint}") from None
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # a line per pass otherwise
        # Ray Data warns that an actor pool larger than the number of read tasks cannot be used, but one
        # read task (one file, or a pass's Parquet) streams many payloads, which every actor shares.
        warnings.filterwarnings("ignore", message="The minimum number of concurrent actors", category=UserWarning)
        self.count = count or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.pipeline, self.options = pipeline, options
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # the output is in input order
        context.enable_progress_bars = False  # etlcore draws its own
        context.print_on_execution_start = False

    def process(self, source: Source, step: Step) -> Iterator[ChunkResult]:
        """Each payload of the source through `step` on the actors, results in input order."""
        if not (step.stages or step.dedup or step.encode):
            # Only rows to move (a pass after deduplication or a checkpoint, to Parquet): starting actors and
            # shipping the rows to them and back would cost more than the work.
            return (process_payload(self.pipeline, self.options, payload, step)
                    for payload in source.payloads(self.options))
        dataset = ray.data.read_datasource(_PayloadSource(source, self.options), num_cpus=0)
        dataset = dataset.map_batches(_StageActor, fn_constructor_args=(self.pipeline.config, self.options, step),
                                      batch_size=1, batch_format="pyarrow", num_cpus=1,
                                      compute=ray.data.ActorPoolStrategy(size=self.count))
        return _unpickled(dataset.iter_batches(batch_size=None, batch_format="pyarrow"))

    def close(self) -> None:
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _unpickled(batches: Iterable[pa.Table]) -> Iterator[ChunkResult]:
    for batch in batches:
        for blob in batch.column("blob").to_pylist():
            result = pickle.loads(blob)
            if isinstance(result, OperatorFailed):
                raise result
            yield result
