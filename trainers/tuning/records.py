"""The trial table and the live status of a search, written after every trial.

Files in the output folder (each replaced atomically: temp file in the same folder, then
`os.replace`, so a reader never sees half a file):

* `trials.csv`, `trials.json`: one row per trial: hyperparameters, metrics (the objective and
  the others, best epoch value), parameter count, duration, status, failure reason, and the
  seed that, with the hyperparameter values, rebuilds the trial's model
  (`keras.utils.set_random_seed(seed)` then `hypermodel.build(hp)`).
* `status.json`: trials done, best so far, objective by trial, elapsed time, budget left and
  the stop reason (`"running"` until the search ends).

This module imports neither TensorFlow nor keras-tuner; `hparams_log.py` writes TensorBoard.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import json
import math
import os
import pathlib
import tempfile
import time
from typing import Any, Mapping, Optional

from cuttingedge.trainers.tuning.budget import SearchBudget
from cuttingedge.trainers.tuning.errors import StatusNotFoundError

STATUSES = ("COMPLETED", "FAILED", "INVALID")
RUNNING = "running"
TRIALS_CSV, TRIALS_JSON, STATUS_JSON = "trials.csv", "trials.json", "status.json"
_FIXED_COLUMNS = ("trial_id", "status", "score", "param_count", "duration_seconds", "seed",
                  "tuner_id", "stopped_at_deadline")


def finite_or_none(value) -> Optional[float]:
    """`value` as a float, or None for None, NaN or infinity (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclasses.dataclass(frozen=True)
class TrialRecord:
    """One row of the trial table.

    Args:
      trial_id: keras-tuner's trial id ("00", "01", ...).
      status: One of STATUSES.
      hyperparameters: Hyperparameter values of the trial (name -> bool, int, float or str).
      metrics: Best value of every metric the trial reported, the objective included.
      score: The objective value keras-tuner ranks trials by, None for a failed trial.
      param_count: Parameters of the built model, None when the build failed.
      duration_seconds: Wall-clock seconds from the trial's start to its end.
      seed: Seed set with `keras.utils.set_random_seed` before the model was built.
      failure_reason: Last line of the trial's traceback when it did not complete.
      tuner_id: The tuner (process) that ran the trial.
      stopped_at_deadline: True when the budget's wall-clock deadline cut the training short.

    Example:
      >>> TrialRecord("00", "COMPLETED", {"units": 8}, {"val_accuracy": 0.5}, 0.5, 120, 1.5, 7)
      ... # doctest: +ELLIPSIS
      TrialRecord(trial_id='00', status='COMPLETED', hyperparameters={'units': 8}, ...)
    """

    trial_id: str
    status: str
    hyperparameters: Mapping[str, Any]
    metrics: Mapping[str, Optional[float]]
    score: Optional[float]
    param_count: Optional[int]
    duration_seconds: Optional[float]
    seed: Optional[int]
    failure_reason: Optional[str] = None
    tuner_id: str = "tuner0"
    stopped_at_deadline: bool = False

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(
                f"Unknown trial status {self.status!r} for trial {self.trial_id!r}. "
                f"Expected one of {list(STATUSES)}."
            )

    def to_json(self) -> dict:
        """The record as a JSON-ready dict (non-finite numbers become None)."""
        row = dataclasses.asdict(self)
        row["metrics"] = {name: finite_or_none(v) for name, v in self.metrics.items()}
        row["score"] = finite_or_none(self.score)
        row["hyperparameters"] = dict(self.hyperparameters)
        return row


def failure_reason(message: Optional[str]) -> Optional[str]:
    """The last non-empty line of a traceback (keras-tuner's `trial.message`), or None.

    Example:
      >>> failure_reason("Traceback ...\\n  File x\\nValueError: width=3 is not supported\\n")
      'ValueError: width=3 is not supported'
    """
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    return lines[-1] if lines else None


def write_atomic(path: os.PathLike, text: str) -> None:
    """Writes `text` to `path` through a temp file in the same folder and `os.replace`."""
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the files are for any reader
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def trials_csv(records: list[TrialRecord]) -> str:
    """The trial table as CSV text: fixed columns, then `hp.<name>`, `metric.<name>`, reason."""
    hp_names, metric_names = [], []
    for record in records:
        hp_names += [n for n in record.hyperparameters if n not in hp_names]
        metric_names += [n for n in record.metrics if n not in metric_names]
    header = [*_FIXED_COLUMNS, *(f"hp.{n}" for n in hp_names),
              *(f"metric.{n}" for n in metric_names), "failure_reason"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for record in records:
        row = record.to_json()
        writer.writerow([*(row[c] for c in _FIXED_COLUMNS),
                         *(row["hyperparameters"].get(n) for n in hp_names),
                         *(row["metrics"].get(n) for n in metric_names),
                         row["failure_reason"]])
    return out.getvalue()


def load_status(out_dir: os.PathLike) -> dict:
    """Reads `<out_dir>/status.json`.

    Raises:
      StatusNotFoundError: The folder holds no status.json.
    """
    path = pathlib.Path(out_dir) / STATUS_JSON
    if not path.is_file():
        raise StatusNotFoundError(
            f"No {STATUS_JSON} in {str(out_dir)!r}. Expected the output folder of a search "
            f"(the out_dir of make_tuner, by default <directory>/<project_name>, written "
            f"after every trial). Received: out_dir={out_dir!r}."
        )
    return json.loads(path.read_text(encoding="utf-8"))


def load_trials(out_dir: os.PathLike) -> list[dict]:
    """Reads the trial rows of `<out_dir>/trials.json` ([] before the first trial ends)."""
    path = pathlib.Path(out_dir) / TRIALS_JSON
    if not path.is_file():
        return []
    return json.loads(path.read_text(encoding="utf-8"))["trials"]


class TrialRecorder:
    """Keeps the trial table and writes it, with `status.json`, after every trial.

    Args:
      out_dir: Output folder, created if missing.
      objective: Name of the objective metric, e.g. "val_accuracy".
      direction: "max" or "min".
      budget: The search budget (for the time and money left).
      algorithm: Search algorithm name, stored for the reader.
      seed: The search seed (the oracle's), stored for reproduction.

    Example:
      >>> import tempfile
      >>> recorder = TrialRecorder(tempfile.mkdtemp(), objective="val_accuracy", direction="max",
      ...                          budget=SearchBudget(max_trials=2), algorithm="random", seed=1)
      >>> recorder.start()
      >>> recorder.add(TrialRecord("0", "COMPLETED", {"units": 4}, {"val_accuracy": 0.75},
      ...                          0.75, 30, 0.5, 1))
      >>> status = load_status(recorder.out_dir)
      >>> status["trials_done"], status["best"]["score"], status["stop_reason"]
      (1, 0.75, 'running')
    """

    def __init__(self, out_dir: os.PathLike, *, objective: str, direction: str,
                 budget: SearchBudget, algorithm: str, seed: Optional[int]):
        if direction not in ("max", "min"):
            raise ValueError(
                f"direction must be 'max' or 'min'. Received: direction={direction!r}.")
        self.out_dir = pathlib.Path(out_dir)
        self.objective, self.direction = objective, direction
        self.budget, self.algorithm, self.seed = budget, algorithm, seed
        self._records: dict[str, TrialRecord] = {}
        self._started: Optional[float] = None
        self._final_elapsed: Optional[float] = None
        self.stop_reason = RUNNING

    @property
    def records(self) -> list[TrialRecord]:
        """The trials recorded so far, in the order they first ended."""
        return list(self._records.values())

    def elapsed(self) -> float:
        """Seconds since `start()` (0 before it), frozen by `finish()`."""
        if self._final_elapsed is not None:
            return self._final_elapsed
        return 0.0 if self._started is None else time.monotonic() - self._started

    def start(self) -> None:
        """Starts the clock and writes a first `status.json`."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._started = time.monotonic()
        self._final_elapsed = None
        self.stop_reason = RUNNING
        self.write_status()

    def add(self, record: TrialRecord) -> None:
        """Adds (or replaces, for a retried trial) one record and rewrites every file."""
        self._records[record.trial_id] = record
        self.out_dir.mkdir(parents=True, exist_ok=True)
        rows = [r.to_json() for r in self.records]
        document = {"objective": {"name": self.objective, "direction": self.direction},
                    "algorithm": self.algorithm, "seed": self.seed, "trials": rows}
        write_atomic(self.out_dir / TRIALS_JSON, json.dumps(document, indent=1))
        write_atomic(self.out_dir / TRIALS_CSV, trials_csv(self.records))
        self.write_status()

    def finish(self, stop_reason: str) -> None:
        """Writes the final `status.json` with why the search stopped."""
        self.stop_reason = stop_reason
        self._final_elapsed = None
        self._final_elapsed = self.elapsed()
        self.write_status()

    def best(self) -> Optional[TrialRecord]:
        """The completed trial with the best score so far, or None."""
        scored = [r for r in self.records
                  if r.status == "COMPLETED" and finite_or_none(r.score) is not None]
        if not scored:
            return None
        pick = max if self.direction == "max" else min
        return pick(scored, key=lambda r: r.score)

    def history(self) -> list[dict]:
        """Objective by trial, with the best score so far after each one."""
        points, best = [], None
        better = (lambda a, b: a > b) if self.direction == "max" else (lambda a, b: a < b)
        for record in self.records:
            score = finite_or_none(record.score) if record.status == "COMPLETED" else None
            if score is not None and (best is None or better(score, best)):
                best = score
            points.append({"trial_id": record.trial_id, "status": record.status,
                           "score": score, "best_so_far": best})
        return points

    def status(self) -> dict:
        """The content of `status.json`."""
        records, elapsed, best = self.records, self.elapsed(), self.best()
        count = {s: sum(r.status == s for r in records) for s in STATUSES}
        return {
            "objective": {"name": self.objective, "direction": self.direction},
            "algorithm": self.algorithm,
            "seed": self.seed,
            "trials_done": len(records),
            "trials_completed": count["COMPLETED"],
            "trials_failed": count["FAILED"] + count["INVALID"],
            "best": None if best is None else {"trial_id": best.trial_id, "score": best.score,
                                               "hyperparameters": dict(best.hyperparameters)},
            "history": self.history(),
            "last_trials": [r.to_json() for r in records[-5:]],
            "elapsed_seconds": elapsed,
            "budget": self.budget.to_dict(),
            "remaining": self.budget.remaining(len(records), elapsed),
            "stop_reason": self.stop_reason,
            "updated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }

    def write_status(self) -> None:
        """Rewrites `status.json`."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self.out_dir / STATUS_JSON, json.dumps(self.status(), indent=1))
