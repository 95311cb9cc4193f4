"""Whether a string is a well-formed http(s) address: one rule for the issue format, the settings
and `digest check`, so that `build` and `check` never disagree about a link."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

_LABEL = re.compile(r"^(?!-)[^\W_](?:[\w-]*[^\W_])?$")


def url_problem(url: str) -> str:
    """Why `url` is not a well-formed http(s) address, or "" when it is (syntax only)."""
    if not url:
        return "it is empty"
    if any(c.isspace() for c in url):
        return "it contains a space"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:  # an unbalanced [ in the host, a port like :x
        return "the port is not a number from 0 to 65535" if "port" in str(exc).lower() else f"it cannot be read ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return "it does not start with http:// or https://" if not parts.scheme else f"the scheme is {parts.scheme}:, not http(s):"
    host = parts.hostname or ""
    if not host or not parts.netloc:
        return "it has no host"
    try:
        ipaddress.ip_address(host)
        return ""
    except ValueError:
        pass
    if host == "localhost":
        return ""
    labels = host.rstrip(".").split(".")
    if len(labels) < 2:
        return f"the host {host!r} has no dot"
    if not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        return f"the host {host!r} is not a domain name"
    return ""
