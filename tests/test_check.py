"""`digest check`: every rule breaks and passes at an exact place; CLI exit codes and formats;
the online checks against loopback servers (links: pytest-httpserver; arXiv: the fake API)."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_arxiv import FakeArxiv
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from digest.check import Finding, check_issues, format_github, format_json, summary
from digest.cli import cli
from digest.linkcheck import LinkResult, check_links
from digest.project import load_project
from digest.urls import url_problem

REPO = Path(__file__).resolve().parent.parent
STORE = Path(__file__).resolve().parent / "fixtures" / "project" / "issues" / "arxiv"

# Passes every rule, --strict included. The store (tests/fixtures/project) has 1512.03385,
# 1706.03762 (v5), 1810.04805 and hep-th/9711200. Line numbers matter: the tests point into it.
GOOD = """\
papers:
  - arxiv: "1706.03762"
    links:
      Code: https://github.com/example/transformer
    why: Attention[^resnet][^book] is all you need.
    insights: |
      See [the paper](arxiv:1706.03762) and
      [ResNet](https://example.org/resnet).
    figures:
      - image: https://example.org/fig.png
  - title: A Work Not on arXiv
    url: https://example.org/book
    why: It predates arXiv.
    insights: Still worth reading.
  - group: Datasets
    entries:
      - arxiv: "1810.04805"
        note: bidirectional pretraining.
      - title: Bench
        url: https://example.org/bench
references:
  resnet: "1512.03385"
  book: {text: "A book.", url: "https://example.org/notes"}
"""


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty digest project with the fixture store; cwd set there."""
    root = tmp_path / "proj"
    (root / "issues").mkdir(parents=True)
    shutil.copytree(STORE, root / "issues" / "arxiv")
    (root / "pyproject.toml").write_text("[tool.digest]\n", encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def write(root: Path, text: str, month: str = "2030-02") -> None:
    (root / "issues" / f"{month}.yaml").write_text(text, encoding="utf-8")


def edit(old: str, new: str, text: str = GOOD) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def run(root: Path, text: str, **options: object) -> list[tuple[int, int, str, str]]:
    write(root, text)
    findings = check_issues(load_project(root), ["2030-02"], **options)  # type: ignore[arg-type]
    assert all(f.path == "issues/2030-02.yaml" for f in findings), findings
    return [(f.line, f.column, f.severity, f.rule) for f in findings]


def test_the_good_issue_passes_strict(proj: Path) -> None:
    assert run(proj, GOOD, strict=True) == []


# --- one case per rule: (what breaks, replaced by, the findings as (line, col, severity, rule)) ---

CASES = {
    "invalid-issue: unknown key": ("    why: It predates", "    wyh: It predates", [(13, 5, "error", "invalid-issue")]),
    "invalid-issue: YAML syntax": ("  resnet: ", "  resnet: [", [(23, 3, "error", "invalid-issue")]),
    "invalid-issue: duplicate key": ("  book: {", '  resnet: "1512.03385"\n  book: {', [(23, 3, "error", "invalid-issue")]),
    "missing-paper: paper item": ('arxiv: "1706.03762"', 'arxiv: "2204.03458"', [(2, 12, "error", "missing-paper")]),
    "missing-paper: group entry": ('"1810.04805"', '"2204.03458"', [(17, 16, "error", "missing-paper")]),
    "missing-paper: reference": ('resnet: "1512.03385"', 'resnet: "2204.03458"', [(22, 11, "error", "missing-paper")]),
    "missing-paper: arxiv link": ("(arxiv:1706.03762)", "(arxiv:2204.03458)", [(7, 11, "error", "missing-paper")]),
    "bad-arxiv-link": ("(arxiv:1706.03762)", "(arxiv:1706.3762)", [(7, 11, "error", "bad-arxiv-link")]),
    "missing-reference": ("[^book]", "[^boek]", [(5, 28, "error", "missing-reference"), (23, 3, "warning", "unused-reference")]),
    "unused-reference": ("[^resnet][^book]", "[^book]", [(22, 3, "warning", "unused-reference")]),
    "duplicate-reference": ("[^book] is", "[^book][^again] is", [(24, 3, "warning", "duplicate-reference")], '  again: "1512.03385v1"\n'),
    "duplicate-paper": ('"1810.04805"', '"1706.03762v2"', [(17, 16, "error", "duplicate-paper")]),
    "empty-note: empty value": ("insights: Still worth reading.", 'insights: ""', [(14, 5, "warning", "empty-note")]),
    "empty-note: no key": ("    insights: Still worth reading.\n", "", [(11, 5, "warning", "empty-note")]),
    "invalid-issue: bad item link": ("https://github.com/example/transformer", "https://github/x", [(4, 13, "error", "invalid-issue")]),
    "invalid-issue: bad figure image": ("https://example.org/fig.png", "https://example..org/f.png", [(10, 16, "error", "invalid-issue")]),
    "invalid-issue: bad external url": ("https://example.org/book", "https://example.org:99999/book", [(12, 10, "error", "invalid-issue")]),
    "invalid-issue: bad entry url": ("https://example.org/bench", "https://bench/", [(20, 14, "error", "invalid-issue")]),
    "invalid-issue: bad reference url": ('url: "https://example.org/notes"', 'url: "https://notes"', [(23, 32, "error", "invalid-issue")]),
    "bad-url: markdown link": ("(https://example.org/resnet)", "(www.example.org/resnet)", [(8, 16, "error", "bad-url")]),
    "bad-url: markdown in a reference": ('text: "A book."', 'text: "A [book](ftp://x.org)."', [(23, 26, "error", "bad-url")]),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_rule_breaks_at_its_place(proj: Path, case: tuple) -> None:  # type: ignore[type-arg]
    old, new, expected, *appended = case
    assert run(proj, edit(old, new) + "".join(appended)) == expected


def test_invalid_issue_keeps_the_loaders_message_and_skips_other_rules(proj: Path) -> None:
    write(proj, edit("    why: It predates", "    wyh: It predates") + "  unused: 1312.6114\n")
    [finding] = check_issues(load_project(proj), ["2030-02"])
    assert str(finding) == "issues/2030-02.yaml:13:5: error: unknown key 'wyh' (did you mean 'why'?) [invalid-issue]"


def test_strict_turns_empty_notes_and_unused_references_into_errors(proj: Path) -> None:
    text = edit("insights: Still worth reading.", 'insights: ""', edit("[^resnet][^book]", "[^book]"))
    assert run(proj, text) == [(14, 5, "warning", "empty-note"), (22, 3, "warning", "unused-reference")]
    assert run(proj, text, strict=True) == [(14, 5, "error", "empty-note"), (22, 3, "error", "unused-reference")]


def test_featured_before_names_the_earlier_issue(proj: Path) -> None:
    write(proj, GOOD)
    write(proj, "papers:\n  - arxiv: 1810.04805v1\n    why: x\n    insights: y\n", "2029-12")
    write(proj, "papers: []\n", "2031-01")  # later issues do not count
    findings = check_issues(load_project(proj), ["2030-02"])
    assert [str(f) for f in findings] == [
        "issues/2030-02.yaml:17:16: warning: paper 1810.04805 was featured in 2029-12 already [featured-before]"
    ]
    assert check_issues(load_project(proj), ["2029-12"]) == []


def test_messages_say_what_to_do(proj: Path) -> None:
    write(proj, edit('"1810.04805"', '"2204.03458"'))
    [finding] = check_issues(load_project(proj), ["2030-02"])
    assert finding.message == "paper 2204.03458 is not in the metadata store; add it with `digest add 2204.03458`"


def test_positions_inside_folded_plain_and_quoted_scalars(proj: Path) -> None:
    # Folding turns line breaks into spaces: the position must still be on the right line.
    text = (
        "news:\n"
        "  - >-\n"
        "    A folded item that runs on,\n"
        "    then cites [^nope] on its second line.\n"
        "  - A plain scalar that runs on\n"
        "    and links [x](arxiv:2204.03458) here.\n"
        '  - "quoted \\"text\\" with [^gone]"\n'
        "research_intro: |\n"
        "  Intro.\n"
        "    An indented line: [^nada]\n"
    )
    assert run(proj, text) == [
        (4, 16, "error", "missing-reference"),
        (6, 15, "error", "missing-paper"),
        (7, 27, "error", "missing-reference"),  # after the escapes \" in the file
        (10, 23, "error", "missing-reference"),
    ]


def test_code_is_not_checked(proj: Path) -> None:
    text = edit("See [the paper]", "See `[^x] [y](www.nope)` [the paper]")
    assert run(proj, text, strict=True) == []


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://example.org/a?b=1#c", ""),
        ("http://localhost:8000/", ""),
        ("http://127.0.0.1:5/x", ""),
        ("http://[::1]/x", ""),
        ("https://bücher.de/", ""),
        ("example.org/x", "it does not start with http:// or https://"),
        ("ftp://example.org/", "the scheme is ftp:, not http(s):"),
        ("https://exa mple.org/", "it contains a space"),
        ("https:///path", "it has no host"),
        ("https://example/", "the host 'example' has no dot"),
        ("https://-bad.org/", "the host '-bad.org' is not a domain name"),
        ("https://example.123/", "the host 'example.123' is not a domain name"),
        ("https://[::1/", "it cannot be read (Invalid IPv6 URL)"),
    ],
)
def test_url_problem(url: str, problem: str) -> None:
    assert url_problem(url) == problem


@pytest.mark.parametrize(
    ("severities", "n", "expected"),
    [
        ([], 1, "no problems in 1 issue"),
        ([], 0, "no problems in 0 issues"),
        (["error"], 1, "1 error in 1 issue"),
        (["warning", "warning"], 2, "2 warnings in 2 issues"),
        (["error", "warning", "error"], 3, "2 errors, 1 warning in 3 issues"),
    ],
)
def test_summary(severities: list[str], n: int, expected: str) -> None:
    findings = [Finding("f", 1, 1, s, "m", "r") for s in severities]  # type: ignore[arg-type]
    assert summary(findings, n) == expected


def test_github_format_escapes() -> None:
    finding = Finding("issues/a,b.yaml", 3, 4, "warning", "50% done\nnext", "empty-note")
    assert format_github([finding]) == "::warning file=issues/a%2Cb.yaml,line=3,col=4,title=empty-note::50%25 done%0Anext"


# --- the command line ---------------------------------------------------------------------


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_exit_0_with_a_summary(proj: Path) -> None:
    write(proj, GOOD)
    result = invoke("check")
    assert (result.exit_code, result.stdout) == (0, "no problems in 1 issue\n")  # type: ignore[attr-defined]


def test_cli_exit_1_prints_findings_then_the_summary(proj: Path) -> None:
    write(proj, edit("[^book]", "[^boek]"))
    write(proj, GOOD, "2030-03")
    result = invoke("check", "--all")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert result.stdout.splitlines() == [  # type: ignore[attr-defined]
        "issues/2030-02.yaml:5:28: error: citation [^boek] has no entry in references; add `boek: <arXiv id>` under references: [missing-reference]",
        "issues/2030-02.yaml:23:3: warning: reference 'book' is never cited; cite it with [^book] or remove it [unused-reference]",
        "issues/2030-03.yaml:2:12: warning: paper 1706.03762 was featured in 2030-02 already [featured-before]",
        "issues/2030-03.yaml:17:16: warning: paper 1810.04805 was featured in 2030-02 already [featured-before]",
        "1 error, 3 warnings in 2 issues",
    ]


def test_cli_warnings_pass_unless_strict(proj: Path) -> None:
    write(proj, edit("[^resnet][^book]", "[^book]"))
    assert invoke("check", "2030-02").exit_code == 0  # type: ignore[attr-defined]
    result = invoke("check", "2030-02", "--strict")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert result.stdout.splitlines()[-1] == "1 error in 1 issue"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["2022-13"], "month 13 does not exist"),
        (["--all", "2030-02"], "name issues or pass --all, not both"),
        (["--format", "xml"], "'xml' is not one of"),
    ],
)
def test_cli_usage_errors_exit_2(proj: Path, args: list[str], message: str) -> None:
    write(proj, GOOD)
    result = invoke("check", *args)
    assert result.exit_code == 2 and message in result.stderr  # type: ignore[attr-defined]


