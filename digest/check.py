"""`digest check`: find what is wrong with issues before publishing, as located findings.

`check_issues` returns data (a sorted list of `Finding`s) and prints nothing; the `format_*`
functions and `summary` turn findings into text for people, GitHub Actions or programs. Offline
checks read only the issue files and the metadata store; `online=True` adds one batched arXiv
query for every id and one request for every distinct link (see digest.linkcheck).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import yaml

from digest.errors import DigestError, FileError, InvalidArxivId, IssueError
from digest.ids import normalize_id, split_version
from digest.issues import (
    LoadedIssue,
    find_node,
    issue_path,
    list_issue_months,
    load_issue_file,
    parse_month,
)
from digest.markup import scan
from digest.models import (
    ArxivPaper,
    ExternalPaper,
    Group,
    TextReference,
    iter_arxiv_ids,
    iter_fields,
)
from digest.project import Project
from digest.records import PaperRecord
from digest.store import Store, missing_paper_message
from digest.urls import url_problem

Severity = Literal["error", "warning"]

# Every rule with a stable name (used in output, in `[rule]`, and by tools that filter findings).
RULES: dict[str, str] = {
    "invalid-issue": "the file is not a valid issue (YAML syntax, unknown or missing keys, bad values)",
    "broken-record": "a record in the metadata store cannot be read",
    "missing-paper": "an arXiv id (paper, group entry, reference or arxiv: link) is not in the store",
    "bad-arxiv-link": "an arxiv: link whose target is not an arXiv id",
    "not-on-arxiv": "(--online) arXiv does not know the id, or not that version",
    "outdated-version": "(--online, warning) arXiv has a newer version than the store",
    "missing-reference": "a citation [^key] with no entry under references",
    "unused-reference": "(warning; error with --strict) a reference that nothing cites",
    "duplicate-reference": "(warning) the same arXiv id under two reference keys",
    "duplicate-paper": "the same paper twice among the issue's papers and group entries",
    "featured-before": "(warning) a paper an earlier issue already featured",
    "empty-note": "(warning; error with --strict) a paper without 'why' or 'insights'",
    "bad-url": "a link, image or url that is not a well-formed http(s) address",
    "broken-link": "(--online) a link that does not answer 2xx/3xx",
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    column: int
    severity: Severity
    message: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.severity}: {self.message} [{self.rule}]"


def check_issues(
    project: Project,
    months: Sequence[str],
    *,
    online: bool = False,
    strict: bool = False,
    api_url: str | None = None,
    cache_path: Path | None = None,
    link_timeout: float = 5.0,
    display_root: Path | None = None,
) -> list[Finding]:
    """Check the issues of `months` (YYYY-MM or issue file names); return findings sorted by place.

    Raises UsageError for a malformed month and FileError for an issue file that does not exist,
    before checking anything. With `online`, FetchError when arXiv cannot be reached.
    """
    root = display_root or Path.cwd()
    wanted = list(dict.fromkeys(parse_month(m) for m in months))
    for month in wanted:
        path = issue_path(project.issues_dir, month)
        if not path.is_file():
            raise FileError(_shown(path, root), f"no such issue; create it with `digest new {month}`")
    run = _Run(project, strict, root)
    featured = run.first_features(wanted)
    for month in wanted:
        loaded = run.load(month)
        if loaded is not None:
            run.check_issue(loaded, featured)
    if online:
        run.check_online(api_url, cache_path or project.root / ".digest-cache" / "links.json", link_timeout)
    return sorted(run.findings, key=lambda f: (f.path, f.line, f.column))


class _Run:
    def __init__(self, project: Project, strict: bool, display_root: Path) -> None:
        self.project, self.strict, self.root = project, strict, display_root
        self.store = Store(project.store_dir, display_root=display_root)
        self.findings: list[Finding] = []
        self.loaded: dict[str, LoadedIssue | None] = {}
        self.ids: dict[str, list[tuple[LoadedIssue, tuple[int, int], str]]] = {}  # base id → (issue, place, id)
        self.urls: dict[str, list[tuple[LoadedIssue, tuple[int, int]]]] = {}
        self._broken_records: set[str] = set()

    # --- loading --------------------------------------------------------------------------

    def load(self, month: str) -> LoadedIssue | None:
        """Each issue is read once per run; an invalid one becomes an `invalid-issue` finding."""
        if month not in self.loaded:
            path = issue_path(self.project.issues_dir, month)
            try:
                self.loaded[month] = load_issue_file(path, display_path=_shown(path, self.root))
            except IssueError as exc:
                self.loaded[month] = None
                self.findings.append(Finding(str(exc.path), exc.line, exc.column, "error", exc.message, "invalid-issue"))
        return self.loaded[month]

    def first_features(self, wanted: list[str]) -> dict[str, str]:
        """Base id → the first issue (up to the newest checked) that featured it."""
        from digest.add import paper_ids

        first: dict[str, str] = {}
        newest = max(wanted, default="")
        for month in list_issue_months(self.project.issues_dir):
            if month > newest:
                break
            if month in wanted:
                loaded = self.load(month)
            else:  # an unchecked issue: its problems are not this run's to report
                try:
                    loaded = load_issue_file(issue_path(self.project.issues_dir, month))
                except DigestError:
                    loaded = None
            for base in sorted(paper_ids(loaded)) if loaded else ():
                first.setdefault(base, month)
        return first

    # --- helpers --------------------------------------------------------------------------

    def add(self, loaded: LoadedIssue, place: tuple[int, int], severity: Severity, message: str, rule: str) -> None:
        self.findings.append(Finding(str(loaded.path), place[0], place[1], severity, message, rule))

    def record(self, arxiv_id: str) -> PaperRecord | None | Literal[False]:
        """The stored record, None when absent, False when broken (reported once, at its file)."""
        try:
            return self.store.get(arxiv_id)
        except IssueError as exc:
            if str(exc.path) not in self._broken_records:
                self._broken_records.add(str(exc.path))
                self.findings.append(Finding(str(exc.path), exc.line, exc.column, "error", exc.message, "broken-record"))
            return False

    def note_severity(self) -> Severity:
        return "error" if self.strict else "warning"

    # --- the offline rules ----------------------------------------------------------------

    def check_issue(self, loaded: LoadedIssue, featured: dict[str, str]) -> None:
        self.check_papers(loaded, featured)
        self.check_ids(loaded)
        self.check_markdown(loaded)
        self.check_references(loaded)
        self.check_notes(loaded)
        self.check_urls(loaded)

    def check_ids(self, loaded: LoadedIssue) -> None:
        """missing-paper for papers, group entries and references (arxiv: links: check_markdown)."""
        for loc, arxiv_id in iter_arxiv_ids(loaded.issue):
            place = loaded.locate(loc)
            self.ids.setdefault(split_version(arxiv_id)[0], []).append((loaded, place, arxiv_id))
            if self.record(arxiv_id) is None:
                self.add(loaded, place, "error", missing_paper_message(arxiv_id), "missing-paper")

    def check_markdown(self, loaded: LoadedIssue) -> None:
        """arxiv: links (bad-arxiv-link, missing-paper) and citations (missing-reference)."""
        references = loaded.issue.references
        for loc, text in iter_fields(loaded.issue):
            for span in scan(text):
                place = loaded.position(loc, span.start)
                if span.kind == "cite":
                    if span.target not in references:
                        message = f"citation [^{span.target}] has no entry in references; add `{span.target}: <arXiv id>` under references:"
                        self.add(loaded, place, "error", message, "missing-reference")
                    continue
                try:
                    arxiv_id = normalize_id(span.target)
                except InvalidArxivId as exc:
                    message = f"arxiv:{span.target} is not an arXiv link: {exc.reason}"
                    self.add(loaded, place, "error", message, "bad-arxiv-link")
                    continue
                self.ids.setdefault(split_version(arxiv_id)[0], []).append((loaded, place, arxiv_id))
                if self.record(arxiv_id) is None:
                    self.add(loaded, place, "error", missing_paper_message(arxiv_id), "missing-paper")

    def check_references(self, loaded: LoadedIssue) -> None:
        """unused-reference and duplicate-reference (missing-reference: check_markdown)."""
        cited = {span.target for _, text in iter_fields(loaded.issue) for span in scan(text) if span.kind == "cite"}
        seen: dict[str, str] = {}  # base id → first key
        for key, ref in loaded.issue.references.items():
            key_place = loaded.locate(("references", key), key=True)
            if key not in cited:
                message = f"reference '{key}' is never cited; cite it with [^{key}] or remove it"
                self.add(loaded, key_place, self.note_severity(), message, "unused-reference")
            if isinstance(ref, str):
                base = split_version(ref)[0]
                if base in seen:
                    first_line = loaded.locate(("references", seen[base]), key=True)[0]
                    message = f"reference '{key}' names {base} like '{seen[base]}' (line {first_line}); cite one key"
                    self.add(loaded, key_place, "warning", message, "duplicate-reference")
                else:
                    seen[base] = key

    def check_papers(self, loaded: LoadedIssue, featured: dict[str, str]) -> None:
        """duplicate-paper and featured-before, over paper items and group entries."""
        first_line: dict[str, int] = {}
        for loc, arxiv_id in iter_arxiv_ids(loaded.issue):
            if loc[0] != "papers":
                continue
            base = split_version(arxiv_id)[0]
            place = loaded.locate(loc)
            if base in first_line:
                message = f"paper {base} is already in this issue (line {first_line[base]}); feature it once"
                self.add(loaded, place, "error", message, "duplicate-paper")
                continue
            first_line[base] = place[0]
            earlier = featured.get(base)
            if earlier is not None and earlier < loaded.month:
                self.add(loaded, place, "warning", f"paper {base} was featured in {earlier} already", "featured-before")

    def check_notes(self, loaded: LoadedIssue) -> None:
        """empty-note: a paper item with an empty 'why' or 'insights'."""
        for index, item in enumerate(loaded.issue.papers):
            if not isinstance(item, ArxivPaper | ExternalPaper):
                continue
            name = item.arxiv if isinstance(item, ArxivPaper) else repr(item.title)
            item_node = find_node(loaded.root_node, ("papers", index))
            for note in ("why", "insights"):
                if getattr(item, note).strip():
                    continue
                if _has_key(item_node, note):
                    place = loaded.locate(("papers", index, note), key=True)
                    message = f"'{note}' of paper {name} is empty; write it before publishing"
                else:
                    place = loaded.locate(("papers", index))
                    message = f"paper {name} has no '{note}'; write it before publishing"
                self.add(loaded, place, self.note_severity(), message, "empty-note")

    def check_urls(self, loaded: LoadedIssue) -> None:
        """bad-url for every address in the issue; well-formed ones are kept for --online."""
        for place, url in iter_urls(loaded):
            problem = url_problem(url)
            if problem:
                self.add(loaded, place, "error", f"{url!r} is not a well-formed http(s) URL: {problem}", "bad-url")
            else:
                self.urls.setdefault(url, []).append((loaded, place))

    # --- the online rules -----------------------------------------------------------------

    def check_online(self, api_url: str | None, cache_path: Path, timeout: float) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from digest.fetch import fetch_papers
        from digest.linkcheck import check_links

        # arXiv is slow and paced; ask it while the links are being checked.
        with ThreadPoolExecutor(max_workers=1) as pool:
            fetching = pool.submit(fetch_papers, list(self.ids), api_url=api_url) if self.ids else None
            links = check_links(
                self.urls,
                timeout=timeout,
                cache_path=cache_path,
                exclude=self.project.settings.link_check_exclude,
            )
            fetched = fetching.result() if fetching else None
        for url, places in self.urls.items():
            result = links[url]
            if not result.ok:
                for loaded, place in places:
                    self.add(loaded, place, "error", f"broken link {url}: {result.reason}", "broken-link")
        if fetched is None:
            return
        outdated_reported: set[tuple[str, str]] = set()
        for base, id_places in self.ids.items():
            latest = fetched.found.get(base)
            for loaded, place, arxiv_id in id_places:
                version = split_version(arxiv_id)[1]
                if latest is None:
                    self.add(loaded, place, "error", f"arXiv has no paper {base}; check the id", "not-on-arxiv")
                    continue
                if version is not None and version > latest.version:
                    message = f"arXiv has {base} up to v{latest.version}; there is no v{version}"
                    self.add(loaded, place, "error", message, "not-on-arxiv")
                stored = self.record(base)
                if stored and stored.version < latest.version and (str(loaded.path), base) not in outdated_reported:
                    outdated_reported.add((str(loaded.path), base))
                    message = (
                        f"the store has {base}v{stored.version}, arXiv has v{latest.version}; "
                        f"update it with `digest refresh {loaded.month}`"
                    )
                    self.add(loaded, place, "warning", message, "outdated-version")


# --- where things are in an issue ---------------------------------------------------------


def _has_key(node: yaml.Node, key: str) -> bool:
    return isinstance(node, yaml.MappingNode) and any(
        isinstance(k, yaml.ScalarNode) and k.value == key for k, _ in node.value
    )


def iter_urls(loaded: LoadedIssue) -> Iterator[tuple[tuple[int, int], str]]:
    """Every web address in an issue with its place: fields that hold URLs, then Markdown links."""
    issue = loaded.issue
    for index, item in enumerate(issue.papers):
        if isinstance(item, Group):
            for e_index, entry in enumerate(item.entries):
                if entry.url is not None:
                    yield loaded.locate(("papers", index, "entries", e_index, "url")), entry.url
            continue
        if isinstance(item, ExternalPaper):
            yield loaded.locate(("papers", index, "url")), item.url
        for label, url in item.links.items():
            yield loaded.locate(("papers", index, "links", label)), url
        for f_index, figure in enumerate(item.figures):
            yield loaded.locate(("papers", index, "figures", f_index, "image")), figure.image
    for key, ref in issue.references.items():
        if isinstance(ref, TextReference) and ref.url is not None:
            yield loaded.locate(("references", key, "url")), ref.url
    for loc, text in iter_fields(issue):
        cursor = 0
        for href in markdown_hrefs(text):
            offset = text.find(href, cursor)
            if offset < 0:
                offset = text.find(href)
            place = loaded.position(loc, offset) if offset >= 0 else loaded.locate(loc)
            cursor = offset + len(href) if offset >= 0 else cursor
            yield place, href


_markdown = None


def markdown_hrefs(text: str) -> list[str]:
    """Link and image targets of a Markdown field as written, except arxiv:, mailto: and #anchors."""
    global _markdown
    if not any(mark in text for mark in ("](", "<", "]:")):
        return []  # no inline link, autolink or link definition: skip the parser
    if _markdown is None:
        from markdown_it import MarkdownIt

        _markdown = MarkdownIt("commonmark", {"html": False}).enable("strikethrough")
        # Keep targets as written: no percent-encoding, and no silent dropping of odd schemes.
        _markdown.normalizeLink = lambda url: url  # type: ignore[method-assign]
        _markdown.validateLink = lambda url: True  # type: ignore[method-assign]
    hrefs = []
    for block in _markdown.parse(text):
        for token in block.children or ():
            target = token.attrGet("href") if token.type == "link_open" else token.attrGet("src") if token.type == "image" else None
            if isinstance(target, str) and not target.lower().startswith(("arxiv:", "mailto:", "#")):
                hrefs.append(target)
    return hrefs


