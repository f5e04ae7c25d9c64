"""The ASGI application: both API families and the console over one task store, with the settings,
credentials, body limit and authentication they share."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from etlcore.errors import ConfigError, EtlError, json_kind
from etlcore.server.jobs import Jobs
from etlcore.server.rowindex import RowIndexes
from etlcore.server.signatures import Key
from etlcore.tasks import service
from etlcore.tasks.store import TaskStore

log = logging.getLogger("etlcore.server")
MAX_BODY_BYTES = 1024 * 1024


@dataclass
class Settings:
    store_path: Path
    allowed_root: Path
    keys: dict[str, Key] | None  # None: --no-auth (loopback only)
    default_config: dict[str, Any]
    max_running: int = 1
    session_secret: str = field(default_factory=lambda: secrets.token_hex(32))


def session_secret(keys: dict[str, Key] | None) -> str:
    """The key console session cookies are signed with, derived from the credentials: a restart with
    the same credentials keeps everyone logged in; changed credentials end every session. A server
    without keys has no sessions (its console serves loopback clients)."""
    if not keys:
        return secrets.token_hex(32)
    material = orjson.dumps({access_key: key.secret for access_key, key in keys.items()}, option=orjson.OPT_SORT_KEYS)
    return hmac.new(b"etlcore console session v1", material, hashlib.sha256).hexdigest()


class BodyTooLarge(Exception):
    pass


def load_keys(credentials: str | None, environ: dict[str, str] | os._Environ[str] = os.environ) -> dict[str, Key]:
    """The AK/SK pairs from `--credentials FILE` (a JSON map `{AK: SK}` or `{AK: {"secret_key": SK,
    "project_ids": [...]}}`, readable by its owner only) or ETLCORE_ACCESS_KEY / ETLCORE_SECRET_KEY
    (and ETLCORE_PROJECT_IDS, comma-separated)."""
    if credentials:
        path = Path(credentials)
        try:
            mode = path.stat().st_mode
            document = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise EtlError(f"cannot read the credentials file {path}: {exc}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise EtlError(f"the credentials file {path} is open to other users (mode {stat.S_IMODE(mode):o}); "
                           f"chmod 600 {path}")
        if not isinstance(document, dict) or not document:
            raise EtlError(f"the credentials file {path} must be a JSON object mapping access keys to secret keys")
        keys = {}
        for access_key, entry in document.items():
            if isinstance(entry, str) and entry:
                keys[access_key] = Key(entry)
            elif isinstance(entry, dict) and isinstance(entry.get("secret_key"), str) and entry["secret_key"] and \
                    isinstance(entry.get("project_ids", []), list):
                keys[access_key] = Key(entry["secret_key"], frozenset(map(str, entry.get("project_ids", []))))
            else:
                raise EtlError(f"credentials file {path}: the entry of access key {access_key!r} must be a secret "
                               "key string or {\"secret_key\": ..., \"project_ids\": [...]}")
        return keys
    access_key, secret_key = environ.get("ETLCORE_ACCESS_KEY"), environ.get("ETLCORE_SECRET_KEY")
    if access_key and secret_key:
        projects = frozenset(p for p in environ.get("ETLCORE_PROJECT_IDS", "").split(",") if p)
        return {access_key: Key(secret_key, projects)}
    if access_key or secret_key:
        raise EtlError("set both ETLCORE_ACCESS_KEY and ETLCORE_SECRET_KEY, or neither")
    raise EtlError("no credentials: give --credentials FILE or set ETLCORE_ACCESS_KEY and ETLCORE_SECRET_KEY "
                   "(or --no-auth, on a loopback address only)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def read_body(request: Request) -> bytes:
    """The request body, refused (413) past 1 MB whether or not Content-Length says so."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def now() -> datetime:
    return datetime.now(timezone.utc)


def json_response(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # The charset said outright: huaweicloudsdkcore would read an unlabelled body as ISO-8859-1.
    return Response(orjson.dumps(document), status_code=status, headers=headers,
                    media_type="application/json;charset=UTF-8")


Handler = Callable[[Request], Awaitable[Response]]
DEFAULT_PORTS = {"http": 80, "https": 443}


def split_host(value: str) -> tuple[str, int | None] | None:
    """`host[:port]` (a Host header, or an origin's authority) as (lower-case host, port or None);
    None when malformed. IPv6 addresses come bracketed and are returned without the brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket:
            return None
    else:
        host, colon, port = value.partition(":")
        rest = colon + port
    port = rest[1:]
    if not host or (rest and not (rest.startswith(":") and port.isascii() and port.isdigit() and int(port) < 65536)):
        return None
    return host, int(port) if port else None


def _origin_of(value: str) -> tuple[str, str, int] | None:
    """An `Origin` header as (scheme, host, port); None for `null` and anything that is not an http(s) origin."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/") or parts.query \
            or parts.username or parts.password:
        return None
    return parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


