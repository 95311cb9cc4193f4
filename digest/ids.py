"""arXiv identifiers: turn whatever an editor pastes into one canonical form. Pure: no network.

Canonical forms (https://info.arxiv.org/help/arxiv_identifier.html):

- new style ``YYMM.NNNN`` (0704 to 1412) or ``YYMM.NNNNN`` (from 1501), e.g. ``2202.06991``;
- old style ``archive/YYMMNNN`` or ``archive.SC/YYMMNNN`` (1991 to 0703), e.g. ``hep-th/9901001``,
  ``math.GT/0309136`` (archive lowercase, subject class upper case as arXiv writes it);

each with an optional version ``vN`` kept as given (``2202.06991v2``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from digest.errors import InvalidArxivId

_NEW = re.compile(r"(?P<yymm>[0-9]{4})\.(?P<num>[0-9]+)(?:v(?P<v>[0-9]+))?", re.ASCII)
_OLD = re.compile(
    r"(?P<archive>[a-z][a-z-]*)(?:\.(?P<sc>[a-z]{2}))?/(?P<yymm>[0-9]{4})(?P<num>[0-9]{3})"
    r"(?:v(?P<v>[0-9]+))?",
    re.ASCII | re.IGNORECASE,
)
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_HOSTS = ("arxiv.org", "www.arxiv.org", "export.arxiv.org")
_PATH = re.compile(r"/(?:abs|pdf|html)/(?P<id>.+?)(?:\.pdf)?/?", re.IGNORECASE)
_VERSIONED = re.compile(r"(.+?)(?:v([0-9]+))?", re.ASCII)
_EXPECTED = "expected a form like 2202.06991 or hep-th/9901001"

# The archives that had old-style ids; the list closed when new-style ids began in April 2007.
OLD_ARCHIVES = frozenset(
    "acc-phys adap-org alg-geom ao-sci astro-ph atom-ph bayes-an chao-dyn chem-ph cmp-lg "
    "comp-gas cond-mat cs dg-ga funct-an gr-qc hep-ex hep-lat hep-ph hep-th math math-ph "
    "mtrl-th nlin nucl-ex nucl-th patt-sol physics plasm-ph q-alg q-bio quant-ph solv-int "
    "supr-con".split()
)


@lru_cache(maxsize=16384)  # pure, and called for every id on every pass over an issue
def normalize_id(text: str) -> str:
    """Return the canonical id for an id, ``arXiv:`` id or arxiv.org URL; raise InvalidArxivId."""
    s = text.strip()
    if not s:
        raise InvalidArxivId(text, "it is empty")
    if s[:6].lower() == "arxiv:":
        s = s[6:].strip()
    elif _SCHEME.match(s) or s.lower().startswith(tuple(h + "/" for h in _HOSTS)):
        s = _id_from_url(text, s)
    return _canonical(text, s)


def split_version(canonical: str) -> tuple[str, int | None]:
    """``'2202.06991v2'`` -> ``('2202.06991', 2)``; ``'hep-th/9901001'`` -> ``('hep-th/9901001', None)``."""
    m = _VERSIONED.fullmatch(normalize_id(canonical))
    assert m is not None  # every canonical id matches
    return m[1], int(m[2]) if m[2] else None


def base_id(text: str) -> str:
    """The canonical id without its version."""
    return split_version(text)[0]


def _id_from_url(text: str, s: str) -> str:
    try:
        url = urlsplit(s if _SCHEME.match(s) else "https://" + s)
    except ValueError as err:  # e.g. an unbalanced "[" in the host
        raise InvalidArxivId(text, f"not a readable address ({err})") from None
    if url.scheme.lower() not in ("http", "https") or (url.hostname or "") not in _HOSTS:
        raise InvalidArxivId(text, "not an arxiv.org address")
    path = _PATH.fullmatch(unquote(url.path))
    if not path:
        raise InvalidArxivId(text, "expected an arxiv.org/abs/, /pdf/ or /html/ address of a paper")
    return path["id"]


def _canonical(text: str, s: str) -> str:
    if m := _NEW.fullmatch(s):
        yymm, num, version = m["yymm"], m["num"], m["v"]
        if len(num) not in (4, 5):
            raise InvalidArxivId(text, "the number after the dot has 4 or 5 digits")
        _check_month(text, yymm)
        if len(num) == 4 and not "0704" <= yymm <= "1412":
            raise InvalidArxivId(text, "four-digit numbers were used from 0704 to 1412 only")
        if len(num) == 5 and yymm < "1501":
            raise InvalidArxivId(text, "five-digit numbers are used from 1501 on")
        if int(num) == 0:
            raise InvalidArxivId(text, f"paper number {num} does not exist")
        return f"{yymm}.{num}{_version(text, version)}"
    if m := _OLD.fullmatch(s):
        archive, yymm, num = m["archive"].lower(), m["yymm"], m["num"]
        if archive not in OLD_ARCHIVES:
            raise InvalidArxivId(text, f"{m['archive']!r} is not an arXiv archive")
        _check_month(text, yymm)
        if "0704" <= yymm <= "9107":
            raise InvalidArxivId(text, "old-style ids run from 1991 to March 2007 (0703)")
        if num == "000":
            raise InvalidArxivId(text, f"paper number {num} does not exist")
        subject = f".{m['sc'].upper()}" if m["sc"] else ""
        return f"{archive}{subject}/{yymm}{num}{_version(text, m['v'])}"
    raise InvalidArxivId(text, _EXPECTED)


def _check_month(text: str, yymm: str) -> None:
    if not 1 <= int(yymm[2:]) <= 12:
        raise InvalidArxivId(text, f"month {yymm[2:]} does not exist")


def _version(text: str, version: str | None) -> str:
    if version is None:
        return ""
    if version.startswith("0"):
        raise InvalidArxivId(text, f"version v{version} does not exist: versions count from v1")
    return f"v{version}"
