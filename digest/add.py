"""`digest add`, `digest new` and `digest refresh`: the editor's papers into the store and issue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digest.errors import DigestError, FileError, InvalidArxivId
from digest.ids import normalize_id, split_version
from digest.issues import (
    LoadedIssue,
    issue_path,
    list_issue_months,
    load_issue_file,
    parse_month,
    parse_yaml,
)
from digest.models import ArxivPaper, Group, named_arxiv_ids
from digest.project import Project
from digest.records import PaperRecord
from digest.render import author_line
from digest.store import Store, atomic_write
from digest.yamledit import Stub, append_stubs

Progress = Callable[[int, int], None]


@dataclass
class AddReport:
    issue: Path
    added: list[PaperRecord] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # messages: already in this issue
    warnings: list[str] = field(default_factory=list)  # featured in an earlier issue
    failed: list[str] = field(default_factory=list)  # messages: invalid, not found
    fetched: int = 0
    requests_made: int = 0


def newest_issue(project: Project) -> str:
    months = list_issue_months(project.issues_dir)
    if not months:
        raise DigestError("there is no issue file in issues/ yet; create one with `digest new YYYY-MM`")
    return months[-1]


def paper_ids(loaded: LoadedIssue) -> set[str]:
    """Base ids of the papers an issue features (items and group entries, not references)."""
    ids = set()
    for item in loaded.issue.papers:
        if isinstance(item, ArxivPaper):
            ids.add(split_version(item.arxiv)[0])
        elif isinstance(item, Group):
            ids.update(split_version(e.arxiv)[0] for e in item.entries if e.arxiv)
    return ids


def named_ids(loaded: LoadedIssue) -> set[str]:
    """Base ids named anywhere in an issue: papers, references and arxiv: links in the prose."""
    return named_arxiv_ids(loaded.issue)


def earlier_features(project: Project, month: str) -> dict[str, str]:
    """Base id → the first earlier issue that featured it; unreadable issues are passed over."""
    featured: dict[str, str] = {}
    for other in list_issue_months(project.issues_dir):
        if other >= month:
            break
        try:
            loaded = load_issue_file(issue_path(project.issues_dir, other))
        except DigestError:
            continue  # `digest check` reports broken issues; adding must not be blocked by them
        for base in paper_ids(loaded):
            featured.setdefault(base, other)
    return featured


def add_papers(
    project: Project,
    raw_ids: Sequence[str],
    month: str | None = None,
    *,
    api_url: str | None = None,
    progress: Progress | None = None,
    display_root: Path | None = None,
) -> AddReport:
    """Fetch what the store lacks, store it, and append one stub per new paper to the issue."""
    month = parse_month(month) if month else newest_issue(project)
    path = issue_path(project.issues_dir, month)
    shown = _shown(path, display_root)
    report = AddReport(issue=shown)

    wanted: list[str] = []
    for raw in raw_ids:
        try:
            canonical = normalize_id(raw)
        except InvalidArxivId as exc:
            report.failed.append(f"{raw}: {exc.reason}")
            continue
        if split_version(canonical)[0] not in {split_version(w)[0] for w in wanted}:
            wanted.append(canonical)

    store = Store(project.store_dir, display_root=display_root)
    with store.locked():
        loaded = load_issue_file(path, display_path=shown)
        featured = paper_ids(loaded)
        named = named_ids(loaded) - featured  # cited or linked: store the record, add no stub
        earlier = earlier_features(project, month)
        new_ids = []
        for canonical in wanted:
            base = split_version(canonical)[0]
            if base in featured:
                report.skipped.append(f"{canonical} is already in {shown}")
            elif base in named:
                report.skipped.append(f"{canonical} is cited in {shown}; its metadata is stored, no stub added")
            else:
                if base in earlier:
                    report.warnings.append(f"{canonical} was featured in {earlier[base]} already")
                new_ids.append(canonical)

        to_fetch = [i for i in wanted if _needs_fetch(store, i)]
        records: dict[str, PaperRecord] = {}
        if to_fetch:
            from digest.fetch import (
                fetch_papers,  # the network stack loads only when needed
            )

            result = fetch_papers(to_fetch, api_url=api_url, progress=progress)
            report.fetched = len(result.found)
            report.requests_made = result.requests_made
            records.update(result.found)
            for missing in result.missing:
                report.failed.append(f"{missing}: not found on arXiv")
            store.put_many(result.found.values())
        for canonical in new_ids:
            record = records.get(canonical) or store.get(canonical)
            if record is not None:
                report.added.append(record)
        if report.added:
            _append_to_issue(path, shown, report.added, new_ids, project)
    return report


def _needs_fetch(store: Store, canonical: str) -> bool:
    base, version = split_version(canonical)
    record = store.get(base)
    return record is None or (version is not None and record.version != version)


def stub_comment(record: PaperRecord, project: Project) -> str:
    return f"{record.clean_title} — {author_line(record.authors, project.settings)}"


def _append_to_issue(path: Path, shown: Path, records: list[PaperRecord], requested: list[str], project: Project) -> None:
    """Insert stubs as text, verify the result parses to old data + stubs, write atomically."""
    raw = path.read_bytes()
    old_text = raw.decode("utf-8")
    _, old_data = parse_yaml(old_text, shown)
    by_base = {split_version(r)[0]: r for r in requested}
    stubs = [Stub(arxiv_id=by_base.get(r.id, r.id), comment=stub_comment(r, project)) for r in records]
    try:
        new_text = append_stubs(old_text, stubs)
    except ValueError as exc:
        raise FileError(shown, f"cannot add papers: {exc}") from None
    expected = dict(old_data)
    expected["papers"] = list(old_data.get("papers") or []) + [
        {"arxiv": s.arxiv_id, "why": "", "insights": ""} for s in stubs
    ]
    _verify(new_text, expected, shown)
    atomic_write(path, new_text.encode("utf-8"))
    # Read back what landed on disk: if anything differs, put the editor's bytes back.
    written = path.read_bytes().decode("utf-8")
    try:
        _verify(written, expected, shown)
    except DigestError:
        atomic_write(path, raw)
        raise


def _verify(text: str, expected: dict[str, Any], shown: Path) -> None:
    try:
        _, data = parse_yaml(text, shown)
    except DigestError as exc:
        raise FileError(shown, f"adding the stubs would break the file ({exc}); nothing was changed") from None
    if data != expected:
        raise FileError(shown, "adding the stubs would change existing entries; nothing was changed (please report this)")


def _shown(path: Path, root: Path | None) -> Path:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve())
        except ValueError:
            pass
    return path


# --- digest new ---------------------------------------------------------------------------

NEW_ISSUE_TEMPLATE = "new-issue.yaml.j2"


def new_issue(project: Project, month_text: str, display_root: Path | None = None) -> Path:
    """Scaffold `issues/YYYY-MM.yaml` from templates/new-issue.yaml.j2; never overwrite."""
    import jinja2

    month = parse_month(month_text)
    path = issue_path(project.issues_dir, month)
    shown = _shown(path, display_root)
    if path.exists():
        raise FileError(shown, "already exists; edit it, or remove it first to start over")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(project.templates_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
    )
    year, number = int(month[:4]), int(month[5:])
    date = dt.date(year, number, 1)
    text = env.get_template(NEW_ISSUE_TEMPLATE).render(
        month=month, month_name=f"{date:%B}", year=year, editor=project.settings.editor
    )
    parse_yaml(text, Path(NEW_ISSUE_TEMPLATE))  # a broken template must not produce a broken issue
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "x", encoding="utf-8") as handle:  # "x": a race with another writer loses, not clobbers
            handle.write(text)
    except FileExistsError:
        raise FileError(shown, "already exists; edit it, or remove it first to start over") from None
    return shown


# --- digest refresh -----------------------------------------------------------------------


@dataclass
class RecordChange:
    arxiv_id: str
    changes: list[str]


@dataclass
class RefreshReport:
    checked: int = 0
    changed: list[RecordChange] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    requests_made: int = 0


def refresh(
    project: Project,
    months: Sequence[str],
    *,
    api_url: str | None = None,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> RefreshReport:
    """Re-fetch the store records the issues name, in one batched request, and report changes."""
    from digest.fetch import fetch_papers

    ids: list[str] = []
    for month in months:
        loaded = load_issue_file(issue_path(project.issues_dir, parse_month(month)))
        for base in sorted(named_ids(loaded)):
            if base not in ids:
                ids.append(base)
    report = RefreshReport(checked=len(ids))
    if not ids:
        return report
    store = Store(project.store_dir)
    with store.locked():
        result = fetch_papers(ids, api_url=api_url, progress=progress)
        report.requests_made = result.requests_made
        report.missing = list(result.missing)
        for arxiv_id, new in result.found.items():
            old = store.get(arxiv_id)
            changes = describe_changes(old, new)
            if changes:
                report.changed.append(RecordChange(arxiv_id, changes))
                if not dry_run:
                    store.put(new)
    return report


def describe_changes(old: PaperRecord | None, new: PaperRecord) -> list[str]:
    if old is None:
        return ["new record"]
    changes = []
    if old.version != new.version:
        changes.append(f"v{old.version} → v{new.version}")
    if old.clean_title != new.clean_title:
        changes.append(f"title: {old.clean_title!r} → {new.clean_title!r}")
    if old.authors != new.authors:
        changes.append(f"authors: {len(old.authors)} → {len(new.authors)} names")
    if not changes and old != new:
        changed_fields = [name for name in PaperRecord.model_fields if getattr(old, name) != getattr(new, name)]
        changes.append("changed: " + ", ".join(changed_fields))
    return changes
