"""Request every link once, politely and in parallel: the network half of `digest check --online`.

A bounded thread pool (`workers`) sends the requests; a semaphore per host caps how many of them
go to one server at a time (`per_host`), so a page that links a site forty times does not hit it
with forty requests at once. Each URL gets a HEAD request, or a GET when the server refuses HEAD
(405, 403, 501); redirects are followed; 2xx and 3xx answers are fine. Timeouts and 5xx answers
are retried `retries` times with a short backoff; a 429 waits for its `Retry-After` (capped), and
so does every other request to that host. Successes are cached for a day in a JSON file, so a
second run only asks about the links that failed or are new.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import requests

from digest import __version__

CACHE_SECONDS = 24 * 60 * 60
MAX_RETRY_AFTER = 10.0
BACKOFF = 0.5  # seconds before the first retry; doubles after each
HEAD_REFUSED = (403, 405, 501)  # servers that answer these to HEAD often answer GET fine
USER_AGENT = f"digest/{__version__} (link check)"
CACHE_FORMAT = 1


@dataclass(frozen=True)
class LinkResult:
    ok: bool
    status: int | None  # the final HTTP status; None when no answer came (or not asked)
    reason: str  # "OK", "HTTP 404 Not Found", "timed out after 5 s", "cached", "excluded", …


def check_links(
    urls: Iterable[str],
    *,
    timeout: float = 5.0,
    workers: int = 32,
    per_host: int = 4,
    retries: int = 2,
    cache_path: Path | None = None,
    exclude: Iterable[str] = (),
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, LinkResult]:
    """Check each distinct URL; return URL → LinkResult for every URL given.

    URLs matching (re.search) any pattern in `exclude` are not requested (reason "excluded");
    URLs that succeeded less than a day ago according to `cache_path` are not either ("cached").
    URLs that differ only in their #fragment are requested once.
    """
    if workers < 1 or per_host < 1 or retries < 0:
        raise ValueError("workers and per_host must be at least 1, retries at least 0")
    patterns = [re.compile(p) for p in exclude]
    cache = _Cache(cache_path)
    results: dict[str, LinkResult] = {}
    to_request: dict[str, list[str]] = {}  # URL without fragment → the URLs given
    for url in dict.fromkeys(urls):
        if any(p.search(url) for p in patterns):
            results[url] = LinkResult(True, None, "excluded")
            continue
        target = urldefrag(url).url
        cached = cache.get(target)
        if cached is not None:
            results[url] = LinkResult(True, cached, "cached")
            continue
        to_request.setdefault(target, []).append(url)

    if to_request:
        checker = _Checker(timeout=timeout, per_host=per_host, retries=retries, sleep=sleep)
        with ThreadPoolExecutor(max_workers=min(workers, len(to_request)), thread_name_prefix="linkcheck") as pool:
            answers = dict(zip(to_request, pool.map(checker.check, to_request), strict=True))
        checker.close()
        for target, result in answers.items():
            for url in to_request[target]:
                results[url] = result
            if result.ok and result.status is not None:
                cache.put(target, result.status)
        cache.save()
    return results


class _Checker:
    def __init__(self, *, timeout: float, per_host: int, retries: int, sleep: Callable[[float], None]) -> None:
        self.timeout, self.per_host, self.retries, self.sleep = timeout, per_host, retries, sleep
        self._lock = threading.Lock()
        self._hosts: dict[str, threading.BoundedSemaphore] = {}
        self._not_before: dict[str, float] = {}  # host → monotonic time a 429 asked us to wait for
        self._local = threading.local()
        self._sessions: list[requests.Session] = []

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:  # one per worker thread: Session is not documented as thread-safe
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        for session in self._sessions:
            session.close()

    def _semaphore(self, host: str) -> threading.BoundedSemaphore:
        with self._lock:
            if host not in self._hosts:
                self._hosts[host] = threading.BoundedSemaphore(self.per_host)
            return self._hosts[host]

    def check(self, url: str) -> LinkResult:
        try:
            return self._check(url)
        except Exception as exc:  # noqa: BLE001 - one odd URL must not abort the whole run
            return LinkResult(False, None, f"{type(exc).__name__}: {exc}")

    def _check(self, url: str) -> LinkResult:
        host = urlsplit(url).netloc.lower()
        method, attempt, waited = "HEAD", 0, False
        while True:
            if not waited:
                self._wait_for_host(host)
            waited = False
            try:
                with self._semaphore(host):
                    response = self._session().request(
                        method, url, timeout=self.timeout, allow_redirects=True, stream=True
                    )
                    response.close()  # the status is all we want; never download the body
            except requests.Timeout:
                if attempt < self.retries:
                    attempt += 1
                    self.sleep(BACKOFF * 2 ** (attempt - 1))
                    continue
                return LinkResult(False, None, f"timed out after {self.timeout:g} s ({attempt + 1} attempts)")
            except requests.TooManyRedirects:
                return LinkResult(False, None, "too many redirects")
            except requests.ConnectionError as exc:
                return LinkResult(False, None, f"connection failed ({_root_cause(exc)})")
            except requests.RequestException as exc:
                return LinkResult(False, None, f"{type(exc).__name__}: {exc}")
            status = response.status_code
            if method == "HEAD" and status in HEAD_REFUSED:
                method = "GET"  # not a retry: the server only dislikes HEAD
                continue
            if status == 429 and attempt < self.retries:
                attempt += 1
                wait = _retry_after(response) or BACKOFF * 2 ** (attempt - 1)
                with self._lock:  # the whole host asked for a pause, not just this URL
                    self._not_before[host] = max(self._not_before.get(host, 0.0), time.monotonic() + wait)
                self.sleep(wait)
                waited = True
                continue
            if status >= 500 and attempt < self.retries:
                attempt += 1
                self.sleep(BACKOFF * 2 ** (attempt - 1))
                continue
            if status < 400:
                return LinkResult(True, status, "OK")
            return LinkResult(False, status, f"HTTP {status} {response.reason}".rstrip())

    def _wait_for_host(self, host: str) -> None:
        with self._lock:
            wait = self._not_before.get(host, 0.0) - time.monotonic()
        if wait > 0:
            self.sleep(wait)


def _retry_after(response: requests.Response) -> float:
    """`Retry-After` in seconds, capped at MAX_RETRY_AFTER; 0 when absent or an HTTP date."""
    value = response.headers.get("Retry-After", "").strip()
    return min(float(value), MAX_RETRY_AFTER) if value.isdigit() else 0.0


def _root_cause(exc: BaseException) -> str:
    """requests wraps urllib3 wraps socket errors; name the common causes plainly."""
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if re.search(r"Name or service not known|nodename nor servname|getaddrinfo failed|Failed to resolve", text):
        return "host not found"
    if "SSL" in text or "certificate" in text:
        return "TLS error"
    return type(exc).__name__


class _Cache:
    """URL (no fragment) → {"status", "checked"}: successes younger than a day are trusted."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.now = time.time()
        self.entries: dict[str, dict[str, float]] = self._load() if path else {}
        self.dirty = False

    def _load(self) -> dict[str, dict[str, float]]:
        assert self.path is not None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # missing or damaged: start afresh, it is only a cache
        links = data.get("links") if isinstance(data, dict) and data.get("format") == CACHE_FORMAT else None
        if not isinstance(links, dict):
            return {}
        return {
            url: entry
            for url, entry in links.items()
            if isinstance(entry, dict)
            and isinstance(entry.get("checked"), int | float)
            and isinstance(entry.get("status"), int)
            and 0 <= self.now - entry["checked"] < CACHE_SECONDS
        }

    def get(self, url: str) -> int | None:
        entry = self.entries.get(url)
        return int(entry["status"]) if entry else None

    def put(self, url: str, status: int) -> None:
        self.entries[url] = {"status": status, "checked": time.time()}
        self.dirty = True

    def save(self) -> None:
        if not self.path or not self.dirty:
            return
        data = {"format": CACHE_FORMAT, "links": dict(sorted(self.entries.items()))}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".links.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
