"""The web console at `/`: server-rendered HTML, no JavaScript, nothing fetched from elsewhere.

Pages: the task list (refreshed while tasks run or wait), a task's page (the funnel of documents
through the stages as an inline SVG chart, each operator's drops, stop and delete buttons, the analysis
report of an analyse task), rejected documents per operator and invalid rows, page by page, one
rejected document in full, and a form that creates a task from a pasted operationsV2 and an input path.

Authentication follows the server's: with keys, a login with an AK/SK pair sets a signed session cookie
(HttpOnly, SameSite=Strict, so another site cannot post the forms); with --no-auth (a loopback server),
only loopback clients are served. Other sites' Origins and (with --no-auth) non-loopback Host names are
refused before routing, by `app.CrossSiteGuard`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import time
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from etlcore.config import find_operations
from etlcore.errors import EtlError
from etlcore.registry import STAGES
from etlcore.report import NONE, PAUSED, RUNNING, STATUS_WORDS
from etlcore.server.app import BodyTooLarge, create_task, is_loopback, read_body, renamed
from etlcore.tasks import service

COOKIE = "etlcore_session"
SESSION_SECONDS = 12 * 3600
PAGE_ROWS = 20
STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2433;background:#f6f7f9}
header{background:#1d2433;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600}header form{margin-left:auto}
main{padding:20px 24px;max-width:1200px}h1{font-size:20px;margin:0 0 14px}h2{font-size:16px;margin:22px 0 8px}
table{border-collapse:collapse;background:#fff;width:100%}th,td{padding:6px 10px;border-bottom:1px solid #e3e6eb;
text-align:left;vertical-align:top}th{background:#eef0f4;font-weight:600}td.n{text-align:right;
font-variant-numeric:tabular-nums}.s0,.s5{color:#8a6d00}.s1{color:#0b62c4}.s2{color:#17813b}.s3{color:#6b7280}
.s4{color:#b42318}.box{background:#fff;padding:14px 16px;border:1px solid #e3e6eb;margin-bottom:14px}
.err{background:#fde8e8;border:1px solid #f3b4b4;color:#8a1c1c;padding:10px 14px;margin-bottom:14px}
.err li{margin:2px 0}pre{white-space:pre-wrap;word-break:break-all;background:#fff;border:1px solid #e3e6eb;
padding:12px;margin:0}textarea{width:100%;font:13px monospace}input[type=text],input[type=password],select
{width:420px;padding:5px}label{display:block;margin:10px 0 4px;font-weight:600}button{padding:6px 14px;
cursor:pointer}.row{display:flex;gap:10px;align-items:center}.muted{color:#6b7280}.pager{margin:10px 0}
.pager a{margin-right:12px}td.id{white-space:nowrap}
"""


# -- authentication ----------------------------------------------------------------------------------
def _session_token(secret: str, access_key: str, expires: int) -> str:
    payload = f"{access_key}|{expires}"
    signature = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return f"{quote(payload)}|{signature}"


def _session_user(request: Request) -> str | None:
    settings = request.app.state.settings
    if settings.keys is None:
        client = request.client.host if request.client else ""
        return "local" if is_loopback(client) else None
    token = request.cookies.get(COOKIE, "")
    payload, _, signature = token.rpartition("|")
    access_key, _, expires = unquote(payload).rpartition("|")
    if not access_key or not expires.isdigit() or int(expires) < time.time():
        return None
    expected = hmac.new(settings.session_secret.encode(), f"{access_key}|{expires}".encode(),
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature) or access_key not in settings.keys:
        return None
    return access_key


def _page(request: Request, title: str, body: str, refresh: bool = False, status: int = 200) -> HTMLResponse:
    user = _session_user(request)
    logout = ('<form method="post" action="/logout"><button type="submit">Log out</button></form>'
              if user and user != "local" else "")
    meta = '<meta http-equiv="refresh" content="2">' if refresh else ""
    html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">{meta}<title>{escape(title)} · etlcore'
            f'</title><style>{STYLE}</style></head><body><header><a href="/">etlcore tasks</a>'
            f'<a href="/new">New task</a>{logout}</header><main>{body}</main></body></html>')
    return HTMLResponse(html, status_code=status)


