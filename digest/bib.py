"""`digest bib`: an issue's bibliography as BibTeX (in the form arXiv gives) or CSL-JSON.

What is in it: every work the issue names, once, in the order the file names it (by line and
column; links inside one field by their offset): arXiv papers (paper items, group entries,
references, `arxiv:` links in prose, deduplicated by base id, metadata from the store), external
paper items, group entries with a title and url, and free-text references (deduplicated by url).
An arXiv paper's `title:` override is editorial display text: the bibliography cites arXiv's title.

Choices, so that output is stable and deterministic:
- Keys: first author's ASCII-folded lowercase family name + year + first title word (split at
  spaces, hyphens and slashes; "R&D" → rd) not in STOPWORDS (`vaswani2017attention`); missing
  parts are left out; a free-text reference uses its key in the issue. Keys that collide all get
  a, b, … appended, in document order (`smith2021learninga`, `smith2021learningb`).
- BibTeX titles of arXiv papers are LaTeX already, so they are kept as written: only characters
  that are errors outside math (`& % # _ ^`, a `$` that opens no math span) are escaped; a title
  with unbalanced braces is escaped as plain text. Every other field is plain text with
  `& % $ # _ { } ~ ^ \\` escaped; non-ASCII stays UTF-8 (biber and bibtexparser read it). URLs
  and DOIs are written raw (biblatex reads them verbatim), with `{ } \\` percent-encoded.
- The journal reference goes into `note`: it is one free-form string
  ("Adv.Theor.Math.Phys.2:231-252,1998"), and `@misc`, arXiv's entry type, prints `note`, not `journal`.
- CSL-JSON titles are plain Unicode (`latex_to_unicode`). Names split simply: the last word is
  the family name, with lowercase particles before it ("van", "de la") and a trailing "Jr."/"III"
  as suffix; "Family, Given" is honoured. Capitalised particles ("Teven Le Scao") are given names.
  arXiv papers are "article"s with `number` "arXiv:ID" and `publisher` "arXiv" (as Zotero exports
  them); everything else is a "webpage", a free-text reference's text being its title.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from digest.errors import InvalidArxivId, IssueError
from digest.ids import split_version
from digest.issues import LoadedIssue, issue_path, load_issue_file, parse_month
from digest.latex import latex_to_unicode
from digest.markup import scan
from digest.models import (
    ExternalPaper,
    Group,
    GroupEntry,
    Loc,
    TextReference,
    iter_arxiv_ids,
    iter_fields,
)
from digest.project import Project
from digest.store import Store, missing_paper_message

STOPWORDS = frozenset(
    "a an the on of in for to and or with without at by from via into onto over under about towards toward "
    "is are be do does can what how why when which who".split()
)
PARTICLES = frozenset("van von der den de del della di da dos du la le ter ten zu".split())
SUFFIXES = frozenset("jr jr. sr sr. ii iii iv".split())
_FOLD = str.maketrans(  # letters NFKD does not take apart
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i"}
)
_PLAIN: dict[str, str | int | None] = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
          "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_PLAIN_UNBALANCED: dict[str, str | int | None] = {**_PLAIN, "{": r"\textbraceleft{}", "}": r"\textbraceright{}"}  # `\{` alone would unbalance the .bib
_WORD_BREAKS = str.maketrans(dict.fromkeys("-‐–—/", " "))
_OUTSIDE_MATH = {"&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "^": r"\^{}", "$": r"\$"}


@dataclass(frozen=True)
class BibEntry:
    """One work of an issue's bibliography; `kind` is "arxiv", "web" (title and url) or "text"."""

    key: str
    kind: str
    title: str = ""  # arXiv: the title as arXiv gives it (LaTeX); otherwise plain text
    authors: tuple[str, ...] = ()
    url: str = ""
    arxiv_id: str = ""
    primary_class: str = ""
    published: dt.date | None = None
    doi: str = ""
    journal_ref: str = ""
    note: str = ""  # a free-text reference without an address


