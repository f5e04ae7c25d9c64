"""Signature verification over the 33 requests the real SDKs sent (../shared/api/sdk-requests.jsonl),
and the same requests tampered with."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from etlcore.server.signatures import AuthError, Key, verify_bce, verify_sdk_hmac

RECORDED = Path(__file__).resolve().parents[1] / ".." / "shared" / "api" / "sdk-requests.jsonl"
if not RECORDED.exists():
    RECORDED = Path("/work/shared/api/sdk-requests.jsonl")
KEYS = {"test-ak": Key("test-sk")}
PROJECT = "0123456789abcdef0123456789abcdef"


def _requests() -> list[dict[str, Any]]:
    return [json.loads(line) for line in RECORDED.read_text().splitlines() if line.strip()]


REQUESTS = _requests()
# Two requests were sent with a wrong secret on purpose; the recording server refused them.
SIGNED = [n for n, r in enumerate(REQUESTS) if r["auth"]["ok"]]
WRONGLY_SIGNED = [n for n, r in enumerate(REQUESTS) if not r["auth"]["ok"]]


def _verify(request: dict[str, Any], keys: dict[str, Key] = KEYS, now: datetime | None = None) -> str:
    headers = {k.lower(): v for k, v in request["headers"].items()}
    query = urlencode(request["query"])
    now = now or datetime.fromisoformat(request["time"])
    if request["family"] == "qianfan":
        return verify_bce(keys, request["method"], request["path"], query, headers, now)
    body = b"" if request["body"] is None else json.dumps(request["body"]).encode()
    project = request["path"].split("/")[2]
    return verify_sdk_hmac(keys, request["method"], request["path"], query, headers, body, now, project)


def test_the_recording_holds_both_families_and_every_call() -> None:
    assert len(REQUESTS) == 33 and len(WRONGLY_SIGNED) == 2
    assert sum(r["family"] == "qianfan" for r in REQUESTS) == 11
    assert {r["method"] for r in REQUESTS} == {"GET", "POST", "PUT", "DELETE"}


@pytest.mark.parametrize("number", SIGNED)
def test_every_recorded_request_verifies(number: int) -> None:
    assert _verify(REQUESTS[number]) == "test-ak"


@pytest.mark.parametrize("number", WRONGLY_SIGNED)
def test_the_requests_signed_with_a_wrong_secret_are_refused(number: int) -> None:
    with pytest.raises(AuthError) as refused:
        _verify(REQUESTS[number])
    assert refused.value.code == REQUESTS[number]["auth"]["reason"].split()[0]


@pytest.mark.parametrize("number", range(33))
def test_a_tampered_path_is_refused(number: int) -> None:
    request = {**REQUESTS[number], "path": REQUESTS[number]["path"].replace("etl/", "etl/x").replace("tasks", "task")}
    with pytest.raises(AuthError) as refused:
        _verify(request)
    expected = (403, "SignatureDoesNotMatch") if request["family"] == "qianfan" else (401, "APIGW.0301")
    assert (refused.value.status, refused.value.code) == expected


@pytest.mark.parametrize("number", range(33))
def test_a_tampered_query_is_refused(number: int) -> None:
    request = {**REQUESTS[number], "query": {**REQUESTS[number]["query"], "limit": "99"}}
    with pytest.raises(AuthError) as refused:
        _verify(request)
    assert refused.value.code in ("SignatureDoesNotMatch", "APIGW.0301")


@pytest.mark.parametrize("number", range(33))
def test_a_tampered_date_header_is_refused(number: int) -> None:
    request = dict(REQUESTS[number])
    headers = dict(request["headers"])
    if "x-bce-date" in headers:
        headers["x-bce-date"] = headers["x-bce-date"].replace("Z", "").rstrip("0123456789") + "00Z"
        if headers["x-bce-date"] == request["headers"]["x-bce-date"]:
            headers["x-bce-date"] = headers["x-bce-date"].replace("00Z", "01Z")
    else:
        date = datetime.strptime(headers["X-Sdk-Date"], "%Y%m%dT%H%M%SZ") + timedelta(seconds=1)
        headers["X-Sdk-Date"] = date.strftime("%Y%m%dT%H%M%SZ")
    request["headers"] = headers
    with pytest.raises(AuthError) as refused:
        _verify(request)
    assert refused.value.code in ("SignatureDoesNotMatch", "APIGW.0301")


MODELARTS_WITH_BODY = [n for n, r in enumerate(REQUESTS) if r["family"] == "modelarts" and r["body"] is not None]
QIANFAN_WITH_BODY = [n for n in SIGNED if REQUESTS[n]["family"] == "qianfan"]


@pytest.mark.parametrize("number", MODELARTS_WITH_BODY)
def test_a_tampered_modelarts_body_is_refused(number: int) -> None:
    request = {**REQUESTS[number], "body": {**REQUESTS[number]["body"], "description": "changed"}}
    with pytest.raises(AuthError) as refused:
        _verify(request)
    assert (refused.value.status, refused.value.code) == (401, "APIGW.0301")
    assert "verify signature failed" in refused.value.message


def test_a_modelarts_get_with_a_body_is_refused() -> None:
    request = next(r for r in REQUESTS if r["family"] == "modelarts" and r["method"] == "GET")
    with pytest.raises(AuthError):
        _verify({**request, "body": {"x": 1}})


@pytest.mark.parametrize("number", QIANFAN_WITH_BODY)
def test_bce_does_not_sign_the_body(number: int) -> None:
    """bce-auth-v1 signs method, path, query and headers only: the body's integrity needs TLS (README)."""
    request = {**REQUESTS[number], "body": {"changed": True}}
    assert _verify(request) == "test-ak"


