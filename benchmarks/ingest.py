"""Throughput and peak memory of click-log generation and ingestion, Beam against a plain loop.

For each size N (rows), in this order, each job in its own child process:
  generate        GenerateClickLogs(ClickGeneratorConfig(rows=N, shards=4)) -> Parquet shards
  beam_in_memory  IngestClickLogs (ClickLogIngestConfig defaults) on the DirectRunner,
                  --direct_running_mode=in_memory --direct_num_workers=1
  beam_multi      the same, --direct_running_mode=multi_processing --direct_num_workers=2
  loop            the same work with pyarrow and a Python loop: decode rows (to_pylist),
                  validate (to_click_row), group by query id in a dict with the Beam job's
                  bounded-list combiner, build each tf.Example (query_list_to_example),
                  hash-split (SplitConfig.index_of), write gzip TFRecords per split
then an unmeasured `verify` child checks that the three ingestions wrote the same number of
lists (and documents, and query ids) per split and read and rejected the same rows; a
mismatch stops the run before any figure is printed or written.

Rows/s is N over the wall time of the job's work, measured inside the child after its imports
(pipeline construction, worker start-up and file writing are included). Peak RSS is the
largest sum of resident memory over the child's process tree, sampled every 50 ms with psutil
(Beam's multi-processing workers included), or the child's own ru_maxrss if larger.

    python benchmarks/ingest.py [--sizes 1e4,1e5,1e6] [--out benchmarks/results/ingest.json]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata

import psutil
from tqdm import tqdm

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "results", "ingest.json")
BEAM_MODES = {"beam_in_memory": ("in_memory", 1), "beam_multi": ("multi_processing", 2)}
INGEST_JOBS = (*BEAM_MODES, "loop")
LABELS = {"generate": "generate", "beam_in_memory": "beam in_memory (1 worker)",
          "beam_multi": "beam multi_processing (2)", "loop": "loop (pyarrow + python)"}
_MB = 1024 * 1024


class BenchmarkError(RuntimeError):
    """A job failed or its output disagrees with the others; no figures are reported."""


# ---------------------------------------------------------------- child side: the jobs


def _generate(spec: dict) -> dict:
    import apache_beam as beam
    import pyarrow.parquet as pq
    from apache_beam.options.pipeline_options import PipelineOptions

    from cuttingedge.components.clicklog.generate import ClickGeneratorConfig
    from cuttingedge.components.clicklog.generate import GenerateClickLogs

    config = ClickGeneratorConfig(rows=spec["rows"], shards=spec["shards"])
    options = PipelineOptions(["--direct_running_mode=in_memory", "--direct_num_workers=1"])
    start = time.perf_counter()
    with beam.Pipeline(options=options) as pipeline:
        _ = pipeline | GenerateClickLogs(config, spec["logs"])
    seconds = time.perf_counter() - start
    written = sum(pq.read_metadata(os.path.join(spec["logs"], name)).num_rows
                  for name in os.listdir(spec["logs"]) if name.endswith(".parquet"))
    return {"seconds": seconds, "rows_written": written}


def _parquet_files(logs: str) -> list[str]:
    return sorted(os.path.join(logs, name) for name in os.listdir(logs)
                  if name.endswith(".parquet"))


def _beam_ingest(spec: dict) -> dict:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from cuttingedge.components.clicklog.ingest import ClickLogIngestConfig, IngestClickLogs

    mode, workers = BEAM_MODES[spec["job"]]
    options = PipelineOptions([f"--direct_running_mode={mode}",
                               f"--direct_num_workers={workers}"])
    files, out = _parquet_files(spec["logs"]), spec["out"]
    start = time.perf_counter()
    with beam.Pipeline(options=options) as pipeline:
        _ = pipeline | IngestClickLogs(files, ClickLogIngestConfig(),
                                       os.path.join(out, "examples"), os.path.join(out, "dead"))
    return {"seconds": time.perf_counter() - start}


def _read_and_group(files: list[str], config) -> tuple[dict, dict, set, set]:
    """Reads, validates and groups every row; returns (accumulators, counts, names, aux)."""
    import pyarrow.parquet as pq

    from cuttingedge.components.clicklog.ingest import KeepBoundedList
    from cuttingedge.components.clicklog.record import RowError, to_click_row

    combine = KeepBoundedList(config.max_list_size, config.cap_strategy, config.seed)
    groups: dict[str, tuple] = {}
    counts = {"read": 0, "rejected": 0}
    names: set[str] = set()
    aux: set[str] = set()
    for path in files:
        row_number = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=8192):
            for fields in batch.to_pylist():
                row_number += 1
                try:
                    row = to_click_row(fields, config.columns, path, row_number)
                except RowError:
                    counts["rejected"] += 1
                    continue
                names.update(row.features)
                aux.update(row.auxiliary)
                accumulator = groups.get(row.query_id) or combine.create_accumulator()
                groups[row.query_id] = combine.add_input(accumulator, row)
        counts["read"] += row_number
    return {qid: combine.extract_output(acc) for qid, acc in groups.items()}, counts, names, aux


def _loop_ingest(spec: dict) -> dict:
    import tensorflow as tf

    from cuttingedge.components.clicklog.ingest import ClickLogIngestConfig, QueryList
    from cuttingedge.components.clicklog.ingest import query_list_to_example

    config, out = ClickLogIngestConfig(), spec["out"]
    splits = config.splits
    start = time.perf_counter()
    lists, counts, names, aux = _read_and_group(_parquet_files(spec["logs"]), config)
    names, aux = sorted(names), sorted(aux)
    writers = []
    for name in splits.names:
        os.makedirs(os.path.join(out, "examples", f"Split-{name}"), exist_ok=True)
        path = os.path.join(out, "examples", f"Split-{name}", "data_tfrecord-00000-of-00001.gz")
        writers.append(tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type="GZIP")))
        counts[f"lists_{name}"] = 0
    for qid, (candidates, rows) in lists.items():
        example = query_list_to_example(QueryList(qid, rows, candidates), names, aux)
        index = splits.index_of(qid)
        writers[index].write(example.SerializeToString())
        counts[f"lists_{splits.names[index]}"] += 1
    for writer in writers:
        writer.close()
    seconds = time.perf_counter() - start
    os.makedirs(os.path.join(out, "dead"), exist_ok=True)
    with open(os.path.join(out, "dead", "summary.json"), "w") as handle:
        json.dump(counts, handle)
    return {"seconds": seconds}


def _split_contents(examples_dir: str) -> dict:
    """Lists, documents and a digest of the sorted query ids in each split's TFRecords."""
    import tensorflow as tf

    contents = {}
    for split in sorted(os.listdir(examples_dir)):
        files = sorted(tf.io.gfile.glob(os.path.join(examples_dir, split, "*.gz")))
        qids, docs = [], 0
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator():
            feature = tf.train.Example.FromString(record).features.feature
            qids.append(feature["query_id"].bytes_list.value[0])
            docs += feature["list_size"].int64_list.value[0]
        digest = hashlib.sha256(b"\n".join(sorted(qids))).hexdigest()[:16]
        contents[split] = {"lists": len(qids), "documents": int(docs), "query_ids": digest}
    return contents


