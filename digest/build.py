"""`digest build`: load an issue, resolve it against the store, render, write atomically."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from digest.issues import issue_path, load_issue_file, parse_month
from digest.project import Project
from digest.render import build_view, make_environment, render
from digest.store import Store, atomic_write

FORMATS = ("md", "html")


@dataclass(frozen=True)
class BuildResult:
    month: str
    outputs: dict[str, str]  # format → rendered text
    written: list[Path]


def render_issue(project: Project, month_or_path: str, formats: tuple[str, ...] = FORMATS) -> dict[str, str]:
    """Render one issue to text in each format; nothing is written."""
    month = parse_month(month_or_path)
    path = issue_path(project.issues_dir, month)
    loaded = load_issue_file(path, display_path=_relative(path, Path.cwd()))
    store = Store(project.store_dir, display_root=Path.cwd())
    view = build_view(loaded, store, project.settings)
    env = make_environment(project.templates_dir)
    return {fmt: render(view, env, fmt) for fmt in formats}


def build_issue(project: Project, month_or_path: str, formats: tuple[str, ...] = FORMATS, out_dir: Path | None = None) -> BuildResult:
    """Render and write `OUT/ISSUE.md` and `OUT/ISSUE.html`; all rendering succeeds before any write."""
    month = parse_month(month_or_path)
    outputs = render_issue(project, month, formats)
    target = out_dir if out_dir is not None else project.output_dir
    written = []
    for fmt, text in outputs.items():
        path = target / f"{month}.{fmt}"
        atomic_write(path, text.encode("utf-8"))
        written.append(path)
    return BuildResult(month, outputs, written)


def _relative(path: Path, base: Path) -> Path:
    try:
        return path.resolve().relative_to(base.resolve())
    except ValueError:
        return path
