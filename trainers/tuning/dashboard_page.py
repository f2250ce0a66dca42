"""The dashboard's single HTML page: no external script, style sheet or font.

Its script fetches `/status.json` every 2 s and draws the numbers, an SVG chart of the
objective by trial (points: completed trials, line: best so far, red crosses: failed trials)
and the last trials. Every value goes in through `textContent` or SVG attributes, never HTML.
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tuning dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
 .cards { display: flex; flex-wrap: wrap; gap: 1em; }
 .card { border: 1px solid #ccc; border-radius: 6px; padding: .6em 1em; min-width: 9em; }
 .card b { display: block; font-size: 1.5em; }
 table { border-collapse: collapse; margin-top: 1em; }
 td, th { border-bottom: 1px solid #eee; padding: .2em .8em; text-align: left; }
 #chart { border: 1px solid #ddd; margin-top: 1em; background: #fcfcfc; }
 .FAILED, .INVALID { color: #b00; }
 #error { color: #b00; }
</style>
</head>
<body>
<h1>Tuning dashboard</h1>
<p>State: <span id="state">loading</span> <span id="error"></span></p>
<div class="cards">
 <div class="card">Trials done<b id="trials-done">-</b><span id="trials-split"></span></div>
 <div class="card">Best so far<b id="best-score">-</b><span id="best-trial"></span></div>
 <div class="card">Time left (est.)<b id="time-left">-</b>elapsed <span id="elapsed">-</span></div>
 <div class="card">Money left (est.)<b id="money-left">-</b>spent <span id="spent">-</span></div>
</div>
<svg id="chart" width="640" height="240" viewBox="0 0 640 240"
     xmlns="http://www.w3.org/2000/svg" role="img" aria-label="objective by trial"></svg>
<table><thead><tr><th>trial</th><th>status</th><th id="objective-name">objective</th>
<th>duration</th><th>params</th><th>reason</th></tr></thead><tbody id="trials"></tbody></table>
<script>
"use strict";
const SVG = "http://www.w3.org/2000/svg";
function text(id, value) { document.getElementById(id).textContent = value; }
function num(v, digits) { return v === null || v === undefined ? "-" : v.toFixed(digits); }
function duration(s) {
  if (s === null || s === undefined) return "-";
  if (s < 60) return s.toFixed(1) + "s";
  const t = Math.round(s), h = Math.floor(t / 3600), m = Math.floor(t % 3600 / 60);
  const sec = String(t % 60).padStart(2, "0");
  return h ? h + "h " + String(m).padStart(2, "0") + "m " + sec + "s" : m + "m " + sec + "s";
}
function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  parent.appendChild(node);
  return node;
}
function chart(history) {
  const svg = document.getElementById("chart");
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const W = 640, H = 240, L = 60, R = 20, T = 15, B = 35;
  const scores = history.map(p => p.score).filter(v => v !== null);
  el("line", {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#999"}, svg);
  el("line", {x1: L, y1: T, x2: L, y2: H - B, stroke: "#999"}, svg);
  const label = el("text", {x: W / 2, y: H - 4, "text-anchor": "middle", "font-size": 12}, svg);
  label.textContent = "trial (points: objective, line: best so far, x: failed)";
  if (!history.length) return;
  let lo = scores.length ? Math.min(...scores) : 0, hi = scores.length ? Math.max(...scores) : 1;
  if (hi === lo) { lo -= 0.5; hi += 0.5; }
  const x = i => L + (history.length === 1 ? 0.5 : i / (history.length - 1)) * (W - L - R);
  const y = v => H - B - 5 - (v - lo) / (hi - lo) * (H - T - B - 10);
  for (const v of [hi, lo]) {
    const t = el("text", {x: L - 4, y: y(v) + 4, "text-anchor": "end", "font-size": 11}, svg);
    t.textContent = v.toFixed(3);
  }
  const best = [];  // a step line: the best score only changes at a trial
  history.forEach((p, i) => {
    if (p.best_so_far === null) return;
    if (best.length) best.push(x(i) + "," + best[best.length - 1].split(",")[1]);
    best.push(x(i) + "," + y(p.best_so_far));
  });
  if (best.length) el("polyline", {points: best.join(" "), fill: "none", stroke: "#2a7",
                                   "stroke-width": 2, class: "best-line"}, svg);
  const every = Math.ceil(history.length / 20);  // at most 20 trial labels
  history.forEach((p, i) => {
    if (i % every === 0) {
      el("text", {x: x(i), y: H - B + 13, "text-anchor": "middle", "font-size": 10,
                  fill: "#666"}, svg).textContent = p.trial_id;
    }
    if (p.score !== null) {
      el("circle", {cx: x(i), cy: y(p.score), r: 4, fill: "#36c", class: "trial-point"}, svg);
    } else {
      el("text", {x: x(i), y: H - B - 2, fill: "#b00", "text-anchor": "middle",
                  class: "failed-point"}, svg).textContent = "x";
    }
  });
}
function table(status) {
  const body = document.getElementById("trials");
  while (body.firstChild) body.removeChild(body.firstChild);
  for (const row of status.last_trials.slice().reverse()) {
    const tr = document.createElement("tr");
    tr.className = row.status;
    for (const v of [row.trial_id, row.status, num(row.score, 4), duration(row.duration_seconds),
                     row.param_count === null ? "-" : String(row.param_count),
                     row.failure_reason || ""]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}
function render(s) {
  const left = s.remaining;
  text("state", s.stop_reason);
  text("error", "");
  text("trials-done", String(s.trials_done));
  text("trials-split", s.trials_completed + " completed, " + s.trials_failed + " failed");
  text("best-score", s.best ? num(s.best.score, 4) : "-");
  text("best-trial", s.best ? "trial " + s.best.trial_id : "");
  text("time-left", duration(left.estimated_seconds));
  text("elapsed", duration(s.elapsed_seconds));
  text("money-left", left.estimated_dollars === null ? "-" : "$" + num(left.estimated_dollars, 2));
  text("spent", left.spent_dollars === null ? "-" : "$" + num(left.spent_dollars, 2));
  text("objective-name", s.objective.name);
  document.title = "Tuning: " + s.trials_done + " trials, best " +
                   (s.best ? num(s.best.score, 4) : "-");
  chart(s.history);
  table(s);
}
async function refresh() {
  try {
    const response = await fetch("/status.json", {cache: "no-store"});
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    render(body);
  } catch (e) {
    text("error", "(status unavailable: " + e.message + ")");
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
"""
