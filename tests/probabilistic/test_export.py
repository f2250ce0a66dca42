"""SavedModel export: reloaded in a fresh process and called through `serving_default`."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from cuttingedge.trainers.probabilistic import export, ladder, predictive

# Runs with this package, Keras and TFP made unimportable: the SavedModel is self-contained.
LOAD_AND_CALL = """
import json, sys
for blocked in ("cuttingedge", "keras", "tensorflow_probability", "tf_keras"):
    sys.modules[blocked] = None
import tensorflow as tf
paths, windows = json.loads(sys.argv[1])
results = {}
for step, path in paths.items():
    serve = tf.saved_model.load(path).signatures["serving_default"]
    first = serve(windows=tf.constant(windows, tf.float32))
    second = serve(windows=tf.constant(windows, tf.float32))
    results[step] = {"first": {k: v.numpy().tolist() for k, v in first.items()},
                     "second_mean": second["mean"].numpy().tolist()}
print(json.dumps(results))
"""

STEPS = ("bayesian_learned_scale", "gaussian_process")


@pytest.mark.slow
def test_exported_forecasters_answer_in_a_fresh_process(tmp_path, rng):
    windows = rng.normal(size=[4, 3]).astype(np.float32)
    models, paths = {}, {}
    for step in STEPS:
        models[step] = ladder.build_model(step, window=3, hidden_units=(8,),
                                          num_train_examples=50, seed=7)
        paths[step] = export.export_forecaster(models[step], tmp_path / step, samples=100)
    completed = subprocess.run(
        [sys.executable, "-c", LOAD_AND_CALL, json.dumps([paths, windows.tolist()])],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    for step, result in results.items():
        got = {k: np.array(v) for k, v in result["first"].items()}
        assert sorted(got) == sorted(export.SIGNATURE_OUTPUTS)
        want = predictive.predict_distribution(models[step], windows, samples=100)
        np.testing.assert_allclose(got["stddev"] ** 2, got["aleatoric_stddev"] ** 2
                                   + got["epistemic_stddev"] ** 2, rtol=1e-4)
        if step == "bayesian_learned_scale":  # Monte Carlo: close, and redrawn per call
            np.testing.assert_allclose(got["mean"], want.mean, atol=0.1)
            np.testing.assert_allclose(got["stddev"], want.stddev, rtol=0.2)
            assert np.all(got["epistemic_stddev"] > 0)
            assert result["second_mean"] != result["first"]["mean"]
        else:
            for name in export.SIGNATURE_OUTPUTS:
                np.testing.assert_allclose(got[name], getattr(want, name), rtol=1e-5,
                                           atol=1e-6)


def test_export_rejects_bad_samples(tmp_path):
    model = ladder.build_model("fixed_scale", window=2)
    with pytest.raises(ValueError, match=r"Received: samples=0\."):
        export.export_forecaster(model, tmp_path / "m", samples=0)
