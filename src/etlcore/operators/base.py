"""The three kinds of operator and their typed arguments.

- A `Mapper` changes text, a whole Arrow batch at a time. A document whose text becomes empty or
  whitespace-only is dropped by the runner and counted in that mapper's `drop_count`.
- A `Filter` first computes one statistic per document over a batch (`compute`), then decides against
  its cutoffs (`keep`). The statistic is what the rejects file records and what analysis plots, so both
  use the same `compute`.
- A `Deduplicator` needs the whole corpus: it fingerprints each batch as it streams past
  (`fingerprint`), then decides once over all fingerprints (`find_duplicates`).

Every operator declares `name`, `stage`, `args` and a docstring stating its exact rule.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pyarrow as pa

from etlcore.errors import json_kind

if TYPE_CHECKING:
    from etlcore.simhash import FrequentLines


@dataclass(frozen=True)
class Arg:
    """One typed argument of an operator, with its allowed range and default."""

    name: str
    kind: type  # float, int, str or bool
    doc: str
    required: bool = False
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    is_path: bool = False  # names a file: a task confines it to its allowed folder

    def allowed(self) -> str:
        """The allowed values in words, for `etlcore ops` and error messages."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        kind = {float: "number", int: "integer", str: "string", bool: "boolean"}[self.kind]
        if self.minimum is not None and self.maximum is not None:
            return f"{kind} in [{_fmt(self.minimum)}, {_fmt(self.maximum)}]"
        if self.minimum is not None:
            return f"{kind} >= {_fmt(self.minimum)}"
        if self.maximum is not None:
            return f"{kind} <= {_fmt(self.maximum)}"
        return kind

    def check(self, operator: str, value: Any, from_text: bool = False) -> tuple[Any, str | None]:
        """Return (value converted to `kind`, None) or (None, the problem in words).

        `from_text` accepts numbers and booleans written as strings, as ModelArts bodies send them.
        """
        where = f"operator '{operator}' arg '{self.name}'"
        bad_type = f"{where}: got {value!r} ({json_kind(value)}), allowed: {self.allowed()}"
        if from_text and isinstance(value, str) and self.kind is not str:
            value = _parse_text(value, self.kind)
        if self.kind is bool:
            return (value, None) if isinstance(value, bool) else (None, bad_type)
        if self.kind is str:
            if isinstance(value, str) and (not self.choices or value in self.choices):
                return value, None
            return None, bad_type
        # Numbers: JSON booleans are not numbers, and NaN/inf are never in range.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None, bad_type
        if self.kind is int and not float(value).is_integer():
            return None, bad_type
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            return None, f"{where}: value {value!r} is out of range, allowed: {self.allowed()}"
        return self.kind(value), None


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def short_number(value: float, digits: int = 4) -> str:
    """A statistic as the rejects file shows it: rounded to `digits` decimals, no trailing zeros."""
    return f"{round(float(value), digits):g}"


def _apart(value: float, bound: float) -> tuple[str, str]:
    """`value` and `bound` shown with as many decimals as it takes to tell them apart (0.30004 > max 0.3)."""
    for digits in (4, 6, 8, 10, 12, 15):
        shown, limit = short_number(value, digits), short_number(bound, digits)
        if shown != limit:
            return shown, limit
    return repr(float(value)), repr(float(bound))


def _parse_text(text: str, kind: type) -> Any:
    if kind is bool:
        return {"true": True, "false": False}.get(text.strip().lower(), text)
    try:  # "-3" stays the integer -3, so that a message echoes it as given (not -3.0)
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


class Operator:
    """Base of every operator. Subclasses set the class attributes and implement their kind's method."""

    name: ClassVar[str]
    stage: ClassVar[str]
    args: ClassVar[tuple[Arg, ...]] = ()
    # The legacy `result.<counter>.processed_entity` this operator feeds, if any (SPEC section 4).
    counter: ClassVar[str | None] = None
    # Runs as a few Arrow kernels over the batch, cheaper than reading and writing the rows: a config of such
    # operators only runs in one process by default (more processes would cost more than they save).
    light: ClassVar[bool] = False

    def __init__(self, **values: Any) -> None:
        """`values` are already checked by the config; missing optional args take their defaults."""
        for arg in self.args:
            setattr(self, arg.name, values.get(arg.name, arg.default))

    @classmethod
    def check_together(cls, values: dict[str, Any]) -> list[str]:
        """Problems that involve several args at once (e.g. min > max). Override where needed."""
        return []

    @classmethod
    def rule(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")


class Mapper(Operator):
    def map_texts(self, texts: pa.StringArray) -> pa.StringArray:
        """Return the new texts, one per input text, same length and order."""
        raise NotImplementedError


class Filter(Operator):
    statistic: ClassVar[str]  # name written in the rejects file, e.g. "char_rep_ratio"
    # The args holding the lowest and the highest statistic kept, if the filter has such a bound: the
    # rejects file names the bound a document crossed (`words=1 < min 2.2`).
    min_cutoff: ClassVar[str | None] = None
    max_cutoff: ClassVar[str | None] = None

    def reason(self, value: float) -> str:
        """Why a document with this statistic was rejected, for the rejects file: the statistic and the
        bound it crossed, `words=1 < min 2.2`, `perplexity=1191.3 > max 1000` (the statistic alone when
        no declared bound explains it)."""
        low = getattr(self, self.min_cutoff) if self.min_cutoff else None
        high = getattr(self, self.max_cutoff) if self.max_cutoff else None
        if low is not None and value < low:
            shown, bound = _apart(value, low)
            return f"{self.statistic}={shown} < min {bound}"
        if high is not None and value > high:
            shown, bound = _apart(value, high)
            return f"{self.statistic}={shown} > max {bound}"
        return f"{self.statistic}={short_number(value)}"

    def compute(self, texts: pa.StringArray) -> np.ndarray:
        """The per-document statistic, float64, one per text."""
        raise NotImplementedError

    def keep(self, values: np.ndarray) -> np.ndarray:
        """Boolean mask: which documents pass, given their statistic."""
        raise NotImplementedError


class Deduplicator(Operator):
    # True: the fingerprints leave out lines frequent in the corpus, so a first look at the corpus
    # counts in how many documents each line occurs (`etlcore.simhash.LineCounts`) before any fingerprint.
    counts_lines: bool = False

    def line_threshold(self, documents: int) -> int:
        """With `counts_lines`: lines in at least this many of the corpus's `documents` are frequent."""
        raise NotImplementedError

    def fingerprint(self, texts: pa.StringArray, frequent_lines: FrequentLines | None = None) -> np.ndarray:
        """One fixed-size fingerprint per text (streaming part; never keeps the texts)."""
        raise NotImplementedError

    def find_duplicates(self, fingerprints: np.ndarray,
                        texts: Callable[[np.ndarray], pa.Array] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Over the whole corpus, in input order: (kept_index, distance) per document.

        kept_index is -1 for a document that is kept, else the index of the kept document it
        duplicates; distance is how far it is from the member it was linked through. `texts`, when the
        caller can give it, reads the texts of the documents at the given positions (sorted, distinct;
        positions in `fingerprints`) back from where they are spooled, for a deduplicator that checks
        candidate pairs by their texts (`needs_texts`).
        """
        raise NotImplementedError

    @property
    def needs_texts(self) -> bool:
        """Whether `find_duplicates` reads texts back (see there)."""
        return False