def test_cli_missing_issue_file_exits_1(proj: Path) -> None:
    result = invoke("check", "2030-09")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert result.stderr == "issues/2030-09.yaml: error: no such issue; create it with `digest new 2030-09`\n"  # type: ignore[attr-defined]


def test_cli_json_is_the_only_stdout(proj: Path) -> None:
    write(proj, edit('"1810.04805"', '"2204.03458"'))
    result = invoke("check", "--format", "json")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert json.loads(result.stdout) == [  # type: ignore[attr-defined]
        {
            "path": "issues/2030-02.yaml",
            "line": 17,
            "column": 16,
            "severity": "error",
            "message": "paper 2204.03458 is not in the metadata store; add it with `digest add 2204.03458`",
            "rule": "missing-paper",
        }
    ]
    assert result.stderr == "1 error in 1 issue\n"  # type: ignore[attr-defined]
    assert format_json([]) == "[]"


def test_cli_github_format(proj: Path) -> None:
    write(proj, edit("insights: Still worth reading.", 'insights: ""'))
    result = invoke("check", "--format", "github")
    assert result.exit_code == 0  # type: ignore[attr-defined]
    assert result.stdout.splitlines() == [  # type: ignore[attr-defined]
        "::warning file=issues/2030-02.yaml,line=14,col=5,title=empty-note::'insights' of paper 'A Work Not on arXiv' is empty; write it before publishing",
        "1 warning in 1 issue",
    ]


