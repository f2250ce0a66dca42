"""A chief and two workers on 127.0.0.1 share one oracle (keras-tuner's gRPC service)."""

import json
import pathlib
import sys

import pytest

from cuttingedge.trainers.tuning.distributed import start_local_cluster

JOB = pathlib.Path(__file__).with_name("distributed_job.py")


@pytest.mark.slow
def test_chief_and_two_workers_share_one_oracle(tmp_path):
    cluster = start_local_cluster([sys.executable, str(JOB), str(tmp_path)], num_workers=2,
                                  log_dir=tmp_path / "logs")
    assert cluster.wait(timeout_seconds=240) == {"chief": 0, "tuner0": 0, "tuner1": 0}
    project = tmp_path / "dist"

    # The chief's oracle (keras-tuner's own saved state) ended all 4 trials.
    oracle = json.loads((project / "oracle.json").read_text())
    assert sorted(oracle["end_order"]) == ["0", "1", "2", "3"]
    for trial_id in oracle["end_order"]:
        trial = json.loads((project / f"trial_{trial_id}" / "trial.json").read_text())
        assert trial["status"] == "COMPLETED" and trial["score"] is not None

    # Each worker ran some of them, no trial twice.
    ran = {}
    for worker in ("tuner0", "tuner1"):
        rows = json.loads((project / "workers" / worker / "trials.json").read_text())["trials"]
        assert rows, f"{worker} ran no trial"
        ran[worker] = {row["trial_id"] for row in rows}
        assert {row["tuner_id"] for row in rows} == {worker}
    assert ran["tuner0"].isdisjoint(ran["tuner1"])
    assert ran["tuner0"] | ran["tuner1"] == {"0", "1", "2", "3"}

    # The chief merged the workers' rows and stopped on the budget.
    merged = json.loads((project / "trials.json").read_text())["trials"]
    assert sorted(row["trial_id"] for row in merged) == ["0", "1", "2", "3"]
    assert all(row["param_count"] is not None for row in merged)
    status = json.loads((project / "status.json").read_text())
    assert status["stop_reason"] == "max_trials=4 reached: 4 trials done"
    assert status["trials_done"] == 4
    worker_status = json.loads((project / "workers" / "tuner0" / "status.json").read_text())
    assert worker_status["stop_reason"] == "the chief stopped the search (its status.json says why)"


def test_a_worker_whose_chief_has_shut_down_still_reports_its_best_values():
    """The chief stops serving once the search is over; a worker finishing later cannot ask
    the oracle for its space, and must still return its best values, not crash."""
    import types

    import grpc

    from cuttingedge.trainers.tuning import search as search_module

    class GoneOracle:
        def get_space(self):
            raise grpc.RpcError("CANCELLED")

    hp = search_module._space(types.SimpleNamespace(oracle=GoneOracle()))
    hp.values = {"units": 4}
    assert hp.values == {"units": 4}
