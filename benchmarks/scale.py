"""How the cost of click-log generation + ingestion grows with size, on a multi-process engine.

First a start-up probe of --probe-rows (default 1,000) rows, then each size N (rows) of 1e5, 3e5,
1e6, 3e6, 1e7 up to --max-rows (default 1e6: about 3 minutes on 2 cores; --max-rows 1e7: 20
minutes, 2.5 GB at most). Each size runs two measured jobs, each in its own child process, on
the DirectRunner with `--direct_running_mode=multi_processing --direct_num_workers=2`:
  generate  GenerateClickLogs(ClickGeneratorConfig(rows=N, shards=S, seed=0)) -> Parquet shards,
            S = max(4, ceil(N / 250,000)) so that no shard (generated whole in one worker's
            memory) holds more than 250,000 rows
  ingest    IngestClickLogs(shards, ClickLogIngestConfig(grouping=G)) -> per-query tf.Example
            TFRecords per split, dead letters and summary.json. G = --grouping: "contiguous"
            (default; the generator writes each impression's rows together, so every file is
            grouped as it is read, with no shuffle: memory flat) or "shuffle" (a CombinePerKey,
            which the DirectRunner's coordinator holds in memory: ~2.7 GB more per 1e6 rows,
            so 1e7 rows would need ~27 GB)
then the parent checks the ingestion's summary.json: all N rows read, none rejected, no
document cut, and as many lists as the generator made impressions; a mismatch stops the run
before any figure is printed or written.

Figures per job:
  seconds    wall time of the job's work inside the child, after its imports (pipeline
             construction, Beam's worker start-up and writing files are included)
  CPU s      user + system CPU of every process of the child's tree (Beam's worker processes
             included), from psutil samples every 100 ms (the last sample of each process);
             `cpu_seconds_rusage` in the JSON is the child's own getrusage (self + ended
             children) over the same span, as a cross-check
  peak RSS   largest sum of resident memory over the child's process tree, sampled every 100 ms;
             the JSON also has the largest RSS of the child itself (Beam's coordinator, which
             holds the data between stages) and of its largest other process (a Beam worker)
Fits (least squares over the sizes, not the probe): the slope of log(seconds) against log(rows)
(1 = linear), the same for the "net" seconds above the probe's (the fixed start-up cost of a
job: interpreter, Beam workers, pipeline set-up), the slope of log(peak RSS) against log(rows)
(0 = flat), and seconds = fixed + rows / marginal rate.
Extrapolation to 1e9 rows: worker-hours = 1e9 / (rows per CPU-second) / 3600, with the
marginal rate of the fit of total CPU seconds against rows (start-up cost left out), assuming
one worker = one core at the measured per-core rate and perfect linear scale-out (no shuffle,
network or coordinator overhead; the DirectRunner itself runs on one machine).

`--engine dask` runs the same jobs on the project's fixed DaskRunner
(`cuttingedge.pipelines.dask_runner`) over a dask.distributed LocalCluster of the same number
of single-threaded worker processes. Its outputs match the DirectRunner's (tests/scale), but it
is slow: at 1e5 rows ingestion took 365 s against 33 s on the DirectRunner, with ~1.8 GB per
worker, because Beam's Dask translation recomputes a side input's whole upstream bag inside
every task that reads it.

    python benchmarks/scale.py [--max-rows 1e6] [--sizes 1e5,3e5] [--engine direct|dask]
                               [--out PATH.json] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata

import numpy as np
import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "results", "scale.json")
LADDER = (100_000, 300_000, 1_000_000, 3_000_000, 10_000_000)
DEFAULT_MAX_ROWS = 1_000_000
DEFAULT_PROBE_ROWS = 1_000
MAX_SHARD_ROWS = 250_000
WORKERS = 2
ENGINE = ["--direct_running_mode=multi_processing", f"--direct_num_workers={WORKERS}"]
DASK_RUNNER = "cuttingedge.pipelines.dask_runner.DaskRunner"
ENGINES = ("direct", "dask")
JOBS = ("generate", "ingest")
TARGET_ROWS = 1_000_000_000
_MB = 1024 * 1024


class BenchmarkError(RuntimeError):
    """A job failed or its output is not what the generator made; no figures are reported."""


def shards_for(rows: int) -> int:
    return max(4, math.ceil(rows / MAX_SHARD_ROWS))


# ---------------------------------------------------------------- child side: the jobs


@contextlib.contextmanager
def _engine_options(spec: dict):
    """Beam options of the job's engine. "dask": a dask.distributed LocalCluster of WORKERS
    single-threaded worker processes (children of this job, so the sampler sees them) and the
    project's fixed DaskRunner."""
    if spec.get("engine", "direct") == "direct":
        yield ENGINE
        return
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        yield [f"--runner={DASK_RUNNER}", f"--dask_client_address={cluster.scheduler_address}"]


