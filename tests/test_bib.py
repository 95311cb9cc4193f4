"""`digest bib`: the issue's works as BibTeX (read back with bibtexparser) and CSL-JSON."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import bibtexparser
import pytest
from click.testing import CliRunner

from digest.bib import issue_bibliography, split_name, to_bibtex, to_csl_json
from digest.cli import cli
from digest.project import load_project
from digest.records import PaperRecord
from digest.store import Store

FIXTURE_KEYS = [
    "vaswani2017attention",  # named first by an arxiv: link in news
    "maldacena1997large",
    "lovelacework",  # the external paper item
    "he2015deep",  # group entries
    "devlin2018bert",
    "external",  # a group entry with title and url
    "book",  # a free-text reference with a url
]


def _record(arxiv_id: str, title: str, authors: list[str], published: str = "2021-03-04", **extra: object) -> PaperRecord:
    return PaperRecord(
        id=arxiv_id, version=1, title=title, authors=authors, published=dt.date.fromisoformat(published),
        updated=dt.date.fromisoformat(published), primary_category="cs.LG", categories=["cs.LG"], **extra,
    )


def _parse(text: str) -> dict[str, dict[str, str]]:
    database = bibtexparser.loads(text)
    assert [entry["ENTRYTYPE"] for entry in database.entries] == ["misc"] * len(database.entries)
    return {entry["ID"]: entry for entry in database.entries}


def _issue(project_dir: Path, month: str, text: str, *records: PaperRecord) -> None:
    Store(project_dir / "issues/arxiv").put_many(records)
    (project_dir / f"issues/{month}.yaml").write_text(text, encoding="utf-8")


def test_fixture_issue_in_document_order_each_once(project_dir: Path) -> None:
    entries = issue_bibliography(load_project(project_dir), "2030-01")
    assert [entry.key for entry in entries] == FIXTURE_KEYS
    parsed = bibtexparser.loads(to_bibtex(entries))
    assert [entry["ID"] for entry in parsed.entries] == FIXTURE_KEYS


def test_bibtex_fields_in_arxivs_form(project_dir: Path) -> None:
    text = to_bibtex(issue_bibliography(load_project(project_dir), "issues/2030-01.yaml"))
    assert text.startswith(
        "@misc{vaswani2017attention,\n"
        "      title={Attention Is All You Need},\n"
        "      author={Ashish Vaswani and Noam Shazeer and Niki Parmar and Jakob Uszkoreit and Llion Jones"
        " and Aidan N. Gomez and Lukasz Kaiser and Illia Polosukhin},\n"
        "      year={2017},\n      eprint={1706.03762},\n      archivePrefix={arXiv},\n"
        "      primaryClass={cs.CL},\n      url={https://arxiv.org/abs/1706.03762},\n}\n\n@misc{maldacena1997large,\n"
    )
    entries = _parse(text)  # bibtexparser lowercases field names
    maldacena = entries["maldacena1997large"]
    assert maldacena["doi"] == "10.1023/A:1026654312961"
    assert maldacena["note"] == "Adv.Theor.Math.Phys.2:231-252,1998"
    assert (maldacena["eprint"], maldacena["primaryclass"], maldacena["year"]) == ("hep-th/9711200", "hep-th", "1997")
    assert "doi" not in entries["vaswani2017attention"] and "note" not in entries["vaswani2017attention"]
    assert entries["lovelacework"] == {
        "ENTRYTYPE": "misc", "ID": "lovelacework", "title": "A Work Not on arXiv",
        "author": "Ada Lovelace and Charles Babbage", "url": "https://example.org/book",
    }
    assert entries["external"]["url"] == "https://example.org/bench" and "author" not in entries["external"]
    assert entries["book"]["title"] == "Notes on the Analytical Engine by Ada Lovelace, 1843."  # Markdown stripped
    assert entries["devlin2018bert"]["title"].startswith("BERT: Pre-training")  # the issue's title override is display text


def test_escaping(project_dir: Path) -> None:
    _issue(
        project_dir, "2030-02",
        "papers:\n  - arxiv: '2103.00001'\n  - title: 'Q&A: 100% of a_b, {x}, ~1 ^ \\ and US$5'\n    url: https://example.org/q?a=1&b=%7B\n"
        "references:\n  plain: {text: 'A book, 50% & more'}\n",
        _record("2103.00001", r"R&D at 50% of the_cost: $O(n_1)$ \emph{Fast} {BERT} \& US$5 \'{e}", ["Zoë Ölund-Þór", "Ana and Bo"]),
    )
    entries = _parse(to_bibtex(issue_bibliography(load_project(project_dir), "2030-02")))
    arxiv = entries["olundthor2021rd"]
    assert arxiv["title"] == r"R\&D at 50\% of the\_cost: $O(n_1)$ \emph{Fast} {BERT} \& US\$5 \'{e}"  # math and macros as written
    assert arxiv["author"] == "Zoë Ölund-Þór and {Ana and Bo}"  # UTF-8 kept; a name with " and " protected
    web = entries["qa"]
    assert web["title"] == r"Q\&A: 100\% of a\_b, \{x\}, \textasciitilde{}1 \textasciicircum{} \textbackslash{} and US\$5"
    assert web["url"] == "https://example.org/q?a=1&b=%7B"
    assert entries["plain"] == {"ENTRYTYPE": "misc", "ID": "plain", "note": r"A book, 50\% \& more"}


def test_unbalanced_braces_are_escaped_as_plain_text(project_dir: Path) -> None:
    _issue(project_dir, "2030-02", "papers:\n  - arxiv: '2103.00001'\n", _record("2103.00001", "Open {brace and $x$", ["A. Smith"]))
    text = to_bibtex(issue_bibliography(load_project(project_dir), "2030-02"))
    assert r"title={Open \textbraceleft{}brace and \$x\$}," in text
    assert _parse(text)["smith2021open"]["year"] == "2021"  # the rest of the file still parses


def test_colliding_keys_get_letters_in_document_order(project_dir: Path) -> None:
    records = [
        _record("2103.00003", "Learning to Rank", ["Jane Smith"]),
        _record("2103.00001", "Learning Fast", ["J. Smith", "B. Jones"]),
        _record("2103.00002", "The Learning Machine", ["Ludwig van Smith"]),
        _record("2103.00004", "On Learning", ["Jo Smith"], published="2022-01-01"),
    ]
    _issue(
        project_dir, "2030-02",
        "intro: 'See [this](arxiv:2103.00003v2) first.'\npapers:\n  - arxiv: '2103.00001'\n  - arxiv: 2103.00003\n"
        "  - arxiv: '2103.00002'\n  - arxiv: '2103.00004'\nreferences:\n  again: '2103.00001'\n",
        *records,
    )
    entries = issue_bibliography(load_project(project_dir), "2030-02")
    assert [(e.arxiv_id, e.key) for e in entries] == [
        ("2103.00003", "smith2021learninga"),
        ("2103.00001", "smith2021learningb"),
        ("2103.00002", "vansmith2021learning"),
        ("2103.00004", "smith2022learning"),
    ]
    assert list(_parse(to_bibtex(entries))) == [e.key for e in entries]


def test_csl_json(project_dir: Path) -> None:
    items = json.loads(to_csl_json(issue_bibliography(load_project(project_dir), "2030-01")))
    assert [item["id"] for item in items] == FIXTURE_KEYS
    by_id = {item["id"]: item for item in items}
    assert by_id["vaswani2017attention"] == by_id["vaswani2017attention"] | {
        "type": "article", "title": "Attention Is All You Need", "issued": {"date-parts": [[2017, 6, 12]]},
        "URL": "https://arxiv.org/abs/1706.03762", "number": "arXiv:1706.03762", "publisher": "arXiv",
    }
    assert by_id["vaswani2017attention"]["author"][5] == {"family": "Gomez", "given": "Aidan N."}
    assert by_id["maldacena1997large"]["DOI"] == "10.1023/A:1026654312961"
    assert by_id["lovelacework"] == {
        "id": "lovelacework", "type": "webpage", "title": "A Work Not on arXiv", "URL": "https://example.org/book",
        "author": [{"family": "Lovelace", "given": "Ada"}, {"family": "Babbage", "given": "Charles"}],
    }
    assert {by_id[key]["type"] for key in ("external", "book")} == {"webpage"}


def test_csl_titles_are_unicode(project_dir: Path) -> None:
    _issue(project_dir, "2030-02", "papers:\n  - arxiv: '2103.00001'\n", _record("2103.00001", r"K\"{a}hler $\alpha$-nets", ["A. B. Cé"]))
    (item,) = json.loads(to_csl_json(issue_bibliography(load_project(project_dir), "2030-02")))
    assert (item["id"], item["title"], item["author"]) == ("ce2021kahler", "Kähler α-nets", [{"family": "Cé", "given": "A. B."}])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ashish Vaswani", ("Vaswani", "Ashish", "")),
        ("Aidan N. Gomez", ("Gomez", "Aidan N.", "")),
        ("Ludwig van Beethoven", ("van Beethoven", "Ludwig", "")),
        ("Maria de la Cruz", ("de la Cruz", "Maria", "")),
        ("Teven Le Scao", ("Scao", "Teven Le", "")),  # capitalised particles are not recognised: documented
        ("Martin Luther King Jr.", ("King", "Martin Luther", "Jr.")),
        ("Vaswani, Ashish", ("Vaswani", "Ashish", "")),
        ("Plato", ("Plato", "", "")),
    ],
)
def test_split_name(name: str, expected: tuple[str, str, str]) -> None:
    assert split_name(name) == expected


def test_output_is_deterministic(project_dir: Path) -> None:
    project = load_project(project_dir)
    assert to_bibtex(issue_bibliography(project, "2030-01")) == to_bibtex(issue_bibliography(project, "2030-01"))
    assert to_bibtex([]) == "" and to_csl_json([]) == "[]\n"


def test_cli_prints_to_stdout(project_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["bib", "2030-01"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout == to_bibtex(issue_bibliography(load_project(project_dir), "2030-01"))
    assert result.stderr == ""
    csl = CliRunner().invoke(cli, ["bib", "2030-01", "--format", "csl-json"], catch_exceptions=False)
    assert [item["id"] for item in json.loads(csl.stdout)] == FIXTURE_KEYS


def test_cli_writes_a_file(project_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["bib", "2030-01", "-o", "out/2030-01.bib"], catch_exceptions=False)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "wrote out/2030-01.bib (7 entries)\n")
    written = (project_dir / "out/2030-01.bib").read_text(encoding="utf-8")
    assert list(_parse(written)) == FIXTURE_KEYS
    assert [p.name for p in (project_dir / "out").iterdir()] == ["2030-01.bib"]  # no temp file left behind


def test_cli_bad_month_is_a_usage_error(project_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["bib", "2030-13"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: '2030-13' is not an issue name: month 13 does not exist")
    assert result.stderr.count("\n") == 1 and result.stdout == ""


def test_cli_missing_store_record_is_one_located_line(project_dir: Path) -> None:
    (project_dir / "issues/2030-02.yaml").write_text("news:\n  - 'A [link](arxiv:2201.00002).'\npapers:\n  - arxiv: '2201.00001'\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["bib", "2030-02", "-o", "x.bib"])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "issues/2030-02.yaml:2:8: error: paper 2201.00002 is not in the metadata store; add it with `digest add 2201.00002`\n"
    assert not (project_dir / "x.bib").exists()
