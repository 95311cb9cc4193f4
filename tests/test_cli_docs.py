"""`--help` is the documentation: every command has it, with an example, and README lists it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import REPO

from digest.cli import cli

COMMANDS = sorted(cli.commands)


def test_the_commands() -> None:
    assert COMMANDS == ["add", "bib", "build", "check", "inbox", "new", "refresh", "serve"]


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_help_with_an_example(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and f"digest {name}" in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_readme_documents_each_command(name: str) -> None:
    assert f"`digest {name}" in (REPO / "README.md").read_text(encoding="utf-8")


def test_python_dash_m_and_version() -> None:
    done = subprocess.run([sys.executable, "-m", "digest", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("digest ")


def test_help_does_not_load_the_heavy_libraries() -> None:
    """`digest --help` stays fast: pydantic, jinja2, markdown-it and the fetcher load on demand."""
    code = "import sys; from digest.cli import cli; print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert not loaded & {"pydantic", "jinja2", "markdown_it", "arxiv", "requests", "feedparser", "yaml"}
