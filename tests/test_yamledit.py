"""digest.yamledit: stubs are spliced into the editor's text, every old byte stays put."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.yamledit import Stub, YamlEditError, append_stubs

CLoader = getattr(yaml, "CSafeLoader", None)  # the CLI may read files with libyaml

SOCRATIC = Stub("2204.00598", "Socratic Models: Composing … — Andy Zeng, Maria Attarian et al.")
OLD_STYLE = Stub("hep-th/9901001v2", "Old-style id — Someone")


def entry(stub: Stub) -> dict[str, str]:
    return {"arxiv": stub.arxiv_id, "why": "", "insights": ""}


def stub_lines(stub: Stub, dash: int, key: int, eol: str = "\n") -> str:
    """The block text one stub should become (each line ended by eol)."""
    head = f"{' ' * dash}-{' ' * (key - dash - 1)}arxiv: {json.dumps(stub.arxiv_id)}"
    return eol.join([f"{head}  # {stub.comment}", f'{" " * key}why: ""', f'{" " * key}insights: ""', ""])


def check(old: str, stubs: list[Stub]) -> str:
    """append_stubs, then assert (1) the old text is spliced, not changed, and (2) the new text
    loads (PyYAML and libyaml) as the old data with the stubs' entries appended to `papers`."""
    new = append_stubs(old, stubs)
    grown = len(new) - len(old)
    assert grown > 0
    k = 0  # longest common prefix; any k it overshoots the true one by still splits the same way
    while k < len(old) and new[k] == old[k]:
        k += 1
    assert new[:k] == old[:k] and new[k + grown :] == old[k:]
    expected = yaml.safe_load(old)
    expected["papers"] = (expected.get("papers") or []) + [entry(s) for s in stubs]
    assert yaml.safe_load(new) == expected
    if CLoader is not None:
        assert yaml.load(new, Loader=CLoader) == expected
    return new


# --------------------------------------------------------------------------------- block lists

BRIEF = """\
title: Trends in AI — May 2022   # comment
papers:
  - arxiv: "2204.03458"
    links:
      Project page: https://video-diffusion.github.io/
    why: |
      Text…

    insights: ""
  # a trailing comment that belongs to the list
  - group: Datasets & Benchmarks
    entries:
      - arxiv: "2204.07705"
        note: a one-liner

# the sign-off
outro: Bye.
references:
  unet: "1505.04597"
"""


def test_comments_everywhere_and_a_group_as_last_item() -> None:
    new = check(BRIEF, [SOCRATIC])
    cut = BRIEF.index("one-liner\n") + len("one-liner\n")  # the blank line stays with `# the sign-off`
    assert new == BRIEF[:cut] + stub_lines(SOCRATIC, 2, 4) + BRIEF[cut:]


def test_several_stubs_keep_their_order() -> None:
    new = check(BRIEF, [SOCRATIC, OLD_STYLE])
    assert new.index('"2204.00598"') < new.index('"hep-th/9901001v2"')
    assert stub_lines(SOCRATIC, 2, 4) + stub_lines(OLD_STYLE, 2, 4) in new


@pytest.mark.parametrize(
    ("old", "dash", "key"),
    [
        pytest.param('papers:\n    - arxiv: "1"\n      why: x\nnext: 1\n', 4, 6, id="four-space"),
        pytest.param('papers:\n- arxiv: "1"\n  why: x\nnext: 1\n', 0, 2, id="column-0-dash"),
        pytest.param('papers:\n    -   arxiv: "1"\n        why: x\nnext: 1\n', 4, 8, id="odd-padding"),
        pytest.param('papers:\n  -\n     arxiv: "1"\nnext: 1\n', 2, 5, id="content-on-next-line"),
        pytest.param('papers:\n -\n  arxiv: "1"\nnext: 1\n', 1, 3, id="content-at-dash-plus-1"),
        pytest.param('papers:\n  - "2101.00001"\n  - x\nnext: 1\n', 2, 4, id="scalar-items"),
        pytest.param('papers: !!seq\n  - &a arxiv: "1"\n  - arxiv: "2"\nnext: 1\n', 2, 4, id="tag-and-anchor"),
        pytest.param('papers:\n  - &a !!map\n      arxiv: "1"\nnext: 1\n', 2, 6, id="anchor-own-line"),
        pytest.param('papers:\n  - {arxiv: "1"}\n  - x\nnext: 1\n', 2, 4, id="flow-item"),
    ],
)
def test_indentation_is_copied_from_the_first_item(old: str, dash: int, key: int) -> None:
    new = check(old, [SOCRATIC])
    assert new == old.replace("next: 1", stub_lines(SOCRATIC, dash, key) + "next: 1")


