"""Read issue files: YAML → `Issue` model, with every error pointing at FILE:LINE:COL."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from digest.errors import FileError, IssueError, UsageError
from digest.models import Issue, all_field_names
from digest.suggest import did_you_mean

MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MAX_ISSUE_BYTES = 2_000_000  # an issue is a few pages of prose; more is a mistake or an attack

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _IssueLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """SafeLoader (no python tags) that keeps float-looking scalars as text: 2204.03630 is an id."""


def _float_as_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return str(node.value)


_IssueLoader.add_constructor("tag:yaml.org,2002:float", _float_as_text)
# Dates stay text for pydantic to parse, so 2022-02-30 is a located error, not a crash.
_IssueLoader.add_constructor("tag:yaml.org,2002:timestamp", _float_as_text)

_UNION_TAGS = {"arxiv", "external", "group", "text"}
_YAML_CORE_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp", "seq", "map")} | {"!"}
MAX_DEPTH = 64  # an issue nests five levels deep; libyaml's recursion crashes in the tens of thousands
MAX_EVENTS = 200_000  # far above any issue (the May 2022 issue has about 700)


def _int_or_refuse(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    if len(node.value) > 40:  # Python refuses to parse ints past 4,300 digits; no field needs 40
        raise yaml.constructor.ConstructorError(None, None, "this number is too long (more than 40 digits)", node.start_mark)
    return int(yaml.SafeLoader.construct_yaml_int(loader, node))


_IssueLoader.add_constructor("tag:yaml.org,2002:int", _int_or_refuse)


@dataclass(frozen=True)
class LoadedIssue:
    """An issue with where it came from, so later stages can point at its lines."""

    path: Path
    month: str  # "2022-05"
    issue: Issue
    root_node: yaml.Node
    text: str

    def locate(self, loc: tuple[str | int, ...], *, key: bool = False) -> tuple[int, int]:
        return locate(self.root_node, loc, key=key)

    def position(self, loc: tuple[str | int, ...], offset: int) -> tuple[int, int]:
        """(line, column) of character `offset` of the text field at `loc` (a citation, a link).

        The run of non-space characters starting at `offset` appears unchanged in the file for
        every scalar style (folding only touches whitespace), so it is looked up in the scalar's
        source; `text_position` is the fallback (escapes in quoted scalars can change the run).
        """
        node = find_node(self.root_node, loc)
        if not isinstance(node, yaml.ScalarNode):
            return self.locate(loc)
        value = str(node.value)
        end = offset
        while end < len(value) and end - offset < 60 and not value[end].isspace():
            end += 1
        snippet = value[offset:end]
        if snippet:
            in_value = _occurrences(value, snippet)
            source_start = node.start_mark.index
            in_source = _occurrences(self.text[source_start : node.end_mark.index], snippet)
            if len(in_value) == len(in_source) and offset in in_value:
                index = source_start + in_source[in_value.index(offset)]
                line_start = self.text.rfind("\n", 0, index) + 1
                return self.text.count("\n", 0, index) + 1, index - line_start + 1
        return text_position(node, offset, self.text)

    def error(self, loc: tuple[str | int, ...], message: str, *, key: bool = False) -> IssueError:
        line, col = self.locate(loc, key=key)
        return IssueError(self.path, line, col, message)

    @property
    def year(self) -> int:
        return int(self.month[:4])

    @property
    def month_name(self) -> str:
        return calendar.month_name[int(self.month[5:])]


def parse_month(text: str) -> str:
    """`2022-05` (or `issues/2022-05.yaml`) → `2022-05`; anything else is a usage error."""
    candidate = text.strip()
    if candidate.endswith((".yaml", ".yml")):
        candidate = Path(candidate).stem
    if MONTH_PATTERN.match(candidate):
        return candidate
    hint = ""
    if re.match(r"^\d{4}-\d{2}$", candidate):
        hint = f": month {candidate[5:]} does not exist"
    raise UsageError(f"{text!r} is not an issue name{hint}; expected YYYY-MM with a month 01-12, e.g. 2022-05")


def issue_path(issues_dir: Path, month: str) -> Path:
    return issues_dir / f"{month}.yaml"


def list_issue_months(issues_dir: Path) -> list[str]:
    """All issue months in the folder, oldest first."""
    if not issues_dir.is_dir():
        return []
    return sorted(p.stem for p in issues_dir.glob("*.yaml") if MONTH_PATTERN.match(p.stem))


def load_issue_file(path: Path, display_path: Path | None = None) -> LoadedIssue:
    """Read, parse and validate one issue file; every failure is an IssueError with a location."""
    shown = display_path or path
    month = path.stem
    if not MONTH_PATTERN.match(month):
        raise UsageError(f"{shown}: an issue file is named YYYY-MM.yaml, e.g. issues/2022-05.yaml")
    if not path.is_file():
        raise FileError(shown, f"no such issue; create it with `digest new {month}`")
    raw = path.read_bytes()
    if len(raw) > MAX_ISSUE_BYTES:
        raise IssueError(shown, 1, 1, f"file is {len(raw):,} bytes; an issue file is at most {MAX_ISSUE_BYTES:,}")
    text = _decode(raw, shown)
    root, data = parse_yaml(text, shown)
    issue = validate_issue(data, root, shown)
    return LoadedIssue(path=shown, month=month, issue=issue, root_node=root, text=text)


def _decode(raw: bytes, shown: Path) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise IssueError(shown, line, column, f"not UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8") from None
    return text.removeprefix("\ufeff")


def parse_yaml(text: str, shown: Path) -> tuple[yaml.Node, Any]:
    """Compose the node tree (for locations), refuse aliases and duplicate keys, then construct."""
    loader = _IssueLoader(text)
    try:
        _check_events(text, shown)
        root = loader.get_single_node()
        if root is None:
            raise IssueError(shown, 1, 1, "the issue file is empty; start from `digest new YYYY-MM`")
        _check_nodes(root, shown)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        if mark and _char_at(text, mark.line, mark.column) == "\t":
            problem += " (a tab: indent with spaces, not tabs)"
        context = f" {exc.context}" if exc.context else ""
        raise IssueError(shown, line, col, f"YAML syntax: {problem}{context}") from None
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise IssueError(shown, line, col, f"the control character U+{code:04X} is not allowed in YAML; delete it") from None
    except yaml.YAMLError as exc:
        raise IssueError(shown, 1, 1, f"YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        mark = root.start_mark
        raise IssueError(shown, mark.line + 1, mark.column + 1, "an issue file is a mapping of keys (title:, papers:, …)")
    return root, data


def _char_at(text: str, line: int, column: int) -> str:
    lines = text.split("\n")
    return lines[line][column : column + 1] if line < len(lines) else ""


def _check_events(text: str, shown: Path) -> None:
    """Refuse, before any tree is built, what would make building it crash, stall or vary.

    Deep nesting crashes libyaml's recursive composer; millions of elements take seconds and
    gigabytes; aliases can expand a small file exponentially; tags such as !!set or
    !!python/object are not data an issue can hold (and !!set has no stable order).
    """
    depth = 0
    for count, event in enumerate(yaml.parse(text, Loader=_BaseLoader)):
        mark: Any = event.start_mark  # the stubs make marks optional; events always carry one
        if isinstance(event, yaml.AliasEvent):
            raise IssueError(shown, mark.line + 1, mark.column + 1, "YAML anchors and aliases (&x, *x) are not allowed in issue files; write the text out")
        tag = getattr(event, "tag", None)
        if tag and tag not in _YAML_CORE_TAGS and not (isinstance(event, yaml.ScalarEvent) and getattr(event, "implicit", (False,))[0]):
            shown_tag = tag.replace("tag:yaml.org,2002:", "!!")
            raise IssueError(shown, mark.line + 1, mark.column + 1, f"the YAML tag {shown_tag} is not allowed in issue files; remove it")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise IssueError(shown, mark.line + 1, mark.column + 1, f"nested more than {MAX_DEPTH} levels deep; an issue needs five")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if count > MAX_EVENTS:
            raise IssueError(shown, mark.line + 1, mark.column + 1, f"more than {MAX_EVENTS:,} YAML elements; an issue has a few hundred")


def _check_nodes(root: yaml.Node, shown: Path) -> None:
    """Aliases would let a small file expand to gigabytes; duplicate keys silently lose text."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            mark = node.start_mark
            raise IssueError(shown, mark.line + 1, mark.column + 1, "YAML anchors and aliases (&x, *x) are not allowed in issue files; write the text out")
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: dict[object, yaml.Node] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    if key_node.value in keys:
                        first = keys[key_node.value].start_mark.line + 1
                        mark = key_node.start_mark
                        raise IssueError(shown, mark.line + 1, mark.column + 1, f"duplicate key '{key_node.value}' (first defined on line {first})")
                    keys[key_node.value] = key_node
                stack.extend((value_node, key_node))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))


