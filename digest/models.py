"""The issue format: pydantic models of one `issues/YYYY-MM.yaml` file (a public interface)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from digest.errors import InvalidArxivId
from digest.ids import normalize_id, split_version
from digest.urls import url_problem


def _arxiv_id(value: str) -> str:
    try:
        return normalize_id(value)
    except InvalidArxivId as exc:
        raise ValueError(f"{value!r} is not an arXiv id ({exc.reason})") from None


def _http_url(value: str) -> str:
    # Syntax only; whether the address answers is `digest check --online`'s job.
    problem = url_problem(value)
    if problem:
        raise ValueError(f"{value!r} is not an http(s) address: {problem}")
    return value


ArxivId = Annotated[str, AfterValidator(_arxiv_id)]
Url = Annotated[str, AfterValidator(_http_url)]
Markdown = str  # editor prose: CommonMark with [^key] citations and [text](arxiv:ID) links


class Strict(BaseModel):
    """Unknown keys are errors, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Figure(Strict):
    image: Url
    caption: Markdown = ""
    source: Markdown = Field("", description="Shown after 'Source:'; Markdown.")
    alt: str = ""


class PaperBase(Strict):
    links: dict[str, Url] = Field(default_factory=dict, description="Label → URL, shown after the title.")
    by: str | None = Field(None, description="Overrides the author line built from metadata.")
    why: Markdown = ""
    insights: Markdown = ""
    figures: list[Figure] = Field(default_factory=list)


class ArxivPaper(PaperBase):
    arxiv: ArxivId
    title: str | None = Field(None, description="Overrides the arXiv title (e.g. the title at the time).")


class ExternalPaper(PaperBase):
    """A work that is not on arXiv: it brings its own title, authors and address."""

    title: str
    url: Url
    authors: list[str] = Field(default_factory=list)


class GroupEntry(Strict):
    arxiv: ArxivId | None = None
    title: str | None = None
    url: Url | None = None
    note: Markdown = ""

    @model_validator(mode="after")
    def _arxiv_or_title(self) -> GroupEntry:
        if self.arxiv is None and (self.title is None or self.url is None):
            raise ValueError("a group entry needs 'arxiv', or both 'title' and 'url'")
        return self


class Group(Strict):
    """A grouped item such as 'Datasets & Benchmarks': one-liners under one number."""

    group: str
    intro: Markdown = ""
    entries: list[GroupEntry] = Field(min_length=1)


def _item_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        if "group" in value:
            return "group"
        if "arxiv" in value:
            return "arxiv"
        return "external"
    return None


Item = Annotated[
    Annotated[ArxivPaper, Tag("arxiv")] | Annotated[ExternalPaper, Tag("external")] | Annotated[Group, Tag("group")],
    Discriminator(
        _item_kind,
        custom_error_type="item_kind",
        custom_error_message="a paper item must be a mapping with 'arxiv', 'title' and 'url', or 'group'",
    ),
]


class TextReference(Strict):
    """A citation of a work not on arXiv, written out by the editor."""

    text: str
    url: Url | None = None


Reference = Annotated[
    Annotated[ArxivId, Tag("arxiv")] | Annotated[TextReference, Tag("text")],
    Discriminator(
        lambda value: "text" if isinstance(value, dict | TextReference) else "arxiv",
        custom_error_type="reference_kind",
        custom_error_message="a reference is an arXiv id or a mapping with 'text' (and 'url')",
    ),
]


class Issue(Strict):
    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        # `papers:` with nothing under it is how a new issue starts: read it as an empty list.
        if isinstance(data, dict):
            for name in ("news", "code", "papers", "references"):
                if name in data and data[name] is None:
                    data = {**data, name: {} if name == "references" else []}
        return data

    title: str | None = Field(None, description="Defaults to [tool.digest] title_pattern for the file's month.")
    teaser: str = ""
    date: dt.date | None = None
    editor: str | None = None
    intro: Markdown = ""
    news: list[Markdown] = Field(default_factory=list)
    code: list[Markdown] = Field(default_factory=list)
    research_intro: Markdown = ""
    papers: list[Item] = Field(default_factory=list)
    outro: Markdown = ""
    references: dict[str, Reference] = Field(
        default_factory=dict, description="Key → arXiv id or {text, url}; numbered in this order."
    )


def all_field_names() -> set[str]:
    """Every key the format knows, for 'did you mean' hints."""
    names: set[str] = set()
    for model in (Issue, ArxivPaper, ExternalPaper, Group, GroupEntry, Figure, TextReference):
        names.update(model.model_fields)
    return names


Loc = tuple[str | int, ...]


def iter_fields(issue: Issue) -> Iterator[tuple[Loc, str]]:
    """Every Markdown field of an issue with its location, in document order."""
    yield ("intro",), issue.intro
    for list_name in ("news", "code"):
        for index, text in enumerate(getattr(issue, list_name)):
            yield (list_name, index), text
    yield ("research_intro",), issue.research_intro
    for index, item in enumerate(issue.papers):
        if isinstance(item, Group):
            yield ("papers", index, "intro"), item.intro
            for e_index, entry in enumerate(item.entries):
                yield ("papers", index, "entries", e_index, "note"), entry.note
            continue
        yield ("papers", index, "why"), item.why
        yield ("papers", index, "insights"), item.insights
        for f_index, figure in enumerate(item.figures):
            yield ("papers", index, "figures", f_index, "caption"), figure.caption
            yield ("papers", index, "figures", f_index, "source"), figure.source
    yield ("outro",), issue.outro
    for key, ref in issue.references.items():
        if isinstance(ref, TextReference):
            yield ("references", key, "text"), ref.text


def iter_arxiv_ids(issue: Issue) -> list[tuple[Loc, str]]:
    """Every arXiv id named by a paper item, group entry or reference, with its location."""
    found: list[tuple[Loc, str]] = []
    for index, item in enumerate(issue.papers):
        if isinstance(item, ArxivPaper):
            found.append((("papers", index, "arxiv"), item.arxiv))
        elif isinstance(item, Group):
            for e_index, entry in enumerate(item.entries):
                if entry.arxiv:
                    found.append((("papers", index, "entries", e_index, "arxiv"), entry.arxiv))
    for key, ref in issue.references.items():
        if isinstance(ref, str):
            found.append((("references", key), ref))
    return found


def named_arxiv_ids(issue: Issue) -> set[str]:
    """Base ids named anywhere in an issue: papers, references and arxiv: links in the prose."""
    from digest.markup import (
        scan,  # markup needs no models; keep the import one-way at load
    )

    ids = {split_version(arxiv_id)[0] for _, arxiv_id in iter_arxiv_ids(issue)}
    for _, text in iter_fields(issue):
        for span in scan(text):
            if span.kind == "arxiv":
                try:
                    ids.add(split_version(span.target)[0])
                except InvalidArxivId:
                    continue  # `build` and `check` report it with its location
    return ids
