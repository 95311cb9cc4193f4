"""`digest serve`: the preview server, through the library and once through the CLI."""

from __future__ import annotations

import html
import http.client
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.build import render_issue
from digest.cli import cli
from digest.errors import DigestError
from digest.project import load_project
from digest.serve import PreviewServer

TITLE = "Fixture Digest — January 2030"
TEASER = "Attention, residuals &amp; strings"
DEADLINE = 5.0


def fetch(url: str) -> tuple[int, str, str]:
    """(status, content type, body) of a GET; error statuses are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode("utf-8")


def version(server: PreviewServer) -> int:
    return int(json.loads(fetch(server.url + "__digest/version")[2])["version"])


def wait_for_new_version(server: PreviewServer, old: int) -> int:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        current = version(server)
        if current != old:
            return current
        time.sleep(0.02)
    pytest.fail(f"the version stayed at {old} for {DEADLINE} s")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def logged() -> list[str]:
    return []


@pytest.fixture
def server(project_dir: Path, logged: list[str]) -> Iterator[PreviewServer]:
    preview = PreviewServer(load_project(project_dir), "2030-01", interval=0.03, log=logged.append)
    preview.start(0)
    yield preview
    preview.stop()


def test_serves_the_built_html_with_a_reload_script_and_the_markdown(server: PreviewServer, project_dir: Path) -> None:
    built = render_issue(load_project(project_dir), "2030-01")
    status, content_type, page = fetch(server.url)
    assert (status, content_type) == (200, "text/html; charset=utf-8")
    assert f"<title>{TITLE}</title>" in page
    script = re.search(r"<script>/\* digest serve.*?</script>\n", page, re.DOTALL)
    assert script and page[script.end() :].lstrip().startswith("</body>")
    assert page.replace(script.group(0), "") == built["html"]  # otherwise exactly what build writes
    assert "digest serve" not in built["html"]  # the script is in the preview only
    assert fetch(server.url + "2030-01.md") == (200, "text/plain; charset=utf-8", built["md"])
    status, content_type, body = fetch(server.url + "__digest/version")
    assert (status, content_type, json.loads(body)) == (200, "application/json", {"version": 1})
    assert fetch(server.url + "nope")[0] == 404


def test_editing_the_issue_rebuilds_and_bumps_the_version(server: PreviewServer, project_dir: Path, logged: list[str]) -> None:
    before = version(server)
    edit(project_dir / "issues" / "2030-01.yaml", "Attention, residuals & strings", "A brand-new teaser")
    assert wait_for_new_version(server, before) == before + 1
    page = fetch(server.url)[2]
    assert "A brand-new teaser" in page and TEASER not in page
    assert any(line.startswith("rebuilt 2030-01 in ") for line in logged)


def test_a_broken_issue_shows_its_error_line_escaped_until_fixed(server: PreviewServer, project_dir: Path) -> None:
    path = project_dir / "issues" / "2030-01.yaml"
    good = path.read_text(encoding="utf-8")
    path.write_text(good + "<b>oops</b>: 1\n", encoding="utf-8")  # an unknown key with markup in it
    v1 = wait_for_new_version(server, version(server))
    with pytest.raises(DigestError) as expected:
        render_issue(load_project(project_dir), "2030-01")
    line = str(expected.value)
    assert re.match(r"issues/2030-01\.yaml:\d+:\d+: error: unknown key '<b>oops</b>'", line)
    status, content_type, page = fetch(server.url)
    assert (status, content_type) == (500, "text/html; charset=utf-8")
    assert html.escape(line) in page and "<b>oops" not in page
    assert "/__digest/version" in page  # the error page keeps polling
    assert fetch(server.url + "2030-01.md")[:2] == (500, "text/plain; charset=utf-8")

    path.write_text(good.replace("teaser:", "teaser: [", 1), encoding="utf-8")  # a YAML syntax error
    v2 = wait_for_new_version(server, v1)
    assert re.search(r"issues/2030-01\.yaml:\d+:\d+: error: YAML syntax", fetch(server.url)[2])

    path.write_text(good, encoding="utf-8")
    wait_for_new_version(server, v2)
    status, _, page = fetch(server.url)
    assert status == 200 and TITLE in page and server.error is None


def test_template_and_store_changes_rebuild(server: PreviewServer, project_dir: Path) -> None:
    v0 = version(server)
    edit(project_dir / "templates" / "issue.html.j2", "</body>", "<p>template was edited</p>\n</body>")
    v1 = wait_for_new_version(server, v0)
    assert "<p>template was edited</p>" in fetch(server.url)[2]
    edit(project_dir / "issues" / "arxiv" / "1706.03762.yaml", 'You Need"', 'You Really Need"')
    wait_for_new_version(server, v1)
    assert "Attention Is All You Really Need" in fetch(server.url)[2]


def test_unexpected_render_failures_are_shown_and_logged(project_dir: Path, monkeypatch: pytest.MonkeyPatch, logged: list[str]) -> None:
    def broken(*args: object, **kwargs: object) -> dict[str, str]:
        raise ValueError("a <bug>")

    monkeypatch.setattr("digest.serve.render_issue", broken)
    preview = PreviewServer(load_project(project_dir), "2030-01", interval=0.03, log=logged.append)
    preview.start(0)
    try:
        status, _, page = fetch(preview.url)
    finally:
        preview.stop()
    assert status == 500
    assert "error: unexpected ValueError while rendering: a &lt;bug&gt;" in page and "Traceback" not in page
    assert any(line.startswith("Traceback") and "ValueError: a <bug>" in line for line in logged)


def test_binds_loopback_only_and_refuses_other_host_names(server: PreviewServer) -> None:
    assert server._httpd is not None and server._httpd.socket.getsockname()[0] == "127.0.0.1"
    assert server.url == f"http://127.0.0.1:{server.port}/"
    for host, expected in [(f"localhost:{server.port}", 200), ("attacker.example", 403)]:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        connection.request("GET", "/__digest/version", headers={"Host": host})
        assert connection.getresponse().status == expected
        connection.close()


def test_issue_defaults_to_the_newest_and_must_exist(project_dir: Path) -> None:
    project = load_project(project_dir)
    (project_dir / "issues" / "2030-02.yaml").write_text("teaser: x\n", encoding="utf-8")
    assert PreviewServer(project).month == "2030-02"
    result = CliRunner().invoke(cli, ["serve", "2030-03", "--port", "0"])
    assert result.exit_code == 1
    assert result.output == "issues/2030-03.yaml: error: no such issue; create it with `digest new 2030-03`\n"


def test_a_busy_port_is_a_one_line_error(server: PreviewServer) -> None:
    result = CliRunner().invoke(cli, ["serve", "2030-01", "--port", str(server.port)])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: cannot listen on 127.0.0.1:{server.port}: ")


def test_cli_serves_until_ctrl_c_and_exits_cleanly(project_dir: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "digest", "serve", "2030-01", "--port", "0", "--no-open"],
        cwd=project_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # A shell's background job inherits SIGINT ignored, and Python then never raises KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        assert ready, "no 'serving' line within 10 s"
        line = proc.stdout.readline()  # type: ignore[union-attr]
        match = re.fullmatch(r"serving 2030-01 at (http://127\.0\.0\.1:\d+/) \(Ctrl-C to stop\)\n", line)
        assert match, line
        status, _, page = fetch(match.group(1))
        assert status == 200 and TITLE in page
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and err.strip() == "stopped"
