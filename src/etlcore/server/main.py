"""Starting the server: settings from the command line, uvicorn, and the signals it stops on."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from etlcore.errors import EtlError
from etlcore.io.paths import check_creatable


def serve(host: str, port: int, store: str, allow_root: str, max_running: int, credentials: str | None,
          no_auth: bool, default_config: dict[str, Any]) -> int:
    try:
        import uvicorn
    except ImportError:
        raise EtlError("etlcore serve needs the server extra: pip install 'etlcore[server]'") from None
    from etlcore.io.lock import RunLock
    from etlcore.server.app import Settings, create_app, is_loopback, load_keys, session_secret

    if no_auth:
        if not is_loopback(host):
            raise EtlError(f"--no-auth is refused for host {host}: without authentication the server may only "
                           "listen on a loopback address (127.0.0.1, ::1, localhost)")
        if credentials:
            raise EtlError("give either --credentials or --no-auth, not both")
        keys = None
    else:
        keys = load_keys(credentials)
    root = Path(allow_root).resolve()
    if not root.is_dir():
        raise EtlError(f"--allow-root {allow_root}: {'not a folder' if root.exists() else 'no such folder'}")
    store_path = Path(store).resolve()
    settings = Settings(store_path=store_path, allowed_root=root, keys=keys, default_config=default_config,
                        max_running=max_running, session_secret=session_secret(keys))
    check_creatable(store_path, "task store", folder=False)  # under a file, or a folder: said in words
    try:
        store_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EtlError(f"cannot open the task store {store_path}: {exc}") from None
    lock = RunLock.for_server(store_path)
    lock.acquire()  # held until the process ends
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    app = create_app(settings)
    # uvicorn stops accepting on SIGINT/SIGTERM, then runs the app's shutdown, which pauses the tasks.
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=True, timeout_graceful_shutdown=5)
    finally:
        lock.release()
    return 0
