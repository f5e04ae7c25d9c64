"""Verifying the two request signatures the SDKs send (API.md section 3).

Qianfan's console API signs with bce-auth-v1 (the body is not signed); ModelArts signs with
SDK-HMAC-SHA256 (the body's SHA-256 is signed). Both derive from one AK/SK pair. Every check answers
with the family's own error (status, code, message) through `AuthError`; signatures are compared with
`hmac.compare_digest`. Nothing here logs or keeps a secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote, unquote

CLOCK_SKEW = timedelta(minutes=15)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class AuthError(Exception):
    """A refused request: HTTP `status`, the family's error `code`, and a message naming no secret."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Key:
    secret: str
    project_ids: frozenset[str] = field(default_factory=frozenset)  # empty: any ModelArts project

    def __repr__(self) -> str:  # never the secret, even in a traceback
        return f"Key(secret=***, project_ids={sorted(self.project_ids)})"


def _bce_encode(text: str) -> str:
    return quote(text, safe="-_.~")


def verify_bce(keys: Mapping[str, Key], method: str, path: str, query: str, headers: Mapping[str, str],
               now: datetime) -> str:
    """Check a bce-auth-v1 `Authorization`; returns the access key. `path` is the raw (undecoded) request
    path, `query` the raw query string, `headers` looked up case-insensitively (lower-case names)."""
    authorization = headers.get("authorization", "")
    parts = authorization.split("/")
    if len(parts) != 6 or parts[0] != "bce-auth-v1":
        raise AuthError(400, "InvalidHTTPAuthHeader", "the Authorization header is not a bce-auth-v1 signature")
    _, access_key, timestamp, expiration, signed_headers, signature = parts
    key = keys.get(access_key)
    if key is None:
        raise AuthError(403, "InvalidAccessKeyId", "the access key is not known to this server")
    try:
        signed_at = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        valid_for = timedelta(seconds=int(expiration))
    except ValueError:
        raise AuthError(400, "InvalidHTTPAuthHeader", "the signature's timestamp or expiration is malformed") \
            from None
    if now > signed_at + valid_for or signed_at > now + CLOCK_SKEW:
        raise AuthError(400, "RequestExpired", f"the signature made at {timestamp} is not valid now")
    prefix = f"bce-auth-v1/{access_key}/{timestamp}/{expiration}"
    signing_key = hmac.new(key.secret.encode(), prefix.encode(), hashlib.sha256).hexdigest()
    canonical_uri = quote(unquote(path), safe="/-_.~")
    pairs = parse_qsl(query, keep_blank_values=True)
    canonical_query = "&".join(sorted(f"{_bce_encode(k)}={_bce_encode(v)}" for k, v in pairs))
    names = [n.strip().lower() for n in signed_headers.split(";") if n.strip()] or \
        ["host", "content-md5", "content-length", "content-type"]
    lines = []
    for name in names:
        value = headers.get(name, "").strip()
        if value:
            lines.append(f"{_bce_encode(name)}:{_bce_encode(value)}")
    string_to_sign = "\n".join([method.upper(), canonical_uri, canonical_query, "\n".join(sorted(lines))])
    expected = hmac.new(signing_key.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise AuthError(403, "SignatureDoesNotMatch", "the request signature does not match")
    return access_key


def _sdk_encode(text: str) -> str:
    return quote(text, safe="~")


def verify_sdk_hmac(keys: Mapping[str, Key], method: str, path: str, query: str, headers: Mapping[str, str],
                    body: bytes, now: datetime, project_id: str | None = None) -> str:
    """Check an SDK-HMAC-SHA256 `Authorization`; returns the access key. `project_id`: the one the path
    names, which the signed `X-Project-Id` must equal."""
    authorization = headers.get("authorization", "")
    scheme, _, rest = authorization.partition(" ")
    fields = {}
    for item in rest.split(","):
        name, _, value = item.strip().partition("=")
        fields[name] = value
    if scheme != "SDK-HMAC-SHA256" or not {"Access", "SignedHeaders", "Signature"} <= fields.keys():
        raise AuthError(401, "APIGW.0301", "Incorrect IAM authentication information: the Authorization header "
                                           "is not an SDK-HMAC-SHA256 signature")
    key = keys.get(fields["Access"])
    if key is None:
        raise AuthError(401, "APIGW.0301", "Incorrect IAM authentication information: unknown access key")
    signed = fields["SignedHeaders"].split(";")
    if "x-sdk-date" not in signed:
        raise AuthError(401, "APIGW.0301", "Incorrect IAM authentication information: X-Sdk-Date is not signed")
    date = headers.get("x-sdk-date", "")
    try:
        signed_at = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise AuthError(401, "APIGW.0301", "Incorrect IAM authentication information: X-Sdk-Date is malformed") \
            from None
    if abs(now - signed_at) > CLOCK_SKEW:
        raise AuthError(401, "APIGW.0301", f"Incorrect IAM authentication information: the request date {date} "
                                           "is more than 15 minutes from the server's clock")
    canonical_uri = "/".join(_sdk_encode(unquote(segment)) for segment in path.split("/"))
    if not canonical_uri.endswith("/"):
        canonical_uri += "/"
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    canonical_query = "&".join(f"{_sdk_encode(k)}={_sdk_encode(v)}" for k, v in pairs)
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
    payload_hash = headers.get("x-sdk-content-sha256") or hashlib.sha256(body).hexdigest()
    canonical_request = "\n".join([method.upper(), canonical_uri, canonical_query, canonical_headers,
                                   fields["SignedHeaders"], payload_hash])
    string_to_sign = "\n".join(["SDK-HMAC-SHA256", date, hashlib.sha256(canonical_request.encode()).hexdigest()])
    expected = hmac.new(key.secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["Signature"]):
        raise AuthError(401, "APIGW.0301", "Incorrect IAM authentication information: verify signature failed")
    if project_id is not None:
        if "x-project-id" not in signed or headers.get("x-project-id") != project_id:
            raise AuthError(403, "APIGW.0302", "the signed X-Project-Id does not match the project of the path")
        if key.project_ids and project_id not in key.project_ids:
            raise AuthError(403, "APIGW.0302", f"the access key may not use project {project_id}")
    return fields["Access"]
