r"""LaTeX in arXiv titles and abstracts → readable Unicode text; what it does not know stays as written.

Stdlib only, by choice: pylatexenc's LatexNodes2Text reads a bare `%` as a comment (losing the rest
of "a 50% smaller model"), gives unknown macros no arguments (its issue #60: `\foo{x}` → "x") and
converts math piece by piece (`$\mathbb{Z}$` → "$Z$"). We need the opposite: a `$…$` span is
converted only if every token in it is known, else kept as written; so is an unknown macro with
its `[…]`/`{…}` arguments.

Math spans follow Pandoc: the opening `$` is followed by a non-space, the closing `$` (the next
unescaped one) is preceded by a non-space and not followed by a digit ("US$5 to US$10" is text);
`$$` is left alone. Outside math, `~`, quotes and bare `^`/`_` are kept; Greek variants map to the
ordinary letter (`\epsilon`, `\varepsilon` → ε). No HTML or Markdown escaping: renderers do that.
Linear time: braces and dollars are paired in one pass, each character is read a bounded number of
times, nesting deeper than MAX_DEPTH is left as written. Pure; no regular expressions.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


def _pairs(text: str) -> dict[str, str]:
    words = text.split()
    return dict(zip(words[::2], words[1::2], strict=True))


ACCENTS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304", ".": "\u0307",
           "c": "\u0327", "v": "\u030c", "u": "\u0306", "H": "\u030b", "k": "\u0328", "r": "\u030a", "d": "\u0323", "b": "\u0331"}
MATH_ACCENTS = {"tilde": "\u0303", "hat": "\u0302", "bar": "\u0304", "dot": "\u0307", "ddot": "\u0308", "vec": "\u20d7"}
ESCAPES = {"&": "&", "%": "%", "$": "$", "_": "_", "#": "#", "{": "{", "}": "}", " ": " ", ",": " "}
TEXT_SYMBOLS = {**ESCAPES, "-": "", "/": "", **_pairs("ss ß o ø O Ø ae æ AE Æ oe œ OE Œ aa å AA Å l ł L Ł i ı j ȷ ldots … dots …")}
GREEK = _pairs(
    "alpha α beta β gamma γ delta δ epsilon ε varepsilon ε zeta ζ eta η theta θ vartheta ϑ iota ι kappa κ "
    "lambda λ mu μ nu ν xi ξ pi π varpi ϖ rho ρ varrho ϱ sigma σ varsigma ς tau τ upsilon υ phi φ varphi φ "
    "chi χ psi ψ omega ω Gamma Γ Delta Δ Theta Θ Lambda Λ Xi Ξ Pi Π Sigma Σ Upsilon Υ Phi Φ Psi Ψ Omega Ω"
)
MATH_SYMBOLS = {**GREEK, **ESCAPES, ";": " ", "!": "", "|": "‖", "left": "", "right": "", **_pairs(
    "to → rightarrow → leftarrow ← gets ← leftrightarrow ↔ Rightarrow ⇒ Leftarrow ⇐ Leftrightarrow ⇔ "
    "implies ⟹ iff ⟺ mapsto ↦ uparrow ↑ downarrow ↓ longrightarrow ⟶ longleftarrow ⟵ "
    "leq ≤ le ≤ geq ≥ ge ≥ neq ≠ ne ≠ approx ≈ sim ∼ simeq ≃ cong ≅ equiv ≡ propto ∝ ll ≪ gg ≫ "
    "in ∈ notin ∉ ni ∋ subset ⊂ subseteq ⊆ supset ⊃ supseteq ⊇ cup ∪ cap ∩ setminus ∖ "
    "times × cdot · pm ± mp ∓ div ÷ ast ∗ star ⋆ circ ∘ bullet • oplus ⊕ otimes ⊗ "
    "infty ∞ partial ∂ nabla ∇ sum ∑ prod ∏ int ∫ ell ℓ hbar ℏ forall ∀ exists ∃ emptyset ∅ varnothing ∅ "
    "neg ¬ lnot ¬ wedge ∧ land ∧ vee ∨ lor ∨ langle ⟨ rangle ⟩ ldots … cdots ⋯ dots … prime ′ perp ⊥ "
    "parallel ∥ mid ∣ top ⊤ bot ⊥")}
OPERATORS = frozenset("log ln exp sin cos tan tanh sinh cosh max min arg lim sup inf det dim ker Pr deg gcd".split())
MATHBB = _pairs("R ℝ N ℕ Z ℤ Q ℚ C ℂ H ℍ P ℙ E 𝔼")
TEXT_STYLES = frozenset("emph textbf textit texttt textsc textrm textsf textup textsl textnormal mathrm text mbox".split())
MATH_STYLES = TEXT_STYLES | frozenset("mathbf mathit mathsf mathtt operatorname boldsymbol".split())
SUP = dict(zip("0123456789+-=()niT∘′", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵀ°′", strict=True))
SUB = dict(zip("0123456789+-=()aeoxhklmnpstijruv", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₒₓₕₖₗₘₙₚₛₜᵢⱼᵣᵤᵥ", strict=True))
NOT_AN_ARGUMENT = frozenset(" {}[]$^_&#%~")
MATH_REJECT = frozenset("&#%~$}")
DASHES = {"---": "—", "--": "–"}
MAX_DEPTH = 50


@lru_cache(maxsize=8192)  # a site build asks for the same titles again and again
def latex_to_unicode(text: str) -> str:
    """Readable Unicode for arXiv's LaTeX; anything not fully understood is returned as written."""
    collapsed = " ".join(text.split())
    return " ".join(_Converter(collapsed).text(0, len(collapsed), 0).split())


