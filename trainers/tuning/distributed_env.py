"""keras-tuner's distributed-tuning environment variables, read when asked (never at import).

keras-tuner runs one chief (the oracle, served over gRPC) and any number of workers (tuners
that ask the chief for trials), all started from the same script with:

* `KERASTUNER_TUNER_ID`: "chief" for the chief, a unique id per worker ("tuner0", ...);
* `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT`: where the chief serves the oracle.

Example:
  >>> env = cluster_env("tuner0", "127.0.0.1", 8000)
  >>> env["KERASTUNER_TUNER_ID"], env["KERASTUNER_ORACLE_PORT"]
  ('tuner0', '8000')
"""

from __future__ import annotations

import os
import pathlib

TUNER_ID = "KERASTUNER_TUNER_ID"
ORACLE_IP = "KERASTUNER_ORACLE_IP"
ORACLE_PORT = "KERASTUNER_ORACLE_PORT"
CHIEF = "chief"


def cluster_env(tuner_id: str, host: str, port: int) -> dict[str, str]:
    """The three variables that put a process in a distributed search.

    Args:
      tuner_id: "chief" for the oracle process, a unique id for each worker.
      host: Address the chief serves on (127.0.0.1 on one machine).
      port: Port the chief serves on.

    Returns:
      A dict to merge into the child process's environment.
    """
    return {TUNER_ID: tuner_id, ORACLE_IP: host, ORACLE_PORT: str(port)}


def is_distributed() -> bool:
    """True when this process is part of a chief/worker search."""
    return ORACLE_IP in os.environ


def is_chief() -> bool:
    """True in the chief process (its tuner id contains "chief", as keras-tuner checks)."""
    return is_distributed() and CHIEF in os.environ.get(TUNER_ID, "")


def is_worker() -> bool:
    """True in a worker process."""
    return is_distributed() and not is_chief()


def tuner_id() -> str:
    """This process's tuner id ("tuner0" outside a distributed search, keras-tuner's default)."""
    return os.environ.get(TUNER_ID, "tuner0")


def records_dir(out_dir: pathlib.Path) -> pathlib.Path:
    """Where this process writes trial records: `out_dir`, or `out_dir/workers/<id>` in a worker.

    The chief merges the workers' rows into `out_dir` (see `distributed.serve_oracle`).
    """
    return out_dir / "workers" / tuner_id() if is_worker() else out_dir
