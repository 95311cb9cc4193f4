"""Properties (hypothesis): id normalisation, stub insertion, citation numbering."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from digest.ids import OLD_ARCHIVES, normalize_id, split_version
from digest.markup import HtmlRenderer, LinkContext, superscript, to_markdown
from digest.yamledit import Stub, YamlEditError, append_stubs

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- arXiv ids ----------------------------------------------------------------------------


def _months(first: str, last: str, years: range) -> list[str]:
    """Every YYMM from first to last (inclusive), in the two-digit-year form arXiv uses."""
    return [yymm for year in years for month in range(1, 13)
            if first <= (yymm := f"{year % 100:02d}{month:02d}") <= last]


versions = st.one_of(st.none(), st.integers(1, 60))

# 4-digit numbers: 0704 to 1412; 5-digit numbers: from 1501.
new_style_4 = st.tuples(st.sampled_from(_months("0704", "1412", range(2007, 2015))), st.integers(1, 9999)).map(
    lambda t: f"{t[0]}.{t[1]:04d}")
new_style_5 = st.tuples(st.sampled_from(_months("1501", "2912", range(2015, 2030))), st.integers(1, 99999)).map(
    lambda t: f"{t[0]}.{t[1]:05d}")
# Old style: archive[.SC]/YYMMNNN, from 9108 (1991) to 0703 (the century wraps in between).
OLD_MONTHS = [m for m in _months("0001", "9912", range(1991, 2008)) if not "0704" <= m <= "9107"]
subject = st.one_of(st.none(), st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2))
old_style = st.tuples(st.sampled_from(sorted(OLD_ARCHIVES)), subject, st.sampled_from(OLD_MONTHS), st.integers(1, 999)).map(
    lambda t: f"{t[0]}{'.' + t[1] if t[1] else ''}/{t[2]}{t[3]:03d}")


@st.composite
def canonical_ids(draw: st.DrawFn) -> str:
    base = draw(st.one_of(new_style_4, new_style_5, old_style))
    version = draw(versions)
    return base + (f"v{version}" if version else "")


def _recase(draw: st.DrawFn, text: str) -> str:
    """Old-style archives and subject classes may be pasted in any case."""
    return "".join(c.upper() if c.isalpha() and draw(st.booleans()) else c for c in text)


@st.composite
def pasted(draw: st.DrawFn) -> tuple[str, str]:
    """(what an editor pastes, the canonical id it means)."""
    canonical = draw(canonical_ids())
    base, version = re.fullmatch(r"(.+?)(v\d+)?", canonical).groups()  # type: ignore[union-attr]
    body = (_recase(draw, base) if "/" in base else base) + (version or "")
    host = draw(st.sampled_from(["arxiv.org", "www.arxiv.org", "export.arxiv.org"]))
    scheme = draw(st.sampled_from(["https://", "http://", ""]))
    form = draw(st.sampled_from([
        "{id}", "arXiv:{id}", "arxiv:{id}", "ARXIV: {id}",
        "{scheme}{host}/abs/{id}", "{scheme}{host}/abs/{id}/", "{scheme}{host}/pdf/{id}",
        "{scheme}{host}/pdf/{id}.pdf", "{scheme}{host}/html/{id}",
    ]))
    pad = draw(st.sampled_from(["", " ", "\t", "  \n"]))
    return pad + form.format(id=body, scheme=scheme, host=host) + pad, canonical


@FAST
@given(pasted())
def test_every_listed_form_normalises_to_the_canonical_id(case: tuple[str, str]) -> None:
    text, canonical = case
    assert normalize_id(text) == canonical


@FAST
@given(pasted())
def test_normalisation_is_idempotent(case: tuple[str, str]) -> None:
    once = normalize_id(case[0])
    assert normalize_id(once) == once
    base, version = split_version(once)
    assert normalize_id(base) == base and once == base + (f"v{version}" if version else "")


# --- stub insertion -----------------------------------------------------------------------

# Text YAML reads back as written: no control characters, surrogates, line separators (PyYAML
# breaks lines at \x85, U+2028, U+2029), or U+FEFF/U+FFFE/U+FFFF.
safe_char = st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Zs"],
                          exclude_characters="\x85\u2028\u2029\ufeff\ufffe\uffff")
words = st.text(safe_char, min_size=0, max_size=12)
comments = st.text(safe_char, min_size=0, max_size=15).map(lambda t: ("# " + t).rstrip())


def q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


@st.composite
def issue_texts(draw: st.DrawFn) -> str:
    """Small issue files: comments, indentation 0/2/4, block scalars, CRLF or LF, final newline or not."""
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append(draw(comments))
    lines.append(f"title: {q(draw(words))}" + (f"  {draw(comments)}" if draw(st.booleans()) else ""))
    dash = draw(st.sampled_from([0, 2, 4]))
    key = dash + draw(st.sampled_from([2, 4]))
    n_items = draw(st.integers(0, 3))
    style = draw(st.sampled_from(["block", "empty", "flow"])) if n_items == 0 else "block"
    if style == "empty":
        lines.append("papers:")
    elif style == "flow":
        lines.append("papers: []")
    else:
        lines.append("papers:")
        for index in range(n_items):
            head = " " * dash + "-" + " " * (key - dash - 1) + f"arxiv: {q(f'2201.{index + 1:05d}')}"
            lines.append(head + (f"  {draw(comments)}" if draw(st.booleans()) else ""))
            if draw(st.booleans()):
                lines.append(" " * key + "why: |")
                lines += [" " * (key + 2) + draw(words) for _ in range(draw(st.integers(1, 2)))]
            else:
                lines.append(" " * key + f"why: {q(draw(words))}")
            if draw(st.booleans()):
                lines.append(draw(st.sampled_from(["", " " * dash + draw(comments)])))
    if draw(st.booleans()):
        lines.append(f"outro: {q(draw(words))}")
    if draw(st.booleans()):
        lines += ["references:", f"  ref: {q('1706.03762')}"]
    if draw(st.booleans()):
        lines.append(draw(comments))
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    return eol.join(lines) + (eol if draw(st.booleans()) else "")


stubs = st.lists(
    st.builds(Stub, arxiv_id=canonical_ids(), comment=st.text(min_size=0, max_size=30)),
    min_size=1, max_size=3,
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(issue_texts(), stubs)
def test_appending_stubs_only_inserts_text(old: str, new_stubs: list[Stub]) -> None:
    try:
        old_data = yaml.safe_load(old)
    except yaml.YAMLError:
        old_data = None  # the generator can write an invalid file (a blank line too deep in a |)
    assume(isinstance(old_data, dict))
    try:
        new = append_stubs(old, new_stubs)
    except YamlEditError as exc:
        # The one documented refusal: a block scalar that runs to the end of a file without
        # a final newline (a line after it would add "\n" to its value).
        assert "block scalar" in str(exc) and not old.endswith("\n"), exc
        return
    grown = len(new) - len(old)
    assert grown > 0
    k = 0
    while k < len(old) and new[k] == old[k]:
        k += 1
    assert new[k + grown:] == old[k:], "the editor's bytes were changed, not only spliced into"
    expected = dict(old_data)
    expected["papers"] = list(old_data.get("papers") or []) + [
        {"arxiv": s.arxiv_id, "why": "", "insights": ""} for s in new_stubs]
    assert yaml.safe_load(new) == expected
    if hasattr(yaml, "CSafeLoader"):
        assert yaml.load(new, Loader=yaml.CSafeLoader) == expected
    if "\r\n" in old:
        assert "\n" not in new.replace("\r\n", ""), "a bare LF in a CRLF file"
    assert new.endswith(("\n", "\r")) == old.endswith(("\n", "\r"))


# --- citation numbering -------------------------------------------------------------------

keys = st.from_regex(r"[a-z][a-z0-9_.:+-]{0,7}", fullmatch=True)
separators = st.sampled_from(["", " ", " and ", ". Then ", ", ", " (see also) "])  # one line: to_markdown unwraps lines


@st.composite
def citing(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str]]]:
    """(reference keys in the editor's order, [(text before, cited key), …])."""
    references = draw(st.lists(keys, min_size=1, max_size=14, unique=True))
    cites = draw(st.lists(st.tuples(separators, st.sampled_from(references)), min_size=1, max_size=12))
    return references, cites


@FAST
@given(citing())
def test_citations_are_numbered_by_reference_order(case: tuple[list[str], list[tuple[str, str]]]) -> None:
    references, cites = case
    numbers = {key: n for n, key in enumerate(references, start=1)}
    ctx = LinkContext(numbers=numbers, title_of=lambda arxiv_id: "T")
    text = "Intro" + "".join(f"{before}[^{key}]" for before, key in cites) + " end."
    expected = "Intro"
    for index, (before, key) in enumerate(cites):
        adjacent = before == "" and index > 0  # right after another citation: "¹,²"
        expected += before + ("," if adjacent else "") + superscript(numbers[key])
    expected += " end."
    assert to_markdown(text, ctx) == expected
    assert to_markdown(text, ctx) == to_markdown(text, ctx)  # same input, same output

    html = HtmlRenderer().block(text, ctx)
    assert re.findall(r'href="#ref-(\d+)"', html) == [str(numbers[key]) for _, key in cites]


@FAST
@given(citing(), st.randoms(use_true_random=False))
def test_numbering_does_not_depend_on_citation_order(case: tuple[list[str], list[tuple[str, str]]], rnd: object) -> None:
    references, cites = case
    numbers = {key: n for n, key in enumerate(references, start=1)}
    ctx = LinkContext(numbers=numbers, title_of=lambda arxiv_id: "T")
    shuffled = list(cites)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    for order in (cites, shuffled):
        for _, key in order:
            assert to_markdown(f"x [^{key}] y", ctx) == f"x {superscript(numbers[key])} y"
        text = " ".join(f"[^{key}]" for _, key in order)
        assert to_markdown(text, ctx) == " ".join(superscript(numbers[key]) for _, key in order)


@pytest.mark.parametrize(("references", "expected"), [(["a", "b"], "¹,²"), (["b", "a"], "²,¹")])
def test_adjacent_citations_example(references: list[str], expected: str) -> None:
    ctx = LinkContext(numbers={k: n for n, k in enumerate(references, start=1)}, title_of=str)
    assert to_markdown("[^a][^b]", ctx) == expected
