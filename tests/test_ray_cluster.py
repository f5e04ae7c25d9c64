"""`--ray-address`: a run joins a Ray cluster that is already running (started with `ray start`, as on a
real cluster) and gives the local engine's output; it leaves the cluster running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from conftest import REPO

import etlcore

pytest.importorskip("ray")

SAMPLE = REPO / "resources/sample/corpus.jsonl"
TOKEN = "0123456789abcdef0123456789abcdef"
CONFIG = {"clean": [{"name": "remove_emoji"}, {"name": "replace_uniform_whitespace"}],
          "deduplication": [{"name": "deduplication_simhash", "args": {"distance": 5}}],
          "desensitization": [{"name": "replace_emails"}]}
RAY = Path(sys.executable).parent / "ray"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A head node with token authentication, in a process session of its own so that stopping it
    stops only its processes, not any other Ray on the machine (`ray stop` would), and with a temp dir
    of its own, so that no later `ray.init()` takes it for the machine's current cluster."""
    port = _free_port()
    head = subprocess.Popen([RAY, "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
                             f"--temp-dir={tmp_path_factory.mktemp('ray')}", "--include-dashboard=false",
                             "--disable-usage-stats"],
                            env={**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": TOKEN},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or head.poll() is not None:
                os.killpg(head.pid, signal.SIGKILL)
                pytest.fail("the Ray head did not start")
            time.sleep(0.5)
    yield f"127.0.0.1:{port}"
    os.killpg(head.pid, signal.SIGKILL)  # a graceful stop takes Ray half a minute
    head.wait(60)


def _run(tmp_path: Path, address: str, **env: str) -> tuple[subprocess.CompletedProcess, Path]:
    output = tmp_path / "ray" / "out.jsonl"
    config = tmp_path / "config.json"
    config.write_bytes(orjson.dumps(CONFIG))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    done = subprocess.run([sys.executable, "-m", "etlcore", "run", str(SAMPLE), "--config", str(config),
                           "--output", str(output), "--engine", "ray", "--ray-address", address],
                          capture_output=True, text=True,
                          env={**clean, "HOME": str(tmp_path), **env})  # no ~/.ray/auth_token of the user's
    return done, output


def test_a_run_joins_a_running_cluster(tmp_path: Path, ray_head: str) -> None:
    done, output = _run(tmp_path, ray_head, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN)
    assert done.returncode == 0, done.stderr[-2000:]
    etlcore.run(CONFIG, [SAMPLE], tmp_path / "local" / "out.jsonl")
    assert output.read_bytes() == (tmp_path / "local" / "out.jsonl").read_bytes()
    assert orjson.loads(done.stdout)["result"]["processStatus"] == 2
    socket.create_connection(tuple(ray_head.split(":")), timeout=5).close()  # the cluster is still up


def test_a_cluster_that_refuses_the_run_is_named_with_the_token_settings(tmp_path: Path, ray_head: str) -> None:
    done, output = _run(tmp_path, ray_head)  # no token
    assert done.returncode == 1
    reason = orjson.loads(done.stdout)["result"]["exceptionResult"]
    assert reason.startswith(f"ConnectionError: cannot join the Ray cluster at {ray_head}: ")
    assert reason.endswith("run etlcore with RAY_AUTH_MODE=token and the cluster's token in RAY_AUTH_TOKEN, "
                           "RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token")
    assert not output.exists()
