"""Engine throughput.

    .venv/bin/python benchmarks/engine.py [--docs 1000000] [--batch-size 10000] [--part io|engines]

`io` (default): the two legacy mappers (`replace_upper2lower`, `cut`) over a generated corpus, next to
the time pyarrow alone takes to read the same file (the I/O floor).
`engines`: the whole seed config (the sample run's) with the local engine on 1 and 2 workers and the
Ray engine on a local Ray of 2 CPUs (its start included), on the same file; outputs compared byte for byte.

Each measurement runs in its own process, one after the other, on the same file; peak RSS is that
process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import corpus

CONFIG = {"clean": [{"name": "replace_upper2lower", "args": {}}, {"name": "cut", "args": {"max_length": 1000}}]}

PYARROW_READ = """
import time, resource, sys, pyarrow as pa, pyarrow.json as pj
threads = int(sys.argv[2])
pa.set_cpu_count(threads); pa.set_io_thread_count(threads)
started = time.perf_counter()
table = pj.read_json(sys.argv[1])
print(time.perf_counter() - started, table.num_rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

ETLCORE_RUN = """
import time, resource, sys, json, etlcore, etlcore.cli
started = time.perf_counter()
config = json.loads(sys.argv[2]) or etlcore.cli.default_config()
result = etlcore.run(config, [sys.argv[1]], sys.argv[3], batch_size=int(sys.argv[4]),
                     workers=int(sys.argv[5]), engine=sys.argv[6])
assert result["result"]["processStatus"] == 2, result["result"]["result"]["failReason"]
print(time.perf_counter() - started, result["etlcore"]["output_rows"],
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def measure(code: str, *args: str) -> tuple[float, int, float]:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          check=True)
    seconds, rows, rss_kb = done.stdout.split()
    return float(seconds), int(rows), int(rss_kb) / 1024


def engines(path: Path, docs: int, batch_size: int) -> None:
    """The whole seed config on both engines; the Ray engine's time includes starting a local Ray."""
    size_mb = path.stat().st_size / 1e6
    runs = [("local, 1 worker", "1", "local"), ("local, 2 workers", "2", "local"), ("ray, local Ray of 2 CPUs", "0",
                                                                                    "ray")]
    with tempfile.TemporaryDirectory() as tmp:
        rows = [(name, measure(ETLCORE_RUN, str(path), "null", f"{tmp}/{engine}{workers}/out.jsonl", str(batch_size),
                               workers, engine)[0]) for name, workers, engine in runs]
        outputs = {(Path(tmp) / f"{engine}{workers}/out.jsonl").read_bytes() for _, workers, engine in runs}
    print(f"corpus: {docs:,} documents, {size_mb:,.0f} MB JSONL ({path.name}); the seed config; "
          f"outputs {'byte-identical' if len(outputs) == 1 else 'DIFFERENT'}")
    print(f"{'engine':<28}{'seconds':>9}{'docs/s':>9}{'x 1 worker':>12}")
    for name, seconds in rows:
        print(f"{name:<28}{seconds:>9.2f}{docs / seconds:>9,.0f}{rows[0][1] / seconds:>12.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--part", choices=("io", "engines"), default="io")
    args = parser.parse_args()
    path = corpus(args.docs)
    if args.part == "engines":
        engines(path, args.docs, args.batch_size)
        return
    size_mb = path.stat().st_size / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        measure(PYARROW_READ, str(path), "1")  # warm the page cache so that no run pays for the disk
        rows = [
            ("pyarrow.json.read_json, 2 threads (floor)", *measure(PYARROW_READ, str(path), "2")),
            ("pyarrow.json.read_json, 1 thread", *measure(PYARROW_READ, str(path), "1")),
        ]
        for output in ("jsonl", "parquet"):
            for workers in (1, 2):
                rows.append((f"etlcore run -> {output}, {workers} worker{'s' * (workers > 1)}",
                             *measure(ETLCORE_RUN, str(path), json.dumps(CONFIG), f"{tmp}/out.{output}",
                                      str(args.batch_size), str(workers), "local")))
    floor = rows[0][1]
    print(f"corpus: {args.docs:,} documents, {size_mb:,.0f} MB JSONL ({path.name})")
    print(f"{'what':<44}{'seconds':>9}{'docs/s':>11}{'MB/s':>8}{'x floor':>9}{'peak RSS MB':>13}")
    for name, seconds, _, rss in rows:
        print(f"{name:<44}{seconds:>9.2f}{args.docs / seconds:>11,.0f}{size_mb / seconds:>8.1f}"
              f"{seconds / floor:>9.2f}{rss:>13,.0f}")


if __name__ == "__main__":
    main()
