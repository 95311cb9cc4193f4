"""The editor's Markdown: citations `[^key]` and `[text](arxiv:ID)` links, for both outputs.

HTML goes through markdown-it (CommonMark) with two small extensions. The Markdown output keeps
the editor's text as written and rewrites only those two constructs, found by `scan`, which
skips code spans and fenced code as CommonMark does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markupsafe import Markup

SUPERSCRIPT_DIGITS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
KEY_CHARS = re.compile(r"[A-Za-z0-9_.:+-]+")
ARXIV_SCHEME = "arxiv:"


def superscript(number: int) -> str:
    return str(number).translate(SUPERSCRIPT_DIGITS)


@dataclass(frozen=True)
class Span:
    """A citation or arXiv link found in a Markdown field, by character offsets."""

    kind: str  # "cite" | "arxiv"
    start: int
    end: int
    target: str  # the citation key, or the id after "arxiv:"
    text: str = ""  # the link text (arxiv links)


@dataclass
class LinkContext:
    """What rendering needs to resolve the two constructs: numbers and titles."""

    numbers: dict[str, int]
    title_of: Callable[[str], str]
    url_of: Callable[[str], str] = field(default=lambda arxiv_id: f"https://arxiv.org/abs/{arxiv_id}")


_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_INTERESTING = re.compile(r"[\n\\`\[]")


def scan(text: str) -> list[Span]:
    """Find `[^key]` and `[text](arxiv:ID)` outside code, in order (linear time: it runs a lot)."""
    if "[" not in text:
        return []
    spans: list[Span] = []
    i, n = 0, len(text)
    in_fence: str | None = None
    line_start = True
    while i < n:
        if line_start:
            line_start = False
            fence = _FENCE.match(text, i)
            if fence and (in_fence is None or fence.group(1).startswith(in_fence)):
                in_fence = None if in_fence else fence.group(1)[:3]
            if fence or in_fence:  # a fence line, or a line inside one: nothing to find
                newline = text.find("\n", i)
                if newline < 0:
                    break
                i, line_start = newline + 1, True
                continue
        found = _INTERESTING.search(text, i)
        if found is None:
            break
        i = found.start()
        ch = text[i]
        if ch == "\n":
            i, line_start = i + 1, True
        elif ch == "\\":
            i += 2
        elif ch == "`":
            run_end = i
            while run_end < n and text[run_end] == "`":
                run_end += 1
            close = text.find(text[i:run_end], run_end)
            i = close + (run_end - i) if close >= 0 else run_end
        else:
            span = _cite_at(text, i) or _arxiv_link_at(text, i)
            if span:
                spans.append(span)
                i = span.end
            else:
                i += 1
    return spans


def _cite_at(text: str, i: int) -> Span | None:
    if not text.startswith("[^", i):
        return None
    match = KEY_CHARS.match(text, i + 2)
    if match and text.startswith("]", match.end()):
        return Span("cite", i, match.end() + 1, match.group(0))
    return None


def _arxiv_link_at(text: str, i: int) -> Span | None:
    depth, j = 0, i
    while j < len(text):
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                break
        j += 1
    else:
        return None
    prefix = "](" + ARXIV_SCHEME
    if not text.startswith(prefix, j):
        return None
    close = text.find(")", j + len(prefix))
    if close < 0:
        return None
    target = text[j + len(prefix) : close].strip()
    return Span("arxiv", i, close + 1, target, text[i + 1 : j])


def escape_markdown(text: str) -> str:
    """Make metadata text (an arXiv title) literal inside Markdown."""
    return re.sub(r"([\\`*_\[\]<>#|~])", r"\\\1", text)


_block_parser: MarkdownIt | None = None


def unwrap_paragraphs(text: str, tokens: list[Token] | None = None) -> str:
    """Join the soft-wrapped lines of each paragraph, so pasted Markdown has no stray breaks.

    Editors wrap prose in their YAML; Medium and Substack keep those line breaks when Markdown
    is pasted. markdown-it's line maps say which lines form a paragraph; hard breaks (two
    trailing spaces or a backslash), code blocks, quotes and list structure are left alone.
    `tokens` are the block tokens of `text` when the caller has parsed it already.
    """
    global _block_parser
    if "\n" not in text.strip():
        return text
    if tokens is None:
        if _block_parser is None:
            _block_parser = MarkdownIt("commonmark", {"html": False})  # as HtmlRenderer parses it
        tokens = _block_parser.parse(text)
    lines = text.split("\n")
    joins: set[int] = set()
    quote_depth = 0
    for token in tokens:
        if token.type == "blockquote_open":
            quote_depth += 1
        elif token.type == "blockquote_close":
            quote_depth -= 1
        elif token.type == "paragraph_open" and quote_depth == 0 and token.map:
            start, end = token.map
            joins.update(i for i in range(start, end - 1) if not _hard_break(lines[i]))
    out: list[str] = []
    for index, line in enumerate(lines):
        if index - 1 in joins:
            out[-1] = f"{out[-1].rstrip()} {line.lstrip()}"
        else:
            out.append(line)
    return "\n".join(out)


def _hard_break(line: str) -> bool:
    return line.endswith(("  ", "\\"))


def to_markdown(text: str, ctx: LinkContext, tokens: list[Token] | None = None) -> str:
    """The editor's Markdown, unwrapped, with citations as superscripts and arxiv: links resolved."""
    text = unwrap_paragraphs(text, tokens)
    out: list[str] = []
    last = 0
    previous_cite_end = -1
    for span in scan(text):
        out.append(text[last : span.start])
        if span.kind == "cite":
            separator = "," if span.start == previous_cite_end else ""
            out.append(separator + superscript(ctx.numbers[span.target]))
            previous_cite_end = span.end
        else:
            label = span.text if span.text.strip() else escape_markdown(ctx.title_of(span.target))
            out.append(f"[{label}]({ctx.url_of(span.target)})")
        last = span.end
    out.append(text[last:])
    return "".join(out)


