"""Fleets of machines that degrade: NASA C-MAPSS-style run-to-failure data, early warning.

A fleet file has one row per machine and cycle: `unit cycle setting1..3 sensor1..21`
(space-separated, no header: C-MAPSS's layout). Each informative sensor of each machine is
one series named `unit007/s11`; the first `train_fraction` of each machine's life is its
known-healthy part. Degradation is a slow drift, so the detector sees absolute (per-series
standardised) values rather than window-standardised ones, which would follow the drift,
and its threshold stays where the healthy part put it (`degradation_config`). A machine
alarms at a cycle where at least `vote` of its sensors exceed their thresholds.

Example:
    >>> import numpy as np
    >>> rows = np.array([[1, c, 0, 0, 100] + [float(c)] * 21 for c in range(1, 6)])
    >>> fleet = fleet_from_rows(rows)
    >>> sorted(fleet), fleet[1].shape
    ([1], (5, 26))
    >>> machine_alarms({"unit001/s02": np.array([0, 1, 1]), "unit001/s03": np.array([0, 0, 1])},
    ...                unit=1, vote=2).tolist()
    [False, False, True]
"""

from __future__ import annotations

import os

import numpy as np

from cuttingedge.trainers.anomaly.detector import DetectorConfig

SENSOR_COLUMNS = range(5, 26)  # 0-based: after unit, cycle and three operational settings


def fleet_from_rows(rows: np.ndarray) -> dict[int, np.ndarray]:
    """unit -> its rows [cycles, 26] in cycle order."""
    rows = np.asarray(rows, np.float64)
    if rows.ndim != 2 or rows.shape[1] != 26:
        raise ValueError(f"Expected rows of 26 columns (unit, cycle, 3 settings, 21 sensors). "
                         f"Received shape {rows.shape}.")
    ordered = rows[np.lexsort((rows[:, 1], rows[:, 0]))]  # by unit, then cycle
    return {int(u): ordered[ordered[:, 0] == u] for u in np.unique(ordered[:, 0])}


def read_fleet(path) -> dict[int, np.ndarray]:
    """Reads a C-MAPSS file (e.g. train_FD001.txt) into unit -> rows.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: a line does not have 26 numbers (the message names the line).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No fleet file at {path!r}. Expected a C-MAPSS text file "
                                f"such as train_FD001.txt.")
    rows = []
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                values = [float(v) for v in line.split()]
            except ValueError:
                values = []
            if len(values) != 26:
                raise ValueError(f"{path}:{number}: expected 26 numbers (unit, cycle, 3 "
                                 f"settings, 21 sensors). Received: {line.strip()[:80]!r}")
            rows.append(values)
    return fleet_from_rows(np.array(rows))


def informative_columns(fleet: dict[int, np.ndarray]) -> list[int]:
    """Sensor columns that vary across the fleet (stddev above 1e-6 of their scale)."""
    table = np.concatenate(list(fleet.values()))
    return [c for c in SENSOR_COLUMNS
            if table[:, c].std() > 1e-6 * max(1.0, abs(table[:, c].mean()))]


def series_name(unit: int, column: int) -> str:
    return f"unit{unit:03d}/s{column - 4:02d}"


def fleet_series(fleet: dict[int, np.ndarray], columns) -> dict[str, np.ndarray]:
    """series name -> values, for every unit and column."""
    return {series_name(u, c): rows[:, c] for u, rows in fleet.items() for c in columns}


def degradation_config(**overrides) -> DetectorConfig:
    """Detector settings for slow degradation (module docstring): absolute framing, no
    adaptive threshold, no refractory period, a short window, the first 40% as healthy."""
    settings = dict(window=10, train_fraction=0.4, validation_fraction=0.5,
                    false_alarm_rate=1e-3, window_standardise=False, relative=False,
                    nested=False, adaptive=False, refractory_fraction=0.0, samples=20,
                    alarm_gate="none")
    return DetectorConfig(**{**settings, **overrides})


def machine_alarms(flags: dict[str, np.ndarray], unit: int, vote: int = 2) -> np.ndarray:
    """Cycles at which at least `vote` sensors of `unit` are flagged ([cycles] bool)."""
    prefix = f"unit{unit:03d}/"
    mine = [np.asarray(f, bool) for name, f in sorted(flags.items()) if name.startswith(prefix)]
    if not mine:
        raise KeyError(f"No series of unit {unit} among the flags.")
    return np.sum(mine, axis=0) >= vote
