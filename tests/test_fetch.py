"""digest.fetch through real HTTP on loopback: a small fake arXiv served by pytest-httpserver.

Nothing here mocks the fetcher, requests or arxiv; only `sleep` is injected, so backoff is
asserted on what the fetcher asked for instead of waited for.
"""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from fake_arxiv import FakeArxiv, atom, atom_response  # noqa: E402
from werkzeug import Request, Response

from digest.errors import FetchError, InvalidArxivId
from digest.fetch import FetchResult, api_url_from_env, fetch_papers
from digest.records import PaperRecord


class Sleeps(list[float]):
    """An injected `sleep` that records and returns at once."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def run(arxiv: FakeArxiv, ids: list[str], sleeps: Sleeps, **kwargs: object) -> FetchResult:
    options: dict[str, object] = {"api_url": arxiv.url, "min_interval": 0, "sleep": sleeps, "timeout": 5}
    options.update(kwargs)
    return fetch_papers(ids, **options)  # type: ignore[arg-type]


# --- one request, paging, mapping ---------------------------------------------------------


def test_all_ids_go_in_one_request(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    ids = ["1706.03762", "hep-th/9711200", "physics/0004057", "2204.03458"]
    result = run(arxiv, ids, sleeps)
    assert len(arxiv.requests) == 1 and result.requests_made == 1
    assert arxiv.ids_asked() == ids
    assert arxiv.requests[0]["start"] == "0" and arxiv.requests[0]["max_results"] == "100"
    assert set(result.found) == set(ids)
    assert result.missing == [] and sleeps == []
    assert arxiv.user_agents[0].startswith("digest/")


def test_record_has_every_field(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    record = run(arxiv, ["1706.03762"], sleeps).found["1706.03762"]
    assert record == PaperRecord(
        id="1706.03762",
        version=7,
        title="Attention Is All You Need",
        authors=["Ashish Vaswani", "Noam Shazeer", "Niki Parmar", "Jakob Uszkoreit",
                 "Llion Jones", "Aidan N. Gomez", "Lukasz Kaiser", "Illia Polosukhin"],
        published=dt.date(2017, 6, 12),
        updated=dt.date(2023, 8, 2),
        primary_category="cs.CL",
        categories=["cs.CL", "cs.LG"],
        abstract=record.abstract,
        comment="15 pages, 5 figures",
    )
    assert record.abstract.startswith("The dominant sequence transduction models")
    assert record.doi is None and record.journal_ref is None


def test_old_style_id_with_doi_and_journal_ref(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    record = run(arxiv, ["hep-th/9711200"], sleeps).found["hep-th/9711200"]
    assert (record.id, record.version) == ("hep-th/9711200", 3)
    assert record.doi == "10.1023/A:1026654312961"
    assert record.journal_ref == "Adv.Theor.Math.Phys.2:231-252,1998"
    assert record.authors == ["Juan M. Maldacena"]
    # arxiv 4.x already collapses the title's line wrap; the abstract keeps arXiv's whitespace.
    assert record.clean_title == "The Large N Limit of Superconformal Field Theories and Supergravity"
    assert record.abstract.startswith("  We show") and "\n" in record.abstract


def test_subject_class_id_matches_archive_entry(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    """arXiv writes math.DG/0211159 as math/0211159 in entry ids; the match must see through it."""
    result = run(arxiv, ["math.DG/0211159", "physics/0004057v1"], sleeps)
    assert result.missing == []
    assert result.found["math.DG/0211159"].versioned_id == "math/0211159v1"
    assert result.found["physics/0004057v1"].categories == [
        "physics.data-an", "cond-mat.dis-nn", "cs.LG", "nlin.AO"]


def test_versioned_and_latest_in_one_request(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    result = run(arxiv, ["2204.03458v1", "2204.03458"], sleeps)
    assert arxiv.ids_asked() == ["2204.03458v1", "2204.03458"]
    assert result.found["2204.03458v1"].version == 1
    assert result.found["2204.03458v1"].updated == dt.date(2022, 4, 7)
    assert result.found["2204.03458"].version == 2


def test_wrong_version_in_answer_counts_as_missing(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    arxiv.script.append(arxiv.feed([arxiv.versions["2204.03458"][2]], total=1))
    result = run(arxiv, ["2204.03458v1"], sleeps)
    assert result.found == {} and result.missing == ["2204.03458v1"]


def test_ids_are_normalized_and_deduplicated(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    ids = [" arXiv:1706.03762", "https://arxiv.org/abs/1706.03762", "1706.03762", "HEP-TH/9711200"]
    result = run(arxiv, ids, sleeps)
    assert arxiv.ids_asked() == ["1706.03762", "hep-th/9711200"]
    assert set(result.found) == {"1706.03762", "hep-th/9711200"}


def test_invalid_id_fails_before_any_request(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    with pytest.raises(InvalidArxivId):
        run(arxiv, ["1706.03762", "0000.0000"], sleeps)
    assert arxiv.requests == []


def test_no_ids_no_request(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    assert run(arxiv, [], sleeps) == FetchResult({}, [], 0)
    assert arxiv.requests == []


def test_250_ids_make_three_paged_requests(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    ids = [f"2301.{n:05d}" for n in range(1, 251)]
    arxiv.add_synthetic(ids)
    pages: list[tuple[int, int]] = []
    result = run(arxiv, ids, sleeps, progress=lambda done, total: pages.append((done, total)))
    assert [(r["start"], r["max_results"]) for r in arxiv.requests] == [
        ("0", "100"), ("100", "100"), ("200", "100")]
    assert all(arxiv.ids_asked(n) == ids for n in range(3))
    assert pages == [(100, 250), (200, 250), (250, 250)]
    assert len(result.found) == 250 and result.requests_made == 3


def test_inflated_total_does_not_page_forever(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    arxiv.script.append(arxiv.feed([arxiv.versions["1706.03762"][7]], total=500))
    result = run(arxiv, ["1706.03762"], sleeps)
    assert result.requests_made == 1 and set(result.found) == {"1706.03762"}


# --- missing and refused ------------------------------------------------------------------


def test_missing_id_is_reported(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    pages: list[tuple[int, int]] = []
    result = run(arxiv, ["2301.99999"], sleeps, progress=lambda d, t: pages.append((d, t)))
    assert result == FetchResult({}, ["2301.99999"], 1)
    assert pages == [(0, 0)]


def test_recorded_shape_of_missing_answer(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    arxiv.script.append(atom_response("missing.xml"))
    assert run(arxiv, ["2301.99999"], sleeps).missing == ["2301.99999"]


def test_partial_answer_some_found_some_missing(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    ids = ["2301.99999", "1706.03762", "hep-th/9901001v2", "physics/0004057"]
    result = run(arxiv, ids, sleeps)
    assert result.requests_made == 1
    assert set(result.found) == {"1706.03762", "physics/0004057"}
    assert result.missing == ["2301.99999", "hep-th/9901001v2"]


def test_http_400_raises_arxivs_message_without_retry(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    # We never send an id arXiv cannot read (normalize_id stops it first), so the fake answers
    # a valid id the way arXiv answers `abc`: the fetcher must surface arXiv's own words.
    arxiv.script.append(atom_response("error_400.xml", status=400))
    with pytest.raises(FetchError) as caught:
        run(arxiv, ["1706.03762"], sleeps)
    err = caught.value
    assert err.message == "arXiv refused the query: incorrect id format for abc"
    assert (err.status, err.attempts) == (400, 1)
    assert err.url.startswith(arxiv.url + "?") and "id_list=1706.03762" in err.url
    assert len(arxiv.requests) == 1 and sleeps == []


def test_other_4xx_is_not_retried(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    arxiv.script.append(Response("no such endpoint", 404))
    with pytest.raises(FetchError, match=r"HTTP 404") as caught:
        run(arxiv, ["1706.03762"], sleeps)
    assert caught.value.status == 404 and len(arxiv.requests) == 1


# --- retries ------------------------------------------------------------------------------


def test_503_then_success(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    arxiv.script += [Response("busy", 503), Response("busy", 503)]
    result = run(arxiv, ["1706.03762"], sleeps)
    assert set(result.found) == {"1706.03762"} and result.requests_made == 3
    assert sleeps == [1.0, 2.0]  # exponential backoff


def test_503_every_time_gives_up(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    arxiv.script += [Response("busy", 503)] * 4
    with pytest.raises(FetchError) as caught:
        run(arxiv, ["1706.03762"], sleeps)
    assert caught.value.message == "arXiv did not answer after 4 attempts (HTTP 503)"
    assert (caught.value.attempts, caught.value.status) == (4, 503)
    assert len(arxiv.requests) == 4 and sleeps == [1.0, 2.0, 4.0]
    assert str(caught.value).count("\n") == 0


def test_429_honours_retry_after(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    arxiv.script.append(Response("slow down", 429, {"Retry-After": "2"}))
    result = run(arxiv, ["1706.03762"], sleeps)
    assert result.requests_made == 2 and set(result.found) == {"1706.03762"}
    assert sleeps == [2.0]


def test_retry_after_is_capped(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    arxiv.script.append(Response("slow down", 429, {"Retry-After": "3600"}))
    run(arxiv, ["1706.03762"], sleeps)
    assert sleeps == [60.0]


def test_empty_page_then_success(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    arxiv.script.append(atom_response("empty_page.xml"))
    result = run(arxiv, ["1706.03762", "hep-th/9711200", "physics/0004057"], sleeps)
    assert len(result.found) == 3 and result.requests_made == 2 and sleeps == [1.0]


def test_empty_middle_page_is_retried_at_the_same_offset(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    ids = [f"2301.{n:05d}" for n in range(1, 251)]
    arxiv.add_synthetic(ids)
    first_page = arxiv.answer  # answer page one normally, then one empty page 2
    arxiv.script += [first_page, lambda request: arxiv.feed([], total=250, start=100)]
    result = run(arxiv, ids, sleeps)
    assert [r["start"] for r in arxiv.requests] == ["0", "100", "100", "200"]
    assert len(result.found) == 250 and result.requests_made == 4


def slow(seconds: float) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        time.sleep(seconds)
        return Response("too late", 503)

    return handler


def test_timeout_then_success(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    arxiv.script.append(slow(0.6))
    result = run(arxiv, ["1706.03762"], sleeps, timeout=0.3)
    assert set(result.found) == {"1706.03762"} and result.requests_made == 2


def test_timeouts_every_time_give_up(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    arxiv.script += [slow(0.5), slow(0.5)]
    with pytest.raises(FetchError) as caught:
        run(arxiv, ["1706.03762"], sleeps, timeout=0.2, max_attempts=2)
    assert caught.value.message == "arXiv did not answer after 2 attempts (timed out after 0.2 s)"
    assert caught.value.status is None and len(arxiv.requests) == 2


def test_connection_refused_gives_up(sleeps: Sleeps) -> None:
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError, match=r"after 3 attempts \(connection failed"):
        fetch_papers(["1706.03762"], api_url=f"http://127.0.0.1:{port}/api/query",
                     min_interval=0, sleep=sleeps, max_attempts=3)
    assert sleeps == [1.0, 2.0]


# A 200 that is not well-formed Atom is retried: it is what a cut transfer or a proxy's error
# page looks like, and arXiv's own parser would quietly recover a partial feed from it.
TRUNCATED = atom("papers.xml")[: atom("papers.xml").index("<name>Noam Shazeer")]


@pytest.mark.parametrize(
    "body", [TRUNCATED, "<html><body>Bad gateway</body></html>", "not xml at all", ""],
    ids=["truncated", "html", "garbage", "empty"])
def test_unreadable_answer_is_retried(arxiv: FakeArxiv, sleeps: Sleeps, body: str) -> None:
    arxiv.script.append(Response(body, 200, content_type="application/atom+xml"))
    result = run(arxiv, ["1706.03762"], sleeps)
    assert len(result.found["1706.03762"].authors) == 8 and result.requests_made == 2


def test_unreadable_answer_every_time_gives_up(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    arxiv.script += [Response(TRUNCATED, 200)] * 2
    with pytest.raises(FetchError, match=r"after 2 attempts \(unreadable answer: ") as caught:
        run(arxiv, ["1706.03762"], sleeps, max_attempts=2)
    assert caught.value.status == 200


# --- politeness ---------------------------------------------------------------------------


def test_pages_are_spaced_by_min_interval(arxiv: FakeArxiv) -> None:
    ids = [f"2301.{n:05d}" for n in range(1, 251)]
    arxiv.add_synthetic(ids)
    run(arxiv, ids, Sleeps(), min_interval=0.25, sleep=time.sleep)
    gaps = [b - a for a, b in zip(arxiv.arrivals, arxiv.arrivals[1:])]
    assert len(gaps) == 2 and min(gaps) >= 0.24


def test_pacing_is_asked_of_the_injected_sleep(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    ids = [f"2301.{n:05d}" for n in range(1, 251)]
    arxiv.add_synthetic(ids)
    run(arxiv, ids, sleeps, min_interval=10)
    # The first request may wait for an earlier test's; the two that follow wait ~10 s each.
    assert len(sleeps) >= 2 and all(9 < s <= 10 for s in sleeps[-2:])


def test_pacing_holds_across_calls(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    run(arxiv, ["1706.03762"], sleeps, min_interval=10)
    sleeps.clear()
    run(arxiv, ["hep-th/9711200"], sleeps, min_interval=10)
    assert len(sleeps) == 1 and 9 < sleeps[0] <= 10


def test_backoff_and_pacing_do_not_add_up(arxiv: FakeArxiv, sleeps: Sleeps) -> None:
    arxiv.script.append(Response("busy", 503))
    run(arxiv, ["1706.03762"], sleeps, min_interval=5)
    assert 4 < sleeps[-1] <= 5  # one wait of max(backoff 1 s, pacing 5 s), not 6 s


# --- configuration ------------------------------------------------------------------------


def test_api_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIGEST_ARXIV_API", raising=False)
    assert api_url_from_env() == "https://export.arxiv.org/api/query"
    monkeypatch.setenv("DIGEST_ARXIV_API", "http://127.0.0.1:8000/api/query")
    assert api_url_from_env() == "http://127.0.0.1:8000/api/query"


def test_env_url_is_used_when_none_given(
    arxiv: FakeArxiv, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_ARXIV_API", arxiv.url)
    result = fetch_papers(["1706.03762"], min_interval=0, sleep=sleeps)
    assert set(result.found) == {"1706.03762"}
    assert urlsplit(arxiv.url).path == "/api/query" and len(arxiv.requests) == 1

