"""The web console at `/` (issue 15 item 7): not built yet; no routes."""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    return []
