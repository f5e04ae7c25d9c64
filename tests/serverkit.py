"""Starting `etlcore serve` on a free loopback port for a test, and the two real SDKs pointed at it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from conftest import REPO

AK, SK, PROJECT = "test-ak", "test-sk", "0123456789abcdef0123456789abcdef"
SAMPLE = REPO / "resources/sample/corpus.jsonl"
SEED_OPERATIONS = orjson.loads((REPO / "resources/sample/operations.json").read_bytes())
os.environ["NO_PROXY"] = "127.0.0.1,localhost"
os.environ["no_proxy"] = "127.0.0.1,localhost"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def big_corpus(path: Path, copies: int) -> Path:
    """The sample corpus `copies` times over, each copy's ids made unique."""
    lines = SAMPLE.read_bytes().splitlines()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for copy in range(copies):
            for line in lines:
                out.write(line.replace(b'"id": "', f'"id": "c{copy}-'.encode(), 1)
                          .replace(b'"id":"', f'"id":"c{copy}-'.encode(), 1) + b"\n")
    return path


@dataclass
class Server:
    root: Path
    port: int = field(default_factory=free_port)
    max_running: int = 1
    extra: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store(self) -> Path:
        return self.root / ".etlcore" / "tasks.sqlite"

    def start(self, wait: bool = True) -> Server:
        command = [sys.executable, "-m", "etlcore", "serve", "--port", str(self.port), "--store", str(self.store),
                   "--allow-root", str(self.root), "--max-running", str(self.max_running), *self.extra]
        env = {**os.environ, "ETLCORE_ACCESS_KEY": AK, "ETLCORE_SECRET_KEY": SK, **self.env}
        log = (self.root / "server.log").open("ab")
        self.process = subprocess.Popen(command, cwd=self.root, env=env, stdout=log, stderr=log)
        if wait:
            deadline = time.monotonic() + 90  # a loaded machine starts a server slowly
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited: {self.log()}")
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                        return self
                except OSError:
                    time.sleep(0.1)
            raise RuntimeError(f"the server did not start: {self.log()}")
        return self

    def log(self) -> str:
        return (self.root / "server.log").read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 120) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)


def qianfan_data(server: Server, ak: str = AK, sk: str = SK) -> Any:
    """qianfan's `Data` resource with its console calls sent to `server` (set on the global config,
    which the SDK reads at each call)."""
    import qianfan
    from qianfan.resources import Data

    config = qianfan.get_config()
    config.CONSOLE_API_BASE_URL = server.url
    config.ACCESS_KEY, config.SECRET_KEY = ak, sk
    config.CONSOLE_API_RETRY_COUNT = 1
    return Data


class ModelArts:
    """The real huaweicloudsdkmodelarts client, through its generic `call_api` (API.md section 1)."""

    def __init__(self, server: Server, ak: str = AK, sk: str = SK, project: str = PROJECT) -> None:
        from huaweicloudsdkcore.auth.credentials import BasicCredentials
        from huaweicloudsdkcore.sdk_response import SdkResponse
        from huaweicloudsdkmodelarts.v1 import ModelArtsClient

        class JsonBody(SdkResponse):
            openapi_types = {"body": "object"}  # noqa: RUF012 - the SDK's own convention
            attribute_map = {"body": "body"}  # noqa: RUF012

            def __init__(self, body: Any = None) -> None:
                super().__init__()
                self.body = body

        self.response_type = JsonBody
        self.client = ModelArtsClient.new_builder().with_credentials(
            BasicCredentials(ak, sk, project)).with_endpoints([server.url]).build()

    def call(self, method: str, path: str, body: Any = None, query: list[tuple[str, Any]] | None = None,
             **path_params: str) -> Any:
        response = self.client.call_api(
            "/v2/{project_id}/processor-tasks" + path, method, path_params=path_params, query_params=query or [],
            header_params={"Content-Type": "application/json;charset=UTF-8"}, body=body,
            response_type=self.response_type, response_headers=["X-Request-Id"], auth_settings=[],
            collection_formats={})
        return response.body


def modelarts_body(source: str, work: str = "work/modelarts", params: list[dict] | None = None,
                   **fields: Any) -> dict[str, Any]:
    operator_params = params if params is not None else [
        {"name": entry["name"], "advanced_params_switch": False,
         "params": {k: str(v) for k, v in entry.get("args", {}).items()}}
        for stage in ("clean", "filter", "deduplication", "desensitization") for entry in SEED_OPERATIONS[stage]
        if not entry["name"].startswith("save_pipeline_")]
    return {"name": "sdk-task", "description": "", "inputs": [{"type": "OBS", "source": source}],
            "work_path": {"type": "OBS", "path": work}, "template": {"id": "sys_data_cleaning",
                                                                       "operator_params": operator_params},
            **fields}


def wait_for(check: Any, timeout: float = 120, every: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(every)
