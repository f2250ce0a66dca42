"""The anomaly report of one series: per-point scores (CSV, Parquet), merged anomaly windows
(JSON) and a plot (PNG).

    scores.csv / scores.parquet   one row per input row, in input order:
        timestamp,value,score,is_anomaly          (the `cuttingedge detect` contract)
        row,point_score,mean,stddev,aleatoric_stddev,epistemic_stddev,nll,threshold,
        scored,exceeds,missing,bad_timestamp[,gate_open]   (gate_open with a z-score gate)
      `timestamp` is the input text; `value` the input value (empty when missing).
    windows.json                  runs of points above the threshold, merged when fewer than
                                  `gap` points apart: start, end (timestamps), rows, peak
                                  score and its timestamp, and whether an alarm was raised.
    plot.png                      the series, the predictive mean with +-2 sigma bands (the
                                  aleatoric part dark, the epistemic part added light),
                                  alarms, labelled windows if given, and the score panel.

Example:
    >>> import numpy as np, tempfile
    >>> from cuttingedge.trainers.anomaly.series import from_arrays
    >>> from cuttingedge.trainers.anomaly.detector import ScoredSeries
    >>> s = from_arrays([1.0, 2.0, 9.0])
    >>> z = np.zeros(3)
    >>> out = ScoredSeries(z, z + 1, z + 1, z, z, np.array([0.0, 0.0, 5.0]), z,
    ...                    np.ones(3, bool), np.array([0, 0, 1], bool),
    ...                    np.array([0, 0, 1], bool), 4.0, np.full(3, 4.0))
    >>> merged_windows(s, out)[0]["peak_score"]
    5.0
"""

from __future__ import annotations

import json
import os

import numpy as np

from cuttingedge.trainers.anomaly.alarms import flag_runs
from cuttingedge.trainers.anomaly.detector import ScoredSeries
from cuttingedge.trainers.anomaly.series import Series

CONTRACT_COLUMNS = ("timestamp", "value", "score", "is_anomaly")


def scores_frame(series: Series, scored: ScoredSeries):
    """The per-point table (module docstring) as a pandas DataFrame, in input order."""
    import pandas as pd

    if len(series) != len(scored.score):
        raise ValueError(f"Expected one score per row. Received {len(series)} rows and "
                         f"{len(scored.score)} scores.")
    frame = pd.DataFrame({
        "timestamp": series.timestamp_text.astype(str),
        "value": series.raw,
        "score": scored.score,
        "is_anomaly": scored.is_anomaly.astype(np.int64),
        "row": series.rows,
        "point_score": scored.point_score,
        "mean": scored.mean,
        "stddev": scored.stddev,
        "aleatoric_stddev": scored.aleatoric,
        "epistemic_stddev": scored.epistemic,
        "nll": scored.nll,
        "threshold": scored.bar,
        "scored": scored.scored.astype(np.int64),
        "exceeds": scored.exceeds.astype(np.int64),
        "missing": series.missing.astype(np.int64),
        "bad_timestamp": series.bad_timestamp.astype(np.int64),
    })
    if scored.gate_open is not None:
        frame["gate_open"] = scored.gate_open.astype(np.int64)
    return frame


def write_scores(frame, csv_path=None, parquet_path=None) -> None:
    """Writes the table as CSV (NaN as empty) and/or Parquet."""
    for path in (csv_path, parquet_path):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if csv_path:
        frame.to_csv(csv_path, index=False, float_format="%.6g")
    if parquet_path:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), parquet_path)


def merged_windows(series: Series, scored: ScoredSeries, gap: int = 1) -> list[dict]:
    """Runs of exceeding points merged when fewer than `gap` rows apart (module docstring)."""
    runs = flag_runs(scored.exceeds)
    merged: list[list[int]] = []
    for start, end in runs:
        if merged and start - merged[-1][1] <= gap:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    windows = []
    for start, end in merged:
        peak = start + int(np.argmax(scored.score[start:end + 1]))
        windows.append({
            "start": str(series.timestamp_text[start]), "end": str(series.timestamp_text[end]),
            "start_row": int(series.rows[start]), "end_row": int(series.rows[end]),
            "points": int(scored.exceeds[start:end + 1].sum()),
            "peak_score": float(scored.score[peak]),
            "peak_timestamp": str(series.timestamp_text[peak]),
            "alarm": bool(scored.is_anomaly[start:end + 1].any())})
    return windows


def _x_axis(series: Series):
    return series.timestamps if not series.bad_timestamp.any() and len(series) else \
        series.rows


def plot_series(path, series: Series, scored: ScoredSeries, labelled=None,
                title: str = "") -> str:
    """Writes the PNG plot (module docstring); `labelled` are (first, last) row windows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = _x_axis(series)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(14, 7), sharex=True,
                                         gridspec_kw={"height_ratios": [3, 1]})
    for first, last in labelled or []:
        for axis in (top, bottom):
            axis.axvspan(x[first], x[last], color="gold", alpha=0.3, lw=0)
    aleatoric, total = 2 * scored.aleatoric, 2 * scored.stddev
    top.fill_between(x, scored.mean - total, scored.mean + total, color="tab:blue",
                     alpha=0.15, lw=0, label="+-2 sigma (with epistemic)")
    top.fill_between(x, scored.mean - aleatoric, scored.mean + aleatoric, color="tab:blue",
                     alpha=0.3, lw=0, label="+-2 sigma aleatoric")
    top.plot(x, series.values, color="black", lw=0.6, label="value")
    top.plot(x, scored.mean, color="tab:blue", lw=0.6, label="predictive mean")
    alarm = scored.is_anomaly
    top.scatter(np.asarray(x)[alarm], series.values[alarm], color="red", s=25, zorder=5,
                label=f"alarms ({int(alarm.sum())})")
    top.legend(loc="upper left", fontsize=8)
    top.set_title(title or series.name)
    bottom.plot(x, scored.score, color="tab:purple", lw=0.6, label="score")
    bottom.plot(x, scored.bar, color="red", ls="--", lw=0.8, label="threshold")
    bottom.set_yscale("symlog")
    bottom.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return os.fspath(path)


def write_report(directory, series: Series, scored: ScoredSeries, labelled=None,
                 prefix: str = "", gap: int = 1, model: str = "") -> dict[str, str]:
    """Writes <prefix>scores.csv, .parquet, windows.json and plot.png; returns their paths.

    `model` (the model that scored the series, and why it was chosen) goes into the
    windows JSON and the plot's title.
    """
    os.makedirs(directory, exist_ok=True)
    paths = {kind: os.path.join(directory, f"{prefix}{name}") for kind, name in
             (("csv", "scores.csv"), ("parquet", "scores.parquet"),
              ("windows", "windows.json"), ("plot", "plot.png"))}
    write_scores(scores_frame(series, scored), paths["csv"], paths["parquet"])
    with open(paths["windows"], "w") as handle:
        json.dump({"series": series.name, **({"model": model} if model else {}),
                   "threshold": scored.threshold,
                   "windows": merged_windows(series, scored, gap)}, handle, indent=1)
    plot_series(paths["plot"], series, scored, labelled,
                title=f"{series.name}: {model}" if model else "")
    return paths
