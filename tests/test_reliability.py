"""Reliability: malformed input, faults while fetching, kills mid-write, hostile text.

1. Every file in tests/corpus/ is a broken issue; its first line says what the error is
   (`# expect: LINE:COL <substring>`). Each is built in-process (CliRunner), loaded with
   `load_issue_file`, and a representative few are built in a real subprocess.
2. `digest add` end to end against the fake arXiv while it fails in every way it can.
3. `digest add` in a subprocess, SIGKILLed at random moments: files are old or new, never half.
4. Editor text and arXiv metadata full of markup, template syntax and odd Unicode.

Known library bugs are `xfail(strict=True)` with the diagnosis in their reason.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from fake_arxiv import FakeArxiv, atom, atom_response
from werkzeug import Request, Response

from digest.cli import cli
from digest.errors import DigestError
from digest.issues import list_issue_months, load_issue_file
from digest.markup import escape_markdown
from digest.project import load_project
from digest.records import PaperRecord
from digest.render import build_view
from digest.store import Store, dump_record

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CORPUS = Path(__file__).resolve().parent / "corpus"

ISSUE_NAME = "2031-01"
SHOWN = f"issues/{ISSUE_NAME}.yaml"


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root (but the store's lock file, which any writer may leave) → bytes."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.relative_to(root).as_posix() != "issues/arxiv/.lock"
    }


def fresh_project(root: Path) -> Path:
    shutil.copytree(FIXTURES / "project", root)
    shutil.copytree(REPO / "templates", root / "templates")
    return root


# =========================================================================================
# 1. Malformed input corpus
# =========================================================================================

EXPECT_LINE = re.compile(r"# expect: (?P<loc>\d+:\d+|-) (?P<text>.+)")


@dataclass(frozen=True)
class Case:
    name: str
    loc: str  # "LINE:COL", "-" for a whole-file error (`FILE: error:`), "*" for any LINE:COL
    text: str  # a substring of the message
    make: Callable[[], bytes]

    def __str__(self) -> str:
        return self.name


def _expectation(path: Path) -> tuple[str, str]:
    first = path.read_bytes().removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8")
    match = EXPECT_LINE.fullmatch(first.rstrip("\r"))
    assert match, f"{path.name}: the first line must be `# expect: LINE:COL <substring>`"
    return match["loc"], match["text"]


# Files that cannot carry a comment line (empty, not UTF-8): their expectations live here.
NO_COMMENT = {
    "empty.yaml": ("1:1", "the issue file is empty; start from `digest new YYYY-MM`"),
    "non-utf8.yaml": ("1:12", "not UTF-8 (byte 0xe9); save the file as UTF-8"),
    "utf16-bom.yaml": ("1:1", "not UTF-8 (byte 0xff); save the file as UTF-8"),
}

# Made at test time, too big (or too dangerous) to commit.
GENERATED = [
    Case("ten-megabytes", "1:1", "an issue file is at most 2,000,000",
         lambda: b"teaser: " + b"x" * 10_000_000 + b"\n"),
    # Under the 2 MB cap: a million one-letter items in one flow list.
    Case("too-many-elements", "*", "YAML elements; an issue has a few hundred", lambda: b"news: [" + b"a," * 990_000 + b"a]\n"),
    # 50,000 nested block sequences on one line (100 kB).
    Case("deep-nesting-block", "*", "nest", lambda: b"news:\n  " + b"- " * 50_000 + b"x\n"),
]


def _corpus() -> list[Case]:
    cases = []
    for path in sorted(CORPUS.glob("*.yaml")):
        loc, text = NO_COMMENT[path.name] if path.name in NO_COMMENT else _expectation(path)
        cases.append(Case(path.stem, loc, text, path.read_bytes))
    return cases + GENERATED


CASES = _corpus()

# Errors found when the issue is resolved against the store (citations, arxiv: links, papers
# missing from the store): load_issue_file accepts these files, build_view refuses them.
FOUND_WHEN_RESOLVING = {
    "bad-arxiv-link-id", "missing-from-store", "missing-from-store-group-entry",
    "missing-from-store-link", "missing-from-store-reference", "unknown-citation",
    "unknown-citation-in-caption", "unknown-citation-in-group-note",
}

# Would crash the test process (SIGSEGV): only ever run in a subprocess.
SUBPROCESS_ONLY = {"deep-nesting-block"}

# Built in a real subprocess too (interpreter start ~0.3 s each).
SUBPROCESS_CASES = [
    "tab-indent", "billion-laughs", "python-object-tag", "non-utf8", "multi-document",
    "unknown-citation", "missing-from-store", "deep-nesting", "ten-megabytes",
    "huge-int", "control-character", "deep-nesting-block",
]

KNOWN_BUGS: dict[str, str] = {}  # corpus cases that fail for a known library bug: none left


def _params(cases: list[Case], *, skip: frozenset[str] | set[str] = frozenset()) -> list[object]:
    return [
        pytest.param(case, id=case.name, marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[case.name])]
                     if case.name in KNOWN_BUGS else [])
        for case in cases if case.name not in skip
    ]


def _assert_one_error_line(case: Case, stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert stderr.endswith("\n") and stderr.count("\n") == 1, f"not one line: {stderr!r}"
    line = stderr[:-1]
    if case.loc == "-":
        prefix = f"{SHOWN}: error: "
    elif case.loc == "*":
        match = re.match(rf"{re.escape(SHOWN)}:\d+:\d+: error: ", line)
        prefix = match.group(0) if match else f"{SHOWN}:LINE:COL: error: "
    else:
        prefix = f"{SHOWN}:{case.loc}: error: "
    assert line.startswith(prefix), f"expected {prefix!r}…, got {line!r}"
    assert case.text in line[len(prefix):], f"{case.text!r} not in {line!r}"


def test_corpus_is_big_enough_and_self_describing() -> None:
    files = sorted(CORPUS.glob("*.yaml"))
    assert len(files) >= 40
    assert set(NO_COMMENT) <= {p.name for p in files}
    assert set(FOUND_WHEN_RESOLVING) | set(SUBPROCESS_CASES) | set(KNOWN_BUGS) <= {c.name for c in CASES}
    for path in files:
        if path.name not in NO_COMMENT:
            _expectation(path)  # raises when the first line is not an expectation


@pytest.mark.parametrize("case", _params(CASES, skip=SUBPROCESS_ONLY))
def test_build_refuses_in_process(project_dir: Path, case: Case) -> None:
    issue = project_dir / SHOWN
    issue.write_bytes(case.make())
    before = snapshot(project_dir)
    started = time.perf_counter()
    result = CliRunner().invoke(cli, ["build", ISSUE_NAME])
    elapsed = time.perf_counter() - started
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (1, 2)
    assert result.stdout == ""
    _assert_one_error_line(case, result.stderr)
    assert elapsed < 1.0, f"took {elapsed:.2f} s"
    assert not (project_dir / "site").exists()
    assert snapshot(project_dir) == before  # the issue file byte-identical, nothing else written


@pytest.mark.parametrize("case", _params(CASES, skip=SUBPROCESS_ONLY))
def test_loader_refuses(project_dir: Path, case: Case) -> None:
    """The same table through `load_issue_file` (then `build_view` for errors of resolution)."""
    path = project_dir / SHOWN
    path.write_bytes(case.make())
    started = time.perf_counter()
    with pytest.raises(DigestError) as caught:
        loaded = load_issue_file(path, Path(SHOWN))
        assert case.name in FOUND_WHEN_RESOLVING, "load_issue_file accepted a broken file"
        project = load_project(project_dir)
        build_view(loaded, Store(project.store_dir, display_root=project_dir), project.settings)
    elapsed = time.perf_counter() - started
    _assert_one_error_line(case, str(caught.value) + "\n")
    assert elapsed < 1.0, f"took {elapsed:.2f} s"


@pytest.mark.parametrize("case", _params([c for c in CASES if c.name in SUBPROCESS_CASES]))
def test_build_refuses_in_a_subprocess(project_dir: Path, case: Case) -> None:
    issue = project_dir / SHOWN
    issue.write_bytes(case.make())
    before = snapshot(project_dir)
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "digest", "build", ISSUE_NAME],
            check=False, cwd=project_dir, capture_output=True, text=True, timeout=5,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("digest build did not finish within 5 s")
    elapsed = time.perf_counter() - started
    assert proc.returncode in (1, 2), f"exit {proc.returncode}: {proc.stderr[-500:]}"
    assert proc.stdout == ""
    _assert_one_error_line(case, proc.stderr)
    assert elapsed < 3.0, f"took {elapsed:.2f} s"  # the 1 s budget is asserted in process
    assert not (project_dir / "site").exists()
    assert snapshot(project_dir) == before


# =========================================================================================
# 2. Faults while fetching: `digest add` end to end against the fake arXiv
# =========================================================================================
#
# fetch_papers takes `timeout` and `sleep` as parameters, but nothing outside the process can
# set them (no DIGEST_ARXIV_TIMEOUT, no way to shorten the 1-2-4 s backoff). These in-process
# CLI tests therefore swap fetch_papers' keyword defaults: the CLI still goes through its real
# code path, HTTP is real, and the backoff is recorded instead of slept.

ADD_ID = "2204.03458"
TIMEOUT = 0.25


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fast_add(arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    from digest.fetch import fetch_papers

    monkeypatch.setenv("DIGEST_ARXIV_API", arxiv.url)
    monkeypatch.setenv("DIGEST_ARXIV_MIN_INTERVAL", "0")
    defaults = fetch_papers.__kwdefaults__
    assert defaults is not None and {"sleep", "timeout"} <= set(defaults)
    sleeps = Sleeps()
    monkeypatch.setitem(defaults, "sleep", sleeps)
    monkeypatch.setitem(defaults, "timeout", TIMEOUT)
    return sleeps


def hang(seconds: float) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        time.sleep(seconds)
        return Response("too late", 503)

    return handler


def empty_page(arxiv: FakeArxiv) -> Callable[[Request], Response]:
    return lambda request: arxiv.feed([], total=1)


TRUNCATED = atom("papers.xml")[: atom("papers.xml").index("<name>Noam Shazeer")]


def _feed(body: str, status: int = 200, **headers: str) -> Callable[[FakeArxiv], Response]:
    return lambda arxiv: Response(body, status, headers, content_type="application/atom+xml")


# name: (one scripted answer, repeated 4 times; the final error line; the backoff asked for)
FAILURES: dict[str, tuple[Callable[[FakeArxiv], object], str, list[float]]] = {
    "503-every-time": (_feed("busy", 503), "after 4 attempts (HTTP 503)", [1.0, 2.0, 4.0]),
    "500-every-time": (_feed("oops", 500), "after 4 attempts (HTTP 500)", [1.0, 2.0, 4.0]),
    "429-retry-after": (_feed("slow down", 429, **{"Retry-After": "7"}), "after 4 attempts (HTTP 429)", [7.0, 7.0, 7.0]),
    "429-retry-after-capped": (_feed("slow down", 429, **{"Retry-After": "3600"}), "after 4 attempts (HTTP 429)", [60.0, 60.0, 60.0]),
    "429-http-date": (_feed("slow down", 429, **{"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}), "after 4 attempts (HTTP 429)", [1.0, 2.0, 4.0]),
    "empty-page": (empty_page, "after 4 attempts (empty page: 0 of 1 results from 0)", [1.0, 2.0, 4.0]),
    "garbage": (_feed("\x00\x01 not xml {{{"), "after 4 attempts (unreadable answer: ", [1.0, 2.0, 4.0]),
    "html-error-page": (_feed("<html><body>Bad gateway</body></html>", content_type="text/html"),
                        "after 4 attempts (unreadable answer: <html> is not an Atom feed)", [1.0, 2.0, 4.0]),
    "truncated-body": (_feed(TRUNCATED), "after 4 attempts (unreadable answer: ", [1.0, 2.0, 4.0]),
    "empty-body": (_feed(""), "after 4 attempts (unreadable answer: ", [1.0, 2.0, 4.0]),
    "hang": (lambda arxiv: hang(4 * TIMEOUT), f"after 4 attempts (timed out after {TIMEOUT:g} s)", [1.0, 2.0, 4.0]),
}


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", list(FAILURES))
def test_add_gives_up_cleanly(project_dir: Path, arxiv: FakeArxiv, fast_add: Sleeps, name: str) -> None:
    answer, message, backoff = FAILURES[name]
    for _ in range(4):
        canned = answer(arxiv)
        arxiv.script.append(canned)  # type: ignore[arg-type]
    before = snapshot(project_dir)
    code, out, err = invoke("add", ADD_ID)
    assert (code, out) == (1, "")
    assert err.startswith(f"error: arXiv did not answer {message}") and err.count("\n") == 1, err
    assert len(arxiv.requests) == 4  # the first try and three retries, no more
    assert fast_add == backoff
    assert snapshot(project_dir) == before


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (lambda arxiv: atom_response("error_400.xml", status=400), "error: arXiv refused the query: incorrect id format for abc\n"),
        (lambda arxiv: Response("no such endpoint", 404), "error: arXiv refused the query (HTTP 404 NOT FOUND)\n"),
    ],
    ids=["400-with-arxivs-message", "404"],
)
def test_add_refused_is_not_retried(project_dir: Path, arxiv: FakeArxiv, fast_add: Sleeps,
                                    answer: Callable[[FakeArxiv], Response], expected: str) -> None:
    arxiv.script.append(answer(arxiv))
    before = snapshot(project_dir)
    assert invoke("add", ADD_ID) == (1, "", expected)
    assert len(arxiv.requests) == 1 and fast_add == []
    assert snapshot(project_dir) == before


def test_add_connection_refused(project_dir: Path, fast_add: Sleeps, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as sock:  # a loopback port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("DIGEST_ARXIV_API", f"http://127.0.0.1:{port}/api/query")
    before = snapshot(project_dir)
    code, out, err = invoke("add", ADD_ID)
    assert (code, out) == (1, "")
    assert re.fullmatch(r"error: arXiv did not answer after 4 attempts \(connection failed: \w+\)\n", err), err
    assert fast_add == [1.0, 2.0, 4.0]
    assert snapshot(project_dir) == before


def test_add_second_page_failing_writes_nothing(project_dir: Path, arxiv: FakeArxiv, fast_add: Sleeps) -> None:
    ids = [f"2301.{n:05d}" for n in range(1, 151)]  # two pages
    arxiv.add_synthetic(ids)
    arxiv.script += [arxiv.answer] + [Response("busy", 503)] * 4
    before = snapshot(project_dir)
    code, out, err = invoke("add", *ids)
    assert (code, out, err) == (1, "", "error: arXiv did not answer after 4 attempts (HTTP 503)\n")
    assert [r["start"] for r in arxiv.requests] == ["0", "100", "100", "100", "100"]
    assert snapshot(project_dir) == before  # page one's 100 records were not stored either


# One failure, then arXiv answers: the add goes through as if nothing happened.
RECOVERIES: dict[str, tuple[Callable[[FakeArxiv], object], list[float]]] = {
    "503": (_feed("busy", 503), [1.0]),
    "429-retry-after": (_feed("slow down", 429, **{"Retry-After": "5"}), [5.0]),
    "empty-page": (empty_page, [1.0]),
    "garbage": (_feed("not xml"), [1.0]),
    "truncated-body": (_feed(TRUNCATED), [1.0]),
    "hang": (lambda arxiv: hang(4 * TIMEOUT), [1.0]),
}


@pytest.mark.parametrize("name", list(RECOVERIES))
def test_add_recovers_after_one_failure(project_dir: Path, arxiv: FakeArxiv, fast_add: Sleeps, name: str) -> None:
    answer, backoff = RECOVERIES[name]
    arxiv.script.append(answer(arxiv))  # type: ignore[arg-type]
    old = (project_dir / "issues/2030-01.yaml").read_text(encoding="utf-8")
    code, out, err = invoke("add", ADD_ID)
    assert (code, err) == (0, ""), err
    assert out.splitlines() == [
        f"added {ADD_ID}v2 “Video Diffusion Models” to issues/2030-01.yaml",
        "fetched 1 record(s) in 2 request(s)",
    ]
    assert len(arxiv.requests) == 2 and fast_add == backoff
    new = (project_dir / "issues/2030-01.yaml").read_text(encoding="utf-8")
    assert new.startswith(old) or _is_splice(old, new)
    record = yaml.safe_load((project_dir / f"issues/arxiv/{ADD_ID}.yaml").read_text(encoding="utf-8"))
    assert record["version"] == 2 and len(record["authors"]) > 1  # a whole record, not a cut one


def _is_splice(old: str, new: str) -> bool:
    k = 0
    while k < len(old) and new[k] == old[k]:
        k += 1
    return len(new) > len(old) and new.endswith(old[k:])


@pytest.fixture
def quiet_server_log() -> Iterator[None]:
    import logging

    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


def _run_add(root: Path, arxiv: FakeArxiv, *ids: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DIGEST_ARXIV_API=arxiv.url, DIGEST_ARXIV_MIN_INTERVAL="0")
    return subprocess.run([sys.executable, "-m", "digest", "add", *ids], check=False, cwd=root, env=env,
                          capture_output=True, text=True, timeout=20)


def test_refusal_is_one_line_in_a_real_process(project_dir: Path, arxiv: FakeArxiv, quiet_server_log: None) -> None:
    arxiv.script.append(atom_response("error_400.xml", status=400))
    before = snapshot(project_dir)
    proc = _run_add(project_dir, arxiv, ADD_ID)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == "error: arXiv refused the query: incorrect id format for abc\n"
    assert snapshot(project_dir) == before


def test_retries_do_not_leak_log_lines_to_stderr(project_dir: Path, arxiv: FakeArxiv, quiet_server_log: None) -> None:
    arxiv.script.append(Response("busy", 503))  # costs one real 1 s backoff
    proc = _run_add(project_dir, arxiv, ADD_ID)
    assert proc.returncode == 0 and "fetched 1 record(s) in 2 request(s)" in proc.stdout
    assert proc.stderr == ""


# --- the retry sequences at the fetch_papers level, where `sleep` is a parameter -----------


def test_mixed_failures_back_off_in_order(arxiv: FakeArxiv) -> None:
    from digest.fetch import fetch_papers

    sleeps = Sleeps()
    arxiv.script += [Response("busy", 503), Response("slow", 429, {"Retry-After": "9"}), hang(4 * TIMEOUT)]
    result = fetch_papers([ADD_ID], api_url=arxiv.url, min_interval=0, sleep=sleeps, timeout=TIMEOUT)
    assert set(result.found) == {ADD_ID} and result.requests_made == 4
    assert sleeps == [1.0, 9.0, 4.0]  # backoff 1, Retry-After over backoff 2, backoff 4


def test_backoff_is_capped(arxiv: FakeArxiv) -> None:
    from digest.errors import FetchError
    from digest.fetch import fetch_papers

    sleeps = Sleeps()
    arxiv.script += [Response("busy", 503)] * 8
    with pytest.raises(FetchError, match=r"after 8 attempts \(HTTP 503\)"):
        fetch_papers([ADD_ID], api_url=arxiv.url, min_interval=0, sleep=sleeps, max_attempts=8)
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


# =========================================================================================
# 3. Killed mid-write
# =========================================================================================

KILL_IDS = [f"2401.{n:05d}" for n in range(1, 9)] + ["physics/0004057"]
KILL_TRIALS = 50


def _store_path(ident: str) -> str:
    return f"issues/arxiv/{ident}.yaml"


def test_kill_at_random_moments(tmp_path: Path, arxiv: FakeArxiv, quiet_server_log: None,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    arxiv.add_synthetic(KILL_IDS[:-1])
    env = dict(os.environ, DIGEST_ARXIV_API=arxiv.url, DIGEST_ARXIV_MIN_INTERVAL="0")
    command = [sys.executable, "-m", "digest", "add", *KILL_IDS]
    pristine = fresh_project(tmp_path / "pristine")
    old_files = snapshot(pristine)
    issue = "issues/2030-01.yaml"
    old_text = old_files[issue].decode("utf-8")
    old_data = yaml.safe_load(old_text)

    # The command's normal duration and its complete result.
    durations, results = [], []
    for k in range(3):
        root = shutil.copytree(pristine, tmp_path / f"complete-{k}")
        started = time.perf_counter()
        proc = subprocess.run(command, check=False, cwd=root, env=env, capture_output=True, text=True, timeout=20)
        durations.append(time.perf_counter() - started)
        assert proc.returncode == 0, proc.stderr
        results.append(snapshot(root))
    assert results[0] == results[1] == results[2]  # deterministic, so "complete" is one thing
    complete = results[0]
    new_text = complete[issue].decode("utf-8")
    new_data = yaml.safe_load(new_text)
    assert new_data["papers"] == old_data["papers"] + [{"arxiv": i, "why": "", "insights": ""} for i in KILL_IDS]
    assert _is_splice(old_text, new_text)
    records = {path: data for path, data in complete.items() if path not in old_files}
    assert set(records) == {_store_path(i) for i in KILL_IDS}
    duration = statistics.median(durations)

    monkeypatch.setenv("DIGEST_ARXIV_API", arxiv.url)
    monkeypatch.setenv("DIGEST_ARXIV_MIN_INTERVAL", "0")
    rng = random.Random(20260522)
    outcomes = {"old": 0, "new": 0, "records only": 0, "temp files left": 0}
    for trial in range(KILL_TRIALS):
        root = shutil.copytree(pristine, tmp_path / f"trial-{trial:02d}")
        delay = rng.uniform(0, duration * 1.1)
        victim = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        where = f"trial {trial}, killed after {delay:.3f} s"
        files = snapshot(root)

        temp = {p for p in files if Path(p).name.startswith(".") and p.endswith(".tmp")}
        stray = set(files) - temp - set(old_files) - set(complete)
        assert not stray, f"{where}: unexpected files {sorted(stray)}"
        for path, data in old_files.items():
            if path != issue:
                assert files[path] == data, f"{where}: {path} changed"
        text = files[issue].decode("utf-8")
        assert text in (old_text, new_text), f"{where}: the issue file is neither old nor new"
        assert yaml.safe_load(text) in (old_data, new_data)
        assert _is_splice(old_text, text) or text == old_text
        stored = {path for path in records if path in files}
        for path in stored:
            assert files[path] == records[path], f"{where}: {path} is not a complete record"
            assert PaperRecord.model_validate(yaml.safe_load(files[path]))
        if text == new_text:
            assert stored == set(records), f"{where}: stubs were written before their records"
        outcomes["new" if text == new_text else "records only" if stored else "old"] += 1
        outcomes["temp files left"] += bool(temp)

        # Leftover temp files are invisible to listing and building ...
        assert list_issue_months(root / "issues") == ["2030-01"]
        all_ids = Store(root / "issues/arxiv").all_ids()
        assert all(not Path(i).name.startswith(".") for i in all_ids), all_ids
        code, _, err = invoke("-C", str(root), "build", "2030-01")
        assert code == 0, f"{where}: {err}"
        # ... and running the command again finishes the job.
        code, _, err = invoke("-C", str(root), "add", *KILL_IDS)
        assert code == 0, f"{where}: {err}"
        assert (root / issue).read_text(encoding="utf-8") == new_text
        shutil.rmtree(root)
    print(f"kill outcomes over {KILL_TRIALS} trials (normal run {duration:.2f} s): {outcomes}")
    assert outcomes["old"] > 0  # the spread reached the early part at least


# =========================================================================================
# 4. Hostile text
# =========================================================================================

PAYLOAD = ("<script>alert(1)</script> {{ 7*7 }} {% for x in y %} &amp; & <b> $\\alpha$ "
           "\u202eRTL\u200f 🧪 👩\u200d🔬 \"quotes'")
# In Markdown fields `&amp;` is CommonMark for "&": what a reader sees is the entity decoded.
PAYLOAD_SEEN_IN_MARKDOWN_FIELDS = PAYLOAD.replace("&amp;", "&")


def _q(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


# marker → is the field Markdown (written as is into .md) or plain text (Markdown-escaped)?
MARKDOWN_FIELDS = ["INTRO", "NEWS", "CODE", "RINTRO", "WHY", "INSIGHTS", "CAPTION", "SOURCE",
                   "EWHY", "GINTRO", "NOTE1", "NOTE2", "OUTRO", "BOOK"]
PLAIN_FIELDS = ["TITLE", "TEASER", "LABEL", "ALT", "OVERRIDE", "BY", "EXTERNAL", "AUTHOR1",
                "GROUP", "ETITLE", "SAUTHOR1", "RAUTHOR"]
# Titles from arXiv: shown as `PaperRecord.clean_title` (arXiv's LaTeX made readable, so TeX
# braces go), then escaped like any plain text.
ARXIV_TITLES = ["STORE1", "STORE2", "STORE3"]
HTML_ONLY = ["EDITOR"]


def v(marker: str) -> str:
    return f"{marker} {PAYLOAD}"


def shown(marker: str) -> str:
    """The text a plain field should show: as given, or an arXiv title as clean_title makes it."""
    if marker in ARXIV_TITLES:
        return PaperRecord(id="2201.00001", version=1, title=v(marker), authors=[], published=dt.date(2022, 1, 3),
                           updated=dt.date(2022, 1, 3), primary_category="cs.LG").clean_title
    return v(marker)


HOSTILE_ISSUE = f"""\
title: {_q(v("TITLE"))}
teaser: {_q(v("TEASER"))}
editor: {_q(v("EDITOR"))}
date: 2031-01-15
intro: {_q(v("INTRO"))}
news:
  - {_q(v("NEWS") + " and [](arxiv:2201.00001)")}
