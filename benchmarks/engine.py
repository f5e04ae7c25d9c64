"""Engine throughput: the two legacy mappers (`replace_upper2lower`, `cut`) over a generated corpus,
next to the time pyarrow alone takes to read the same file (the I/O floor).

    .venv/bin/python benchmarks/engine.py [--docs 1000000] [--batch-size 10000]

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
import time, resource, sys, json, etlcore
started = time.perf_counter()
result = etlcore.run(json.loads(sys.argv[2]), [sys.argv[1]], sys.argv[3], batch_size=int(sys.argv[4]),
                     workers=int(sys.argv[5]))
assert result["result"]["processStatus"] == 2, result["result"]["result"]["failReason"]
print(time.perf_counter() - started, result["etlcore"]["output_rows"],
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def measure(code: str, *args: str) -> tuple[float, int, float]:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          check=True)
    seconds, rows, rss_kb = done.stdout.split()
    return float(seconds), int(rows), int(rss_kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    args = parser.parse_args()
    path = corpus(args.docs)
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
                                      str(args.batch_size), str(workers))))
    floor = rows[0][1]
    print(f"corpus: {args.docs:,} documents, {size_mb:,.0f} MB JSONL ({path.name})")
    print(f"{'what':<44}{'seconds':>9}{'docs/s':>11}{'MB/s':>8}{'x floor':>9}{'peak RSS MB':>13}")
    for name, seconds, _, rss in rows:
        print(f"{name:<44}{seconds:>9.2f}{args.docs / seconds:>11,.0f}{size_mb / seconds:>8.1f}"
              f"{seconds / floor:>9.2f}{rss:>13,.0f}")


if __name__ == "__main__":
    main()