class CrossSiteGuard:
    """Refuses, before routing, what a browser sends for another site: a request whose `Origin` is not
    the server's own (scheme://host:port from the request and its Host header; `null` included), and, on
    a --no-auth server, a Host that names no loopback host (a DNS-rebinding page talks to 127.0.0.1
    under its own name). The SDKs send no Origin and a Host of the address they were given."""

    def __init__(self, app: ASGIApp, loopback_only: bool) -> None:
        self.app, self.loopback_only = app, loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            problem = self.problem(scope["scheme"], headers.get("host"), headers.getlist("origin"))
            if problem is not None:
                log.warning("refused %s %s: %s", scope["method"], scope["path"], problem)
                await refusal(scope["path"], problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def problem(self, scheme: str, host_header: str | None, origins: list[str]) -> str | None:
        host = split_host(host_header) if host_header is not None else None
        if self.loopback_only and (host is None or not is_loopback(host[0])):
            named = "no Host header" if host_header is None else f"the Host header {host_header!r}"
            return (f"{named} names no loopback host; a server without authentication answers requests for "
                    "localhost, 127.0.0.1 or [::1] only")
        for origin in origins:
            claimed = _origin_of(origin)
            if claimed is None or host is None or claimed != (scheme, host[0], host[1] or DEFAULT_PORTS.get(scheme)):
                return f"cross-site request refused: Origin {origin!r} is not this server's own"
        return None


def refusal(path: str, message: str) -> Response:
    """A 403 in the shape of the family the path belongs to, or a plain page for the console."""
    if path.startswith("/wenxinworkshop/"):
        return json_response({"requestId": secrets.token_hex(8), "code": "AccessDenied", "message": message},
                             status=403, headers={"X-Bce-Error-Code": "AccessDenied", "X-Bce-Error-Message": message})
    if path.startswith("/v2/"):
        return json_response({"error_code": "ModelArts.0403", "error_msg": message}, status=403)
    return HTMLResponse(f"<!doctype html><title>Forbidden</title><h1>403 Forbidden</h1><p>{escape(message)}</p>",
                        status_code=403)


def create_app(settings: Settings) -> Starlette:
    from etlcore.server import console, modelarts, qianfan

    store = TaskStore(settings.store_path)
    jobs = Jobs(store, settings.allowed_root, settings.max_running)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        jobs.start()
        log.info("etlcore serve: store %s, allowed root %s, at most %d running", settings.store_path,
                 settings.allowed_root, settings.max_running)
        yield
        log.info("etlcore serve: stopping; pausing %d running task(s)", jobs.running_count())
        jobs.shutdown()

    routes: list[BaseRoute] = [*qianfan.routes(), *modelarts.routes(), *console.routes()]
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(CrossSiteGuard, loopback_only=settings.keys is None)])
    app.state.settings = settings
    app.state.store = store
    app.state.jobs = jobs
    app.state.row_indexes = RowIndexes()
    return app


def caller(request: Request, where: str) -> str:
    """Who sent the request, as a task's exceptionResult names whoever stopped it."""
    access_key = getattr(request.state, "access_key", None)
    return f"access key {access_key} through {where}" if access_key else f"a loopback client of {where}"


def renamed(error: EtlError, names: dict[str, str]) -> list[str]:
    """The problems of a refused create body with its ModelArts field names (`inputs[0].source`, ...)
    replaced by the names the caller used (a Qianfan body's, the console form's)."""
    problems = error.problems if isinstance(error, ConfigError) else [error.message]
    out = []
    for problem in problems:
        for modelarts, theirs in names.items():
            if problem.startswith(modelarts):
                problem = theirs + problem[len(modelarts):]
                break
        out.append(problem)
    return out


def create_task(app_state: Any, body: Any, operations: dict[str, Any] | None = None, parent: str | None = None) -> str:
    """Validate and store a ModelArts-shaped create body, and queue it to run; returns its id.
    `operations`: the operationsV2 to run and echo as given (Qianfan), once the body's operators (the
    same ones) are valid; `parent`: the task this one is a version of."""
    settings: Settings = app_state.settings
    if not isinstance(body, dict):
        raise EtlError(f"the request body must be a JSON object, got {json_kind(body)}")
    task_id = service.create(app_state.store, body, settings.allowed_root, settings.default_config)
    if operations is not None or parent is not None:
        app_state.store.update(task_id, **({"config": operations} if operations is not None else {}),
                               **({"parent": parent} if parent is not None else {}))
    app_state.jobs.submit(task_id)
    return task_id
