"""`digest build`: load an issue, resolve it against the store, render, write atomically."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from digest.errors import UsageError
from digest.issues import issue_path, load_issue_file, parse_month
from digest.models import named_arxiv_ids
from digest.project import Project
from digest.store import Store, atomic_write

if TYPE_CHECKING:  # rendering pulls in jinja2 and markdown-it: loaded only when something renders
    from digest.markup import HtmlRenderer
    from digest.render import IssueView

FORMATS = ("md", "html")
ALL_FORMATS = ("md", "html", "email")
GMAIL_CLIP_BYTES = 102 * 1024  # Gmail shows "[Message clipped]" past this size

# Email clients ignore <style>; these go on the elements markdown-it produces.
EMAIL_STYLES = {
    "p": "margin:0 0 16px 0;",
    "ul": "margin:0 0 16px 0;padding-left:24px;",
    "ol": "margin:0 0 16px 0;padding-left:24px;",
    "li": "margin:0 0 6px 0;",
    "a": "color:#1a5fb4;",
    "code": "font-family:Menlo,Consolas,monospace;font-size:14px;",
    "blockquote": "margin:0 0 16px 0;padding-left:12px;border-left:3px solid #ddd;color:#555;",
}


@dataclass(frozen=True)
class RenderedIssue:
    view: IssueView
    outputs: dict[str, str]  # format → text
    store_paths: list[Path]  # the records it used, for incremental builds


@dataclass(frozen=True)
class BuildResult:
    month: str
    outputs: dict[str, str]
    written: list[Path]
    warnings: list[str] = field(default_factory=list)


def output_name(month: str, fmt: str) -> str:
    return f"{month}.email.html" if fmt == "email" else f"{month}.{fmt}"


def render_one(
    project: Project,
    month: str,
    formats: tuple[str, ...],
    env: object | None = None,
    html: HtmlRenderer | None = None,
    store: Store | None = None,
) -> RenderedIssue:
    """Render one issue in each format, plus what incremental builds need to know about it.

    A `store` shared across calls reads each record once for a whole site build.
    """
    from digest.markup import HtmlRenderer
    from digest.render import build_view, make_environment, render

    path = issue_path(project.issues_dir, month)
    loaded = load_issue_file(path, display_path=_relative(path, Path.cwd()))
    store = store or Store(project.store_dir, display_root=Path.cwd())
    view = build_view(loaded, store, project.settings, html)
    jinja_env = env or make_environment(project.templates_dir, project.cache_dir / "jinja")
    outputs = {}
    for fmt in formats:
        if fmt == "email":
            email_view = build_view(loaded, store, project.settings, HtmlRenderer(EMAIL_STYLES))
            outputs[fmt] = render(email_view, jinja_env, fmt)  # type: ignore[arg-type]
        else:
            outputs[fmt] = render(view, jinja_env, fmt)  # type: ignore[arg-type]
    used = sorted(store.path_for(i) for i in named_arxiv_ids(loaded.issue) if i in store)
    return RenderedIssue(view, outputs, used)


def render_issue(project: Project, month_or_path: str, formats: tuple[str, ...] = FORMATS) -> dict[str, str]:
    """Render one issue to text in each format; nothing is written."""
    return render_one(project, parse_month(month_or_path), formats).outputs


def build_issue(project: Project, month_or_path: str, formats: tuple[str, ...] = FORMATS, out_dir: Path | None = None) -> BuildResult:
    """Render and write `OUT/ISSUE.md`, `.html` (and `.email.html`); all rendering succeeds before any write."""
    month = parse_month(month_or_path)
    unknown = set(formats) - set(ALL_FORMATS)
    if unknown:
        raise UsageError(f"unknown format {sorted(unknown)[0]!r}; choose from {', '.join(ALL_FORMATS)}")
    outputs = render_issue(project, month, formats)
    target = out_dir if out_dir is not None else project.output_dir
    written, warnings = [], []
    for fmt, text in outputs.items():
        path = target / output_name(month, fmt)
        data = text.encode("utf-8")
        atomic_write(path, data, durable=False)  # outputs: a build can always write them again
        written.append(path)
        if fmt == "email" and len(data) > GMAIL_CLIP_BYTES:
            warnings.append(
                f"{output_name(month, fmt)} is {len(data) / 1024:.0f} KB; Gmail clips messages over 102 KB "
                "(shorten the notes or link to the web version)"
            )
    return BuildResult(month, outputs, written, warnings)


def _relative(path: Path, base: Path) -> Path:
    try:
        return path.resolve().relative_to(base.resolve())
    except ValueError:
        return path
