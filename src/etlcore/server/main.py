"""Starting the server: settings from the command line, uvicorn, and the signals it stops on."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from etlcore.errors import EtlError


def serve(host: str, port: int, store: str, allow_root: str, max_running: int, credentials: str | None,
          no_auth: bool, default_config: dict[str, Any]) -> int:
    try:
        import uvicorn
    except ImportError:
        raise EtlError("etlcore serve needs the server extra: pip install 'etlcore[server]'") from None
    from etlcore.server.app import Settings, create_app, is_loopback, load_keys

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
        raise EtlError(f"--allow-root {allow_root}: no such folder")
    settings = Settings(store_path=Path(store).resolve(), allowed_root=root, keys=keys,
                        default_config=default_config, max_running=max_running)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    app = create_app(settings)
    # uvicorn stops accepting on SIGINT/SIGTERM, then runs the app's shutdown, which pauses the tasks.
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=True, timeout_graceful_shutdown=5)
    return 0
