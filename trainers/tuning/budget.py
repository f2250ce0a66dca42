"""How much a search may spend: trials, wall-clock seconds and money, whichever runs out first.

Money is wall-clock time priced at the machine rate:

    spent_dollars = elapsed_seconds / 3600 * dollars_per_hour

so a money limit is a time limit of `max_dollars / dollars_per_hour * 3600` seconds.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

from cuttingedge.trainers.tuning.errors import InvalidBudgetError

SECONDS_PER_HOUR = 3600.0


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class SearchBudget:
    """Limits of one search; the first one reached stops it.

    Args:
      max_trials: Most trials to start, an int > 0, or None for no trial limit.
      max_seconds: Most wall-clock seconds from the start of the search, > 0, or None.
      max_dollars: Most money to spend at `dollars_per_hour`, > 0, or None.
      dollars_per_hour: Machine rate (e.g. 3.67 for a GPU machine), >= 0. Required with
        `max_dollars`; without it, it still prices the estimates in `remaining()`.

    Raises:
      InvalidBudgetError: No limit set, a limit <= 0, a negative rate, or a wrong type.

    Example:
      >>> budget = SearchBudget(max_trials=10, max_dollars=1.0, dollars_per_hour=3.6)
      >>> budget.deadline_seconds
      1000.0
      >>> budget.exhausted(trials_done=3, elapsed_seconds=1200.0)
      'max_dollars=1.0 reached: spent $1.2000 at $3.6/h in 1200.0 s'
      >>> budget.remaining(trials_done=2, elapsed_seconds=100.0)["estimated_seconds"]
      400.0
    """

    max_trials: Optional[int] = None
    max_seconds: Optional[float] = None
    max_dollars: Optional[float] = None
    dollars_per_hour: Optional[float] = None

    def __post_init__(self):
        if self.max_trials is not None and (
            not isinstance(self.max_trials, int) or isinstance(self.max_trials, bool)
        ):
            raise InvalidBudgetError(
                f"max_trials must be an int or None. Received: max_trials={self.max_trials!r} "
                f"of type {type(self.max_trials).__name__}."
            )
        for name in ("max_trials", "max_seconds", "max_dollars"):
            self._check_positive(name, getattr(self, name))
        self._check_rate()
        if self.max_trials is None and self.max_seconds is None and self.max_dollars is None:
            raise InvalidBudgetError(
                "A SearchBudget needs at least one limit. Received: max_trials=None, "
                "max_seconds=None, max_dollars=None. Set e.g. max_trials=20 or max_seconds=3600."
            )

    def _check_positive(self, name: str, value) -> None:
        if value is None:
            return
        if not _is_number(value) or not math.isfinite(value):
            raise InvalidBudgetError(
                f"{name} must be a finite number or None. Received: {name}={value!r}."
            )
        if value <= 0:
            raise InvalidBudgetError(
                f"{name} must be > 0. Received: {name}={value}. Use None for no {name} limit."
            )

    def _check_rate(self) -> None:
        rate = self.dollars_per_hour
        if rate is None:
            if self.max_dollars is not None:
                raise InvalidBudgetError(
                    f"max_dollars needs the machine rate dollars_per_hour (e.g. 3.67). "
                    f"Received: max_dollars={self.max_dollars}, dollars_per_hour=None."
                )
            return
        if not _is_number(rate) or not math.isfinite(rate) or rate < 0:
            raise InvalidBudgetError(
                f"dollars_per_hour must be a finite number >= 0. "
                f"Received: dollars_per_hour={rate!r}."
            )
        if rate == 0 and self.max_dollars is not None:
            raise InvalidBudgetError(
                f"dollars_per_hour=0 never spends max_dollars={self.max_dollars}. "
                f"Received: dollars_per_hour=0. Set the machine rate or use max_seconds."
            )

    @property
    def deadline_seconds(self) -> Optional[float]:
        """Seconds from the start after which time or money is gone, or None without such limit.

        Returns:
          min(max_seconds, max_dollars / dollars_per_hour * 3600) over the limits that are set.
        """
        limits = [limit for _, limit in self._time_limits()]
        return min(limits) if limits else None

    def _time_limits(self) -> list[tuple[str, float]]:
        limits = []
        if self.max_seconds is not None:
            limits.append(("max_seconds", float(self.max_seconds)))
        if self.max_dollars is not None:
            seconds = self.max_dollars / self.dollars_per_hour * SECONDS_PER_HOUR
            limits.append(("max_dollars", seconds))
        return limits

    def spent_dollars(self, elapsed_seconds: float) -> Optional[float]:
        """Money spent after `elapsed_seconds`, or None when no rate is set.

        Args:
          elapsed_seconds: Wall-clock seconds since the start of the search.

        Returns:
          elapsed_seconds / 3600 * dollars_per_hour, or None.
        """
        if self.dollars_per_hour is None:
            return None
        return elapsed_seconds / SECONDS_PER_HOUR * self.dollars_per_hour

    def exhausted(self, trials_done: int, elapsed_seconds: float) -> Optional[str]:
        """Why the search must stop now, or None while budget is left.

        Args:
          trials_done: Trials started so far.
          elapsed_seconds: Wall-clock seconds since the start of the search.

        Returns:
          A sentence naming the limit that ran out first, or None.
        """
        if self.max_trials is not None and trials_done >= self.max_trials:
            return f"max_trials={self.max_trials} reached: {trials_done} trials done"
        reached = [(limit, name) for name, limit in self._time_limits() if elapsed_seconds >= limit]
        if not reached:
            return None
        _, name = min(reached)
        if name == "max_seconds":
            return f"max_seconds={self.max_seconds} reached: {elapsed_seconds:.1f} s elapsed"
        return (
            f"max_dollars={self.max_dollars} reached: spent "
            f"${self.spent_dollars(elapsed_seconds):.4f} at ${self.dollars_per_hour}/h "
            f"in {elapsed_seconds:.1f} s"
        )

    def remaining(self, trials_done: int, elapsed_seconds: float) -> dict:
        """What is left, with estimates from the mean trial time so far.

        Args:
          trials_done: Trials finished so far.
          elapsed_seconds: Wall-clock seconds since the start of the search.

        Returns:
          A dict with `trials`, `seconds`, `dollars` left (None for a limit not set, never
          negative), `spent_dollars`, `mean_trial_seconds`, and `estimated_seconds` /
          `estimated_dollars`: the time until the first limit runs out, where the trial limit
          counts trials_left * mean_trial_seconds (None when it cannot be estimated yet).
        """
        trials = None if self.max_trials is None else max(self.max_trials - trials_done, 0)
        seconds = None
        if self.deadline_seconds is not None:
            seconds = max(self.deadline_seconds - elapsed_seconds, 0.0)
        spent = self.spent_dollars(elapsed_seconds)
        dollars = None if self.max_dollars is None else max(self.max_dollars - spent, 0.0)
        mean = elapsed_seconds / trials_done if trials_done > 0 else None
        candidates = [] if seconds is None else [seconds]
        if trials is not None and mean is not None:
            candidates.append(trials * mean)
        estimated = min(candidates) if candidates else None
        seconds_left = None
        if self.max_seconds is not None:
            seconds_left = max(self.max_seconds - elapsed_seconds, 0.0)
        return {
            "trials": trials,
            "seconds": seconds_left,
            "dollars": dollars,
            "spent_dollars": spent,
            "mean_trial_seconds": mean,
            "estimated_seconds": estimated,
            "estimated_dollars": self.spent_dollars(estimated) if estimated is not None else None,
        }

    def to_dict(self) -> dict:
        """The four fields as a JSON-ready dict (what `status.json` stores as `budget`)."""
        return dataclasses.asdict(self)