code:
  - {_q(v("CODE"))}
research_intro: {_q(v("RINTRO"))}
papers:
  - arxiv: "2201.00001"
    links:
      {_q(v("LABEL"))}: "https://example.org/?a=1&b=2"
    why: {_q(v("WHY") + " [^ref]")}
    insights: {_q(v("INSIGHTS"))}
    figures:
      - image: https://example.org/figure.png
        caption: {_q(v("CAPTION"))}
        source: {_q(v("SOURCE"))}
        alt: {_q(v("ALT"))}
  - arxiv: "2201.00002"
    title: {_q(v("OVERRIDE"))}
    by: {_q(v("BY"))}
    why: plain
  - title: {_q(v("EXTERNAL"))}
    url: https://example.org/external
    authors: [{_q(v("AUTHOR1"))}, Ada Lovelace]
    why: {_q(v("EWHY"))}
  - group: {_q(v("GROUP"))}
    intro: {_q(v("GINTRO"))}
    entries:
      - arxiv: "2201.00002"
        note: {_q(v("NOTE1"))}
      - title: {_q(v("ETITLE"))}
        url: https://example.org/entry
        note: {_q(v("NOTE2"))}
outro: {_q(v("OUTRO"))}
references:
  ref: "2201.00003"
  book: {{text: {_q(v("BOOK"))}, url: "https://example.org/book"}}
