"""Fetch paper metadata from the arXiv API. The only module of digest that imports `arxiv`.

Who does what, and why. `arxiv.Client.results()` would page for us, but in arxiv 4.x it:
retries every non-200 answer, 400 included; hides the response, so neither `Retry-After` nor the
text of a 400 ("incorrect id format for abc") can be read; paces with a bare `time.sleep`; takes
an empty *first* page for "no results" (so all ids would come back "missing"); and sends no
timeout. So this module drives the pages itself and owns HTTP, pacing and retries, while the
`arxiv` package still does what it is good at: `Client._format_url` builds each page URL (from
`query_url_format`, so `DIGEST_ARXIV_API` can point at a stand-in) and `arxiv._feed.parse`
turns each Atom page into `arxiv.Result`s. Both are private names of arxiv 4.x (arxiv < 4 parsed
with feedparser instead), so this module needs `arxiv>=4,<5`.

A 200 answer that is not well-formed Atom (truncated transfer, an HTML error page from a proxy)
is retried like a 503: arXiv's own parser recovers from broken XML silently, which could drop
authors or whole entries without a word, so we check well-formedness first.
"""

from __future__ import annotations

import logging
import os
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import arxiv
import requests
from arxiv import _feed

from digest import __version__
from digest.errors import FetchError
from digest.ids import normalize_id, split_version
from digest.records import PaperRecord

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://export.arxiv.org/api/query"
PAGE_SIZE = 100  # arXiv allows more per page, but smaller pages fail less often
MAX_BACKOFF = 30.0
MAX_RETRY_AFTER = 60.0
_ATOM = "{http://www.w3.org/2005/Atom}"
_ENTRY_ID = re.compile(r"/abs/(?P<id>.+)v(?P<v>[0-9]+)$")
_USER_AGENT = f"digest/{__version__} arxiv.py/{arxiv.__version__}"

# When the last request was sent, shared by all calls in this process: arXiv asks one client
# for at most one request every 3 s, however many fetch_papers calls that client makes.
_last_request: float | None = None


@dataclass(frozen=True)
class FetchResult:
    found: dict[str, PaperRecord]  # keyed by the requested canonical id (with version if given)
    missing: list[str]  # requested ids arXiv left out of its answer, in request order
    requests_made: int  # HTTP requests sent, retries included


def min_interval_from_env() -> float:
    """Seconds between requests: arXiv asks for 3. `DIGEST_ARXIV_MIN_INTERVAL` lowers it for a
    stand-in on loopback (tests, benchmarks); a malformed value keeps the polite default."""
    try:
        return max(0.0, float(os.environ.get("DIGEST_ARXIV_MIN_INTERVAL", "3")))
    except ValueError:
        return 3.0


def api_url_from_env() -> str:
    """The query endpoint: `DIGEST_ARXIV_API` (e.g. http://127.0.0.1:8000/api/query) or arXiv's."""
    return os.environ.get("DIGEST_ARXIV_API", "").strip() or DEFAULT_API_URL