def test_first_item_sets_the_layout_not_the_last() -> None:
    old = 'papers:\n  - arxiv: "1"\n  -     arxiv: "2"\n'
    assert check(old, [SOCRATIC]) == old + stub_lines(SOCRATIC, 2, 4)


def test_literal_block_scalar_last_with_trailing_blank_lines() -> None:
    old = 'papers:\n  - arxiv: "1"\n    why: |\n      Line one.\n\n      Line two.\n\n\n# outro\noutro: x\n'
    new = check(old, [SOCRATIC])
    cut = old.index("Line two.\n") + len("Line two.\n")  # the blank lines stay with `# outro`
    assert new == old[:cut] + stub_lines(SOCRATIC, 2, 4) + old[cut:]


def test_folded_strip_block_scalar_last_at_end_of_file() -> None:
    old = 'papers:\n  - arxiv: "1"\n    why: >-\n      folded\n      text\n\n  \n'
    new = check(old, [SOCRATIC])
    cut = old.index("text\n") + len("text\n")
    assert new == old[:cut] + stub_lines(SOCRATIC, 2, 4) + old[cut:]


def test_keep_block_scalar_keeps_its_trailing_blank_lines() -> None:
    old = 'papers:\n  - arxiv: "1"\n    why: |+\n      kept\n\n\nnext: 1\n'
    assert yaml.safe_load(old)["papers"][0]["why"] == "kept\n\n\n"
    new = check(old, [SOCRATIC])  # the stub goes after the blank lines: they are data here
    assert new == old.replace("next: 1", stub_lines(SOCRATIC, 2, 4) + "next: 1")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("    why: |+\n\n", id="keep-only-blank"),
        pytest.param("    why: |\n      text\n         \n", id="literal-spaces-line"),
        pytest.param("    why: |\n      text  \n\n", id="trailing-spaces"),
        pytest.param("    why: |-\n\n\n", id="strip-empty"),
        pytest.param("    why: >  # folded\n      a\n      b\n\n", id="header-comment"),
    ],
)
def test_block_scalar_tails_are_preserved(body: str) -> None:
    check(f'papers:\n  - arxiv: "1"\n{body}next: 1\n', [SOCRATIC])
    check(f'papers:\n  - arxiv: "1"\n{body}', [SOCRATIC])


def test_last_content_is_an_alias_on_its_own_line() -> None:
    old = 'base: &b {x: 1}\npapers:\n  - arxiv: "1"\n    extra:\n      *b\n# end\n'
    new = check(old, [SOCRATIC])
    assert new == old.replace("# end", stub_lines(SOCRATIC, 2, 4) + "# end")


def test_last_item_ends_with_an_empty_value_and_a_multiline_plain_scalar() -> None:
    for old in ('papers:\n  - arxiv: "1"\n    why:\nz: 1\n', "papers:\n  - why: a plain\n      scalar\nz: 1\n"):
        assert check(old, [SOCRATIC]) == old.replace("z: 1", stub_lines(SOCRATIC, 2, 4) + "z: 1")


