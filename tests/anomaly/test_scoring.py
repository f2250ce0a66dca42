"""ScoreSeries: Beam batch scoring through the SavedModel, rejected records counted."""

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from cuttingedge.trainers.anomaly.detector import windows_of
from cuttingedge.trainers.anomaly.export import example_of, export_detector
from cuttingedge.trainers.anomaly.scoring import ScoreSeries



@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    return export_detector(fitted, tmp_path_factory.mktemp("beam") / "model")


def test_score_series_flags_the_spike_and_dead_letters_bad_records(fitted, spiky, saved,
                                                                   spike_at):
    padded = windows_of(spiky, fitted.config.window)
    rows = range(spike_at - 20, spike_at + 1)
    examples = [example_of(padded[i], spiky[i], "series") for i in rows]
    bad = example_of([1.0, 2.0], 3.0, "series")  # wrong window length
    with TestPipeline() as pipeline:
        outputs = (pipeline | beam.Create(examples + [bad])
                   | ScoreSeries(saved, batch_size=8))
        flagged = (outputs.scored | beam.Filter(lambda row: row["is_anomaly"])
                   | beam.Map(lambda row: round(row["value"], 4)))
        assert_that(flagged, equal_to([round(float(spiky[spike_at]), 4)]), label="Flagged")
        count = outputs.scored | "Count" >> beam.combiners.Count.Globally()
        assert_that(count, equal_to([len(examples)]), label="Scored")
        rejected = outputs.rejected | beam.Map(lambda pair: pair[0])
        assert_that(rejected, equal_to([bad]), label="Rejected")
    assert np.isfinite(spiky).all()