async def _form(request: Request) -> dict[str, str]:
    raw = await read_body(request)
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}


def _guarded(handler: Any, method: str = "GET") -> Any:
    async def endpoint(request: Request) -> Response:
        if _session_user(request) is None:
            if request.app.state.settings.keys is None:
                return HTMLResponse("the console of a server without authentication answers loopback clients only",
                                    status_code=403)
            return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)
        try:
            return await handler(request)
        except BodyTooLarge:
            return _page(request, "Too large", '<div class="err">The form is over 1 MB.</div>', status=413)
        except EtlError as exc:
            return _page(request, "Not found", f'<div class="err">{escape(exc.message)}</div>', status=404)
    return endpoint


async def _login_form(request: Request, message: str = "", status: int = 200) -> Response:
    if request.app.state.settings.keys is None:
        return RedirectResponse("/", status_code=303)
    following = escape(request.query_params.get("next", "/"))
    error = f'<div class="err">{escape(message)}</div>' if message else ""
    body = (f'<h1>Log in</h1>{error}<form method="post" action="/login" class="box">'
            f'<input type="hidden" name="next" value="{following}">'
            '<label for="ak">Access key (AK)</label>'
            '<input type="text" id="ak" name="access_key" autocomplete="username">'
            '<label for="sk">Secret key (SK)</label><input type="password" id="sk" name="secret_key" '
            'autocomplete="current-password"><p><button type="submit">Log in</button></p></form>')
    return _page(request, "Log in", body, status=status)


async def _login(request: Request) -> Response:
    settings = request.app.state.settings
    if settings.keys is None:
        return RedirectResponse("/", status_code=303)
    try:
        form = await _form(request)
    except BodyTooLarge:
        return await _login_form(request, "The form is over 1 MB.", 413)
    key = settings.keys.get(form.get("access_key", ""))
    if key is None or not hmac.compare_digest(key.secret.encode(), form.get("secret_key", "").encode()):
        return await _login_form(request, "Unknown access key or wrong secret key.", 403)
    following = form.get("next", "/")
    response = RedirectResponse(following if following.startswith("/") and not following.startswith("//") else "/",
                                status_code=303)
    expires = int(time.time()) + SESSION_SECONDS
    response.set_cookie(COOKIE, _session_token(settings.session_secret, form["access_key"], expires),
                        max_age=SESSION_SECONDS, httponly=True, samesite="strict", path="/")
    return response


async def _logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- helpers -----------------------------------------------------------------------------------------
def _status_word(task: dict[str, Any]) -> tuple[int, str]:
    if task["status"] == NONE and task["queued"]:
        return NONE, "waiting"
    return task["status"], STATUS_WORDS.get(task["status"], str(task["status"]))


def _time(moment: float | None) -> str:
    return datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _count(value: int | None) -> str:
    return f"{value:,}" if value is not None else ""


def _active(task: dict[str, Any]) -> bool:
    return task["status"] in (RUNNING, PAUSED) or (task["status"] == NONE and bool(task["queued"]))


# -- pages -------------------------------------------------------------------------------------------
async def _list(request: Request) -> Response:
    tasks = await run_in_threadpool(request.app.state.store.all)
    rows = []
    for task in map(service.with_live_counts, reversed(tasks)):
        code, word = _status_word(task)
        rows.append(
            f'<tr><td class="id"><a href="/tasks/{escape(task["id"])}">{escape(task["id"])}</a></td>'
            f'<td>{escape(task["name"])}</td>'
            f'<td>{escape(task["template"])}</td><td class="s{code}">{word}</td>'
            f'<td class="n">{_count(task["input_rows"])}</td><td class="n">{_count(task["output_rows"])}</td>'
            f'<td class="n">{_count(task["rejected_rows"])}</td><td class="n">{_count(task["invalid_rows"])}</td>'
            f'<td>{_time(task["created"])}</td><td>{_time(task["started"])}</td><td>{_time(task["finished"])}</td></tr>')
    table = ('<table id="tasks"><tr><th>task</th><th>name</th><th>template</th><th>status</th><th>input</th>'
             '<th>output</th><th>rejected</th><th>invalid</th><th>created</th><th>started</th><th>finished</th></tr>'
             + "".join(rows) + "</table>") if rows else '<p class="muted">No tasks yet.</p>'
    return _page(request, "Tasks", f"<h1>Tasks</h1>{table}", refresh=any(_active(t) for t in tasks))