"""

HOSTILE_RECORDS = [
    ("2201.00001", v("STORE1"), [v("SAUTHOR1"), "Bob Builder"]),
    ("2201.00002", v("STORE2"), ["Carol"]),
    ("2201.00003", v("STORE3"), [v("RAUTHOR")]),
]

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Text (entities decoded), attribute values, and tag balance of one HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self.attributes: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [value for _, value in attrs if value is not None]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [value for _, value in attrs if value is not None]

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "style" not in self.stack:
            self.text.append(data)

    @property
    def visible(self) -> str:
        return "".join(self.text)


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = fresh_project(tmp_path_factory.mktemp("hostile") / "project")
    (root / f"issues/{ISSUE_NAME}.yaml").write_text(HOSTILE_ISSUE, encoding="utf-8")
    for ident, title, authors in HOSTILE_RECORDS:
        record = PaperRecord(
            id=ident, version=1, title=title, authors=authors, published=dt.date(2022, 1, 3),
            updated=dt.date(2022, 1, 4), primary_category="cs.LG", categories=["cs.LG"],
            abstract=v("ABSTRACT"), comment=v("COMMENT"),
        )
        (root / _store_path(ident)).write_text(dump_record(record), encoding="utf-8")
    for fmt in ("all", "email"):
        result = CliRunner().invoke(cli, ["-C", str(root), "build", ISSUE_NAME, "--format", fmt])
        assert result.exit_code == 0, result.output + repr(result.exception)
    site = root / "site"
    return {
        "md": (site / f"{ISSUE_NAME}.md").read_text(encoding="utf-8"),
        "html": (site / f"{ISSUE_NAME}.html").read_text(encoding="utf-8"),
        "email": (site / f"{ISSUE_NAME}.email.html").read_text(encoding="utf-8"),
    }


@pytest.mark.parametrize("marker", MARKDOWN_FIELDS)
def test_markdown_fields_come_out_as_written(hostile_site: dict[str, str], marker: str) -> None:
    assert v(marker) in hostile_site["md"]


def _plain_param(marker: str) -> object:
    return marker


@pytest.mark.parametrize("marker", [_plain_param(m) for m in PLAIN_FIELDS + ARXIV_TITLES])
def test_plain_fields_are_markdown_escaped(hostile_site: dict[str, str], marker: str) -> None:
    assert escape_markdown(shown(marker)) in hostile_site["md"]


def test_markdown_has_no_evaluated_template(hostile_site: dict[str, str]) -> None:
    md = hostile_site["md"]
    assert "49" not in md
    assert md.count("{% for x in y %}") >= len(MARKDOWN_FIELDS) + len(PLAIN_FIELDS)
    assert md.count("{{ 7*7 }}") >= len(MARKDOWN_FIELDS)  # escaped forms read {{ 7\*7 }}


def _page(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


@pytest.mark.parametrize("fmt", ["html", "email"])
def test_html_is_escaped_and_balanced(hostile_site: dict[str, str], fmt: str) -> None:
    _assert_escaped_and_balanced(hostile_site[fmt])


def _assert_escaped_and_balanced(html: str) -> None:
    page = _page(html)
    assert "script" not in page.tags and "<script" not in html.lower()
    assert "b" not in page.tags  # the payload's <b> never became an element
    assert page.problems == [] and page.stack == [], (page.problems, page.stack)
    assert "49" not in page.visible
    assert page.visible.count("{{ 7*7 }}") >= len(MARKDOWN_FIELDS)  # each field: test_html_shows_…
    assert page.visible.count("{% for x in y %}") >= len(MARKDOWN_FIELDS)


def _html_params() -> list[object]:
    params: list[object] = []
    for fmt in ("html", "email"):
        for marker in MARKDOWN_FIELDS + PLAIN_FIELDS + ARXIV_TITLES + HTML_ONLY:
            if marker == "ALT" or (marker in HTML_ONLY and fmt == "email"):
                continue  # alt is an attribute (below); the email has no byline
            params.append(pytest.param(fmt, marker, id=f"{marker}-{fmt}"))
    return params


@pytest.mark.parametrize(("fmt", "marker"), _html_params())
def test_html_shows_the_text_literally(hostile_site: dict[str, str], fmt: str, marker: str) -> None:
    seen = f"{marker} {PAYLOAD_SEEN_IN_MARKDOWN_FIELDS}" if marker in MARKDOWN_FIELDS else shown(marker)
    assert seen in _page(hostile_site[fmt]).visible


@pytest.mark.parametrize("fmt", ["html", "email"])
def test_html_attributes_are_literal(hostile_site: dict[str, str], fmt: str) -> None:
    page = _page(hostile_site[fmt])
    assert v("ALT") in page.attributes
    if fmt == "html":
        assert v("TEASER") in page.attributes  # <meta name="description">