def fetch_papers(
    ids: Sequence[str],
    *,
    api_url: str | None = None,
    timeout: float = 20.0,
    max_attempts: int = 4,
    min_interval: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FetchResult:
    """Fetch the metadata of `ids` with one `id_list` query, paged by 100.

    Raises InvalidArxivId (before any request) for an id that is not arXiv's, and FetchError
    when arXiv refuses the query (HTTP 4xx, not retried) or fails `max_attempts` times in a row
    (5xx, 429, timeouts, connection errors, unreadable or unexpectedly empty pages), with
    exponential backoff (1, 2, 4 ... s, at most 30 s, or the server's `Retry-After`).
    `progress(entries_received, total_results)` is called after each page.
    """
    if min_interval is None:
        min_interval = min_interval_from_env()
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    wanted = list(dict.fromkeys(normalize_id(i) for i in ids))
    if not wanted:
        return FetchResult({}, [], 0)
    client = arxiv.Client(page_size=PAGE_SIZE, delay_seconds=0, num_retries=0)
    client.query_url_format = (api_url or api_url_from_env()) + "?{}"
    search = arxiv.Search(id_list=wanted, max_results=None)
    results: list[arxiv.Result] = []
    with requests.Session() as session:
        session.headers["User-Agent"] = _USER_AGENT
        pager = _Pager(session, timeout, max_attempts, min_interval, sleep)
        start, total = 0, 1
        # totalResults counts only the ids arXiv has, so it says when to stop; len(wanted) bounds
        # it, since an id_list answer holds at most one entry per id, whatever a server claims.
        while start < min(total, len(wanted)):
            feed = pager.get(client._format_url(search, start, PAGE_SIZE), start)
            total = feed.header.total_results
            results.extend(feed.results)
            start += len(feed.results)
            if progress is not None:
                progress(len(results), total)
    found = _match(wanted, results)
    missing = [i for i in wanted if i not in found]
    logger.info("Fetched %d of %d ids in %d requests", len(found), len(wanted), pager.requests)
    return FetchResult(found, missing, pager.requests)


class _Retry(Exception):
    """A failed attempt worth repeating; `reason` goes into the final FetchError."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float = 0.0) -> None:
        super().__init__(reason)
        self.reason, self.status, self.retry_after = reason, status, retry_after


class _Pager:
    """Gets one page at a time, with pacing and retries; counts every request sent."""

    def __init__(
        self,
        session: requests.Session,
        timeout: float,
        max_attempts: int,
        min_interval: float,
        sleep: Callable[[float], None],
    ) -> None:
        self.session, self.timeout, self.sleep = session, timeout, sleep
        self.max_attempts, self.min_interval = max_attempts, min_interval
        self.requests = 0

    def get(self, url: str, start: int) -> _feed.ParsedFeed:
        wait = 0.0
        for attempt in range(1, self.max_attempts + 1):
            self._pace(wait)
            try:
                return self._try(url, start, attempt)
            except _Retry as err:
                failure = err
                logger.warning("arXiv attempt %d/%d failed: %s", attempt, self.max_attempts, err)
                wait = max(min(2.0 ** (attempt - 1), MAX_BACKOFF), err.retry_after)
        message = f"arXiv did not answer after {self.max_attempts} attempts ({failure.reason})"
        raise FetchError(message, url, self.max_attempts, failure.status)

    def _pace(self, wait: float) -> None:
        """Sleep `wait` (the backoff), or longer if the last request ended under min_interval ago."""
        if _last_request is not None:
            wait = max(wait, self.min_interval - (time.monotonic() - _last_request))
        if wait > 0:
            logger.debug("Sleeping %.2f s before the next request", wait)
            self.sleep(wait)

    def _try(self, url: str, start: int, attempt: int) -> _feed.ParsedFeed:
        global _last_request
        self.requests += 1
        logger.info("GET %s (attempt %d)", url, attempt)
        try:
            response = self.session.get(url, timeout=self.timeout)
        except requests.Timeout:
            raise _Retry(f"timed out after {self.timeout:g} s") from None
        except requests.RequestException as err:  # refused, reset, or a body cut short
            raise _Retry(f"connection failed: {type(err).__name__}") from None
        finally:
            # Timed from the end of the answer: the server's clock starts on arrival, after
            # our send, so spacing sends by exactly min_interval can look too fast to it.
            _last_request = time.monotonic()
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retry(f"HTTP {status}", status, _retry_after(response))
        if status != 200:
            raise FetchError(_refusal(response), url, attempt, status)
        try:
            root = ET.fromstring(response.content)
        except ET.ParseError as err:
            raise _Retry(f"unreadable answer: {err}", status) from None
        if root.tag != _ATOM + "feed":
            raise _Retry(f"unreadable answer: <{root.tag}> is not an Atom feed", status)
        feed = _feed.parse(response.content)
        # arXiv sporadically sends a page with no entries though totalResults promises more.
        if not feed.results and feed.header.total_results > start:
            raise _Retry(f"empty page: 0 of {feed.header.total_results} results from {start}", status)
        return feed


def _retry_after(response: requests.Response) -> float:
    """`Retry-After` in seconds (the HTTP-date form is ignored), capped; 0 when absent."""
    value = response.headers.get("Retry-After", "").strip()
    return min(float(value), MAX_RETRY_AFTER) if value.isdigit() else 0.0


def _refusal(response: requests.Response) -> str:
    """arXiv explains a 400 in the <summary> of a one-entry feed; use it when present."""
    try:
        summary = ET.fromstring(response.content).findtext(f"{_ATOM}entry/{_ATOM}summary")
    except ET.ParseError:
        summary = None
    if summary and summary.strip():
        return f"arXiv refused the query: {' '.join(summary.split())}"
    return f"arXiv refused the query (HTTP {response.status_code} {response.reason})"


def _match(wanted: list[str], results: list[arxiv.Result]) -> dict[str, PaperRecord]:
    """Pair entries with requested ids by base id; an explicit version must match exactly."""
    asked: dict[str, list[str]] = {}
    for ident in wanted:
        asked.setdefault(_key(split_version(ident)[0]), []).append(ident)
    found: dict[str, PaperRecord] = {}
    for result in results:
        record = _to_record(result)
        if record is None:
            continue
        for ident in asked.get(_key(record.id), []):
            version = split_version(ident)[1]
            if version == record.version or (
                version is None and (ident not in found or found[ident].version < record.version)
            ):
                found[ident] = record
    return found


def _key(base: str) -> str:
    """Old ids may carry a subject class that arXiv leaves out of entry ids: math.GT/x ~ math/x."""
    archive, slash, number = base.rpartition("/")
    return f"{archive.split('.')[0].lower()}/{number}" if slash else base


def _to_record(result: arxiv.Result) -> PaperRecord | None:
    m = _ENTRY_ID.search(result.entry_id)
    if m is None:
        logger.warning("Skipping an entry whose id has no version: %s", result.entry_id)
        return None
    return PaperRecord(
        id=m["id"],
        version=int(m["v"]),
        title=result.title,
        authors=[author.name for author in result.authors],
        published=result.published.date(),
        updated=result.updated.date(),
        primary_category=result.primary_category,
        categories=list(result.categories),
        abstract=result.summary,
        doi=result.doi or None,
        comment=result.comment or None,
        journal_ref=result.journal_ref or None,
    )
