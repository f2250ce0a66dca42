"""A live dashboard of a search: a small HTTP server on 127.0.0.1, standard library only.

Routes: `/` (the page of `dashboard_page.PAGE`), `/status.json` (the search's `status.json`,
or a 404 JSON body `{"error": ...}` before the search wrote one) and `/trials.json`.
Nothing else under the folder is served.
"""

from __future__ import annotations

import functools
import http.server
import json
import pathlib
import threading
from typing import Optional

from cuttingedge.trainers.tuning.dashboard_page import PAGE
from cuttingedge.trainers.tuning.records import STATUS_JSON, TRIALS_JSON

_FILES = {"/status.json": STATUS_JSON, "/trials.json": TRIALS_JSON}


class DashboardHandler(http.server.BaseHTTPRequestHandler):
    """Serves the page and the JSON files of one output folder (`out_dir`)."""

    def __init__(self, *args, out_dir: pathlib.Path, **kwargs):
        self.out_dir = out_dir
        super().__init__(*args, **kwargs)

    def do_GET(self):  # noqa: N802 (http.server's name)
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self._send(200, "text/html; charset=utf-8", PAGE.encode())
        elif path in _FILES:
            self._send_file(self.out_dir / _FILES[path])
        else:
            self._send_json(404, {"error": f"No route {path!r}. Expected one of "
                                           f"{['/', *sorted(_FILES)]}."})

    def _send_file(self, path: pathlib.Path) -> None:
        try:
            body = path.read_bytes()  # replaced atomically by the search: always whole
        except FileNotFoundError:
            self._send_json(404, {"error": f"{path.name} not written yet in {self.out_dir}"})
            return
        self._send(200, "application/json", body)

    def _send_json(self, code: int, document: dict) -> None:
        self._send(code, "application/json", json.dumps(document).encode())

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        pass  # quiet: the page polls every 2 s


def serve_dashboard(out_dir, host: str = "127.0.0.1",
                    port: int = 0) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Starts the dashboard of `out_dir` in a daemon thread.

    Args:
      out_dir: The search's output folder (need not hold `status.json` yet).
      host: Address to listen on; the default keeps it on this machine.
      port: Port to listen on; 0 picks a free one.

    Returns:
      (server, url). Stop with `server.shutdown(); server.server_close()`.

    Example:
      >>> import tempfile, urllib.request
      >>> server, url = serve_dashboard(tempfile.mkdtemp())
      >>> b"Tuning dashboard" in urllib.request.urlopen(url).read()
      True
      >>> server.shutdown(); server.server_close()
    """
    handler = functools.partial(DashboardHandler, out_dir=pathlib.Path(out_dir))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="tuning-dashboard", daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    return server, f"http://{bound_host}:{bound_port}/"


def main_dashboard(out_dir, port: int = 8080, host: str = "127.0.0.1",
                   stop: Optional[threading.Event] = None) -> None:
    """Serves the dashboard of `out_dir` until Ctrl-C (or until `stop` is set).

    Args:
      out_dir: The search's output folder.
      port: Port to listen on (0: a free one, printed).
      host: Address to listen on.
      stop: Optional event that ends the wait (for callers other than a terminal).
    """
    server, url = serve_dashboard(out_dir, host=host, port=port)
    print(f"Tuning dashboard of {out_dir} at {url} (Ctrl-C to stop)", flush=True)
    try:
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
