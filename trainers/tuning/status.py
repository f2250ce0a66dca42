"""A human-readable status of a search, from its `status.json` (for `cuttingedge tune status`).

No TensorFlow here: reading a status takes milliseconds, even while the search runs.
"""

from __future__ import annotations

import os
from typing import Optional

from cuttingedge.trainers.tuning.records import load_status


def format_duration(seconds: Optional[float]) -> str:
    """Seconds as "1h 02m 03s", "2m 05s" or "4.2s"; "-" for None.

    Example:
      >>> format_duration(3723), format_duration(125), format_duration(4.24), format_duration(None)
      ('1h 02m 03s', '2m 05s', '4.2s', '-')
    """
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _number(value, fmt: str = ".4f", prefix: str = "") -> str:
    return "-" if value is None else f"{prefix}{value:{fmt}}"


def _left_line(status: dict) -> str:
    left, budget = status["remaining"], status["budget"]
    parts = []
    if budget.get("max_trials") is not None:
        parts.append(f"{left['trials']} trials")
    if budget.get("max_seconds") is not None:
        parts.append(format_duration(left["seconds"]))
    if budget.get("max_dollars") is not None:
        parts.append(_number(left["dollars"], ".2f", "$"))
    estimate = (f"estimated {format_duration(left['estimated_seconds'])}, "
                f"{_number(left['estimated_dollars'], '.2f', '$')}")
    spent = _number(left.get("spent_dollars"), ".2f", "$")
    return f"Left:        {', '.join(parts) or '-'}  ({estimate}; spent {spent})"


def _trial_lines(status: dict, last: int) -> list[str]:
    objective = status["objective"]["name"]
    lines = [f"  {'trial':<6} {'status':<10} {objective:>14} {'duration':>9} {'params':>9}  reason"]
    for row in status["last_trials"][-last:]:
        lines.append(f"  {row['trial_id']:<6} {row['status']:<10} {_number(row['score']):>14} "
                     f"{format_duration(row['duration_seconds']):>9} "
                     f"{_number(row['param_count'], 'd'):>9}  {row['failure_reason'] or ''}")
    return lines


def format_status(out_dir: os.PathLike, last: int = 5) -> str:
    """The status of the search writing to `out_dir`, as a small text table.

    Args:
      out_dir: The search's output folder (holds `status.json`).
      last: How many of the last trials to list (at most the 5 `status.json` keeps).

    Returns:
      Lines: state, trials done, best so far, time and money left, then the last trials.

    Raises:
      StatusNotFoundError: `out_dir` holds no `status.json`.

    Example:
      >>> import tempfile
      >>> from cuttingedge.trainers.tuning.budget import SearchBudget
      >>> from cuttingedge.trainers.tuning.records import TrialRecord, TrialRecorder
      >>> recorder = TrialRecorder(tempfile.mkdtemp(), objective="val_accuracy",
      ...                          direction="max", budget=SearchBudget(max_trials=4),
      ...                          algorithm="random", seed=0)
      >>> recorder.start()
      >>> recorder.add(TrialRecord("0", "COMPLETED", {"units": 8}, {"val_accuracy": 0.625},
      ...                          0.625, 1234, 2.0, 0))
      >>> print(format_status(recorder.out_dir))  # doctest: +ELLIPSIS
      Search:      running (random, maximise val_accuracy)
      Trials done: 1 (1 completed, 0 failed)
      Best so far: 0.6250 (trial 0) units=8
      Elapsed:     ...
      Left:        3 trials  (estimated ...; spent -)
      Last trials:
        trial  status       val_accuracy  duration    params  reason
        0      COMPLETED          0.6250      2.0s      1234
    """
    status = load_status(out_dir)
    objective = status["objective"]
    verb = "maximise" if objective["direction"] == "max" else "minimise"
    best = status["best"]
    best_line = "-" if best is None else (
        f"{_number(best['score'])} (trial {best['trial_id']}) "
        + " ".join(f"{k}={v}" for k, v in best["hyperparameters"].items()))
    lines = [
        f"Search:      {status['stop_reason']} ({status['algorithm']}, {verb} {objective['name']})",
        f"Trials done: {status['trials_done']} ({status['trials_completed']} completed, "
        f"{status['trials_failed']} failed)",
        f"Best so far: {best_line}",
        f"Elapsed:     {format_duration(status['elapsed_seconds'])}",
        _left_line(status),
        "Last trials:",
        *_trial_lines(status, last),
    ]
    return "\n".join(line.rstrip() for line in lines)