def test_papers_as_last_key_with_a_comment_at_the_end_of_the_file() -> None:
    old = 'title: x\npapers:\n  - arxiv: "1"  # first\n\n# TODO: more papers\n'
    new = check(old, [SOCRATIC])
    assert new == old.replace("\n# TODO", stub_lines(SOCRATIC, 2, 4) + "\n# TODO")


def test_papers_in_the_middle() -> None:
    old = 'title: x\npapers:\n  - arxiv: "1"\noutro: y\n'
    assert check(old, [SOCRATIC]) == old.replace("outro", stub_lines(SOCRATIC, 2, 4) + "outro")


def test_no_final_newline_stays_without_one() -> None:
    old = 'title: x\npapers:\n  - arxiv: "1"\n    why: "w"'
    new = check(old, [SOCRATIC])
    assert new == old + "\n" + stub_lines(SOCRATIC, 2, 4).rstrip("\n")
    old_block = 'papers:\n  - why: |-\n      text'  # strip chomping: a final break changes nothing
    assert check(old_block, [SOCRATIC]) == old_block + "\n" + stub_lines(SOCRATIC, 2, 4).rstrip("\n")


@pytest.mark.parametrize("old", ['papers:\n  - why: |\n      text', "title: x\noutro: >+\n  text"])
def test_block_scalar_at_end_without_final_newline_is_refused(old: str) -> None:
    # its value is "text"; any line after it would make it "text\n", so no splice can be exact
    with pytest.raises(YamlEditError, match="without a final newline") as info:
        append_stubs(old, [SOCRATIC])
    assert (info.value.line, info.value.column) == (2, 10 if "papers" in old else 8)


def test_crlf_file_gets_crlf_lines() -> None:
    old = BRIEF.replace("\n", "\r\n")
    new = check(old, [SOCRATIC, OLD_STYLE])
    assert "\n" not in new.replace("\r\n", "")
    cut = old.index("one-liner\r\n") + len("one-liner\r\n")
    expected = stub_lines(SOCRATIC, 2, 4, "\r\n") + stub_lines(OLD_STYLE, 2, 4, "\r\n")
    assert new == old[:cut] + expected + old[cut:]


def test_old_mac_line_endings() -> None:
    old = 'a: 1\rpapers:\r  - arxiv: "1"\rz: 2\r'
    assert check(old, [SOCRATIC]) == old.replace("z: 2", stub_lines(SOCRATIC, 2, 4, "\r") + "z: 2")


def test_crlf_without_final_newline() -> None:
    old = 'papers:\r\n  - arxiv: "1"'
    assert check(old, [SOCRATIC]) == old + "\r\n" + stub_lines(SOCRATIC, 2, 4, "\r\n")[:-2]


def test_non_ascii_and_emoji() -> None:
    old = 'title: "Trends 🤖 — Mai"\npapers:\n  - arxiv: "1"\n    why: Überraschend 👩‍🔬 gut # ✓\nEnde: ja\n'
    stub = Stub("2205.00001", "Ünïcödé 👩‍🔬 — Zoë Ñ, 李雷 et al.")
    new = check(old, [stub])
    assert new == old.replace("Ende", stub_lines(stub, 2, 4) + "Ende")


def test_document_markers_and_bom() -> None:
    old = '\ufeff--- # issue\ntitle: x\npapers:\n  - arxiv: "1"\n...\n'
    assert check(old, [SOCRATIC]) == old.replace("...", stub_lines(SOCRATIC, 2, 4) + "...")
    old = "\ufefftitle: x\npapers:\n- a\n"
    assert check(old, [SOCRATIC]) == old + stub_lines(SOCRATIC, 0, 2)


def test_indented_top_level_mapping() -> None:
    old = '  title: x\n  papers:\n    - arxiv: "1"\n  outro: y\n'
    assert check(old, [SOCRATIC]) == old.replace("  outro", stub_lines(SOCRATIC, 4, 6) + "  outro")


