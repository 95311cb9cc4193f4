"""`digest build --all`: every issue, the archive page, the Atom feed; incremental by content hash.

Each issue's inputs (its YAML, the store records it used, every template, the settings and the
digest version) are fingerprinted in `OUT/.digest/manifest.json`. An issue whose fingerprint is
unchanged is not rendered again; its archive summary and feed fragment come from that folder.
Files are compared by size and mtime first and by SHA-256 only when those differ, so a fresh
checkout (new mtimes, same bytes) still counts as unchanged.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from digest import __version__
from digest.build import FORMATS, output_name, render_one
from digest.errors import SettingsError
from digest.issues import issue_path, list_issue_months
from digest.project import PYPROJECT, Project, shown_path
from digest.store import Store, atomic_write

STATE_DIR = ".digest"
MANIFEST = "manifest.json"
CHART_COLOURS = ["#1a5fb4", "#e66100", "#26a269", "#a51d2d", "#613583", "#c88800", "#63452c"]
OTHER = "other"


@dataclass
class IssueSummary:
    month: str
    title: str
    teaser: str
    date_iso: str  # the issue's date, or the first of its month
    date: str
    editor: str
    categories: dict[str, int]


@dataclass
class SiteReport:
    built: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_state(path: Path) -> list[Any]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, _sha(path.read_bytes())]


def _unchanged(path: Path, recorded: list[Any]) -> bool:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return False
    if [stat.st_size, stat.st_mtime_ns] == recorded[:2]:
        return True
    return stat.st_size == recorded[0] and _sha(path.read_bytes()) == recorded[2]


def _shared_fingerprint(project: Project) -> str:
    """Templates, settings and the code version: a change to any of them rebuilds every issue."""
    digest = hashlib.sha256(__version__.encode())
    digest.update(project.settings.model_dump_json().encode())
    for path in sorted(p for p in project.templates_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(project.templates_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_all(project: Project, *, force: bool = False, out_dir: Path | None = None) -> SiteReport:
    """Build every issue whose inputs changed, then the archive page and the feed."""
    if not project.settings.base_url:
        raise SettingsError(shown_path(project.root / PYPROJECT), 1, 1, "set base_url in [tool.digest]: the feed needs absolute links")
    out = out_dir if out_dir is not None else project.output_dir
    state_dir = out / STATE_DIR
    manifest_path = state_dir / MANIFEST
    manifest = _read_manifest(manifest_path)
    shared = _shared_fingerprint(project)
    if manifest.get("shared") != shared:
        manifest = {"shared": shared, "issues": {}}
    entries: dict[str, Any] = manifest["issues"]
    months = list_issue_months(project.issues_dir)
    report = SiteReport()
    stale = []
    for month in months:
        entry = entries.get(month)
        if not force and entry and _entry_current(project, out, month, entry):
            report.skipped.append(month)
        else:
            stale.append(month)
    for month, entry, written in _render_all(project, stale, out):
        entries[month] = entry
        report.built.append(month)
        report.written.extend(written)
    for gone in set(entries) - set(months):
        del entries[gone]
    summaries = [IssueSummary(**entries[m]["summary"]) for m in months]
    if report.built or not (out / "index.html").exists() or not (out / "feed.xml").exists() or force:
        from digest.render import make_environment

        env = make_environment(project.templates_dir, project.cache_dir / "jinja")
        site = {"base_url": project.settings.base_url, "title": _series_title(project), "editor": project.settings.editor}
        newest_first = list(reversed(summaries))
        index = env.get_template("index.html.j2").render(site=site, issues=newest_first, chart=category_chart(summaries))
        fragments = {s.month: (state_dir / f"{s.month}.article.html").read_text(encoding="utf-8") for s in newest_first}
        feed = env.get_template("feed.xml.j2").render(site=site, issues=newest_first, fragments=fragments)
        for name, text in (("index.html", index), ("feed.xml", feed)):
            atomic_write(out / name, text.encode("utf-8"), durable=False)
            report.written.append(out / name)
    if report.built or report.written or not manifest_path.exists():
        atomic_write(manifest_path, json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode("utf-8"), durable=False)
    return report


PARALLEL_FROM = 16  # below this, starting workers costs more than it saves


def _render_all(project: Project, months: list[str], out: Path) -> list[tuple[str, dict[str, Any], list[Path]]]:
    """Render and write `months`, on every core when there are many (each issue is independent)."""
    workers = min(os.cpu_count() or 1, 8)
    if len(months) < PARALLEL_FROM or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return _render_chunk(project, months, out)
    # fork: the workers inherit the imported modules and compiled templates, so they start at once
    chunks = [months[i::workers] for i in range(workers)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        results = [item for part in pool.map(_render_chunk, [project] * workers, chunks, [out] * workers) for item in part]
    return sorted(results, key=lambda item: item[0])


def _render_chunk(project: Project, months: list[str], out: Path) -> list[tuple[str, dict[str, Any], list[Path]]]:
    from digest.markup import HtmlRenderer
    from digest.render import make_environment

    env, html = make_environment(project.templates_dir, project.cache_dir / "jinja"), HtmlRenderer()
    store = Store(project.store_dir, display_root=Path.cwd())
    state_dir = out / STATE_DIR
    results = []
    for month in months:
        rendered = render_one(project, month, FORMATS, env, html, store)
        written = []
        for fmt in FORMATS:
            path = out / output_name(month, fmt)
            atomic_write(path, rendered.outputs[fmt].encode("utf-8"), durable=False)
            written.append(path)
        # The feed reuses the page's <article>: cut it out rather than render it a second time.
        page = rendered.outputs["html"]
        article = page[page.index("<article") : page.rindex("</article>") + len("</article>")] + "\n"
        atomic_write(state_dir / f"{month}.article.html", article.encode("utf-8"), durable=False)
        view = rendered.view
        summary = IssueSummary(
            month, view.title, view.teaser, view.date_iso or f"{month}-01", view.date or _long_date_of(month),
            view.editor, view.categories,
        )
        entry = {
            "issue": _file_state(issue_path(project.issues_dir, month)),
            "deps": {p.relative_to(project.root).as_posix(): _file_state(p) for p in rendered.store_paths},
            "summary": asdict(summary),
        }
        results.append((month, entry, written))
    return results


def _entry_current(project: Project, out: Path, month: str, entry: dict[str, Any]) -> bool:
    outputs = [out / output_name(month, fmt) for fmt in FORMATS] + [out / STATE_DIR / f"{month}.article.html"]
    if not all(p.exists() for p in outputs):
        return False
    if not _unchanged(issue_path(project.issues_dir, month), entry["issue"]):
        return False
    return all(_unchanged(project.root / rel, state) for rel, state in entry["deps"].items())


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {"shared": None, "issues": {}}
    return data if isinstance(data, dict) and isinstance(data.get("issues"), dict) else {"shared": None, "issues": {}}


def _long_date_of(month: str) -> str:
    import datetime as dt

    from digest.render import _long_date

    return _long_date(dt.date(int(month[:4]), int(month[5:]), 1))


def _series_title(project: Project) -> str:
    pattern = project.settings.title_pattern
    head = pattern.split("{")[0].rstrip(" —-–:")
    return head or "Digest"


def category_chart(summaries: list[IssueSummary], top: int = 6) -> str:
    """Stacked bars of featured papers' primary categories per issue, as inline SVG (no JS)."""
    if not summaries:
        return ""
    totals: dict[str, int] = {}
    for s in summaries:
        for category, count in s.categories.items():
            totals[category] = totals.get(category, 0) + count
    named = [c for c, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
    series = named + ([OTHER] if len(totals) > len(named) else [])
    colour = {c: CHART_COLOURS[i % len(CHART_COLOURS)] for i, c in enumerate(series)}
    bar_w, gap, height, top_pad, legend_h = 14, 4, 120, 10, 22
    tallest = max((sum(s.categories.values()) for s in summaries), default=1) or 1
    width = max(len(summaries) * (bar_w + gap) + gap, 240)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height + top_pad + legend_h + 18}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        "<title>Primary arXiv categories of the featured papers, per issue</title>",
    ]
    for index, s in enumerate(summaries):
        x = gap + index * (bar_w + gap)
        y = float(top_pad + height)
        counts: dict[str, int] = {}
        for category, count in s.categories.items():
            key = category if category in named else OTHER
            counts[key] = counts.get(key, 0) + count
        for category in series:
            count = counts.get(category, 0)
            if not count:
                continue
            h = count / tallest * height
            y -= h
            parts.append(
                f'<rect x="{x}" y="{y:.1f}" width="{bar_w}" height="{h:.1f}" fill="{colour[category]}">'
                f"<title>{_xml(s.month)}: {count} × {_xml(category)}</title></rect>"
            )
    # The first and last months under the bars give the time axis its span.
    axis_y = top_pad + height + 11
    parts.append(f'<text x="{gap}" y="{axis_y}" font-size="9" fill="currentColor">{_xml(summaries[0].month)}</text>')
    if len(summaries) > 1:
        last_x = gap + (len(summaries) - 1) * (bar_w + gap) + bar_w
        parts.append(f'<text x="{last_x}" y="{axis_y}" font-size="9" text-anchor="end" fill="currentColor">{_xml(summaries[-1].month)}</text>')
    legend_y = top_pad + height + 18
    x = gap
    for category in series:
        parts.append(f'<rect x="{x}" y="{legend_y}" width="10" height="10" fill="{colour[category]}"/>')
        parts.append(f'<text x="{x + 14}" y="{legend_y + 9}" font-size="11" fill="currentColor">{_xml(category)}</text>')
        x += 14 + 7 * len(category) + 14
    parts.append("</svg>")
    return "\n".join(parts)


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")