def validate_issue(data: dict[str, Any], root: yaml.Node, shown: Path) -> Issue:
    try:
        return Issue.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # A misspelt key shows up twice (unknown + missing); the unknown one carries the hint.
        misspelt = {tuple(e["loc"][:-1]) for e in errors if e["type"] == "extra_forbidden"}
        errors = [e for e in errors if not (e["type"] == "missing" and tuple(e["loc"][:-1]) in misspelt)] or errors
        # Report the first problem in file order: that is the one the editor reads first.
        placed = [(locate(root, _document_loc(e["loc"]), key=e["type"] == "extra_forbidden"), e) for e in errors]
        (line, col), err = min(placed, key=lambda pair: pair[0])
        raise IssueError(shown, line, col, _describe(err, _walk(root, _document_loc(err["loc"]))[2])) from None


def _document_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Pydantic names the union member in its locations (papers.0.arxiv.why); the file does not."""
    if len(loc) > 2 and loc[0] in ("papers", "references") and loc[2] in _UNION_TAGS:
        return loc[:2] + loc[3:]
    return loc


def _describe(err: Any, path: list[str | int]) -> str:
    if err["type"] == "extra_forbidden":
        key = str(err["loc"][-1])
        return f"unknown key '{key}'{did_you_mean(key, all_field_names())}"
    if err["type"] == "missing":
        return f"missing key '{err['loc'][-1]}'"
    where = _dotted(path)
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _dotted(loc: list[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _walk(root: yaml.Node, loc: tuple[str | int, ...]) -> tuple[yaml.Node, yaml.Node | None, list[str | int]]:
    """Follow `loc` through the node tree; parts not in the document (union tags) are skipped."""
    node, key_node, matched = root, None, []
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
            if match is None:
                continue
            key_node, node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            key_node, node = None, node.value[part]
        else:
            continue
        matched.append(part)
    return node, key_node, matched


def find_node(root: yaml.Node, loc: tuple[str | int, ...]) -> yaml.Node:
    return _walk(root, loc)[0]


def locate(root: yaml.Node, loc: tuple[str | int, ...], *, key: bool = False) -> tuple[int, int]:
    """1-based (line, column) of the deepest node `loc` reaches; with `key`, of its key."""
    node, key_node, _ = _walk(root, loc)
    target = key_node if key and key_node is not None else node
    mark = target.start_mark
    return mark.line + 1, mark.column + 1


def _occurrences(text: str, snippet: str) -> list[int]:
    found, start = [], text.find(snippet)
    while start >= 0:
        found.append(start)
        start = text.find(snippet, start + 1)
    return found


def text_position(node: yaml.Node, offset: int, text: str) -> tuple[int, int]:
    """Best-effort (line, column) of character `offset` inside a scalar's value.

    Plain and quoted one-line scalars map directly; block scalars (| and >) map by counting
    lines from the first content line. Good enough to point an editor at a citation.
    """
    mark = node.start_mark
    style = getattr(node, "style", None)
    value = str(getattr(node, "value", ""))
    before = value[:offset]
    if style in ("|", ">"):
        lines = text.splitlines()
        line_index = mark.line + 1 + before.count("\n")
        content = lines[line_index] if line_index < len(lines) else ""
        indent = len(content) - len(content.lstrip(" "))
        return line_index + 1, indent + len(before) - (before.rfind("\n") + 1) + 1
    quote = 1 if style in ("'", '"') else 0
    if "\n" in before:
        return mark.line + 1 + before.count("\n"), 1
    return mark.line + 1, mark.column + 1 + quote + offset
