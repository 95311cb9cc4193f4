"""`digest inbox`: arXiv's daily listings (and the editor's news feeds) as a numbered list of candidates.

arXiv's listing feeds (https://rss.arxiv.org/rss/cs.LG, RSS 2.0 since 2024) hold one announcement
day. Each item names the paper in its guid (`oai:arXiv.org:2205.01068v1`), its categories (the
primary first), an `arxiv:announce_type` (new, cross, replace, replace-cross) and its authors in
one `dc:creator`, comma separated, each perhaps followed by affiliations in parentheses.

Numbers are given to the whole merged listing, before the papers already named in an issue are
left out, so they depend only on the feeds and the flags: a number the editor saw still means
the same paper after other numbers were added.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import io
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import feedparser
import requests

from digest import __version__
from digest.errors import DigestError, FetchError, InvalidArxivId, UsageError
from digest.ids import normalize_id, split_version
from digest.issues import issue_path, list_issue_months, load_issue_file
from digest.project import Project

logger = logging.getLogger(__name__)

ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")  # the listing order
MARKERS = {"new": "", "cross": "[cross]", "replace": "[repl]", "replace-cross": "[repl+cross]"}
MAX_FEED_BYTES = 20_000_000  # a busy day of cs.LG is a few MB
CATEGORY = re.compile(r"[a-z][a-z-]*(\.[A-Za-z][A-Za-z-]*)?")  # as Settings.inbox_categories checks
_GUID = re.compile(r"^oai:arXiv\.org:(?P<id>\S+)$", re.IGNORECASE)
_ANNOUNCE = re.compile(r"Announce Type:\s*(?P<type>[a-z-]+)")
_USER_AGENT = f"digest/{__version__} (digest inbox)"
# Parser complaints that say nothing about the feed itself: parse() gets bytes, not HTTP headers.
_HARMLESS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


@dataclass
class Candidate:
    """One paper of the listing: `arxiv_id` is the base id, `version` the one announced."""

    number: int
    arxiv_id: str
    version: int | None
    title: str
    authors: list[str]
    affiliations: list[str]  # one per author, "" when the feed gives none
    categories: list[str]
    primary: str
    announce_type: str
    announced: dt.date | None = None

    @property
    def marker(self) -> str:
        return MARKERS.get(self.announce_type, f"[{self.announce_type}]")


@dataclass
class NewsItem:
    title: str
    link: str
    date: dt.date | None
    feed: str


# --- fetching -------------------------------------------------------------------------------


def rss_url(project: Project, category: str) -> str:
    """The listing feed of `category`: `DIGEST_ARXIV_RSS` if set, else `[tool.digest] arxiv_rss`."""
    if not CATEGORY.fullmatch(category):
        raise UsageError(f"{category!r} is not an arXiv category such as cs.LG or hep-th")
    pattern = os.environ.get("DIGEST_ARXIV_RSS", "").strip() or project.settings.arxiv_rss
    if "{category}" not in pattern:
        raise DigestError(f"DIGEST_ARXIV_RSS must contain {{category}}, e.g. https://rss.arxiv.org/rss/{{category}}; it is {pattern!r}")
    return pattern.replace("{category}", category)


def fetch_feed(url: str, *, timeout: float = 10.0, strict: bool = True) -> Any:
    """GET `url` and parse it with feedparser; FetchError (one line, naming the URL) if either fails.

    `strict` refuses malformed XML even when feedparser recovers something from it: for arXiv a
    silently shortened listing would renumber the papers after the break.
    """
    try:
        with requests.get(url, timeout=timeout, headers={"User-Agent": _USER_AGENT}, stream=True) as response:
            if response.status_code != 200:
                reason = f"HTTP {response.status_code} {response.reason or ''}".strip()
                raise FetchError(f"cannot read feed {url}: {reason}", url=url, attempts=1, status=response.status_code)
            chunks, size = [], 0
            for chunk in response.iter_content(chunk_size=65536):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_FEED_BYTES:
                    raise FetchError(f"cannot read feed {url}: larger than {MAX_FEED_BYTES:,} bytes", url=url, attempts=1)
            body = b"".join(chunks)
    except requests.Timeout:
        raise FetchError(f"cannot read feed {url}: no answer within {timeout:g} s", url=url, attempts=1) from None
    except requests.ConnectionError:
        raise FetchError(f"cannot read feed {url}: could not connect", url=url, attempts=1) from None
    except requests.RequestException as exc:
        raise FetchError(f"cannot read feed {url}: {_one_line(exc)}", url=url, attempts=1) from None
    # A file-like object: given bytes, feedparser would first try them as a file name.
    parsed = feedparser.parse(io.BytesIO(body))
    if not parsed.get("version"):
        problem = f" ({_one_line(parsed.bozo_exception)})" if parsed.get("bozo") else ""
        raise FetchError(f"cannot read feed {url}: not an RSS or Atom feed{problem}", url=url, attempts=1)
    problem_exc = parsed.get("bozo_exception")
    if problem_exc is not None and not isinstance(problem_exc, _HARMLESS) and (strict or not parsed.entries):
        raise FetchError(f"cannot read feed {url}: malformed XML ({_one_line(problem_exc)})", url=url, attempts=1)
    return parsed


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# --- the arXiv listing ----------------------------------------------------------------------


def read_listing(urls: Sequence[str], *, since: dt.date | None = None, timeout: float = 10.0) -> list[Candidate]:
    """Every paper of the listing feeds at `urls`, merged across feeds, sorted and numbered from 1.

    Sorted by announce type (new, cross, replace, replace-cross) and then by id, so the same
    feeds and `since` give the same numbers. With `since`, only items announced on or after it.
    """
    merged: dict[str, Candidate] = {}
    for url in urls:
        parsed = fetch_feed(url, timeout=timeout)
        fallback = _announce_date(parsed.feed.get("published") or parsed.feed.get("updated"))
        for entry in parsed.entries:
            candidate = parse_item(entry, fallback)
            if candidate is None:
                logger.warning("%s: skipped an item without an arXiv id (%r)", url, entry.get("id"))
                continue
            if since is not None and candidate.announced is not None and candidate.announced < since:
                continue
            _merge(merged, candidate)
    ordered = sorted(merged.values(), key=_sort_key)
    for number, candidate in enumerate(ordered, start=1):
        candidate.number = number
    return ordered


def parse_item(entry: Any, fallback_date: dt.date | None = None) -> Candidate | None:
    """One `<item>` of an arXiv listing feed; None if it names no arXiv paper."""
    canonical = _item_id(entry)
    if canonical is None:
        return None
    arxiv_id, version = split_version(canonical)
    announce = str(entry.get("arxiv_announce_type") or "").strip().lower()
    if not announce:
        found = _ANNOUNCE.search(entry.get("summary") or "")
        announce = found["type"].lower() if found else "new"
    categories = list(dict.fromkeys(t["term"].strip() for t in entry.get("tags") or [] if (t.get("term") or "").strip()))
    authors, affiliations = split_authors(entry.get("author") or "")
    return Candidate(
        number=0,
        arxiv_id=arxiv_id,
        version=version,
        title=" ".join((entry.get("title") or "").split()),
        authors=authors,
        affiliations=affiliations,
        categories=categories,
        primary=categories[0] if categories else "",
        announce_type=announce,
        announced=_announce_date(entry.get("published")) or fallback_date,
    )


def _item_id(entry: Any) -> str | None:
    guid = _GUID.match((entry.get("id") or "").strip())
    for text in (guid["id"] if guid else None, entry.get("link")):
        if text:
            try:
                return normalize_id(text)
            except InvalidArxivId:
                continue
    return None


def split_authors(creator: str) -> tuple[list[str], list[str]]:
    """`"Ann Lee (MIT, CSAIL), Bo Chen"` → `(["Ann Lee", "Bo Chen"], ["MIT, CSAIL", ""])`.

    Commas inside parentheses (nested too) belong to the affiliation; a name with several
    parenthesised groups gets them joined with "; ".
    """
    authors: list[str] = []
    affiliations: list[str] = []
    for part in _split_outside_parens(" ".join(creator.split())):
        name, groups = _strip_groups(part)
        if name:
            authors.append(name)
            affiliations.append("; ".join(groups))
    return authors, affiliations


def _split_outside_parens(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _strip_groups(part: str) -> tuple[str, list[str]]:
    """Remove the top-level parenthesised groups of `part`; return the rest and the groups."""
    name, groups, depth, current = [], [], 0, []
    for char in part:
        if char == "(":
            if depth:
                current.append(char)
            depth += 1
        elif char == ")" and depth:
            depth -= 1
            if depth:
                current.append(char)
            else:
                groups.append("".join(current).strip())
                current = []
        elif depth:
            current.append(char)
        else:
            name.append(char)
    if depth:  # an unclosed "(": keep what followed it as the affiliation
        groups.append("".join(current).strip())
    return " ".join("".join(name).split()), [g for g in groups if g]


def _announce_date(text: str | None) -> dt.date | None:
    """The calendar date of an RFC 822 pubDate in its own time zone (arXiv's announce day)."""
    if not text:
        return None
    try:
        return email.utils.parsedate_to_datetime(text).date()
    except (TypeError, ValueError):
        return None


def _merge(merged: dict[str, Candidate], candidate: Candidate) -> None:
    """One entry per paper: the earliest announce type, the latest version, all categories."""
    key = _match_key(candidate.arxiv_id)
    seen = merged.get(key)
    if seen is None:
        merged[key] = candidate
        return
    if _type_rank(candidate.announce_type) < _type_rank(seen.announce_type):
        seen.announce_type = candidate.announce_type
    if (candidate.version or 0) > (seen.version or 0):
        seen.version = candidate.version
    seen.categories = list(dict.fromkeys(seen.categories + candidate.categories))
    if candidate.announced and (seen.announced is None or candidate.announced > seen.announced):
        seen.announced = candidate.announced


def _type_rank(announce_type: str) -> int:
    return ANNOUNCE_TYPES.index(announce_type) if announce_type in ANNOUNCE_TYPES else len(ANNOUNCE_TYPES)


def _sort_key(candidate: Candidate) -> tuple[int, str, str]:
    return _type_rank(candidate.announce_type), candidate.announce_type, candidate.arxiv_id


def _match_key(base: str) -> str:
    """arXiv files math.GT/0309136 under math/0309136: the subject class is no part of the id."""
    return re.sub(r"^([a-z-]+)\.[A-Z]{2}/", r"\1/", base)


# --- against the issues ---------------------------------------------------------------------


def issue_ids(project: Project) -> set[str]:
    """Base ids named anywhere in any issue; unreadable issues are passed over (`check` reports them)."""
    from digest.add import named_ids

    named: set[str] = set()
    for month in list_issue_months(project.issues_dir):
        try:
            loaded = load_issue_file(issue_path(project.issues_dir, month))
        except DigestError:
            continue
        named.update(_match_key(i) for i in named_ids(loaded))
    return named


def new_candidates(project: Project, candidates: Iterable[Candidate]) -> list[Candidate]:
    """The candidates no issue features or names; they keep their numbers."""
    named = issue_ids(project)
    return [c for c in candidates if _match_key(c.arxiv_id) not in named]


def pick(candidates: Sequence[Candidate], spec: str) -> list[Candidate]:
    """`"3,7,12"` or `"3-5"` → those candidates of the listing, in the order given, once each."""
    by_number = {c.number: c for c in candidates}
    chosen: list[Candidate] = []
    for token in (t.strip() for t in spec.split(",")):
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", token)
        if not match:
            raise UsageError(f"--add: {token!r} is not a number; give numbers from the listing, e.g. --add 3,7,12")
        first, last = int(match[1]), int(match[2] or match[1])
        if last < first:
            raise UsageError(f"--add: {token!r} is an empty range; write the smaller number first")
        for number in range(first, last + 1):
            if number not in by_number:
                span = f"1-{len(by_number)}" if by_number else "none: it is empty"
                raise UsageError(f"--add: there is no number {number} in the listing (numbers: {span})")
            if by_number[number] not in chosen:
                chosen.append(by_number[number])
    return chosen


# --- news feeds -----------------------------------------------------------------------------


def read_news(urls: Sequence[str], *, since: dt.date | None = None, timeout: float = 10.0) -> list[NewsItem]:
    """The items of any RSS or Atom feeds, newest first (undated last); with `since`, only those
    dated on or after it. Lenient: a feed feedparser can read despite its XML errors is accepted."""
    items: list[NewsItem] = []
    for url in urls:
        parsed = fetch_feed(url, timeout=timeout, strict=False)
        for entry in parsed.entries:
            date = _entry_date(entry)
            if since is not None and date is not None and date < since:
                continue
            items.append(NewsItem(title=_plain_title(entry), link=(entry.get("link") or "").strip(), date=date, feed=url))
    return sorted(items, key=lambda item: (item.date is None, -(item.date or dt.date.min).toordinal()))


def _entry_date(entry: Any) -> dt.date | None:
    for key in ("published", "updated"):
        date = _announce_date(entry.get(key))
        if date is not None:
            return date
        parsed = entry.get(f"{key}_parsed")  # Atom's ISO dates, which parsedate cannot read
        if parsed:
            return dt.date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday)
    return None


def _plain_title(entry: Any) -> str:
    title = entry.get("title") or "(untitled)"
    if (entry.get("title_detail") or {}).get("type") == "text/html":
        title = html.unescape(re.sub(r"<[^>]*>", "", title))
    return " ".join(title.split())


# --- the table ------------------------------------------------------------------------------


def table_rows(candidates: Sequence[Candidate], width: int = 100) -> list[str]:
    """`number  id  [marker]  category  title`, columns as wide as their longest cell, titles
    cut to keep each row within `width` characters."""
    if not candidates:
        return []
    widths = [
        max(len(str(c.number)) for c in candidates),
        max(len(c.arxiv_id) for c in candidates),
        max(len(c.marker) for c in candidates),
        max(len(c.primary) for c in candidates),
    ]
    rows = []
    for c in candidates:
        cells = [str(c.number).rjust(widths[0]), c.arxiv_id.ljust(widths[1])]
        if widths[2]:  # a column of markers only when some paper is not new
            cells.append(c.marker.ljust(widths[2]))
        cells.append(c.primary.ljust(widths[3]))
        head = "  ".join(cells) + "  "
        rows.append(head + truncate(c.title, max(10, width - len(head))))
    return rows


def truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"