def test_shipped_example_issue_passes_strict() -> None:
    result = invoke("-C", str(REPO), "check", "--strict")
    assert result.exit_code == 0, result.stdout  # type: ignore[attr-defined]
    assert result.stdout.endswith("no problems in 1 issue\n")  # type: ignore[attr-defined]


# --- online: links ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def make_httpserver() -> Iterator[HTTPServer]:
    """The `httpserver` fixture, threaded: a sleeping handler must not hold up the others."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


class Sleeps(list):  # type: ignore[type-arg]
    """A stand-in for time.sleep that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(round(seconds, 3))


def paths(httpserver: HTTPServer) -> list[tuple[str, str]]:
    return [(request.method, request.path) for request, _ in httpserver.log]


def serve_endpoints(httpserver: HTTPServer) -> dict[str, int]:
    """200, 301 → 200, 404, 429-then-200, HEAD 405 then GET 200, and one that is too slow."""
    calls = {"busy": 0, "slow": 0}

    def busy(request: Request) -> Response:
        calls["busy"] += 1
        return Response("", 429, {"Retry-After": "1"}) if calls["busy"] == 1 else Response("ok")

    def slow(request: Request) -> Response:
        calls["slow"] += 1
        time.sleep(0.5)
        return Response("late")

    httpserver.expect_request("/ok").respond_with_data("ok")
    httpserver.expect_request("/moved").respond_with_data("", 301, {"Location": httpserver.url_for("/ok")})
    httpserver.expect_request("/missing").respond_with_data("no", 404)
    httpserver.expect_request("/busy").respond_with_handler(busy)
    httpserver.expect_request("/nohead", method="HEAD").respond_with_data("", 405)
    httpserver.expect_request("/nohead", method="GET").respond_with_data("ok")
    httpserver.expect_request("/slow").respond_with_handler(slow)
    return calls


