"""Errors a user can cause, in the seed's error shape `{"code": ..., "message": ...}`."""

from __future__ import annotations

PARAM_INVALID = "ParamFieldValueInvalid"


class EtlError(Exception):
    """An error caused by what the user gave us (config, arguments, paths), refused before any work."""

    def __init__(self, message: str, code: str = PARAM_INVALID) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class ConfigError(EtlError):
    """The pipeline config is invalid; `problems` lists every problem found, not only the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def json_kind(value: object) -> str:
    """The JSON kind of a parsed value, for messages: null, boolean, number, string, array, object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"
