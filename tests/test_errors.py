"""Bad input: one line `FILE:LINE:COL: error: …`, exit 1 (2 for usage), no traceback, nothing written."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.errors import FetchError, FileError, InvalidArxivId, IssueError
from digest.issues import load_issue_file
from digest.project import find_root, load_settings

# (name, file content, expected error line after "issues/2030-05.yaml:")
BROKEN_ISSUES = [
    ("yaml-syntax", "teaser: [unclosed\nintro: x\n", "2:6: error: YAML syntax: did not find expected ',' or ']' while parsing a flow sequence"),
    ("tab-indent", "papers:\n\t- arxiv: '1706.03762'\n", "2:1: error: YAML syntax: found character that cannot start any token (a tab: indent with spaces, not tabs)"),
    ("wrong-type", "news: just a string\n", "1:7: error: news: Input should be a valid list"),
    ("wrong-type-nested", "papers:\n  - arxiv: '1706.03762'\n    why: [1, 2]\n", "3:10: error: papers[0].why: Input should be a valid string"),
    ("unknown-key", "teaser: x\ntaeser: y\n", "2:1: error: unknown key 'taeser' (did you mean 'teaser'?)"),
    ("unknown-nested-key", "papers:\n  - arxiv: '1706.03762'\n    insight: x\n", "3:5: error: unknown key 'insight' (did you mean 'insights'?)"),
    ("bad-arxiv-id", "papers:\n  - arxiv: 2204.3458\n", "2:12: error: papers[0].arxiv: '2204.3458' is not an arXiv id"),
    ("bad-date", "date: 2030-02-30\n", "1:7: error: date: Input should be a valid date or datetime, day value is outside expected range"),
    ("bad-url", "papers:\n  - arxiv: '1706.03762'\n    links:\n      Code: github.com/x\n", "4:13: error: papers[0].links.Code: 'github.com/x' is not an http(s) address"),
    ("duplicate-key", "teaser: a\nintro: b\nteaser: c\n", "3:1: error: duplicate key 'teaser' (first defined on line 1)"),
    ("alias-bomb", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n", "2:8: error: YAML anchors and aliases (&x, *x) are not allowed in issue files; write the text out"),
    ("python-tag", "teaser: !!python/object/apply:os.system ['echo hi']\n", "1:9: error: the YAML tag !!python/object/apply:os.system is not allowed in issue files; remove it"),
    ("empty-file", "", "1:1: error: the issue file is empty; start from `digest new YYYY-MM`"),
    ("not-a-mapping", "- a\n- b\n", "1:1: error: an issue file is a mapping of keys (title:, papers:, …)"),
    ("item-kind", "papers:\n  - just text\n", "2:5: error: papers[0]: a paper item must be a mapping with 'arxiv', 'title' and 'url', or 'group'"),
    ("unknown-citation", "intro: |\n  Some text\n  cites [^nope] here.\n", "3:9: error: citation [^nope] has no entry in references; add `nope: <arXiv id>` under references:"),
    ("paper-not-in-store", "papers:\n  - arxiv: '2201.00001'\n", "2:12: error: paper 2201.00001 is not in the metadata store; add it with `digest add 2201.00001`"),
]


@pytest.mark.parametrize(("name", "content", "expected"), BROKEN_ISSUES, ids=[case[0] for case in BROKEN_ISSUES])
def test_build_reports_one_located_line(project_dir: Path, name: str, content: str, expected: str) -> None:
    (project_dir / "issues/2030-05.yaml").write_text(content, encoding="utf-8")
    result = CliRunner().invoke(cli, ["build", "2030-05"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"issues/2030-05.yaml:{expected}"), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (project_dir / "site").exists()


def test_non_utf8_bytes(project_dir: Path) -> None:
    (project_dir / "issues/2030-05.yaml").write_bytes(b"teaser: caf\xe9\n")
    result = CliRunner().invoke(cli, ["build", "2030-05"])
    assert (result.exit_code, result.stderr) == (1, "issues/2030-05.yaml:1:12: error: not UTF-8 (byte 0xe9); save the file as UTF-8\n")


def test_oversized_file_is_refused_quickly(project_dir: Path) -> None:
    (project_dir / "issues/2030-05.yaml").write_bytes(b"teaser: " + b"x" * 10_000_000 + b"\n")
    result = CliRunner().invoke(cli, ["build", "2030-05"])
    assert result.exit_code == 1
    assert result.stderr == "issues/2030-05.yaml:1:1: error: file is 10,000,009 bytes; an issue file is at most 2,000,000\n"


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("2022-13", "error: '2022-13' is not an issue name: month 13 does not exist; expected YYYY-MM with a month 01-12, e.g. 2022-05\n"),
        ("../etc", "error: '../etc' is not an issue name; expected YYYY-MM with a month 01-12, e.g. 2022-05\n"),
        ("may", "error: 'may' is not an issue name; expected YYYY-MM with a month 01-12, e.g. 2022-05\n"),
    ],
)
def test_malformed_month_is_a_usage_error(project_dir: Path, argument: str, expected: str) -> None:
    result = CliRunner().invoke(cli, ["build", argument])
    assert (result.exit_code, result.stderr) == (2, expected)


def test_missing_issue_names_the_file_and_the_fix(project_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["build", "2031-01"])
    assert (result.exit_code, result.stderr) == (1, "issues/2031-01.yaml: error: no such issue; create it with `digest new 2031-01`\n")


def test_unknown_format_is_a_usage_error(project_dir: Path) -> None:
    assert CliRunner().invoke(cli, ["build", "2030-01", "--format", "pdf"]).exit_code == 2


def test_outside_a_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["build", "2030-01"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: not inside a digest project: no pyproject.toml with a [tool.digest] table in ")


def test_loader_and_cli_agree(project_dir: Path) -> None:
    path = project_dir / "issues/2030-05.yaml"
    path.write_text("teaser: x\ntaeser: y\n", encoding="utf-8")
    with pytest.raises(IssueError) as caught:
        load_issue_file(path, Path("issues/2030-05.yaml"))
    assert (caught.value.line, caught.value.column) == (2, 1)


# --- settings ---------------------------------------------------------------------------


def _pyproject(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(f'[project]\nname = "x"\n\n[tool.digest]\n{table}', encoding="utf-8")
    return path


def test_settings_defaults(tmp_path: Path) -> None:
    settings = load_settings(_pyproject(tmp_path, ""))
    assert settings.title_pattern == "Trends in AI — {month} {year}"
    assert settings.output_dir == "site" and settings.authors_max == 13


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('titel_pattern = "x"\n', "5:1: error: unknown setting 'titel_pattern' in [tool.digest] (did you mean 'title_pattern'?)"),
        ('title_pattern = "{monht} {year}"\n', "5:1: error: setting 'title_pattern': Value error, unknown placeholder {monht}; use {month} and {year}"),
        ('base_url = "example.org"\n', "5:1: error: setting 'base_url': Value error, must be an http(s) address such as https://example.org/digest/"),
        ('output_dir = "site"\nauthors_max = "many"\n', "6:1: error: setting 'authors_max': Input should be a valid integer, unable to parse string as an integer"),
        ("editor = \n", "5:10: error: invalid TOML: Invalid value (at line 5, column 10)"),
    ],
)
def test_wrong_setting_is_located(tmp_path: Path, table: str, expected: str) -> None:
    path = _pyproject(tmp_path, table)
    with pytest.raises(IssueError) as caught:
        load_settings(path)
    assert str(caught.value) == f"{path}:{expected}"


def test_root_found_from_a_subfolder(project_dir: Path) -> None:
    assert find_root(project_dir / "issues" / "arxiv") == project_dir.resolve()


@pytest.mark.parametrize(
    "error",
    [
        IssueError(Path("a.yaml"), 3, 4, "boom", "rule"),
        FileError(Path("a.yaml"), "gone"),
        FetchError("down", "http://x", 4, 503),
        InvalidArxivId("abc", "nope"),
    ],
)
def test_errors_survive_pickling(error: Exception) -> None:
    assert str(pickle.loads(pickle.dumps(error))) == str(error)
