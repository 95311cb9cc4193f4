"""`digest inbox`: arXiv listing feeds and news feeds served on loopback → a numbered listing → `--add`."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml
from conftest import invoke
from fake_arxiv import FakeArxiv
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from digest.errors import FetchError
from digest.inbox import (
    new_candidates,
    pick,
    read_listing,
    read_news,
    split_authors,
    table_rows,
)
from digest.project import load_project

RSS_DIR = Path(__file__).parent / "fixtures" / "rss"
ISSUE = Path("issues/2030-01.yaml")
# The merged listing of cs.LG + cs.CL: new, cross, replace, replace-cross, each by id.
LISTING = [
    (1, "2205.00002", "new"),
    (2, "2205.01068", "new"),  # cross in cs.LG, new in cs.CL: listed once, as new
    (3, "2205.00003", "cross"),
    (4, "1706.03762", "replace"),  # featured in 2030-01: numbered, not shown
    (5, "2205.00004", "replace"),
    (6, "2204.03458", "replace-cross"),
    (7, "hep-th/9901001", "replace-cross"),
]


class Feeds:
    """Serves tests/fixtures/rss/<category>.xml at /rss/<category>, news.xml at /news; `routes`
    overrides a path with another answer."""

    def __init__(self, server: HTTPServer) -> None:
        self.base = server.url_for("")
        self.routes: dict[str, Response] = {}
        self.paths: list[str] = []

    def handle(self, request: Request) -> Response:
        self.paths.append(request.path)
        if request.path in self.routes:
            return self.routes[request.path]
        name = "news.xml" if request.path == "/news" else request.path.removeprefix("/rss/") + ".xml"
        path = RSS_DIR / name
        if not path.is_file():
            return Response("no such feed", 404)
        return Response(path.read_bytes(), 200, content_type="application/rss+xml; charset=utf-8")

    def url(self, path: str) -> str:
        return self.base.rstrip("/") + path


@pytest.fixture
def feeds(server: HTTPServer, arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> Feeds:
    """The feeds, next to the fake arXiv API on the same loopback server (`arxiv` clears it)."""
    served = Feeds(server)
    server.expect_request(re.compile(r"^/(rss/.+|news)$")).respond_with_handler(served.handle)
    monkeypatch.setenv("DIGEST_ARXIV_RSS", served.url("/rss/{category}"))
    monkeypatch.setenv("DIGEST_ARXIV_API", arxiv.url)
    monkeypatch.setenv("DIGEST_ARXIV_MIN_INTERVAL", "0")
    return served


def inbox(*args: str) -> tuple[int, str, str]:
    return invoke("inbox", "--category", "cs.LG", "--category", "cs.CL", *args)


def test_listing_is_parsed_merged_sorted_and_numbered(feeds: Feeds) -> None:
    listing = read_listing([feeds.url("/rss/cs.LG"), feeds.url("/rss/cs.CL")])
    assert [(c.number, c.arxiv_id, c.announce_type) for c in listing] == LISTING
    first, opt = listing[0], listing[1]
    assert first.title == r"Scaling Laws for $\mathcal{O}(n)$ Attention: Tokens & Compute < Budget"
    assert first.authors == ["Jane Doe", "John Smith", "Ana Lima", "Wei Zhang"]
    assert first.affiliations == ["MIT, CSAIL", "", "Univ. of X (Dept. Y), Z", "Tsinghua"]
    assert (first.version, first.primary, first.categories) == (1, "cs.LG", ["cs.LG", "stat.ML"])
    assert first.announced == dt.date(2022, 5, 2)
    assert (opt.primary, opt.categories, opt.announced) == ("cs.CL", ["cs.CL", "cs.LG"], dt.date(2022, 5, 3))
    assert opt.affiliations == ["", "", "Meta AI", ""]
    old = listing[-1]
    assert (old.arxiv_id, old.version, old.primary) == ("hep-th/9901001", 2, "hep-th")
    assert old.title == "String Theory and Natural Language"  # the line break collapsed
    assert [c.version for c in listing] == [1, 1, 1, 7, 2, 2, 2]
    # The order of the feeds does not change the numbers.
    again = read_listing([feeds.url("/rss/cs.CL"), feeds.url("/rss/cs.LG")])
    assert [(c.number, c.arxiv_id, c.announce_type) for c in again] == LISTING


def test_split_authors() -> None:
    assert split_authors("A. One, B. Two (X, Y (Z)), C. Three (P) (Q)") == (
        ["A. One", "B. Two", "C. Three"],
        ["", "X, Y (Z)", "P; Q"],
    )
    assert split_authors("") == ([], [])
    assert split_authors("Solo (Unclosed, Inst") == (["Solo"], ["Unclosed, Inst"])


def test_new_candidates_leave_out_papers_any_issue_names(project_dir: Path, feeds: Feeds) -> None:
    project = load_project(project_dir)
    listing = read_listing([feeds.url("/rss/cs.LG"), feeds.url("/rss/cs.CL")])
    assert [c.number for c in new_candidates(project, listing)] == [1, 2, 3, 5, 6, 7]
    # Named only in the prose of another issue: left out too; a broken issue is passed over.
    (project_dir / "issues/2030-02.yaml").write_text(
        "intro: See [this](arxiv:2205.00003v1).\npapers: []\n", encoding="utf-8"
    )
    (project_dir / "issues/2030-03.yaml").write_text("papers: [unclosed\n", encoding="utf-8")
    assert [c.number for c in new_candidates(project, listing)] == [1, 2, 5, 6, 7]


def test_command_prints_the_table(project_dir: Path, feeds: Feeds) -> None:
    code, out, err = inbox()
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "arXiv cs.LG, cs.CL: 6 new paper(s); 1 already in an issue, not shown"
    assert lines[1:] == [
        "1  2205.00002                    cs.LG    Scaling Laws for $\\mathcal{O}(n)$ Attention: Tokens & Com…",
        "2  2205.01068                    cs.CL    OPT: Open Pre-trained Transformer Language Models",
        "3  2205.00003      [cross]       stat.ML  Kernel Methods, Revisited",
        "5  2205.00004      [repl]        cs.CL    Tokenizers Considered Harmful",
        "6  2204.03458      [repl+cross]  cs.CV    Video Diffusion Models",
        "7  hep-th/9901001  [repl+cross]  hep-th   String Theory and Natural Language",
    ]
    assert max(len(line) for line in lines) == 100


def test_long_titles_are_cut_to_100_columns(feeds: Feeds) -> None:
    listing = read_listing([feeds.url("/rss/cs.LG")])
    listing[0].title = "A very long title " * 10
    rows = table_rows(listing)
    assert max(len(row) for row in rows) <= 100 and rows[0].endswith("A very…")


def test_since_keeps_items_dated_on_or_after(project_dir: Path, feeds: Feeds) -> None:
    code, out, _ = inbox("--since", "2022-05-03")
    assert code == 0
    assert out.splitlines()[0] == "arXiv cs.LG, cs.CL since 2022-05-03: 3 new paper(s); 1 already in an issue, not shown"
    assert [line.split()[1] for line in out.splitlines()[1:]] == ["2205.01068", "2205.00004", "hep-th/9901001"]
    assert inbox("--since", "2022-05-04")[1] == "arXiv cs.LG, cs.CL since 2022-05-04: 0 new paper(s)\n"
    code, _, err = inbox("--since", "May 3")
    assert code == 2 and "'May 3' does not match the format '%Y-%m-%d'" in err


def test_default_categories_come_from_the_settings(project_dir: Path, feeds: Feeds) -> None:
    with (project_dir / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write('inbox_categories = ["cs.CL"]\n')
    code, out, _ = invoke("inbox")
    assert code == 0 and out.startswith("arXiv cs.CL: 3 new paper(s)")
    assert feeds.paths == ["/rss/cs.CL"]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Response("oops", 500), "HTTP 500 INTERNAL SERVER ERROR"),
        (Response("<html><body>Rate limited</body></html>", 200), "not an RSS or Atom feed"),
        (Response("garbage \x00 that is no XML", 200), "not an RSS or Atom feed"),
        (Response((RSS_DIR / "cs.CL.xml").read_text(encoding="utf-8")[:1500], 200), "malformed XML"),
    ],
    ids=["http-500", "html", "garbage", "truncated"],
)
def test_a_broken_arxiv_feed_is_one_line_exit_1(project_dir: Path, feeds: Feeds, answer: Response, reason: str) -> None:
    feeds.routes["/rss/cs.CL"] = answer
    code, out, err = inbox()
    assert (code, out) == (1, "")
    assert err.startswith(f"error: cannot read feed {feeds.url('/rss/cs.CL')}: {reason}"), err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_an_unreachable_feed_and_a_bad_category(project_dir: Path, feeds: Feeds, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FetchError, match=r"^error: cannot read feed http://127\.0\.0\.1:9/x: could not connect$"):
        read_listing(["http://127.0.0.1:9/x"], timeout=2)
    code, _, err = inbox("--category", "cs LG")
    assert (code, err) == (2, "error: 'cs LG' is not an arXiv category such as cs.LG or hep-th\n")
    monkeypatch.setenv("DIGEST_ARXIV_RSS", "http://127.0.0.1:9/rss")
    code, _, err = inbox()
    assert code == 1 and err.startswith("error: DIGEST_ARXIV_RSS must contain {category}")


def test_add_stubs_the_chosen_numbers(project_dir: Path, feeds: Feeds, arxiv: FakeArxiv) -> None:
    arxiv.add_synthetic(["2205.00002", "2205.01068"])  # cut from the Attention entry: its title
    code, out, err = inbox("--add", "1,2")
    assert code == 0, err
    assert out.splitlines() == [
        "added 2205.00002v7 “Attention Is All You Need” to issues/2030-01.yaml",
        "added 2205.01068v7 “Attention Is All You Need” to issues/2030-01.yaml",
        "fetched 2 record(s) in 1 request(s)",
    ]
    assert arxiv.ids_asked() == ["2205.00002", "2205.01068"]
    papers = yaml.safe_load(ISSUE.read_text(encoding="utf-8"))["papers"]
    assert papers[-2:] == [
        {"arxiv": "2205.00002", "why": "", "insights": ""},
        {"arxiv": "2205.01068", "why": "", "insights": ""},
    ]
    # The numbers stay: 3 is still 2205.00003; 1 is now in the issue and not shown.
    code, out, _ = inbox()
    assert out.splitlines()[0] == "arXiv cs.LG, cs.CL: 4 new paper(s); 3 already in an issue, not shown"
    assert out.splitlines()[1].startswith("3  2205.00003")
    # A number already in the issue is skipped, as `digest add` skips the id.
    code, out, err = inbox("--add", "1")
    assert (code, out, err) == (0, "", "skipped: 2205.00002 is already in issues/2030-01.yaml\n")
    assert "/news" not in feeds.paths


def test_add_with_a_range_and_issue(project_dir: Path, feeds: Feeds, arxiv: FakeArxiv) -> None:
    assert invoke("new", "2030-02")[0] == 0
    arxiv.add_synthetic(["hep-th/9901001"])
    code, out, err = inbox("--add", "6-7", "--issue", "2030-01")
    assert code == 0, err
    assert [line.split()[1] for line in out.splitlines()[:2]] == ["2204.03458v2", "hep-th/9901001v7"]
    assert out.splitlines()[0].endswith("to issues/2030-01.yaml")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("8", "error: --add: there is no number 8 in the listing (numbers: 1-7)"),
        ("0", "error: --add: there is no number 0 in the listing (numbers: 1-7)"),
        ("1,x", "error: --add: 'x' is not a number; give numbers from the listing, e.g. --add 3,7,12"),
        ("5-3", "error: --add: '5-3' is an empty range; write the smaller number first"),
    ],
)
def test_add_refuses_numbers_not_in_the_listing(project_dir: Path, feeds: Feeds, arxiv: FakeArxiv, spec: str, message: str) -> None:
    snapshot = ISSUE.read_bytes()
    code, out, err = inbox("--add", spec)
    assert (code, out, err) == (2, "", message + "\n")
    assert ISSUE.read_bytes() == snapshot and arxiv.requests == []


def test_issue_without_add_is_a_usage_error(project_dir: Path, feeds: Feeds) -> None:
    code, _, err = inbox("--issue", "2030-01")
    assert code == 2 and "--issue goes with --add" in err


def test_news_section(project_dir: Path, feeds: Feeds) -> None:
    code, out, err = inbox("--feed", feeds.url("/news"))
    assert (code, err) == (0, "")
    assert out.split("\n\n", 1)[1].splitlines() == [
        "News: 2 item(s)",
        "2022-05-03  Introducing Model X",
        "            https://blog.example.org/model-x",
        "2022-04-29  Our April roundup",
        "            https://blog.example.org/april",
    ]
    items = read_news([feeds.url("/news")], since=dt.date(2022, 5, 1))
    assert [(i.title, i.date) for i in items] == [("Introducing Model X", dt.date(2022, 5, 3))]


def test_news_feeds_from_settings_and_a_broken_one(project_dir: Path, feeds: Feeds) -> None:
    with (project_dir / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(f'news_feeds = ["{feeds.url("/news")}", "{feeds.url("/rss/missing")}"]\n')
    code, out, err = inbox()
    assert code == 1
    assert "News: 2 item(s)" in out and out.startswith("arXiv cs.LG, cs.CL: 6 new paper(s)")
    assert err == f"error: cannot read feed {feeds.url('/rss/missing')}: HTTP 404 NOT FOUND\n"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('arxiv_rss = "https://rss.arxiv.org/rss/cs.LG"', "setting 'arxiv_rss': Value error, must contain {category}"),
        ('inbox_categories = ["cs.LG", "cs/LG"]', "setting 'inbox_categories': Value error, 'cs/LG' is not an arXiv category"),
        ('news_feeds = ["blog.example.org/feed"]', "setting 'news_feeds': Value error, 'blog.example.org/feed' is not an http(s) address"),
    ],
)
def test_settings_are_checked(project_dir: Path, line: str, message: str) -> None:
    with (project_dir / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    code, _, err = invoke("inbox")
    assert code == 1 and f"pyproject.toml:11:1: error: {message}" in err, err


def test_pick_keeps_the_order_given_once_each(feeds: Feeds) -> None:
    listing = read_listing([feeds.url("/rss/cs.LG"), feeds.url("/rss/cs.CL")])
    assert [c.number for c in pick(listing, " 7, 2-3 ,2")] == [7, 2, 3]