class HtmlRenderer:
    """markdown-it set up once: CommonMark, raw HTML off (editor text is shown, never run)."""

    def __init__(self, inline_styles: dict[str, str] | None = None) -> None:
        self.md = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("strikethrough")
        self.md.inline.ruler.before("link", "citation", _citation_rule)
        self.md.add_render_rule("citation", _render_citation)
        self.md.core.ruler.push("arxiv_links", _arxiv_links_rule)
        if inline_styles:
            # Email clients drop <style> blocks: put each element's style on the element.
            self.md.core.ruler.push("inline_styles", _style_setter(inline_styles))

    def block(self, text: str, ctx: LinkContext, lead: Markup | None = None) -> Markup:
        """Render a Markdown field; `lead` (e.g. '❓ Why →') opens its first paragraph."""
        return self.block_and_tokens(text, ctx, lead)[0]

    def block_and_tokens(self, text: str, ctx: LinkContext, lead: Markup | None = None) -> tuple[Markup, list[Token]]:
        """The HTML, and the parsed tokens for `to_markdown` (one parse serves both outputs)."""
        env: dict[str, Any] = {"ctx": ctx}
        tokens = self.md.parse(text, env)
        html = self.md.renderer.render(tokens, self.md.options, env)
        if lead is None:
            return Markup(html), tokens
        if html.startswith(("<p>", "<p ")):
            end = html.index(">") + 1  # after <p> or <p style="…">
            return Markup(f"{html[:end]}{lead} {html[end:]}"), tokens
        return Markup(f"<p>{lead}</p>\n{html}"), tokens

    def inline(self, text: str, ctx: LinkContext) -> Markup:
        env: dict[str, Any] = {"ctx": ctx}
        return Markup(self.md.renderInline(text, env))


def _citation_rule(state: StateInline, silent: bool) -> bool:
    span = _cite_at(state.src, state.pos)
    if span is None:
        return False
    if not silent:
        token = state.push("citation", "", 0)
        token.meta = {"key": span.target}
    state.pos = span.end
    return True


def _render_citation(self: Any, tokens: list[Token], idx: int, options: Any, env: dict[str, Any]) -> str:
    number = env["ctx"].numbers[tokens[idx].meta["key"]]
    follows_cite = idx > 0 and tokens[idx - 1].type == "citation"
    separator = "," if follows_cite else ""
    return f'<sup class="cite">{separator}<a href="#ref-{number}">{number}</a></sup>'


def _arxiv_links_rule(state: Any) -> None:
    ctx: LinkContext = state.env["ctx"]
    for block in state.tokens:
        children = block.children or []
        for index, token in enumerate(children):
            href = token.attrGet("href") if token.type == "link_open" else None
            if not (isinstance(href, str) and href.startswith(ARXIV_SCHEME)):
                continue
            arxiv_id = href[len(ARXIV_SCHEME) :].strip()
            token.attrSet("href", ctx.url_of(arxiv_id))
            if index + 1 < len(children) and children[index + 1].type == "link_close":
                text = Token("text", "", 0)
                text.content = ctx.title_of(arxiv_id)
                children.insert(index + 1, text)


def _style_setter(styles: dict[str, str]) -> Callable[[Any], None]:
    def set_styles(state: Any) -> None:
        for token in state.tokens:
            for child in [token, *(token.children or [])]:
                if child.nesting == 1 and child.tag in styles:
                    child.attrSet("style", styles[child.tag])
                elif child.type == "code_inline" and "code" in styles:
                    child.attrSet("style", styles["code"])

    return set_styles