def test_check_links_against_a_loopback_server(httpserver: HTTPServer) -> None:
    calls = serve_endpoints(httpserver)
    url = httpserver.url_for
    sleeps = Sleeps()
    results = check_links(
        [url(p) for p in ("/ok", "/moved", "/missing", "/busy", "/nohead", "/slow")] + [url("/ok") + "#part"],
        timeout=0.2,
        sleep=sleeps,
    )
    assert results == {
        url("/ok"): LinkResult(True, 200, "OK"),
        url("/ok") + "#part": LinkResult(True, 200, "OK"),
        url("/moved"): LinkResult(True, 200, "OK"),
        url("/missing"): LinkResult(False, 404, "HTTP 404 NOT FOUND"),
        url("/busy"): LinkResult(True, 200, "OK"),
        url("/nohead"): LinkResult(True, 200, "OK"),
        url("/slow"): LinkResult(False, None, "timed out after 0.2 s (3 attempts)"),
    }
    assert calls == {"busy": 2, "slow": 3}  # 429 retried once; a timeout twice (retries=2)
    # Backoff before the two retries of /slow (0.5 s, 1 s); Retry-After: 1 for /busy (other
    # requests to that host wait out the rest of that second too).
    assert {0.5, 1.0} <= set(sleeps) and max(sleeps) == 1.0
    requests = paths(httpserver)
    assert requests.count(("HEAD", "/ok")) == 2  # once itself, once at the end of the redirect
    assert ("GET", "/nohead") in requests and ("GET", "/ok") not in requests


