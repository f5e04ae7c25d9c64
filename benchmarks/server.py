"""`etlcore serve` under load.

    .venv/bin/python benchmarks/server.py [--poll-docs 20000] [--task-docs 100000] [--pollers 20]
        [--client asyncio|processes] [--part poll|create|task|all] [--rounds N]

1. Detail-poll latency: `--pollers` clients each POST a freshly signed `/wenxinworkshop/etl/detail` every
   0.1 s while a task (the seed config, one worker: an input under 32 MB) runs in the server's task
   process; the latency of each request as the client sees it, p50/p99 (goal p99 < 50 ms), and the
   server process's own CPU time per request. `--client asyncio` (default): the pollers are keep-alive
   connections of one asyncio process, which spends microseconds per request, so what is measured is the
   server and the scheduler; `--client processes`: one process each using `requests` (about a millisecond
   of client CPU per call: 20 of them compete with the server and the task for the 2 cores).
2. Create latency: 50 creates one after another into a server whose one slot is taken (they wait).
3. One task of `--task-docs` documents through the API (create, then poll detail every 0.2 s until
   processStatus 2) against `etlcore run` on the same input and config (goal: within 5 %), `--rounds`
   pairs one after the other, outputs compared byte for byte. Each time is also split into the run itself
   (its result's `etlcore.seconds`) and the rest ("overhead": process start and model loading, and for the
   API the request, the queue and the poll interval), which a busy machine distorts far less.

Each part prints the machine's load average at its end: the machine may be shared.

Requests are signed with bce-auth-v1 by Baidu's own signer (the one the qianfan SDK uses).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests
from baidubce.auth import bce_credentials, bce_v1_signer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import REPO, corpus

AK, SK = "bench-ak", "bench-sk"
SEED = json.loads((REPO / "resources/sample/operations.json").read_text())
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


def signed(port: int, path: str) -> dict[str, str]:
    date = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {b"host": f"127.0.0.1:{port}".encode(), b"content-type": b"application/json",
               b"x-bce-date": date.encode()}
    authorization = bce_v1_signer.sign(bce_credentials.BceCredentials(AK, SK), b"POST", path.encode(), headers, {},
                                       headers_to_sign=set(headers))
    return {"Content-Type": "application/json", "x-bce-date": date,
            "Authorization": authorization.decode() if isinstance(authorization, bytes) else authorization}


class Server:
    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        env = {**os.environ, "ETLCORE_ACCESS_KEY": AK, "ETLCORE_SECRET_KEY": SK}
        self.log = (root / "server.log").open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", "etlcore", "serve", "--port", str(port),
                                         "--allow-root", str(root), "--store", str(root / "tasks.sqlite")],
                                        cwd=root, env=env, stdout=self.log, stderr=self.log)
        for _ in range(300):
            try:
                requests.get(f"http://127.0.0.1:{port}/login", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def call(self, action: str, body: dict, session: requests.Session | None = None) -> tuple[dict, float]:
        path = f"/wenxinworkshop/etl/{action}"
        started = time.perf_counter()
        answer = (session or requests).post(f"http://127.0.0.1:{self.port}{path}", json=body,
                                            headers=signed(self.port, path), timeout=60)
        elapsed = time.perf_counter() - started
        answer.raise_for_status()
        return answer.json(), elapsed

    def create(self, source: Path, name: str = "bench") -> tuple[str, float]:
        body, elapsed = self.call("create", {"etlTaskName": name, "sourceDatasetId": str(source),
                                             "destDatasetId": "out", "entityType": 2, "operationsV2": SEED})
        return body["result"], elapsed

    def status(self, task_id: str) -> int:
        return self.call("detail", {"etlId": task_id})[0]["result"]["processStatus"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(180)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _poller(port: int, task_id: str, done: Any, latencies: Any) -> None:
    """One polling client (a process of its own): detail every 0.1 s until the task is no longer running."""
    path = "/wenxinworkshop/etl/detail"
    session = requests.Session()
    mine = []
    while not done.is_set():
        started = time.perf_counter()
        answer = session.post(f"http://127.0.0.1:{port}{path}", json={"etlId": task_id}, headers=signed(port, path),
                              timeout=60)
        mine.append(time.perf_counter() - started)
        answer.raise_for_status()
        if answer.json()["result"]["processStatus"] != 1:
            done.set()
        time.sleep(0.1)
    latencies.put(mine)


async def _async_pollers(port: int, task_id: str, pollers: int) -> list[float]:
    """`pollers` keep-alive connections in one asyncio process, each sending a freshly signed detail every
    0.1 s until the task is no longer running. A request costs the client a few microseconds, so the
    latency measured is the server's and the scheduler's, not the client's own Python (requests spends
    about a millisecond of CPU per call, and 20 such processes compete with the server for the cores)."""
    import asyncio

    path = "/wenxinworkshop/etl/detail"
    body = json.dumps({"etlId": task_id}).encode()
    done = asyncio.Event()
    latencies: list[float] = []

    async def poll() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while not done.is_set():
            headers = "".join(f"{k}: {v}\r\n" for k, v in signed(port, path).items())
            request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}"
                       f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            answer = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200") or json.loads(answer)["result"]["processStatus"] != 1:
                done.set()
            await asyncio.sleep(0.1)
        writer.close()

    await asyncio.gather(*(poll() for _ in range(pollers)))
    return latencies


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (not its children) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def poll_latency(root: Path, docs: int, pollers: int, client: str) -> dict:
    source = root / "poll.jsonl"
    shutil.copy(corpus(docs), source)
    server = Server(root, 18781)
    try:
        task_id, _ = server.create(source)
        while server.status(task_id) != 1 or not list((root / "out" / task_id / "work").glob("logs/*.log")):
            time.sleep(0.1)
        cpu = _cpu_seconds(server.process.pid)
        clock = time.perf_counter()
        if client == "asyncio":
            import asyncio

            latencies = asyncio.run(_async_pollers(server.port, task_id, pollers))
        else:
            context = multiprocessing.get_context("spawn")
            done, queue = context.Event(), context.Queue()
            processes = [context.Process(target=_poller, args=(server.port, task_id, done, queue))
                         for _ in range(pollers)]
            for process in processes:
                process.start()
            latencies = [value for _ in processes for value in queue.get()]
            for process in processes:
                process.join()
        seconds = time.perf_counter() - clock
        cpu = _cpu_seconds(server.process.pid) - cpu
        statuses = server.status(task_id)
    finally:
        server.stop()
    return {"client": client, "pollers": pollers, "requests": len(latencies), "seconds": round(seconds, 1),
            "requests_per_s": round(len(latencies) / seconds, 1), "final_status": statuses,
            "p50_ms": round(1000 * statistics.median(latencies), 1),
            "p99_ms": round(1000 * percentile(latencies, 0.99), 1),
            "max_ms": round(1000 * max(latencies), 1),
            "server_cpu_ms_per_request": round(1000 * cpu / len(latencies), 2), "load_average": os.getloadavg()}


def create_latency(root: Path) -> dict:
    source = root / "small.jsonl"
    shutil.copy(REPO / "resources/sample/corpus.jsonl", source)
    big = root / "slot.jsonl"
    shutil.copy(corpus(20_000), big)
    server = Server(root, 18782)
    try:
        server.create(big, "slot")  # takes the one slot: the created tasks wait
        times = [server.create(source, f"c{n}")[1] for n in range(50)]
    finally:
        server.stop()
    return {"creates": len(times), "p50_ms": round(1000 * statistics.median(times), 1),
            "p99_ms": round(1000 * percentile(times, 0.99), 1), "max_ms": round(1000 * max(times), 1)}


def task_against_run(root: Path, docs: int, rounds: int) -> dict:
    """`rounds` pairs, run then API, one after the other: on a shared machine the best of each is the
    fair comparison."""
    source = root / "task.jsonl"
    shutil.copy(corpus(docs), source)
    (root / "seed.json").write_text(json.dumps(SEED))
    direct_times, api_times, identical = [], [], True
    direct_overheads, api_overheads = [], []  # wall time less the run's own time (its result's etlcore.seconds)
    for number in range(rounds):
        clock = time.perf_counter()
        subprocess.run([sys.executable, "-m", "etlcore", "run", str(source), "--config", str(root / "seed.json"),
                        "--output", str(root / f"direct{number}.jsonl"), "--quiet"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        direct_times.append(time.perf_counter() - clock)
        direct_overheads.append(direct_times[-1] - _run_seconds(root / f"direct{number}.jsonl.etlcore"))
        server = Server(root, 18783 + number)
        try:
            clock = time.perf_counter()
            task_id, _ = server.create(source)
            while (status := server.status(task_id)) not in (2, 3, 4):
                time.sleep(0.2)
            api_times.append(time.perf_counter() - clock)
        finally:
            server.stop()
        api_overheads.append(api_times[-1] - _run_seconds(root / "out" / task_id / "work"))
        identical &= status == 2 and (root / "out" / task_id / "output.jsonl").read_bytes() == (
            root / f"direct{number}.jsonl").read_bytes()
    return {"docs": docs, "etlcore_run_s": [round(t, 2) for t in direct_times],
            "api_s": [round(t, 2) for t in api_times], "best_api_over_best_run": round(min(api_times) /
                                                                                      min(direct_times), 3),
            "byte_identical": identical, "run_overhead_s": [round(t, 2) for t in direct_overheads],
            "api_overhead_s": [round(t, 2) for t in api_overheads], "load_average": os.getloadavg()}


def _run_seconds(work: Path) -> float:
    return json.loads((work / "result.json").read_text())["etlcore"]["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--poll-docs", type=int, default=20_000)
    parser.add_argument("--task-docs", type=int, default=100_000)
    parser.add_argument("--pollers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="run/API pairs of the task part")
    parser.add_argument("--part", choices=["poll", "create", "task", "all"], default="all")
    parser.add_argument("--client", choices=["asyncio", "processes"], default="asyncio",
                        help="pollers as connections of one asyncio process, or as processes using requests")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="etlcore-serve-bench-") as folder:
        for part, measure in (("poll", lambda r: poll_latency(r, args.poll_docs, args.pollers, args.client)),
                              ("create", create_latency),
                              ("task", lambda r: task_against_run(r, args.task_docs, args.rounds))):
            if args.part in (part, "all"):
                root = Path(folder) / part
                root.mkdir()
                results[part] = measure(root)
                print(json.dumps({part: results[part]}), flush=True)


if __name__ == "__main__":
    main()