@pytest.mark.parametrize("number", range(33))
def test_an_unknown_access_key_is_refused(number: int) -> None:
    with pytest.raises(AuthError) as refused:
        _verify(REQUESTS[number], keys={"other-ak": Key("test-sk")})
    expected = (403, "InvalidAccessKeyId") if REQUESTS[number]["family"] == "qianfan" else (401, "APIGW.0301")
    assert (refused.value.status, refused.value.code) == expected


@pytest.mark.parametrize("number", [0, 6])
def test_a_wrong_secret_is_refused(number: int) -> None:
    with pytest.raises(AuthError) as refused:
        _verify(REQUESTS[number], keys={"test-ak": Key("other-sk")})
    assert refused.value.code in ("SignatureDoesNotMatch", "APIGW.0301")


@pytest.mark.parametrize("number", SIGNED)
def test_an_expired_signature_is_refused(number: int) -> None:
    request = REQUESTS[number]
    sent = datetime.fromisoformat(request["time"])
    if request["family"] == "qianfan":
        with pytest.raises(AuthError) as refused:
            _verify(request, now=sent + timedelta(seconds=302))
        assert (refused.value.status, refused.value.code) == (400, "RequestExpired")
        assert _verify(request, now=sent + timedelta(seconds=298)) == "test-ak"
    else:
        with pytest.raises(AuthError) as refused:
            _verify(request, now=sent + timedelta(minutes=15, seconds=2))
        assert (refused.value.status, refused.value.code) == (401, "APIGW.0301")
        assert "15 minutes" in refused.value.message
        assert _verify(request, now=sent + timedelta(minutes=14, seconds=58)) == "test-ak"


@pytest.mark.parametrize("number", range(33))
def test_a_signature_from_the_future_is_refused(number: int) -> None:
    with pytest.raises(AuthError):
        _verify(REQUESTS[number], now=datetime.fromisoformat(REQUESTS[number]["time"]) - timedelta(minutes=16))


def test_the_signed_project_must_be_the_paths() -> None:
    request = next(r for r in REQUESTS if r["family"] == "modelarts")
    headers = {k.lower(): v for k, v in request["headers"].items()}
    body = json.dumps(request["body"]).encode()
    now = datetime.fromisoformat(request["time"])
    with pytest.raises(AuthError) as refused:
        verify_sdk_hmac(KEYS, request["method"], request["path"], "", headers, body, now, "f" * 32)
    assert refused.value.status == 403
    limited = {"test-ak": Key("test-sk", frozenset({"a" * 32}))}
    with pytest.raises(AuthError) as refused:
        verify_sdk_hmac(limited, request["method"], request["path"], "", headers, body, now, PROJECT)
    assert "may not use project" in refused.value.message


def test_malformed_headers_are_refused_with_the_family_error() -> None:
    now = datetime.fromisoformat(REQUESTS[0]["time"])
    with pytest.raises(AuthError) as refused:
        verify_bce(KEYS, "POST", "/wenxinworkshop/etl/list", "", {"authorization": "Bearer x"}, now)
    assert (refused.value.status, refused.value.code) == (400, "InvalidHTTPAuthHeader")
    with pytest.raises(AuthError) as refused:
        verify_sdk_hmac(KEYS, "GET", "/v2/p/processor-tasks", "", {}, b"", now)
    assert (refused.value.status, refused.value.code) == (401, "APIGW.0301")


def test_a_key_never_shows_its_secret() -> None:
    assert "test-sk" not in repr(Key("test-sk"))
    assert not re.search("test-sk", str(KEYS))
