#!/usr/bin/env python3
"""The benchmark suite: whole-process timings, each beside the anchor measured in the same run.

    .venv/bin/python bench/run.py                 # everything (about 2 minutes)
    .venv/bin/python bench/run.py --quick         # fewer repeats, no 1,200-issue archive

Prints one table; copy it into BENCHMARKS.md with the machine it ran on. Not part of `pytest`.
Absolute times drift on shared machines, so every figure is a median of repeated runs and comes
with the ratio to its anchor from the same run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DIGEST = [str(BIN / "digest")] if (BIN / "digest").exists() else [sys.executable, "-m", "digest"]
REPLAY = REPO.parent / "shared" / "tools" / "arxiv-replay"
MAY_2022_FEATURED = (
    "2204.03458 2204.00598 2204.06974 2204.07576 2204.10628 2204.05832 2205.01068 2204.03632 2204.08322 2204.07705"
).split()

rows: list[tuple[str, str, str, str]] = []


def row(what: str, figure: str, anchor: str = "", goal: str = "") -> None:
    rows.append((what, figure, anchor, goal))
    print(f"  {what}: {figure} {anchor}", file=sys.stderr, flush=True)


def timed(cmd: Sequence[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if check and done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def median(cmd: Sequence[str], cwd: Path, repeats: int, setup: Callable[[], None] | None = None, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(repeats):
        if setup:
            setup()
        times.append(timed(cmd, cwd, env))
    return statistics.median(times)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def make_project(issues: int, where: Path) -> Path:
    """A throw-away project with `issues` copies of the May 2022 issue and the real store."""
    root = where / f"archive-{issues}"
    root.mkdir()
    shutil.copy(REPO / "pyproject.toml", root)
    shutil.copytree(REPO / "templates", root / "templates")
    shutil.copytree(REPO / "issues" / "arxiv", root / "issues" / "arxiv")
    text = (REPO / "issues" / "2022-05.yaml").read_text(encoding="utf-8")
    year, month = 2030 - (issues + 11) // 12, 1
    for n in range(issues):
        stamp = f"{year:04d}-{month:02d}"
        body = re.sub(r"^date: .*$", f"date: {stamp}-04", text, flags=re.M)
        (root / "issues" / f"{stamp}.yaml").write_text(body.replace("That is all for May.", f"Issue {n}."), encoding="utf-8")
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return root


def bench_build(repeats: int) -> None:
    print("build (issue 2)", file=sys.stderr)
    subprocess.run([*DIGEST, "build", "2022-05", "--out", os.devnull + "-dir"], cwd=REPO, capture_output=True)
    with tempfile.TemporaryDirectory() as out:
        build = median([*DIGEST, "build", "2022-05", "--out", out], REPO, repeats)
    imports = median([sys.executable, "-c", "import yaml, jinja2, click, pydantic, markdown_it"], REPO, repeats)
    helps = median([*DIGEST, "--help"], REPO, repeats)
    python = median([sys.executable, "-c", "pass"], REPO, repeats)
    row("`digest build 2022-05` (md + html)", ms(build), f"{build / imports:.2f}× the bare import ({ms(imports)})", "≤ 1.4×")
    row("`digest --help`", ms(helps), f"{helps / python:.2f}× `python -c pass` ({ms(python)})", "≤ 80 ms")
    shutil.rmtree(REPO / (os.devnull + "-dir"), ignore_errors=True)


def bench_archive(repeats: int, sizes: Sequence[int]) -> None:
    print("archive (issues 5, 6)", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        cold_times: dict[int, float] = {}
        for size in sizes:
            root = make_project(size, Path(tmp))
            site = root / "site"

            def wipe() -> None:
                shutil.rmtree(site, ignore_errors=True)

            cold = median([*DIGEST, "build", "--all"], root, repeats if size <= 120 else 1, setup=wipe)
            cold_times[size] = cold
            row(f"`digest build --all`, {size:,} issues, cold", ms(cold), f"{ms(cold / size)} an issue", "≤ 0.5 s at 120")
            if size == 120:
                subprocess.run([*DIGEST, "build", "--all"], cwd=root, capture_output=True, check=True)
                victim = sorted((root / "issues").glob("*.yaml"))[60]
                original = victim.read_text(encoding="utf-8")
                counter = iter(range(10_000))

                def touch() -> None:
                    victim.write_text(original.replace("Issue 60.", f"Issue 60, edit {next(counter)}."), encoding="utf-8")

                one = median([*DIGEST, "build", "--all"], root, repeats, setup=touch)
                nothing = median([*DIGEST, "build", "--all"], root, repeats)
                row("`digest build --all`, 120 issues, one changed", ms(one), f"{one / cold:.2f}× cold", "≤ 0.15 s")
                row("`digest build --all`, 120 issues, none changed", ms(nothing), f"{nothing / cold:.2f}× cold")
        # Linear growth: each added issue costs the same. Compare the cost of an added issue
        # between consecutive sizes (start-up, paid once, cancels out).
        sizes_run = sorted(cold_times)
        for small, large in zip(sizes_run, sizes_run[1:]):
            marginal = (cold_times[large] - cold_times[small]) / (large - small)
            row(f"growth {small:,} → {large:,} issues: cost of each added issue", ms(marginal), "", "linear")
        if len(sizes_run) > 2:
            first = (cold_times[sizes_run[1]] - cold_times[sizes_run[0]]) / (sizes_run[1] - sizes_run[0])
            last = (cold_times[sizes_run[-1]] - cold_times[sizes_run[-2]]) / (sizes_run[-1] - sizes_run[-2])
            row("growth: last step's cost per issue over the first's", f"{last / first:.2f}×", "1.0 = linear", "≈ 1")


class _SyntheticArxiv(BaseHTTPRequestHandler):
    """Answers any id_list with invented entries, and counts requests closer than 3 s apart."""

    requests: list[float] = []
    too_fast = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        now = time.monotonic()
        if self.requests and now - self.requests[-1] < 2.9:
            type(self).too_fast += 1
        type(self).requests.append(now)
        query = parse_qs(urlsplit(self.path).query)
        ids = query["id_list"][0].split(",")
        start, size = int(query["start"][0]), int(query["max_results"][0])
        entries = "".join(_entry(i) for i in ids[start : start + size])
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom">'
            f"<id>x</id><title>q</title><updated>2026-01-01T00:00:00Z</updated><opensearch:totalResults>{len(ids)}</opensearch:totalResults>"
            f"<opensearch:startIndex>{start}</opensearch:startIndex><opensearch:itemsPerPage>{size}</opensearch:itemsPerPage>{entries}</feed>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/atom+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _entry(arxiv_id: str) -> str:
    return (
        f"<entry><id>http://arxiv.org/abs/{arxiv_id}v1</id><title>Paper {arxiv_id}</title>"
        "<updated>2024-01-02T00:00:00Z</updated><published>2024-01-02T00:00:00Z</published>"
        "<summary>An abstract.</summary><author><name>Ada Lovelace</name></author>"
        '<arxiv:primary_category term="cs.LG"/><category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>'
        f'<link href="https://arxiv.org/abs/{arxiv_id}v1" rel="alternate" type="text/html"/></entry>'
    )


def bench_add() -> None:
    print("add (issue 3)", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        root = make_project(1, Path(tmp))
        shutil.rmtree(root / "issues" / "arxiv")
        env = dict(os.environ)
        subprocess.run([*DIGEST, "new", "2030-01"], cwd=root, capture_output=True, check=True, env=env)
        if REPLAY.exists():
            log = Path(tmp) / "replay.log"
            replay = subprocess.Popen(
                [sys.executable, str(REPLAY), "--port", "0", "--min-interval", "3", "--log", str(log)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            try:
                line = replay.stdout.readline() if replay.stdout else ""
                port = re.search(r":(\d+)", line)
                if not port:
                    raise SystemExit(f"arxiv-replay did not say its port: {line!r}")
                env["DIGEST_ARXIV_API"] = f"http://127.0.0.1:{port.group(1)}/api/query"
                elapsed = timed([*DIGEST, "add", "--issue", "2030-01", *MAY_2022_FEATURED], root, env)
                requests = log.read_text().count("\n") if log.exists() else -1
                refused = log.read_text().count('"status": 429') if log.exists() else -1
                row("`digest add` 10 ids, arxiv-replay `--min-interval 3`", ms(elapsed), f"{requests} request(s), {refused} × 429", "1 request, no 429 (papis/pubs: 10)")
            finally:
                replay.terminate()
        else:
            row("`digest add` 10 ids, arxiv-replay", "skipped", "(../shared/tools/arxiv-replay not found)")
        server = ThreadingHTTPServer(("127.0.0.1", 0), _SyntheticArxiv)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            env["DIGEST_ARXIV_API"] = f"http://127.0.0.1:{server.server_address[1]}/api/query"
            ids = [f"2401.{n:05d}" for n in range(1, 251)]
            elapsed = timed([*DIGEST, "add", "--issue", "2030-01", *ids], root, env)
            row(
                "`digest add` 250 ids, synthetic arXiv (3 s pacing checked)",
                ms(elapsed),
                f"{len(_SyntheticArxiv.requests)} requests, {_SyntheticArxiv.too_fast} under 3 s apart",
                "3 requests (pages of 100)",
            )
        finally:
            server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats; skip the 1,200-issue archive")
    parser.add_argument("--only", choices=["build", "archive", "add", "check"], action="append")
    args = parser.parse_args()
    repeats = 5 if args.quick else 11
    only = set(args.only or ["build", "archive", "add", "check"])
    if "build" in only:
        bench_build(repeats)
    if "archive" in only:
        bench_archive(3 if args.quick else 5, (12, 120) if args.quick else (12, 120, 1200))
    if "add" in only:
        bench_add()
    if "check" in only:
        bench_check = REPO / "bench" / "bench_check.py"
        if bench_check.exists():
            sys.path.insert(0, str(bench_check.parent))
            import bench_check  # type: ignore[import-not-found]

            for what, figure, anchor, goal in bench_check.figures(repeats):
                row(what, figure, anchor, goal)
    print(f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {sys.platform}; median of {repeats} runs\n")
    print("| what | figure | beside its anchor | goal |")
    print("|---|---|---|---|")
    for what, figure, anchor, goal in rows:
        print(f"| {what} | {figure} | {anchor} | {goal} |")


if __name__ == "__main__":
    main()