def _funnel(detail: dict[str, Any]) -> str:
    """The documents left after each step, as horizontal bars (inline SVG)."""
    stages = detail["result"]["pipeline_stage_result"]
    steps = [("input", detail["entityCount"])]
    order = [s for s in STAGES if s in stages]
    for number, stage in enumerate(order):
        steps.append((f"into {stage}", stages[stage]["entity_match_count"]))
        if number == len(order) - 1:
            steps.append(("output", detail["remainingEntity"]))
    widest = max((count for _, count in steps), default=0) or 1
    bar_height, gap, label_width, width = 24, 8, 150, 520
    parts = []
    for row, (label, count) in enumerate(steps):
        y = row * (bar_height + gap)
        length = max(1, round(width * count / widest)) if count else 0
        parts.append(f'<text x="{label_width - 8}" y="{y + 16}" text-anchor="end" font-size="13">{escape(label)}</text>'
                     f'<rect x="{label_width}" y="{y}" width="{length}" height="{bar_height}" fill="#3b82c4"/>'
                     f'<text x="{label_width + length + 6}" y="{y + 16}" font-size="13">{count:,}</text>')
    height = len(steps) * (bar_height + gap)
    return (f'<svg id="funnel" role="img" aria-label="documents through the stages" width="{label_width + width + 90}" '
            f'height="{height}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>')


async def _task_page(request: Request) -> Response:
    state = request.app.state
    task_id = request.path_params["task_id"]
    task = service.with_live_counts(await run_in_threadpool(state.store.get, task_id))
    detail = (await run_in_threadpool(service.detail, state.store, task_id))["result"]
    code, word = _status_word(task)
    work = Path(task["task_dir"]) / "work"
    facts = [("status", f'<span class="s{code}" id="status">{word}</span>'), ("name", escape(task["name"])),
             ("template", escape(task["template"])), ("inputs", escape(", ".join(orjson.loads(task["inputs"])))),
             ("task folder", escape(task["task_dir"])), ("created", _time(task["created"])),
             ("started", _time(task["started"])), ("finished", _time(task["finished"])),
             ("input rows", _count(task["input_rows"])),
             ("kept so far", f'<span id="kept">{_count(task["kept_rows"])}</span>') if "kept_rows" in task
             else ("output rows", _count(task["output_rows"])),
             ("rejected", _count(task["rejected_rows"])), ("invalid", _count(task["invalid_rows"]))]
    if detail.get("exceptionResult"):
        facts.append(("why", f'<span class="s4">{escape(detail["exceptionResult"])}</span>'))
    if task["stop_reason"]:
        facts.append(("stop reason", escape(task["stop_reason"])))
    body = [f'<h1>{escape(task["id"])}</h1><table class="box">'
            + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts) + "</table>"]
    buttons = []
    if _active(task):
        buttons.append(f'<form method="post" action="/tasks/{escape(task_id)}/stop"><button id="stop" type="submit">'
                       'Stop</button></form>')
    buttons.append(f'<form method="post" action="/tasks/{escape(task_id)}/delete"><button id="delete" type="submit">'
                   'Delete</button></form><span class="muted">Delete takes the task off the list; its folder '
                   f'{escape(task["task_dir"])} stays.</span>')
    body.append(f'<div class="row">{"".join(buttons)}</div>')
    if task["template"] == "sys_data_analyse":
        report = Path(task["task_dir"]) / "report" / "report.html"
        body.append(f'<h2>Analysis report</h2><p><a id="report" href="/tasks/{escape(task_id)}/report">report.html</a>'
                    '</p>' if report.exists() else '<h2>Analysis report</h2><p class="muted">not written yet</p>')
    elif detail["processStatus"] not in (NONE, RUNNING):
        body.append("<h2>Documents through the stages</h2><div class=\"box\">" + _funnel(detail) + "</div>")
        rows = []
        for stage in STAGES:
            for entry in detail["result"]["pipeline_stage_result"].get(stage, {}).get("each_operator_result", []):
                link = (f'<a href="/tasks/{escape(task_id)}/rejects?operator={quote(entry["name"])}">rejected '
                        'documents</a>' if entry["drop_count"] else "")
                rows.append(f'<tr><td>{stage}</td><td>{escape(entry["name"])}</td>'
                            f'<td class="n">{entry["remaining_count"]:,}</td><td class="n">{entry["drop_count"]:,}</td>'
                            f"<td>{link}</td></tr>")
        body.append('<h2>Operators</h2><table id="operators"><tr><th>stage</th><th>operator</th><th>remaining</th>'
                    "<th>dropped</th><th></th></tr>" + "".join(rows) + "</table>")
        links = [f'<a href="/tasks/{escape(task_id)}/rejects">all rejected documents</a>']
        if (work / "invalid.jsonl").exists():
            links.append(f'<a href="/tasks/{escape(task_id)}/invalid">invalid rows</a>')
        body.append(f'<p>{" · ".join(links)}</p>')
    return _page(request, task_id, "".join(body), refresh=_active(task))