def test_duplicate_papers_key_extends_the_one_yaml_keeps() -> None:
    old = 'papers:\n  - arxiv: "0"\nx: 1\npapers:\n  - arxiv: "1"\n'
    assert check(old, [SOCRATIC]) == old + stub_lines(SOCRATIC, 2, 4)


# ------------------------------------------------------------------- missing, empty and flow lists


def test_papers_missing_is_appended_as_a_new_key() -> None:
    old = "title: x\nrefs:\n  a: b\n# the end\n"
    assert check(old, [SOCRATIC]) == old + "papers:\n" + stub_lines(SOCRATIC, 2, 4)


def test_papers_missing_no_final_newline_crlf_and_document_end() -> None:
    old = "title: x\r\nrefs: |+\r\n  kept\r\n\r\n"
    assert check(old, [SOCRATIC]) == old + "papers:\r\n" + stub_lines(SOCRATIC, 2, 4, "\r\n")
    assert check("title: x", [SOCRATIC]) == "title: x\npapers:\n" + stub_lines(SOCRATIC, 2, 4)[:-1]
    old = "title: x\n...\n# after the document\n"
    assert check(old, [SOCRATIC]) == old.replace("...", "papers:\n" + stub_lines(SOCRATIC, 2, 4) + "...")


def test_papers_empty_null() -> None:
    old = "title: x\npapers:   # none yet\n  # add below\noutro: y\n"
    new = check(old, [SOCRATIC])
    assert new == old.replace("  # add below", stub_lines(SOCRATIC, 2, 4) + "  # add below")
    old = "title: x\npapers: &p"
    assert check(old, [SOCRATIC]) == old + "\n" + stub_lines(SOCRATIC, 2, 4)[:-1]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("papers: []\nx: 1\n", 'papers: [{arxiv: "2204.00598", why: "", insights: ""}]\nx: 1\n'),
        ("papers: [ ]", 'papers: [ {arxiv: "2204.00598", why: "", insights: ""}]'),
        ('papers: [{arxiv: "1"}]\n', 'papers: [{arxiv: "1"}, {arxiv: "2204.00598", why: "", insights: ""}]\n'),
        (
            'papers: [\n  {arxiv: "1"},  # one\n  ]\n',
            'papers: [\n  {arxiv: "1"}, {arxiv: "2204.00598", why: "", insights: ""},  # one\n  ]\n',
        ),
        ("{title: x, papers: [a: 1]}", '{title: x, papers: [a: 1, {arxiv: "2204.00598", why: "", insights: ""}]}'),
    ],
)
def test_flow_lists_get_flow_items_without_comment(old: str, new: str) -> None:
    assert check(old, [SOCRATIC]) == new


def test_flow_list_with_several_stubs() -> None:
    new = check("papers: [] # c\r\n", [SOCRATIC, OLD_STYLE])
    assert new.startswith('papers: [{arxiv: "2204.00598", why: "", insights: ""}, {arxiv: "hep-th/9901001v2"')


# ---------------------------------------------------------------------------- stub text, errors


def test_comment_is_made_one_line_and_loadable() -> None:
    nasty = 'a\nb\r\nc\td\x85e\u2028f\u2029g\x00h\x1b[31mi\x7fj\ud800k\ufffel # "quoted" \'x\' : [ }'
    new = check("papers:\n- a\n", [Stub("2204.00598", nasty)])
    head = new.splitlines()[2]
    assert head == '- arxiv: "2204.00598"  # a b c d e f g h [31mi jkl # "quoted" \'x\' : [ }'


def test_ids_are_always_quoted_strings() -> None:
    odd = 'we"ird\\ \n\t\x85\u2028\ufeff\u200d\U0001d7d8 𝟘 🤖 é'
    stubs = [Stub("2204.10000", "looks like a float"), Stub("1e5", ""), Stub(odd, "x")]
    new = check("papers:\n- a\n", stubs)
    assert '- arxiv: "1e5"\n  why' in new  # an empty comment leaves no `#`
    assert [p["arxiv"] for p in yaml.safe_load(new)["papers"][1:]] == ["2204.10000", "1e5", odd]


