"""The dashboard on 127.0.0.1: the page and JSON over urllib, and the page run by Chromium."""

import json
import re
import shutil
import subprocess
import threading
import urllib.error
import urllib.request

import pytest

from cuttingedge.trainers.tuning import (SearchBudget, TrialRecord, TrialRecorder,
                                         main_dashboard, serve_dashboard)
from cuttingedge.trainers.tuning.dashboard_page import PAGE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--virtual-time-budget=5000"]


@pytest.fixture
def out_dir(tmp_path):
    """A search folder with 4 trials: scores 0.5, failed, 0.625, 0.5625."""
    budget = SearchBudget(max_trials=10, max_dollars=1.0, dollars_per_hour=3.6)
    recorder = TrialRecorder(tmp_path / "search", objective="val_accuracy", direction="max",
                             budget=budget, algorithm="hyperband", seed=0)
    recorder.start()
    for i, score in enumerate([0.5, None, 0.625, 0.5625]):
        status = "FAILED" if score is None else "COMPLETED"
        recorder.add(TrialRecord(str(i), status, {"filters": 4 * (i + 1)},
                                 {} if score is None else {"val_accuracy": score}, score,
                                 None if score is None else 30 * 4 * (i + 1) + 2, 1.0 + i, i,
                                 "FailedTrialError: too big" if score is None else None))
    return recorder.out_dir


@pytest.fixture
def dashboard(out_dir):
    server, url = serve_dashboard(out_dir)
    yield url
    server.shutdown()
    server.server_close()


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read()


def test_page_is_self_contained():
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", PAGE)
    assert "@import" not in PAGE and "url(" not in PAGE
    assert 'fetch("/status.json"' in PAGE and "setInterval(refresh, 2000)" in PAGE


def test_serves_page_and_status(dashboard, out_dir):
    assert dashboard.startswith("http://127.0.0.1:")
    code, kind, body = _get(dashboard)
    assert code == 200 and kind.startswith("text/html") and b"<svg" in body
    code, kind, body = _get(dashboard + "status.json")
    assert code == 200 and kind == "application/json"
    assert json.loads(body) == json.loads((out_dir / "status.json").read_text())
    assert json.loads(_get(dashboard + "trials.json")[2])["trials"][2]["score"] == 0.625


@pytest.mark.parametrize("path", ["../status.json", "trials.csv", "tensorboard/", "x"])
def test_serves_nothing_else(dashboard, path):
    with pytest.raises(urllib.error.HTTPError) as error:
        _get(dashboard + path)
    assert error.value.code == 404
    assert "No route" in json.loads(error.value.read())["error"]


def test_status_before_the_first_write(tmp_path):
    server, url = serve_dashboard(tmp_path)
    try:
        with pytest.raises(urllib.error.HTTPError) as error:
            _get(url + "status.json")
        assert error.value.code == 404
        assert json.loads(error.value.read())["error"].startswith("status.json not written yet")
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed; on Debian: "
                                             "apt-get update && apt-get install -y chromium")
def test_page_in_headless_chromium_shows_the_status(dashboard, tmp_path):
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", dashboard],
        capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    # Filled in by the page's script from /status.json: the HTML served has "-" placeholders.
    assert '<b id="trials-done">4</b>' in dom
    assert '<span id="trials-split">3 completed, 1 failed</span>' in dom
    assert '<b id="best-score">0.6250</b>' in dom and '<span id="best-trial">trial 2</span>' in dom
    assert '<span id="state">running</span>' in dom
    assert dom.count('class="trial-point"') == 3 and dom.count('class="failed-point"') == 1
    assert 'class="best-line"' in dom
    assert "<td>FailedTrialError: too big</td>" in dom
    assert re.search(r'<b id="money-left">\$\d+\.\d\d</b>', dom)


def test_main_dashboard_blocks_until_stopped(out_dir, capsys):
    stop = threading.Event()
    thread = threading.Thread(target=main_dashboard, args=(out_dir,),
                              kwargs={"port": 0, "stop": stop})
    thread.start()
    for _ in range(100):
        printed = capsys.readouterr().out
        if printed:
            break
        thread.join(0.05)
    url = re.search(r"at (http://127\.0\.0\.1:\d+/)", printed).group(1)
    assert json.loads(_get(url + "status.json")[2])["trials_done"] == 4
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
