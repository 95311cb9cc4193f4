"""The command line. Commands parse options, call one library function, and print its result.

Library modules are imported inside commands so `digest --help` stays fast.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

# pydantic scans every installed package's entry points for plugins on first use (~15 ms);
# digest uses none, and a command line tool pays that on every run.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def reports_errors(func: F) -> F:
    """Turn any DigestError into one line on stderr and its exit code: never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from digest.errors import DigestError

        try:
            return func(*args, **kwargs)
        except DigestError as exc:
            click.echo(str(exc), err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


def _project(ctx: click.Context) -> Any:
    from digest.project import load_project

    return load_project(Path(ctx.obj.get("root") or Path.cwd()))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="digest", message="%(prog)s %(version)s")
@click.option("-C", "root", type=click.Path(file_okay=False, path_type=Path), help="Run as if started in DIR.")
@click.pass_context
def cli(ctx: click.Context, root: Path | None) -> None:
    """Build a monthly research digest from one YAML file per issue.

    \b
    Example:
        digest add 2204.03458 2204.00598   # stub papers into the newest issue
        digest build 2022-05                # site/2022-05.md and site/2022-05.html
        digest check --strict               # the gate before publishing
    """
    ctx.ensure_object(dict)
    ctx.obj["root"] = root


@cli.command()
@click.argument("issue", required=False)
@click.option("--all", "all_issues", is_flag=True, help="Every issue, plus index.html (the archive) and feed.xml.")
@click.option("--force", is_flag=True, help="With --all: rebuild issues whose inputs did not change.")
@click.option(
    "--format", "fmt", type=click.Choice(["md", "html", "email", "all"]), default="all", show_default=True,
    help="Which output to write; 'email' writes ISSUE.email.html (inline styles, for newsletters).",
)
@click.option("--out", "out", default=None, help="Output folder (default: [tool.digest] output_dir); '-' prints Markdown to stdout.")
@click.pass_context
@reports_errors
def build(ctx: click.Context, issue: str | None, all_issues: bool, force: bool, fmt: str, out: str | None) -> None:
    """Render ISSUE (YYYY-MM) to Markdown and HTML.

    \b
    Example:
        digest build 2022-05
        digest build 2022-05 --format md --out -
        digest build --all
    """
    from digest.build import FORMATS, build_issue, render_issue

    project = _project(ctx)
    if all_issues:
        if issue or out == "-" or fmt != "all":
            raise click.UsageError("--all builds every issue in md and html; it takes no ISSUE, --format or --out -")
        from digest.site import build_all

        report = build_all(project, force=force, out_dir=Path(out) if out else None)
        for path in report.written:
            click.echo(f"wrote {_shown(path)}")
        click.echo(f"built {len(report.built)} issue(s), {len(report.skipped)} unchanged")
        return
    if not issue:
        raise click.UsageError("name an ISSUE (YYYY-MM), or pass --all")
    if out == "-":
        if fmt not in ("md", "all"):
            raise click.UsageError("--out - prints Markdown only; use --format md")
        click.echo(render_issue(project, issue, ("md",))["md"], nl=False)
        return
    formats = FORMATS if fmt == "all" else (fmt,)
    result = build_issue(project, issue, formats, Path(out) if out else None)
    for path in result.written:
        click.echo(f"wrote {_shown(path)} ({path.stat().st_size:,} bytes)")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _progress_printer() -> Any:
    """A progress line on stderr while fetching; silent when stderr is not a terminal."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        click.echo(f"\rfetching from arXiv: {done}/{total} ids", err=True, nl=done >= total)

    return show


@cli.command()
@click.argument("ids", nargs=-1, required=True)
@click.option("--issue", "month", default=None, help="Issue to add to (YYYY-MM); default: the newest issue file.")
@click.pass_context
@reports_errors
def add(ctx: click.Context, ids: tuple[str, ...], month: str | None) -> None:
    """Fetch papers from arXiv and append a stub for each to an issue.

    IDS may be ids, arXiv: ids or arxiv.org addresses. The API address comes from
    DIGEST_ARXIV_API (default: arXiv's own).

    \b
    Example:
        digest add 2204.03458 arXiv:2204.00598 https://arxiv.org/abs/2204.06974v2
        digest add --issue 2022-06 2205.01068
    """
    from digest.add import add_papers

    project = _project(ctx)
    report = add_papers(project, ids, month, progress=_progress_printer(), display_root=Path.cwd())
    for message in report.skipped:
        click.echo(f"skipped: {message}", err=True)
    for message in report.warnings:
        click.echo(f"warning: {message}", err=True)
    for record in report.added:
        click.echo(f"added {record.id}v{record.version} “{record.clean_title}” to {report.issue}")
    if report.fetched or report.requests_made:
        click.echo(f"fetched {report.fetched} record(s) in {report.requests_made} request(s)")
    for message in report.failed:
        click.echo(f"error: {message}", err=True)
    if report.failed:
        sys.exit(1)


@cli.command()
@click.argument("issue")
@click.pass_context
@reports_errors
def new(ctx: click.Context, issue: str) -> None:
    """Create the issue file ISSUE (YYYY-MM) from templates/new-issue.yaml.j2.

    \b
    Example:
        digest new 2022-06
    """
    from digest.add import new_issue

    path = new_issue(_project(ctx), issue, display_root=Path.cwd())
    click.echo(f"created {path}")


@cli.command()
@click.argument("issues", nargs=-1)
@click.option("--all", "all_issues", is_flag=True, help="Every issue in issues/.")
@click.option("--dry-run", is_flag=True, help="Report the changes without writing them.")
@click.pass_context
@reports_errors
def refresh(ctx: click.Context, issues: tuple[str, ...], all_issues: bool, dry_run: bool) -> None:
    """Re-fetch the stored arXiv records of ISSUES and report what changed.

    \b
    Example:
        digest refresh 2022-05
        digest refresh --all --dry-run
    """
    from digest.add import refresh as refresh_records
    from digest.issues import list_issue_months

    project = _project(ctx)
    if all_issues == bool(issues):
        raise click.UsageError("name one or more issues, or pass --all")
    months = list_issue_months(project.issues_dir) if all_issues else list(issues)
    report = refresh_records(project, months, progress=_progress_printer(), dry_run=dry_run)
    for change in report.changed:
        click.echo(f"{change.arxiv_id}: " + "; ".join(change.changes))
    for missing in report.missing:
        click.echo(f"error: {missing}: not found on arXiv", err=True)
    verb = "would update" if dry_run else "updated"
    click.echo(f"checked {report.checked} paper(s) in {report.requests_made} request(s); {verb} {len(report.changed)}")
    if report.missing:
        sys.exit(1)


@cli.command()
@click.argument("issue")
@click.option("--format", "fmt", type=click.Choice(["bibtex", "csl-json"]), default="bibtex", show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), default=None, help="Write to FILE (atomically) instead of stdout.")
@click.pass_context
@reports_errors
def bib(ctx: click.Context, issue: str, fmt: str, output: Path | None) -> None:
    """Print the bibliography of ISSUE (YYYY-MM) as BibTeX or CSL-JSON.

    Every paper, group entry, reference and arxiv: link, once, in the order the issue names them.

    \b
    Example:
        digest bib 2022-05 > 2022-05.bib
        digest bib 2022-05 --format csl-json -o site/2022-05.json
    """
    from digest.bib import issue_bibliography, to_bibtex, to_csl_json
    from digest.store import atomic_write

    entries = issue_bibliography(_project(ctx), issue)
    text = to_bibtex(entries) if fmt == "bibtex" else to_csl_json(entries)
    if output is None or str(output) == "-":
        click.echo(text, nl=False)
        return
    atomic_write(output, text.encode("utf-8"))
    click.echo(f"wrote {_shown(output)} ({len(entries)} {'entry' if len(entries) == 1 else 'entries'})", err=True)


@cli.command()
@click.option("--category", "categories", multiple=True, metavar="CAT", help="arXiv category to read; repeatable (default: [tool.digest] inbox_categories).")
@click.option("--feed", "feeds", multiple=True, metavar="URL", help="News feed to list; repeatable (default: [tool.digest] news_feeds).")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, metavar="DATE", help="Only items dated on or after DATE (YYYY-MM-DD).")
@click.option("--add", "numbers", default=None, metavar="N,N-M", help="Stub these numbers of the listing into the issue, as `digest add` does.")
@click.option("--issue", "month", default=None, help="Issue to add to (YYYY-MM); default: the newest issue file.")
@click.pass_context
@reports_errors
def inbox(
    ctx: click.Context, categories: tuple[str, ...], feeds: tuple[str, ...], since: Any, numbers: str | None, month: str | None
) -> None:
    """List arXiv papers no issue names yet, and news; --add stubs some.

    Papers are numbered new first, then cross-lists, then replacements, each by id; papers
    already in an issue keep their number but are not shown. --add takes numbers of the
    listing the same --category and --since give. The feed address comes from
    DIGEST_ARXIV_RSS or [tool.digest] arxiv_rss. News items are listed, never added.

    \b
    Example:
        digest inbox --since 2022-05-02
        digest inbox --since 2022-05-02 --add 3,7,12
        digest inbox --category cs.LG --feed https://example.org/blog/feed.xml
    """
    from digest.errors import DigestError
    from digest.inbox import (
        new_candidates,
        pick,
        read_listing,
        read_news,
        rss_url,
        table_rows,
        truncate,
    )

    project = _project(ctx)
    if month is not None and numbers is None:
        raise click.UsageError("--issue goes with --add")
    day = since.date() if since is not None else None
    categories = categories or tuple(project.settings.inbox_categories)
    listing = read_listing([rss_url(project, c) for c in categories], since=day)
    if numbers is not None:
        chosen = pick(listing, numbers)
        ctx.invoke(add, ids=tuple(c.arxiv_id for c in chosen), month=month)
        return
    shown = new_candidates(project, listing)
    hidden = len(listing) - len(shown)
    after = f" since {day.isoformat()}" if day else ""
    click.echo(
        f"arXiv {', '.join(categories)}{after}: {len(shown)} new paper(s)"
        + (f"; {hidden} already in an issue, not shown" if hidden else "")
    )
    for row in table_rows(shown):
        click.echo(row)
    failed = []
    news = []
    for url in feeds or project.settings.news_feeds:
        try:
            news.extend(read_news([url], since=day))
        except DigestError as exc:
            failed.append(str(exc))
    if news:
        click.echo(f"\nNews: {len(news)} item(s)")
        for item in sorted(news, key=lambda n: (n.date is None, -(n.date.toordinal() if n.date else 0))):
            click.echo(f"{item.date.isoformat() if item.date else '':10}  {truncate(item.title, 88)}")
            click.echo(f"{'':10}  {item.link}")
    for message in failed:
        click.echo(message, err=True)
    if failed:
        sys.exit(1)


@cli.command()
@click.argument("issue", required=False)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port on 127.0.0.1; 0 picks a free one.")
@click.option("--open/--no-open", "open_browser", default=False, show_default=True, help="Open the preview in the default browser.")
@click.option("--verbose", is_flag=True, help="Log each request to stderr.")
@click.pass_context
@reports_errors
def serve(ctx: click.Context, issue: str | None, port: int, open_browser: bool, verbose: bool) -> None:
    """Preview ISSUE (default: the newest) on 127.0.0.1, rebuilt as files change.

    The page reloads itself after each rebuild; while a file is broken it shows the error.

    \b
    Example:
        digest serve                      # the newest issue at http://127.0.0.1:8000/
        digest serve 2022-05 --port 0 --open
    """
    from digest.serve import PreviewServer

    server = PreviewServer(_project(ctx), issue, verbose=verbose, log=lambda line: click.echo(line, err=True))
    try:
        server.start(port)
        click.echo(f"serving {server.month} at {server.url} (Ctrl-C to stop)")
        if open_browser:
            import webbrowser

            webbrowser.open(server.url)
        server.wait()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        server.stop()


@cli.command()
@click.argument("issues", nargs=-1)
@click.option("--all", "all_issues", is_flag=True, help="Every issue in issues/ (the default when no ISSUE is named).")
@click.option("--online", is_flag=True, help="Also ask arXiv about every paper and request every link.")
@click.option("--strict", is_flag=True, help="Fail on warnings too; empty notes and unused references become errors.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text", show_default=True, help="How to print the findings.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=5.0, show_default=True, help="Seconds to wait for each link (--online).")
@click.pass_context
@reports_errors
def check(ctx: click.Context, issues: tuple[str, ...], all_issues: bool, online: bool, strict: bool, fmt: str, timeout: float) -> None:
    """Check ISSUES (YYYY-MM; default: all) for problems before publishing.

    Exits 1 when there is an error (with --strict, also a warning), else 0.

    \b
    Example:
        digest check                      # every issue, offline and fast
        digest check 2022-05 --strict     # the gate before publishing
        digest check --all --online --format github
    """
    from digest.check import (
        check_issues,
        exit_code,
        format_github,
        format_json,
        format_text,
        summary,
    )
    from digest.issues import list_issue_months, parse_month

    if issues and all_issues:
        raise click.UsageError("name issues or pass --all, not both")
    months = [parse_month(issue) for issue in issues]  # a malformed name is a usage error, before any work
    project = _project(ctx)
    months = months or list_issue_months(project.issues_dir)
    findings = check_issues(project, months, online=online, strict=strict, link_timeout=timeout)
    line = summary(findings, len(set(months)))
    if fmt == "json":
        click.echo(format_json(findings))
        click.echo(line, err=True)
    else:
        if findings:
            click.echo(format_github(findings) if fmt == "github" else format_text(findings))
        click.echo(line)
    sys.exit(exit_code(findings, strict=strict))