def _generate(spec: dict) -> dict:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from cuttingedge.components.clicklog.generate import ClickGeneratorConfig
    from cuttingedge.components.clicklog.generate import GenerateClickLogs

    config = ClickGeneratorConfig(rows=spec["rows"], shards=spec["shards"], seed=0)
    start = time.perf_counter()
    with _engine_options(spec) as options, beam.Pipeline(
            options=PipelineOptions(options)) as pipeline:
        _ = pipeline | GenerateClickLogs(config, spec["logs"])
    return {"seconds": time.perf_counter() - start}


def _ingest(spec: dict) -> dict:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from cuttingedge.components.clicklog.ingest import ClickLogIngestConfig, IngestClickLogs

    files = sorted(os.path.join(spec["logs"], name) for name in os.listdir(spec["logs"])
                   if name.endswith(".parquet"))
    out = spec["out"]
    start = time.perf_counter()
    with _engine_options(spec) as options, beam.Pipeline(
            options=PipelineOptions(options)) as pipeline:
        _ = pipeline | IngestClickLogs(files, ClickLogIngestConfig(grouping=spec["grouping"]),
                                       os.path.join(out, "examples"), os.path.join(out, "dead"))
    return {"seconds": time.perf_counter() - start}


def _rusage_cpu() -> float:
    """User + system CPU of this process and of its children that have ended."""
    import resource

    return sum(usage.ru_utime + usage.ru_stime for usage in (
        resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))


def _child(spec_json: str) -> None:
    """Runs one job (in a child process) and writes its figures to spec['result']."""
    spec = json.loads(spec_json)
    import apache_beam  # noqa: F401  (imports are start-up cost, kept out of the timing)
    import pyarrow.parquet  # noqa: F401
    import tensorflow  # noqa: F401

    import cuttingedge.components.clicklog.ingest  # noqa: F401

    baseline, cpu = psutil.Process().memory_info().rss, _rusage_cpu()
    with open(spec["result"] + ".start", "w") as handle:  # the parent starts counting CPU here
        handle.write(str(time.time()))
    result = {"generate": _generate, "ingest": _ingest}[spec["job"]](spec)
    result["cpu_seconds_rusage"] = _rusage_cpu() - cpu
    result["baseline_rss_mb"] = baseline / _MB
    with open(spec["result"], "w") as handle:
        json.dump(result, handle)


# ---------------------------------------------------------------- parent side: measuring


class _TreeSampler:
    """Samples RSS and CPU time of a process and all its descendants."""

    def __init__(self, pid: int):
        self._root = psutil.Process(pid)
        self._cpu_at_start: dict[int, float] = {}
        self._cpu_last: dict[int, float] = {}
        self.peak_rss, self.processes, self.counting = 0, 0, False
        self.peak_root_rss, self.peak_other_rss = 0, 0

    def sample(self) -> None:
        try:
            members = [self._root] + self._root.children(recursive=True)
        except psutil.NoSuchProcess:
            return
        rss, alive = 0, 0
        for member in members:
            try:
                with member.oneshot():
                    resident = member.memory_info().rss
                    times = member.cpu_times()
                alive += 1
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            rss += resident
            if member.pid == self._root.pid:
                self.peak_root_rss = max(self.peak_root_rss, resident)
            else:
                self.peak_other_rss = max(self.peak_other_rss, resident)
            cpu = times.user + times.system
            if not self.counting:
                self._cpu_at_start[member.pid] = cpu
            self._cpu_last[member.pid] = cpu
        self.peak_rss, self.processes = max(self.peak_rss, rss), max(self.processes, alive)

    def start_counting(self) -> None:
        self.sample()
        self.counting = True

    @property
    def cpu_seconds(self) -> float:
        return sum(cpu - self._cpu_at_start.get(pid, 0.0) for pid, cpu in self._cpu_last.items())