def test_no_stubs_no_change() -> None:
    assert append_stubs("not: [valid", []) == "not: [valid"


@pytest.mark.parametrize(
    ("old", "message", "line"),
    [
        ("- a\n- b\n", "top level is not a mapping", 1),
        ("just text\n", "top level is not a mapping", 1),
        ("", "expected one YAML document, found 0", 1),
        ("# only a comment\n", "expected one YAML document, found 0", 1),
        ("a: 1\n---\nb: 2\n", "expected one YAML document, found 2", 2),
        ("title: x\npapers: some text\n", "`papers` is the scalar 'some text', not a list", 2),
        ("title: x\npapers: ~\n", "`papers` is the scalar '~', not a list", 2),
        ('papers: ""\n', "`papers` is the scalar '', not a list", 1),
        ("papers:\n  a: 1\n", "`papers` is a mapping, not a list", 2),
        ("x: &l [1]\npapers: *l\n", "`papers` is an alias, not a list", 2),
        ("{title: x}\n", "top-level mapping is in flow style", 1),
        ("title: [x\npapers:\n", "not valid YAML", 2),
        ("title: \x07\n", "not valid YAML", 1),
    ],
)
def test_errors_are_one_line_value_errors(old: str, message: str, line: int) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        append_stubs(old, [SOCRATIC])
    assert isinstance(info.value, YamlEditError) and "\n" not in str(info.value)
    assert info.value.line == line


# ----------------------------------------------------------------------------- property test

WORD = st.text(st.sampled_from("abcxyzÄéΩ—…:#'\" 🤖👩\u200d🔬"), min_size=1, max_size=10)
PLAIN = st.text(st.sampled_from("abxyzéΩ 🤖"), max_size=8).map(lambda s: "v" + s.strip())
NASTY = st.text(st.characters() | st.sampled_from(["\n", "\r", "\x85", "\u2028", "\x00", "\ud800", "#"]), max_size=20)
ID = st.from_regex(r"\A([0-9]{4}\.[0-9]{4,5}|[a-z-]{2,8}/[0-9]{7})(v[0-9])?\Z") | st.text(
    st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=12)  # odd ids must round-trip too
STUBS = st.lists(
    st.builds(
        Stub,
        ID,
        NASTY,
    ),
    min_size=1,
    max_size=3,
)


@st.composite
def gaps(draw: st.DrawFn, max_col: int) -> list[str]:
    """Blank lines and comment lines, at any column up to max_col."""
    kinds = st.one_of(
        st.just(""),
        st.integers(0, max_col).map(lambda c: " " * c),
        st.tuples(st.integers(0, max_col), WORD).map(lambda t: " " * t[0] + "# " + t[1]),
    )
    return draw(st.lists(kinds, max_size=2))


@st.composite
def inline_comment(draw: st.DrawFn) -> str:
    return draw(st.one_of(st.just(""), WORD.map(lambda w: "  # " + w)))


