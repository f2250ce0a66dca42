"""Early warning on real run-to-failure engines (bundled: NASA C-MAPSS FD001, units 1-4).

Each engine's first 40% of life is its known-healthy part. FD001's degradation is usually
taken to start about 125 cycles before failure: the detector must stay quiet while more than
140 cycles remain and warn at least 30 cycles before every failure.
"""

import importlib.resources

import numpy as np
import pytest

from cuttingedge.trainers.anomaly import engines as fleet_lib
from cuttingedge.trainers.anomaly.detector import fit_detector

SAMPLE = "cmapss/train_FD001_engines_1-4.txt"


@pytest.fixture(scope="module")
def fleet():
    path = importlib.resources.files("cuttingedge.sample_data").joinpath(SAMPLE)
    return fleet_lib.read_fleet(str(path))


def test_the_sample_fleet_reads_as_four_engines_run_to_failure(fleet):
    assert {u: len(rows) for u, rows in fleet.items()} == {1: 192, 2: 287, 3: 179, 4: 189}
    assert all((np.diff(rows[:, 1]) == 1).all() for rows in fleet.values())
    columns = fleet_lib.informative_columns(fleet)
    constant = {5, 9, 14, 20, 22, 23}  # sensors 1, 5, 10, 16, 18, 19: constant in FD001
    assert not constant & set(columns) and len(columns) == 15
    assert len(fleet_lib.fleet_series(fleet, columns)) == 4 * 15


def test_every_engine_is_warned_before_failure_and_not_while_healthy(fleet):
    import keras

    keras.utils.set_random_seed(0)
    series = fleet_lib.fleet_series(fleet, fleet_lib.informative_columns(fleet))
    config = fleet_lib.degradation_config(step="learned_scale", epochs=15)
    detector = fit_detector(series, config)
    flags = {name: detector.score(values, name).is_anomaly for name, values in series.items()}
    for unit, rows in fleet.items():
        alarm = fleet_lib.machine_alarms(flags, unit, vote=3)
        life = len(rows)
        remaining = life - 1 - np.arange(life)
        first = np.flatnonzero(alarm)
        assert len(first), f"engine {unit} failed without an alarm"
        warning = remaining[first[0]]
        assert warning >= 30, f"engine {unit}: warned only {warning} cycles ahead"
        assert not alarm[remaining > 140].any(), f"engine {unit}: alarm while healthy"


def test_a_malformed_fleet_file_names_the_line(tmp_path):
    path = tmp_path / "fleet.txt"
    path.write_text("1 1 " + " ".join(["0"] * 24) + "\n1 2 0 0\n")
    with pytest.raises(ValueError, match=r"fleet.txt:2: expected 26 numbers"):
        fleet_lib.read_fleet(path)
    with pytest.raises(FileNotFoundError, match="No fleet file"):
        fleet_lib.read_fleet(tmp_path / "missing.txt")