def issue_bibliography(project: Project, month: str) -> list[BibEntry]:
    """The works ISSUE names, each once, in document order; arXiv metadata from the store."""
    path = issue_path(project.issues_dir, parse_month(month))
    loaded = load_issue_file(path, display_path=_relative(path, Path.cwd()))
    store = Store(project.store_dir, display_root=Path.cwd())
    entries: list[BibEntry] = []
    seen: set[str] = set()
    for _, (line, col), work in sorted(_named_works(loaded), key=lambda found: found[0]):
        if isinstance(work, str):
            record = store.get(work)
            if record is None:
                raise IssueError(loaded.path, line, col, missing_paper_message(work))
            identity, entry = record.id, BibEntry(
                key="", kind="arxiv", title=" ".join(record.title.split()), authors=tuple(record.authors), url=record.abs_url,
                arxiv_id=record.id, primary_class=record.primary_category, published=record.published,
                doi=record.doi or "", journal_ref=" ".join((record.journal_ref or "").split()),
            )
        elif isinstance(work, ExternalPaper | GroupEntry):
            authors = tuple(work.authors) if isinstance(work, ExternalPaper) else ()
            identity, entry = work.url or "", BibEntry(key="", kind="web", title=work.title or "", authors=authors, url=work.url or "")
        else:
            key, ref = work
            text = _plain_markdown(ref.text)
            identity = ref.url or f"text:{text}"
            entry = BibEntry(key, "web", text, url=ref.url) if ref.url else BibEntry(key, "text", note=text)
        if identity not in seen:
            seen.add(identity)
            entries.append(entry)
    keys = _distinct([entry.key and _fold(entry.key) or _key(entry) for entry in entries])
    return [replace(entry, key=key) for entry, key in zip(entries, keys, strict=True)]


def _named_works(loaded: LoadedIssue) -> list[tuple[tuple[int, int, int], tuple[int, int], Any]]:
    """(sort position, line and column, work): a base arXiv id, an external work or (key, TextReference)."""
    issue = loaded.issue
    placed: list[tuple[Loc, Any]] = [(loc, split_version(arxiv_id)[0]) for loc, arxiv_id in iter_arxiv_ids(issue)]
    for index, item in enumerate(issue.papers):
        if isinstance(item, ExternalPaper):
            placed.append((("papers", index), item))
        elif isinstance(item, Group):
            placed += [(("papers", index, "entries", e_index), e) for e_index, e in enumerate(item.entries) if e.arxiv is None]
    placed += [(("references", key), (key, ref)) for key, ref in issue.references.items() if isinstance(ref, TextReference)]
    found = [((*loaded.locate(loc), 0), loaded.locate(loc), work) for loc, work in placed]
    for loc, text in iter_fields(issue):
        for span in scan(text):
            try:
                base = split_version(span.target)[0] if span.kind == "arxiv" else None
            except InvalidArxivId:
                continue  # `build` and `check` report it with its location
            if base:
                found.append(((*loaded.locate(loc), span.start), loaded.position(loc, span.start), base))
    return found


def _relative(path: Path, base: Path) -> Path:
    try:
        return path.resolve().relative_to(base.resolve())
    except ValueError:
        return path


def _plain_markdown(text: str) -> str:
    """The text of one Markdown paragraph, without its markup: `*Notes* by A. L.` → `Notes by A. L.`."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parseInline(text)[0].children or []
    words = {"text": lambda t: t.content, "code_inline": lambda t: t.content, "softbreak": lambda t: " ", "hardbreak": lambda t: " "}
    return " ".join("".join(words.get(t.type, lambda t: "")(t) for t in tokens).split())


def _fold(text: str) -> str:
    """ASCII letters and digits only, lowercase: `Łukasz Kaiser-Müller` → `lukaszkaisermuller`."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


def split_name(name: str) -> tuple[str, str, str]:
    """(family, given, suffix): `Ludwig van Beethoven` → ("van Beethoven", "Ludwig", "")."""
    words = name.replace(",", " ").split()
    suffix = words.pop() if len(words) > 2 and words[-1].lower() in SUFFIXES else ""
    if name.count(",") == 1 and not suffix:
        family, given = (part.strip() for part in name.split(","))
        return family, given, ""
    start = len(words) - 1
    while start > 1 and words[start - 1] in PARTICLES:
        start -= 1
    return " ".join(words[start:]), " ".join(words[:start]), suffix


def _key(entry: BibEntry) -> str:
    family = _fold(split_name(entry.authors[0])[0]) if entry.authors else ""
    year = str(entry.published.year) if entry.published else ""
    words = (_fold(word) for word in latex_to_unicode(entry.title).translate(_WORD_BREAKS).split())  # "R&D" → rd
    return family + year + next((word for word in words if word and word not in STOPWORDS), "") or "ref"


