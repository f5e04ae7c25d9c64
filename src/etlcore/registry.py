"""The operator registry: every operator class by name, and which kind each stage takes.

Operator modules register themselves with `@register`; `operators()` imports them all once, `operator(name)`
only the module of that one (a module is named after its operator), so that a run of a light config does
not pay for building the tables and loading the libraries of every other operator.
"""

from __future__ import annotations

import importlib
import pkgutil

from etlcore.operators.base import Deduplicator, Filter, Mapper, Operator

STAGES = ("clean", "filter", "deduplication", "desensitization")
STAGE_KIND: dict[str, type[Operator]] = {
    "clean": Mapper,
    "filter": Filter,
    "deduplication": Deduplicator,
    "desensitization": Mapper,
}

# Every operator of the contract (SPEC section 3) and its stage, implemented or not yet, so that a
# config naming one that this version lacks is told so instead of "unknown operator".
CONTRACT: dict[str, str] = {
    **dict.fromkeys(
        [
            "remove_emoji",
            "remove_invisible_character",
            "replace_uniform_whitespace",
            "remove_non_meaning_characters",
            "replace_traditional_chinese_to_simplified",
            "remove_web_identifiers",
            "remove_url",
            "remove_exception_char",
            "replace_sim2trad",
            "replace_trad2sim",
            "replace_upper2lower",
            "cut",
        ],
        "clean",
    ),
    **dict.fromkeys(
        [
            "filter_check_number_words",
            "filter_check_word_repetition_removal",
            "filter_check_character_repetition_removal",
            "filter_check_special_characters",
            "filter_check_flagged_words",
            "filter_check_lang_id",
            "filter_check_perplexity",
        ],
        "filter",
    ),
    "deduplication_simhash": "deduplication",
    **dict.fromkeys(
        ["replace_emails", "replace_ip", "replace_identifier", "remove_id_card", "remove_phone_number"],
        "desensitization",
    ),
}

_OPERATORS: dict[str, type[Operator]] = {}
_loaded = False


def register(cls: type[Operator]) -> type[Operator]:
    """Class decorator: add an operator to the registry, checking that it is well formed."""
    kind = STAGE_KIND.get(cls.stage)
    if kind is None or not issubclass(cls, kind):
        raise TypeError(f"{cls.__name__}: stage {cls.stage!r} takes a {kind.__name__ if kind else '?'}")
    if not cls.rule():
        raise TypeError(f"{cls.__name__}: an operator's docstring states its exact rule")
    declared = {arg.name for arg in cls.args}
    for bound in (getattr(cls, "min_cutoff", None), getattr(cls, "max_cutoff", None)):
        if bound is not None and bound not in declared:
            raise TypeError(f"{cls.__name__}: its cutoff {bound!r} is not one of its args")
    if cls.name in _OPERATORS:
        raise TypeError(f"operator {cls.name!r} is registered twice")
    _OPERATORS[cls.name] = cls
    return cls


def operators() -> dict[str, type[Operator]]:
    """All registered operator classes by name (imports every module of `etlcore.operators` once)."""
    global _loaded
    if not _loaded:
        package = importlib.import_module("etlcore.operators")
        for module in pkgutil.iter_modules(package.__path__):
            if module.name != "base" and not module.name.startswith("_"):
                importlib.import_module(f"etlcore.operators.{module.name}")
        _loaded = True
    return _OPERATORS


def operator(name: str) -> type[Operator] | None:
    """The operator class of that name, or None; imports its own module only."""
    if name not in _OPERATORS and name in CONTRACT and not _loaded:
        try:
            importlib.import_module(f"etlcore.operators.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"etlcore.operators.{name}":  # a library the module needs: not a missing operator
                raise
    return _OPERATORS.get(name) or operators().get(name)


def by_stage() -> dict[str, list[type[Operator]]]:
    found = operators()
    return {stage: sorted((c for c in found.values() if c.stage == stage), key=lambda c: c.name)
            for stage in STAGES}
