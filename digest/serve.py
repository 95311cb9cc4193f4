"""`digest serve`: a live preview of one issue on 127.0.0.1, rebuilt whenever its inputs change.

A watcher thread fingerprints the inputs (the issue file, every file under the store folder and
under templates/) by stat every `interval` seconds. When the fingerprint changes and then holds
still for one more poll (an editor's save can be several writes), the issue is rendered again off
the request path; if the output differs, `version` goes up. Requests only ever serve the last
result, so a slow or broken render never blocks the browser.

The preview page carries a small script that polls `/__digest/version` every second and reloads
when the number differs from the one the page was served with. Polling rather than Server-Sent
Events: an SSE stream holds one server thread per open tab for its lifetime and has to be torn
down on shutdown, while a poll is one short request that also survives a server restart.

A render that fails shows its one-line error in an HTML page (status 500, with the same reload
script: browsers run the scripts of an error page too), so fixing the file brings the issue back.
"""

from __future__ import annotations

import html
import json
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from digest.build import render_issue
from digest.errors import DigestError, FileError, UsageError
from digest.issues import issue_path, list_issue_months, parse_month
from digest.project import Project

HOST = "127.0.0.1"  # loopback only: the preview is never reachable from another machine
VERSION_PATH = "/__digest/version"
FORMATS = ("md", "html")
# Browsers send the name they resolved: refusing other names stops DNS-rebinding pages from
# reading the preview. No Host at all (an HTTP/1.0 tool) is not a browser, so it is let through.
_ALLOWED_HOSTS = {"127.0.0.1", "localhost", ""}

RELOAD_SCRIPT = """<script>/* digest serve: reloads this preview after each rebuild */
(function () {
  var served = %d;
  function poll() {
    fetch("%s", {cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (d) { if (d.version !== served) { location.reload(); } else { setTimeout(poll, 1000); } },
            function () { setTimeout(poll, 1000); });
  }
  setTimeout(poll, 1000);
})();
</script>
"""

