"""Append paper stubs to an issue file's `papers:` list by inserting text, never by re-dumping.

Every byte the editor wrote is kept (comments, quoting, key order, CRLF, a missing final newline):
`append_stubs` finds one index k with PyYAML's event stream (marks are character indices) and
returns ``text[:k] + inserted + text[k:]``. Insertion rules:

* block list: the stubs go right after the line holding the last item's last content, so comments
  and blank lines in front of the next key stay with that key. Exception: when the last content is
  a block scalar whose trailing blank lines are part of its value (`|+`), the stubs follow them.
  Dash column and key column are copied from the first item (`- `, `  - `, `    -   `, ...).
* `papers:` with nothing after it: the items go on the lines after it, two columns deeper.
* flow list (`[]`, `[{arxiv: "1"}]`): `{arxiv: "ID", why: "", insights: ""}` is inserted after
  the last item (or inside the empty brackets). The title/author comment is dropped there: a
  comment would end the line inside the brackets.
* no `papers` key: a block `papers:` key is appended at the end of the document (before `...`).
* inserted lines use the file's first line ending; at the end of a file without a final newline
  the line break is put first, so the file still ends without one.
Raises YamlEditError (a ValueError: one-line message, 1-based .line/.column) when the text is not
one YAML document with a mapping on top, `papers` is neither a list nor empty, or the file ends in
a `|`/`>` scalar with no final newline (any line after it would add a "\n" to its value).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceStartEvent,
)

_BREAKS = "\r\n\x85\u2028\u2029"  # what PyYAML treats as a line break; a comment must not hold one
_SPACE = " \t" + _BREAKS


@dataclass(frozen=True)
class Stub:
    arxiv_id: str  # canonical, e.g. "2204.00598" or "hep-th/9901001v2"
    comment: str  # put after the id, e.g. "Socratic Models: … — Andy Zeng et al."; made one line


class YamlEditError(ValueError):
    """Why the stubs can't be inserted; line/column (1-based) point at the culprit."""

    def __init__(self, message: str, mark: Any = None) -> None:
        super().__init__(message)
        self.line = mark.line + 1 if mark else 1
        self.column = mark.column + 1 if mark else 1