def _distinct(keys: list[str]) -> list[str]:
    """Colliding keys get a, b, … (then aa, ab, …) in order, never a key already taken."""
    counts, taken, used, out = Counter(keys), set(keys), Counter[str](), []
    for key in keys:
        candidate = key
        while counts[key] > 1 and (candidate == key or candidate in taken):
            candidate, used[key] = key + _letters(used[key]), used[key] + 1
        taken.add(candidate)
        out.append(candidate)
    return out


def _letters(n: int) -> str:
    text, n = "", n + 1
    while n:
        n, rest = divmod(n - 1, 26)
        text = chr(ord("a") + rest) + text
    return text


def _balanced(text: str, latex: bool) -> bool:
    depth, i = 0, 0
    while i < len(text) and depth >= 0:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 2 if latex and text[i] == "\\" else 1
    return depth == 0


def escape_bibtex(text: str) -> str:
    """Plain text → a BibTeX field value that reads as the same text."""
    return text.translate(str.maketrans(_PLAIN if _balanced(text, latex=False) else _PLAIN_UNBALANCED))


def escape_latex_title(title: str) -> str:
    """An arXiv title (LaTeX) → a field value: kept as written but for what LaTeX rejects outside math."""
    if not (_balanced(title, latex=False) and _balanced(title, latex=True)):
        return escape_bibtex(title)
    dollars, i = [], 0  # unescaped `$`, paired into math spans by digest.latex's (Pandoc's) rule
    while i < len(title):
        dollars += [i] if title[i] == "$" else []
        i += 2 if title[i] == "\\" else 1
    out, i, k = [], 0, 0
    while i < len(title):
        c = title[i]
        j = dollars[k + 1] if c == "$" and k + 1 < len(dollars) else -1
        if c == "\\":
            out.append(title[i : i + 2] if i + 1 < len(title) else r"\textbackslash{}")
            i += 2
        elif j > i + 1 and title[i + 1] not in " $" and title[j - 1] != " " and not title[j + 1 : j + 2].isdigit():
            out.append(title[i : j + 1])
            i, k = j + 1, k + 2
        else:
            out.append(_OUTSIDE_MATH.get(c, c))
            i, k = i + 1, k + (c == "$")
    return "".join(out)


def _raw(value: str) -> str:
    return value.replace("\\", "%5C").replace("{", "%7B").replace("}", "%7D")


def _author_field(authors: tuple[str, ...]) -> str:
    names = [escape_bibtex(name) for name in authors]
    return " and ".join(f"{{{name}}}" if " and " in f" {name.lower()} " else name for name in names)


def to_bibtex(entries: list[BibEntry]) -> str:
    """`@misc` entries in the layout of arXiv's "Export BibTeX citation", one blank line apart."""
    blocks = []
    for e in entries:
        arxiv = e.kind == "arxiv"
        fields = [
            ("title", escape_latex_title(e.title) if arxiv else escape_bibtex(e.title)),
            ("author", _author_field(e.authors)),
            ("year", str(e.published.year) if e.published else ""),
            ("eprint", e.arxiv_id), ("archivePrefix", "arXiv" if arxiv else ""), ("primaryClass", e.primary_class),
            ("url", _raw(e.url)), ("doi", _raw(e.doi)),
            ("note", escape_bibtex(e.journal_ref or e.note)),
        ]
        body = "".join(f"      {name}={{{value}}},\n" for name, value in fields if value)
        blocks.append(f"@misc{{{e.key},\n{body}}}\n")
    return "\n".join(blocks)


def _csl_name(name: str) -> dict[str, str]:
    family, given, suffix = split_name(name)
    return {k: v for k, v in (("family", family), ("given", given), ("suffix", suffix)) if v}


def to_csl_json(entries: list[BibEntry]) -> str:
    """A CSL-JSON array (what pandoc, Zotero and citeproc read); arXiv papers are "article"s."""
    items = []
    for e in entries:
        arxiv = e.kind == "arxiv"
        title = latex_to_unicode(e.title) if arxiv else e.title or e.note
        item: dict[str, Any] = {"id": e.key, "type": "article" if arxiv else "webpage", "title": title}
        if e.authors:
            item["author"] = [_csl_name(name) for name in e.authors]
        if e.published:
            item["issued"] = {"date-parts": [[e.published.year, e.published.month, e.published.day]]}
        number, publisher = (f"arXiv:{e.arxiv_id}", "arXiv") if arxiv else ("", "")
        optional = {"URL": e.url, "DOI": e.doi, "number": number, "publisher": publisher, "note": e.journal_ref}
        item.update({name: value for name, value in optional.items() if value})
        items.append(item)
    return json.dumps(items, ensure_ascii=False, indent=2) + "\n"