ERROR_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>error: {month} (digest serve)</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
pre {{ white-space: pre-wrap; background: #fff1f0; border-left: 4px solid #c01c28; padding: 1rem; }}
</style>
</head>
<body>
<h1>{month} does not build</h1>
<pre>{message}</pre>
<p>Fix the file and save it: this page reloads by itself.</p>
</body>
</html>
"""


@dataclass(frozen=True)
class _State:
    version: int
    outputs: dict[str, str] | None  # format → text; None while the issue does not build
    error: str | None  # the one-line error shown instead


class PreviewServer:
    """Serve `month` (default: the newest issue) of `project` with live reload.

    `start(port)` renders once, binds 127.0.0.1 (port 0: a free one) and returns the port;
    `stop()` shuts everything down. `log` receives one line per rebuild (and per request
    when `verbose`); tracebacks of unexpected render failures go there too.
    """

    def __init__(
        self,
        project: Project,
        month: str | None = None,
        *,
        interval: float = 0.3,
        verbose: bool = False,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.project = project
        self.month = parse_month(month) if month else _newest(project)
        path = issue_path(project.issues_dir, self.month)
        if not path.is_file():
            raise FileError(_shown(path), f"no such issue; create it with `digest new {self.month}`")
        self.interval = interval
        self.verbose = verbose
        self._log = log or _stderr
        self._lock = threading.Lock()
        self._state = _State(0, None, "not started")
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # --- public -----------------------------------------------------------------------------

    @property
    def version(self) -> int:
        return self._state.version

    @property
    def error(self) -> str | None:
        """The one-line error of the last render, or None when the issue builds."""
        return self._state.error

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the preview server is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def start(self, port: int = 8000) -> int:
        """Render, bind 127.0.0.1:`port` and serve from background threads; return the bound port."""
        fingerprint = self._fingerprint()
        self._render()
        try:
            self._httpd = _HTTPServer((HOST, port), _Handler)
        except OSError as exc:
            raise DigestError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}; pass --port 0 for a free port") from None
        self._httpd.preview = self
        self._stopping.clear()
        self._threads = [
            threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="digest-serve-http", daemon=True),
            threading.Thread(target=self._watch, args=(fingerprint,), name="digest-serve-watch", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self.port

    def stop(self) -> None:
        """Stop serving and watching; safe to call twice or before start()."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def wait(self) -> None:
        """Block until stop() (or Ctrl-C, as KeyboardInterrupt); short waits keep signals prompt."""
        while not self._stopping.wait(0.5):
            pass

    def page(self) -> tuple[int, str]:
        """Status and HTML of the preview page: the built HTML plus the reload script, or the error page."""
        state = self._state
        script = RELOAD_SCRIPT % (state.version, VERSION_PATH)
        if state.outputs is not None:
            return 200, _inject(state.outputs["html"], script)
        body = ERROR_PAGE.format(month=self.month, message=html.escape(state.error or ""))
        return 500, _inject(body, script)

    def markdown(self) -> tuple[int, str]:
        state = self._state
        if state.outputs is not None:
            return 200, state.outputs["md"]
        return 500, (state.error or "") + "\n"

    # --- rendering and watching -----------------------------------------------------------------

    def _render(self) -> None:
        started = time.monotonic()
        outputs: dict[str, str] | None = None
        try:
            outputs = render_issue(self.project, self.month, FORMATS)
            error = None
        except DigestError as exc:
            error = str(exc)
        except Exception as exc:  # a bug, not the editor's mistake: keep serving, show it, log it
            error = f"error: unexpected {type(exc).__name__} while rendering: {exc}"
            self._log(traceback.format_exc().rstrip())
        with self._lock:
            old = self._state
            if old.outputs == outputs and old.error == error:
                return
            self._state = _State(old.version + 1, outputs, error)
        if old.version:
            took = (time.monotonic() - started) * 1000
            self._log(error if error else f"rebuilt {self.month} in {took:.0f} ms")
        elif error:
            self._log(error)

    def _watch(self, seen: tuple[tuple[str, int, int, int], ...]) -> None:
        pending = False
        while not self._stopping.wait(self.interval):
            try:
                current = self._fingerprint()
            except OSError:  # a file vanished mid-scan: look again next time
                continue
            if current != seen:
                seen, pending = current, True  # changed: wait until it holds still for one poll
            elif pending:
                pending = False
                self._render()

    def _fingerprint(self) -> tuple[tuple[str, int, int, int], ...]:
        """(path, mtime_ns, size, inode) of every input; a missing file is simply absent."""
        entries = []
        for path in _files(self.project.store_dir, self.project.templates_dir, issue_path(self.project.issues_dir, self.month)):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            entries.append((path, st.st_mtime_ns, st.st_size, st.st_ino))
        return tuple(sorted(entries))


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    preview: PreviewServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):  # the browser went away mid-response
            return
        self.preview._log(traceback.format_exc().rstrip())


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "digest-serve"

    def do_GET(self) -> None:
        self._respond(head=False)

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def _respond(self, head: bool) -> None:
        preview = self.server.preview
        if _host_name(self.headers.get("Host", "")) not in _ALLOWED_HOSTS:
            self._send(403, "text/plain; charset=utf-8", "forbidden: open the preview at http://127.0.0.1:PORT/\n", head)
            return
        path = urlsplit(self.path).path
        if path in ("/", "/index.html"):
            status, body = preview.page()
            self._send(status, "text/html; charset=utf-8", body, head)
        elif path == f"/{preview.month}.md":
            status, body = preview.markdown()
            self._send(status, "text/plain; charset=utf-8", body, head)
        elif path == VERSION_PATH:
            self._send(200, "application/json", json.dumps({"version": preview.version}), head)
        else:
            self._send(404, "text/plain; charset=utf-8", f"not found: {path} (try / or /{preview.month}.md)\n", head)

    def _send(self, status: int, content_type: str, body: str, head: bool) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.preview.verbose and urlsplit(self.path).path != VERSION_PATH:
            self.server.preview._log(f"{self.command} {self.path} {code}")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        if self.server.preview.verbose:
            self.server.preview._log(format % args)


def _host_name(header: str) -> str:
    """`localhost:8000` → `localhost`; `[::1]:8000` → `[::1]`."""
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0].lower()


def _inject(page: str, script: str) -> str:
    """Put `script` just before the last </body>, or at the end when there is none."""
    matches = list(re.finditer(r"</body\s*>", page, re.IGNORECASE))
    if not matches:
        return page + script
    at = matches[-1].start()
    return page[:at] + script + page[at:]


def _files(*roots: Path) -> list[str]:
    found = []
    for root in roots:
        if root.is_file():
            found.append(str(root))
            continue
        for folder, _dirs, names in os.walk(root):
            found.extend(os.path.join(folder, name) for name in names)
    return found


def _newest(project: Project) -> str:
    months = list_issue_months(project.issues_dir)
    if not months:
        raise UsageError(f"no issues in {_shown(project.issues_dir)}/; create one with `digest new YYYY-MM`")
    return months[-1]


def _shown(path: Path) -> Path:
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
