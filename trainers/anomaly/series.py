"""One univariate series in NAB's `timestamp,value` layout, read in input order, nothing dropped.

Every input row becomes one point, at its input position (the model reads the values in file
order, the order a stream would deliver them). What is unusual in a row is flagged, never
silently repaired or removed:

    empty / NaN / non-numeric value  kept; `missing` = True; the model sees the last observed
                                     value (forward fill; the first observed value before it).
                                     Non-numeric text is counted apart (`unparseable_values`).
    unparseable timestamp            kept with its row and scored; `bad_timestamp` = True; the
                                     output keeps the original text. Only ordering matters to
                                     the model, and that is the row order.
    duplicate timestamp              kept in input order; counted (`duplicate_timestamps`).
    backward timestamp               kept in input order (not re-sorted); counted
                                     (`backward_timestamps`: rows earlier than the row before).
    constant series                  allowed: the detector floors the scale (see `detector`).
    too short                        `SeriesTooShortError` naming the minimum length.

Example:
    >>> import io
    >>> text = "timestamp,value\\n2024-01-01 00:00,1.0\\nnot a time,\\n2024-01-01 00:10,3\\n"
    >>> s = read_series(io.StringIO(text), name="demo")
    >>> s.values.tolist(), s.missing.tolist(), s.bad_timestamp.tolist()
    ([1.0, 1.0, 3.0], [False, True, False], [False, True, False])
    >>> s.notes.missing_values, s.notes.bad_timestamps
    (1, 1)
"""

from __future__ import annotations

import dataclasses
import io
import os

import numpy as np

_EMPTY = ("", "nan", "na", "null", "none")


class SeriesError(ValueError):
    """The input cannot be read as one series (a data-contract error: fix the file)."""


class SeriesTooShortError(SeriesError):
    """The series has fewer rows than the detector needs."""


@dataclasses.dataclass(frozen=True)
class SeriesNotes:
    """Counts of the unusual rows of a series (module docstring)."""

    rows: int
    missing_values: int = 0
    unparseable_values: int = 0
    bad_timestamps: int = 0
    duplicate_timestamps: int = 0
    backward_timestamps: int = 0

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Series:
    """One series, one entry per input row, in input order.

    Attributes:
        name: a label (the file name when read from a file).
        timestamp_text: the timestamps as written in the input (strings).
        timestamps: datetime64[ns]; NaT where `bad_timestamp`.
        raw: the values as read, float64, NaN where `missing`.
        values: `raw` with missing values filled (forward, then backward at the start).
        missing: True where the input value was empty, NaN or not a number.
        bad_timestamp: True where the timestamp could not be parsed.
        rows: 1-based row number in the file (the header is row 0).
        notes: counts of the above.
    """

    name: str
    timestamp_text: np.ndarray
    timestamps: np.ndarray
    raw: np.ndarray
    values: np.ndarray
    missing: np.ndarray
    bad_timestamp: np.ndarray
    rows: np.ndarray
    notes: SeriesNotes

    def __len__(self) -> int:
        return len(self.values)

    def __post_init__(self):
        lengths = {f.name: len(getattr(self, f.name)) for f in dataclasses.fields(self)
                   if isinstance(getattr(self, f.name), np.ndarray)}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"Expected every field of Series to have one length per row. "
                             f"Received lengths {lengths}.")


def minimum_length(window: int) -> int:
    """The fewest rows any detector can use: a full window of past values plus one target."""
    return int(window) + 1


def check_length(series: Series | int, window: int) -> None:
    """Raises SeriesTooShortError unless the series has at least `window + 1` rows.

    Example:
        >>> check_length(10, window=32)
        Traceback (most recent call last):
        ...
        cuttingedge.trainers.anomaly.series.SeriesTooShortError: The series has 10 rows; at \
least window + 1 = 33 are needed (a full window of past values and one value to predict). \
Pass a longer series or a smaller window.
    """
    rows = series if isinstance(series, (int, np.integer)) else len(series)
    name = "" if isinstance(series, (int, np.integer)) else f" {series.name!r}"
    if rows < minimum_length(window):
        raise SeriesTooShortError(
            f"The series{name} has {rows} rows; at least window + 1 = {minimum_length(window)} "
            f"are needed (a full window of past values and one value to predict). Pass a "
            f"longer series or a smaller window.")


