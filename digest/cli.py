"""The command line. Commands parse options, call one library function, and print its result.

Library modules are imported inside commands so `digest --help` stays fast.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


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


# --- command: bib (marker: replace this line with the command) ---


# --- command: inbox (marker: replace this line with the command) ---


@cli.command()
@click.argument("issue", required=False)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port on 127.0.0.1; 0 picks a free one.")
@click.option("--open/--no-open", "open_browser", default=False, show_default=True, help="Open the preview in the default browser.")
@click.option("--verbose", is_flag=True, help="Log each request to stderr.")
@click.pass_context
@reports_errors
def serve(ctx: click.Context, issue: str | None, port: int, open_browser: bool, verbose: bool) -> None:
    """Preview ISSUE (default: the newest) on 127.0.0.1, rebuilt as its files change.

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
