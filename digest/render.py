"""Render an issue to Markdown and HTML with the Jinja templates in `templates/`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from markupsafe import Markup

from digest.errors import DigestError, IssueError
from digest.ids import split_version
from digest.issues import LoadedIssue
from digest.markup import HtmlRenderer, LinkContext, escape_markdown, scan, to_markdown
from digest.models import (
    ArxivPaper,
    ExternalPaper,
    Group,
    TextReference,
    iter_arxiv_ids,
    iter_fields,
)
from digest.project import Settings
from digest.records import PaperRecord
from digest.store import Store, missing_paper_message

TEMPLATES = {"md": "issue.md.j2", "html": "issue.html.j2", "email": "issue.email.html.j2"}


@dataclass(frozen=True)
class Text:
    """One Markdown field, ready for both outputs."""

    md: str
    html: Markup

    def __bool__(self) -> bool:
        return bool(self.md.strip())


@dataclass(frozen=True)
class FigureView:
    image: str
    alt: str
    caption: Text
    source: Text


@dataclass(frozen=True)
class EntryView:
    title: str
    url: str
    note: Text


@dataclass(frozen=True)
class ItemView:
    number: int
    anchor: str
    kind: str  # "paper" | "group"
    title: str
    url: str
    links: list[tuple[str, str]] = field(default_factory=list)
    by: str = ""
    why: Text | None = None
    insights: Text | None = None
    figures: list[FigureView] = field(default_factory=list)
    intro: Text | None = None
    entries: list[EntryView] = field(default_factory=list)


@dataclass(frozen=True)
class ReferenceView:
    number: int
    key: str
    anchor: str
    title: str  # arXiv references: the paper title; free text: ""
    authors: str
    year: str
    url: str
    text: Text | None  # free-text references


@dataclass(frozen=True)
class IssueView:
    month: str
    title: str
    teaser: str
    date: str
    date_iso: str
    editor: str
    intro: Text
    news: list[Text]
    code: list[Text]
    research_intro: Text
    items: list[ItemView]
    outro: Text
    references: list[ReferenceView]
    categories: dict[str, int]  # primary arXiv category → featured papers, for the archive chart


def make_environment(templates_dir: Path, cache_dir: Path | None = None) -> jinja2.Environment:
    """One environment: strict about missing values, escaping only in HTML templates.

    Compiled templates are cached in `cache_dir` (Jinja checks each template's mtime), which
    halves the time of a build: compiling the templates costs more than rendering them.
    """
    if not templates_dir.is_dir():
        raise DigestError(f"templates folder not found: {templates_dir} (the project's templates/ holds issue.md.j2 and issue.html.j2)")
    bytecode_cache = None
    if cache_dir is not None:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            bytecode_cache = jinja2.FileSystemBytecodeCache(str(cache_dir))
        except OSError:
            bytecode_cache = None  # a read-only checkout still builds, only slower
    env = jinja2.Environment(
        bytecode_cache=bytecode_cache,
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2", "xml.j2"), default_for_string=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["mdescape"] = escape_markdown
    return env


def author_line(names: list[str], settings: Settings) -> str:
    """'A, B, and C' when there are at most `authors_max` names, else 'A, B, C et al.'."""
    if len(names) > settings.authors_max:
        return ", ".join(names[: settings.authors_et_al]) + " et al."
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + ", and " + names[-1]


def reference_authors(names: list[str]) -> str:
    """Reference lists name every author up to three, else the first 'et al.'."""
    if len(names) > 3:
        return f"{names[0]} et al."
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def check_resolvable(loaded: LoadedIssue, store: Store) -> None:
    """Fail on the first citation, arXiv link or paper that cannot be rendered, with its location."""
    issue = loaded.issue
    for loc, text in iter_fields(issue):
        for span in scan(text):
            if span.kind == "cite" and span.target not in issue.references:
                raise _span_error(loaded, loc, span.start, f"citation [^{span.target}] has no entry in references; add `{span.target}: <arXiv id>` under references:")
            if span.kind == "arxiv":
                try:
                    split_version(span.target)
                    store.require(span.target)
                except (DigestError, ValueError) as exc:
                    message = exc.message if isinstance(exc, DigestError) else str(exc)
                    raise _span_error(loaded, loc, span.start, message) from None
    for loc, arxiv_id in iter_arxiv_ids(issue):
        if arxiv_id not in store:
            line, col = loaded.locate(loc)
            raise IssueError(loaded.path, line, col, missing_paper_message(arxiv_id))


def _span_error(loaded: LoadedIssue, loc: tuple[str | int, ...], offset: int, message: str) -> IssueError:
    line, col = loaded.position(loc, offset)
    return IssueError(loaded.path, line, col, message)


def build_view(loaded: LoadedIssue, store: Store, settings: Settings, html: HtmlRenderer | None = None) -> IssueView:
    """Resolve every id against the store and prepare each field for both formats."""
    check_resolvable(loaded, store)
    issue = loaded.issue
    html = html or HtmlRenderer()
    numbers = {key: n for n, key in enumerate(issue.references, start=1)}

    def record(arxiv_id: str) -> PaperRecord:
        return store.require(arxiv_id)

    ctx = LinkContext(numbers=numbers, title_of=lambda i: record(i).clean_title)

    def block(text: str, lead: str | None = None) -> Text:
        rendered, tokens = html.block_and_tokens(text, ctx, Markup(lead) if lead else None)
        return Text(to_markdown(text, ctx, tokens), rendered)

    def inline(text: str) -> Text:
        return Text(to_markdown(text, ctx), html.inline(text, ctx))

    items: list[ItemView] = []
    categories: dict[str, int] = {}
    for loc, arxiv_id in iter_arxiv_ids(issue):
        if loc[0] == "papers":
            category = record(arxiv_id).primary_category
            categories[category] = categories.get(category, 0) + 1
    for number, item in enumerate(issue.papers, start=1):
        anchor = f"paper-{number}"
        if isinstance(item, Group):
            entries = []
            for entry in item.entries:
                if entry.arxiv:
                    rec = record(entry.arxiv)
                    entries.append(EntryView(entry.title or rec.clean_title, rec.abs_url, inline(entry.note)))
                else:
                    entries.append(EntryView(entry.title or "", entry.url or "", inline(entry.note)))
            items.append(ItemView(number, anchor, "group", item.group, "", intro=block(item.intro), entries=entries))
            continue
        if isinstance(item, ArxivPaper):
            rec = record(item.arxiv)
            title, url, authors = item.title or rec.clean_title, rec.abs_url, rec.authors
        else:
            assert isinstance(item, ExternalPaper)
            title, url, authors = item.title, item.url, item.authors
        by = item.by if item.by is not None else author_line(authors, settings)
        figures = [FigureView(f.image, f.alt or _plain(f.caption), inline(f.caption), inline(f.source)) for f in item.figures]
        items.append(
            ItemView(
                number, anchor, "paper", " ".join(title.split()), url,
                links=list(item.links.items()), by=by,
                why=block(item.why, '<strong class="label">❓ Why →</strong>'),
                insights=block(item.insights, '<strong class="label">💡 Key insights →</strong>'),
                figures=figures,
            )
        )

    references = []
    for number, (key, ref) in enumerate(issue.references.items(), start=1):
        if isinstance(ref, TextReference):
            references.append(ReferenceView(number, key, f"ref-{number}", "", "", "", ref.url or "", inline(ref.text)))
        else:
            rec = record(ref)
            references.append(
                ReferenceView(number, key, f"ref-{number}", rec.clean_title, reference_authors(rec.authors), str(rec.published.year), rec.abs_url, None)
            )

    date = issue.date
    return IssueView(
        month=loaded.month,
        title=issue.title or settings.title_pattern.format(month=loaded.month_name, year=loaded.year),
        teaser=issue.teaser.strip(),
        date=_long_date(date) if date else "",
        date_iso=date.isoformat() if date else "",
        editor=issue.editor if issue.editor is not None else settings.editor,
        intro=block(issue.intro),
        news=[inline(text) for text in issue.news],
        code=[inline(text) for text in issue.code],
        research_intro=block(issue.research_intro),
        items=items,
        outro=block(issue.outro),
        references=references,
        categories=dict(sorted(categories.items())),
    )


def _plain(markdown: str) -> str:
    return " ".join(markdown.replace("*", "").replace("_", "").split())


def _long_date(date: dt.date) -> str:
    return f"{date:%B} {date.day}, {date.year}"


def render(view: IssueView, env: jinja2.Environment, fmt: str) -> str:
    try:
        template = env.get_template(TEMPLATES[fmt])
    except jinja2.TemplateNotFound as exc:
        searched = ", ".join(getattr(env.loader, "searchpath", []))
        raise DigestError(f"template {exc.name} not found (searched: {searched})") from None
    except jinja2.TemplateSyntaxError as exc:
        raise IssueError(exc.filename or exc.name or "template", exc.lineno, 1, f"template syntax: {exc.message}") from None
    try:
        return template.render(issue=view)
    except jinja2.UndefinedError as exc:
        raise DigestError(f"template {template.name}: {exc.message}") from None