def parse_values(texts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parses value texts: returns (raw float64 with NaN, missing mask, non-numeric mask).

    Example:
        >>> raw, missing, bad = parse_values(["1.5", "", "abc", "nan", "inf"])
        >>> missing.tolist(), bad.tolist()
        ([False, True, True, True, True], [False, False, True, False, True])
    """
    import pandas as pd

    text = pd.Series([str(t) for t in texts], dtype=object).str.strip()
    number = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    empty = text.str.lower().isin(_EMPTY).to_numpy()
    missing = ~np.isfinite(number)
    unparseable = missing & ~empty
    return np.where(missing, np.nan, number), missing, unparseable


def parse_timestamps(texts) -> np.ndarray:
    """Parses timestamp texts to datetime64[ns] (UTC-naive), NaT where unparseable.

    Numbers are read as epoch seconds when most of the column is numeric.

    Example:
        >>> parse_timestamps(["2024-01-02 03:04:05", "soon"]).astype(str).tolist()
        ['2024-01-02T03:04:05.000000000', 'NaT']
    """
    import pandas as pd

    text = pd.Series([str(t).strip() for t in texts], dtype=object)
    numeric = pd.to_numeric(text, errors="coerce")
    if len(text) and numeric.notna().mean() > 0.5:
        parsed = pd.to_datetime(numeric, unit="s", errors="coerce")
    else:
        parsed = pd.to_datetime(text, errors="coerce")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.to_numpy(dtype="datetime64[ns]")


def fill_missing(raw: np.ndarray, name: str = "series") -> np.ndarray:
    """Forward-fills NaNs, back-filling the leading ones from the first observed value.

    Raises:
        SeriesError: when no value is observed at all.

    Example:
        >>> fill_missing(np.array([np.nan, 2.0, np.nan, 4.0])).tolist()
        [2.0, 2.0, 2.0, 4.0]
    """
    observed = np.isfinite(raw)
    if not observed.any():
        raise SeriesError(f"Series {name!r} has no numeric value in its {len(raw)} rows. "
                          f"Expected numbers in the value column.")
    index = np.where(observed, np.arange(len(raw)), 0)
    np.maximum.accumulate(index, out=index)
    filled = raw[index]
    first = int(np.argmax(observed))
    filled[:first] = raw[first]
    return filled.astype(np.float64)


def order_notes(timestamps: np.ndarray) -> tuple[int, int]:
    """Counts (duplicate, backward) timestamps among the parseable ones, in input order.

    A duplicate repeats any earlier timestamp; a backward one is earlier than the last
    parseable timestamp before it.

    Example:
        >>> t = np.array(["2024-01-01", "2024-01-03", "2024-01-02", "2024-01-03"], "M8[ns]")
        >>> order_notes(t)
        (1, 1)
    """
    valid = timestamps[~np.isnat(timestamps)].astype(np.int64)
    if len(valid) < 2:
        return 0, 0
    duplicates = len(valid) - len(np.unique(valid))
    backward = int(np.sum(np.diff(valid) < 0))
    return int(duplicates), backward


def from_arrays(values, timestamps=None, name: str = "series") -> Series:
    """A Series from raw values (NaN = missing) and optional timestamp texts.

    Example:
        >>> from_arrays([1.0, float("nan"), 3.0]).values.tolist()
        [1.0, 1.0, 3.0]
    """
    values = np.asarray(values)
    if values.ndim != 1:
        raise SeriesError(f"Expected a one-dimensional series of values. Received shape "
                          f"{values.shape}.")
    if values.dtype.kind in "fiub":
        raw = values.astype(np.float64)
        missing = ~np.isfinite(raw)
        raw = np.where(missing, np.nan, raw)
        unparseable = np.zeros(len(raw), dtype=bool)
    else:
        raw, missing, unparseable = parse_values(values)
    if timestamps is None:
        text = np.array([str(i) for i in range(len(raw))], dtype=object)
        parsed = np.full(len(raw), np.datetime64("NaT"), dtype="datetime64[ns]")
        bad = np.zeros(len(raw), dtype=bool)
    else:
        text = np.array([str(t) for t in timestamps], dtype=object)
        if len(text) != len(raw):
            raise SeriesError(f"Expected one timestamp per value. Received {len(text)} "
                              f"timestamps and {len(raw)} values.")
        parsed = parse_timestamps(text)
        bad = np.isnat(parsed)
    duplicates, backward = order_notes(parsed)
    notes = SeriesNotes(rows=len(raw), missing_values=int(missing.sum()),
                        unparseable_values=int(unparseable.sum()),
                        bad_timestamps=int(bad.sum()) if timestamps is not None else 0,
                        duplicate_timestamps=duplicates, backward_timestamps=backward)
    return Series(name=name, timestamp_text=text, timestamps=parsed, raw=raw,
                  values=fill_missing(raw, name) if len(raw) else raw.copy(), missing=missing,
                  bad_timestamp=bad, rows=np.arange(1, len(raw) + 1), notes=notes)


def read_series(source, timestamp_column: str = "timestamp", value_column: str = "value",
                name: str | None = None) -> Series:
    """Reads a NAB-layout CSV (`timestamp,value`) into a Series, every row kept, in order.

    Args:
        source: a path or a text file object.
        timestamp_column, value_column: column names (NAB's by default).
        name: the series name; the file name by default.

    Raises:
        SeriesError: unreadable file, missing columns, no numeric value at all.

    Example:
        >>> import io
        >>> read_series(io.StringIO("time,v\\n1,2\\n"), "time", "v").values.tolist()
        [2.0]
    """
    import pandas as pd

    label = name or (os.path.basename(os.fspath(source)) if not isinstance(source, io.IOBase)
                     else "series")
    try:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise SeriesError(f"Cannot read {label!r} as CSV: {error}. Expected a "
                          f"'{timestamp_column},{value_column}' header, then one row per "
                          f"point.") from error
    frame.columns = [str(c).strip() for c in frame.columns]
    absent = [c for c in (timestamp_column, value_column) if c not in frame.columns]
    if absent:
        raise SeriesError(f"{label!r} has no column(s) {absent}. Expected columns "
                          f"{[timestamp_column, value_column]}. Received columns "
                          f"{list(frame.columns)}.")
    return from_arrays(frame[value_column].to_numpy(dtype=object),
                       frame[timestamp_column].to_numpy(dtype=object), name=label)
