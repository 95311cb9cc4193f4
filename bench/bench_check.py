#!/usr/bin/env python3
"""Benchmark `digest check`: the online link checker's parallelism, and offline check vs build.

    .venv/bin/python bench/bench_check.py

1. A loopback ThreadingHTTPServer answers every path with 200 after sleeping 200 ms; check_links
   asks about 200 distinct URLs of it. One after the other that would take 200 × 0.2 s = 40 s.
   All URLs share one host, so the per-host limit (default 4) bounds the speed-up; the figure
   with per_host=16 shows what the thread pool alone gives.
2. `digest check --all` (offline) against `digest build 2022-05` in subprocesses, median of 5:
   check is meant to be cheap enough to run on every save and in every CI job.
Stdlib and the project only; nothing leaves the machine.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
BIN = Path(sys.executable).parent
DIGEST = [str(BIN / "digest")] if (BIN / "digest").exists() else [sys.executable, "-m", "digest"]
DELAY = 0.2
N_URLS = 200
SEQUENTIAL = N_URLS * DELAY


class SlowHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, body: bool) -> None:
        time.sleep(DELAY)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        if body:
            self.wfile.write(b"ok")

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(body=True)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def link_figures() -> list[tuple[str, str, str, str]]:
    """200 slow links, spread over 20 hosts (as in an issue) and all on one host (worst case).

    Every 127.x.y.z address reaches loopback on Linux, so one server can play 20 hosts.
    """
    from digest.linkcheck import check_links

    # The server runs in its own process, as a real site would: it must not share our GIL.
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline()) if server.stdout else 0
    rows = []
    try:
        for label, hosts in (("20 hosts", 20), ("one host", 1)):
            urls = [f"http://127.0.0.{1 + n % hosts}:{port}/page/{hosts}/{n}" for n in range(N_URLS)]
            start = time.perf_counter()
            results = check_links(urls)
            elapsed = time.perf_counter() - start
            assert len(results) == N_URLS and all(r.ok for r in results.values()), results
            rows.append((
                f"`check --online` links: {N_URLS} × {DELAY * 1000:.0f} ms, {label} (32 workers, 4 per host)",
                f"{elapsed * 1000:.0f} ms",
                f"{SEQUENTIAL / elapsed:.1f}× faster than sequential ({SEQUENTIAL:.0f} s)",
                "≤ 2 s" if hosts > 1 else "bounded by 4 per host",
            ))
    finally:
        server.terminate()
    return rows


def serve() -> None:
    server = ThreadingHTTPServer(("0.0.0.0", 0), SlowHandler)
    server.daemon_threads = True
    server.request_queue_size = 256
    print(server.server_address[1], flush=True)
    server.serve_forever()


def median_time(cmd: list[str], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return statistics.median(times)


def offline_figures(repeats: int = 5) -> list[tuple[str, str, str, str]]:
    check = median_time([*DIGEST, "check", "--all"], repeats)
    with tempfile.TemporaryDirectory() as out:
        build = median_time([*DIGEST, "build", "2022-05", "--out", out], repeats)
    return [("`digest check --all` (offline)", f"{check * 1000:.0f} ms", f"{check / build:.2f}× `digest build 2022-05` ({build * 1000:.0f} ms)", "")]


def figures(repeats: int = 5) -> list[tuple[str, str, str, str]]:
    return offline_figures(repeats) + link_figures()


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    for row in figures():
        print(" | ".join(row))
