"""Reading NAB-layout series: every row kept, in input order, oddities flagged and counted."""

import io

import numpy as np
import pytest

from cuttingedge.trainers.anomaly.series import (SeriesError, SeriesTooShortError,
                                                 check_length, from_arrays, read_series)

CSV = """timestamp,value
2024-01-01 00:00:00,1.0
2024-01-01 00:05:00,
2024-01-01 00:10:00,NaN
2024-01-01 00:10:00,4.0
yesterday-ish,5.0
2024-01-01 00:05:00,abc
2024-01-01 00:30:00,7.0
"""


def test_every_row_is_kept_in_input_order_with_its_flags():
    s = read_series(io.StringIO(CSV), name="odd")
    assert len(s) == 7 and s.rows.tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert s.timestamp_text.tolist()[4] == "yesterday-ish"
    assert s.missing.tolist() == [False, True, True, False, False, True, False]
    assert s.values.tolist() == [1.0, 1.0, 1.0, 4.0, 5.0, 5.0, 7.0]  # forward-filled
    assert s.bad_timestamp.tolist() == [False] * 4 + [True] + [False] * 2
    notes = s.notes
    assert (notes.missing_values, notes.unparseable_values, notes.bad_timestamps) == (3, 1, 1)
    # 00:10 twice, 00:05 twice; backward: 00:05 after 00:10.
    assert (notes.duplicate_timestamps, notes.backward_timestamps) == (2, 1)


def test_leading_missing_values_take_the_first_observed_value():
    assert from_arrays([np.nan, np.nan, 3.0, np.nan]).values.tolist() == [3.0, 3.0, 3.0, 3.0]


def test_a_series_without_numbers_is_an_error():
    with pytest.raises(SeriesError, match=r"Series 'x' has no numeric value in its 2 rows\. "
                                          r"Expected numbers in the value column\."):
        from_arrays(["", "n/a"], name="x")


def test_missing_columns_name_what_was_received():
    with pytest.raises(SeriesError, match=r"has no column\(s\) \['value'\]\. Expected columns "
                                          r"\['timestamp', 'value'\]\. Received columns "
                                          r"\['timestamp', 'v'\]\."):
        read_series(io.StringIO("timestamp,v\n1,2\n"))


def test_too_short_names_the_minimum_length():
    with pytest.raises(SeriesTooShortError, match=r"The series 'tiny' has 3 rows; at least "
                                                  r"window \+ 1 = 5 are needed"):
        check_length(from_arrays([1.0, 2.0, 3.0], name="tiny"), window=4)


def test_constant_series_is_read_as_is():
    s = from_arrays(np.full(50, 7.0))
    assert np.all(s.values == 7.0) and s.notes.missing_values == 0