def _pager(request: Request, page: int, more: bool, **params: str) -> str:
    def link(number: int, label: str) -> str:
        return f'<a href="{request.url.path}?{urlencode({**params, "page": number})}">{label}</a>'

    parts = ([link(page - 1, "← previous")] if page > 1 else []) + ([link(page + 1, "next →")] if more else [])
    return f'<div class="pager">{"".join(parts)}<span class="muted">page {page}</span></div>'


def _page_number(request: Request) -> int:
    text = request.query_params.get("page", "1")
    return int(text) if text.isdigit() and int(text) >= 1 else 1


async def _rejects(request: Request) -> Response:
    state = request.app.state
    task_id = request.path_params["task_id"]
    task = await run_in_threadpool(state.store.get, task_id)
    operator = request.query_params.get("operator", "")
    page = _page_number(request)
    shown = await run_in_threadpool(state.row_indexes.page, Path(task["task_dir"]) / "work" / "rejects.jsonl",
                                    (page - 1) * PAGE_ROWS, PAGE_ROWS + 1, operator)
    lines = [f'<tr><td><a href="/tasks/{escape(task_id)}/rejects/{number}">{escape(str(row.get("id", "")))}</a></td>'
             f'<td>{escape(str(row.get("etl_operator", "")))}</td><td>{escape(str(row.get("etl_reason", "")))}</td>'
             f'<td>{escape(str(row.get("text", ""))[:160])}</td></tr>' for number, row in shown[:PAGE_ROWS]]
    title = f"Rejected by {operator}" if operator else "Rejected documents"
    table = ('<table id="rejects"><tr><th>id</th><th>operator</th><th>reason</th><th>text</th></tr>' + "".join(lines)
             + "</table>") if lines else '<p class="muted">None.</p>'
    pager = _pager(request, page, len(shown) > PAGE_ROWS, **({"operator": operator} if operator else {}))
    return _page(request, title, f'<h1>{escape(title)}</h1><p><a href="/tasks/{escape(task_id)}">← {escape(task_id)}'
                                 f"</a></p>{table}{pager}")


