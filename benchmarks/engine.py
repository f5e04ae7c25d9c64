"""Engine throughput.

    .venv/bin/python benchmarks/engine.py [--docs 1000000] [--batch-size 10000] [--part io|engines] [--rounds 1]

`io` (default): the two legacy mappers (`replace_upper2lower`, `cut`) over a generated corpus, next to
the time pyarrow alone takes to read the same file (the I/O floor).
`engines`: the whole seed config (the sample run's) with the local engine on 1 and 2 workers and the
Ray engine on a local Ray of 2 CPUs (its start included), on the same file; outputs compared byte for byte.

Each measurement runs in its own process, one after the other, on the same file; peak RSS is that
process's maximum resident set size. `io` also gives each one's CPU time (the process and its workers,
every thread), which a machine shared with other jobs disturbs far less than the wall time, and the load
average when it ended; `--rounds N` repeats the whole sequence N times (peers interleaved) and keeps
each line's fastest round.
"""

from __future__ import annotations

import argparse
import json
import os
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
usage = resource.getrusage(resource.RUSAGE_SELF)
print(time.perf_counter() - started, table.num_rows, usage.ru_maxrss, usage.ru_utime + usage.ru_stime)
"""

ETLCORE_RUN = """
import time, resource, sys, json, etlcore, etlcore.cli
started = time.perf_counter()
config = json.loads(sys.argv[2]) or etlcore.cli.default_config()
result = etlcore.run(config, [sys.argv[1]], sys.argv[3], batch_size=int(sys.argv[4]),
                     workers=int(sys.argv[5]), engine=sys.argv[6])
assert result["result"]["processStatus"] == 2, result["result"]["result"]["failReason"]
usage, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(time.perf_counter() - started, result["etlcore"]["output_rows"], usage.ru_maxrss,
      usage.ru_utime + usage.ru_stime + workers.ru_utime + workers.ru_stime)
"""


def measure(code: str, *args: str) -> tuple[float, int, float, float, float]:
    """(wall seconds, rows, peak RSS MB, CPU seconds, 1-minute load average at the end)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          check=True)
    seconds, rows, rss_kb, cpu = done.stdout.split()
    return float(seconds), int(rows), int(rss_kb) / 1024, float(cpu), os.getloadavg()[0]


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
    parser.add_argument("--rounds", type=int, default=1, help="io: repeat the sequence, keep each line's fastest")
    args = parser.parse_args()
    path = corpus(args.docs)
    if args.part == "engines":
        engines(path, args.docs, args.batch_size)
        return
    size_mb = path.stat().st_size / 1e6
    runs = [("pyarrow.json.read_json, 2 threads (floor)", PYARROW_READ, "2"),
            ("pyarrow.json.read_json, 1 thread", PYARROW_READ, "1")]
    runs += [(f"etlcore run -> {output}, {workers} worker{'s' * (workers > 1)}", ETLCORE_RUN, output, str(workers))
             for output in ("jsonl", "parquet") for workers in (1, 2)]
    best: dict[str, tuple[float, int, float, float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        measure(PYARROW_READ, str(path), "1")  # warm the page cache so that no run pays for the disk
        for _ in range(args.rounds):
            for name, code, *given in runs:
                if code is PYARROW_READ:
                    measured = measure(code, str(path), given[0])
                else:
                    measured = measure(code, str(path), json.dumps(CONFIG), f"{tmp}/out.{given[0]}",
                                       str(args.batch_size), given[1], "local")
                if name not in best or measured[0] < best[name][0]:
                    best[name] = measured
    floor, floor_cpu = best[runs[0][0]][0], best[runs[0][0]][3]
    print(f"corpus: {args.docs:,} documents, {size_mb:,.0f} MB JSONL ({path.name}); fastest of {args.rounds} "
          f"round{'s' * (args.rounds > 1)}")
    print(f"{'what':<44}{'seconds':>9}{'docs/s':>11}{'MB/s':>8}{'x floor':>9}{'CPU s':>8}{'x floor CPU':>13}"
          f"{'peak RSS MB':>13}{'load':>6}")
    for name, *_ in runs:
        seconds, _, rss, cpu, load = best[name]
        print(f"{name:<44}{seconds:>9.2f}{args.docs / seconds:>11,.0f}{size_mb / seconds:>8.1f}"
              f"{seconds / floor:>9.2f}{cpu:>8.2f}{cpu / floor_cpu:>13.2f}{rss:>13,.0f}{load:>6.1f}")


if __name__ == "__main__":
    main()
