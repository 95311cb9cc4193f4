"""A small fake arXiv API for the tests: answers `id_list` queries from tests/fixtures/atom."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

ATOM_DIR = Path(__file__).parent / "fixtures" / "atom"
FEED_HEAD = (
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
    'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
    "  <id>https://arxiv.org/api/digest-tests</id>\n  <title>arXiv Query</title>\n"
    "  <updated>2026-04-12T22:09:26Z</updated>\n"
    "  <opensearch:itemsPerPage>{per_page}</opensearch:itemsPerPage>\n"
    "  <opensearch:totalResults>{total}</opensearch:totalResults>\n"
    "  <opensearch:startIndex>{start}</opensearch:startIndex>\n"
)
ENTRY = re.compile(r"  <entry>.*?</entry>\n", re.DOTALL)
ENTRY_ID = re.compile(r"<id>http://arxiv.org/abs/(.+?)v(\d+)</id>")


def atom(name: str) -> str:
    return (ATOM_DIR / name).read_text(encoding="utf-8")


def atom_response(name: str, status: int = 200, **headers: str) -> Response:
    return Response(atom(name), status, headers, content_type="application/atom+xml")


class FakeArxiv:
    """Answers `id_list` queries like export.arxiv.org: found ids only, paged, latest version
    unless one is named. `script` holds canned answers (or handlers) used before that."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.versions: dict[str, dict[int, str]] = {}  # base id -> version -> <entry> text
        self.script: list[Response | Callable[[Request], Response]] = []
        self.requests: list[dict[str, str]] = []  # query args, recorded on arrival
        self.arrivals: list[float] = []
        self.user_agents: list[str] = []
        for text in ENTRY.findall(atom("papers.xml")):
            self.add(text)

    def add(self, entry: str) -> None:
        m = ENTRY_ID.search(entry)
        assert m, entry
        self.versions.setdefault(m[1], {})[int(m[2])] = entry

    def add_synthetic(self, ids: list[str]) -> None:
        """Entries for invented ids, cut from the Attention entry."""
        template = self.versions["1706.03762"][7]
        for ident in ids:
            self.add(template.replace("1706.03762", ident))

    def handle(self, request: Request) -> Response:
        self.arrivals.append(time.monotonic())
        self.requests.append(dict(request.args))
        self.user_agents.append(request.headers.get("User-Agent", ""))
        if self.script:
            canned = self.script.pop(0)
            return canned if isinstance(canned, Response) else canned(request)
        return self.answer(request)

    def answer(self, request: Request) -> Response:
        found = []
        for ident in request.args["id_list"].split(","):
            base, _, version = re.fullmatch(r"(.+?)(v(\d+))?", ident).groups()  # type: ignore[union-attr]
            # arXiv files math.DG/0211159 under math/0211159: the subject class is no part of the id.
            have = self.versions.get(re.sub(r"^([a-z-]+)\.[A-Z]{2}/", r"\1/", base), {})
            if have:
                found.append(have[int(version)] if version else have[max(have)])
        start, per_page = int(request.args["start"]), int(request.args["max_results"])
        return self.feed(found[start : start + per_page], len(found), start, per_page)

    def feed(self, entries: list[str], total: int, start: int = 0, per_page: int = 100) -> Response:
        body = FEED_HEAD.format(total=total, start=start, per_page=per_page) + "".join(entries)
        return Response(body + "</feed>\n", 200, content_type="application/atom+xml")

    def ids_asked(self, n: int = 0) -> list[str]:
        return self.requests[n]["id_list"].split(",")


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    # Threaded, so a handler still sleeping after a client timeout does not hold up the retry.
    httpserver = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    httpserver.start()
    yield httpserver
    httpserver.stop()


@pytest.fixture
def arxiv(server: HTTPServer) -> Iterator[FakeArxiv]:
    server.clear()
    fake = FakeArxiv(server.url_for("/api/query"))
    server.expect_request("/api/query").respond_with_handler(fake.handle)
    yield fake
    server.check_assertions()
