"""One process of the distributed-search test; KERASTUNER_TUNER_ID says chief or worker.

Usage: python distributed_job.py OUT_DIR
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from cuttingedge.trainers.tuning import SearchBudget  # noqa: E402
from cuttingedge.trainers.tuning.distributed import run_distributed_search  # noqa: E402
from cuttingedge.trainers.tuning.search import make_tuner  # noqa: E402


class SlowEpochs(keras.callbacks.Callback):
    """Makes each trial last a couple of seconds, so both workers get trials."""

    def on_epoch_end(self, epoch, logs=None):
        time.sleep(2.0)


def build(hp):
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(hp.Choice("filters", [2, 3, 4, 5]), 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], run_eagerly=True)
    return model


def main(out_dir: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((48, 8, 8, 3), dtype=np.float32)
    y = rng.integers(0, 2, 48)
    tuner = make_tuner("random", build, directory=out_dir, project_name="dist",
                       budget=SearchBudget(max_trials=4), seed=3)
    result = run_distributed_search(tuner, x[:32], y[:32], validation_data=(x[32:], y[32:]),
                                    epochs=1, batch_size=16, callbacks=[SlowEpochs()],
                                    verbose=0, num_workers=2, timeout_seconds=180)
    print(json.dumps({"tuner_id": tuner.tuner_id, "stop_reason": result.stop_reason,
                      "trials": [r.trial_id for r in result.trials]}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
