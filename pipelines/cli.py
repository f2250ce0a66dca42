"""The `cuttingedge` command line.

    cuttingedge generate clicks --rows 100000 --shards 4 --out logs/
    cuttingedge ingest clicks --input 'logs/*.parquet'
    cuttingedge ingest letor --input train.txt
    cuttingedge run anomaly
    cuttingedge detect --input series.csv --output scores.csv
    cuttingedge demo
    cuttingedge compile kubeflow anomaly --pipeline-root gs://b/root --output anomaly.json

Every run writes under one output root (--output, default ./runs). Bad arguments and bad data
end with a one-line (or one-paragraph) message and exit status 2, not a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

EPILOG = """Output layout under --output (default ./runs):
  pipelines/<pipeline>/         TFX pipeline root (every component's artifacts)
  metadata.sqlite               ML Metadata (SQLite)
  reports/<pipeline>/           reports (JSON, PNG)
  serving/<model>/<version>/    pushed SavedModels in TF Serving layout
Beam options after `--` pass through unchanged, e.g.
  cuttingedge ingest clicks --input 'gs://b/logs/*.parquet' -- --runner=DataflowRunner \\
      --project=P --region=R --temp_location=gs://b/tmp"""


class UsageError(Exception):
    """A bad argument: reported in one line, exit status 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value}")
    return value


def _open_fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {value}")
    return value


def _ladder_steps() -> list[str]:
    # Kept in step with cuttingedge.trainers.probabilistic.LADDER (tested), without importing
    # TensorFlow for --help.
    return ["fixed_scale", "learned_scale", "bayesian", "bayesian_learned_scale",
            "gaussian_process", "deterministic"]


# Kept in step with cuttingedge.trainers.anomaly.cli.LOCAL_LEVEL and AUTO (tested), likewise.
LOCAL_LEVEL = "local_level"
AUTO = "auto"
# Kept in step with cuttingedge.trainers.anomaly.detector.ALARM_GATES (tested), likewise.
ALARM_GATES = ("none", "zscore")
DEFAULT_ALARM_GATE = "zscore"  # DetectorConfig().alarm_gate (tested)


def _add_output(parser):
    parser.add_argument("--output", default="runs", metavar="DIR",
                        help="output root for pipeline roots, ML Metadata, reports and pushed "
                             "models (default: ./runs)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cuttingedge", description=__doc__.split("\n\n")[0].strip(),
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    generate = commands.add_parser(
        "generate", help="generate synthetic data (click logs with position bias)",
        description="Generate synthetic data sets.")
    what = generate.add_subparsers(dest="what", metavar="WHAT", required=True)
    clicks = what.add_parser(
        "clicks", help="Parquet shards of click logs with a position-based click model",
        description="Write Parquet shards of synthetic click logs: Zipf queries, documents with "
                    "text, numeric features, a hidden true relevance (column true_relevance) "
                    "and clicks from a position-based model, so position bias is real. "
                    "Deterministic in --seed; each shard is generated independently in Beam.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    clicks.add_argument("--rows", type=_positive_int, required=True, help="total rows")
    clicks.add_argument("--shards", type=_positive_int, default=1, help="Parquet files (default 1)")
    clicks.add_argument("--out", required=True, metavar="DIR", help="folder for the shards")
    clicks.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    clicks.add_argument("--queries", type=_positive_int, default=2000,
                        help="distinct queries (default 2000)")
    clicks.add_argument("--list-size", type=_positive_int, default=10,
                        help="documents shown per impression (default 10)")
    clicks.set_defaults(handler=_generate_clicks)

    ingest = commands.add_parser(
        "ingest", help="ingest and validate data (ExampleGen, statistics, schema gate)",
        description="Run an ingestion pipeline: ExampleGen -> StatisticsGen -> curated "
                    "schema -> ExampleValidator -> gate. Rejected records go to a dead-letter "
                    "output; the run fails above --max-rejected-fraction.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ingest.add_argument("kind", choices=["clicks", "letor", "images", "sensors"],
                        help="clicks: click-log Parquet/CSV/TFRecord; letor: LETOR/SVMlight "
                             "files; images: class folders or path,label CSV; sensors: "
                             "timestamp,value CSV/Parquet")
    ingest.add_argument("--input", required=True, help="file(s), glob(s) or folder")
    ingest.add_argument("--max-rejected-fraction", type=_fraction, default=0.01,
                        help="fail above this fraction of rejected records (default 0.01)")
    ingest.add_argument("--max-list-size", type=_positive_int, default=200,
                        help="click logs: most documents kept per query (default 200)")
    _add_grouping(ingest)
    _add_output(ingest)
    ingest.set_defaults(handler=_ingest)

    run = commands.add_parser(
        "run", help="run a training pipeline (ranking, logos, anomaly)",
        description="Run a training pipeline end to end and push the blessed model.")
    pipelines = run.add_subparsers(dest="pipeline", metavar="PIPELINE", required=True)
    ranking = pipelines.add_parser(
        "ranking", help="neural ranker + LambdaMART + blend, pushed to serving/ranking/",
        description="Learning to rank: ingest LETOR/SVMlight files (qid: or LightGBM .query "
                    "side files) or click logs, validate, train the neural ranker (TFX "
                    "Trainer) and LambdaMART (LightGBM), blend them with a weight chosen on "
                    "eval, compare on test (JSON + PNG report) and push the blend or the "
                    "neural model when it beats LambdaMART and the pushed model on eval "
                    "NDCG@10. With no data arguments it runs on the bundled sample.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ranking.add_argument("--train", help="training file(s) or glob")
    ranking.add_argument("--eval", default="", help="validation file(s) (model selection)")
    ranking.add_argument("--test", default="", help="test file(s); default: 1 query in 10 "
                                                    "of --train, kept out of all tuning")
    ranking.add_argument("--schema", choices=["letor", "clicklog"], default="letor",
                         help="letor: numeric features inferred from the data; clicklog: the "
                              "generator's curated columns")
    ranking.add_argument("--epochs", type=_positive_int, default=40,
                         help="neural ranker epochs (default 40)")
    ranking.add_argument("--tune-trials", type=int, default=0,
                         help="Keras Tuner trials before training (default 0: defaults)")
    ranking.add_argument("--trees", type=_positive_int, default=300,
                         help="LambdaMART boosting rounds (early stopping on eval)")
    ranking.add_argument("--position-bias", choices=["auto", "on", "off"], default="auto",
                         help="position-bias tower in training (auto: on for --schema clicklog, "
                              "where labels are clicks; off for judged relevance)")
    ranking.add_argument("--text", choices=["embeddings", "overlap"], default="overlap",
                         help="how the neural ranker reads query and document text: the "
                              "query-document overlap feature only (default), or learned "
                              "token embeddings plus the overlap feature (for large logs "
                              "whose words carry meaning beyond exact matches)")
    _add_grouping(ranking)
    _add_output(ranking)
    ranking.set_defaults(handler=_run_ranking)

    logos = pipelines.add_parser(
        "logos", help="tuned brand-logo classifier vs ResNet50V2, pushed to serving/logos/",
        description="Brand-logo classification: ingest one clean icon per brand (class "
                    "folders or a path,label manifest; SVG rasterised), render augmented "
                    "training images on the fly (3D pose, perspective camera, Phong light, "
                    "photo backgrounds, blur, JPEG), tune with Keras Tuner within a budget, "
                    "train, compare with ResNet50V2 on held-out renders and push only a model "
                    "that beats it. With no --input it runs on the 150 bundled brands.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    logos.add_argument("--input", default="", help="brand icons: class folders or manifest")
    logos.add_argument("--algorithm", choices=["hyperband", "bayesian", "random"],
                       default="hyperband", help="search algorithm (default hyperband)")
    logos.add_argument("--architectures", default="cnn",
                       help="comma-separated: cnn (small tunable CNN), resnet (HyperResNet)")
    logos.add_argument("--max-trials", type=_positive_int, default=10)
    logos.add_argument("--max-minutes", type=float, default=None, help="wall-clock budget")
    logos.add_argument("--max-dollars", type=float, default=None,
                       help="money budget, with --dollars-per-hour (e.g. 500)")
    logos.add_argument("--dollars-per-hour", type=float, default=None,
                       help="machine rate used for the money budget and estimates")
    logos.add_argument("--epochs", type=_positive_int, default=10)
    logos.add_argument("--train-renders", type=_positive_int, default=12000)
    # model.PRECISIONS, spelled out so that --help does not import Keras (tests/test_cli.py)
    logos.add_argument("--precision", choices=["float32", "mixed_bfloat16"], default="float32",
                       help="compute dtype of the CNN and the ResNet baseline (default "
                            "float32); mixed_bfloat16 trains about 1.3x as fast on CPUs with "
                            "native bfloat16 (AVX512_BF16, AMX), maybe slower elsewhere")
    # views.MAX_VIEWS, spelled out so that --help does not import TensorFlow (tests/test_cli.py)
    logos.add_argument("--test-time-views", type=int, choices=range(1, 8), default=1,
                       metavar="N",
                       help="serve and evaluate each image as the mean of N views (1-7, "
                            "default 1): the image, shifted right, left, down and up, zoomed "
                            "in and out; N times the compute per image")
    logos.add_argument("--from-scratch", dest="warm_start", action="store_false",
                       help="train the classifier from scratch; by default the Trainer "
                            "continues the latest model this pipeline blessed in --output "
                            "(a warm start, when the tuned architecture and the brands are "
                            "the same), so each scheduled run builds on the last")
    _add_output(logos)
    logos.set_defaults(handler=_run_logos)

    anomaly = pipelines.add_parser(
        "anomaly", help="probabilistic anomaly detector on sensor series, pushed to "
                        "serving/anomaly/",
        description="Anomaly detection on sensor series (timestamp,value CSV files, one series "
                    "per file): ingest with time splits, validate, fit a TensorFlow "
                    "Probability forecaster on the first --train-fraction of every series, "
                    "calibrate the alarm threshold on the end of that part for "
                    "--false-alarm-rate, score every point (report: scores CSV/Parquet, "
                    "anomaly windows JSON, PNG plot per series) and push the detector when "
                    "its forecasts are finite and its alarm rate stays sane. With no --input "
                    "it runs on the bundled NAB sample.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    anomaly.add_argument("--input", default="",
                         help="series file(s) or glob (default: bundled NAB sample)")
    anomaly.add_argument("--model", choices=[AUTO] + _ladder_steps() + [LOCAL_LEVEL],
                         default=None, metavar="MODEL",
                         help="auto (default): per series, the local level model where the "
                              "series holds a level with Gaussian noise on its training part, "
                              "else the ladder's bayesian_learned_scale (see detect --help); "
                              "a ladder step: " + ", ".join(_ladder_steps()) +
                              "; or local_level for every series (no epochs, tuning or alarm "
                              "gate)")
    anomaly.add_argument("--window", type=_positive_int, default=None,
                         help="past values per forecast (default: the detector's default)")
    anomaly.add_argument("--epochs", type=_positive_int, default=40,
                         help="training epochs, early-stopped (default 40)")
    _add_ensemble(anomaly)
    anomaly.add_argument("--tune-trials", type=int, default=0,
                         help="Keras Tuner trials over the ladder and layer sizes (default 0)")
    anomaly.add_argument("--train-fraction", type=_open_fraction, default=0.15,
                         help="leading share of each series to train and calibrate on "
                              "(default 0.15, NAB's probationary period)")
    anomaly.add_argument("--false-alarm-rate", type=_open_fraction, default=1e-4,
                         help="target alarms per normal point (default 1e-4)")
    _add_alarm_gate(anomaly)
    _add_output(anomaly)
    anomaly.set_defaults(handler=_run_anomaly)

    detect = commands.add_parser(
        "detect", help="score one NAB-layout series file (no pipeline)",
        description="Read a timestamp,value CSV, train the detector unsupervised on its first "
                    "--train-fraction, calibrate the threshold there without labels, and write "
                    "timestamp,value,score,is_anomaly for every input row, in input order. "
                    "Missing values, unparseable, duplicate or backward timestamps are kept "
                    "(and counted in the summary line); a missing value is never flagged.")
    detect.add_argument("--input", required=True, metavar="SERIES.csv")
    detect.add_argument("--output", required=True, metavar="SCORES.csv")
    detect.add_argument("--model", choices=[AUTO] + _ladder_steps() + [LOCAL_LEVEL],
                        default=None, metavar="MODEL",
                        help="auto (default): chosen from the training part, without labels: "
                             "local_level when the series holds a level (its level drifts by "
                             "less than its noise) and its noise is Gaussian (innovation "
                             "excess kurtosis <= 1), else bayesian_learned_scale with the "
                             "z-score gate; the summary line says which and why. Or a ladder "
                             "step (" + ", ".join(_ladder_steps()) + "), or local_level: a "
                             "Kalman local level model fitted by maximum likelihood, for "
                             "machines whose sensors hold a level while healthy (a pump's "
                             "flow, vibration, current), where a slow fault would become a "
                             "trailing window's new normal; one alarm per episode, no window, "
                             "epochs or gate")
    detect.add_argument("--train-fraction", type=_open_fraction, default=0.15,
                        help="leading share of rows to train on (default 0.15)")
    detect.add_argument("--window", type=_positive_int, default=None,
                        help="past values per forecast (default: the detector's default of "
                             "100, shortened to fit a series whose training part is too "
                             "short for it, or widened to the period of a training part "
                             "that repeats with a longer one); a window given here is kept")
    detect.add_argument("--epochs", type=_positive_int, default=None)
    detect.add_argument("--false-alarm-rate", type=_open_fraction, default=None,
                        help="target alarms per normal point (default 1e-4)")
    detect.add_argument("--smoothing", type=_positive_int, default=None, metavar="K",
                        help="points whose surprises are averaged into the alarm score "
                             "(default 4; 1: each point on its own). A larger K (e.g. 32) "
                             "catches a modest shift that lasts, such as a level step smaller "
                             "than the series' usual spikes, at the cost of alarms up to K "
                             "points later")
    _add_ensemble(detect)
    _add_alarm_gate(detect)
    detect.add_argument("--report", default=None, metavar="DIR",
                        help="also write the full report (Parquet, windows JSON, PNG) there")
    detect.add_argument("--extra-columns", action="store_true",
                        help="also write the predictive mean, stddev and its parts")
    detect.set_defaults(handler=_detect)

    tune = commands.add_parser("tune", help="follow a tuning run (status, live dashboard)",
                               description="Follow a Keras Tuner search while it runs.")
    tune_what = tune.add_subparsers(dest="tune_command", metavar="ACTION", required=True)
    status = tune_what.add_parser("status", help="print trials done, best so far, budget left")
    status.add_argument("dir", help="tuning records folder, e.g. runs/reports/logos/tuning")
    status.set_defaults(handler=_tune_status)
    dashboard = tune_what.add_parser(
        "dashboard", help="serve a live page on localhost (objective by trial, time and "
                          "money left)")
    dashboard.add_argument("dir", help="tuning records folder")
    dashboard.add_argument("--port", type=int, default=8080)
    dashboard.set_defaults(handler=_tune_dashboard)

    predict = commands.add_parser("predict", help="predict with a pushed model",
                                  description="Predict with a pushed SavedModel.")
    predicted = predict.add_subparsers(dest="model_kind", metavar="MODEL", required=True)
    predict_logos = predicted.add_parser("logos", help="top-3 brands of each image")
    predict_logos.add_argument("--model", required=True, metavar="DIR",
                               help="a version folder, e.g. runs/serving/logos/1700000000")
    predict_logos.add_argument("images", nargs="+", metavar="IMAGE")
    predict_logos.set_defaults(handler=_predict_logos)

    client = commands.add_parser(
        "serve-client", help="send Predict requests to a running TensorFlow Serving",
        description="Send a Predict request to TensorFlow Serving over gRPC or REST. Inputs "
                    "are files: --image for the logos model (image_bytes), --elwc for the "
                    "ranking model (serialised ExampleListWithContext), or --values (and "
                    "--series) for the anomaly model: window + horizon recent values, oldest "
                    "first; the last one is scored.",
        epilog="Serve a pushed model with the stock container, e.g.\n"
               "  docker run -p 8500:8500 -p 8501:8501 -v $PWD/runs/serving/logos:"
               "/models/logos -e MODEL_NAME=logos tensorflow/serving",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    client.add_argument("--target", required=True, metavar="HOST:PORT",
                        help="gRPC address (e.g. localhost:8500), or http://HOST:PORT for REST")
    client.add_argument("--model", required=True, metavar="NAME", help="served model name")
    client.add_argument("--signature", default="serving_default")
    inputs = client.add_mutually_exclusive_group(required=True)
    inputs.add_argument("--image", nargs="+", metavar="FILE", help="image files (logos)")
    inputs.add_argument("--elwc", nargs="+", metavar="FILE",
                        help="files of serialised ExampleListWithContext (ranking)")
    inputs.add_argument("--values", metavar="V1,V2,...",
                        help="recent values of one series, oldest first (anomaly); write "
                             "--values=-1.5,2,... when the first is negative")
    client.add_argument("--series", default="", metavar="NAME",
                        help="with --values: the series the values come from (needed when "
                             "the model knows several; default: its only one)")
    client.set_defaults(handler=_serve_client)

    score = commands.add_parser(
        "score", help="batch-score a file with a pushed model",
        description="Batch scoring with a pushed SavedModel.")
    scored = score.add_subparsers(dest="model_kind", metavar="MODEL", required=True)
    score_ranking = scored.add_parser(
        "ranking", help="score every row of a LETOR/SVMlight, Parquet or CSV click log",
        description="Score every row of a LETOR/SVMlight file (qid: or .query side file), "
                    "Parquet or CSV click log with a pushed ranking model, reading rows with "
                    "the same readers and rules as training. Writes a TSV with one line per "
                    "input row, in input order: qid, row index (0-based), score.")
    score_ranking.add_argument("--model", required=True, metavar="DIR",
                               help="a version folder, e.g. runs/serving/ranking/1700000000")
    score_ranking.add_argument("--input", required=True, metavar="FILE")
    score_ranking.add_argument("--output", required=True, metavar="FILE")
    score_ranking.set_defaults(handler=_score_ranking)

    demo = commands.add_parser(
        "demo", help="run every pipeline on the bundled sample data",
        description="Run every pipeline end to end on the small sample data bundled with the "
                    "package, on the embedded defaults (Beam DirectRunner, SQLite ML Metadata, "
                    "local files), then print where each report and pushed model landed.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_output(demo)
    demo.set_defaults(handler=_demo)

    lineage = commands.add_parser(
        "lineage", help="show where a pushed model came from (ML Metadata)",
        description="Find the pushed model folder (or a pipeline artifact URI) in ML Metadata "
                    "and walk its lineage back: the pipeline run, the Model and the execution "
                    "that trained it with its exec properties and tuned hyperparameters, the "
                    "Examples, the Schema and the blessings, then every execution's inputs "
                    "back to the data. ML Metadata is <output>/metadata.sqlite of the output "
                    "root the folder sits in (<output>/serving/<model>/<version>/).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    lineage.add_argument("model_dir", metavar="MODEL_DIR",
                         help="a pushed version folder, e.g. runs/serving/ranking/1700000000, "
                              "or a pipeline artifact URI under runs/pipelines/")
    lineage.add_argument("--metadata", default=None, metavar="PATH",
                         help="ML Metadata SQLite file (default: metadata.sqlite of the output "
                              "root above MODEL_DIR)")
    lineage.add_argument("--json", action="store_true",
                         help="print the lineage as JSON (artifacts, executions, properties)")
    lineage.set_defaults(handler=_lineage)

    compile_ = commands.add_parser(
        "compile", help="compile a pipeline for another orchestrator (Kubeflow Pipelines)",
        description="Compile a training pipeline for an orchestrator instead of running it.")
    targets = compile_.add_subparsers(dest="target", metavar="TARGET", required=True)
    kubeflow = targets.add_parser(
        "kubeflow", help="Kubeflow Pipelines v2 spec (TFX KubeflowV2DagRunner)",
        description="Compile PIPELINE (ranking, logos or anomaly) with TFX's "
                    "KubeflowV2DagRunner into a Kubeflow Pipelines v2 spec: a PipelineJob JSON "
                    "(.json: pipelineSpec + runtimeConfig with the pipeline root) or only the "
                    "pipelineSpec (.yaml). Every task runs TFX's v2 container entry point in "
                    "--image, an image built from this repository with the wheel installed "
                    "with its kubeflow extra. Outputs go under --pipeline-root, laid out like "
                    "a local run's output root (pipelines/<pipeline>/ is the spec's pipeline "
                    "root, beside reports/ and serving/); ML Metadata is KFP's own, the spec "
                    "carries no metadata connection. Needs kfp-pipeline-spec "
                    "(pip install 'cuttingedge[kubeflow]'), not the kfp SDK.",
        epilog="Example:\n  cuttingedge compile kubeflow anomaly --pipeline-root gs://b/root "
               "--output anomaly.json \\\n      -- --runner=DataflowRunner --project=P "
               "--region=R --temp_location=gs://b/tmp\n"
               "Beam options after `--` become every Beam executor's beam_pipeline_args "
               "(default: --direct_running_mode=in_memory, DirectRunner inside the pod).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    kubeflow.add_argument("pipeline", metavar="PIPELINE", help="ranking, logos or anomaly")
    kubeflow.add_argument("--output", required=True, metavar="FILE",
                          help="spec file to write (.json: PipelineJob; .yaml: pipelineSpec)")
    kubeflow.add_argument("--pipeline-root", required=True, metavar="URI",
                          help="output root on storage every pod reaches, e.g. "
                               "gs://bucket/root")
    kubeflow.add_argument("--image", default="cuttingedge:latest",
                          help="container image of every task: built from this repository "
                               "with the cuttingedge wheel installed with its kubeflow extra "
                               "(default: cuttingedge:latest)")
    kubeflow.add_argument("--input", default="",
                          help="the pipeline's data (ranking: training files; logos: icons "
                               "folder or manifest; anomaly: series glob), a URI or absolute "
                               "path the pods read (default: the bundled sample in the image)")
    kubeflow.add_argument("--schema", choices=["letor", "clicklog"], default="letor",
                          help="ranking only: 'clicklog' for click logs (position-biased "
                               "click labels: position tower, inverse-propensity evaluation), "
                               "'letor' for judged relevance (default)")
    _add_grouping(kubeflow, "ranking only: ")
    kubeflow.add_argument("--image-site-packages", metavar="DIR",
                          default="/usr/local/lib/python3.10/site-packages",
                          help="site-packages of the image, where the bundled samples are read "
                               "when --input is not given (default: %(default)s, pip's place "
                               "in the python:3.10 images)")
    kubeflow.set_defaults(handler=_compile_kubeflow)
    return parser


def _add_grouping(parser, scope: str = "") -> None:
    """The click-log `--grouping` option (ClickLogIngestConfig.grouping)."""
    parser.add_argument("--grouping", choices=["shuffle", "contiguous"], default="shuffle",
                        help=scope + "click logs: 'shuffle' groups a query's rows wherever "
                             "they are (default); 'contiguous' groups each file as it is read, "
                             "with no shuffle, when every query's rows are consecutive in one "
                             "file (impression logs): linear time, memory flat in the log's "
                             "size")


def _beam_args(extra: list[str]) -> tuple[str, ...]:
    return tuple(extra) if extra else ("--direct_running_mode=in_memory",)


def _generate_clicks(args, extra) -> int:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from cuttingedge.components.clicklog.generate import ClickGeneratorConfig, GenerateClickLogs

    config = ClickGeneratorConfig(rows=args.rows, shards=args.shards, seed=args.seed,
                                  num_queries=args.queries, list_size=args.list_size)
    os.makedirs(args.out, exist_ok=True) if "://" not in args.out else None
    start = time.monotonic()
    print(f"Generating {config.rows} rows in {config.shards} shard(s) into {args.out}",
          file=sys.stderr)
    with beam.Pipeline(options=PipelineOptions(list(_beam_args(extra)))) as pipeline:
        _ = pipeline | GenerateClickLogs(config, args.out)
    took = time.monotonic() - start
    print(f"Wrote {config.rows} rows to {args.out} in {took:.1f}s "
          f"({config.rows / took:,.0f} rows/s)")
    return 0


def _ingest(args, extra) -> int:
    from cuttingedge.pipelines import ingestion
    from cuttingedge.pipelines.layout import RunLayout
    from cuttingedge.pipelines.runner import run_pipeline

    config = ingestion.IngestionConfig(
        kind=args.kind, input=args.input, layout=RunLayout(args.output),
        max_rejected_fraction=args.max_rejected_fraction, max_list_size=args.max_list_size,
        grouping=args.grouping, beam_args=_beam_args(extra))
    from cuttingedge.components.inputs import match_files

    if args.kind != "images":
        match_files(args.input)  # fail fast, before TFX starts, on a missing input
    elif not os.path.exists(args.input) and "://" not in args.input:
        raise FileNotFoundError(f"Image input {args.input!r} does not exist.")
    run_pipeline(ingestion.create_pipeline(config))
    _print_outputs(config.layout, [config.name])
    return 0


def _run_ranking(args, extra) -> int:
    from cuttingedge.pipelines import ranking
    from cuttingedge.pipelines.layout import RunLayout
    from cuttingedge.pipelines.runner import run_pipeline

    layout = RunLayout(args.output)
    if args.train:
        config = ranking.RankingConfig(
            train=args.train, eval=args.eval, test=args.test, layout=layout,
            schema=args.schema, epochs=args.epochs, tune_trials=args.tune_trials,
            num_trees=args.trees, beam_args=_beam_args(extra),
            position_bias={"auto": None, "on": True, "off": False}[args.position_bias],
            text_embeddings=args.text == "embeddings", grouping=args.grouping)
    else:
        from cuttingedge.pipelines.demo import ranking_sample_config

        config = ranking_sample_config(layout, _beam_args(extra), epochs=args.epochs)
    run_pipeline(ranking.create_pipeline(config))
    _print_outputs(layout, [ranking.NAME])
    return 0


def _run_logos(args, extra) -> int:
    from cuttingedge.pipelines import logos
    from cuttingedge.pipelines.demo import logos_config
    from cuttingedge.pipelines.runner import run_pipeline
    from cuttingedge.trainers.logos.trainer import LogoOptions
    from cuttingedge.trainers.tuning.budget import SearchBudget

    from cuttingedge.pipelines.layout import RunLayout

    budget = SearchBudget(max_trials=args.max_trials,
                          max_seconds=args.max_minutes * 60 if args.max_minutes else None,
                          max_dollars=args.max_dollars, dollars_per_hour=args.dollars_per_hour)
    config = logos_config(RunLayout(args.output), _beam_args(extra), budget=budget,
                          options=LogoOptions(epochs=args.epochs,
                                              train_renders=args.train_renders,
                                              precision=args.precision,
                                              test_time_views=args.test_time_views),
                          algorithm=args.algorithm, architectures=args.architectures,
                          input_path=args.input, warm_start=args.warm_start)
    run_pipeline(logos.create_pipeline(config))
    _print_outputs(config.layout, [logos.NAME])
    return 0


def _add_alarm_gate(parser) -> None:
    parser.add_argument(
        "--alarm-gate", choices=ALARM_GATES, default=DEFAULT_ALARM_GATE,
        help="zscore (default): raise an alarm only where the trailing z-score over the "
             "same window also exceeds its own label-free threshold, so values that break "
             "the series' dynamics but stay in its recent range (recurring spikes, levels "
             "it keeps switching between) are not flagged: far fewer false alarms, at most "
             "the z-score's recall; a series whose training part repeats with a period the "
             "window holds (a daily cycle of half-hourly values) is not gated, as its "
             "forecast knows the cycle and the range would hide values out of season; "
             "none: every forecast surprise above the threshold alarms")
    parser.add_argument("--gate-periodic", action="store_true",
                        help="with the zscore gate, gate a periodic series too (by default a "
                             "series with a period the window holds is not gated)")
    parser.add_argument("--ungate-gaussian", action="store_true",
                        help="with the zscore gate, do not gate a series whose forecast "
                             "errors on the end of its training part are Gaussian (excess "
                             "kurtosis <= 1): it has no jumps the forecast cannot foresee, so "
                             "the forecast's surprise alone is evidence, and a change of "
                             "shape that stays inside the recent range (a distorted beat) "
                             "is found")


DEFAULT_ENSEMBLE = 1  # DetectorConfig.ensemble, spelled out so that --help imports no Keras


def _add_ensemble(parser) -> None:
    parser.add_argument(
        "--ensemble", type=_positive_int, default=DEFAULT_ENSEMBLE, metavar="N",
        help="fit N ladder models from different seeds and serve them as one that "
             "moment-matches their forecasts (their disagreement counts as epistemic "
             "uncertainty): alarms that depend less on one fit's luck, for N times the "
             f"fitting and scoring time (default {DEFAULT_ENSEMBLE}: one model; 5 is a good "
             "choice when time allows; not for local_level)")


def _run_anomaly(args, extra) -> int:
    from cuttingedge.pipelines import anomaly
    from cuttingedge.pipelines.layout import RunLayout
    from cuttingedge.pipelines.runner import run_pipeline

    if args.tune_trials < 0:
        raise UsageError(f"--tune-trials must be >= 0. Received: {args.tune_trials}")
    if args.input:
        from cuttingedge.components.inputs import match_files

        match_files(args.input)  # a clear error now rather than inside the pipeline
    chosen = {k: v for k, v in (("step", args.model), ("window", args.window)) if v is not None}
    config = anomaly.AnomalyConfig(
        input_pattern=args.input, layout=RunLayout(args.output), epochs=args.epochs,
        ensemble=args.ensemble,
        tune_trials=args.tune_trials, train_fraction=args.train_fraction,
        false_alarm_rate=args.false_alarm_rate, alarm_gate=args.alarm_gate,
        gate_periodic=args.gate_periodic, ungate_gaussian=args.ungate_gaussian,
        beam_args=_beam_args(extra), **chosen)
    run_pipeline(anomaly.create_pipeline(config))
    _print_outputs(config.layout, [anomaly.NAME])
    return 0


def _detect(args, extra) -> int:
    from cuttingedge.trainers.anomaly.cli import detect_file

    if not os.path.exists(args.input):
        raise FileNotFoundError(f"Input {args.input!r} does not exist.")
    chosen = {"model": args.model} if args.model is not None else {}
    if args.ensemble != DEFAULT_ENSEMBLE:  # only if asked: local_level refuses an ensemble
        chosen["ensemble"] = args.ensemble
    if args.smoothing is not None:
        chosen["smoothing"] = args.smoothing
    summary = detect_file(args.input, args.output, train_fraction=args.train_fraction,
                          window=args.window, epochs=args.epochs,
                          false_alarm_rate=args.false_alarm_rate,
                          extra_columns=args.extra_columns, report_dir=args.report,
                          alarm_gate=args.alarm_gate, gate_periodic=args.gate_periodic,
                          ungate_gaussian=args.ungate_gaussian,
                          **chosen)
    print(summary.line())
    return 0


def _tune_status(args, extra) -> int:
    from cuttingedge.trainers.tuning.status import format_status

    print(format_status(args.dir))
    return 0


def _tune_dashboard(args, extra) -> int:
    from cuttingedge.trainers.tuning.dashboard import main_dashboard

    print(f"Serving the tuning dashboard of {args.dir} on http://127.0.0.1:{args.port}/ "
          "(Ctrl-C to stop)")
    main_dashboard(args.dir, port=args.port)
    return 0


def _predict_logos(args, extra) -> int:
    from cuttingedge.trainers.logos.serving import predict_files

    missing = [p for p in args.images if not os.path.exists(p)]
    if missing:
        raise FileNotFoundError(f"Image(s) not found: {missing}")
    for path, top in predict_files(args.model, args.images):
        print(path + ": " + ", ".join(f"{brand} {p:.3f}" for brand, p in top))
    return 0


def _serve_client(args, extra) -> int:
    import numpy as np

    from cuttingedge.components.serving import client

    if args.image or args.elwc:
        paths = args.image or args.elwc
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            raise FileNotFoundError(f"Input file(s) not found: {missing}")
        blobs = [open(p, "rb").read() for p in paths]
        inputs = {"image_bytes" if args.image else "examples": blobs}
    else:
        try:
            window = [float(v) for v in args.values.split(",")]
        except ValueError:
            raise UsageError(f"--values must be comma-separated numbers. Received: "
                             f"{args.values!r}") from None
        inputs = {"values": np.array([window], np.float32), "series": [args.series.encode()]}
    if args.target.startswith(("http://", "https://")):
        outputs = client.predict_rest(args.target, args.model, inputs, signature=args.signature)
    else:
        outputs = client.predict_grpc(args.target, args.model, inputs, signature=args.signature)
    if not isinstance(outputs, dict):
        outputs = {"output": outputs}
    for name, value in sorted(outputs.items()):
        print(f"{name}: {np.array2string(np.asarray(value), threshold=20, precision=4)}")
    return 0


def _score_ranking(args, extra) -> int:
    from cuttingedge.trainers.ranking.batch import score_file

    if not os.path.exists(args.input) and "://" not in args.input:
        raise FileNotFoundError(f"Input {args.input!r} does not exist.")
    if not os.path.isdir(args.model) and "://" not in args.model:
        raise FileNotFoundError(f"Model folder {args.model!r} does not exist.")
    rows = score_file(args.model, args.input, args.output)
    print(f"Scored {rows} rows into {args.output}")
    return 0


def _demo(args, extra) -> int:
    from cuttingedge.pipelines import demo

    return demo.run_demo(args.output, _beam_args(extra))


def _lineage(args, extra) -> int:
    import json

    from cuttingedge.pipelines.lineage import describe, format_tree

    if extra:
        raise UsageError(f"lineage takes no Beam options. Received: {' '.join(extra)}")
    found = describe(args.model_dir, metadata=args.metadata)
    print(json.dumps(found, indent=2, sort_keys=True) if args.json else format_tree(found))
    return 0


def _compile_kubeflow(args, extra) -> int:
    from cuttingedge.pipelines import kubeflow

    try:
        spec = kubeflow.compile_pipeline(
            args.pipeline, args.output, image=args.image, pipeline_root=args.pipeline_root,
            beam_args=_beam_args(extra), input_path=args.input,
            image_site_packages=args.image_site_packages, ranking_schema=args.schema,
            grouping=args.grouping)
    except kubeflow.KubeflowUnavailable as err:
        raise UsageError(str(err)) from None
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    root = spec["runtimeConfig"]["gcsOutputDirectory"]
    where = (f"pipelineSpec only: give pipeline root {root} when creating the run"
             if args.output.endswith((".yaml", ".yml")) else f"pipeline root {root}")
    print(f"Wrote {args.output}: Kubeflow Pipelines v2 spec of {args.pipeline} "
          f"({len(tasks)} tasks, image {args.image}, {where})")
    return 0


def _print_outputs(layout, pipelines: list[str]) -> None:
    """Prints where the newest run of each pipeline left its data, reports and models."""
    from cuttingedge.pipelines.outputs import latest_artifacts

    shown = {"Examples": "validated data", "cuttingedge.IngestReport": "ingestion report",
             "cuttingedge.Report": "report", "PushedModel": "pushed model"}
    for name in pipelines:
        found = latest_artifacts(layout.metadata_path, name)
        for type_name, label in shown.items():
            for artifact in found.get(type_name, []):
                where = artifact.uri
                if type_name == "PushedModel":
                    props = artifact.custom_properties
                    if not props.get("pushed") or not props["pushed"].int_value:
                        print(f"{name}: not pushed (blessing or infra validation said no; "
                              f"see the reports)")
                        continue
                    where = props["pushed_destination"].string_value
                print(f"{name}: {label:16s} {where}")
        reports = layout.reports(name)
        if os.path.isdir(reports):
            print(f"{name}: {'reports':16s} {reports}")


def _quiet_libraries() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # tensorflow_transform (imported by TFX) would switch tf.keras to Keras 2; the models here
    # are Keras 3, and TFP decides which Keras to use from tf.keras.
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "0")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="apache_beam")
    warnings.filterwarnings("ignore", category=UserWarning, module="keras")


# Errors that mean the user must change something (printed as one line, exit status 2), by
# module, so that a command does not import Beam and TFX only to name their errors: an error
# of a module the command never loaded cannot have been raised.
_USER_ERRORS = (("cuttingedge.components.contract", "DataContractError"),
                ("cuttingedge.components.deadletter", "TooManyRejected"),
                ("cuttingedge.components.serving.client", "PredictError"),
                ("cuttingedge.pipelines.runner", "PipelineBusyError"))


def _is_user_error(err: BaseException) -> bool:
    if isinstance(err, (UsageError, ValueError, FileNotFoundError)):
        return True
    loaded = (getattr(sys.modules.get(module), name, None) for module, name in _USER_ERRORS)
    return any(kind is not None and isinstance(err, kind) for kind in loaded)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `cuttingedge` console command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    try:
        return args.handler(args, extra)
    except Exception as err:
        if not _is_user_error(err):
            raise
        print(f"cuttingedge {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cuttingedge: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
