"""`digest build --all`: archive, chart, Atom feed (parsed back), incremental rebuilds; email output."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner

from digest.cli import cli

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def series(project_dir: Path) -> Path:
    """Three issues: 2030-01 (the fixture), and two variants of it with their own teasers."""
    source = (project_dir / "issues/2030-01.yaml").read_text(encoding="utf-8")
    for month, teaser in (("2030-02", "February's teaser"), ("2030-03", "March's teaser")):
        text = source.replace("date: 2030-01-15", f"date: {month}-15")
        text = text.replace(text.split("\n")[1], f"teaser: {teaser}")
        (project_dir / f"issues/{month}.yaml").write_text(text, encoding="utf-8")
    return project_dir


def build_all(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["build", "--all", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_archive_lists_issues_newest_first_with_chart(series: Path) -> None:
    code, output = build_all()
    assert code == 0, output
    assert output.splitlines()[-1] == "built 3 issue(s), 0 unchanged"
    index = (series / "site/index.html").read_text(encoding="utf-8")
    positions = [index.index(f'href="{m}.html"') for m in ("2030-03", "2030-02", "2030-01")]
    assert positions == sorted(positions)
    assert "March&#39;s teaser" in index and "March 15, 2030" in index
    svg = index[index.index("<svg") : index.index("</svg>") + 6]
    ET.fromstring(svg)  # the chart is well-formed XML
    assert svg.count('fill="#1a5fb4"><title>') == 3  # one segment per issue for the top category
    assert "2030-01: 2 × cs.CL" in svg and "hep-th" in svg
    assert "<script" not in index


def test_feed_is_valid_atom_with_full_content(series: Path) -> None:
    build_all()
    raw = (series / "site/feed.xml").read_bytes()
    root = ET.fromstring(raw)
    assert root.tag == f"{ATOM}feed"
    for element in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{element}") is not None, element
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 3
    for entry in entries:
        for element in ("id", "title", "updated", "link", "content"):
            assert entry.find(f"{ATOM}{element}") is not None, element
    parsed = feedparser.parse(raw)
    assert not parsed.bozo
    assert parsed.feed.title == "Fixture Digest"
    assert [e.link for e in parsed.entries] == [f"https://example.org/fixture-digest/2030-0{n}.html" for n in (3, 2, 1)]
    assert [e.title for e in parsed.entries][-1] == "Fixture Digest — January 2030"
    assert parsed.entries[0].updated == "2030-03-15T00:00:00Z"
    content = parsed.entries[2].content[0].value
    assert "Attention Is All You Need" in content and '<sup class="cite">' in content


def test_unchanged_issues_are_skipped(series: Path) -> None:
    build_all()
    before = {p.name: p.stat().st_mtime_ns for p in (series / "site").iterdir() if p.is_file()}
    code, output = build_all()
    assert output == "built 0 issue(s), 3 unchanged\n"
    after = {p.name: p.stat().st_mtime_ns for p in (series / "site").iterdir() if p.is_file()}
    assert before == after


def test_changed_issue_is_rebuilt_alone(series: Path) -> None:
    build_all()
    path = series / "issues/2030-02.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("February's teaser", "A new teaser"), encoding="utf-8")
    _, output = build_all()
    assert output.splitlines()[-1] == "built 1 issue(s), 2 unchanged"
    assert "wrote site/2030-02.html" in output and "wrote site/index.html" in output
    assert "A new teaser" in (series / "site/index.html").read_text(encoding="utf-8")


def test_touched_but_identical_files_are_not_rebuilt(series: Path) -> None:
    build_all()
    for path in (series / "issues").rglob("*.yaml"):
        os.utime(path, ns=(1, 1))  # a fresh checkout: new mtimes, same bytes
    assert build_all()[1] == "built 0 issue(s), 3 unchanged\n"


def test_store_record_change_rebuilds_the_issues_that_use_it(series: Path) -> None:
    build_all()
    record = series / "issues/arxiv/hep-th/9711200.yaml"
    record.write_text(record.read_text(encoding="utf-8").replace("The Large N Limit", "The Large-N Limit"), encoding="utf-8")
    _, output = build_all()
    assert output.splitlines()[-1] == "built 3 issue(s), 0 unchanged"
    assert "The Large-N Limit" in (series / "site/2030-01.html").read_text(encoding="utf-8")


def test_template_change_rebuilds_everything(series: Path) -> None:
    build_all()
    style = series / "templates/_style.html.j2"
    style.write_text(style.read_text(encoding="utf-8").replace("42rem", "40rem"), encoding="utf-8")
    assert build_all()[1].splitlines()[-1] == "built 3 issue(s), 0 unchanged"


def test_force_rebuilds(series: Path) -> None:
    build_all()
    assert build_all("--force")[1].splitlines()[-1] == "built 3 issue(s), 0 unchanged"


def test_all_needs_a_base_url(series: Path) -> None:
    pyproject = series / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace('base_url = "https://example.org/fixture-digest/"', ""), encoding="utf-8")
    result = CliRunner().invoke(cli, ["build", "--all"])
    assert result.exit_code == 1
    assert result.stderr == "pyproject.toml:1:1: error: set base_url in [tool.digest]: the feed needs absolute links\n"


def test_all_and_issue_together_is_a_usage_error(series: Path) -> None:
    assert CliRunner().invoke(cli, ["build", "--all", "2030-01"]).exit_code == 2
    assert CliRunner().invoke(cli, ["build"]).exit_code == 2


def test_email_is_inline_styled_and_self_contained(project_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["build", "2030-01", "--format", "email"], catch_exceptions=False)
    assert result.exit_code == 0 and result.stderr == ""
    page = (project_dir / "site/2030-01.email.html").read_text(encoding="utf-8")
    assert "<style" not in page and "<script" not in page and "<table" not in page
    assert '<p style="margin:0 0 16px 0;"><strong class="label">❓ Why →</strong>' in page
    assert '<a href="https://example.org/a_b" style="color:#1a5fb4;">link</a>' in page
    assert 'src="https://example.org/figure-1.png"' in page


def test_email_over_gmail_limit_warns(project_dir: Path) -> None:
    path = project_dir / "issues/2030-01.yaml"
    long_note = "A very long note. " * 6000
    path.write_text(path.read_text(encoding="utf-8").replace("why: Strings and fields.", f"why: {long_note}"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["build", "2030-01", "--format", "email"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stderr.startswith("warning: 2030-01.email.html is ")
    assert "KB; Gmail clips messages over 102 KB" in result.stderr


def test_parallel_and_sequential_builds_are_identical(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many stale issues render on every core; the bytes must not depend on that."""
    import digest.site

    source = (project_dir / "issues/2030-01.yaml").read_text(encoding="utf-8")
    for month in range(2, 13):
        (project_dir / f"issues/2030-{month:02d}.yaml").write_text(source, encoding="utf-8")
    for year in (2031, 2032):
        for month in range(1, 7):
            (project_dir / f"issues/{year}-{month:02d}.yaml").write_text(source, encoding="utf-8")
    assert build_all("--out", "parallel")[0] == 0
    monkeypatch.setattr(digest.site, "PARALLEL_FROM", 10_000)
    assert build_all("--out", "sequential")[0] == 0
    parallel = {p.relative_to(project_dir / "parallel"): p.read_bytes() for p in (project_dir / "parallel").rglob("*") if p.is_file()}
    sequential = {p.relative_to(project_dir / "sequential"): p.read_bytes() for p in (project_dir / "sequential").rglob("*") if p.is_file()}
    assert len(parallel) == 24 * 3 + 3 and parallel == sequential