def _shown(path: Path, root: Path) -> Path:
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return path


# --- output -------------------------------------------------------------------------------


def exit_code(findings: Sequence[Finding], *, strict: bool = False) -> int:
    """1 when anything is an error (or, with strict, a warning); else 0."""
    return int(any(f.severity == "error" or strict for f in findings))


def format_text(findings: Sequence[Finding]) -> str:
    """`FILE:LINE:COL: severity: message [rule]`, one a line."""
    return "\n".join(str(f) for f in findings)


def format_github(findings: Sequence[Finding]) -> str:
    """GitHub Actions workflow commands: annotations on the pull request's files."""
    lines = []
    for f in findings:
        props = f"file={_gh_property(f.path)},line={f.line},col={f.column},title={_gh_property(f.rule)}"
        lines.append(f"::{f.severity} {props}::{_gh_data(f.message)}")
    return "\n".join(lines)


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def format_json(findings: Sequence[Finding]) -> str:
    """A JSON list of {path, line, column, severity, message, rule}."""
    return json.dumps([asdict(f) for f in findings], indent=2, ensure_ascii=False)


def summary(findings: Sequence[Finding], n_issues: int) -> str:
    """'2 errors, 1 warning in 3 issues', or 'no problems in 1 issue'."""
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    parts = [_plural(n, word) for n, word in ((errors, "error"), (warnings, "warning")) if n]
    return f"{', '.join(parts) or 'no problems'} in {_plural(n_issues, 'issue')}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