async def _reject(request: Request) -> Response:
    state = request.app.state
    task_id = request.path_params["task_id"]
    number = request.path_params["number"]
    task = await run_in_threadpool(state.store.get, task_id)
    index = await run_in_threadpool(state.row_indexes.of, Path(task["task_dir"]) / "work" / "rejects.jsonl")
    row = await run_in_threadpool(index.at_line, number) if index is not None else None
    if row is None:
        raise EtlError(f"task {task_id} has no rejected document number {number}")
    text = row.pop("text", "")
    facts = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(v if isinstance(v, str) else orjson.dumps(v).decode())}"
                    "</td></tr>" for k, v in row.items())
    operator = str(row.get("etl_operator", ""))
    body = (f'<h1>Rejected document {escape(str(row.get("id", "")))}</h1><p><a href="/tasks/{escape(task_id)}/rejects?'
            f'{urlencode({"operator": operator})}">← rejected by {escape(operator)}</a></p>'
            f'<table class="box" id="reject">{facts}</table><h2>Text (as it entered the operator)</h2>'
            f'<pre id="text">{escape(str(text))}</pre>')
    return _page(request, f"Rejected {row.get('id', '')}", body)


async def _invalid(request: Request) -> Response:
    state = request.app.state
    task_id = request.path_params["task_id"]
    task = await run_in_threadpool(state.store.get, task_id)
    page = _page_number(request)
    shown = await run_in_threadpool(state.row_indexes.page, Path(task["task_dir"]) / "work" / "invalid.jsonl",
                                    (page - 1) * PAGE_ROWS, PAGE_ROWS + 1)
    lines = [f'<tr><td>{escape(str(r.get("source")))}</td><td class="n">{r.get("line")}</td>'
             f'<td>{escape(str(r.get("reason")))}</td><td>{escape(str(r.get("raw", ""))[:160])}</td></tr>'
             for _, r in shown[:PAGE_ROWS]]
    table = ('<table id="invalid"><tr><th>source</th><th>line</th><th>reason</th><th>raw</th></tr>' + "".join(lines)
             + "</table>") if lines else '<p class="muted">None.</p>'
    pager = _pager(request, page, len(shown) > PAGE_ROWS)
    return _page(request, "Invalid rows", f'<h1>Invalid rows</h1><p><a href="/tasks/{escape(task_id)}">← '
                                          f"{escape(task_id)}</a></p>{table}{pager}")


async def _report(request: Request) -> Response:
    task = await run_in_threadpool(request.app.state.store.get, request.path_params["task_id"])
    report = Path(task["task_dir"]) / "report" / "report.html"
    if not report.exists():
        raise EtlError(f"task {task['id']} has no analysis report")
    return FileResponse(report, media_type="text/html")


async def _stop(request: Request) -> Response:
    task_id = request.path_params["task_id"]
    await read_body(request)
    try:
        user = _session_user(request)
        by = f"access key {user} in the console" if user != "local" else "a loopback client of the console"
        await run_in_threadpool(request.app.state.jobs.stop, task_id, by)
    except EtlError as exc:
        if exc.code == "TaskNotFound":
            raise
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


async def _delete(request: Request) -> Response:
    state = request.app.state
    task_id = request.path_params["task_id"]
    await read_body(request)
    task = await run_in_threadpool(state.store.get, task_id)
    if _active(task):
        with contextlib.suppress(EtlError):  # it ended meanwhile
            await run_in_threadpool(state.jobs.stop, task_id, "its deletion")
    await run_in_threadpool(state.store.delete, task_id)
    return RedirectResponse("/", status_code=303)


TEMPLATE_CHOICES = ("sys_data_cleaning", "sys_data_selection", "sys_data_validation", "sys_data_analyse")