def _verify(spec: dict) -> dict:
    found = {}
    for job, out in spec["outputs"].items():
        with open(os.path.join(out, "dead", "summary.json")) as handle:
            summary = json.load(handle)
        found[job] = {"splits": _split_contents(os.path.join(out, "examples")),
                      "read": summary["read"], "rejected": summary["rejected"]}
    return found


JOBS = {"generate": _generate, "beam_in_memory": _beam_ingest, "beam_multi": _beam_ingest,
        "loop": _loop_ingest, "verify": _verify}


def _cpu_seconds() -> float:
    """User + system CPU of this process and of its children that have ended."""
    import resource

    return sum(usage.ru_utime + usage.ru_stime for usage in (
        resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))


def _child(spec_json: str) -> None:
    """Runs one job (in a child process) and writes its figures to spec['result']."""
    import resource

    spec = json.loads(spec_json)
    import apache_beam  # noqa: F401  (imports are start-up cost, kept out of the timing)
    import pyarrow.parquet  # noqa: F401
    import tensorflow  # noqa: F401

    import cuttingedge.components.clicklog.ingest  # noqa: F401

    baseline, cpu = psutil.Process().memory_info().rss, _cpu_seconds()
    result = JOBS[spec["job"]](spec)
    result["cpu_seconds"] = _cpu_seconds() - cpu
    result["baseline_rss_mb"] = baseline / _MB
    result["maxrss_self_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["maxrss_children_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    with open(spec["result"], "w") as handle:
        json.dump(result, handle)


# ---------------------------------------------------------------- parent side: measuring


def _tree_rss(process: psutil.Process) -> tuple[int, int]:
    """Resident bytes summed over a process and its descendants, and how many there are."""
    total, count = 0, 0
    try:
        members = [process] + process.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0, 0
    for member in members:
        try:
            total += member.memory_info().rss
            count += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total, count


def _run_child(spec: dict, log_path: str, timeout: float) -> dict:
    """Runs one job in a child process, sampling its tree's memory; returns its figures."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONWARNINGS="ignore")
    command = [sys.executable, os.path.abspath(__file__), "--_job", json.dumps(spec)]
    peak, processes, start = 0, 0, time.monotonic()
    with open(log_path, "w") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        watched = psutil.Process(child.pid)
        while child.poll() is None:
            rss, count = _tree_rss(watched)
            peak, processes = max(peak, rss), max(processes, count)
            if time.monotonic() - start > timeout:
                child.kill()
                child.wait()
                raise BenchmarkError(f"Job {spec['job']} ran over --timeout={timeout:g}s. "
                                     f"Raise --timeout or use smaller --sizes. Log: {log_path}")
            time.sleep(0.05)
    if child.returncode != 0 or not os.path.exists(spec["result"]):
        with open(log_path) as handle:
            tail = "".join(handle.readlines()[-25:])
        raise BenchmarkError(f"Job {spec['job']} (rows={spec.get('rows')}) failed with exit "
                             f"code {child.returncode}. Last lines of {log_path}:\n{tail}")
    with open(spec["result"]) as handle:
        result = json.load(handle)
    result["sampled_tree_peak_mb"] = peak / _MB
    result["peak_rss_mb"] = max(peak / _MB, result["maxrss_self_mb"])
    result["processes"] = processes
    return result


def _check_same_output(rows: int, found: dict) -> None:
    """Raises BenchmarkError unless every ingestion read all rows and wrote the same lists."""
    reference = found["loop"]
    for job, got in found.items():
        if got["read"] != rows:
            raise BenchmarkError(f"{job} read {got['read']} rows; expected {rows} (size {rows}).")
        if (got["splits"], got["rejected"]) != (reference["splits"], reference["rejected"]):
            raise BenchmarkError(
                f"{job} disagrees with the loop at size {rows}. Expected splits "
                f"{reference['splits']} and {reference['rejected']} rejected; received "
                f"{got['splits']} and {got['rejected']} rejected.")
    if not any(split["lists"] for split in reference["splits"].values()):
        raise BenchmarkError(f"No lists were written at size {rows}; nothing was measured.")


def _ingest_outputs(result: dict) -> dict:
    """The per-job part of a verify result (drops the measurement fields)."""
    return {job: value for job, value in result.items() if job in INGEST_JOBS}


def _run_size(rows: int, args, work: str, bar) -> list[dict]:
    """Runs every job at one size; returns one record per measured job."""
    base = os.path.join(work, f"n{rows}")
    logs = os.path.join(base, "logs")
    records, outputs = [], {}
    for job in ("generate", *INGEST_JOBS, "verify"):
        bar.set_postfix_str(f"N={rows:,} {job}")
        out = os.path.join(base, job)
        os.makedirs(out, exist_ok=True)
        spec = {"job": job, "rows": rows, "shards": args.shards, "logs": logs, "out": out,
                "outputs": outputs, "result": os.path.join(out, "result.json")}
        result = _run_child(spec, os.path.join(out, "log.txt"), args.timeout)
        bar.update()
        if job == "verify":
            _check_same_output(rows, _ingest_outputs(result))
            for record in records:
                if record["job"] in _ingest_outputs(result):
                    record["outputs"] = result[record["job"]]
            continue
        if job == "generate" and result["rows_written"] != rows:
            raise BenchmarkError(f"The generator wrote {result['rows_written']} rows; "
                                 f"expected {rows}.")
        if job != "generate":
            outputs[job] = out
        result.update(job=job, rows=rows, rows_per_second=rows / result["seconds"],
                      rows_per_cpu_second=rows / max(result["cpu_seconds"], 1e-9),
                      load_average_after=os.getloadavg())
        records.append(result)
    return records


def _ratios(records: list[dict], field: str = "rows_per_second") -> dict:
    """Beam throughput over loop throughput (`field` of each record), per Beam mode and size."""
    by_key = {(r["rows"], r["job"]): r[field] for r in records}
    return {job: {str(rows): by_key[rows, job] / by_key[rows, "loop"]
                  for rows in sorted({r["rows"] for r in records})}
            for job in BEAM_MODES}


def _table(records: list[dict], ratios: dict) -> str:
    lines = [f"{'rows':>10}  {'job':<27} {'seconds':>8} {'rows/s':>9} {'peak RSS MB':>12} "
             f"{'procs':>5} {'CPU s':>7} {'Beam/loop':>9}"]
    for r in records:
        ratio = ratios.get(r["job"], {}).get(str(r["rows"]))
        ratio_text = f"{ratio:.2f}x" if ratio is not None else ""
        lines.append(f"{r['rows']:>10,}  {LABELS[r['job']]:<27} {r['seconds']:>8.2f} "
                     f"{r['rows_per_second']:>9,.0f} {r['peak_rss_mb']:>12,.0f} "
                     f"{r['processes']:>5} {r['cpu_seconds']:>7.1f} {ratio_text:>9}")
    return "\n".join(lines)


def _machine() -> dict:
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
        "load_average_at_start": os.getloadavg(),
        "memory_total_mb": psutil.virtual_memory().total / _MB,
        "platform": platform.platform(), "python": platform.python_version(),
        **{f"{name}_version": metadata.version(name)
           for name in ("apache-beam", "pyarrow", "tensorflow")},
    }


def _parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(float(item)) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--sizes must be comma-separated numbers like 1e4,1e5. Received: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--sizes must be >= 1. Received: {text!r}")
    return sizes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Each job runs in its own process; figures are indicative on a shared machine.")
    parser.add_argument("--sizes", type=_parse_sizes, default=[10_000, 100_000, 1_000_000],
                        help="comma-separated row counts (default: 1e4,1e5,1e6)")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"JSON results (default: {DEFAULT_OUT})")
    parser.add_argument("--shards", type=int, default=4, help="Parquet shards (default: 4)")
    parser.add_argument("--timeout", type=float, default=3600,
                        help="seconds one job may run (default: 3600)")
    parser.add_argument("--workdir", default=None,
                        help="where data goes (default: a temporary folder, removed at the end)")
    parser.add_argument("--_job", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args._job:
        _child(args._job)
        return
    machine = _machine()
    work = args.workdir or tempfile.mkdtemp(prefix="bench_ingest_")
    records = []
    try:
        with tqdm(total=len(args.sizes) * 5, unit="job", desc="ingest benchmark") as bar:
            for rows in args.sizes:
                records.extend(_run_size(rows, args, work, bar))
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    ratios = _ratios(records)
    print(_table(records, ratios))
    report = {"machine": machine, "sizes": args.sizes, "shards": args.shards,
              "results": records, "beam_over_loop_throughput": ratios,
              "beam_over_loop_rows_per_cpu_second": _ratios(records, "rows_per_cpu_second"),
              "note": "one run per job on a shared machine: figures are indicative"}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(report, handle, indent=1)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
