"""One click-log row: its column mapping, its validated form and the errors that reject it.

A click log is a table of query-document pairs. Every reader (Parquet, CSV, TFRecord of
tf.Example, LETOR/SVMlight) turns its input into plain dicts; `to_click_row` checks a dict
against the rules below and returns a `ClickRow`, or raises `RowError` saying which rule broke.

Rules:
  query_id   required, non-empty
  doc_id     optional (defaults to "<source>:<row>")
  query_text, doc_text  optional strings (default "")
  position   required integer >= 1 (display position; LETOR readers derive it from file order)
  label      required finite number in [0, max_label] (a click 0/1 or a graded relevance)
  timestamp  optional integer (seconds since the epoch)
  features   every other numeric column; each must be a finite number
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, NamedTuple


class RowError(ValueError):
    """A row broke a rule of the click-log contract; the row goes to the dead-letter output."""


@dataclasses.dataclass(frozen=True)
class ClickLogColumns:
    """Which input column holds which field of a click log.

    Args:
      query_id, query_text, doc_id, doc_text, position, label, timestamp: column names.
      features: numeric feature columns; None means every column that is not named above
        and not in `auxiliary`.
      auxiliary: per-document float columns carried into the records but never used as
        features (e.g. the generator's hidden `true_relevance`, kept for evaluation).
      max_label: largest valid label (4 covers clicks and 5-level graded relevance).
    """

    query_id: str = "query_id"
    query_text: str = "query_text"
    doc_id: str = "doc_id"
    doc_text: str = "doc_text"
    position: str = "position"
    label: str = "label"
    timestamp: str = "timestamp"
    features: tuple[str, ...] | None = None
    auxiliary: tuple[str, ...] = ("true_relevance",)
    max_label: float = 4.0

    def __post_init__(self):
        if self.max_label <= 0:
            raise ValueError(f"max_label must be > 0. Received: max_label={self.max_label}")
        if self.features is not None and not isinstance(self.features, tuple):
            object.__setattr__(self, "features", tuple(self.features))

    @property
    def reserved(self) -> frozenset[str]:
        return frozenset(
            (self.query_id, self.query_text, self.doc_id, self.doc_text, self.position,
             self.label, self.timestamp) + tuple(self.auxiliary))


class ClickRow(NamedTuple):
    """A validated click-log row. `source` and `row` say where it came from."""

    query_id: str
    query_text: str
    doc_id: str
    doc_text: str
    position: int
    label: float
    timestamp: int
    features: dict[str, float]
    auxiliary: dict[str, float]
    source: str
    row: int


def _number(value: Any, name: str) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RowError(f"column {name!r} is empty")
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RowError(f"column {name!r} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise RowError(f"column {name!r} is not finite: {value!r}")
    return number


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value)


def to_click_row(raw: Mapping[str, Any], columns: ClickLogColumns, source: str,
                 row: int) -> ClickRow:
    """Validates one raw row and returns it as a `ClickRow`.

    Args:
      raw: column name -> value, as a reader produced it.
      columns: the column mapping and label range.
      source: file the row came from (for error messages and the dead-letter output).
      row: 1-based row number inside `source` (a line number for text formats).

    Returns:
      The validated row.

    Raises:
      RowError: naming the column and the rule it broke.

    Example:
      >>> to_click_row({"query_id": "q1", "position": 1, "label": 1, "bm25": 3.5},
      ...              ClickLogColumns(), "log.csv", 2).features
      {'bm25': 3.5}
    """
    for required in (columns.query_id, columns.position, columns.label):
        if required not in raw:
            raise RowError(f"missing required column {required!r}")
    query_id = _text(raw[columns.query_id]).strip()
    if not query_id:
        raise RowError(f"column {columns.query_id!r} is empty")
    position = _number(raw[columns.position], columns.position)
    if position < 1 or position != int(position):
        raise RowError(f"column {columns.position!r} must be an integer >= 1, got {position:g}")
    label = _number(raw[columns.label], columns.label)
    if not 0 <= label <= columns.max_label:
        raise RowError(
            f"column {columns.label!r} must be in [0, {columns.max_label:g}], got {label:g}")
    timestamp = raw.get(columns.timestamp)
    timestamp = 0 if timestamp in (None, "") else int(_number(timestamp, columns.timestamp))
    names = columns.features
    if names is None:
        names = sorted(k for k in raw if k not in columns.reserved)
    features = {}
    for name in names:
        if name not in raw:
            raise RowError(f"missing feature column {name!r}")
        features[name] = _number(raw[name], name)
    auxiliary = {a: _number(raw[a], a) for a in columns.auxiliary if a in raw}
    doc_id = _text(raw.get(columns.doc_id)).strip() or f"{source}:{row}"
    return ClickRow(query_id=query_id, query_text=_text(raw.get(columns.query_text)),
                    doc_id=doc_id, doc_text=_text(raw.get(columns.doc_text)),
                    position=int(position), label=label, timestamp=timestamp,
                    features=features, auxiliary=auxiliary, source=source, row=row)
