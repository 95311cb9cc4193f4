"""`digest add`, `new` and `refresh` end to end: CLI → fetcher → real HTTP on loopback → files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import invoke
from fake_arxiv import FakeArxiv, atom_response

ISSUE = Path("issues/2030-01.yaml")


@pytest.fixture
def api(arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> FakeArxiv:
    monkeypatch.setenv("DIGEST_ARXIV_API", arxiv.url)
    monkeypatch.setenv("DIGEST_ARXIV_MIN_INTERVAL", "0")
    return arxiv


def assert_spliced(old: str, new: str) -> None:
    """`new` is `old` with one block of text inserted: every old byte kept, in order."""
    prefix = 0
    while prefix < len(old) and new[prefix] == old[prefix]:
        prefix += 1
    assert new.endswith(old[prefix:]) and len(new) > len(old), "the editor's text was changed"


def papers(path: Path = ISSUE) -> list[dict[str, object]]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["papers"]


def test_add_appends_stubs_and_stores_records(project_dir: Path, api: FakeArxiv) -> None:
    before = ISSUE.read_text(encoding="utf-8")
    code, out, err = invoke("add", "physics/0004057", "https://arxiv.org/abs/2204.03458v1")
    assert code == 0, err
    assert out.splitlines() == [
        "added physics/0004057v1 “The information bottleneck method” to issues/2030-01.yaml",
        "added 2204.03458v1 “Video Diffusion Models” to issues/2030-01.yaml",
        "fetched 2 record(s) in 1 request(s)",
    ]
    assert len(api.requests) == 1 and api.ids_asked() == ["physics/0004057", "2204.03458v1"]
    after = ISSUE.read_text(encoding="utf-8")
    assert_spliced(before, after)
    assert papers()[-2:] == [
        {"arxiv": "physics/0004057", "why": "", "insights": ""},
        {"arxiv": "2204.03458v1", "why": "", "insights": ""},
    ]
    assert '  - arxiv: "physics/0004057"  # The information bottleneck method — ' in after
    record = yaml.safe_load((project_dir / "issues/arxiv/physics/0004057.yaml").read_text(encoding="utf-8"))
    assert record["title"] == "The information bottleneck method" and record["version"] == 1


def test_add_twice_changes_nothing(project_dir: Path, api: FakeArxiv) -> None:
    assert invoke("add", "2204.03458")[0] == 0
    snapshot = ISSUE.read_bytes()
    code, out, err = invoke("add", "2204.03458")
    assert code == 0
    assert out == ""
    assert err == "skipped: 2204.03458 is already in issues/2030-01.yaml\n"
    assert ISSUE.read_bytes() == snapshot
    assert len(api.requests) == 1  # the second run needed no request: the store had it


def test_cited_paper_is_stored_without_a_stub(project_dir: Path, api: FakeArxiv) -> None:
    with ISSUE.open("a", encoding="utf-8") as handle:
        handle.write("  ib: physics/0004057\n")  # the editor cites a new work by hand
    snapshot = ISSUE.read_bytes()
    code, out, err = invoke("add", "physics/0004057")
    assert code == 0
    assert err == "skipped: physics/0004057 is cited in issues/2030-01.yaml; its metadata is stored, no stub added\n"
    assert out == "fetched 1 record(s) in 1 request(s)\n"
    assert ISSUE.read_bytes() == snapshot
    assert (project_dir / "issues/arxiv/physics/0004057.yaml").is_file()


def test_partial_failure_adds_the_rest_and_exits_1(project_dir: Path, api: FakeArxiv) -> None:
    code, out, err = invoke("add", "2204.03458", "2201.99999", "not-an-id")
    assert code == 1
    assert "added 2204.03458v2" in out
    assert "error: 2201.99999: not found on arXiv" in err
    assert "error: not-an-id: expected a form like 2202.06991 or hep-th/9901001" in err
    assert api.ids_asked() == ["2204.03458", "2201.99999"]  # the malformed id never left the machine


def test_refused_query_changes_nothing(project_dir: Path, api: FakeArxiv) -> None:
    api.script.append(atom_response("error_400.xml", status=400))
    snapshot = ISSUE.read_bytes()
    code, out, err = invoke("add", "2204.03458")
    assert code == 1 and out == ""
    assert err.startswith("error: arXiv refused the query: incorrect id format")
    assert ISSUE.read_bytes() == snapshot
    assert not (project_dir / "issues/arxiv/2204.03458.yaml").exists()


def test_new_then_add_to_it_with_earlier_feature_warning(project_dir: Path, api: FakeArxiv) -> None:
    code, out, _ = invoke("new", "2030-02")
    assert (code, out) == (0, "created issues/2030-02.yaml\n")
    assert invoke("new", "2030-02")[0] == 1  # never overwrites
    code, out, err = invoke("add", "1706.03762")  # the newest issue is the default target
    assert code == 0, err
    assert "warning: 1706.03762 was featured in 2030-01 already" in err
    assert "to issues/2030-02.yaml" in out
    assert papers(Path("issues/2030-02.yaml")) == [{"arxiv": "1706.03762", "why": "", "insights": ""}]


def test_new_refuses_a_malformed_month(project_dir: Path) -> None:
    code, _, err = invoke("new", "2030-13")
    assert code == 2
    assert "month 13 does not exist" in err


@pytest.mark.parametrize(
    "text",
    [
        "title: CRLF file\r\npapers:\r\n  - arxiv: '2204.03458'\r\n    why: ''\r\n    insights: ''\r\n",
        "# no final newline\npapers:\n    -   arxiv: '2204.03458'  # odd indentation\n        why: \"é ✨\"",
        "papers: [{arxiv: '2204.03458'}]\nreferences: {}\n",
    ],
    ids=["crlf", "no-final-newline-odd-indent", "flow-style"],
)
def test_editor_bytes_survive(project_dir: Path, api: FakeArxiv, text: str) -> None:
    path = project_dir / "issues/2030-03.yaml"
    path.write_bytes(text.encode("utf-8"))
    code, _, err = invoke("add", "--issue", "2030-03", "physics/0004057")
    assert code == 0, err
    new = path.read_bytes().decode("utf-8")
    assert_spliced(text, new)
    assert papers(path)[-1]["arxiv"] == "physics/0004057"
    if "\r\n" in text:
        assert "\n" not in new.replace("\r\n", "")


def test_refresh_reports_a_new_version(project_dir: Path, api: FakeArxiv) -> None:
    api.add_synthetic(["1512.03385", "1810.04805"])
    code, out, err = invoke("refresh", "2030-01")
    assert code == 0, err
    assert "1706.03762: v5 → v7" in out
    assert out.splitlines()[-1] == "checked 4 paper(s) in 1 request(s); updated 4"
    record = yaml.safe_load((project_dir / "issues/arxiv/1706.03762.yaml").read_text(encoding="utf-8"))
    assert record["version"] == 7


def test_refresh_needs_issues_or_all(project_dir: Path) -> None:
    assert invoke("refresh")[0] == 2


def test_two_adds_at_once_lose_nothing(project_dir: Path, api: FakeArxiv) -> None:
    """Two `digest add` processes on one issue: the store lock serialises them, both stubs land."""
    import os
    import subprocess
    import sys
    import time

    def slow(request: object) -> object:
        time.sleep(1.0)  # both processes are in flight together: without the lock one stub is lost
        return api.answer(request)  # type: ignore[arg-type]

    api.script.extend([slow, slow])
    env = {**os.environ, "DIGEST_ARXIV_API": api.url, "DIGEST_ARXIV_MIN_INTERVAL": "0"}
    runs = [
        subprocess.Popen([sys.executable, "-m", "digest", "add", arxiv_id], cwd=project_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for arxiv_id in ("physics/0004057", "2204.03458")
    ]
    for run in runs:
        _, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
    assert [p["arxiv"] for p in papers()[-2:]] in (["physics/0004057", "2204.03458"], ["2204.03458", "physics/0004057"])
    assert (project_dir / "issues/arxiv/physics/0004057.yaml").is_file()
    assert (project_dir / "issues/arxiv/2204.03458.yaml").is_file()


def test_add_waits_for_the_store_lock(project_dir: Path, api: FakeArxiv) -> None:
    """While another writer holds issues/arxiv/.lock, `digest add` writes nothing; then it finishes."""
    import os
    import subprocess
    import sys
    import time

    from filelock import FileLock

    env = {**os.environ, "DIGEST_ARXIV_API": api.url, "DIGEST_ARXIV_MIN_INTERVAL": "0"}
    before = ISSUE.read_bytes()
    lock = FileLock(str(project_dir / "issues/arxiv/.lock"))
    with lock:
        run = subprocess.Popen([sys.executable, "-m", "digest", "add", "2204.03458"], cwd=project_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        assert run.poll() is None and ISSUE.read_bytes() == before and not api.requests
    _, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert papers()[-1]["arxiv"] == "2204.03458"
