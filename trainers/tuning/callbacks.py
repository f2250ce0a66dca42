"""A Keras callback that ends training at a wall-clock deadline (the budget's time or money)."""

from __future__ import annotations

import time

import keras


class DeadlineCallback(keras.callbacks.Callback):
    """Sets `model.stop_training` once `time.monotonic()` passes `deadline`.

    Checked after every training batch and at the start of every epoch. Keras still runs the
    validation of the epoch it stops in, so a trial cut short reports the metrics it reached.

    Args:
      deadline: A `time.monotonic()` value; None never stops.

    Example:
      >>> import time
      >>> import numpy as np
      >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
      >>> model.compile(loss="mse")
      >>> stop = DeadlineCallback(deadline=time.monotonic())
      >>> history = model.fit(np.zeros((64, 2)), np.zeros(64), batch_size=8, epochs=5,
      ...                     callbacks=[stop], verbose=0)
      >>> stop.stopped, len(history.history["loss"])
      (True, 1)
    """

    def __init__(self, deadline: float | None):
        super().__init__()
        self.deadline = deadline
        self.stopped = False

    def _check(self) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.model.stop_training = True
            self.stopped = True

    def on_train_batch_end(self, batch, logs=None):
        self._check()

    def on_epoch_begin(self, epoch, logs=None):
        self._check()