def _new_form(request: Request, values: dict[str, str], problems: list[str] | None = None,
              status: int = 200) -> Response:
    error = ('<div class="err" id="problems"><ul>' + "".join(f"<li>{escape(p)}</li>" for p in problems)
             + "</ul></div>") if problems else ""
    options = "".join(f'<option{" selected" if values.get("template") == t else ""}>{t}</option>'
                      for t in TEMPLATE_CHOICES)
    body = (f'<h1>New task</h1>{error}<form method="post" action="/new" class="box">'
            f'<label for="name">Name</label>'
            f'<input type="text" id="name" name="name" value="{escape(values.get("name", ""))}">'
            f'<label for="input">Input (a file or folder inside {escape(str(request.app.state.settings.allowed_root))})'
            f'</label><input type="text" id="input" name="input" value="{escape(values.get("input", ""))}">'
            '<label for="work_path">Work path (output goes to WORK_PATH/&lt;task id&gt;/; empty: .etlcore/tasks)'
            '</label>'
            f'<input type="text" id="work_path" name="work_path" value="{escape(values.get("work_path", ""))}">'
            f'<label for="template">Template</label><select id="template" name="template">{options}</select>'
            '<label for="config">Config: operationsV2 JSON (or a document holding one); empty: the default pipeline'
            f'</label><textarea id="config" name="config" rows="16">{escape(values.get("config", ""))}</textarea>'
            '<p><button id="create" type="submit">Create and run</button></p></form>')
    return _page(request, "New task", body, status=status)


async def _new(request: Request) -> Response:
    return _new_form(request, {"template": "sys_data_cleaning"})


# The create body's field names as the form calls them, for its messages.
FORM_FIELDS = {"inputs[0].source": "input", "work_path.path": "work path",
               "template.operator_params: ": "config: ", "operationsV2: ": "config: "}


async def _create(request: Request) -> Response:
    """Create a task from the form; a refused form comes back filled in, with every problem listed."""
    values = await _form(request)
    problems = []
    given = None
    config_text = values.get("config", "").strip()
    if config_text:
        try:
            given, _ = find_operations(orjson.loads(config_text))
        except orjson.JSONDecodeError as exc:
            problems.append(f"config: not JSON: {exc}")
        except EtlError as exc:
            problems.extend(f"config: {p}" for p in getattr(exc, "problems", [exc.message]))
    source = values.get("input", "").strip()
    if not source:
        problems.append("input: required, a file or folder")
    body: dict[str, Any] = {"name": values.get("name", ""), "inputs": [{"type": "OBS", "source": source}],
                            "template": {"id": values.get("template", "sys_data_cleaning")}}
    if values.get("work_path", "").strip():
        body["work_path"] = {"type": "OBS", "path": values["work_path"].strip()}
    if isinstance(given, dict):  # as the Qianfan API sends it: the operators as params, the config beside them
        body["template"]["operator_params"] = [
            {"name": e.get("name"), "params": e.get("args", {})} if isinstance(e, dict) else e
            for stage in STAGES for e in (given.get(stage) or [])] or [{"name": "save_pipeline_clean"}]
        body["operationsV2"] = given
    settings = request.app.state.settings
    try:  # the rest of the form is checked too, so that every problem shows at once
        await run_in_threadpool(service.validated, body, settings.allowed_root, settings.default_config)
    except EtlError as exc:
        problems.extend(renamed(exc, FORM_FIELDS))
    if problems:
        return _new_form(request, values, problems, status=400)
    try:
        task_id = await run_in_threadpool(create_task, request.app.state, body,
                                          given if isinstance(given, dict) else None)
    except EtlError as exc:  # changed since the check (an input removed, say)
        return _new_form(request, values, renamed(exc, FORM_FIELDS), status=400)
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/login", _login_form, methods=["GET"]),
        Route("/login", _login, methods=["POST"]),
        Route("/logout", _logout, methods=["POST"]),
        Route("/", _guarded(_list), methods=["GET"]),
        Route("/new", _guarded(_new), methods=["GET"]),
        Route("/new", _guarded(_create), methods=["POST"]),
        Route("/tasks/{task_id}", _guarded(_task_page), methods=["GET"]),
        Route("/tasks/{task_id}/rejects", _guarded(_rejects), methods=["GET"]),
        Route("/tasks/{task_id}/rejects/{number:int}", _guarded(_reject), methods=["GET"]),
        Route("/tasks/{task_id}/invalid", _guarded(_invalid), methods=["GET"]),
        Route("/tasks/{task_id}/report", _guarded(_report), methods=["GET"]),
        Route("/tasks/{task_id}/stop", _guarded(_stop), methods=["POST"]),
        Route("/tasks/{task_id}/delete", _guarded(_delete), methods=["POST"]),
    ]