def _run_child(spec: dict, log_path: str, timeout: float) -> dict:
    """Runs one job in a child process, sampling its tree; returns its figures."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONWARNINGS="ignore")
    command = [sys.executable, os.path.abspath(__file__), "--_job", json.dumps(spec)]
    start = time.monotonic()
    with open(log_path, "w") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        sampler = _TreeSampler(child.pid)
        while child.poll() is None:
            if not sampler.counting and os.path.exists(spec["result"] + ".start"):
                sampler.start_counting()
            sampler.sample()
            if time.monotonic() - start > timeout:
                child.kill()
                child.wait()
                raise BenchmarkError(f"Job {spec['job']} ran over --timeout={timeout:g}s. "
                                     f"Raise --timeout or lower --max-rows. Log: {log_path}")
            time.sleep(0.1)
    if child.returncode != 0 or not os.path.exists(spec["result"]):
        with open(log_path) as handle:
            tail = "".join(handle.readlines()[-25:])
        raise BenchmarkError(f"Job {spec['job']} (rows={spec['rows']}) failed with exit code "
                             f"{child.returncode}. Last lines of {log_path}:\n{tail}")
    with open(spec["result"]) as handle:
        result = json.load(handle)
    result.update(peak_rss_mb=sampler.peak_rss / _MB, processes=sampler.processes,
                  cpu_seconds=sampler.cpu_seconds,
                  peak_rss_coordinator_mb=sampler.peak_root_rss / _MB,
                  peak_rss_largest_worker_mb=sampler.peak_other_rss / _MB)
    return result


def expected_lists(rows: int, shards: int) -> int:
    """Impressions (= query ids = lists) the generator makes: ceil(shard rows / list size)."""
    from cuttingedge.components.clicklog.generate import ClickGeneratorConfig

    config = ClickGeneratorConfig(rows=rows, shards=shards)
    return sum(-(-config.shard_rows(s) // config.list_size) for s in range(shards))


def _check(rows: int, shards: int, out: str) -> dict:
    with open(os.path.join(out, "dead", "summary.json")) as handle:
        summary = json.load(handle)
    lists = sum(v for k, v in summary.items() if k.startswith("lists_"))
    expected = expected_lists(rows, shards)
    if (summary["read"], summary["rejected"], summary["documents_cut"], lists) != (
            rows, 0, 0, expected):
        raise BenchmarkError(
            f"At size {rows}: expected {rows} rows read, 0 rejected, 0 cut and {expected} lists; "
            f"the ingestion's summary.json says {summary}.")
    return summary


def _run_size(rows: int, args, work: str, probe: bool = False) -> list[dict]:
    base = os.path.join(work, f"n{rows}")
    shards = shards_for(rows)
    spec = {"rows": rows, "shards": shards, "logs": os.path.join(base, "logs"),
            "out": os.path.join(base, "ingest"), "engine": args.engine,
            "grouping": args.grouping}
    records = []
    for job in JOBS:
        folder = os.path.join(base, job)
        os.makedirs(folder, exist_ok=True)
        job_spec = dict(spec, job=job, result=os.path.join(folder, "result.json"))
        print(f"  N={rows:,} {job} ...", flush=True)
        result = _run_child(job_spec, os.path.join(folder, "log.txt"), args.timeout)
        result.update(job=job, rows=rows, shards=shards, probe=probe,
                      rows_per_second=rows / result["seconds"],
                      rows_per_cpu_second=rows / max(result["cpu_seconds"], 1e-9),
                      load_average_after=os.getloadavg())
        records.append(result)
    summary = _check(rows, shards, spec["out"])
    total = {"job": "total", "rows": rows, "shards": shards, "probe": probe, "summary": summary}
    for field in ("seconds", "cpu_seconds"):
        total[field] = sum(r[field] for r in records)
    for field in ("peak_rss_mb", "peak_rss_coordinator_mb", "peak_rss_largest_worker_mb"):
        total[field] = max(r[field] for r in records)
    total["processes"] = max(r["processes"] for r in records)
    total["rows_per_second"] = rows / total["seconds"]
    total["rows_per_cpu_second"] = rows / max(total["cpu_seconds"], 1e-9)
    records.append(total)
    if not args.workdir:
        shutil.rmtree(base, ignore_errors=True)  # 1e7 rows take several GB on disk
    return records


# ---------------------------------------------------------------- analysis and report


def _fit(records: list[dict], job: str) -> dict:
    """Log-log slopes of time, net time and memory, and seconds = fixed + rows / marginal_rate."""
    probe = next((r for r in records if r["job"] == job and r["probe"]), None)
    mine = sorted((r for r in records if r["job"] == job and not r["probe"]),
                  key=lambda r: r["rows"])
    rows = np.array([r["rows"] for r in mine], dtype=float)
    fit = {"sizes": len(mine)}
    if len(mine) < 2:
        return fit
    for field, name in (("seconds", "time"), ("cpu_seconds", "cpu"), ("peak_rss_mb", "memory")):
        values = np.array([r[field] for r in mine], dtype=float)
        fit[f"{name}_loglog_slope"] = float(np.polyfit(np.log(rows), np.log(values), 1)[0])
    if probe is not None:
        net = np.array([r["seconds"] - probe["seconds"] for r in mine])
        fit["probe_seconds"] = probe["seconds"]
        fit["net_seconds"] = [float(v) for v in net]
        if (net > 0).all():
            fit["net_time_loglog_slope"] = float(np.polyfit(np.log(rows), np.log(net), 1)[0])
            fit["largest_two_net_time_slope"] = float(
                math.log(net[-1] / net[-2]) / math.log(rows[-1] / rows[-2]))
    for field, name in (("seconds", "wall"), ("cpu_seconds", "cpu")):
        slope, intercept = np.polyfit(rows, [r[field] for r in mine], 1)
        fit[f"{name}_fixed_seconds"] = float(intercept)
        fit[f"{name}_marginal_rows_per_second"] = float(1 / slope) if slope > 0 else None
    slope = np.polyfit(rows, [r.get("peak_rss_coordinator_mb", 0.0) for r in mine], 1)[0]
    fit["coordinator_rss_mb_per_million_rows"] = float(slope * 1e6)
    fit["largest_two_time_slope"] = float(
        math.log(mine[-1]["seconds"] / mine[-2]["seconds"]) / math.log(rows[-1] / rows[-2]))
    return fit


def _extrapolate(records: list[dict], total_fit: dict) -> dict:
    """Worker-hours and workers for TARGET_ROWS at the measured CPU cost per row.

    The per-worker rate is the marginal one (slope of total CPU seconds against rows, which
    leaves out the fixed start-up cost) when at least two sizes ran, else rows over CPU
    seconds at the largest size.
    """
    total = max((r for r in records if r["job"] == "total" and not r["probe"]),
                key=lambda r: r["rows"])
    largest_rate = total["rows"] / total["cpu_seconds"]
    marginal = total_fit.get("cpu_marginal_rows_per_second")
    per_worker = marginal or largest_rate  # rows per second of one worker = one busy core
    core_hours = TARGET_ROWS / per_worker / 3600
    return {
        "target_rows": TARGET_ROWS, "largest_rows": total["rows"],
        "rate_used": "marginal (CPU-seconds fit)" if marginal else "largest size",
        "rows_per_second_per_worker": per_worker,
        "rows_per_cpu_second_at_largest_size": largest_rate,
        "worker_hours": core_hours,
        "hours_with_workers": {str(w): core_hours / w for w in (2, 10, 100, 1000)},
        "workers_for_hours": {str(h): math.ceil(core_hours / h) for h in (1, 8, 24)},
        "hours_on_this_machine_at_wall_rate": TARGET_ROWS / (total["rows"] / total["seconds"])
        / 3600,
        "assumptions": (
            "one worker = one core kept busy at the per-core rate measured here (CPU seconds "
            "of generate + ingest summed over the whole process tree, Beam's coordinator "
            "included); cost linear in rows (see the fitted slopes) and perfect scale-out over "
            "workers: no shuffle, network, storage or scheduling overhead and no coordinator "
            "bottleneck. The DirectRunner itself cannot run on more than one machine: this is "
            "the CPU budget for a distributed runner, not a DirectRunner forecast."),
    }


def _table(records: list[dict]) -> str:
    smallest = {r["job"]: r for r in sorted(records, key=lambda r: -r["rows"])
                if not r["probe"]}
    lines = [f"{'rows':>11} {'job':<16} {'seconds':>8} {'rows/s':>8} {'CPU s':>7} "
             f"{'rows/CPU s':>10} {'peak RSS MB':>11} {'coord MB':>8} {'procs':>5} {'x rows':>7} "
             f"{'x time':>7} {'x RSS':>6}"]
    for r in records:
        base = smallest[r["job"]]
        name = r["job"] + (" (probe)" if r["probe"] else "")
        lines.append(
            f"{r['rows']:>11,} {name:<16} {r['seconds']:>8.1f} {r['rows_per_second']:>8,.0f} "
            f"{r['cpu_seconds']:>7.1f} {r['rows_per_cpu_second']:>10,.0f} "
            f"{r['peak_rss_mb']:>11,.0f} {r.get('peak_rss_coordinator_mb', 0):>8,.0f} "
            f"{r['processes']:>5} {r['rows'] / base['rows']:>6.3g}x "
            f"{r['seconds'] / base['seconds']:>6.1f}x "
            f"{r['peak_rss_mb'] / base['peak_rss_mb']:>5.2f}x")
    return "\n".join(lines)


def _plot(records: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    for job, style in (("generate", "o-"), ("ingest", "s-"), ("total", "^-")):
        mine = sorted((r for r in records if r["job"] == job and not r["probe"]),
                      key=lambda r: r["rows"])
        rows = [r["rows"] for r in mine]
        left.plot(rows, [r["seconds"] for r in mine], style, label=job)
        right.plot(rows, [r["peak_rss_mb"] for r in mine], style, label=job)
    ingest = sorted((r for r in records if r["job"] == "ingest" and not r["probe"]),
                    key=lambda r: r["rows"])
    right.plot([r["rows"] for r in ingest], [r["peak_rss_coordinator_mb"] for r in ingest], "s--",
               label="ingest: coordinator process only")
    total = sorted((r for r in records if r["job"] == "total" and not r["probe"]),
                   key=lambda r: r["rows"])
    if total:
        rows = np.array([r["rows"] for r in total], dtype=float)
        left.plot(rows, total[-1]["seconds"] * rows / rows[-1], "k:", label="linear (slope 1)")
    for axis, label in ((left, "wall seconds"), (right, "peak RSS of process tree, MB")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("generated rows")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    left.set_title("time (DirectRunner multi_processing, 2 workers)")
    right.set_title("memory")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _machine() -> dict:
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
        "load_average_at_start": os.getloadavg(),
        "memory_total_mb": psutil.virtual_memory().total / _MB,
        "platform": platform.platform(), "python": platform.python_version(),
        **{f"{name}_version": metadata.version(name)
           for name in ("apache-beam", "pyarrow", "tensorflow", "numpy")},
    }


def _parse_rows(text: str) -> int:
    try:
        value = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number like 1e6, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def _parse_count(text: str) -> int:
    return 0 if text.strip() in ("0", "0.0") else _parse_rows(text)


def _parse_sizes(text: str) -> list[int]:
    return [_parse_rows(item) for item in text.split(",") if item.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-rows", type=_parse_rows, default=DEFAULT_MAX_ROWS,
                        help=f"largest size of the ladder {', '.join(f'{n:.0e}' for n in LADDER)}"
                             f" to run (default {DEFAULT_MAX_ROWS:.0e}: 10-20 min on 2 cores)")
    parser.add_argument("--probe-rows", type=_parse_count, default=DEFAULT_PROBE_ROWS,
                        help="rows of the start-up probe run first (default 1e3; 0 skips it)")
    parser.add_argument("--sizes", type=_parse_sizes, default=None,
                        help="explicit comma-separated sizes instead of the ladder")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"JSON results (default: {DEFAULT_OUT});"
                        " the PNG goes beside it")
    parser.add_argument("--timeout", type=float, default=7200, help="seconds one job may run")
    parser.add_argument("--workdir", default=None,
                        help="keep data, outputs and logs here (default: a temporary folder)")
    parser.add_argument("--grouping", choices=("contiguous", "shuffle"), default="contiguous",
                        help="how ingestion groups a query's rows: 'contiguous' (default; the "
                             "generator writes each impression's rows together, so each file is "
                             "grouped as it is read, with no shuffle) or 'shuffle' (a Beam "
                             "CombinePerKey, held in the DirectRunner's memory)")
    parser.add_argument("--engine", choices=ENGINES, default="direct",
                        help="direct: DirectRunner multi-processing (default); dask: the fixed "
                             "DaskRunner on a LocalCluster of the same number of workers")
    parser.add_argument("--_job", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args._job:
        _child(args._job)
        return
    sizes = args.sizes or [n for n in LADDER if n <= args.max_rows]
    if not sizes:
        raise SystemExit(f"--max-rows {args.max_rows} is below the smallest size {LADDER[0]}.")
    machine = _machine()
    work = args.workdir or tempfile.mkdtemp(prefix="bench_scale_")
    records: list[dict] = []
    try:
        if args.probe_rows:
            records.extend(_run_size(args.probe_rows, args, work, probe=True))
        for rows in sizes:
            records.extend(_run_size(rows, args, work))
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    fits = {job: _fit(records, job) for job in (*JOBS, "total")}
    extrapolation = _extrapolate(records, fits["total"])
    print(_table(records))
    for job, fit in fits.items():
        if "time_loglog_slope" in fit:
            print(f"{job:<9} slope log(time)/log(rows) {fit['time_loglog_slope']:.2f} "
                  f"(largest two sizes {fit['largest_two_time_slope']:.2f}), log(CPU) "
                  f"{fit['cpu_loglog_slope']:.2f}, net of start-up "
                  f"{fit.get('net_time_loglog_slope', float('nan')):.2f} (largest two "
                  f"{fit.get('largest_two_net_time_slope', float('nan')):.2f}), log(peak RSS) "
                  f"{fit['memory_loglog_slope']:.2f};"
                  f" fixed {fit['wall_fixed_seconds']:.0f} s + rows / "
                  f"{fit['wall_marginal_rows_per_second'] or float('nan'):,.0f} rows/s")
    e = extrapolation
    print(f"1e9 rows at {e['rows_per_second_per_worker']:,.0f} rows/s per worker (1 core): "
          f"{e['worker_hours']:,.0f} worker-hours; "
          + ", ".join(f"{w} workers -> {h:,.1f} h" for w, h in e["hours_with_workers"].items())
          + "; workers for 1 h / 8 h / 24 h: "
          + " / ".join(str(v) for v in e["workers_for_hours"].values()))
    engine = ({"runner": "DirectRunner", "options": ENGINE} if args.engine == "direct" else
              {"runner": DASK_RUNNER, "cluster": f"dask.distributed LocalCluster, {WORKERS} "
                                                 f"worker processes x 1 thread"})
    report = {"machine": machine, "engine": engine, "grouping": args.grouping,
              "sizes": sizes, "probe_rows": args.probe_rows, "max_shard_rows": MAX_SHARD_ROWS,
              "results": records,
              "fits": fits, "extrapolation": extrapolation,
              "dask": ("Beam 2.74's stock DaskRunner computes only the last transform's "
                       "branch, does not route tagged outputs and drops finish_bundle "
                       "outputs (tests/scale/test_runners.py); --engine dask runs "
                       f"{DASK_RUNNER}, which fixes these"),
              "note": "one run per job on a shared 2-core machine: figures are indicative"}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(report, handle, indent=1)
    png = os.path.splitext(args.out)[0] + ".png"
    _plot(records, png)
    print(f"written to {args.out} and {png}")


if __name__ == "__main__":
    main()