class _Converter:
    def __init__(self, s: str) -> None:
        self.s, self.match, self.next_dollar = s, dict[int, int](), dict[int, int]()  # brace ↔ partner; `$` → next `$`
        stack: list[int] = []
        last_dollar, i = -1, 0
        while i < len(s):
            if s[i] == "{":
                stack.append(i)
            elif s[i] == "}" and stack:
                opening = stack.pop()
                self.match[opening], self.match[i] = i, opening
            elif s[i] == "$":
                self.next_dollar[last_dollar] = last_dollar = i
            i += 2 if s[i] == "\\" else 1

    def _group_end(self, i: int, end: int) -> int:
        """Index of the `}` closing the `{` at i, if it closes before `end`; else -1."""
        m = self.match.get(i, -1) if i < end and self.s[i] == "{" else -1
        return m if i < m < end else -1

    def _control(self, i: int) -> tuple[str, int]:
        """The macro name at the backslash at i (a letter run or one character) and where it ends."""
        s, j = self.s, i + 1
        while j < len(s) and s[j].isascii() and s[j].isalpha():
            j += 1
        j += j == i + 1 and j < len(s)  # not a letter: a one-character name such as \' or \&
        return s[i + 1 : j], j

    def _arg(self, i: int, end: int) -> tuple[int, int, int] | None:
        """One macro argument from i: `{…}`, a macro or a character → (start, stop, after)."""
        s = self.s
        while i < end and s[i] == " ":
            i += 1
        c = s[i] if i < end else " "  # the end: no argument
        if c == "{":
            m = self._group_end(i, end)
            return (i + 1, m, m + 1) if m >= 0 else None
        if c == "\\":
            j = self._control(i)[1]
            return (i, j, j) if j <= end else None
        return None if c in NOT_AN_ARGUMENT else (i, i + 1, i + 1)

    def _verbatim(self, i: int, j: int, end: int) -> tuple[str, int]:
        """An unknown macro with its `[…]` and `{…}` arguments, exactly as written."""
        s, k = self.s, j
        while True:
            after = k
            while after < end and s[after] == " " and s[i + 1].isalpha():
                after += 1
            if after < end and s[after] == "[" and (close := s.find("]", after, min(end, after + 200))) > 0:
                k = close + 1
            elif (m := self._group_end(after, end)) >= 0:
                k = m + 1
            else:
                return s[i:k], k

    def _is_math(self, i: int, j: int, end: int) -> bool:
        s = self.s  # Pandoc's rule, below; j is the next unescaped `$`
        return i + 1 < j < end and s[i + 1] != " " and s[j - 1] != " " and not s[j + 1 : j + 2].isdigit()

    def text(self, i: int, end: int, depth: int) -> str:
        s, out = self.s, []
        if depth > MAX_DEPTH:
            return s[i:end]
        while i < end:
            c = s[i]
            if c == "\\":
                piece, i = self._text_macro(i, end, depth)
                out.append(piece)
            elif c == "{" and (m := self._group_end(i, end)) >= 0:
                out.append(self.text(i + 1, m, depth + 1))  # protective braces: dropped
                i = m + 1
            elif c == "$" and not s.startswith("$$", i) and self._is_math(i, j := self.next_dollar.get(i, -1), end):
                converted = self.math(i + 1, j, depth + 1)
                out.append(s[i : j + 1] if converted is None else converted)  # the whole span, or none of it
                i = j + 1
            else:
                piece = next((p for p in ("---", "--", "$$") if s.startswith(p, i, end)), c)
                out.append(DASHES.get(piece, piece))
                i += len(piece)
        return "".join(out)

    def _text_macro(self, i: int, end: int, depth: int) -> tuple[str, int]:
        s = self.s
        name, j = self._control(i)
        if j > end or not name:
            return s[i:end], end
        if name in ACCENTS and (arg := self._arg(j, end)):
            a, b, after = arg
            base = {"\\i": "i", "\\j": "j"}.get(s[a:b], s[a:b])
            if len(base) == 1 and base.isalpha():
                return unicodedata.normalize("NFC", base + ACCENTS[name]), after
        elif name in TEXT_SYMBOLS:
            while name.isalpha() and j < end and s[j] == " ":  # TeX eats the spaces after a word macro
                j += 1
            return TEXT_SYMBOLS[name], j
        elif name in TEXT_STYLES and (arg := self._arg(j, end)):
            a, b, after = arg
            return self.text(a, b, depth + 1), after
        return self._verbatim(i, j, end)

    def math(self, i: int, end: int, depth: int) -> str | None:
        """The whole span converted, or None if any part of it is not understood."""
        s, out = self.s, list[str]()
        while i < end and depth <= MAX_DEPTH:
            c, name, arg = s[i], "", None
            if c == "\\":
                name, j = self._control(i)
                if name in MATH_SYMBOLS or name in OPERATORS:
                    last = out[-1][-1:] if out else ""  # TeX eats the space after `\times` in `a\times b`
                    out.append(" " + name if name in OPERATORS and last.isalnum() else MATH_SYMBOLS.get(name, name))
                    i = j + (name not in OPERATORS and last != " " and s[j : j + 1] == " ")
                    continue
                arg = self._arg(j, end)
            elif c in "^_" or c == "{":
                arg = self._arg(i + (c != "{"), end)
            elif c not in MATH_REJECT:
                out.append(c)
                i += 1
                continue
            inner = self.math(arg[0], arg[1], depth + 1) if arg else None
            if arg is None or inner is None:
                return None
            if c == "{" or name in MATH_STYLES:
                out.append(inner)
            elif c in "^_" and inner and all(ch in (SUP if c == "^" else SUB) for ch in inner):
                out.append("".join((SUP if c == "^" else SUB)[ch] for ch in inner))
            elif name == "mathbb" and inner in MATHBB:
                out.append(MATHBB[inner])
            elif name in MATH_ACCENTS and len(inner) == 1:
                out.append(unicodedata.normalize("NFC", inner + MATH_ACCENTS[name]))
            elif name == "sqrt" and inner:
                out.append("√" + (inner if len(inner) == 1 else f"({inner})"))
            else:
                return None
            i = arg[2]
        return "".join(out) if depth <= MAX_DEPTH else None