def append_stubs(text: str, stubs: Sequence[Stub]) -> str:
    """Return `text` with one entry per stub appended to its top-level `papers` list."""
    if not stubs:
        return text
    try:
        # pure-Python parser: its marks index characters. Typed Any: the stubs make every mark optional.
        events: list[Any] = list(yaml.parse(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        mark = getattr(exc, "problem_mark", None)
        raise YamlEditError(f"not valid YAML: {problem}", mark) from exc
    docs = [i for i, ev in enumerate(events) if isinstance(ev, DocumentStartEvent)]
    if len(docs) != 1:
        where = events[docs[1]].start_mark if docs else None
        raise YamlEditError(f"expected one YAML document, found {len(docs)}", where)
    root = events[2]
    if not isinstance(root, MappingStartEvent):
        raise YamlEditError("the top level is not a mapping", root.start_mark)
    eol = _eol(text)

    papers: tuple[Any, int] | None = None
    i = 3
    while not isinstance(events[i], MappingEndEvent):
        key, value_at = events[i], _skip(events, i)
        if isinstance(key, ScalarEvent) and key.value == "papers":
            papers = (key, value_at)  # a duplicate key: the last one wins, as in yaml.safe_load
        i = _skip(events, value_at)
    value: Any = events[papers[1]] if papers else None
    flow_list = isinstance(value, SequenceStartEvent) and value.flow_style
    if root.flow_style and not flow_list:
        raise YamlEditError("the top-level mapping is in flow style ({...})", root.start_mark)

    if papers is None:  # new top-level key at the end of the document
        col = events[3].start_mark.column
        end = events[-2]  # DocumentEndEvent; an explicit `...` starts a line, insert before it
        k = end.start_mark.index if getattr(end, "explicit", False) else len(text)
        lines = [" " * col + "papers:"] + [ln for s in stubs for ln in _item(s, col + 2, col + 4)]
        return _insert_lines(text, k, lines, eol, events)
    key, value_at = papers
    if isinstance(value, ScalarEvent) and not (value.value or value.tag or value.style):
        # `papers:` alone: its empty value sits right after the colon, the items go below that line
        col = key.start_mark.column
        lines = [ln for s in stubs for ln in _item(s, col + 2, col + 4)]
        end_index: int = value.end_mark.index  # type: ignore[union-attr]
        return _insert_lines(text, _line_end(text, end_index), lines, eol, events)
    if not isinstance(value, SequenceStartEvent):
        what = "a mapping" if isinstance(value, MappingStartEvent) else (
            "an alias" if isinstance(value, AliasEvent) else f"the scalar {value.value!r}")
        raise YamlEditError(f"`papers` is {what}, not a list (leave it empty or write [])",
                            value.start_mark)

    end_at = _skip(events, value_at) - 1  # the SequenceEndEvent
    last = _last_content(events, value_at + 1, end_at)
    if flow_list:
        items = ", ".join(
            f'{{arxiv: {_quote(s.arxiv_id)}, why: "", insights: ""}}' for s in stubs)
        if last is None:  # `[]`: put the items in front of the closing bracket
            k = events[end_at].start_mark.index
            return text[:k] + items + text[k:]
        k = last.end_mark.index  # after the last item, so a trailing comma stays valid
        return text[:k] + ", " + items + text[k:]

    assert last is not None  # a block sequence has at least one item, even an empty one
    e = last.end_mark.index
    if isinstance(last, ScalarEvent) and last.style in ("|", ">") and _tail_is_data(last.value):
        k = e  # a block scalar ends at a line start, after blank lines that are here part of it
    else:
        while e > 0 and text[e - 1] in _SPACE:  # a block scalar's end mark is past blank lines
            e -= 1
        k = _line_end(text, e)
    # the first item's `-` (the last dash before its content) and content column set the layout
    first = events[value_at + 1]
    before = first.start_mark.index
    dash_col = [t.start_mark.column for t in yaml.scan(text, Loader=yaml.SafeLoader)
                if isinstance(t, yaml.BlockEntryToken) and t.start_mark.index < before][-1]
    block_map = isinstance(first, MappingStartEvent) and not first.flow_style
    tagged = block_map and (first.anchor or first.tag)
    content_col = (events[value_at + 2] if tagged else first).start_mark.column  # its first key
    key_col = max(content_col, dash_col + 2)  # content on the line after `-` may sit at dash+1
    lines = [ln for s in stubs for ln in _item(s, dash_col, key_col)]
    return _insert_lines(text, k, lines, eol, events)


def _skip(events: list[Any], i: int) -> int:
    """Index just past the node that starts at events[i]."""
    depth = 0
    while True:
        ev = events[i]
        i += 1
        depth += isinstance(ev, CollectionStartEvent) - isinstance(ev, CollectionEndEvent)
        if depth == 0:
            return i


def _last_content(events: list[Any], start: int, stop: int) -> Any:
    """The event in events[start:stop] whose text ends last. Block collections don't count: their
    end marks point at the next token, past comments that belong to what follows."""
    best: Any = None
    flow: list[bool] = []
    for ev in events[start:stop]:
        if isinstance(ev, CollectionStartEvent):
            flow.append(bool(ev.flow_style))
            continue
        if isinstance(ev, CollectionEndEvent) and not flow.pop():
            continue
        if best is None or ev.end_mark.index >= best.end_mark.index:
            best = ev
    return best


def _tail_is_data(value: str) -> bool:
    """True if a block scalar's value keeps its trailing blank lines (`|+`, or lines of spaces
    deeper than its indentation), so cutting in front of them would change it."""
    body = value.rstrip(_SPACE)
    tail = value[len(body):]
    return tail not in ("", "\n") or (tail == "\n" and not body)


def _line_end(text: str, i: int) -> int:
    """Index just past the line break that ends the line holding index i (len(text) if none)."""
    while i < len(text) and text[i] not in _BREAKS:
        i += 1
    if i == len(text):
        return i
    return i + (2 if text.startswith("\r\n", i) else 1)


def _eol(text: str) -> str:
    """The file's line ending: that of its first line ("\\n" for a one-line file)."""
    for i, ch in enumerate(text):
        if ch == "\n":
            return "\n"
        if ch == "\r":
            return "\r\n" if text.startswith("\r\n", i) else "\r"
    return "\n"


def _insert_lines(text: str, k: int, lines: list[str], eol: str, events: list[Any]) -> str:
    block = eol.join(lines)
    if k < len(text) or text[-1] in _BREAKS:
        return text[:k] + block + eol + text[k:]
    # No final newline: ours goes first, so there still is none after. But a `|`/`>` scalar that
    # runs to the end of the file would take that line break into its value: refuse instead.
    scalars = [ev for ev in events if isinstance(ev, ScalarEvent)]
    grown = [ev.value for ev in yaml.parse(text + eol, Loader=yaml.SafeLoader)
             if isinstance(ev, ScalarEvent)]
    if grown != [ev.value for ev in scalars]:
        raise YamlEditError("the file ends in a block scalar (| or >) without a final newline; "
                            "add one so entries can follow it", scalars[-1].start_mark)
    return text + eol + block


def _item(stub: Stub, dash_col: int, key_col: int) -> list[str]:
    head = f"{' ' * dash_col}-{' ' * (key_col - dash_col - 1)}arxiv: {_quote(stub.arxiv_id)}"
    note = _one_line(stub.comment)
    pad = " " * key_col
    return [head + (f"  # {note}" if note else ""), f'{pad}why: ""', f'{pad}insights: ""']


def _quote(value: str) -> str:
    """A YAML double-quoted scalar: always quoted, or "2204.00598" would load as a float. Anything
    unprintable is escaped (json.dumps won't do: YAML reads its surrogate pairs as two chars)."""
    def esc(ch: str) -> str:
        if ch in '"\\':
            return "\\" + ch
        if ch.isprintable() and ch != "\ufeff":
            return ch
        if unicodedata.category(ch) == "Cs":  # no UTF-8 file can hold it, libyaml refuses "\ud800"
            raise YamlEditError(f"the arXiv id {value!r} holds a lone surrogate")
        n = ord(ch)
        return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"
    return '"' + "".join(map(esc, value)) + '"'


def _one_line(comment: str) -> str:
    """The comment on one line: PyYAML ends lines at \\x85, U+2028 and U+2029 too, and refuses
    control characters, lone surrogates and U+FFFE/U+FFFF anywhere in the file."""
    kept = (" " if ch.isspace() or unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
            for ch in comment if unicodedata.category(ch) != "Cs" and ch not in "\ufffe\uffff")
    return " ".join("".join(kept).split())
