"""Distributed search on one machine: keras-tuner's chief and workers over gRPC on 127.0.0.1.

Every process runs the same script, which builds its tuner with `make_tuner` and calls
`run_distributed_search`; the environment (see `distributed_env`) says which role it plays:

* the chief serves its oracle (`serve_oracle`): it hands out trials, enforces the budget for
  every worker (trials, wall clock, money), merges the workers' records into `out_dir` and
  returns when every worker has been told to stop;
* a worker runs trials it asks the chief for (`search`) and records them in
  `out_dir/workers/<tuner_id>`.

`start_local_cluster` starts one chief and N workers as subprocesses of such a script:

    # tune.py: the same in every process
    tuner = make_tuner("random", build, directory=out, project_name="logo",
                       budget=SearchBudget(max_trials=20, max_dollars=5.0,
                                           dollars_per_hour=3.67))
    result = run_distributed_search(tuner, train_ds, validation_data=val_ds,
                                    num_workers=2, timeout_seconds=3600)

    # launcher
    cluster = start_local_cluster([sys.executable, "tune.py"], num_workers=2, log_dir=logs)
    cluster.wait(timeout_seconds=4000)

keras-tuner's own chief loop (`keras_tuner.src.distribute.oracle_chief.start_server`) is
replaced by `serve_oracle` so that the budget applies to the whole cluster, the records are
merged live, and the chief leaves within a poll interval instead of sleeping 20 s.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import socket
import subprocess
import time
from concurrent import futures
from typing import Optional, Sequence

import grpc
from keras_tuner.src import protos
from keras_tuner.src.distribute.oracle_chief import OracleServicer
from keras_tuner.src.engine import trial as trial_module

from cuttingedge.trainers.tuning import distributed_env, hparams_log
from cuttingedge.trainers.tuning.errors import DistributedSearchError
from cuttingedge.trainers.tuning.records import TRIALS_JSON, TrialRecord, failure_reason
from cuttingedge.trainers.tuning.search import SearchResult, search, summarise
from cuttingedge.trainers.tuning.tuner import ORACLE_DONE, BudgetMixin, trial_seed

STOPPED = trial_module.TrialStatus.STOPPED


class BudgetedOracleServicer(OracleServicer):
    """keras-tuner's oracle gRPC service, answering STOPPED once the budget is exhausted.

    Args:
      oracle: The chief's `keras_tuner.Oracle`.
      budget: The `SearchBudget` of the whole cluster.
    """

    def __init__(self, oracle, budget):
        super().__init__(oracle)
        self.budget = budget
        self.start = time.monotonic()
        self.stop_reason: Optional[str] = None
        self.stopped_tuners: set[str] = set()

    def CreateTrial(self, request, context):  # noqa: N802 (gRPC method name)
        reason = self.budget.exhausted(len(self.oracle.trials), time.monotonic() - self.start)
        if reason is not None:
            self.stop_reason = self.stop_reason or reason
            trial = trial_module.Trial(self.oracle.get_space(), status=STOPPED)
        else:
            trial = self.oracle.create_trial(request.tuner_id)
        if trial.status == STOPPED:
            self.stop_triggered = True
            self.stopped_tuners.add(request.tuner_id)
        return protos.get_service().CreateTrialResponse(trial=trial.to_proto())

    def finished(self, num_workers: Optional[int]) -> bool:
        """True once stopping began, no trial runs, and every known worker was told to stop."""
        if not self.stop_triggered or self.oracle.ongoing_trials:
            return False
        if num_workers is not None and len(self.stopped_tuners) < num_workers:
            return False
        return set(self.oracle.tuner_ids) <= self.stopped_tuners


def _oracle_record(trial, seed: int) -> TrialRecord:
    status = trial.status if trial.status in ("COMPLETED", "FAILED", "INVALID") else "INVALID"
    return TrialRecord(
        trial_id=trial.trial_id, status=status, hyperparameters=dict(trial.hyperparameters.values),
        metrics={n: trial.metrics.get_best_value(n) for n in trial.metrics.metrics},
        score=trial.score if status == "COMPLETED" else None, param_count=None,
        duration_seconds=None, seed=trial_seed(seed, trial.trial_id),
        failure_reason=failure_reason(trial.message), tuner_id="unknown")


def _worker_rows(out_dir: pathlib.Path) -> dict[str, dict]:
    rows = {}
    for path in sorted((out_dir / "workers").glob(f"*/{TRIALS_JSON}")):
        try:
            rows.update({row["trial_id"]: row for row in json.loads(path.read_text())["trials"]})
        except (OSError, ValueError, KeyError):
            continue  # a worker's file is replaced atomically; a read error means none yet
    return rows


def merge_records(tuner: BudgetMixin) -> int:
    """Puts every trial the chief's oracle has ended into the chief's recorder.

    A worker's row (with parameter count, duration and failure reason) is used when present,
    else a row built from the oracle's trial.

    Returns:
      The number of trials recorded.
    """
    oracle, recorder = tuner.oracle, tuner.recorder
    ended, trials = list(oracle.end_order), dict(oracle.trials)
    rows = _worker_rows(recorder.out_dir)
    known = {r.trial_id: r for r in recorder.records}
    for trial_id in ended:
        if trial_id in rows:
            record = TrialRecord(**rows[trial_id])
        else:
            record = _oracle_record(trials[trial_id], tuner.base_seed)
        if known.get(trial_id) == record:
            continue
        recorder.add(record)
        if trial_id not in known:
            hparams_log.write_trial(recorder.out_dir, trial_id, record.hyperparameters,
                                    recorder.objective, record.score)
    return len(ended)


def _start_server(servicer: BudgetedOracleServicer) -> grpc.Server:
    host = os.environ[distributed_env.ORACLE_IP]
    port = os.environ[distributed_env.ORACLE_PORT]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise DistributedSearchError(
            f"The chief could not listen on {host}:{port}. Expected a free port on this "
            f"machine; pick another with {distributed_env.ORACLE_PORT}.")
    server.start()
    return server


def serve_oracle(tuner: BudgetMixin, *, num_workers: Optional[int] = None,
                 timeout_seconds: Optional[float] = None,
                 poll_seconds: float = 0.2) -> SearchResult:
    """Runs the chief: serves `tuner.oracle` to the workers until the search ends.

    Args:
      tuner: The chief's tuner from `make_tuner` (built with KERASTUNER_TUNER_ID=chief).
      num_workers: Workers expected; the chief waits until each one was told to stop.
      timeout_seconds: Give up after this long (None: wait as long as it takes).
      poll_seconds: How often the chief checks for the end and merges records.

    Returns:
      The `SearchResult` of the whole cluster.

    Raises:
      DistributedSearchError: The port is taken, or the timeout passed.
    """
    servicer = BudgetedOracleServicer(tuner.oracle, tuner.budget)
    tuner.save()
    tuner.recorder.start()
    hparams_log.write_config(tuner.recorder.out_dir, tuner.oracle.get_space(),
                             tuner.recorder.objective)
    server = _start_server(servicer)
    seen = 0
    try:
        while not servicer.finished(num_workers):
            if timeout_seconds is not None and servicer.start + timeout_seconds < time.monotonic():
                raise DistributedSearchError(
                    f"The distributed search did not end within timeout_seconds="
                    f"{timeout_seconds}: {len(servicer.stopped_tuners)} of "
                    f"{num_workers} workers stopped, trials ongoing: "
                    f"{sorted(t.trial_id for t in tuner.oracle.ongoing_trials.values())}.")
            if len(tuner.oracle.end_order) != seen:
                seen = merge_records(tuner)
            time.sleep(poll_seconds)
    finally:
        server.stop(grace=1.0)
    merge_records(tuner)
    tuner.stop_reason = servicer.stop_reason or ORACLE_DONE
    tuner.recorder.finish(tuner.stop_reason)
    return summarise(tuner)


def run_distributed_search(tuner: BudgetMixin, *fit_args, num_workers: Optional[int] = None,
                           timeout_seconds: Optional[float] = None,
                           **fit_kwargs) -> SearchResult:
    """The entry point every process of a distributed search calls.

    Args:
      tuner: This process's tuner from `make_tuner`.
      *fit_args: Passed to `model.fit` in the workers.
      num_workers: Workers the chief waits for (chief only).
      timeout_seconds: The chief's time limit (chief only).
      **fit_kwargs: Passed to `model.fit` in the workers.

    Returns:
      The cluster's `SearchResult` in the chief; this worker's in a worker; a plain search's
      outside a distributed environment.
    """
    if distributed_env.is_chief():
        return serve_oracle(tuner, num_workers=num_workers, timeout_seconds=timeout_seconds)
    return search(tuner, *fit_args, **fit_kwargs)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now (bind to port 0, read it, close).

    Example:
      >>> 1024 <= free_port() <= 65535
      True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclasses.dataclass
class LocalCluster:
    """A chief and its workers, running as subprocesses of this one.

    Args:
      processes: tuner id -> process ("chief" first).
      logs: tuner id -> file with the process's stdout and stderr.
    """

    processes: dict[str, subprocess.Popen]
    logs: dict[str, pathlib.Path]

    def stop(self) -> None:
        """Kills every process still running (each by its own pid)."""
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    def wait(self, timeout_seconds: float) -> dict[str, int]:
        """Waits for every process; kills them all if one fails or time runs out.

        Returns:
          tuner id -> exit code (all 0).

        Raises:
          DistributedSearchError: A process exited non-zero or the timeout passed; the
            message has the tail of its log.
        """
        deadline = time.monotonic() + timeout_seconds
        try:
            for tuner_id, process in self.processes.items():
                try:
                    code = process.wait(timeout=max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    raise DistributedSearchError(
                        f"{tuner_id} still running after timeout_seconds={timeout_seconds}. "
                        f"Log tail:\n{self._tail(tuner_id)}") from None
                if code != 0:
                    raise DistributedSearchError(
                        f"{tuner_id} exited with code {code}. Log tail:\n{self._tail(tuner_id)}")
        finally:
            self.stop()
        return {tuner_id: p.returncode for tuner_id, p in self.processes.items()}

    def _tail(self, tuner_id: str, lines: int = 30) -> str:
        return "\n".join(self.logs[tuner_id].read_text(errors="replace").splitlines()[-lines:])


def start_local_cluster(argv: Sequence[str], *, num_workers: int = 2,
                        log_dir: os.PathLike, host: str = "127.0.0.1",
                        port: Optional[int] = None,
                        env: Optional[dict[str, str]] = None) -> LocalCluster:
    """Starts `argv` as a chief and `num_workers` workers sharing one oracle on `host:port`.

    Args:
      argv: The command every process runs, e.g. `[sys.executable, "tune.py", out_dir]`.
      num_workers: Worker processes ("tuner0", "tuner1", ...).
      log_dir: Folder of the processes' logs (`<tuner_id>.log`).
      host: Address of the chief; keep 127.0.0.1 on one machine.
      port: Port of the chief; a free one when None.
      env: Base environment (default: this process's).

    Returns:
      A `LocalCluster`; call `wait(timeout_seconds)`.
    """
    if num_workers < 1:
        raise ValueError(f"num_workers must be >= 1. Received: num_workers={num_workers}.")
    port = port or free_port(host)
    log_dir = pathlib.Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    processes, logs = {}, {}
    for tuner_id in ["chief", *(f"tuner{i}" for i in range(num_workers))]:
        logs[tuner_id] = log_dir / f"{tuner_id}.log"
        child_env = {**(env if env is not None else os.environ),
                     **distributed_env.cluster_env(tuner_id, host, port)}
        with open(logs[tuner_id], "wb") as log:
            processes[tuner_id] = subprocess.Popen(list(argv), env=child_env, stdout=log,
                                                   stderr=subprocess.STDOUT,
                                                   stdin=subprocess.DEVNULL)
    return LocalCluster(processes=processes, logs=logs)
