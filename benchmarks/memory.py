"""Peak memory of a whole run with the sample config (the seed's whole operationsV2: clean, the seven
filters, deduplication, desensitization) on generated corpora of growing size: it must not grow with
the corpus but for the deduplication's 8-byte fingerprints and ids.

    .venv/bin/python benchmarks/memory.py [--docs 1000000 4000000] [--workers 2]

Each run is an `etlcore run` process started by a small wrapper process, which prints the peak RSS of
the largest process of that run (the main process or a worker) and nothing else's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import corpus

from etlcore.cli import default_config

WRAPPER = """
import json, resource, subprocess, sys
done = subprocess.run(json.loads(sys.argv[1]), capture_output=True, text=True, check=True)
print(done.stdout.strip())
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, nargs="+", default=[1_000_000, 4_000_000])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"{'documents':>12}{'MB in':>9}{'seconds':>9}{'docs/s':>9}{'written':>11}{'peak RSS MB':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "ops.json"
        config.write_text(json.dumps(default_config()), encoding="utf-8")
        for n in args.docs:
            path = corpus(n)
            command = [sys.executable, "-m", "etlcore", "run", str(path), "--config", str(config),
                       "--output", f"{tmp}/out-{n}.jsonl", "--workers", str(args.workers), "--quiet"]
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", WRAPPER, json.dumps(command)], capture_output=True,
                                  text=True, check=True)
            seconds = time.perf_counter() - started
            response, peak_kb = done.stdout.strip().rsplit("\n", 1)
            peak = int(peak_kb) / 1024
            written = json.loads(response)["etlcore"]["output_rows"]
            print(f"{n:>12,}{path.stat().st_size / 1e6:>9,.0f}{seconds:>9.1f}{n / seconds:>9,.0f}{written:>11,}"
                  f"{peak:>13,.0f}")
            Path(f"{tmp}/out-{n}.jsonl").unlink()


if __name__ == "__main__":
    main()