@st.composite
def field(draw: st.DrawFn, col: int, depth: int) -> list[str]:
    pad, key = " " * col, draw(st.sampled_from(["why", "insights", "note", "k"]))
    kind = draw(st.sampled_from(["plain", "quoted", "block", "map", "empty", "flow", "group"]))
    if kind == "plain":
        return [f"{pad}{key}: {draw(PLAIN)}{draw(inline_comment())}"]
    if kind == "quoted":
        return [f"{pad}{key}: {json.dumps(draw(WORD), ensure_ascii=False)}{draw(inline_comment())}"]
    if kind == "empty":
        return [f"{pad}{key}:{draw(inline_comment())}"]
    if kind == "flow":
        return [f"{pad}{key}: [{draw(PLAIN)}, {json.dumps(draw(WORD), ensure_ascii=False)}]"]
    if kind == "map" or depth > 0:
        return [f"{pad}links:"] + [f"{pad}  {k}: {draw(PLAIN)}" for k in draw(st.sets(st.sampled_from("abc"), min_size=1))]
    if kind == "group":
        lines = [f"{pad}group: {draw(PLAIN)}", f"{pad}entries:"]
        for _ in range(draw(st.integers(1, 2))):
            lines += draw(item(col + 2, 1, 0))
        return lines
    # a block scalar: content two deeper; blank lines may carry spaces, deeper ones are content
    lines = [f"{pad}{key}: {draw(st.sampled_from(['|', '|-', '|+', '>', '>-', '>+']))}{draw(inline_comment())}"]
    for _ in range(draw(st.integers(1, 3))):
        lines.append(f"{pad}  {draw(WORD).strip() or 'w'}")
        lines += [" " * draw(st.integers(0, col + 4)) for _ in range(draw(st.integers(0, 2)))]
    return lines


@st.composite
def item(draw: st.DrawFn, dash: int, gap: int, depth: int) -> list[str]:
    key_col = dash + 1 + gap
    lines = [f"{' ' * dash}-{' ' * gap}arxiv: \"{draw(st.integers(1000, 9999))}.0001\"{draw(inline_comment())}"]
    for _ in range(draw(st.integers(0, 3))):
        lines += draw(gaps(key_col)) + draw(field(key_col, depth))
    return lines


@st.composite
def issue_files(draw: st.DrawFn) -> str:
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    root = draw(st.sampled_from([0, 0, 0, 2]))
    pad = " " * root
    shape = draw(st.sampled_from(["block", "block", "block", "absent", "null", "flow"]))
    if shape == "block":
        dash, gap = root + draw(st.sampled_from([0, 2, 4])), draw(st.integers(1, 3))
        papers = [f"{pad}papers:{draw(inline_comment())}"] + draw(gaps(dash))
        for _ in range(draw(st.integers(1, 3))):
            papers += draw(item(dash, gap, 0)) + draw(gaps(dash + gap))
    elif shape == "null":
        papers = [f"{pad}papers:{draw(inline_comment())}"] + draw(gaps(root + 2))
    elif shape == "flow":
        inner = draw(st.sampled_from(["", " ", '{arxiv: "1"}', '{arxiv: "1"}, ', f"{pad}\n  a,  # c\n{pad}  "]))
        papers = [f"{pad}papers: [{inner}]{draw(inline_comment())}"]
    else:
        papers = []
    others = [
        [f"{pad}title: {json.dumps(draw(WORD), ensure_ascii=False)}{draw(inline_comment())}"],
        [f"{pad}outro: |+", f"{pad}  {draw(PLAIN)}", ""] if draw(st.booleans()) else [f"{pad}outro: {draw(PLAIN)}"],
        [f"{pad}references:", f"{pad}  unet: \"1505.04597\""],
    ]
    blocks = others[:]
    blocks.insert(draw(st.integers(0, len(others))), papers)
    lines = (["---"] if draw(st.booleans()) else []) + [ln for b in blocks for ln in b + draw(gaps(root))]
    text = eol.join("\n".join(lines).split("\n")) + (eol if draw(st.booleans()) else "")
    return ("\ufeff" if draw(st.booleans()) else "") + text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(issue_files(), STUBS)
def test_property_old_bytes_spliced_and_data_appended(old: str, stubs: list[Stub]) -> None:
    data = yaml.safe_load(old)  # the generator only makes valid issue files
    try:
        check(old, stubs)
    except YamlEditError as exc:  # the one refusal a valid file can meet, and only when justified
        assert "without a final newline" in str(exc)
        assert old[-1] not in "\r\n" and yaml.safe_load(old + "\n") != data


def test_id_with_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(YamlEditError, match="lone surrogate"):
        append_stubs("papers:\n- a\n", [Stub("2204.0\ud8000", "")])
