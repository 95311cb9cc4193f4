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
@click.argument("issue")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "all"]), default="all", show_default=True, help="Which output to write.")
@click.option("--out", "out", default=None, help="Output folder (default: [tool.digest] output_dir); '-' prints Markdown to stdout.")
@click.pass_context
@reports_errors
def build(ctx: click.Context, issue: str, fmt: str, out: str | None) -> None:
    """Render ISSUE (YYYY-MM) to Markdown and HTML.

    \b
    Example:
        digest build 2022-05
        digest build 2022-05 --format md --out -
    """
    from digest.build import FORMATS, build_issue, render_issue

    project = _project(ctx)
    if out == "-":
        if fmt == "html":
            raise click.UsageError("--out - prints Markdown only; use --format md")
        click.echo(render_issue(project, issue, ("md",))["md"], nl=False)
        return
    formats = FORMATS if fmt == "all" else (fmt,)
    result = build_issue(project, issue, formats, Path(out) if out else None)
    for path in result.written:
        click.echo(f"wrote {_shown(path)} ({path.stat().st_size:,} bytes)")


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