def test_retry_after_is_capped(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/x").respond_with_data("", 429, {"Retry-After": "3600"})
    httpserver.expect_ordered_request("/x").respond_with_data("ok")
    sleeps = Sleeps()
    assert check_links([httpserver.url_for("/x")], sleep=sleeps)[httpserver.url_for("/x")].ok
    assert sleeps == [10.0]


def test_per_host_limit(httpserver: HTTPServer) -> None:
    lock, state = threading.Lock(), {"now": 0, "max": 0}

    def handler(request: Request) -> Response:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return Response("ok")

    httpserver.expect_request("/many").respond_with_handler(handler)
    results = check_links([httpserver.url_for(f"/many?n={n}") for n in range(16)], workers=16, per_host=3)
    assert all(r.ok for r in results.values()) and len(results) == 16
    assert 2 <= state["max"] <= 3


def test_cache_skips_recent_successes_only(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/ok").respond_with_data("ok")
    httpserver.expect_request("/missing").respond_with_data("no", 404)
    cache = tmp_path / "cache" / "links.json"
    urls = [httpserver.url_for("/ok"), httpserver.url_for("/missing")]
    first = check_links(urls, cache_path=cache)
    assert [r.ok for r in first.values()] == [True, False]
    assert list(json.loads(cache.read_text())["links"]) == [urls[0]]
    assert len(httpserver.log) == 2

    second = check_links(urls, cache_path=cache)
    assert second[urls[0]] == LinkResult(True, 200, "cached")
    assert paths(httpserver)[2:] == [("HEAD", "/missing")]  # no request for the cached success

    data = json.loads(cache.read_text())
    data["links"][urls[0]]["checked"] -= 25 * 3600  # more than a day old: asked again
    cache.write_text(json.dumps(data))
    check_links(urls, cache_path=cache)
    assert sorted(paths(httpserver)[3:]) == [("HEAD", "/missing"), ("HEAD", "/ok")]


def test_excluded_urls_are_not_requested(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/ok").respond_with_data("ok")
    private = httpserver.url_for("/private/page")
    results = check_links([httpserver.url_for("/ok"), private], exclude=[r"/private/"])
    assert results[private] == LinkResult(True, None, "excluded")
    assert paths(httpserver) == [("HEAD", "/ok")]


# --- online: the whole check, links and arXiv ---------------------------------------------

ONLINE = """\
papers:
  - arxiv: 1706.03762v5
    links:
      Live: {ok}
      Gone: {missing}
      Private: {private}
    why: Attention[^resnet].
    insights: See [the page]({missing}#top) and [](arxiv:hep-th/9711200).
  - group: Datasets
    entries:
      - arxiv: "1810.04805"
references:
  resnet: "1512.03385"
"""


def test_online_check(proj: Path, httpserver: HTTPServer, arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_ARXIV_API", arxiv.url)
    monkeypatch.setenv("DIGEST_ARXIV_MIN_INTERVAL", "0")
    arxiv.add_synthetic(["1512.03385"])  # 1810.04805 stays unknown to the fake arXiv
    httpserver.expect_request("/ok").respond_with_data("ok")
    httpserver.expect_request("/missing").respond_with_data("no", 404)
    (proj / "pyproject.toml").write_text('[tool.digest]\nlink_check_exclude = ["/private/"]\n', encoding="utf-8")
    write(proj, ONLINE.format(ok=httpserver.url_for("/ok"), missing=httpserver.url_for("/missing"), private=httpserver.url_for("/private/x")))

    assert invoke("check").exit_code == 0  # offline: nothing wrong
    assert len(arxiv.requests) == 0 and len(httpserver.log) == 0

    result = invoke("check", "--online")
    missing = httpserver.url_for("/missing")
    assert result.stdout.splitlines() == [  # type: ignore[attr-defined]
        "issues/2030-02.yaml:2:12: warning: the store has 1706.03762v5, arXiv has v7; update it with `digest refresh 2030-02` [outdated-version]",
        f"issues/2030-02.yaml:5:13: error: broken link {missing}: HTTP 404 NOT FOUND [broken-link]",
        f"issues/2030-02.yaml:8:30: error: broken link {missing}#top: HTTP 404 NOT FOUND [broken-link]",
        "issues/2030-02.yaml:11:16: error: arXiv has no paper 1810.04805; check the id [not-on-arxiv]",
        "issues/2030-02.yaml:13:11: warning: the store has 1512.03385v1, arXiv has v7; update it with `digest refresh 2030-02` [outdated-version]",
        "3 errors, 2 warnings in 1 issue",
    ]
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert len(arxiv.requests) == 1  # one batched query for every id
    assert sorted(arxiv.ids_asked()) == ["1512.03385", "1706.03762", "1810.04805", "hep-th/9711200"]
    assert sorted(paths(httpserver)) == [("HEAD", "/missing"), ("HEAD", "/ok")]  # fragment dropped, /private/ skipped
    assert (proj / ".digest-cache" / "links.json").is_file()

    invoke("check", "--online")
    assert sorted(paths(httpserver)[2:]) == [("HEAD", "/missing")]  # the success came from the cache


def test_online_version_that_arxiv_lacks(proj: Path, arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_ARXIV_MIN_INTERVAL", "0")
    write(proj, "papers:\n  - arxiv: hep-th/9711200v9\n    why: x\n    insights: y\n")
    findings = check_issues(load_project(proj), ["2030-02"], online=True, api_url=arxiv.url)
    assert [str(f) for f in findings] == [
        "issues/2030-02.yaml:2:12: error: arXiv has hep-th/9711200 up to v3; there is no v9 [not-on-arxiv]"
    ]


def test_every_rule_is_registered_and_documented() -> None:
    """Rule names are a public interface: each one reported is in RULES and in README's table."""
    import re

    from conftest import REPO
    from digest.check import RULES

    source = (REPO / "digest" / "check.py").read_text(encoding="utf-8")
    reported = set(re.findall(r'"([a-z]+(?:-[a-z]+)+)"\)', source))
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert reported and reported <= set(RULES)
    assert all(f"`{rule}`" in readme for rule in RULES)
